//! [`ScrapePool`]: the scrape loops of one job, kept in step with its target list.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::discovery::TargetGroup;
use crate::scrape::scrape_loop::{Command, Control, ScrapeLoop};
use crate::scrape::scraper::Scraper;
use crate::scrape::store::Storage;
use crate::scrape::target::{
    populate_with, JobLabels, Populated, ScrapeHealth, Target, TargetStatus,
};
use crate::scrape::{ScrapeConfig, WallClock};
use promsdk::LabelSet;

struct Running {
    commands: Arc<Control>,
    health: Arc<Mutex<ScrapeHealth>>,
    task: JoinHandle<()>,
    /// How many discovered targets (or list entries) this target stands for: the loop
    /// stops when the last of them goes.
    refs: usize,
}

/// A loop told to stop that may still be waiting to write its staleness markers.
struct Stopping {
    commands: Arc<Control>,
    task: JoinHandle<()>,
}

/// The hasher of the target map: random, or (in tests) one that makes every target
/// collide, to show that identity is decided by the full label set and URL.
#[derive(Clone, Default)]
struct TargetHasher {
    collide: bool,
    random: RandomState,
}

impl BuildHasher for TargetHasher {
    type Hasher = MaybeConstant;

    fn build_hasher(&self) -> MaybeConstant {
        MaybeConstant(self.random.build_hasher(), self.collide)
    }
}

struct MaybeConstant(std::hash::DefaultHasher, bool);

impl Hasher for MaybeConstant {
    fn finish(&self) -> u64 {
        if self.1 {
            0
        } else {
            self.0.finish()
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
}

/// One job's loops. [`ScrapePool::sync`] takes the job's complete target list: loops
/// start for new targets, loops of targets no longer listed stop (and mark their
/// series stale, see [`scrape_loop`](crate::scrape::scrape_loop)), and loops of targets
/// still listed keep running untouched. Must be used within a tokio runtime.
///
/// [`ScrapePool::stop`] ends every loop and returns once all have finished, the ones
/// stopped by `sync` included; dropping the pool only tells the running loops to shut
/// down (without markers) and leaves the stopped ones to write theirs.
pub struct ScrapePool {
    cfg: Arc<ScrapeConfig>,
    scraper: Arc<dyn Scraper>,
    storage: Arc<dyn Storage>,
    clock: WallClock,
    loops: HashMap<Target, Running, TargetHasher>,
    stopping: Vec<Stopping>,
    /// Discovered targets that relabeling dropped, by their discovered labels.
    dropped: Vec<LabelSet>,
    /// What the last [`sync_groups`](Self::sync_groups) made of each group, by source.
    populated: HashMap<String, Group>,
    /// Whether the loops are exactly those of `populated` (the last sync was by
    /// groups), so the next one may apply only the difference.
    by_groups: bool,
    /// The labels every target gets from the job, built once.
    job_labels: Arc<JobLabels>,
}

/// A group as last synced: its labels and what each of its targets became (`None`:
/// invalid, skipped). A target seen again in a group with the same labels is not
/// relabeled again: the result depends on nothing else, the job's settings being
/// fixed for the pool's life.
struct Group {
    labels: LabelSet,
    /// The targets as the group listed them, to see an unchanged group at once (the
    /// same list, shared, when discovery handed the group on unchanged).
    order: Arc<[LabelSet]>,
    targets: HashMap<LabelSet, Entry, FastHash>,
}

impl Group {
    fn new(labels: LabelSet) -> Self {
        Group {
            labels,
            order: Arc::new([]),
            targets: HashMap::default(),
        }
    }
}

/// What one discovered target became, and how many times its group lists it.
struct Entry {
    result: Option<Populated>,
    count: usize,
}

/// The hasher of the per-group maps, keyed by label sets from discovery.
type FastHash = foldhash::fast::RandomState;

impl std::fmt::Debug for ScrapePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapePool")
            .field("job", &self.cfg.job_name)
            .field("targets", &self.loops.len())
            .finish()
    }
}

