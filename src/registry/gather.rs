//! Gathering: one loop over the registered collectors, then merging, sorting and
//! checking what they wrote. Problems are reported beside the families, never by
//! panicking: what could be gathered is still returned (client_golang's `Gather` returns
//! families and a `MultiError` the same way).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use smallvec::SmallVec;

use super::exemplars::drop_long_exemplars;
use super::{suffix_clash, Entry, Names, Registry};
use crate::collector::Collected;
use crate::desc::Desc;
use crate::error::Error;
use crate::family::{MetricFamily, MetricType, Sample};
use crate::labels::{check_label_name, is_valid_metric_name, LabelSet};

/// What a gather produced: the families that could be gathered, sorted by name with
/// samples sorted by labels, and every problem met on the way.
#[derive(Debug, Default)]
pub struct Gathered {
    /// The families, sorted by name.
    pub families: Vec<MetricFamily>,
    /// The problems; the samples concerned are left out of `families` (for a too-long
    /// exemplar, only the exemplar).
    pub errors: Vec<Error>,
}

impl Registry {
    /// Collects every registered collector into sorted families.
    ///
    /// Families of the same name from different collectors are merged (they must agree
    /// on type, help and unit; a disagreeing family is dropped). Reported in
    /// [`Gathered::errors`], with the offending samples left out:
    /// - a sample whose value type is not the family's type;
    /// - a repeated series (same labels twice in a family: the first is kept);
    /// - samples whose label names differ from the family's first sample;
    /// - invalid metric or label names in families built by hand;
    /// - families of a checked collector it did not describe, or samples matching none
    ///   of its descriptors;
    /// - families of an unchecked collector that disagree with a registered descriptor
    ///   of the same name, or collide with another family through a suffix;
    /// - a collector panicking in `collect` ([`Error::CollectorPanicked`]): only its
    ///   own families are lost.
    /// - an exemplar (on a counter or a histogram bucket) whose labels exceed
    ///   [`MAX_EXEMPLAR_LABEL_CHARS`](crate::MAX_EXEMPLAR_LABEL_CHARS)
    ///   ([`Error::ExemplarDropped`]): only the exemplar is removed, the sample and its
    ///   value stay.
    ///
    /// ```
    /// use promsdk::{Gauge, Opts, Registry};
    /// let registry = Registry::default();
    /// registry.register_metric(Opts::new("b", "B."), Gauge::default()).unwrap();
    /// registry.register_metric(Opts::new("a", "A."), Gauge::default()).unwrap();
    /// let names: Vec<_> = registry.gather().families.iter().map(|f| f.name.to_string()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// ```
    pub fn gather(&self) -> Gathered {
        let mut out = Collected::default();
        self.gather_into(&mut out);
        let (families, errors) = out.take();
        Gathered { families, errors }
    }

    /// Like [`Registry::gather`], writing into `out` after clearing it, so that a sink
    /// kept between gathers reuses its sample buffers.
    ///
    /// ```
    /// use promsdk::{Collected, Gauge, Opts, Registry};
    /// let registry = Registry::default();
    /// registry.register_metric(Opts::new("up", "Up."), Gauge::default()).unwrap();
    /// let mut sink = Collected::default();
    /// for _ in 0..3 {
    ///     registry.gather_into(&mut sink);
    ///     assert_eq!(sink.families().len(), 1);
    /// }
    /// ```
    pub fn gather_into(&self, out: &mut Collected) {
        out.clear();
        self.collect_into(out);
        finish(out);
    }

    /// Runs every collector, appending its checked families to `out`.
    fn collect_into(&self, out: &mut Collected) {
        let (entries, names) = self.snapshot();
        for entry in entries.iter() {
            collect_one(entry, &names, out);
        }
    }
}

/// Gathers several registries as one (client_golang's `Gatherers`), with the same
/// merging and checks as [`Registry::gather`].
///
/// ```
/// use promsdk::{gather_all, Gauge, Opts, Registry};
/// let (app, lib) = (Registry::default(), Registry::default());
/// app.register_metric(Opts::new("app_up", "Up."), Gauge::default()).unwrap();
/// lib.register_metric(Opts::new("lib_up", "Up."), Gauge::default()).unwrap();
/// assert_eq!(gather_all(&[&app, &lib]).families.len(), 2);
/// ```
pub fn gather_all(registries: &[&Registry]) -> Gathered {
    let mut out = Collected::default();
    gather_all_into(registries, &mut out);
    let (families, errors) = out.take();
    Gathered { families, errors }
}

