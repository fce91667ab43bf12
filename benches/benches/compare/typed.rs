//! `labeled_typed`: increment the child of a 2-label counter vec whose label values are
//! typed: an enum (`Operation`, 4 variants) and a small integer (`shard`, 0..8). The 32
//! label sets are visited in a cycle, each given as typed values on every call; every
//! series exists before measuring starts.
//!
//! - `measured`: a derived `LabelGroup` of two fixed-cardinality labels: the values
//!   index a dense array of counters, with no hashing;
//! - `prometheus-client`, `fastmetrics`: a derived label-set struct holding the enum and
//!   the integer, hashed as the key of the family's map;
//! - `promsdk`: a `TypedVec` of a derived `Labels` struct holding the enum and the
//!   integer (`#[label(max = 7)]`, as `measured`'s 8 shards): the values index this
//!   thread's table of children, with no hashing;
//! - `promsdk/strings`: the same labels through the string API, the enum's and the
//!   integer's names as `&'static str` from tables (see [`promsdk_strings`]).

use criterion::Criterion;
use measured::label::{FixedCardinalityLabel, LabelValue, LabelVisitor};

/// The enum label value, one type for every library.
#[derive(
    Clone,
    Copy,
    Debug,
    Hash,
    PartialEq,
    Eq,
    measured::FixedCardinalityLabel,
    prometheus_client::encoding::EncodeLabelValue,
    fastmetrics::derive::EncodeLabelValue,
    promsdk::LabelValue,
)]
pub enum Operation {
    Read,
    Write,
    List,
    Delete,
}

const OPERATIONS: [Operation; 4] = [
    Operation::Read,
    Operation::Write,
    Operation::List,
    Operation::Delete,
];

impl Operation {
    /// The label value as a string, for libraries without typed label values.
    fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::List => "list",
            Operation::Delete => "delete",
        }
    }
}

/// Shards are `0..SHARDS`.
const SHARDS: u8 = 8;

/// The integer label values as strings, for libraries without typed label values.
const SHARD_NAMES: [&str; SHARDS as usize] = ["0", "1", "2", "3", "4", "5", "6", "7"];

/// The integer label value for `measured`, which has no integer label type of its own:
/// a fixed-cardinality label over `0..SHARDS` written as an integer.
#[derive(Clone, Copy)]
struct Shard(u8);

impl LabelValue for Shard {
    fn visit<V: LabelVisitor>(&self, v: V) -> V::Output {
        v.write_int(i64::from(self.0))
    }
}

impl FixedCardinalityLabel for Shard {
    fn cardinality() -> usize {
        usize::from(SHARDS)
    }

    fn encode(&self) -> usize {
        usize::from(self.0)
    }

    fn decode(value: usize) -> Self {
        Shard(u8::try_from(value).expect("a shard index is below SHARDS"))
    }
}

#[derive(Clone, Copy, measured::LabelGroup)]
#[label(set = MeasuredTypedSet)]
struct MeasuredTyped {
    operation: Operation,
    shard: Shard,
}

#[derive(promsdk::Labels)]
struct PromsdkTyped {
    operation: Operation,
    #[label(max = 7)]
    shard: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct ClientTyped {
    operation: Operation,
    shard: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, fastmetrics::derive::LabelSet)]
struct FastTyped {
    operation: Operation,
    shard: u8,
}

pub fn labeled_typed(c: &mut Criterion) {
    let sets: Vec<(Operation, u8)> = OPERATIONS
        .iter()
        .flat_map(|&op| (0..SHARDS).map(move |shard| (op, shard)))
        .collect();
    let mut group = crate::group(c, "labeled_typed");

    let vec: promsdk::TypedVec<PromsdkTyped, promsdk::Counter> =
        promsdk::TypedVec::new(promsdk::Opts::new("operations", "Operations.")).unwrap();
    bench(&mut group, "promsdk", &sets, |operation, shard| {
        vec.update(&PromsdkTyped { operation, shard }, |c| c.inc())
    });

    let inc = promsdk_strings();
    bench(&mut group, "promsdk/strings", &sets, inc);

    let vec = measured::CounterVec::<MeasuredTypedSet>::new();
    bench(&mut group, "measured", &sets, |operation, shard| {
        vec.inc(MeasuredTyped {
            operation,
            shard: Shard(shard),
        })
    });

    let family = prometheus_client::metrics::family::Family::<
        ClientTyped,
        prometheus_client::metrics::counter::Counter,
    >::default();
    bench(
        &mut group,
        "prometheus-client",
        &sets,
        |operation, shard| {
            family
                .get_or_create(&ClientTyped { operation, shard })
                .inc();
        },
    );

    let family = fastmetrics::metrics::family::Family::<FastTyped, _>::new(
        fastmetrics::metrics::counter::Counter::<u64>::default,
    );
    bench(&mut group, "fastmetrics", &sets, |operation, shard| {
        family.with_or_new(&FastTyped { operation, shard }, |c| c.inc())
    });

    group.finish();
}

/// promsdk's increment for typed label values through the string API: the values'
/// names as `&'static str` (their addresses never change, so its thread cache
/// finds the child by address and compares the values without hashing them).
fn promsdk_strings() -> impl Fn(Operation, u8) {
    let vec = promsdk::CounterVec::new(
        promsdk::Opts::new("operations", "Operations."),
        &["operation", "shard"],
    )
    .unwrap();
    move |operation, shard| {
        vec.update(
            &[operation.as_str(), SHARD_NAMES[usize::from(shard)]],
            |c| c.inc(),
        )
    }
}

/// Creates every series with `inc`, then measures `inc` over the label sets in a cycle.
fn bench(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    library: &str,
    sets: &[(Operation, u8)],
    inc: impl Fn(Operation, u8),
) {
    for &(operation, shard) in sets {
        inc(operation, shard);
    }
    group.bench_function(library, |bencher| {
        let mut i = 0;
        bencher.iter(|| {
            let (operation, shard) = sets[i];
            i = if i + 1 == sets.len() { 0 } else { i + 1 };
            inc(operation, shard)
        })
    });
}
