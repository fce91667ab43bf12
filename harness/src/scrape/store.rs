//! The in-memory series store: an [`Appender`] per scrape, series keyed by their full
//! label set, staleness markers, and a retention window that bounds memory.
//!
//! ```
//! use promsdk_harness::scrape::store::{is_stale_nan, Appender, MemoryStore, Storage, STALE_NAN};
//! use promsdk_harness::scrape::series_labels;
//! use std::time::Duration;
//!
//! let store = MemoryStore::new(Duration::from_secs(3600));
//! let series = series_labels("metric_a", &[("job", "j")]);
//! let mut app = store.appender();
//! app.append(&series, 1_000, 1.0);
//! assert!(store.select(|_| true, i64::MIN, i64::MAX).is_empty(), "nothing before commit");
//! app.commit();
//! let mut app = store.appender();
//! app.append(&series, 2_000, STALE_NAN);
//! app.commit();
//! let found = store.select(|_| true, i64::MIN, i64::MAX);
//! assert_eq!(found[0].1.len(), 2);
//! assert!(is_stale_nan(found[0].1[1].1));
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{RwLock, RwLockReadGuard};

use promsdk::labels::LabelSet;

/// The bit pattern Prometheus writes as a staleness marker: a NaN distinct from the
/// ordinary `NaN` a target may expose (`0x7ff8000000000001`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker value ([`STALE_NAN_BITS`]). Compare with [`is_stale_nan`],
/// never with `==` (it is a NaN).
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is a staleness marker (an exposed `NaN` is not).
///
/// ```
/// use promsdk_harness::scrape::store::{is_stale_nan, STALE_NAN};
/// assert!(is_stale_nan(STALE_NAN));
/// assert!(!is_stale_nan(f64::NAN));
/// ```
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One scrape's writes. Samples appended are invisible to readers until
/// [`commit`](Appender::commit), which publishes all of them at once;
/// [`rollback`](Appender::rollback) (or dropping the appender) discards them.
///
/// A sample whose timestamp is not after the series' latest one is dropped on commit,
/// as Prometheus's head does with out-of-order samples. This is what makes a late
/// staleness marker harmless: if a target came back and was scraped since, the
/// marker is older than its newest sample and is ignored.
pub trait Appender: Send {
    /// Appends value `v` at `t_ms` (milliseconds since the Unix epoch) to the series
    /// with exactly these labels (`__name__` included).
    fn append(&mut self, labels: &LabelSet, t_ms: i64, v: f64);
    /// Publishes every sample appended since the appender was made.
    fn commit(self: Box<Self>);
    /// Discards every sample appended since the appender was made.
    fn rollback(self: Box<Self>);
}

/// Where scrape loops write: hands out one [`Appender`] per scrape. Shared between
/// loops, so it must be `Send + Sync`.
pub trait Storage: Send + Sync + 'static {
    /// A new, empty appender.
    fn appender(&self) -> Box<dyn Appender>;
}

/// A series and its samples `(t_ms, value)` in time order, as [`MemoryStore::select`]
/// returns them.
pub type SeriesSamples = (LabelSet, Vec<(i64, f64)>);

/// Counts describing the store's contents (for the harness's own `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Series held.
    pub series: usize,
    /// Samples held, staleness markers included.
    pub samples: usize,
}

#[derive(Default)]
struct Inner {
    series: HashMap<LabelSet, Vec<(i64, f64)>>,
    samples: usize,
    newest: i64,
}

/// An in-memory [`Storage`]: series keyed by their full label set (equal hashes of
/// different label sets never share a series), samples in time order. On each commit,
/// samples older than the newest timestamp minus the retention are dropped, and
/// series left empty are forgotten, so memory is bounded by what the retention window
/// holds. Cheap to clone (shared).
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<RwLock<Inner>>,
    retention_ms: i64,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("retention_ms", &self.retention_ms)
            .field("stats", &self.stats())
            .finish()
    }
}

