//! The [`Registry`]: collectors are registered with consistency checks, and
//! [`Registry::gather`] collects them all into merged, sorted, checked families.
//!
//! Registration follows client_golang's `Register`:
//! - every described [`Desc`] must agree with the registered ones of the same name
//!   (type, help, unit and label names), else [`Error::ConflictingDescriptor`];
//! - a name must not collide with another family's series through a suffix (a gauge
//!   `foo_count` beside a histogram `foo`, `foo_created` beside a counter `foo`, …);
//! - a collector whose descriptors (name + constant label values) are exactly those of a
//!   registered collector gets [`Error::AlreadyRegistered`], which hands back the
//!   registered one; overlapping only partly, or describing one descriptor twice, is a
//!   conflict;
//! - a collector describing nothing is *unchecked* and always accepted.
//!
//! Unregistering goes by the [`CollectorId`] that [`Registry::register_with_id`]
//! returns, so checked and unchecked collectors alike can be removed.
//!
//! ```
//! use promsdk::{Counter, Error, Gauge, Opts, Registry};
//!
//! let registry = Registry::default();
//! let requests = Counter::default();
//! registry.register_metric(Opts::new("requests_total", "Requests served."), requests.clone()).unwrap();
//! requests.inc();
//!
//! // The same name with another type is refused, naming the metric.
//! let err = registry.register_metric(Opts::new("requests", "Requests served."), Gauge::default());
//! assert!(matches!(err, Err(Error::ConflictingDescriptor { ref name, .. }) if name == "requests"));
//!
//! let gathered = registry.gather();
//! assert!(gathered.errors.is_empty());
//! assert_eq!(&*gathered.families[0].name, "requests");
//! assert_eq!(gathered.families[0].samples.len(), 1);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use once_cell::sync::Lazy;
use parking_lot::RwLock;

use crate::collector::{Collected, Collector};
use crate::desc::{Desc, Opts};
use crate::error::{Error, ExistingCollector, Result};
use crate::family::MetricType;
use crate::labels::LabelPair;
use crate::metrics::Metric;

mod exemplars;
mod gather;
mod wrap;

pub use gather::{gather_all, gather_all_into, Gathered};
pub use wrap::RegistryView;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Registered descriptor names and what their descriptors agree on.
pub(crate) type Names = Map<Arc<str>, NameInfo>;

/// Identifies one registration, for [`Registry::unregister`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollectorId(u64);

/// A set of collectors gathered together; a cheap `Clone` handle (clones share the
/// same collectors).
///
/// See the [module documentation](self) for the registration rules and
/// [`Registry::gather`] for what gathering checks.
#[derive(Clone, Default)]
pub struct Registry {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: RwLock<State>,
    next_id: AtomicU64,
}

/// Registration state. `entries` and `names` are copy-on-write: a gather clones the two
/// `Arc`s under the read lock and works on that snapshot without holding the lock.
#[derive(Default)]
struct State {
    entries: Arc<Vec<Arc<Entry>>>,
    names: Arc<Names>,
    owners: Map<DescKey, CollectorId>,
}

/// One registered collector.
pub(crate) struct Entry {
    id: CollectorId,
    /// What `collect` is called on (the wrapped collector for views).
    collector: Arc<dyn Collector>,
    /// What the user registered, handed back by `AlreadyRegistered`.
    user: Arc<dyn Collector>,
    /// The descriptors, empty for an unchecked collector.
    descs: Vec<Desc>,
    /// The descriptor identities, sorted.
    keys: Vec<DescKey>,
}

impl Entry {
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.descs.iter().map(|d| d.name().to_owned()).collect();
        names.dedup();
        names
    }
}

/// What every descriptor of one name must agree on.
#[derive(Clone)]
pub(crate) struct NameInfo {
    sig: Signature,
    /// How many registered descriptors carry the name.
    descs: usize,
}

#[derive(Clone, PartialEq)]
pub(crate) struct Signature {
    metric_type: MetricType,
    help: Arc<str>,
    unit: Option<Arc<str>>,
    /// Constant and variable label names, sorted.
    label_names: Vec<Arc<str>>,
}

