//! One target's scrape loop, with the staleness rules of Prometheus's `scrape.go`
//! (`scrapeAndReport`, `scrapeLoopAppender.append`, `updateStaleMarkers`,
//! `endOfRunStaleness`; 2.42 and later):
//!
//! - a series present in the previous scrape and absent from this one gets a
//!   [`STALE_NAN`] at this scrape's timestamp;
//! - a failed fetch (connection error, timeout, HTTP status other than 200, body size
//!   limit) is an empty scrape: every series of the previous scrape is marked stale;
//! - a body that fails part-way (a parse error, or more samples than the sample limit)
//!   commits none of its samples, but the series it appended before failing (before
//!   the parse error, or within the limit) count as present: they are not marked
//!   stale, and the next scrape compares against them. Only the previous scrape's
//!   other series are marked stale. Past the sample limit the body is still parsed,
//!   so `scrape_samples_scraped` reports every sample in it;
//! - a series exposed with an explicit timestamp is never marked (Prometheus bypasses
//!   staleness for those);
//! - a loop stopped because its target went away waits for the next scrape time
//!   (the marker timestamp), one more interval and 10% of one, then marks everything
//!   stale. If the target came straight back, its new loop has written newer samples
//!   by then and the store drops the older markers.
//!
//! | scrape                      | body samples stored | marked stale                         | `up` | `scrape_samples_scraped` | `scrape_series_added` |
//! |-----------------------------|---------------------|--------------------------------------|------|--------------------------|-----------------------|
//! | fetch error, body too large | none                | every previous series                | 0    | 0                        | 0                     |
//! | parse error mid-body        | none                | previous series not parsed before it | 0    | samples before the error | new series before it  |
//! | sample limit exceeded       | none                | previous series not within the limit | 0    | every sample in the body | new series within it  |
//!
//! Every scrape also writes `up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling` and `scrape_series_added` with the target's
//! labels.
//!
//! The job's `metric_relabel_configs` apply to each sample's labels (`__name__`
//! included) once the target's labels are attached, before it is appended, as
//! Prometheus's `mutateSampleLabels`: a dropped series is not appended, not tracked
//! for staleness and not counted against the sample limit or in
//! `scrape_samples_post_metric_relabeling` (which counts the samples that reach the
//! append, repeated series and those past the limit included). A series the rules
//! leave without `__name__`, or with an invalid metric or label name, fails the scrape
//! like a parse error. Without rules this step is skipped.
//!
//! A target's interval and timeout are its own ([`Target::interval`], from its
//! `__scrape_interval__` label), the job's when it has none.
//!
//! `scrape_series_added` counts what Prometheus's scrape cache counts: series appended
//! that the loop's series cache does not hold. The cache keeps every series appended
//! (explicit timestamps or not) and is trimmed to the series of the current scrape
//! only after a successful scrape with a non-empty body; a failed or empty scrape keeps
//! it (unless it grew past twice its last trimmed size plus 1000). So a series that
//! comes back after a failed scrape is not new, one that comes back after a successful
//! scrape without it is, and a scrape that fails part-way counts the new series it
//! appended before failing (their samples are rolled back; the next scrape does not
//! count them again).
//!
//! Deliberate difference: Prometheus's cache is keyed by a series' raw text as
//! exposed (`name{labels}`, byte for byte); ours is keyed by the stored label set.
//! The same series written two ways (label order, spacing, an empty label) is
//! therefore one cache entry here and two in Prometheus, which counts the second
//! spelling in `scrape_series_added` and, within one scrape, appends a repeat in the
//! other spelling again (counting it against the sample limit) instead of dropping it
//! as a duplicate. Staleness is not affected: Prometheus tracks it by stored series,
//! as we do.
//!
//! Releases before prometheus/prometheus#16429 (2.42 among them) also tracked,
//! for staleness, new series rejected by the sample limit, so the next scrape without
//! them wrote markers for series never stored. We follow the fix: only series
//! actually appended are tracked.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior};

use crate::relabel::process;
use crate::scrape::scraper::{ScrapeError, Scraped, Scraper};
use crate::scrape::store::{Appender, Storage, STALE_NAN};
use crate::scrape::target::{Health, ScrapeHealth, Target, TargetStatus};
use crate::scrape::{labels_from_pairs, ScrapeConfig, WallClock, NAME_LABEL};
use promsdk::labels::{is_valid_label_name, is_valid_metric_name, LabelPair, LabelSet};
use promsdk::parser::{Entry, ParsedSample, Parser};

