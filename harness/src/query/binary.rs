//! Binary operators: arithmetic, comparison (filtering or `bool`) and set operators,
//! between scalars and instant vectors, with Prometheus's vector matching
//! (`on`/`ignoring`, `group_left`/`group_right`) and its errors.

use std::collections::{HashMap, HashSet};

use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{check_unique, wrong_type, Evaluator, Value};
use super::{drop_name, labels_string, QueryError, Sample, NAME_LABEL};
use crate::scrape::labels_from_pairs;
use promsdk::labels::{LabelPair, LabelSet};

/// Evaluates `b` at `t`.
pub(super) fn eval<'s>(
    ev: &mut Evaluator<'s>,
    b: &BinaryExpr,
    t: i64,
) -> Result<Value<'s>, QueryError> {
    let op = b.op.to_string();
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    let bool_mod = b.return_bool();
    let out = match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => {
            let (v, keep) = elem(&op, l, r)?;
            return Ok(Value::Scalar(if is_comparison(&op) {
                btos(keep)
            } else {
                v
            }));
        }
        (Value::Vector(l), Value::Scalar(r)) => vector_scalar(&op, l, r, false, bool_mod)?,
        (Value::Scalar(l), Value::Vector(r)) => vector_scalar(&op, r, l, true, bool_mod)?,
        (Value::Vector(l), Value::Vector(r)) => {
            let m = Matching::of(b);
            match op.as_str() {
                "and" => and(l, &r, &m),
                "or" => or(l, r, &m),
                "unless" => unless(l, &r, &m),
                _ => vector_vector(&op, l, r, &m, bool_mod)?,
            }
        }
        (l, r) => {
            let bad = if matches!(l, Value::Scalar(_) | Value::Vector(_)) {
                r
            } else {
                l
            };
            return Err(wrong_type("scalar or instant vector operand", &bad));
        }
    };
    check_unique(&out)?;
    Ok(Value::Vector(out))
}

/// How two vectors are matched.
struct Matching {
    on: bool,
    labels: Vec<String>,
    card: Card,
    include: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

impl Matching {
    fn of(b: &BinaryExpr) -> Self {
        let Some(m) = &b.modifier else {
            return Matching {
                on: false,
                labels: Vec::new(),
                card: Card::OneToOne,
                include: Vec::new(),
            };
        };
        let (on, labels) = match &m.matching {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let (card, include) = match &m.card {
            VectorMatchCardinality::OneToOne => (Card::OneToOne, Vec::new()),
            VectorMatchCardinality::ManyToOne(l) => (Card::ManyToOne, l.labels.clone()),
            VectorMatchCardinality::OneToMany(l) => (Card::OneToMany, l.labels.clone()),
            VectorMatchCardinality::ManyToMany => (Card::ManyToMany, Vec::new()),
        };
        Matching {
            on,
            labels,
            card,
            include,
        }
    }

    /// The match signature: the `on` labels, or every label but `__name__` and the
    /// `ignoring` ones. 0xFF never occurs in UTF-8, so it separates unambiguously.
    fn signature(&self, labels: &LabelSet) -> Vec<u8> {
        let mut sig = Vec::new();
        for (n, v) in labels.iter() {
            let listed = self.labels.iter().any(|l| l == n);
            if (self.on && listed) || (!self.on && !listed && n != NAME_LABEL) {
                sig.extend_from_slice(n.as_bytes());
                sig.push(0xff);
                sig.extend_from_slice(v.as_bytes());
                sig.push(0xff);
            }
        }
        sig
    }

    /// The labels the signature is made of, for error messages.
    fn match_labels(&self, labels: &LabelSet) -> LabelSet {
        labels_from_pairs(
            labels
                .pairs()
                .iter()
                .filter(|p| {
                    let listed = self.labels.iter().any(|l| *l == *p.name);
                    if self.on {
                        listed
                    } else {
                        !listed && &*p.name != NAME_LABEL
                    }
                })
                .cloned()
                .collect(),
        )
    }
}

fn and(lhs: Vec<Sample>, rhs: &[Sample], m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: HashSet<Vec<u8>> = rhs.iter().map(|s| m.signature(&s.labels)).collect();
    lhs.into_iter()
        .filter(|s| right.contains(&m.signature(&s.labels)))
        .collect()
}

fn or(lhs: Vec<Sample>, rhs: Vec<Sample>, m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() {
        return rhs;
    }
    if rhs.is_empty() {
        return lhs;
    }
    let left: HashSet<Vec<u8>> = lhs.iter().map(|s| m.signature(&s.labels)).collect();
    let mut out = lhs;
    out.extend(
        rhs.into_iter()
            .filter(|s| !left.contains(&m.signature(&s.labels))),
    );
    out
}

fn unless(lhs: Vec<Sample>, rhs: &[Sample], m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs;
    }
    let right: HashSet<Vec<u8>> = rhs.iter().map(|s| m.signature(&s.labels)).collect();
    lhs.into_iter()
        .filter(|s| !right.contains(&m.signature(&s.labels)))
        .collect()
}

/// Arithmetic or comparison between two vectors, one-to-one or many-to-one.
fn vector_vector(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &Matching,
    bool_mod: bool,
) -> Result<Vec<Sample>, QueryError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let swapped = m.card == Card::OneToMany;
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: HashMap<Vec<u8>, &Sample> = HashMap::with_capacity(one.len());
    for rs in &one {
        let sig = m.signature(&rs.labels);
        if let Some(dup) = right.get(&sig) {
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                labels_string(&m.match_labels(&rs.labels)),
                if swapped { "left" } else { "right" },
                labels_string(&rs.labels),
                labels_string(&dup.labels),
            )));
        }
        right.insert(sig, rs);
    }
    let mut matched: HashMap<Vec<u8>, HashSet<LabelSet>> = HashMap::new();
    let mut out = Vec::new();
    for ls in &many {
        let sig = m.signature(&ls.labels);
        let Some(rs) = right.get(&sig) else {
            continue;
        };
        let (vl, vr) = if swapped {
            (rs.value, ls.value)
        } else {
            (ls.value, rs.value)
        };
        let (mut value, keep) = elem(op, vl, vr)?;
        if bool_mod {
            value = btos(keep);
        } else if !keep {
            continue;
        }
        let mut metric = result_metric(&ls.labels, &rs.labels, op, m);
        if bool_mod {
            metric = drop_name(&metric);
        }
        match m.card {
            Card::OneToOne => {
                if matched.insert(sig, HashSet::new()).is_some() {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
            }
            _ => {
                if !matched.entry(sig).or_default().insert(metric.clone()) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches"
                            .into(),
                    ));
                }
            }
        }
        out.push(Sample {
            labels: metric,
            value,
        });
    }
    Ok(out)
}