impl ScrapePool {
    /// An empty pool for job `cfg`.
    pub fn new(cfg: ScrapeConfig, scraper: Arc<dyn Scraper>, storage: Arc<dyn Storage>) -> Self {
        let job_labels = Arc::new(JobLabels::of(&cfg));
        ScrapePool {
            cfg: Arc::new(cfg),
            scraper,
            storage,
            clock: WallClock::system(),
            loops: HashMap::default(),
            stopping: Vec::new(),
            dropped: Vec::new(),
            populated: HashMap::new(),
            by_groups: false,
            job_labels,
        }
    }

    /// Stamps scrapes with `clock` (default: the system clock).
    pub fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// The job's settings.
    pub fn config(&self) -> &ScrapeConfig {
        &self.cfg
    }

    /// Makes the running loops exactly the targets of `groups` (each target's labels
    /// over its group's, through [`populate_labels`](crate::scrape::populate_labels): the job's relabeling), as
    /// Prometheus's `scrapePool.Sync`: targets relabeling drops are kept for the API,
    /// and a target whose labels are invalid is skipped with a log line.
    ///
    /// Only what changed costs: a target that comes again in a group with the same
    /// labels is not relabeled, and its loop is not looked at; the loops to start and
    /// stop follow from the targets that are new and those that went.
    pub fn sync_groups(&mut self, groups: &[TargetGroup]) {
        let mut before = std::mem::take(&mut self.populated);
        let (mut started, mut gone, mut dropped) = (Vec::new(), Vec::new(), Vec::new());
        for group in groups {
            let mut g = match before.remove(&group.source) {
                Some(g) if g.labels == group.labels => g,
                // New labels: every target is relabeled, and the old ones go.
                Some(g) => {
                    gone.extend(
                        g.targets
                            .into_values()
                            .filter_map(|e| e.result.and_then(Populated::active)),
                    );
                    Group::new(group.labels.clone())
                }
                None => Group::new(group.labels.clone()),
            };
            // The same targets in the same order (at once when discovery handed the
            // group on unchanged: `Arc` compares the pointers first) means nothing of
            // the group changed.
            if g.order != group.targets {
                self.diff_group(&mut g, group, &mut started, &mut gone);
            }
            dropped.extend(g.targets.values().filter_map(|e| match &e.result {
                Some(Populated::Dropped(labels)) => Some(labels.clone()),
                _ => None,
            }));
            self.populated.insert(group.source.clone(), g);
        }
        for (_, group) in before {
            gone.extend(
                group
                    .targets
                    .into_values()
                    .filter_map(|e| e.result.and_then(Populated::active)),
            );
        }
        self.dropped = dropped;
        if self.by_groups {
            self.apply(started, gone);
        } else {
            // The loops came from a target list: replace them with the groups' targets.
            let all = self
                .populated
                .values()
                .flat_map(|g| g.targets.values())
                .filter_map(|e| match &e.result {
                    Some(Populated::Active(t)) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            self.sync(all);
            self.by_groups = true;
        }
    }

    /// Applies the difference between group `g` as last synced and `group`: loops to
    /// start go to `started`, those to stop to `gone`.
    ///
    /// Only the positions where the list changed cost a lookup: the targets new there
    /// are counted in (or populated) first, then those that left are counted out, so a
    /// target that only moved within the group never reaches zero.
    fn diff_group(
        &self,
        g: &mut Group,
        group: &TargetGroup,
        started: &mut Vec<Target>,
        gone: &mut Vec<Target>,
    ) {
        let old = std::mem::replace(&mut g.order, Arc::clone(&group.targets));
        let kept = |j: usize, a: &[LabelSet], b: &[LabelSet]| j < b.len() && a[j] == b[j];
        for (j, target) in group.targets.iter().enumerate() {
            if kept(j, &group.targets, &old) {
                continue;
            }
            if let Some(entry) = g.targets.get_mut(target) {
                entry.count += 1;
                continue;
            }
            let cfg = &self.cfg;
            let result = populate_with(target, &group.labels, cfg, &cfg.relabel_configs, &self.job_labels)
                .map_err(|e| tracing::warn!(job = %cfg.job_name, source = %group.source, error = %e, "skipping target"))
                .ok();
            if let Some(Populated::Active(t)) = &result {
                started.push(t.clone());
            }
            g.targets.insert(target.clone(), Entry { result, count: 1 });
        }
        for (j, target) in old.iter().enumerate() {
            if kept(j, &old, &group.targets) {
                continue;
            }
            let Some(entry) = g.targets.get_mut(target) else {
                continue;
            };
            entry.count -= 1;
            if entry.count == 0 {
                if let Some(Populated::Active(t)) = g.targets.remove(target).and_then(|e| e.result)
                {
                    gone.push(t);
                }
            }
        }
    }

    /// Starts loops for `started` (or counts a reference where one runs) before
    /// stopping those whose last reference is in `gone`, so a target that moved from
    /// one group to another keeps its loop.
    fn apply(&mut self, started: Vec<Target>, gone: Vec<Target>) {
        self.stopping.retain(|s| !s.task.is_finished());
        for target in started {
            match self.loops.get_mut(&target) {
                Some(running) => running.refs += 1,
                None => self.start(target, 1),
            }
        }
        for target in gone {
            let Some(running) = self.loops.get_mut(&target) else {
                continue;
            };
            running.refs -= 1;
            if running.refs == 0 {
                if let Some(running) = self.loops.remove(&target) {
                    self.retire(running, Command::Stop);
                }
            }
        }
    }

    /// The groups of the last [`sync_groups`](Self::sync_groups), for a pool that
    /// replaces this one.
    pub fn groups(&self) -> Vec<TargetGroup> {
        self.populated
            .iter()
            .map(|(source, g)| TargetGroup {
                source: source.clone(),
                targets: Arc::clone(&g.order),
                labels: g.labels.clone(),
            })
            .collect()
    }

    /// The discovered labels of targets dropped by relabeling at the last sync.
    pub fn dropped(&self) -> &[LabelSet] {
        &self.dropped
    }

    /// Makes the running loops exactly `targets` (duplicates count once).
    pub fn sync(&mut self, targets: Vec<Target>) {
        self.by_groups = false;
        let mut wanted: HashMap<Target, usize, TargetHasher> =
            HashMap::with_hasher(self.loops.hasher().clone());
        for t in targets {
            *wanted.entry(t).or_default() += 1;
        }
        self.stopping.retain(|s| !s.task.is_finished());
        let gone: Vec<Target> = self
            .loops
            .keys()
            .filter(|t| !wanted.contains_key(*t))
            .cloned()
            .collect();
        for target in gone {
            if let Some(running) = self.loops.remove(&target) {
                self.retire(running, Command::Stop);
            }
        }
        for (target, refs) in wanted {
            match self.loops.get_mut(&target) {
                Some(running) => running.refs = refs,
                None => self.start(target, refs),
            }
        }
    }

    fn start(&mut self, target: Target, refs: usize) {
        let sl = ScrapeLoop::new(
            target.clone(),
            Arc::clone(&self.cfg),
            Arc::clone(&self.scraper),
            Arc::clone(&self.storage),
        )
        .with_clock(self.clock.clone());
        let health = sl.health();
        let commands = Control::new();
        let task = tokio::spawn(sl.run(Arc::clone(&commands)));
        self.loops.insert(
            target,
            Running {
                commands,
                health,
                task,
                refs,
            },
        );
    }

    /// The status of every running target, sorted by target.
    pub fn targets(&self) -> Vec<TargetStatus> {
        let mut out: Vec<_> = self
            .loops
            .iter()
            .map(|(t, r)| TargetStatus::new(t, &self.cfg, &r.health.lock()))
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// Tells every loop to stop without waiting for it: with staleness markers when
    /// `mark_stale` (the job was removed from the configuration; loops already
    /// stopped by `sync` go on waiting to write theirs), without when the process is
    /// shutting down (loops still waiting to write markers give up). Await
    /// [`stop`](Self::stop) to see them finish.
    pub fn signal_stop(&mut self, mark_stale: bool) {
        let command = if mark_stale {
            Command::Stop
        } else {
            Command::Shutdown
        };
        for (_, running) in std::mem::take(&mut self.loops) {
            self.retire(running, command);
        }
        if !mark_stale {
            for s in &self.stopping {
                s.commands.send(Command::Shutdown);
            }
        }
    }

    /// Stops every loop as [`signal_stop`](Self::signal_stop) does and returns once
    /// all of them have finished: when `mark_stale`, after their staleness markers
    /// are in the store (just over two intervals after the last scrape, see
    /// [`scrape_loop`](crate::scrape::scrape_loop)).
    pub async fn stop(&mut self, mark_stale: bool) {
        self.signal_stop(mark_stale);
        for s in std::mem::take(&mut self.stopping) {
            if let Err(error) = s.task.await {
                tracing::warn!(job = %self.cfg.job_name, %error, "scrape loop failed");
            }
        }
    }

    /// Whether every loop has finished (none running, none waiting to mark stale).
    pub fn is_finished(&self) -> bool {
        self.loops.is_empty() && self.stopping.iter().all(|s| s.task.is_finished())
    }

    fn retire(&mut self, running: Running, command: Command) {
        running.commands.send(command);
        self.stopping.push(Stopping {
            commands: running.commands,
            task: running.task,
        });
    }

    #[cfg(test)]
    fn with_colliding_hashes(mut self) -> Self {
        self.loops = HashMap::with_hasher(TargetHasher {
            collide: true,
            random: RandomState::new(),
        });
        self
    }
}

impl Drop for ScrapePool {
    fn drop(&mut self) {
        for running in self.loops.values() {
            running.commands.send(Command::Shutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::scraper::{FakeScraper, Scraped};
    use crate::scrape::store::{is_stale_nan, MemoryStore};
    use std::time::Duration;

    const INTERVAL: Duration = Duration::from_secs(10);

    fn pool(collide: bool) -> (ScrapePool, MemoryStore, FakeScraper, ScrapeConfig) {
        let cfg = ScrapeConfig::new("j").interval(INTERVAL);
        let store = MemoryStore::new(Duration::from_secs(3600));
        let fake = FakeScraper::default();
        let mut p = ScrapePool::new(cfg.clone(), Arc::new(fake.clone()), Arc::new(store.clone()))
            .with_clock(WallClock::tokio());
        if collide {
            p = p.with_colliding_hashes();
        }
        (p, store, fake, cfg)
    }

    fn up_series(store: &MemoryStore) -> Vec<(String, Vec<(i64, f64)>)> {
        store
            .select(|l| l.get("__name__") == Some("up"), i64::MIN, i64::MAX)
            .into_iter()
            .map(|(l, s)| (l.get("instance").unwrap_or_default().to_owned(), s))
            .collect()
    }

    async fn sync_starts_new_stops_gone_keeps_unchanged(collide: bool) {
        let (mut p, store, fake, cfg) = pool(collide);
        let (a, b, c) = (
            Target::new(&cfg, "a:1", &[]),
            Target::new(&cfg, "b:1", &[]),
            Target::new(&cfg, "c:1", &[]),
        );
        for t in [&a, &b, &c] {
            fake.set(t.url(), Ok(Scraped::text("m 1\n")));
        }
        p.sync(vec![a.clone(), b.clone(), a.clone()]);
        assert_eq!(p.targets().len(), 2, "collide={collide}");
        tokio::time::sleep(INTERVAL * 2).await;
        let a_before = fake.count(a.url());
        p.sync(vec![a.clone(), c.clone()]);
        let listed: Vec<Target> = p.targets().into_iter().map(|s| s.target).collect();
        assert_eq!(listed, vec![a.clone(), c.clone()], "collide={collide}");
        tokio::time::sleep(INTERVAL * 3).await;
        // `a` kept its loop: one scrape per interval, never a second loop.
        let a_scrapes = fake.count(a.url()) - a_before;
        assert_eq!(a_scrapes, 3, "collide={collide}");
        let up = up_series(&store);
        let instances: Vec<&str> = up.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(instances, ["a:1", "b:1", "c:1"], "collide={collide}");
        assert!(is_stale_nan(up[1].1.last().unwrap().1), "b is stale");
        assert!(!is_stale_nan(up[0].1.last().unwrap().1), "a is not");
        assert!(!is_stale_nan(up[2].1.last().unwrap().1), "c is not");
    }

    #[tokio::test(start_paused = true)]
    async fn sync_diffs_targets() {
        sync_starts_new_stops_gone_keeps_unchanged(false).await;
    }

    #[tokio::test(start_paused = true)]
    async fn sync_diffs_targets_with_colliding_hashes() {
        sync_starts_new_stops_gone_keeps_unchanged(true).await;
    }

    #[tokio::test(start_paused = true)]
    async fn targets_with_equal_hashes_never_merge() {
        let (mut p, store, fake, cfg) = pool(true);
        let a = Target::new(&cfg, "h:1", &[("shard", "1")]);
        let b = Target::new(&cfg, "h:1", &[("shard", "2")]);
        fake.set(a.url(), Ok(Scraped::text("m 1\n")));
        p.sync(vec![a.clone(), b.clone()]);
        assert_eq!(p.targets().len(), 2);
        tokio::time::sleep(INTERVAL).await;
        let m = store.select(|l| l.get("__name__") == Some("m"), i64::MIN, i64::MAX);
        let shards: Vec<_> = m.iter().map(|(l, _)| l.get("shard").unwrap()).collect();
        assert_eq!(shards, ["1", "2"]);
        p.sync(vec![b.clone()]);
        assert_eq!(p.targets()[0].target, b);
    }

    fn last_up(store: &MemoryStore) -> Vec<(String, bool)> {
        up_series(store)
            .into_iter()
            .map(|(i, s)| (i, is_stale_nan(s.last().unwrap().1)))
            .collect()
    }

    /// A pool that scraped targets `a` and `b` twice, then was synced to `a` only: `b`'s
    /// loop has stopped and waits to write its markers, `a` is still scraping.
    async fn a_scraping_and_b_stopped() -> (ScrapePool, MemoryStore) {
        let (mut p, store, fake, cfg) = pool(false);
        let (a, b) = (Target::new(&cfg, "a:1", &[]), Target::new(&cfg, "b:1", &[]));
        for t in [&a, &b] {
            fake.set(t.url(), Ok(Scraped::text("m 1\n")));
        }
        p.sync(vec![a.clone(), b]);
        tokio::time::sleep(INTERVAL * 2).await;
        p.sync(vec![a]);
        (p, store)
    }

    #[tokio::test(start_paused = true)]
    async fn stop_marking_stale_returns_after_the_markers_and_the_loops_end() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let baseline = metrics.num_alive_tasks();
        let (mut p, store) = a_scraping_and_b_stopped().await;
        assert_eq!(metrics.num_alive_tasks(), baseline + 2);
        assert_eq!(
            last_up(&store),
            [("a:1".into(), false), ("b:1".into(), false)]
        );
        p.stop(true).await;
        assert_eq!(
            last_up(&store),
            [("a:1".into(), true), ("b:1".into(), true)]
        );
        assert_eq!(metrics.num_alive_tasks(), baseline);
        assert!(p.is_finished() && p.targets().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stop_ends_every_loop_at_once_without_markers() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let baseline = metrics.num_alive_tasks();
        let (mut p, store) = a_scraping_and_b_stopped().await;
        let before = tokio::time::Instant::now();
        p.stop(false).await;
        assert_eq!(tokio::time::Instant::now(), before, "no wait for markers");
        assert_eq!(metrics.num_alive_tasks(), baseline);
        assert_eq!(
            last_up(&store),
            [("a:1".into(), false), ("b:1".into(), false)]
        );
    }

    /// The control of each running loop, by instance: equal pointers mean the same
    /// loop kept running.
    fn loops(p: &ScrapePool) -> Vec<(String, Arc<Control>)> {
        let mut out: Vec<_> = p
            .loops
            .iter()
            .map(|(t, r)| {
                (
                    t.labels().get("instance").unwrap_or_default().to_owned(),
                    Arc::clone(&r.commands),
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn group(source: &str, addresses: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            labels: LabelSet::from_pairs("", labels).unwrap(),
            ..TargetGroup::of(source, addresses)
        }
    }

    async fn group_diffs(collide: bool) {
        let (mut p, _, _, _) = pool(collide);
        let at = |n: u8| format!("127.0.10.{n}:9100");
        let (a, b, c) = (at(1), at(2), at(3));
        p.sync_groups(&[group("x", &[&a, &b], &[]), group("y", &[&c], &[])]);
        let first = loops(&p);
        assert_eq!(first.len(), 3, "collide={collide}");

        // `b` moves from group x to group y: its loop stays; `c` stays; `a` goes.
        p.sync_groups(&[group("x", &[], &[]), group("y", &[&c, &b], &[])]);
        let second = loops(&p);
        assert_eq!(second.len(), 2, "collide={collide}: {second:?}");
        assert!(
            Arc::ptr_eq(&first[1].1, &second[0].1),
            "b kept its loop (collide={collide})"
        );
        assert!(
            Arc::ptr_eq(&first[2].1, &second[1].1),
            "c kept its loop (collide={collide})"
        );
        assert_eq!(first[0].1.get(), Command::Stop, "a was told to stop");

        // The same target in two groups: one loop, stopped only when both drop it.
        p.sync_groups(&[group("x", &[&c], &[]), group("y", &[&c, &b], &[])]);
        assert_eq!(loops(&p).len(), 2);
        p.sync_groups(&[group("x", &[&c], &[]), group("y", &[&b], &[])]);
        let third = loops(&p);
        assert!(
            Arc::ptr_eq(&second[1].1, &third[1].1),
            "c still has a group (collide={collide})"
        );
        p.sync_groups(&[group("y", &[&b], &[])]);
        assert_eq!(loops(&p).len(), 1);
        assert_eq!(third[1].1.get(), Command::Stop);

        // New group labels give new targets: the old loop stops, a new one starts.
        p.sync_groups(&[group("y", &[&b], &[("env", "prod")])]);
        let fourth = loops(&p);
        assert_eq!(fourth.len(), 1);
        assert!(!Arc::ptr_eq(&third[0].1, &fourth[0].1));
        assert_eq!(third[0].1.get(), Command::Stop);
        assert_eq!(p.targets()[0].target.labels().get("env"), Some("prod"));
    }

    /// Targets listed twice in a group, moved, swapped and shifted within it: each
    /// keeps its loop while the group lists it at least once, and stops when the
    /// group no longer does.
    async fn moves_within_a_group(collide: bool) {
        let (mut p, _, _, _) = pool(collide);
        let at = |n: u8| format!("127.0.10.{n}:9100");
        let (a, b, c, d) = (at(1), at(2), at(3), at(4));
        p.sync_groups(&[group("x", &[&a, &a, &b, &c], &[])]);
        let first = loops(&p);
        assert_eq!(first.len(), 3, "collide={collide}");
        let same = |before: &[(String, Arc<Control>)], after: &[(String, Arc<Control>)]| {
            before.len() == after.len()
                && before
                    .iter()
                    .zip(after)
                    .all(|(x, y)| x.0 == y.0 && Arc::ptr_eq(&x.1, &y.1))
        };
        // Swapped, one copy of `a` gone, `d` shifted in front: only `d` starts.
        p.sync_groups(&[group("x", &[&d, &c, &a, &b], &[])]);
        let second = loops(&p);
        assert_eq!(second.len(), 4, "collide={collide}");
        assert!(
            same(&first, &second[..3]),
            "a, b, c kept their loops (collide={collide})"
        );
        // `a` listed twice again, then once, then not at all.
        p.sync_groups(&[group("x", &[&a, &b, &a, &c, &d], &[])]);
        p.sync_groups(&[group("x", &[&b, &c, &d, &a], &[])]);
        assert!(same(&second, &loops(&p)), "collide={collide}");
        p.sync_groups(&[group("x", &[&b, &c, &d], &[])]);
        assert_eq!(loops(&p).len(), 3, "collide={collide}");
        assert_eq!(
            second[0].1.get(),
            Command::Stop,
            "a stopped (collide={collide})"
        );
        assert!(same(&second[1..], &loops(&p)), "collide={collide}");
    }

    #[tokio::test(start_paused = true)]
    async fn targets_moving_within_a_group_keep_their_loops() {
        moves_within_a_group(false).await;
        moves_within_a_group(true).await;
    }

    #[tokio::test(start_paused = true)]
    async fn group_syncs_apply_only_the_difference() {
        group_diffs(false).await;
    }

    #[tokio::test(start_paused = true)]
    async fn group_syncs_apply_only_the_difference_with_colliding_hashes() {
        group_diffs(true).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_group_sync_after_a_list_sync_replaces_the_list() {
        let (mut p, _, _, cfg) = pool(false);
        p.sync(vec![Target::new(&cfg, "127.0.10.9:9100", &[])]);
        p.sync_groups(&[group("x", &["127.0.10.1:9100"], &[])]);
        let listed: Vec<String> = loops(&p).into_iter().map(|(i, _)| i).collect();
        assert_eq!(listed, ["127.0.10.1:9100"]);
        p.sync_groups(&[group("x", &[], &[])]);
        assert!(loops(&p).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_unchanged_group_keeps_its_targets_and_dropped_targets() {
        let rules: Vec<crate::relabel::RelabelConfig> = serde_norway::from_str(
            "- {source_labels: [__address__], regex: '.*:9200', action: drop}",
        )
        .unwrap();
        let cfg = ScrapeConfig::new("j")
            .interval(INTERVAL)
            .relabel_configs(rules);
        let store = MemoryStore::new(Duration::from_secs(3600));
        let mut p = ScrapePool::new(cfg, Arc::new(FakeScraper::default()), Arc::new(store));
        let groups = [group("x", &["127.0.10.1:9100", "127.0.10.2:9200"], &[])];
        p.sync_groups(&groups);
        let before = loops(&p);
        for _ in 0..2 {
            p.sync_groups(&groups);
            assert_eq!(p.dropped().len(), 1, "the dropped target is still listed");
            let now = loops(&p);
            assert_eq!(now.len(), 1);
            assert!(Arc::ptr_eq(&before[0].1, &now[0].1));
        }
        // The same targets in another order are the same targets.
        p.sync_groups(&[group("x", &["127.0.10.2:9200", "127.0.10.1:9100"], &[])]);
        assert!(Arc::ptr_eq(&before[0].1, &loops(&p)[0].1));
        assert_eq!(p.dropped().len(), 1);
    }
}