const REPORT_NAMES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// What a loop is told to do by its pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Command {
    /// Keep scraping.
    Run,
    /// The target is gone: stop, then mark its series stale.
    Stop,
    /// The process is shutting down: stop now and write nothing more.
    Shutdown,
}

/// A loop's [`Command`], set by its pool, with a wake-up on change: one atomic and
/// one `Notify`, far smaller than a watch channel (which carries eight notifiers),
/// which matters for pools of many idle targets.
#[derive(Debug)]
pub(crate) struct Control {
    command: AtomicU8,
    changed: Notify,
}

impl Control {
    /// A control saying [`Command::Run`].
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Control {
            command: AtomicU8::new(Command::Run as u8),
            changed: Notify::new(),
        })
    }

    /// Tells the loop `command`. Commands only move forward (run, stop, shutdown).
    pub(crate) fn send(&self, command: Command) {
        // Release: a loop that reads the command sees what was written before it.
        self.command.fetch_max(command as u8, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// The current command.
    pub(crate) fn get(&self) -> Command {
        match self.command.load(Ordering::Acquire) {
            0 => Command::Run,
            1 => Command::Stop,
            _ => Command::Shutdown,
        }
    }

    /// Resolves once the command satisfies `done`.
    async fn wait_for(&self, done: impl Fn(Command) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a send between the two still wakes us.
            changed.as_mut().enable();
            if done(self.get()) {
                return;
            }
            changed.await;
        }
    }
}

/// The outcome of one scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeReport {
    /// The scrape's timestamp (ms since the epoch).
    pub t_ms: i64,
    /// Samples parsed from the body: all of them when the sample limit was exceeded,
    /// those before the error on a parse error, 0 when the fetch failed.
    pub samples: usize,
    /// Of those, the samples metric relabeling kept (all of them without rules).
    pub samples_post_relabel: usize,
    /// Series appended that the series cache did not hold (see the module doc); a
    /// scrape failing part-way counts those appended before the failure.
    pub series_added: usize,
    /// Staleness markers written for series gone since the previous scrape.
    pub stale_markers: usize,
    /// Why the scrape failed, if it did.
    pub error: Option<ScrapeError>,
}

/// The scrape loop of one target. [`ScrapeLoop::scrape_at`] and
/// [`ScrapeLoop::append`] do one scrape and are what tests call; the pool runs
/// the loop in a task.
///
/// ```
/// use promsdk_harness::scrape::{store::is_stale_nan, FakeScraper, MemoryStore, ScrapeConfig, ScrapeLoop, Scraped, Target};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let store = MemoryStore::new(Duration::from_secs(3600));
/// let cfg = Arc::new(ScrapeConfig::new("j"));
/// let target = Target::new(&cfg, "a:1", &[]);
/// let mut sl = ScrapeLoop::new(target, cfg, Arc::new(FakeScraper::default()), Arc::new(store.clone()));
/// sl.append(Ok(Scraped::text("metric_a 1\n")), 1_000);
/// let report = sl.append(Ok(Scraped::text("")), 2_000);
/// assert_eq!(report.stale_markers, 1);
/// let a = store.select(|l| l.get("__name__") == Some("metric_a"), 0, i64::MAX);
/// assert!(is_stale_nan(a[0].1[1].1));
/// ```
pub struct ScrapeLoop {
    target: Target,
    cfg: Arc<ScrapeConfig>,
    scraper: Arc<dyn Scraper>,
    storage: Arc<dyn Storage>,
    health: Arc<Mutex<ScrapeHealth>>,
    clock: WallClock,
    /// Series of the previous scrape without explicit timestamps.
    prev: HashSet<LabelSet>,
    /// Prometheus's scrape cache: the series `scrape_series_added` does not count.
    cache: HashSet<LabelSet>,
    /// The cache's size at its last trim, for the forced trim after failures.
    cache_trimmed_len: usize,
}

/// What appending one body did.
#[derive(Default)]
struct Appended {
    /// The series without explicit timestamps, for staleness.
    cur: HashSet<LabelSet>,
    /// Every series appended.
    seen: HashSet<LabelSet>,
    samples: usize,
    post_relabel: usize,
    added: usize,
    error: Option<ScrapeError>,
}

