//! [`Manager`]: runs the providers of every job and sends the scrape side each job's
//! complete set of target groups, as Prometheus's `discovery.Manager`:
//! - identical configurations, in one job or several, run as one provider feeding all
//!   of them (equal names and `Debug` renderings, see [`SdConfig`]);
//! - on [`Manager::apply_config`], providers whose configuration is unchanged keep
//!   running (no re-read, no flapping targets; a job newly using one gets its groups at
//!   once), providers no job uses any more are cancelled, and a job with no working
//!   provider gets one empty group so that its pool stops its targets;
//! - each provider's updater merges what it sends into the job's groups by source;
//! - a sender hands the merged sets to the scrape side at most once per
//!   [`ManagerOpts::updates_interval`] (default 5 s), so bursts coalesce, and never
//!   waits for a busy receiver: it counts a delayed update and tries on the next tick.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::static_sd::StaticConfig;
use super::{config_key, DiscovererOptions, DiscoveryMetrics, SdConfig, SdConfigs, TargetGroup};

/// Every job's target groups, as sent to the scrape side.
pub type TargetSets = HashMap<String, Vec<TargetGroup>>;

/// Settings of a [`Manager`].
#[derive(Debug, Clone)]
pub struct ManagerOpts {
    /// The shortest time between two sends to the scrape side (Prometheus: 5 s).
    pub updates_interval: Duration,
}

impl Default for ManagerOpts {
    fn default() -> Self {
        ManagerOpts {
            updates_interval: Duration::from_secs(5),
        }
    }
}

/// The discovery manager. Cheap to clone (shared); must be used within a tokio
/// runtime. [`Manager::stop`] cancels every provider and the sender, as does dropping
/// the last clone.
///
/// ```
/// use std::{collections::BTreeMap, sync::Arc, time::Duration};
/// use promsdk_harness::discovery::{static_sd::StaticConfig, DiscoveryMetrics, Manager, ManagerOpts, SdConfig, TargetGroup};
/// # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
/// let (manager, mut sets) = Manager::new(ManagerOpts::default(), DiscoveryMetrics::unregistered());
/// let group = TargetGroup::of("", &["127.0.10.1:9100"]);
/// let cfg: Arc<dyn SdConfig> = Arc::new(StaticConfig::new(vec![group]));
/// manager.apply_config(BTreeMap::from([("node".to_owned(), vec![cfg])]));
/// let sets = sets.recv().await.unwrap();
/// assert_eq!(sets["node"][0].targets.len(), 1);
/// manager.stop();
/// # });
/// ```
#[derive(Clone)]
pub struct Manager {
    shared: Arc<Shared>,
    tasks: Arc<Tasks>,
}

/// The sender and, through the shared state, the providers: stopped when the last
/// clone of the manager goes, so no task outlives it.
struct Tasks {
    shared: Arc<Shared>,
    sender: JoinHandle<()>,
}

