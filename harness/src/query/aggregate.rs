//! Aggregation operators with `by`/`without`, computed as Prometheus 2.42 computes
//! them: plain summation for `sum`, an incremental mean for `avg` (guarding against
//! overflow and infinities), Welford's update for `stddev`/`stdvar`, Go's binary heap
//! for `topk`/`bottomk` (so ties keep the same series), and groups in order of first
//! appearance.

use std::cmp::Ordering;
use std::collections::HashMap;

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::eval::{wrong_type, Evaluator, Value};
use super::range_functions::quantile;
use super::{format_f, QueryError, Sample, NAME_LABEL};
use crate::scrape::labels_from_pairs;
use promsdk::labels::{is_valid_label_name, LabelPair, LabelSet};

/// Evaluates `a` at `t`.
pub(super) fn eval<'s>(
    ev: &mut Evaluator<'s>,
    a: &AggregateExpr,
    t: i64,
) -> Result<Value<'s>, QueryError> {
    let op = a.op.to_string();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, t)?),
        None => None,
    };
    let input = ev.eval_vector(&a.expr, t)?;
    let (mut grouping, without) = match &a.modifier {
        Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
        Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
        None => (Vec::new(), false),
    };
    grouping.sort();
    let param = match (op.as_str(), param) {
        ("count_values", Some(Value::String(s))) => Param::Label(s),
        ("topk" | "bottomk" | "quantile", Some(Value::Scalar(v))) => Param::Number(v),
        (_, None) => Param::None,
        (_, Some(other)) => return Err(wrong_type("aggregation parameter", &other)),
    };
    let key = a as *const AggregateExpr as usize;
    let mut groups = ev.take_groups(key);
    let out = aggregate(&op, grouping, without, param, input, &mut groups)?;
    ev.keep_groups(key, groups);
    Ok(Value::Vector(out))
}

/// The groups of one aggregation, kept across the steps of a query: what each
/// position of the input vector held at the last step, and the group it went to.
/// A step whose input repeats the last one's labels in the same places (the usual
/// case: a selector's series come in one order at every step) finds each sample's
/// group by comparing its labels with those seen at its position, which is a pointer
/// comparison for a selection's labels, instead of building and hashing a key.
///
/// This gives the groups a fresh computation would: a group's key and labels are
/// functions of a sample's labels and of the grouping, so equal labels always go to
/// the group their key names, and the kept assignments are dropped if the grouping
/// changes.
#[derive(Default)]
pub(super) struct Groups {
    grouping: Vec<String>,
    without: bool,
    /// Per input position: the labels seen there last and their group's id.
    seen: Vec<(LabelSet, usize)>,
    /// Group id by key ([`group_key`]).
    ids: HashMap<Vec<u8>, usize>,
    /// Group labels by id.
    labels: Vec<LabelSet>,
}

impl Groups {
    /// Forgets everything if the grouping is not the one the groups were made for.
    fn use_grouping(&mut self, grouping: &[String], without: bool) {
        if self.grouping != grouping || self.without != without {
            *self = Groups {
                grouping: grouping.to_vec(),
                without,
                ..Groups::default()
            };
        }
    }

    /// The id of the group of the sample with `labels` at input position `j` (every
    /// position below `j` looked up before).
    fn group_of(&mut self, j: usize, labels: &LabelSet) -> usize {
        if let Some((seen, id)) = self.seen.get(j) {
            if seen == labels {
                return *id;
            }
        }
        let key = group_key(labels, &self.grouping, self.without);
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = self.labels.len();
                self.labels
                    .push(group_labels(labels, &self.grouping, self.without));
                self.ids.insert(key, id);
                id
            }
        };
        if j < self.seen.len() {
            self.seen[j] = (labels.clone(), id);
        } else {
            self.seen.push((labels.clone(), id));
        }
        id
    }
}

enum Param {
    None,
    Number(f64),
    Label(String),
}

struct Group {
    labels: LabelSet,
    value: f64,
    mean: f64,
    count: usize,
    heap: Vec<Sample>,
}

