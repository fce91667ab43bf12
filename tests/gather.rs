//! Registry capability, gathering side: merge and sort order, the checks on collected
//! samples, panicking collectors, gathering several registries. Exported API only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[path = "common/collectors.rs"]
mod collectors;

use collectors::*;
use promsdk::{gather_all, Collected, Error, LabelSet, MetricType, Opts, Registry, Sample, Value};

#[test]
fn gather_sorts_families_and_samples() {
    let registry = Registry::default();
    let d = desc(Opts::new("m", "h"), MetricType::Gauge, &["k"]);
    registry
        .register(FnCollector(vec![d.clone()], move |out: &mut Collected| {
            let mut f = out.family(&d);
            for k in ["c", "a", "b"] {
                f.gauge(&[k], 1.0);
            }
        }))
        .unwrap();
    for n in ["z", "b", "y"] {
        registry
            .register_metric(Opts::new(n, "h"), promsdk::Gauge::default())
            .unwrap();
    }
    let gathered = registry.gather();
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    assert_eq!(names(&gathered.families), ["b", "m", "y", "z"]);
    let ks: Vec<_> = gathered.families[1]
        .samples
        .iter()
        .map(|s| s.labels.get("k").unwrap())
        .collect();
    assert_eq!(ks, ["a", "b", "c"]);
}

/// Registers something into a fresh registry.
type Setup = Box<dyn FnOnce(&Registry)>;

/// Runs one gather over `collectors` and returns the gathered result.
fn gather_of(collectors: Vec<Setup>) -> promsdk::Gathered {
    let registry = Registry::default();
    collectors
        .into_iter()
        .for_each(|register| register(&registry));
    registry.gather()
}