impl Tasks {
    fn stop(&self) {
        self.sender.abort();
        let mut state = self.shared.state.lock();
        for p in state.providers.drain(..) {
            p.task.abort();
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    metrics: DiscoveryMetrics,
    state: Mutex<State>,
    /// Something changed since the last send.
    triggered: AtomicBool,
}

#[derive(Default)]
struct State {
    providers: Vec<Provider>,
    /// Groups by (job, provider name), then by source.
    targets: BTreeMap<(String, String), BTreeMap<String, TargetGroup>>,
    /// Jobs whose `prometheus_sd_discovered_targets` child exists.
    counted: BTreeSet<String>,
    /// Providers started so far, for their names (`file/3`).
    started: usize,
}

struct Provider {
    name: String,
    key: String,
    /// The jobs it feeds; read by its updater on each update.
    subs: Arc<Mutex<BTreeSet<String>>>,
    new_subs: BTreeSet<String>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Manager")
            .field(
                "providers",
                &state.providers.iter().map(|p| &p.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Manager {
    /// A manager with no providers, and the receiving end of its sends.
    pub fn new(
        opts: ManagerOpts,
        metrics: DiscoveryMetrics,
    ) -> (Manager, mpsc::Receiver<TargetSets>) {
        let shared = Arc::new(Shared {
            metrics,
            state: Mutex::default(),
            triggered: AtomicBool::new(false),
        });
        // Capacity 1: one set waits for the receiver; a newer one is put off.
        let (tx, rx) = mpsc::channel(1);
        let sender = tokio::spawn(send_loop(Arc::clone(&shared), tx, opts.updates_interval));
        (
            Manager {
                tasks: Arc::new(Tasks {
                    shared: Arc::clone(&shared),
                    sender,
                }),
                shared,
            },
            rx,
        )
    }

    /// Sets every job's provider configurations (job name to configurations).
    /// Returns how many configurations failed to build (also in
    /// `prometheus_sd_failed_configs`; each is logged).
    pub fn apply_config(&self, jobs: BTreeMap<String, SdConfigs>) -> usize {
        let shared = &self.shared;
        let opts = DiscovererOptions {
            metrics: shared.metrics.clone(),
        };
        let mut guard = shared.state.lock();
        let state = &mut *guard;
        let mut failed = 0;
        for (job, cfgs) in &jobs {
            let mut added = false;
            for cfg in cfgs {
                match register(state, job, cfg.as_ref(), &opts, shared) {
                    Ok(()) => added = true,
                    Err(e) => {
                        failed += 1;
                        tracing::error!(job, mechanism = cfg.name(), error = %e, "cannot create service discovery");
                    }
                }
            }
            if !added {
                // One empty group, so the job's pool learns it has no targets.
                let empty = StaticConfig::new(vec![TargetGroup::default()]);
                if let Err(e) = register(state, job, &empty, &opts, shared) {
                    tracing::error!(job, error = %e, "cannot create the empty static provider");
                }
            }
        }
        shared.metrics.failed_configs.set(failed as f64);

        let mut kept = Vec::with_capacity(state.providers.len());
        for mut p in std::mem::take(&mut state.providers) {
            let old_subs = std::mem::take(&mut *p.subs.lock());
            if p.new_subs.is_empty() {
                p.task.abort();
                for job in &old_subs {
                    state.targets.remove(&(job.clone(), p.name.clone()));
                }
                tracing::debug!(provider = %p.name, "provider cancelled");
                continue;
            }
            // Groups it sent so far, for the jobs that start using it now.
            let known = old_subs
                .iter()
                .find_map(|job| state.targets.get(&(job.clone(), p.name.clone())).cloned());
            for job in old_subs.difference(&p.new_subs) {
                state.targets.remove(&(job.clone(), p.name.clone()));
            }
            if let Some(known) = known {
                for job in p.new_subs.difference(&old_subs) {
                    state
                        .targets
                        .insert((job.clone(), p.name.clone()), known.clone());
                }
            }
            *p.subs.lock() = std::mem::take(&mut p.new_subs);
            kept.push(p);
        }
        state.providers = kept;
        for job in state.counted.clone() {
            if !jobs.contains_key(&job) {
                let _ = shared.metrics.discovered_targets.remove(&[&job, "scrape"]);
                state.counted.remove(&job);
            }
        }
        // The scrape side expects every job's full state after a reload.
        shared.triggered.store(true, Ordering::Release);
        failed
    }

    /// The names of the running providers (`static/0`, `file/1`, …), for tests and
    /// logs.
    pub fn providers(&self) -> Vec<String> {
        let state = self.shared.state.lock();
        state.providers.iter().map(|p| p.name.clone()).collect()
    }

    /// Cancels every provider and the sender; the receiver then sees the channel
    /// close.
    pub fn stop(&self) {
        self.tasks.stop();
    }
}

/// Adds `job` to the provider running `cfg`, starting one if none does.
fn register(
    state: &mut State,
    job: &str,
    cfg: &dyn SdConfig,
    opts: &DiscovererOptions,
    shared: &Arc<Shared>,
) -> Result<(), super::DiscoveryError> {
    let key = config_key(cfg);
    if let Some(p) = state.providers.iter_mut().find(|p| p.key == key) {
        p.new_subs.insert(job.to_owned());
        return Ok(());
    }
    let discoverer = cfg.new_discoverer(opts)?;
    let name = format!("{}/{}", cfg.name(), state.started);
    state.started += 1;
    let subs = Arc::new(Mutex::new(BTreeSet::new()));
    let (tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(update_loop(
        Arc::clone(shared),
        name.clone(),
        Arc::clone(&subs),
        discoverer.run(tx),
        rx,
    ));
    tracing::debug!(provider = %name, job, "starting provider");
    state.providers.push(Provider {
        name,
        key,
        subs,
        new_subs: BTreeSet::from([job.to_owned()]),
        task,
    });
    Ok(())
}

/// Runs one provider and merges what it sends into the groups of the jobs it feeds.
async fn update_loop(
    shared: Arc<Shared>,
    provider: String,
    subs: Arc<Mutex<BTreeSet<String>>>,
    mut run: super::BoxFuture,
    mut updates: mpsc::Receiver<Vec<TargetGroup>>,
) {
    let mut running = true;
    loop {
        tokio::select! {
            () = &mut run, if running => running = false,
            received = updates.recv() => {
                let Some(groups) = received else {
                    // The provider is done sending; its groups stay until cancelled.
                    return std::future::pending().await;
                };
                shared.metrics.received_updates.inc();
                // Lock order: state, then subs (as apply_config).
                let mut state = shared.state.lock();
                let jobs = subs.lock().clone();
                for job in jobs {
                    let set = state.targets.entry((job, provider.clone())).or_default();
                    for g in &groups {
                        set.insert(g.source.clone(), g.clone());
                    }
                }
                drop(state);
                shared.triggered.store(true, Ordering::Release);
            }
        }
    }
}

/// Every `interval`, sends the merged sets if anything changed.
async fn send_loop(shared: Arc<Shared>, tx: mpsc::Sender<TargetSets>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        if !shared.triggered.swap(false, Ordering::AcqRel) {
            continue;
        }
        shared.metrics.updates.inc();
        match tx.try_send(all_groups(&shared)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                shared.metrics.updates_delayed.inc();
                tracing::debug!("discovery receiver's channel was full, retrying on the next tick");
                shared.triggered.store(true, Ordering::Release);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Every job's groups (empty ones included: they tell a pool its targets went), and
/// `prometheus_sd_discovered_targets` set from them.
fn all_groups(shared: &Shared) -> TargetSets {
    let mut guard = shared.state.lock();
    let state = &mut *guard;
    let mut sets = TargetSets::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for ((job, _), groups) in &state.targets {
        let set = sets.entry(job.clone()).or_default();
        let n = counts.entry(job).or_default();
        for g in groups.values() {
            *n += g.targets.len();
            set.push(g.clone());
        }
    }
    for (job, n) in counts {
        shared
            .metrics
            .discovered_targets
            .with_label_values(&[job, "scrape"])
            .set(n as f64);
        state.counted.insert(job.to_owned());
    }
    sets
}