fn aggregate(
    op: &str,
    mut grouping: Vec<String>,
    without: bool,
    param: Param,
    input: Vec<Sample>,
    ids: &mut Groups,
) -> Result<Vec<Sample>, QueryError> {
    let mut k = 0usize;
    if matches!(op, "topk" | "bottomk") {
        let Param::Number(f) = param else {
            return Err(QueryError::Execution(format!("{op} needs a number")));
        };
        // Prometheus's convertibleToInt64 bounds.
        if f.is_nan() || !(-9_223_372_036_854_775_808.0..=9_223_372_036_854_774_784.0).contains(&f)
        {
            return Err(QueryError::Execution(format!(
                "Scalar value {} overflows int64",
                super::format_value(f)
            )));
        }
        if f < 1.0 {
            return Ok(Vec::new());
        }
        k = f as usize;
    }
    let q = match param {
        Param::Number(q) => q,
        _ => 0.0,
    };
    let value_label = match &param {
        Param::Label(l) => {
            if !is_valid_label_name(l) {
                return Err(QueryError::Execution(format!("invalid label name {l:?}")));
            }
            if !without {
                grouping.push(l.clone());
                grouping.sort();
            }
            Some(l.clone())
        }
        _ => None,
    };
    ids.use_grouping(&grouping, without);
    // Group id to its place in `groups` (usize::MAX: no sample of it yet this step).
    let mut place: Vec<usize> = vec![usize::MAX; ids.labels.len()];
    let mut groups: Vec<Group> = Vec::new();
    for (j, mut s) in input.into_iter().enumerate() {
        if let Some(l) = &value_label {
            let mut pairs: Vec<LabelPair> = s
                .labels
                .pairs()
                .iter()
                .filter(|p| *p.name != **l)
                .cloned()
                .collect();
            pairs.push(LabelPair::new(l.as_str(), format_f(s.value)));
            s.labels = labels_from_pairs(pairs);
        }
        let id = ids.group_of(j, &s.labels);
        if id >= place.len() {
            place.resize(id + 1, usize::MAX);
        }
        if place[id] == usize::MAX {
            place[id] = groups.len();
            groups.push(new_group(op, &s, ids.labels[id].clone()));
            continue;
        }
        let g = &mut groups[place[id]];
        match op {
            "sum" => g.value += s.value,
            "avg" => {
                g.count += 1;
                if g.mean.is_infinite() {
                    if s.value.is_infinite() && (g.mean > 0.0) == (s.value > 0.0) {
                        continue;
                    }
                    if !s.value.is_infinite() && !s.value.is_nan() {
                        continue;
                    }
                }
                let n = g.count as f64;
                g.mean += s.value / n - g.mean / n;
            }
            "max" if g.value < s.value || g.value.is_nan() => g.value = s.value,
            "min" if g.value > s.value || g.value.is_nan() => g.value = s.value,
            "count" | "count_values" => g.count += 1,
            "stddev" | "stdvar" => {
                g.count += 1;
                let delta = s.value - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (s.value - g.mean);
            }
            "topk" => {
                let top = g.heap[0].value;
                if g.heap.len() < k || top < s.value || top.is_nan() {
                    push_bounded(&mut g.heap, s, k, min_first);
                }
            }
            "bottomk" => {
                let top = g.heap[0].value;
                if g.heap.len() < k || top > s.value || top.is_nan() {
                    push_bounded(&mut g.heap, s, k, max_first);
                }
            }
            "quantile" => g.heap.push(s),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let value = match op {
            "avg" => g.mean,
            "count" | "count_values" => g.count as f64,
            "stdvar" => g.value / g.count as f64,
            "stddev" => (g.value / g.count as f64).sqrt(),
            "quantile" => {
                let mut values: Vec<f64> = g.heap.iter().map(|s| s.value).collect();
                quantile(q, &mut values)
            }
            "topk" | "bottomk" => {
                let less = if op == "topk" { min_first } else { max_first };
                // Go's sort.Sort(sort.Reverse(heap)).
                go_sort(&mut g.heap, |a, b| less(b, a));
                out.append(&mut g.heap);
                continue;
            }
            _ => g.value,
        };
        out.push(Sample {
            labels: g.labels,
            value,
        });
    }
    Ok(out)
}

/// A group whose first sample is `s`, labelled `labels`.
fn new_group(op: &str, s: &Sample, labels: LabelSet) -> Group {
    let mut g = Group {
        labels,
        value: s.value,
        mean: s.value,
        count: 1,
        heap: Vec::new(),
    };
    match op {
        "stddev" | "stdvar" => g.value = 0.0,
        "group" => g.value = 1.0,
        "topk" | "bottomk" | "quantile" => g.heap.push(s.clone()),
        _ => {}
    }
    g
}

/// The labels of the group of a sample with `labels`: the `by` labels, or all but
/// `__name__` and the `without` ones.
fn group_labels(labels: &LabelSet, grouping: &[String], without: bool) -> LabelSet {
    if without {
        labels_from_pairs(
            labels
                .pairs()
                .iter()
                .filter(|p| &*p.name != NAME_LABEL && !grouping.iter().any(|g| *g == *p.name))
                .cloned()
                .collect(),
        )
    } else if grouping.is_empty() {
        LabelSet::empty()
    } else {
        labels_from_pairs(
            labels
                .pairs()
                .iter()
                .filter(|p| grouping.iter().any(|g| *g == *p.name))
                .cloned()
                .collect(),
        )
    }
}

/// The grouping key: the `by` labels, or every label but `__name__` and the
/// `without` ones (0xFF separates: it never occurs in UTF-8).
fn group_key(labels: &LabelSet, grouping: &[String], without: bool) -> Vec<u8> {
    let mut key = Vec::new();
    for (n, v) in labels.iter() {
        let listed = grouping.iter().any(|g| g == n);
        if (without && !listed && n != NAME_LABEL) || (!without && listed) {
            key.extend_from_slice(n.as_bytes());
            key.push(0xff);
            key.extend_from_slice(v.as_bytes());
            key.push(0xff);
        }
    }
    key
}

/// `vectorByValueHeap.Less`: NaN first, then ascending.
fn min_first(a: &Sample, b: &Sample) -> bool {
    a.value.is_nan() || a.value < b.value
}

/// `vectorByReverseValueHeap.Less`: NaN first, then descending.
fn max_first(a: &Sample, b: &Sample) -> bool {
    a.value.is_nan() || a.value > b.value
}

/// Adds `s` to a heap of at most `k` (Go's container/heap: replace in place for
/// k = 1, else pop the top when full, then push).
fn push_bounded(heap: &mut Vec<Sample>, s: Sample, k: usize, less: fn(&Sample, &Sample) -> bool) {
    if heap.len() == k {
        if k == 1 {
            heap[0] = s;
            return;
        }
        let n = heap.len() - 1;
        heap.swap(0, n);
        down(heap, 0, n, less);
        heap.pop();
    }
    heap.push(s);
    let mut j = heap.len() - 1;
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&heap[j], &heap[i]) {
            break;
        }
        heap.swap(i, j);
        j = i;
    }
}

fn down(heap: &mut [Sample], mut i: usize, n: usize, less: fn(&Sample, &Sample) -> bool) {
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        if j1 + 1 < n && less(&heap[j1 + 1], &heap[j1]) {
            j = j1 + 1;
        }
        if !less(&heap[j], &heap[i]) {
            break;
        }
        heap.swap(i, j);
        i = j;
    }
}

/// Go's `sort.Sort` with `less`: insertion sort up to 12 elements (as Go does, so
/// ties come out alike), a stable sort beyond.
pub(super) fn go_sort<T>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.len() <= 12 {
        for i in 1..v.len() {
            let mut j = i;
            while j > 0 && less(&v[j], &v[j - 1]) {
                v.swap(j, j - 1);
                j -= 1;
            }
        }
        return;
    }
    v.sort_by(|a, b| {
        if less(a, b) && !less(b, a) {
            Ordering::Less
        } else if less(b, a) && !less(a, b) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
}