#[test]
fn gather_reports_bad_samples_and_keeps_the_rest() {
    use MetricType::*;
    fn g(v: f64) -> Value {
        Value::Gauge(v)
    }
    type Case = (
        &'static str,
        Vec<Setup>,
        &'static str,
        Vec<(&'static str, usize)>,
    );
    let cases: Vec<Case> = vec![
        (
            "value type contradicts family type",
            vec![Box::new(|r| {
                let f = family(
                    "x",
                    Counter,
                    &[
                        (&[("a", "1")], g(1.0)),
                        (&[("a", "2")], Value::counter(2.0)),
                    ],
                );
                r.register(unchecked(vec![f])).unwrap()
            })],
            "not Counter",
            vec![("x", 1)],
        ),
        (
            "repeated series keeps the first",
            vec![Box::new(|r| {
                let f = family(
                    "x",
                    Gauge,
                    &[(&[("a", "1")], g(1.0)), (&[("a", "1")], g(2.0))],
                );
                r.register(unchecked(vec![f])).unwrap()
            })],
            "more than once",
            vec![("x", 1)],
        ),
        (
            "timestamp before 1970",
            vec![Box::new(|r| {
                let mut f = family(
                    "x",
                    Gauge,
                    &[(&[("a", "1")], g(1.0)), (&[("a", "2")], g(2.0))],
                );
                f.samples[0].timestamp_ms = Some(-5);
                r.register(unchecked(vec![f])).unwrap()
            })],
            "before 1970",
            vec![("x", 1)],
        ),
        (
            "label names mixing in a family",
            vec![Box::new(|r| {
                let f = family(
                    "x",
                    Gauge,
                    &[(&[("a", "1")], g(1.0)), (&[("b", "1")], g(2.0))],
                );
                r.register(unchecked(vec![f])).unwrap()
            })],
            "label names differ",
            vec![("x", 1)],
        ),
        (
            "invalid family name",
            vec![Box::new(|r| {
                let f = family("bad-name", Gauge, &[(&[], g(1.0))]);
                let ok = family("ok", Gauge, &[(&[], g(1.0))]);
                r.register(unchecked(vec![f, ok])).unwrap()
            })],
            "bad-name",
            vec![("ok", 1)],
        ),
        (
            "reserved label name",
            vec![Box::new(|r| {
                let mut f = family("x", Histogram, &[]);
                let labels = LabelSet::from_pairs("x", &[("le", "1")]).unwrap();
                f.samples
                    .push(Sample::new(labels, Value::Histogram(empty_histogram())));
                r.register(unchecked(vec![f])).unwrap()
            })],
            "reserved label",
            vec![("x", 0)],
        ),
        (
            "same name from two collectors with other help",
            vec![
                Box::new(|r| {
                    r.register(unchecked(vec![family("x", Gauge, &[(&[], g(1.0))])]))
                        .unwrap()
                }),
                Box::new(|r| {
                    let mut f = family("x", Gauge, &[(&[("a", "1")], g(2.0))]);
                    f.help = "other".into();
                    r.register(unchecked(vec![f])).unwrap()
                }),
            ],
            "the second was dropped",
            vec![("x", 1)],
        ),
        (
            "unchecked family conflicting with a described one",
            vec![
                Box::new(|r| {
                    r.register_metric(Opts::new("up", "h"), promsdk::Gauge::default())
                        .unwrap()
                }),
                Box::new(|r| {
                    r.register(unchecked(vec![family(
                        "up",
                        Counter,
                        &[(&[], Value::counter(1.0))],
                    )]))
                    .unwrap()
                }),
            ],
            "unchecked collector",
            vec![("up", 1)],
        ),
        (
            "unchecked samples with other label names than the descriptor",
            vec![
                Box::new(|r| {
                    r.register(described(vec![desc(Opts::new("x", "h"), Gauge, &["a"])]))
                        .unwrap()
                }),
                Box::new(|r| {
                    r.register(unchecked(vec![family(
                        "x",
                        Gauge,
                        &[(&[("a", "1")], g(1.0)), (&[("b", "1")], g(1.0))],
                    )]))
                    .unwrap()
                }),
            ],
            "registered descriptor",
            vec![("x", 1)],
        ),
        (
            "unchecked family colliding through a suffix",
            vec![
                Box::new(|r| {
                    r.register(unchecked(vec![family("foo", Histogram, &[])]))
                        .unwrap()
                }),
                Box::new(|r| {
                    r.register(unchecked(vec![family(
                        "foo_count",
                        Gauge,
                        &[(&[], g(1.0))],
                    )]))
                    .unwrap()
                }),
            ],
            "_count",
            vec![("foo", 0)],
        ),
        (
            "checked collector writing an undescribed family",
            vec![Box::new(|r| {
                let d = desc(Opts::new("x", "h"), Gauge, &[]);
                r.register(FnCollector(vec![d.clone()], move |out: &mut Collected| {
                    out.family(&d).gauge(&[], 1.0);
                    out.push_family(family("y", Gauge, &[(&[], Value::Gauge(1.0))]));
                }))
                .unwrap()
            })],
            "did not describe",
            vec![("x", 1)],
        ),
        (
            "checked collector writing samples matching no descriptor",
            vec![Box::new(|r| {
                let d = desc(Opts::new("x", "h").const_label("i", "1"), Gauge, &[]);
                r.register(FnCollector(vec![d.clone()], move |out: &mut Collected| {
                    let mut f = d.family();
                    for i in ["1", "2"] {
                        let labels = LabelSet::from_pairs("x", &[("i", i)]).unwrap();
                        f.samples.push(Sample::new(labels, Value::Gauge(1.0)));
                    }
                    out.push_family(f);
                }))
                .unwrap()
            })],
            "none of its descriptors",
            vec![("x", 1)],
        ),
    ];
    for (case, collectors, words, expected) in cases {
        let gathered = gather_of(collectors);
        assert_eq!(gathered.errors.len(), 1, "{case}: {:?}", gathered.errors);
        let msg = gathered.errors[0].to_string();
        assert!(msg.contains(words), "{case}: {msg}");
        let got: Vec<(String, usize)> = gathered
            .families
            .iter()
            .map(|f| (f.name.to_string(), f.samples.len()))
            .collect();
        let expected: Vec<(String, usize)> =
            expected.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        assert_eq!(got, expected, "{case}");
    }
}

fn empty_histogram() -> Box<promsdk::HistogramValue> {
    let h = promsdk::HistogramValue {
        buckets: vec![],
        count: 0,
        sum: 0.0,
        created: None,
    };
    Box::new(h)
}

#[test]
fn repeated_series_keeps_the_first_collectors_value() {
    let registry = Registry::default();
    for v in [1.0, 2.0] {
        registry
            .register(unchecked(vec![family(
                "x",
                MetricType::Gauge,
                &[(&[], Value::Gauge(v))],
            )]))
            .unwrap();
    }
    let gathered = registry.gather();
    assert_eq!(gathered.families[0].samples[0].value, Value::Gauge(1.0));
    assert_eq!(gathered.errors.len(), 1);
}

#[test]
fn a_panicking_collector_costs_only_its_own_families() {
    let registry = Registry::default();
    registry
        .register_metric(Opts::new("before", "h"), promsdk::Gauge::default())
        .unwrap();
    let d = desc(Opts::new("boom", "h"), MetricType::Gauge, &[]);
    let panicked = Arc::new(AtomicBool::new(false));
    let flag = panicked.clone();
    registry
        .register(FnCollector(vec![d.clone()], move |out: &mut Collected| {
            out.family(&d).gauge(&[], 1.0);
            // Relaxed: the flag is only read after the gather returns on this thread.
            flag.store(true, Ordering::Relaxed);
            panic!("disk on fire");
        }))
        .unwrap();
    registry
        .register_metric(Opts::new("after", "h"), promsdk::Gauge::default())
        .unwrap();

    let mut sink = Collected::default();
    for _ in 0..2 {
        registry.gather_into(&mut sink);
        assert_eq!(names(sink.families()), ["after", "before"]);
        assert_eq!(sink.errors().len(), 1, "{:?}", sink.errors());
        match &sink.errors()[0] {
            Error::CollectorPanicked { names, message } => {
                assert_eq!(names, &["boom".to_string()]);
                assert_eq!(message, "disk on fire");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(panicked.load(Ordering::Relaxed));
}

#[test]
fn gather_all_merges_registries_with_the_same_checks() {
    let (a, b) = (Registry::default(), Registry::default());
    a.register_metric(
        Opts::new("up", "h").const_label("r", "a"),
        promsdk::Gauge::default(),
    )
    .unwrap();
    b.register_metric(
        Opts::new("up", "h").const_label("r", "b"),
        promsdk::Gauge::default(),
    )
    .unwrap();
    b.register_metric(Opts::new("only_b", "h"), promsdk::Gauge::default())
        .unwrap();
    let gathered = gather_all(&[&b, &a]);
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    assert_eq!(names(&gathered.families), ["only_b", "up"]);
    let rs: Vec<_> = gathered.families[1]
        .samples
        .iter()
        .map(|s| s.labels.get("r").unwrap())
        .collect();
    assert_eq!(rs, ["a", "b"]);

    // The same series in both registries is a repeated series.
    let c = Registry::default();
    c.register_metric(
        Opts::new("up", "h").const_label("r", "a"),
        promsdk::Gauge::default(),
    )
    .unwrap();
    let gathered = gather_all(&[&a, &c]);
    assert_eq!(gathered.errors.len(), 1, "{:?}", gathered.errors);
    assert_eq!(gathered.families[0].samples.len(), 1);
}

/// A vec's family skips the gather's per-sample checks (its samples are sorted and
/// match the descriptor by construction); a collector that changes such a family
/// through `families_mut` gets the full checks again.
#[test]
fn a_vec_family_changed_by_its_collector_is_checked_again() {
    let vec = promsdk::GaugeVec::new(Opts::new("v", "h"), &["k"]).unwrap();
    for k in ["a", "b", "c"] {
        vec.with_label_values(&[k]).set(1.0);
    }
    let inner = vec.clone();
    let registry = Registry::default();
    registry
        .register(FnCollector(
            promsdk::Collector::describe(&vec),
            move |out: &mut Collected| {
                promsdk::Collector::collect(&inner, out);
                let samples = &mut out.families_mut()[0].samples;
                let repeat = samples[0].clone();
                samples.reverse();
                samples.push(repeat);
            },
        ))
        .unwrap();
    let gathered = registry.gather();
    let ks: Vec<_> = gathered.families[0]
        .samples
        .iter()
        .map(|s| s.labels.get("k").unwrap())
        .collect();
    assert_eq!(ks, ["a", "b", "c"]);
    assert_eq!(gathered.errors.len(), 1, "{:?}", gathered.errors);
}

/// The overflow series of a vec at its `max_series` limit sorts among the children.
#[test]
fn a_vec_with_an_overflow_series_gathers_sorted() {
    let vec = promsdk::CounterVec::builder(Opts::new("c", "h"), &["k"])
        .max_series(2)
        .build()
        .unwrap();
    for k in ["a", "z", "m"] {
        vec.with_label_values(&[k]).inc();
    }
    let registry = Registry::default();
    registry.register(vec).unwrap();
    let gathered = registry.gather();
    assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
    let ks: Vec<_> = gathered.families[0]
        .samples
        .iter()
        .map(|s| s.labels.get("k").unwrap())
        .collect();
    assert_eq!(ks, ["__overflow__", "a", "z"]);
}

/// A sink reused across gathers hands a vec the samples it wrote last time, to update
/// in place: every change of the vec in between shows, exactly as in a fresh gather.
#[test]
fn a_reused_sink_shows_every_change_of_a_vec() {
    let registry = Registry::default();
    let vec = promsdk::GaugeVec::new(Opts::new("v", "h"), &["k"]).unwrap();
    let other = promsdk::GaugeVec::new(Opts::new("w", "h"), &["k"]).unwrap();
    registry.register(vec.clone()).unwrap();
    registry.register(other.clone()).unwrap();
    let mut sink = Collected::default();
    let mut check = |expected_v: &[(&str, f64)]| {
        registry.gather_into(&mut sink);
        let v: Vec<(String, f64)> = sink.families()[0]
            .samples
            .iter()
            .map(|s| match s.value {
                Value::Gauge(g) => (s.labels.get("k").unwrap().to_owned(), g),
                ref other => panic!("{other:?}"),
            })
            .collect();
        let want: Vec<(String, f64)> = expected_v.iter().map(|&(k, g)| (k.to_owned(), g)).collect();
        assert_eq!(v, want);
        assert_eq!(sink.families(), &registry.gather().families[..]);
    };
    for (k, g) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
        vec.with_label_values(&[k]).set(g);
    }
    other.with_label_values(&["x"]).set(9.0);
    check(&[("a", 1.0), ("b", 2.0), ("c", 3.0)]);
    vec.remove(&["b"]);
    vec.with_label_values(&["d"]).set(4.0);
    vec.with_label_values(&["a"]).set(5.0);
    check(&[("a", 5.0), ("c", 3.0), ("d", 4.0)]);
    vec.with_label_values(&["0"]).set(0.5);
    check(&[("0", 0.5), ("a", 5.0), ("c", 3.0), ("d", 4.0)]);
    vec.clear();
    check(&[]);
    vec.with_label_values(&["e"]).set(6.0);
    other.clear();
    check(&[("e", 6.0)]);
}

/// Through many rounds of creations, removals, updates and TTL expiry (children hidden
/// while idle, shown again once updated), a sink reused across gathers (whose samples a
/// vec matches up with its children) holds exactly what a fresh gather does; so does a
/// second sink that only some gathers use, whose samples are older than the vec's last
/// gather.
#[test]
fn a_reused_sink_matches_a_fresh_gather_through_churn() {
    let clock = promsdk::ManualClock::new();
    let registry = Registry::default();
    let plain = promsdk::CounterVec::new(Opts::new("plain", "h"), &["z", "a"]).unwrap();
    let ttl = promsdk::CounterVec::builder(Opts::new("ttl", "h"), &["k"])
        .ttl(std::time::Duration::from_secs(10))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    registry.register(plain.clone()).unwrap();
    registry.register(ttl.clone()).unwrap();
    let mut next = pseudo_random(11);
    let (mut sink, mut other) = (Collected::default(), Collected::default());
    for round in 0..200 {
        for _ in 0..next(12) {
            let (z, a) = (next(9).to_string(), format!("v{}", next(7)));
            plain.with_label_values(&[&z, &a]).inc_by(next(3) + 1);
        }
        for _ in 0..next(8) {
            plain.remove(&[&next(9).to_string(), &format!("v{}", next(7))]);
        }
        for _ in 0..next(4) {
            ttl.with_label_values(&[&next(20).to_string()]).inc();
        }
        clock.advance(std::time::Duration::from_secs(next(4)));
        if next(5) == 0 {
            ttl.expire_idle();
        }
        let sink = if next(3) == 0 { &mut other } else { &mut sink };
        registry.gather_into(sink);
        assert_eq!(
            sink.families(),
            &registry.gather().families[..],
            "round {round}"
        );
    }
}

/// A vec's gather reports its children in label order, each with its value, through
/// many rounds of new and removed children: values with bytes that sort before the
/// quote or the terminator of a rendered value (spaces, `!`, zero bytes, with which the
/// vec's sort falls back to comparing children), long shared prefixes, a `clear`.
/// Checked against a model (a `BTreeMap` of the values in label-name order), for a vec
/// declared in name order and one not.
#[test]
fn vec_children_come_out_in_label_order_through_churn() {
    for names in [["a", "b"], ["b", "a"]] {
        let mut vec = Modelled::new(names);
        let mut next = pseudo_random(7);
        let prefixes = ["", "p", "p ", "p!", "prefix-shared-by-many-", "p\0"];
        for round in 0..120 {
            let zeros = (70..80).contains(&round) || round == 105;
            let value = |next: &mut dyn FnMut(u64) -> u64| {
                let prefix = prefixes[next(prefixes.len() as u64 - u64::from(!zeros)) as usize];
                format!("{prefix}{}", next(300))
            };
            for _ in 0..next(400) {
                let (a, b) = (value(&mut next), value(&mut next));
                vec.inc(a, b);
            }
            let count = next(400);
            vec.remove_some(count, &mut next);
            if round == 90 {
                vec.clear();
            }
            vec.check(&format!("round {round}"));
        }
    }
}

/// A vec's gather keeps label order when new children's values share less of their
/// start with the children it already lists than those did with each other (the gather
/// then places children by what follows a shorter shared start), and when values agree
/// for long past it (placed by comparing whole values). Checked against a model, for a
/// vec declared in name order and one not.
#[test]
fn vec_children_stay_in_label_order_as_values_share_less_of_their_start() {
    for names in [["a", "b"], ["b", "a"]] {
        let mut vec = Modelled::new(names);
        let mut next = pseudo_random(11);
        // Each phase's values share less of their start with the earlier ones'; the
        // last ones agree for more than sixteen bytes after what they share.
        let phases = [
            "shared-start-longer-than-sixteen-bytes-",
            "shared-start-longer-",
            "shared-",
            "s",
            "",
            "shared-start-longer-than-sixteen-bytes-and-then-some-",
        ];
        for (phase, start) in phases.iter().enumerate() {
            for round in 0..4 {
                for _ in 0..1 + next(60) {
                    let a = format!("{start}{}", next(500));
                    let b = format!("{}{}", phases[next(phases.len() as u64) as usize], next(9));
                    vec.inc(a, b);
                }
                let count = next(20);
                vec.remove_some(count, &mut next);
                vec.check(&format!("phase {phase}, round {round}"));
            }
        }
    }
}

/// A vec whose gather listed one child, removed and made again before the next gather
/// (the list then holds the removed child and gets a new one with the same values),
/// still reports its series in label order through the gathers after.
#[test]
fn vec_order_holds_after_its_only_child_is_made_again() {
    let mut vec = Modelled::new(["b", "a"]);
    vec.inc("x".into(), "y".into());
    vec.check("one child");
    vec.remove_some(1, &mut |_| 0);
    vec.inc("x".into(), "y".into());
    vec.check("made again");
    for (round, values) in [["w", "z"], ["x", "a"], ["a", "b"], ["xx", "y"]]
        .iter()
        .enumerate()
    {
        vec.inc(values[0].into(), values[1].into());
        vec.check(&format!("round {round}"));
    }
}

/// A registered two-label counter vec beside a model of its series (a `BTreeMap` of the
/// values in label-name order, `a` then `b`, to their counts); the vec declares its
/// labels in the order `names` gives.
struct Modelled {
    registry: Registry,
    vec: promsdk::CounterVec,
    names: [&'static str; 2],
    model: std::collections::BTreeMap<[String; 2], u64>,
}

impl Modelled {
    fn new(names: [&'static str; 2]) -> Self {
        let registry = Registry::default();
        let vec = promsdk::CounterVec::new(Opts::new("m", "h"), &names).unwrap();
        registry.register(vec.clone()).unwrap();
        Modelled {
            registry,
            vec,
            names,
            model: Default::default(),
        }
    }

    /// The values of `a` and `b` in the vec's declaration order.
    fn declared<'v>(&self, a: &'v str, b: &'v str) -> [&'v str; 2] {
        if self.names[0] == "a" {
            [a, b]
        } else {
            [b, a]
        }
    }

    fn inc(&mut self, a: String, b: String) {
        self.vec.with_label_values(&self.declared(&a, &b)).inc();
        *self.model.entry([a, b]).or_default() += 1;
    }

    /// Removes up to `count` series picked by `next` (one picked twice goes once).
    fn remove_some(&mut self, count: u64, next: &mut dyn FnMut(u64) -> u64) {
        let present: Vec<[String; 2]> = self.model.keys().cloned().collect();
        for _ in 0..count.min(present.len() as u64) {
            let [a, b] = &present[next(present.len() as u64) as usize];
            if self.model.remove(&[a.clone(), b.clone()]).is_some() {
                assert!(self.vec.remove(&self.declared(a, b)));
            }
        }
    }

    fn clear(&mut self) {
        self.vec.clear();
        self.model.clear();
    }

    /// Checks that a gather reports the model's series, in order, with their counts.
    fn check(&self, context: &str) {
        let gathered = self.registry.gather();
        let got: Vec<([String; 2], u64)> = gathered.families[0]
            .samples
            .iter()
            .map(|s| {
                let v = |n: &str| s.labels.get(n).unwrap().to_owned();
                let Value::Counter { total, .. } = s.value else {
                    panic!("not a counter: {:?}", s.value)
                };
                ([v("a"), v("b")], total as u64)
            })
            .collect();
        let want: Vec<([String; 2], u64)> =
            self.model.iter().map(|(k, &c)| (k.clone(), c)).collect();
        assert_eq!(got, want, "names {:?}, {context}", self.names);
    }
}

/// A repeatable stream of numbers below the `n` given each time (a linear congruential
/// generator started at `seed`).
fn pseudo_random(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    }
}