/// Like [`gather_all`], writing into `out` after clearing it, so that a sink kept
/// between gathers reuses its sample buffers (what the `/metrics` service does).
///
/// ```
/// use promsdk::{gather_all_into, Collected, Gauge, Opts, Registry};
/// let (app, lib) = (Registry::default(), Registry::default());
/// app.register_metric(Opts::new("app_up", "Up."), Gauge::default()).unwrap();
/// lib.register_metric(Opts::new("lib_up", "Up."), Gauge::default()).unwrap();
/// let mut sink = Collected::default();
/// gather_all_into(&[&app, &lib], &mut sink);
/// assert_eq!(sink.families().len(), 2);
/// ```
pub fn gather_all_into(registries: &[&Registry], out: &mut Collected) {
    out.clear();
    for registry in registries {
        registry.collect_into(out);
    }
    finish(out);
}

/// Runs one collector, dropping everything it wrote if it panics, then checks its
/// families against its descriptors (checked) or the registered names (unchecked).
fn collect_one(entry: &Entry, names: &Names, out: &mut Collected) {
    let start = out.families().len();
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| entry.collector.collect(out))) {
        out.truncate(start);
        out.error(Error::CollectorPanicked {
            names: entry.names(),
            message: panic_message(payload.as_ref()),
        });
        return;
    }
    let mut errors = Vec::new();
    let families = out.families_in_place();
    let kept = compact(families, start, |_, family| {
        if entry.descs.is_empty() {
            check_unchecked(family, names, &mut errors)
        } else {
            check_checked(family, &entry.descs, &mut errors)
        }
    });
    out.truncate(kept);
    for e in errors {
        out.error(e);
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}

/// Moves the families of `families[start..]` that `keep` (given each one's index)
/// accepts to the front of that range, in order; returns the new length (what follows
/// is for `Collected::truncate`).
fn compact(
    families: &mut [MetricFamily],
    start: usize,
    mut keep: impl FnMut(usize, &mut MetricFamily) -> bool,
) -> usize {
    let mut w = start;
    for r in start..families.len() {
        if keep(r, &mut families[r]) {
            families.swap(w, r);
            w += 1;
        }
    }
    w
}

fn inconsistent(family: &MetricFamily, reason: String) -> Error {
    Error::InconsistentSample {
        name: family.name.to_string(),
        reason,
    }
}

/// Keeps the samples `keep` accepts; one error for all dropped ones, naming the first.
fn retain_samples(
    family: &mut MetricFamily,
    errors: &mut Vec<Error>,
    what: &str,
    mut keep: impl FnMut(&Sample) -> bool,
) {
    let mut dropped = 0usize;
    let mut first: Option<LabelSet> = None;
    family.samples.retain(|s| {
        let ok = keep(s);
        if !ok {
            dropped += 1;
            first.get_or_insert_with(|| s.labels.clone());
        }
        ok
    });
    if let Some(labels) = first {
        let reason = format!("{dropped} sample(s) dropped: {what} (first: {labels:?})");
        errors.push(inconsistent(family, reason));
    }
}

/// Whether `labels` are exactly the labels of a series described by `desc`.
fn matches_desc(desc: &Desc, labels: &LabelSet) -> bool {
    labels.len() == desc.const_labels().len() + desc.variable_labels().len()
        && desc
            .const_labels()
            .iter()
            .all(|c| labels.get(&c.name) == Some(&*c.value))
        && desc
            .variable_labels()
            .iter()
            .all(|v| labels.get(v).is_some())
}