impl MemoryStore {
    /// An empty store keeping `retention` of data behind its newest sample.
    pub fn new(retention: Duration) -> Self {
        MemoryStore {
            inner: Arc::default(),
            retention_ms: i64::try_from(retention.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Every series accepted by `matches` with its samples in `[mint, maxt]` (series with
    /// none in the range are left out), sorted by label set.
    pub fn select(
        &self,
        mut matches: impl FnMut(&LabelSet) -> bool,
        mint: i64,
        maxt: i64,
    ) -> Vec<SeriesSamples> {
        let inner = self.inner.read();
        let mut out: Vec<_> = inner
            .series
            .iter()
            .filter(|(labels, _)| matches(labels))
            .filter_map(|(labels, samples)| {
                let from = samples.partition_point(|&(t, _)| t < mint);
                let to = samples.partition_point(|&(t, _)| t <= maxt);
                (from < to).then(|| (labels.clone(), samples[from..to].to_vec()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A read view of every series, holding the store's read lock until dropped (so
    /// commits wait): queries evaluate over borrowed sample slices instead of copies.
    pub fn reader(&self) -> StoreReader<'_> {
        StoreReader(self.inner.read())
    }

    /// How many series and samples are held.
    pub fn stats(&self) -> StoreStats {
        let inner = self.inner.read();
        StoreStats {
            series: inner.series.len(),
            samples: inner.samples,
        }
    }

    fn commit(&self, pending: Vec<(LabelSet, i64, f64)>) {
        if pending.is_empty() {
            return;
        }
        let mut inner = self.inner.write();
        for (labels, t, v) in pending {
            let samples = inner.series.entry(labels).or_default();
            if samples.last().is_some_and(|&(last, _)| t <= last) {
                continue;
            }
            samples.push((t, v));
            inner.samples += 1;
            inner.newest = inner.newest.max(t);
        }
        let cutoff = inner.newest.saturating_sub(self.retention_ms);
        let mut dropped = 0;
        inner.series.retain(|_, samples| {
            let old = samples.partition_point(|&(t, _)| t < cutoff);
            if old > 0 {
                samples.drain(..old);
                dropped += old;
            }
            !samples.is_empty()
        });
        inner.samples -= dropped;
    }
}

/// A read view of a [`MemoryStore`] ([`MemoryStore::reader`]); commits wait until it
/// is dropped, so hold it only for one query.
pub struct StoreReader<'a>(RwLockReadGuard<'a, Inner>);

impl StoreReader<'_> {
    /// Every series with its samples (time order, staleness markers included), in no
    /// particular order.
    pub fn series(&self) -> impl Iterator<Item = (&LabelSet, &[(i64, f64)])> + '_ {
        self.0.series.iter().map(|(l, s)| (l, s.as_slice()))
    }
}

impl std::fmt::Debug for StoreReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreReader")
            .field("series", &self.0.series.len())
            .finish()
    }
}

impl Storage for MemoryStore {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(MemoryAppender {
            store: self.clone(),
            pending: Vec::new(),
        })
    }
}

struct MemoryAppender {
    store: MemoryStore,
    pending: Vec<(LabelSet, i64, f64)>,
}

impl Appender for MemoryAppender {
    fn append(&mut self, labels: &LabelSet, t_ms: i64, v: f64) {
        self.pending.push((labels.clone(), t_ms, v));
    }

    fn commit(self: Box<Self>) {
        let MemoryAppender { store, pending } = *self;
        store.commit(pending);
    }

    fn rollback(self: Box<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::series_labels;

    fn all(store: &MemoryStore) -> Vec<(LabelSet, Vec<(i64, f64)>)> {
        store.select(|_| true, i64::MIN, i64::MAX)
    }

    #[test]
    fn appends_are_invisible_until_commit_and_rollback_discards() {
        let store = MemoryStore::new(Duration::from_secs(60));
        let mut app = store.appender();
        app.append(&series_labels("a", &[]), 1, 1.0);
        app.append(&series_labels("b", &[]), 1, 2.0);
        assert!(all(&store).is_empty());
        app.commit();
        assert_eq!(all(&store).len(), 2);
        let mut app = store.appender();
        app.append(&series_labels("c", &[]), 2, 1.0);
        app.rollback();
        assert_eq!(all(&store).len(), 2);
    }

    #[test]
    fn out_of_order_and_duplicate_samples_are_dropped() {
        let store = MemoryStore::new(Duration::from_secs(60));
        let a = series_labels("a", &[]);
        let mut app = store.appender();
        app.append(&a, 10, 1.0);
        app.append(&a, 10, 2.0);
        app.append(&a, 5, 3.0);
        app.append(&a, 20, 4.0);
        app.commit();
        assert_eq!(all(&store)[0].1, vec![(10, 1.0), (20, 4.0)]);
        assert_eq!(
            store.stats(),
            StoreStats {
                series: 1,
                samples: 2
            }
        );
    }

    #[test]
    fn retention_drops_old_samples_and_empty_series() {
        let store = MemoryStore::new(Duration::from_millis(100));
        let (a, b) = (series_labels("a", &[]), series_labels("b", &[]));
        let mut app = store.appender();
        app.append(&a, 0, 1.0);
        app.append(&b, 50, 1.0);
        app.commit();
        let mut app = store.appender();
        app.append(&b, 120, 2.0);
        app.commit();
        // Cutoff 20: `a` (only t=0) is gone, `b` keeps both samples.
        let found = all(&store);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].1, vec![(50, 1.0), (120, 2.0)]);
        assert_eq!(
            store.stats(),
            StoreStats {
                series: 1,
                samples: 2
            }
        );
    }

    #[test]
    fn select_filters_by_labels_and_time() {
        let store = MemoryStore::new(Duration::from_secs(60));
        let mut app = store.appender();
        for t in [1, 2, 3] {
            app.append(&series_labels("a", &[("x", "1")]), t, t as f64);
            app.append(&series_labels("a", &[("x", "2")]), t, t as f64);
        }
        app.commit();
        let found = store.select(|l| l.get("x") == Some("2"), 2, 2);
        assert_eq!(
            found,
            vec![(series_labels("a", &[("x", "2")]), vec![(2, 2.0)])]
        );
    }
}
