//! Zero heap allocations where it matters: metric updates, vec lookups of existing
//! children, and gathering plus encoding a warmed-up registry into reused buffers.
//!
//! This file is its own test binary because it installs a counting
//! `#[global_allocator]`. Allocations are counted per thread and only while measuring,
//! so the test harness's other threads cannot disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use promsdk::{
    encode, Bucket, Collected, Counter, CounterVec, Desc, Exemplar, Format, Gauge, Histogram,
    HistogramValue, HistogramVec, LabelSet, MetricFamily, MetricType, Opts, Registry, Sample,
    Value,
};

struct Counting;

thread_local! {
    // `const` init and no destructor: using them never allocates, so they are safe
    // inside the allocator. Per thread, so tests running in parallel cannot mix counts.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    if MEASURING.with(Cell::get) {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts the allocations `f` makes on this thread.
fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    MEASURING.with(|m| m.set(true));
    f();
    MEASURING.with(|m| m.set(false));
    ALLOCATIONS.with(Cell::get)
}

fn families() -> Vec<MetricFamily> {
    let path: Arc<str> = Arc::from("path");
    let code: Arc<str> = Arc::from("code");
    let mut counter =
        MetricFamily::new("http_requests", "Requests \"served\".", MetricType::Counter);
    for i in 0..10_000u32 {
        let pairs = [
            (&*code, if i % 7 == 0 { "500" } else { "200" }),
            (&*path, &*format!("/api/v1/item/{i}\"\\\n")),
        ];
        let labels = LabelSet::from_pairs("http_requests", &pairs).unwrap();
        let mut sample = Sample::new(
            labels,
            Value::Counter {
                total: f64::from(i) * 1.5,
                created: Some(1_700_000_000.25),
                exemplar: (i % 100 == 0).then(|| {
                    Box::new(Exemplar {
                        labels: LabelSet::from_pairs("e", &[("trace_id", "0af7651916cd43dd")])
                            .unwrap(),
                        value: 0.5,
                        timestamp: Some(1_700_000_000.125),
                    })
                }),
            },
        );
        sample.timestamp_ms = (i % 3 == 0).then_some(1_700_000_000_123);
        counter.samples.push(sample);
    }
    let mut histogram = MetricFamily::new("latency_seconds", "Latency.", MetricType::Histogram);
    for h in 0..20u32 {
        let buckets = [
            0.005,
            0.01,
            0.025,
            0.05,
            0.1,
            0.25,
            0.5,
            1.0,
            2.5,
            5.0,
            10.0,
            f64::INFINITY,
        ]
        .iter()
        .enumerate()
        .map(|(i, &upper_bound)| Bucket {
            upper_bound,
            cumulative_count: i as u64 * 3,
            exemplar: None,
        })
        .collect();
        let value = HistogramValue {
            buckets,
            count: 33,
            sum: 12.75,
            created: Some(1_600_000_000.0),
        };
        let labels =
            LabelSet::from_pairs("latency_seconds", &[("route", &*format!("r{h}"))]).unwrap();
        histogram
            .samples
            .push(Sample::new(labels, Value::Histogram(Box::new(value))));
    }
    vec![counter, histogram]
}

