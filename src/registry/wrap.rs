//! Registering through a [`RegistryView`]: every collector registered through it gets a
//! name prefix and/or extra constant labels, on its descriptors and on its samples
//! (client_golang's `WrapRegistererWithPrefix` and `WrapRegistererWith`).

use std::sync::Arc;

use super::{CollectorId, MetricCollector, Registry};
use crate::collector::{Collected, Collector};
use crate::desc::{Desc, Opts};
use crate::error::{Error, Result};
use crate::labels::{check_label_name, LabelPair, LabelSet};
use crate::metrics::Metric;

/// A registerer that wraps every collector registered through it so that its family
/// names get a prefix and its series extra constant labels. Views compose:
/// `registry.with_prefix("a_").with_prefix("b_")` names a family `a_b_<name>`, and
/// constant labels of both views are added (a repeated label name is an error).
///
/// ```
/// use promsdk::{Gauge, Opts, Registry};
/// let registry = Registry::default();
/// let view = registry.with_prefix("app_").with_const_labels(&[("shard", "3")]).unwrap();
/// view.register_metric(Opts::new("up", "Up."), Gauge::default()).unwrap();
/// let families = registry.gather().families;
/// assert_eq!(&*families[0].name, "app_up");
/// assert_eq!(families[0].samples[0].labels.get("shard"), Some("3"));
/// ```
#[derive(Clone, Debug)]
pub struct RegistryView {
    registry: Registry,
    prefix: Arc<str>,
    /// Sorted by name, names valid and distinct.
    labels: Arc<[LabelPair]>,
}

impl Registry {
    /// A view whose registrations get `prefix` in front of every family name. The
    /// resulting names are checked when a collector is registered.
    pub fn with_prefix(&self, prefix: &str) -> RegistryView {
        RegistryView::new(self.clone()).with_prefix(prefix)
    }

    /// A view whose registrations get the constant `labels` on every series. An
    /// invalid or repeated label name is an error here; a label a collector already
    /// has is an error when it is registered.
    pub fn with_const_labels(&self, labels: &[(&str, &str)]) -> Result<RegistryView> {
        RegistryView::new(self.clone()).with_const_labels(labels)
    }
}

impl RegistryView {
    fn new(registry: Registry) -> Self {
        RegistryView {
            registry,
            prefix: "".into(),
            labels: Vec::new().into(),
        }
    }

    /// This view, with `prefix` added after its own prefix.
    pub fn with_prefix(&self, prefix: &str) -> RegistryView {
        RegistryView {
            prefix: format!("{}{prefix}", self.prefix).into(),
            ..self.clone()
        }
    }

    /// This view, with the constant `labels` added to its own.
    pub fn with_const_labels(&self, labels: &[(&str, &str)]) -> Result<RegistryView> {
        let mut pairs = self.labels.to_vec();
        for &(name, value) in labels {
            check_label_name(&self.prefix, name)?;
            if pairs.iter().any(|p| &*p.name == name) {
                return Err(Error::DuplicateLabelName {
                    metric: self.prefix.to_string(),
                    label: name.to_owned(),
                });
            }
            pairs.push(LabelPair::new(name, value));
        }
        pairs.sort();
        Ok(RegistryView {
            labels: pairs.into(),
            ..self.clone()
        })
    }

    /// Registers `collector`, wrapped, into the underlying registry (same checks as
    /// [`Registry::register`], on the wrapped descriptors).
    pub fn register<C: Collector>(&self, collector: C) -> Result<()> {
        self.register_with_id(collector).map(drop)
    }

    /// Like [`RegistryView::register`], returning the id to unregister it with.
    ///
    /// ```
    /// use promsdk::{Gauge, MetricCollector, Opts, Registry};
    /// let registry = Registry::default();
    /// let view = registry.with_const_labels(&[("k", "v")]).unwrap();
    /// let g = MetricCollector::new(Opts::new("g", "G.").const_label("k", "x"), Gauge::default()).unwrap();
    /// assert!(view.register_with_id(g).is_err(), "k clashes");
    /// ```
    pub fn register_with_id<C: Collector>(&self, collector: C) -> Result<CollectorId> {
        let user: Arc<dyn Collector> = Arc::new(collector);
        let wrapped = Wrapped::new(user.clone(), self.prefix.clone(), self.labels.clone())?;
        self.registry.register_entry(user, Arc::new(wrapped))
    }

    /// Registers a single metric under `opts`, wrapped.
    pub fn register_metric<M: Metric>(&self, opts: Opts, metric: M) -> Result<()> {
        self.register(MetricCollector::new(opts, metric)?)
    }

