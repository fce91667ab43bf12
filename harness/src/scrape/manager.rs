//! [`ScrapeManager`]: one [`ScrapePool`] per job, fed each job's complete set of
//! target groups by the discovery manager ([`ScrapeManager::sync_groups`]) or target
//! lists ([`ScrapeManager::sync`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::discovery::{TargetGroup, TargetSets};
use crate::scrape::pool::ScrapePool;
use crate::scrape::scraper::Scraper;
use crate::scrape::store::Storage;
use crate::scrape::target::{Target, TargetStatus};
use crate::scrape::{ScrapeConfig, WallClock};

/// Every job's pool. Cheap to clone (shared); must be used within a tokio runtime.
///
/// ```
/// use promsdk_harness::scrape::{FakeScraper, MemoryStore, ScrapeConfig, ScrapeManager, Target};
/// use std::{collections::HashMap, sync::Arc, time::Duration};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = ScrapeManager::new(Arc::new(FakeScraper::default()), Arc::new(MemoryStore::new(Duration::from_secs(60))));
/// let job = ScrapeConfig::new("node");
/// manager.apply_config(vec![job.clone()]);
/// manager.sync(HashMap::from([("node".to_owned(), vec![Target::new(&job, "a:9100", &[])])]));
/// assert_eq!(manager.targets()[0].target.url(), "http://a:9100/metrics");
/// manager.stop(false).await;
/// assert!(manager.targets().is_empty());
/// # });
/// ```
#[derive(Clone)]
pub struct ScrapeManager {
    scraper: Arc<dyn Scraper>,
    storage: Arc<dyn Storage>,
    clock: WallClock,
    pools: Arc<Mutex<Pools>>,
}