#[test]
fn encoding_into_a_warm_buffer_does_not_allocate() {
    let families = families();
    for format in [Format::Text, Format::OpenMetrics] {
        let mut buf = Vec::new();
        encode(&families, format, &mut buf);
        let first_len = buf.len();
        assert!(first_len > 500_000, "{format:?}: only {first_len} bytes");

        buf.clear();
        let n = allocations_during(|| encode(&families, format, &mut buf));
        assert_eq!(
            n, 0,
            "{format:?}: {n} allocations encoding into a warm buffer"
        );
        assert_eq!(
            buf.len(),
            first_len,
            "{format:?}: output changed between runs"
        );
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Proves the measurement can fail: a cold buffer must grow.
    let families = families();
    let mut buf = Vec::new();
    let n = allocations_during(|| encode(&families, Format::Text, &mut buf));
    assert!(n > 0, "growing a cold buffer allocated nothing?");
}

/// Updates allocate nothing, except a thread's first observation of each histogram, its
/// first update of each counter made on its own, and a vec's counter child getting rows
/// once hot (its 1,024th whole increment) and the thread's first update after.
#[test]
fn updates_and_lookups_of_existing_children_do_not_allocate() {
    let counter = Counter::default();
    let gauge = Gauge::default();
    let histogram = Histogram::default();
    let vec = CounterVec::new(Opts::new("c_total", "C."), &["a", "b"]).unwrap();
    vec.with_label_values(&["x", "y"]).inc();
    // A thread's first observation of a histogram makes the thread's shard of it: the
    // one allocation on its update path, once.
    let n = allocations_during(|| histogram.observe(0.5));
    assert_eq!(n, 1, "{n} allocations for a thread's first observation");
    // The same for a counter on its own: its first update makes the thread's row.
    let n = allocations_during(|| counter.inc());
    assert_eq!(n, 1, "{n} allocations for a thread's first increment");
    let n = allocations_during(|| {
        for i in 0..1_000 {
            counter.inc();
            counter.add(0.5).unwrap();
            gauge.set(f64::from(i));
            gauge.add(1.0);
            histogram.observe(f64::from(i) / 100.0);
            vec.with_label_values(&["x", "y"]).inc();
        }
    });
    assert_eq!(n, 0, "{n} allocations on update paths");
    assert_eq!(vec.with_label_values(&["x", "y"]).get(), 1_001.0);
    assert_eq!(counter.get(), 1_501.0);
    // The child is hot at its 1,024th increment, which makes its rows' table; the
    // thread's next increment makes the thread's row, and the ones after allocate
    // nothing.
    let child = vec.with_label_values(&["x", "y"]);
    let n = allocations_during(|| child.inc_by(22));
    assert_eq!(n, 0, "{n} allocations before the child is hot");
    let n = allocations_during(|| child.inc());
    assert_eq!(n, 1, "{n} allocations for the child's rows");
    let n = allocations_during(|| child.inc());
    assert_eq!(n, 1, "{n} allocations for the thread's row");
    let n = allocations_during(|| {
        for _ in 0..1_000 {
            vec.with_label_values(&["x", "y"]).inc();
        }
    });
    assert_eq!(n, 0, "{n} allocations once the child has rows");
    assert_eq!(child.get(), 2_025.0);
}

/// A series' label set is one allocation, its exposition text included, however many
/// new values it has: once a thread has built one (its rendering buffer grown), building
/// one costs that alone, and its first encode (into a warm buffer) adds nothing, however
/// long the text. Looking a value up reads the text; its pairs are made (allocated) only
/// when asked for, once.
#[test]
fn a_label_set_and_its_text_are_one_allocation() {
    let desc = Desc::new(Opts::new("c_total", "C."), MetricType::Counter, &["a", "b"]).unwrap();
    let long = "/api/v1/products/:id/purchase?with=a-long-query";
    desc.labels(&["warm", &long.repeat(100)]).unwrap();
    let mut labels = None;
    let n = allocations_during(|| labels = Some(desc.labels(&["x", long]).unwrap()));
    assert_eq!(n, 1, "{n} allocations for a set of two new values");
    let labels = labels.unwrap();
    let n = allocations_during(|| assert_eq!(labels.get("b"), Some(long)));
    assert_eq!(n, 0, "{n} allocations to look a value up");
    let n = allocations_during(|| assert_eq!(&*labels.pairs()[0].value, "x"));
    assert!(n > 0, "pairs made without allocating?");
    let n = allocations_during(|| assert_eq!(&*labels.pairs()[1].value, long));
    assert_eq!(n, 0, "{n} allocations for pairs already made");
    let mut family = MetricFamily::new("c", "C.", MetricType::Counter);
    family
        .samples
        .push(Sample::new(labels, Value::counter(1.0)));
    let families = [family];
    let mut buf = Vec::with_capacity(4096);
    let n = allocations_during(|| encode(&families, Format::Text, &mut buf));
    assert_eq!(n, 0, "{n} allocations for the first encode");
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.contains(&format!(r#"c_total{{a="x",b="{long}"}} 1.0"#)),
        "{text}"
    );
}

/// A registry with a 2-label counter vec of `series` children and a histogram vec.
fn registry(series: usize) -> Registry {
    let registry = Registry::default();
    let vec = CounterVec::new(Opts::new("requests_total", "Requests."), &["path", "code"]).unwrap();
    let hist = HistogramVec::new(Opts::new("latency_seconds", "Latency."), &["route"]).unwrap();
    for i in 0..series {
        vec.with_label_values(&[&format!("/item/{i}"), "200"])
            .inc_by(i as u64);
    }
    for r in 0..10 {
        hist.with_label_values(&[&format!("r{r}")]).observe(0.3);
    }
    registry.register(vec).unwrap();
    registry.register(hist).unwrap();
    registry
}

/// Allocations of one warmed-up gather + encode.
fn gather_and_encode_allocations(series: usize) -> usize {
    let registry = registry(series);
    let mut sink = Collected::default();
    let mut buf = Vec::new();
    for _ in 0..3 {
        registry.gather_into(&mut sink);
        buf.clear();
        encode(sink.families(), Format::Text, &mut buf);
    }
    assert!(sink.errors().is_empty(), "{:?}", sink.errors());
    let text = String::from_utf8(buf.clone()).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("requests_total{"))
            .count(),
        series
    );
    allocations_during(|| {
        registry.gather_into(&mut sink);
        buf.clear();
        encode(sink.families(), Format::Text, &mut buf);
    })
}