/// The labels of a vector-vector result: the "many" side's, without the name for
/// arithmetic, reduced to the matching labels for one-to-one matching, plus the
/// `group_x` labels taken from the "one" side.
fn result_metric(lhs: &LabelSet, rhs: &LabelSet, op: &str, m: &Matching) -> LabelSet {
    let drop = drops_name(op);
    let mut pairs: Vec<LabelPair> = lhs
        .pairs()
        .iter()
        .filter(|p| {
            if drop && &*p.name == NAME_LABEL {
                return false;
            }
            if m.card != Card::OneToOne {
                return true;
            }
            let listed = m.labels.iter().any(|l| *l == *p.name);
            listed == m.on
        })
        .cloned()
        .collect();
    for name in &m.include {
        pairs.retain(|p| *p.name != **name);
        if let Some(v) = rhs.get(name).filter(|v| !v.is_empty()) {
            pairs.push(LabelPair::new(name.as_str(), v));
        }
    }
    labels_from_pairs(pairs)
}

/// A vector against a scalar (`swap`: the scalar is on the left).
fn vector_scalar(
    op: &str,
    vector: Vec<Sample>,
    scalar: f64,
    swap: bool,
    bool_mod: bool,
) -> Result<Vec<Sample>, QueryError> {
    let comparison = is_comparison(op);
    let mut out = Vec::with_capacity(vector.len());
    for mut s in vector {
        let (l, r) = if swap {
            (scalar, s.value)
        } else {
            (s.value, scalar)
        };
        let (mut value, mut keep) = elem(op, l, r)?;
        if comparison && swap {
            value = r;
        }
        if bool_mod {
            value = btos(keep);
            keep = true;
        }
        if keep {
            s.value = value;
            if drops_name(op) || bool_mod {
                s.labels = drop_name(&s.labels);
            }
            out.push(s);
        }
    }
    Ok(out)
}

/// Prometheus's `vectorElemBinop`: the value and, for comparisons, whether it holds.
fn elem(op: &str, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "^" => (l.powf(r), true),
        "%" => (l % r, true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => {
            return Err(QueryError::Unsupported(format!(
                "binary operator \"{other}\""
            )))
        }
    })
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "^" | "%")
}

fn btos(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}