impl std::fmt::Debug for ScrapeLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeLoop")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl ScrapeLoop {
    /// A loop scraping `target` with the settings of `cfg`, writing to `storage`.
    pub fn new(
        target: Target,
        cfg: Arc<ScrapeConfig>,
        scraper: Arc<dyn Scraper>,
        storage: Arc<dyn Storage>,
    ) -> Self {
        ScrapeLoop {
            target,
            cfg,
            scraper,
            storage,
            health: Arc::default(),
            clock: WallClock::system(),
            prev: HashSet::new(),
            cache: HashSet::new(),
            cache_trimmed_len: 0,
        }
    }

    /// Reads scrape timestamps from `clock` (default: the system clock).
    pub fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// The target's interval, or the job's.
    fn interval(&self) -> Duration {
        self.target.interval().unwrap_or(self.cfg.interval)
    }

    /// The target's timeout, or the job's.
    fn timeout(&self) -> Duration {
        self.target.timeout().unwrap_or(self.cfg.timeout)
    }

    /// The shared status the loop updates after each scrape.
    pub fn status(&self) -> TargetStatus {
        TargetStatus::new(&self.target, &self.cfg, &self.health.lock())
    }

    /// The last scrape's findings, shared with the pool that reads them.
    pub(crate) fn health(&self) -> Arc<Mutex<ScrapeHealth>> {
        Arc::clone(&self.health)
    }

    /// The delay from `now_ms` to this target's first scrape: the interval is cut
    /// into slots aligned to the epoch, and the target's stable hash picks its place
    /// within one, so targets spread out and a restarted harness keeps the phase.
    pub fn offset(&self, now_ms: i64) -> Duration {
        let interval = u64::try_from(self.interval().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let now = now_ms.unsigned_abs();
        let base = interval - now % interval;
        let mut next = base + self.target.offset_hash() % interval;
        if next > interval {
            next -= interval;
        }
        Duration::from_millis(next)
    }

    /// Fetches the target (within the timeout) and appends the result at `t_ms`.
    pub async fn scrape_at(&mut self, t_ms: i64) -> ScrapeReport {
        let started = Instant::now();
        let timeout = self.timeout();
        let fetched = tokio::time::timeout(timeout, self.scraper.scrape(&self.target, &self.cfg))
            .await
            .unwrap_or_else(|_| {
                Err(ScrapeError::Timeout {
                    url: self.target.url().to_owned(),
                    timeout,
                })
            });
        self.append_timed(fetched, t_ms, started.elapsed())
    }

    /// Appends one fetch result as the scrape at `t_ms` (a zero duration is reported).
    pub fn append(&mut self, fetched: Result<Scraped, ScrapeError>, t_ms: i64) -> ScrapeReport {
        self.append_timed(fetched, t_ms, Duration::ZERO)
    }

    fn append_timed(
        &mut self,
        fetched: Result<Scraped, ScrapeError>,
        t_ms: i64,
        duration: Duration,
    ) -> ScrapeReport {
        let mut app = self.storage.appender();
        let (appended, empty) = match fetched {
            Ok(s) => (self.append_body(&mut *app, &s, t_ms), s.body.is_empty()),
            Err(e) => (
                Appended {
                    error: Some(e),
                    ..Appended::default()
                },
                true,
            ),
        };
        self.trim_cache(&appended, empty);
        let Appended {
            cur,
            samples,
            post_relabel,
            added: series_added,
            error,
            ..
        } = appended;
        if error.is_some() {
            // No sample of a failed scrape is kept, but the series it appended before
            // failing still count as present: Prometheus's `scrapeAndReport` rolls back
            // and appends an empty scrape, whose stale markers skip the series its
            // failed append had already tracked.
            app.rollback();
            app = self.storage.appender();
        }
        if let Some(e) = &error {
            tracing::debug!(target_url = self.target.url(), error = %e, "scrape failed");
        }
        let stale_markers = self.mark_gone(&mut *app, &cur, t_ms);
        self.prev = cur;
        let up = if error.is_none() { 1.0 } else { 0.0 };
        let values = [
            up,
            duration.as_secs_f64(),
            samples as f64,
            post_relabel as f64,
            series_added as f64,
        ];
        for (name, v) in REPORT_NAMES.iter().zip(values) {
            app.append(&self.report_labels(name), t_ms, v);
        }
        app.commit();
        let mut status = self.health.lock();
        status.health = if error.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        status.last_error = error.as_ref().map(ToString::to_string).unwrap_or_default();
        status.last_scrape_ms = Some(t_ms);
        status.last_duration = duration;
        drop(status);
        ScrapeReport {
            t_ms,
            samples,
            samples_post_relabel: post_relabel,
            series_added,
            stale_markers,
            error,
        }
    }

    /// Marks every series of the last scrape, and the report series, stale at `t_ms`:
    /// what a loop does once its target is gone.
    pub fn mark_all_stale(&mut self, t_ms: i64) {
        let mut app = self.storage.appender();
        self.mark_gone(&mut *app, &HashSet::new(), t_ms);
        self.prev.clear();
        for name in REPORT_NAMES {
            app.append(&self.report_labels(name), t_ms, STALE_NAN);
        }
        app.commit();
    }

    fn mark_gone(&self, app: &mut dyn Appender, cur: &HashSet<LabelSet>, t_ms: i64) -> usize {
        let mut n = 0;
        for gone in self.prev.difference(cur) {
            app.append(gone, t_ms, STALE_NAN);
            n += 1;
        }
        n
    }

    /// Trims the series cache as Prometheus's `iterDone` does: to the series of this
    /// scrape after a successful non-empty one, or when failures made it grow past
    /// twice its last trimmed size plus 1000.
    fn trim_cache(&mut self, appended: &Appended, empty: bool) {
        let success = appended.error.is_none() && !empty;
        if success || self.cache.len() > self.cache_trimmed_len * 2 + 1000 {
            if success {
                self.cache_trimmed_len = self.cache.len();
            }
            self.cache.retain(|l| appended.seen.contains(l));
        }
    }

    /// Parses and appends a body as Prometheus's `scrapeLoopAppender.append` does:
    /// until the end or a parse error, counting every sample; past the sample limit it
    /// keeps parsing (so the full count is reported) but appends, caches and tracks
    /// nothing more. A repeated series without a timestamp is not appended again and
    /// does not count against the limit (Prometheus drops it as a duplicate before its
    /// limit appender sees it).
    fn append_body(&mut self, app: &mut dyn Appender, scraped: &Scraped, t_ms: i64) -> Appended {
        let mut out = Appended::default();
        let limit = self.cfg.sample_limit;
        let mut within_limit = 0usize;
        let mut limit_hit = false;
        for entry in Parser::new(&scraped.body, scraped.format) {
            let sample = match entry {
                Ok(Entry::Sample(sample)) => sample,
                Ok(_) => continue,
                Err(e) => {
                    out.error = Some(ScrapeError::Parse {
                        url: self.target.url().to_owned(),
                        message: e.to_string(),
                    });
                    break;
                }
            };
            out.samples += 1;
            let mut labels = self.sample_labels(&sample);
            if !self.cfg.metric_relabel_configs.is_empty() {
                match self.relabel(labels) {
                    Ok(Some(kept)) => labels = kept,
                    Ok(None) => continue,
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                }
            }
            out.post_relabel += 1;
            let repeated = !out.seen.insert(labels.clone()) && self.cache.contains(&labels);
            if repeated && sample.timestamp.is_none() {
                continue;
            }
            within_limit += 1;
            if limit > 0 && within_limit > limit {
                limit_hit = true;
                continue;
            }
            if self.cache.insert(labels.clone()) {
                out.added += 1;
            }
            match sample.timestamp {
                Some(ts) => {
                    let t = i64::try_from(ts.as_millis()).unwrap_or(i64::MAX);
                    app.append(&labels, t, sample.value);
                }
                None => {
                    app.append(&labels, t_ms, sample.value);
                    out.cur.insert(labels);
                }
            }
        }
        if limit_hit && out.error.is_none() {
            // A parse error takes precedence, as in Prometheus.
            out.error = Some(ScrapeError::SampleLimit {
                url: self.target.url().to_owned(),
                limit,
            });
        }
        out
    }

    /// Applies the job's `metric_relabel_configs` to a sample's labels: `None` when
    /// dropped, an error when the result is not a valid series (Prometheus's checks
    /// after `mutateSampleLabels`).
    fn relabel(&self, labels: LabelSet) -> Result<Option<LabelSet>, ScrapeError> {
        let Some(labels) = process(&labels, &self.cfg.metric_relabel_configs) else {
            return Ok(None);
        };
        let invalid = |message: String| ScrapeError::InvalidSeries {
            url: self.target.url().to_owned(),
            message,
        };
        match labels.get(NAME_LABEL) {
            None => Err(invalid(format!("missing metric name ({NAME_LABEL} label)"))),
            Some(name)
                if !is_valid_metric_name(name)
                    || !labels.iter().all(|(n, _)| is_valid_label_name(n)) =>
            {
                Err(invalid(format!(
                    "invalid metric name or label names: {labels:?}"
                )))
            }
            Some(_) => Ok(Some(labels)),
        }
    }

    fn report_labels(&self, name: &str) -> LabelSet {
        let mut pairs = vec![LabelPair::new(NAME_LABEL, name)];
        pairs.extend(self.target.labels().pairs().iter().cloned());
        labels_from_pairs(pairs)
    }

    /// The stored labels of a scraped sample: its own labels (a name given an empty
    /// value dropped with all its values, as Prometheus's label builder does) merged
    /// with the target's. On a clash, `honor_labels` keeps the exposed value;
    /// otherwise the target's wins and the exposed one is renamed `exported_<name>`
    /// (prefixed again until the name is free), as Prometheus does.
    fn sample_labels(&self, sample: &ParsedSample<'_>) -> LabelSet {
        let target = self.target.labels();
        let mut pairs = vec![LabelPair::new(NAME_LABEL, sample.name)];
        let mut clashes: Vec<LabelPair> = Vec::new();
        for (name, value) in sample.labels.iter() {
            let mut own = sample.labels.iter();
            if value.is_empty() || own.any(|(n, v)| n == name && v.is_empty()) {
                continue;
            }
            let pair = LabelPair::new(name, &*value);
            if !self.cfg.honor_labels && target.get(name).is_some() {
                clashes.push(pair);
            } else {
                pairs.push(pair);
            }
        }
        for pair in target.pairs() {
            if !pairs.iter().any(|p| p.name == pair.name) {
                pairs.push(pair.clone());
            }
        }
        clashes.sort_by_key(|p| p.name.len());
        for i in 0..clashes.len() {
            let mut name = clashes[i].name.to_string();
            loop {
                name.insert_str(0, "exported_");
                let taken = sample.labels.get(&name).is_some()
                    || target.get(&name).is_some()
                    || clashes[..i].iter().any(|c| *c.name == *name);
                if !taken {
                    break;
                }
            }
            clashes[i] = LabelPair::new(name, clashes[i].value.clone());
        }
        pairs.extend(clashes);
        labels_from_pairs(pairs)
    }

    /// Scrapes every interval, starting at the target's offset, until told to stop.
    /// On `Command::Stop` after at least one scrape it marks the target's series
    /// stale as described in the module doc; on `Command::Shutdown` it just ends.
    pub(crate) async fn run(mut self, control: Arc<Control>) {
        let first = Instant::now() + self.offset(self.clock.now_ms());
        let mut ticker = tokio::time::interval_at(first, self.interval());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut scraped = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = control.wait_for(|c| c != Command::Run) => break,
            }
            // Boxed: an idle loop (most of its life) then holds no scrape state, which
            // keeps a pool of many targets small (see benches/discovery.rs).
            let scrape = Box::pin(async {
                let t = self.clock.now_ms();
                self.scrape_at(t).await
            });
            tokio::select! {
                _ = scrape => scraped = true,
                _ = control.wait_for(|c| c != Command::Run) => break,
            }
        }
        if !scraped || control.get() != Command::Stop {
            return;
        }
        // Boxed, like the scrape: running loops do not carry this state.
        Box::pin(self.end_of_run(ticker, control)).await;
    }

    /// After a stop: writes staleness markers for every series, unless shut down
    /// first.
    async fn end_of_run(mut self, mut ticker: tokio::time::Interval, control: Arc<Control>) {
        // The next scrape time is the markers' timestamp; wait one more interval and
        // 10% so that a recreated loop for the same target has written newer samples.
        let stale_at = tokio::select! {
            _ = ticker.tick() => self.clock.now_ms(),
            _ = control.wait_for(|c| c == Command::Shutdown) => return,
        };
        tokio::select! {
            _ = ticker.tick() => {}
            _ = control.wait_for(|c| c == Command::Shutdown) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(self.interval() / 10) => {}
            _ = control.wait_for(|c| c == Command::Shutdown) => return,
        }
        self.mark_all_stale(stale_at);
    }
}

#[cfg(test)]
#[path = "scrape_loop_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "scrape_loop_failure_tests.rs"]
mod failure_tests;

#[cfg(test)]
#[path = "scrape_loop_relabel_tests.rs"]
mod relabel_tests;