#[test]
fn gathering_and_encoding_a_warm_registry_allocates_nothing_per_series() {
    let small = gather_and_encode_allocations(100);
    let large = gather_and_encode_allocations(10_000);
    // Counter series, which are what grows here, must cost nothing. What remains is per
    // collector (descriptor checks) and per histogram series (a snapshot owns its bucket
    // list: two allocations each, ten series here); 40 measured when this was written.
    assert_eq!(small, large, "allocations grew with the number of series");
    assert!(large <= 48, "{large} allocations for one gather + encode");
}

/// A collector that reports its series at every gather, built from its descriptor (as an
/// exporter's collector does): `series` label sets of two labels a gather.
struct Reporting {
    desc: Desc,
    values: Vec<String>,
}

impl promsdk::Collector for Reporting {
    fn describe(&self) -> Vec<Desc> {
        vec![self.desc.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let mut family = out.family(&self.desc);
        for (i, v) in self.values.iter().enumerate() {
            family.gauge(&["web", v], i as f64);
        }
    }
}

/// A collector's series cost one allocation each a gather, their label set: the
/// registry's checks of its samples (label names against the descriptor, order,
/// repeats) read the sets' text and make no strings of their own.
#[test]
fn checking_a_collectors_series_allocates_nothing_per_series() {
    let per_gather = |series: usize| {
        let desc = Desc::new(
            Opts::new("jobs", "Jobs."),
            MetricType::Gauge,
            &["pool", "job"],
        )
        .unwrap();
        let values = (0..series).map(|i| format!("job-{i:05}")).collect();
        let registry = Registry::default();
        registry.register(Reporting { desc, values }).unwrap();
        let mut sink = Collected::default();
        registry.gather_into(&mut sink);
        registry.gather_into(&mut sink);
        let n = allocations_during(|| registry.gather_into(&mut sink));
        assert!(sink.errors().is_empty(), "{:?}", sink.errors());
        assert_eq!(sink.families()[0].samples.len(), series);
        n
    };
    let (small, large) = (per_gather(100), per_gather(1_100));
    assert_eq!(
        large - small,
        1_000,
        "allocations per series: {small} for 100, {large} for 1,100"
    );
}
