//! The problem promsdk exists to solve: a vec fed ever-changing label values keeps every
//! series until it is told otherwise, while a collector reporting the same data shows
//! only what exists now.

use std::sync::Arc;

use parking_lot::Mutex;
use promsdk::{Collected, Collector, Desc, GaugeVec, MetricType, Opts, Registry};

/// The current value of some external state, reported afresh on every gather.
struct Current {
    desc: Desc,
    now: Arc<Mutex<(String, f64)>>,
}

impl Collector for Current {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let now = self.now.lock();
        out.family(&self.desc).gauge(&[&now.0], now.1);
    }
}

/// A small deterministic generator so the test needs no extra dependency.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn series(registry: &Registry, name: &str) -> Vec<String> {
    let gathered = registry.gather();
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    gathered
        .families
        .iter()
        .filter(|f| &*f.name == name)
        .flat_map(|f| f.samples.iter())
        .map(|s| s.labels.get("id").unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_vec_keeps_every_series_until_removed_a_collector_shows_only_the_current_one() {
    let registry = Registry::new();
    let vec = GaugeVec::new(Opts::new("seed_vec", "Random values by id."), &["id"]).unwrap();
    registry.register(vec.clone()).unwrap();
    let now = Arc::new(Mutex::new((String::new(), 0.0)));
    let desc = Desc::new(
        Opts::new("seed_collector", "Random value by id."),
        MetricType::Gauge,
        &["id"],
    )
    .unwrap();
    registry
        .register(Current {
            desc,
            now: now.clone(),
        })
        .unwrap();

    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let id = format!("id{}", next(&mut seed) % 1000);
        let value = (next(&mut seed) % 100) as f64;
        vec.with_label_values(&[&id]).set(value);
        *now.lock() = (id.clone(), value);
        seen.insert(id.clone());
        assert_eq!(series(&registry, "seed_collector"), vec![id]);
    }
    let kept = series(&registry, "seed_vec");
    assert_eq!(
        kept,
        seen.iter().cloned().collect::<Vec<_>>(),
        "the vec keeps every id ever seen"
    );
    assert!(kept.len() > 40);

    // Only removal makes the vec forget.
    let current = now.lock().0.clone();
    vec.retain(|labels, _| labels.get("id") == Some(current.as_str()));
    assert_eq!(series(&registry, "seed_vec"), vec![current]);
}