    /// Removes a collector registered through any view of the same registry.
    pub fn unregister(&self, id: CollectorId) -> bool {
        self.registry.unregister(id)
    }
}

/// A collector whose descriptors and samples get a prefix and extra constant labels.
struct Wrapped {
    inner: Arc<dyn Collector>,
    prefix: Arc<str>,
    labels: Arc<[LabelPair]>,
    descs: Vec<Desc>,
    /// `(inner name, wrapped name)`, sorted, for the described families.
    renames: Vec<(Arc<str>, Arc<str>)>,
}

impl Wrapped {
    fn new(inner: Arc<dyn Collector>, prefix: Arc<str>, labels: Arc<[LabelPair]>) -> Result<Self> {
        let mut descs = Vec::new();
        let mut renames = Vec::new();
        for desc in inner.describe() {
            let wrapped = wrap_desc(&desc, &prefix, &labels)?;
            renames.push((Arc::from(desc.name()), Arc::from(wrapped.name())));
            descs.push(wrapped);
        }
        renames.sort();
        renames.dedup();
        Ok(Wrapped {
            inner,
            prefix,
            labels,
            descs,
            renames,
        })
    }

    fn rename(&self, name: &str) -> Arc<str> {
        match self
            .renames
            .binary_search_by(|(from, _)| (**from).cmp(name))
        {
            Ok(i) => self.renames[i].1.clone(),
            Err(_) => format!("{}{name}", self.prefix).into(),
        }
    }
}

fn wrap_desc(desc: &Desc, prefix: &str, labels: &[LabelPair]) -> Result<Desc> {
    let mut opts = Opts::new(format!("{prefix}{}", desc.name()), desc.help());
    if let Some(unit) = desc.unit() {
        opts = opts.unit(unit);
    }
    for pair in desc.const_labels().iter().chain(labels) {
        opts = opts.const_label(&*pair.name, &*pair.value);
    }
    let variable: Vec<&str> = desc.variable_labels().iter().map(|l| &**l).collect();
    Desc::new(opts, desc.metric_type(), &variable)
}

impl Collector for Wrapped {
    fn describe(&self) -> Vec<Desc> {
        self.descs.clone()
    }

    fn collect(&self, out: &mut Collected) {
        let start = out.families().len();
        self.inner.collect(out);
        if self.prefix.is_empty() && self.labels.is_empty() {
            return;
        }
        let mut errors = Vec::new();
        for family in &mut out.families_in_place()[start..] {
            // Renamed or relabelled samples are not what their writer would find again.
            family.marks.reuse = false;
            if !self.prefix.is_empty() {
                family.name = self.rename(&family.name);
            }
            if self.labels.is_empty() {
                continue;
            }
            let name = family.name.clone();
            family.samples.retain_mut(|s| {
                match LabelSet::with_pairs(&s.labels, &name, &self.labels) {
                    Ok(labels) => {
                        s.labels = labels;
                        true
                    }
                    Err(e) => {
                        errors.push(e);
                        false
                    }
                }
            });
        }
        for e in errors {
            out.error(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Gauge, MetricType};

    #[test]
    fn rename_uses_the_table_then_falls_back() {
        let inner: Arc<dyn Collector> = Arc::new(
            MetricCollector::new(Opts::new("a", "h").unit("bytes"), Gauge::default()).unwrap(),
        );
        let w = Wrapped::new(inner, "p_".into(), Vec::new().into()).unwrap();
        assert_eq!(&*w.rename("a_bytes"), "p_a_bytes");
        assert_eq!(&*w.rename("other"), "p_other");
        assert_eq!(w.descs[0].unit(), Some("bytes"));
        assert_eq!(w.descs[0].metric_type(), MetricType::Gauge);
    }

    #[test]
    fn views_compose_prefixes_and_labels() {
        let r = Registry::default();
        let v = r
            .with_prefix("a_")
            .with_prefix("b_")
            .with_const_labels(&[("y", "1")])
            .unwrap()
            .with_const_labels(&[("x", "2")])
            .unwrap();
        assert_eq!(&*v.prefix, "a_b_");
        let names: Vec<&str> = v.labels.iter().map(|p| &*p.name).collect();
        assert_eq!(names, ["x", "y"]);
        assert!(matches!(
            v.with_const_labels(&[("x", "3")]),
            Err(Error::DuplicateLabelName { .. })
        ));
        assert!(v.with_const_labels(&[("__x", "3")]).is_err());
    }
}