fn check_checked(family: &mut MetricFamily, descs: &[Desc], errors: &mut Vec<Error>) -> bool {
    let candidates: SmallVec<[&Desc; 4]> =
        descs.iter().filter(|d| d.name() == &*family.name).collect();
    let Some(desc) = candidates.first() else {
        let reason = "its collector did not describe this family".to_owned();
        errors.push(inconsistent(family, reason));
        return false;
    };
    if desc.metric_type() != family.metric_type
        || desc.help() != &*family.help
        || desc.unit() != family.unit.as_deref()
    {
        let reason = format!(
            "type {:?}, help {:?}, unit {:?} differ from its descriptor's {:?}, {:?}, {:?}",
            family.metric_type,
            family.help,
            family.unit,
            desc.metric_type(),
            desc.help(),
            desc.unit()
        );
        errors.push(inconsistent(family, reason));
        return false;
    }
    if family.marks.verified {
        return true;
    }
    // Fast path: a sample with the same label names as the last one matched by a
    // descriptor without constant labels matches it too.
    let mut last_match: Option<LabelSet> = None;
    retain_samples(
        family,
        errors,
        "labels match none of its descriptors",
        |s| {
            if last_match.as_ref().is_some_and(|l| l.same_names(&s.labels)) {
                return true;
            }
            match candidates.iter().find(|d| matches_desc(d, &s.labels)) {
                Some(d) => {
                    if d.const_labels().is_empty() {
                        last_match = Some(s.labels.clone());
                    }
                    true
                }
                None => false,
            }
        },
    );
    true
}

fn check_unchecked(family: &mut MetricFamily, names: &Names, errors: &mut Vec<Error>) -> bool {
    if !is_valid_metric_name(&family.name) {
        errors.push(Error::InvalidMetricName {
            name: family.name.to_string(),
        });
        return false;
    }
    if let Some(info) = names.get(&*family.name) {
        let sig = &info.sig;
        if sig.metric_type != family.metric_type
            || sig.help != family.help
            || sig.unit != family.unit
        {
            errors.push(Error::ConflictingDescriptor {
                name: family.name.to_string(),
                reason: format!(
                    "an unchecked collector reported type {:?}, help {:?}, unit {:?}; the registered descriptor has {:?}, {:?}, {:?}",
                    family.metric_type, family.help, family.unit, sig.metric_type, sig.help, sig.unit
                ),
            });
            return false;
        }
        let what = "label names differ from the registered descriptor's";
        retain_samples(family, errors, what, |s| {
            s.labels.len() == sig.label_names.len()
                && s.labels
                    .iter()
                    .zip(&sig.label_names)
                    .all(|((n, _), r)| n == &**r)
        });
        return true;
    }
    let reserved = match family.metric_type {
        MetricType::Histogram => Some("le"),
        MetricType::Summary => Some("quantile"),
        _ => None,
    };
    let name = family.name.clone();
    let mut last_valid: Option<LabelSet> = None;
    retain_samples(family, errors, "invalid or reserved label name", |s| {
        if last_valid.as_ref().is_some_and(|l| l.same_names(&s.labels)) {
            return true;
        }
        let valid = s
            .labels
            .iter()
            .all(|(n, _)| check_label_name(&name, n).is_ok() && Some(n) != reserved);
        if valid {
            last_valid = Some(s.labels.clone());
        }
        valid
    });
    true
}