impl Signature {
    fn of(desc: &Desc) -> Self {
        let mut label_names: Vec<Arc<str>> = desc
            .const_labels()
            .iter()
            .map(|p| p.name.clone())
            .chain(desc.variable_labels().iter().cloned())
            .collect();
        label_names.sort();
        Signature {
            metric_type: desc.metric_type(),
            help: desc.help().into(),
            unit: desc.unit().map(Into::into),
            label_names,
        }
    }

    /// What differs between two signatures, for error messages.
    fn difference(&self, new: &Signature) -> String {
        if self.metric_type != new.metric_type {
            format!(
                "type {:?} differs from the registered {:?}",
                new.metric_type, self.metric_type
            )
        } else if self.help != new.help {
            format!(
                "help {:?} differs from the registered {:?}",
                new.help, self.help
            )
        } else if self.unit != new.unit {
            format!(
                "unit {:?} differs from the registered {:?}",
                new.unit, self.unit
            )
        } else {
            format!(
                "label names {:?} differ from the registered {:?}",
                new.label_names, self.label_names
            )
        }
    }
}

/// A descriptor's identity: name and constant labels (client_golang's `desc.id`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct DescKey {
    name: Arc<str>,
    const_labels: Vec<LabelPair>,
}

impl DescKey {
    fn of(desc: &Desc) -> Self {
        DescKey {
            name: desc.name().into(),
            const_labels: desc.const_labels().to_vec(),
        }
    }
}

/// The series-name suffixes a family of each type adds to its name.
pub(crate) fn series_suffixes(t: MetricType) -> &'static [&'static str] {
    match t {
        MetricType::Counter => &["_total", "_created"],
        MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
        MetricType::Summary => &["_count", "_sum", "_created"],
        MetricType::Info => &["_info"],
        MetricType::Gauge | MetricType::StateSet | MetricType::Unknown => &[],
    }
}

/// Every suffix any type adds.
const ALL_SUFFIXES: [&str; 6] = ["_total", "_created", "_bucket", "_count", "_sum", "_info"];