#[derive(Default)]
struct Pools {
    jobs: BTreeMap<String, ScrapePool>,
    /// Pools of removed or changed jobs whose loops may still be writing markers.
    retired: Vec<ScrapePool>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("jobs", &self.pools.lock().jobs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ScrapeManager {
    /// A manager with no jobs, scraping with `scraper` into `storage`.
    pub fn new(scraper: Arc<dyn Scraper>, storage: Arc<dyn Storage>) -> Self {
        ScrapeManager {
            scraper,
            storage,
            clock: WallClock::system(),
            pools: Arc::default(),
        }
    }

    /// Stamps scrapes with `clock` (default: the system clock). Set it before the
    /// first [`apply_config`](Self::apply_config).
    pub fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the jobs: a job no longer configured stops (its series go stale), a new
    /// one gets an empty pool, and a job whose settings changed restarts its loops
    /// (as Prometheus's reload does). Unchanged jobs keep running.
    pub fn apply_config(&self, jobs: Vec<ScrapeConfig>) {
        let mut guard = self.pools.lock();
        let Pools {
            jobs: pools,
            retired,
        } = &mut *guard;
        retired.retain(|p| !p.is_finished());
        let mut old = std::mem::take(pools);
        for cfg in jobs {
            match old.remove(&cfg.job_name) {
                Some(pool) if *pool.config() == cfg => {
                    pools.insert(cfg.job_name.clone(), pool);
                }
                previous => {
                    // The old pool's targets, or its groups to relabel with the new
                    // settings.
                    let (targets, groups): (Vec<Target>, Vec<TargetGroup>) = previous
                        .map(|mut p| {
                            let g = p.groups();
                            let t = if g.is_empty() {
                                p.targets().into_iter().map(|s| s.target).collect()
                            } else {
                                Vec::new()
                            };
                            p.signal_stop(true);
                            retired.push(p);
                            (t, g)
                        })
                        .unwrap_or_default();
                    let mut pool = ScrapePool::new(
                        cfg.clone(),
                        Arc::clone(&self.scraper),
                        Arc::clone(&self.storage),
                    )
                    .with_clock(self.clock.clone());
                    if groups.is_empty() {
                        pool.sync(targets);
                    } else {
                        pool.sync_groups(&groups);
                    }
                    pools.insert(cfg.job_name, pool);
                }
            }
        }
        for (_, mut gone) in old {
            gone.signal_stop(true);
            retired.push(gone);
        }
    }

    /// Syncs the pools of the jobs named in `target_sets` to their target lists; a job
    /// not named keeps its targets, a job not configured is ignored.
    pub fn sync(&self, target_sets: impl IntoIterator<Item = (String, Vec<Target>)>) {
        let mut pools = self.pools.lock();
        for (job, targets) in target_sets {
            if let Some(pool) = pools.jobs.get_mut(&job) {
                pool.sync(targets);
            }
        }
    }

    /// Syncs every job named in `sets` to its target groups (a job not named keeps
    /// its targets; one not configured is ignored), as Prometheus's scrape manager
    /// takes the discovery manager's sends.
    pub fn sync_groups(&self, sets: TargetSets) {
        let mut pools = self.pools.lock();
        for (job, groups) in sets {
            match pools.jobs.get_mut(&job) {
                Some(pool) => pool.sync_groups(&groups),
                None => tracing::debug!(job, "target groups for a job not configured"),
            }
        }
    }

    /// Targets discovered but dropped by relabeling, as `(job, discovered labels)`.
    pub fn dropped_targets(&self) -> Vec<(String, promsdk::LabelSet)> {
        self.pools
            .lock()
            .jobs
            .iter()
            .flat_map(|(job, pool)| pool.dropped().iter().map(move |l| (job.clone(), l.clone())))
            .collect()
    }

    /// Every target's status, by job, then target.
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.pools
            .lock()
            .jobs
            .values()
            .flat_map(ScrapePool::targets)
            .collect()
    }

    /// Removes every job and returns once all loops have finished, those of jobs
    /// removed earlier included. With `mark_stale` every series goes stale first (as
    /// when every job is removed from the configuration, which takes just over two
    /// intervals); without, nothing more is written (process shutdown, the way a
    /// Prometheus shutdown ends its loops).
    pub async fn stop(&self, mark_stale: bool) {
        let Pools { jobs, retired, .. } = std::mem::take(&mut *self.pools.lock());
        for mut pool in jobs.into_values().chain(retired) {
            pool.stop(mark_stale).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::scraper::{FakeScraper, Scraped};
    use crate::scrape::store::{is_stale_nan, MemoryStore};
    use std::time::Duration;

    /// A manager running jobs `a` (whose target answers) and `b` (whose does not), both
    /// every 5 s, on tokio's clock; returns it, its store and `b`'s config.
    fn two_jobs_running() -> (ScrapeManager, MemoryStore, ScrapeConfig) {
        let store = MemoryStore::new(Duration::from_secs(3600));
        let fake = FakeScraper::default();
        let m = ScrapeManager::new(Arc::new(fake.clone()), Arc::new(store.clone()))
            .with_clock(WallClock::tokio());
        let (a, b) = (
            ScrapeConfig::new("a").interval(Duration::from_secs(5)),
            ScrapeConfig::new("b").interval(Duration::from_secs(5)),
        );
        let (ta, tb) = (Target::new(&a, "h:1", &[]), Target::new(&b, "h:1", &[]));
        fake.set(ta.url(), Ok(Scraped::text("m 1\n")));
        m.apply_config(vec![a.clone(), b.clone()]);
        m.sync([("a".to_owned(), vec![ta]), ("b".to_owned(), vec![tb])]);
        (m, store, b)
    }

    /// Per job, whether its latest `up` sample is a staleness marker.
    fn up_is_stale(store: &MemoryStore) -> Vec<(String, bool)> {
        store
            .select(|l| l.get("__name__") == Some("up"), i64::MIN, i64::MAX)
            .iter()
            .map(|(l, s)| {
                let stale = s.last().is_some_and(|&(_, v)| is_stale_nan(v));
                (l.get("job").unwrap_or_default().to_owned(), stale)
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn removing_a_job_marks_its_series_stale_and_keeps_others() {
        let (m, store, b) = two_jobs_running();
        tokio::time::sleep(Duration::from_secs(10)).await;
        m.apply_config(vec![b]);
        assert_eq!(m.targets().len(), 1);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(
            up_is_stale(&store),
            [("a".into(), true), ("b".into(), false)]
        );
        m.stop(false).await;
        assert!(m.targets().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn stop_waits_for_removed_jobs_and_running_ones() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let baseline = metrics.num_alive_tasks();
        let (m, store, b) = two_jobs_running();
        tokio::time::sleep(Duration::from_secs(10)).await;
        // Job `a` is removed: its loop waits to write markers, owned by no job.
        m.apply_config(vec![b]);
        assert_eq!(metrics.num_alive_tasks(), baseline + 2);
        m.stop(true).await;
        assert_eq!(metrics.num_alive_tasks(), baseline);
        assert_eq!(
            up_is_stale(&store),
            [("a".into(), true), ("b".into(), true)]
        );
    }
}