/// Merges families of the same name, checks suffix collisions, then checks, sorts and
/// de-duplicates the samples of each family.
fn finish(out: &mut Collected) {
    let mut errors = Vec::new();
    let families = out.families_in_place();
    if !families.is_sorted_by(|a, b| a.name <= b.name) {
        // Stable: families of one name stay in collector order, so the first
        // collector's series wins a duplicate.
        families.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let mut w = 0;
    for r in 0..families.len() {
        if w > 0 && families[w - 1].name == families[r].name {
            let (head, tail) = families.split_at_mut(r);
            let (first, other) = (&mut head[w - 1], &mut tail[0]);
            if first.metric_type == other.metric_type
                && first.help == other.help
                && first.unit == other.unit
            {
                first.samples.append(&mut other.samples);
                first.marks.verified = false;
            } else {
                let reason = format!(
                    "gathered as {:?} with help {:?} and unit {:?}, and again as {:?} with help {:?} and unit {:?}; the second was dropped",
                    first.metric_type, first.help, first.unit, other.metric_type, other.help, other.unit
                );
                errors.push(inconsistent(first, reason));
            }
        } else {
            families.swap(w, r);
            w += 1;
        }
    }

    let merged = &families[..w];
    let type_of = |name: &str| {
        merged
            .binary_search_by(|f| (*f.name).cmp(name))
            .ok()
            .map(|i| merged[i].metric_type)
    };
    let clashes: Vec<usize> = (0..w)
        .filter(|&i| {
            suffix_clash(&merged[i].name, type_of).is_some_and(|reason| {
                errors.push(Error::ConflictingDescriptor {
                    name: merged[i].name.to_string(),
                    reason: format!("{reason}; the family was dropped"),
                });
                true
            })
        })
        .collect();
    let kept = compact(&mut families[..w], 0, |i, _| !clashes.contains(&i));

    for family in &mut families[..kept] {
        check_samples(family, &mut errors);
    }
    out.truncate(kept);
    for e in errors {
        out.error(e);
    }
}

/// Value types, exemplar lengths, label-name consistency, order and uniqueness of one
/// family's samples.
fn check_samples(family: &mut MetricFamily, errors: &mut Vec<Error>) {
    if family.marks.verified {
        return;
    }
    if family
        .samples
        .iter()
        .any(|s| s.timestamp_ms.is_some_and(|ts| ts < 0))
    {
        let what = "timestamp is before 1970, which the text format cannot carry";
        retain_samples(family, errors, what, |s| {
            s.timestamp_ms.is_none_or(|ts| ts >= 0)
        });
    }
    let t = family.metric_type;
    if family.samples.iter().any(|s| s.value.metric_type() != t) {
        let what = format!("value type is not {t:?}");
        retain_samples(family, errors, &what, |s| s.value.metric_type() == t);
    }
    if matches!(t, MetricType::Counter | MetricType::Histogram) {
        drop_long_exemplars(family, errors);
    }
    if let Some(first) = family.samples.first().map(|s| s.labels.clone()) {
        if !family.samples.iter().all(|s| s.labels.same_names(&first)) {
            let what = format!("label names differ from the first sample's {first:?}");
            retain_samples(family, errors, &what, |s| s.labels.same_names(&first));
        }
    }
    // One pass proves the common case (a vec's children: strictly increasing, so sorted
    // and unique); only otherwise sort and drop repeats.
    if family.samples.is_sorted_by(|a, b| a.labels < b.labels) {
        return;
    }
    // Stable, so the first of two equal series stays first.
    family.samples.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut repeated = 0usize;
    let mut first_repeat: Option<LabelSet> = None;
    family.samples.dedup_by(|later, earlier| {
        let same = later.labels == earlier.labels;
        if same {
            repeated += 1;
            first_repeat.get_or_insert_with(|| later.labels.clone());
        }
        same
    });
    if let Some(labels) = first_repeat {
        let reason = format!(
            "{repeated} series collected more than once, the first kept (first: {labels:?})"
        );
        errors.push(inconsistent(family, reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::Value;

    fn family(name: &str, t: MetricType, samples: Vec<Sample>) -> MetricFamily {
        let mut f = MetricFamily::new(name, "h", t);
        f.samples = samples;
        f
    }

    fn sample(pairs: &[(&str, &str)], value: Value) -> Sample {
        Sample::new(LabelSet::from_pairs("m", pairs).unwrap(), value)
    }

    #[test]
    fn finish_merges_sorts_and_dedups() {
        let mut out = Collected::default();
        out.push_family(family(
            "b",
            MetricType::Gauge,
            vec![sample(&[("x", "2")], Value::Gauge(2.0))],
        ));
        out.push_family(family(
            "a",
            MetricType::Gauge,
            vec![sample(&[("x", "1")], Value::Gauge(1.0))],
        ));
        out.push_family(family(
            "b",
            MetricType::Gauge,
            vec![
                sample(&[("x", "1")], Value::Gauge(1.0)),
                sample(&[("x", "2")], Value::Gauge(9.0)),
            ],
        ));
        finish(&mut out);
        let (families, errors) = out.take();
        let names: Vec<&str> = families.iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["a", "b"]);
        let b: Vec<_> = families[1]
            .samples
            .iter()
            .map(|s| (s.labels.get("x").unwrap(), s.value.clone()))
            .collect();
        assert_eq!(b, [("1", Value::Gauge(1.0)), ("2", Value::Gauge(2.0))]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].to_string().contains("more than once"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn compact_keeps_order() {
        let mut fams: Vec<MetricFamily> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| family(n, MetricType::Gauge, vec![]))
            .collect();
        let kept = compact(&mut fams, 1, |_, f| &*f.name != "c");
        let names: Vec<&str> = fams[..kept].iter().map(|f| &*f.name).collect();
        assert_eq!(names, ["a", "b", "d"]);
    }

    #[test]
    fn panic_messages() {
        let p = catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(p.as_ref()), "boom 1");
        let p = catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert!(panic_message(p.as_ref()).contains("non-string"));
    }
}