/// If `name` is another family's series name (`base` + a suffix `base`'s type adds),
/// says which; `type_of` looks names up.
pub(crate) fn suffix_clash(
    name: &str,
    type_of: impl Fn(&str) -> Option<MetricType>,
) -> Option<String> {
    ALL_SUFFIXES.iter().find_map(|&suffix| {
        let base = name.strip_suffix(suffix).filter(|b| !b.is_empty())?;
        let t = type_of(base)?;
        series_suffixes(t)
            .contains(&suffix)
            .then(|| format!("collides with the {suffix} series of the {t:?} {base:?}"))
    })
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a collector (a metric wrapped in [`MetricCollector`], a vec, or your
    /// own `Collector`); see the [module documentation](self) for the checks.
    ///
    /// An `Arc<C>` is a collector too; [`ExistingCollector::downcast`] then finds it
    /// as `Arc<C>`.
    pub fn register<C: Collector>(&self, collector: C) -> Result<()> {
        self.register_with_id(collector).map(drop)
    }

    /// Like [`Registry::register`], returning the id that [`Registry::unregister`]
    /// takes.
    pub fn register_with_id<C: Collector>(&self, collector: C) -> Result<CollectorId> {
        let collector: Arc<dyn Collector> = Arc::new(collector);
        self.register_entry(collector.clone(), collector)
    }

    /// Registers a single metric under `opts`, e.g. a [`Counter`](crate::Counter) or a
    /// [`Gauge`](crate::Gauge) whose clones the program keeps updating.
    ///
    /// ```
    /// use promsdk::{Gauge, Opts, Registry};
    /// let registry = Registry::default();
    /// let up = Gauge::default();
    /// registry.register_metric(Opts::new("up", "Whether the service is up."), up.clone()).unwrap();
    /// up.set(1.0);
    /// let families = registry.gather().families;
    /// assert_eq!(families[0].samples[0].value, promsdk::Value::Gauge(1.0));
    /// ```
    pub fn register_metric<M: Metric>(&self, opts: Opts, metric: M) -> Result<()> {
        self.register(MetricCollector::new(opts, metric)?)
    }

    /// Removes the collector registered as `id`; `false` if it is not registered (any
    /// more). Gathers already under way may still report it once.
    ///
    /// ```
    /// use promsdk::{Gauge, MetricCollector, Opts, Registry};
    /// let registry = Registry::default();
    /// let id = registry
    ///     .register_with_id(MetricCollector::new(Opts::new("up", "Up."), Gauge::default()).unwrap())
    ///     .unwrap();
    /// assert!(registry.unregister(id));
    /// assert!(!registry.unregister(id));
    /// assert!(registry.gather().families.is_empty());
    /// ```
    pub fn unregister(&self, id: CollectorId) -> bool {
        let mut state = self.shared.state.write();
        let Some(pos) = state.entries.iter().position(|e| e.id == id) else {
            return false;
        };
        let entry = Arc::make_mut(&mut state.entries).remove(pos);
        for key in &entry.keys {
            state.owners.remove(key);
        }
        let names = Arc::make_mut(&mut state.names);
        for desc in &entry.descs {
            if let Some(info) = names.get_mut(desc.name()) {
                info.descs -= 1;
                if info.descs == 0 {
                    names.remove(desc.name());
                }
            }
        }
        true
    }

    /// How many collectors are registered.
    pub fn len(&self) -> usize {
        self.shared.state.read().entries.len()
    }

    /// Whether no collector is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The collectors and the descriptor names, as of now.
    fn snapshot(&self) -> (Arc<Vec<Arc<Entry>>>, Arc<Names>) {
        let state = self.shared.state.read();
        (state.entries.clone(), state.names.clone())
    }

    /// Checks and inserts a collector; `user` is what `AlreadyRegistered` hands back.
    pub(crate) fn register_entry(
        &self,
        user: Arc<dyn Collector>,
        collector: Arc<dyn Collector>,
    ) -> Result<CollectorId> {
        let descs = collector.describe();
        let mut keys: Vec<DescKey> = descs.iter().map(DescKey::of).collect();
        keys.sort();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::ConflictingDescriptor {
                name: w[0].name.to_string(),
                reason: format!(
                    "the collector describes the descriptor with constant labels {:?} twice",
                    w[0].const_labels
                ),
            });
        }
        let sigs: Vec<Signature> = descs.iter().map(Signature::of).collect();

        let mut state = self.shared.state.write();
        check_signatures(&state.names, &descs, &sigs)?;
        if let Some(owner) = keys.first().and_then(|k| state.owners.get(k)) {
            let existing = state.entries.iter().find(|e| e.id == *owner);
            if let Some(existing) = existing.filter(|e| e.keys == keys) {
                return Err(Error::AlreadyRegistered {
                    name: descs[0].name().to_owned(),
                    existing: ExistingCollector(existing.user.clone()),
                });
            }
        }
        if let Some(taken) = keys.iter().find(|k| state.owners.contains_key(*k)) {
            return Err(Error::ConflictingDescriptor {
                name: taken.name.to_string(),
                reason: format!(
                    "the descriptor with constant labels {:?} is already registered by another collector",
                    taken.const_labels
                ),
            });
        }

        // Relaxed: the counter only has to hand out distinct numbers.
        let id = CollectorId(self.shared.next_id.fetch_add(1, Ordering::Relaxed));
        for key in &keys {
            state.owners.insert(key.clone(), id);
        }
        let names = Arc::make_mut(&mut state.names);
        for (desc, sig) in descs.iter().zip(sigs) {
            names
                .entry(desc.name().into())
                .or_insert(NameInfo { sig, descs: 0 })
                .descs += 1;
        }
        Arc::make_mut(&mut state.entries).push(Arc::new(Entry {
            id,
            collector,
            user,
            descs,
            keys,
        }));
        Ok(id)
    }
}

