//! Collectors and families shared by the registry and gather tests.
#![allow(dead_code)]

use promsdk::{
    Collected, Collector, Desc, Gauge, LabelSet, MetricCollector, MetricFamily, MetricType, Opts,
    Sample, Value,
};

/// A collector made of descriptors and a closure writing its samples.
pub struct FnCollector<F>(pub Vec<Desc>, pub F);

impl<F: Fn(&mut Collected) + Send + Sync + 'static> Collector for FnCollector<F> {
    fn describe(&self) -> Vec<Desc> {
        self.0.clone()
    }
    fn collect(&self, out: &mut Collected) {
        (self.1)(out)
    }
}

/// A valid descriptor.
pub fn desc(opts: Opts, t: MetricType, labels: &[&str]) -> Desc {
    Desc::new(opts, t, labels).unwrap()
}

/// A checked collector describing `descs` and writing nothing.
pub fn described(descs: Vec<Desc>) -> impl Collector {
    FnCollector(descs, |_: &mut Collected| {})
}

/// An unchecked collector pushing copies of `families`.
pub fn unchecked(families: Vec<MetricFamily>) -> impl Collector {
    FnCollector(Vec::new(), move |out: &mut Collected| {
        families.iter().for_each(|f| out.push_family(f.clone()))
    })
}

/// A hand-built family with help `h`.
pub fn family(name: &str, t: MetricType, samples: &[(&[(&str, &str)], Value)]) -> MetricFamily {
    let mut f = MetricFamily::new(name, "h", t);
    for (pairs, value) in samples {
        let labels = LabelSet::from_pairs(name, pairs).unwrap();
        f.samples.push(Sample::new(labels, value.clone()));
    }
    f
}

/// A registrable gauge.
pub fn gauge_metric(opts: Opts) -> MetricCollector<Gauge> {
    MetricCollector::new(opts, Gauge::default()).unwrap()
}

/// The family names, in order.
pub fn names(families: &[MetricFamily]) -> Vec<String> {
    families.iter().map(|f| f.name.to_string()).collect()
}