/// Checks that the new descriptors agree with the registered ones and with each other,
/// and that no name collides with another family's series through a suffix.
fn check_signatures(registered: &Names, descs: &[Desc], sigs: &[Signature]) -> Result<()> {
    let type_of = |name: &str| {
        registered.get(name).map(|i| i.sig.metric_type).or_else(|| {
            descs
                .iter()
                .find(|d| d.name() == name)
                .map(|d| d.metric_type())
        })
    };
    for (i, (desc, sig)) in descs.iter().zip(sigs).enumerate() {
        let name = desc.name();
        let earlier = descs[..i].iter().position(|d| d.name() == name);
        let conflict = match (registered.get(name), earlier) {
            (Some(info), _) => (info.sig != *sig).then(|| info.sig.difference(sig)),
            (None, Some(j)) => (sigs[j] != *sig).then(|| {
                format!(
                    "the collector's descriptors of this name disagree: {}",
                    sigs[j].difference(sig)
                )
            }),
            (None, None) => suffix_clash(name, type_of).or_else(|| {
                series_suffixes(desc.metric_type())
                    .iter()
                    .find_map(|suffix| {
                        let series = format!("{name}{suffix}");
                        registered.get(series.as_str()).map(|i| i.sig.metric_type).map(|t| {
                        format!("its {suffix} series collides with the registered {t:?} {series:?}")
                    })
                    })
            }),
        };
        if let Some(reason) = conflict {
            return Err(Error::ConflictingDescriptor {
                name: name.to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("collectors", &self.len())
            .finish()
    }
}

static DEFAULT: Lazy<Registry> = Lazy::new(Registry::default);

/// The process-wide registry, created empty on first use.
///
/// ```
/// use promsdk::{default_registry, Gauge, Opts};
/// let g = Gauge::default();
/// default_registry().register_metric(Opts::new("doc_default_registry", "Example."), g).unwrap();
/// assert!(default_registry().gather().families.iter().any(|f| &*f.name == "doc_default_registry"));
/// ```
pub fn default_registry() -> &'static Registry {
    &DEFAULT
}

/// A single metric registered under a descriptor: what [`Registry::register_metric`]
/// registers. Build one yourself to get a [`CollectorId`] or to hand it to several
/// registries.
///
/// ```
/// use promsdk::{Collector, Counter, MetricCollector, Opts};
/// let c = MetricCollector::new(Opts::new("jobs_total", "Jobs done."), Counter::default()).unwrap();
/// c.metric().inc();
/// assert_eq!(c.describe()[0].name(), "jobs");
/// ```
#[derive(Debug, Clone)]
pub struct MetricCollector<M> {
    desc: Desc,
    metric: M,
}

impl<M: Metric> MetricCollector<M> {
    /// Describes `metric` with `opts` (no variable labels).
    pub fn new(opts: Opts, metric: M) -> Result<Self> {
        let desc = Desc::new(opts, M::TYPE, &[])?;
        Ok(MetricCollector { desc, metric })
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// The descriptor.
    pub fn desc(&self) -> &Desc {
        &self.desc
    }
}

impl<M: Metric> Collector for MetricCollector<M> {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        out.family(&self.desc).sample(&[], self.metric.value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Counter, Gauge};

    fn gauge(name: &str) -> MetricCollector<Gauge> {
        MetricCollector::new(Opts::new(name, "h"), Gauge::default()).unwrap()
    }

    #[test]
    fn unregister_frees_names_and_keys() {
        let r = Registry::default();
        let id = r.register_with_id(gauge("a")).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r.unregister(id));
        assert!(r.is_empty());
        let state = r.shared.state.read();
        assert!(state.names.is_empty() && state.owners.is_empty());
        drop(state);
        // The name is free for another type now.
        r.register_metric(Opts::new("a", "other"), Counter::default())
            .unwrap();
    }

    #[test]
    fn suffix_clash_names_both_sides() {
        let type_of = |n: &str| (n == "foo").then_some(MetricType::Histogram);
        let msg = suffix_clash("foo_bucket", type_of).unwrap();
        assert!(msg.contains("_bucket") && msg.contains("\"foo\""), "{msg}");
        assert!(suffix_clash("foo_info", type_of).is_none());
        assert!(suffix_clash("_count", |_| Some(MetricType::Histogram)).is_none());
    }

    #[test]
    fn snapshot_is_copy_on_write() {
        let r = Registry::default();
        r.register(gauge("a")).unwrap();
        let (entries, _) = r.snapshot();
        r.register(gauge("b")).unwrap();
        assert_eq!(entries.len(), 1, "a taken snapshot does not change");
        assert_eq!(r.snapshot().0.len(), 2);
    }
}
