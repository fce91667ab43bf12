//! The [`Collector`] trait and [`Collected`], the sink collectors write families into,
//! with const-metric builders for samples made afresh on every gather.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use crate::desc::Desc;
use crate::error::Error;
use crate::family::{Bucket, HistogramValue, MetricFamily, Sample, SummaryValue, Value};

/// Something that reports metric families when gathered.
///
/// Metrics, vecs and your own exporters all implement it, so a [`Registry`] gathers
/// everything in one loop.
///
/// # Contract
/// - `describe` returns the descriptors of every family `collect` may report. The
///   registry uses them to reject duplicate or conflicting registrations. A collector
///   that cannot know its families in advance returns an empty list: it is *unchecked*,
///   and only the consistency checks at gather time apply to it.
/// - `collect` writes the current samples into `out`. It is called once per gather, may
///   be called from several threads at once, and must not block for long: it runs while
///   a scrape waits. Problems go into `out` as errors ([`Collected::error`]); the samples
///   that could be gathered are still exposed.
/// - A panic in `collect` costs only this collector's samples; the registry reports it
///   as [`Error::CollectorPanicked`].
///
/// [`Registry`]: crate::Registry
///
/// ```
/// use promsdk::{Collected, Collector, Desc, MetricType, Opts};
///
/// /// Reports the queue lengths of a job system, read fresh on every scrape.
/// struct Queues {
///     desc: Desc,
/// }
///
/// impl Collector for Queues {
///     fn describe(&self) -> Vec<Desc> {
///         vec![self.desc.clone()]
///     }
///     fn collect(&self, out: &mut Collected) {
///         let mut family = out.family(&self.desc);
///         for (queue, len) in [("email", 3.0), ("billing", 0.0)] {
///             family.gauge(&[queue], len);
///         }
///     }
/// }
///
/// let desc = Desc::new(Opts::new("queue_length", "Jobs waiting."), MetricType::Gauge, &["queue"]).unwrap();
/// let mut out = Collected::default();
/// Queues { desc }.collect(&mut out);
/// assert_eq!(out.families()[0].samples.len(), 2);
/// assert!(out.errors().is_empty());
/// ```
pub trait Collector: Any + Send + Sync {
    /// The descriptors of every family `collect` may report; empty for an unchecked
    /// collector.
    fn describe(&self) -> Vec<Desc>;

    /// Writes the current samples into `out`.
    fn collect(&self, out: &mut Collected);
}

impl<C: Collector + ?Sized> Collector for Arc<C>
where
    Arc<C>: Any,
{
    fn describe(&self) -> Vec<Desc> {
        (**self).describe()
    }

    fn collect(&self, out: &mut Collected) {
        (**self).collect(out)
    }
}

/// Where collectors write: families, and errors met while collecting.
///
/// A `Collected` can be reused across gathers ([`Collected::clear`]): sample buffers of
/// the previous gather are kept and handed out again, so a warmed-up gather does not
/// allocate per series.
#[derive(Debug, Default)]
pub struct Collected {
    families: Vec<MetricFamily>,
    errors: Vec<Error>,
    spare: Vec<Vec<Sample>>,
    /// Families started since the last `clear`: the most buffers one gather uses.
    started: usize,
    /// Samples of the previous gather that their writer asked to get back (see
    /// [`Collected::family_reusing`]), by the address of the family name they were
    /// written under (the `Arc` kept beside them holds that address).
    previous: HashMap<usize, (Arc<str>, Vec<Sample>), foldhash::fast::RandomState>,
}

impl Collected {
    /// Starts a family described by `desc` and returns a writer for its samples.
    pub fn family<'a>(&'a mut self, desc: &'a Desc) -> FamilyWriter<'a> {
        let mut family = desc.family();
        family.samples = self.spare.pop().unwrap_or_default();
        self.start(desc, family)
    }

    /// Like [`Collected::family`], but the writer finds the samples it wrote under this
    /// descriptor at the previous gather (once the sink was cleared in between), to
    /// update in place. A vec uses it: overwriting the value of a sample whose labels
    /// are still the same `LabelSet` touches no reference count, where dropping the old
    /// sample and cloning the labels again would touch it twice, each time on a cache
    /// line of its own.
    pub(crate) fn family_reusing<'a>(&'a mut self, desc: &'a Desc) -> FamilyWriter<'a> {
        let mut family = desc.family();
        family.samples = match self.previous.remove(&name_key(&family.name)) {
            Some((_, samples)) => samples,
            None => self.spare.pop().unwrap_or_default(),
        };
        family.marks.reuse = true;
        self.start(desc, family)
    }

    fn start<'a>(&'a mut self, desc: &'a Desc, family: MetricFamily) -> FamilyWriter<'a> {
        self.families.push(family);
        self.started += 1;
        let family = self.families.last_mut().expect("just pushed");
        FamilyWriter {
            desc,
            family,
            errors: &mut self.errors,
        }
    }

    /// Adds a family built by hand; its samples are checked at gather time.
    pub fn push_family(&mut self, family: MetricFamily) {
        self.families.push(family);
        self.started += 1;
    }

    /// Drops the families from index `len` on, keeping their sample buffers for reuse
    /// (the registry drops a panicking collector's families and merged duplicates so).
    pub fn truncate(&mut self, len: usize) {
        while self.families.len() > len {
            if let Some(family) = self.families.pop() {
                self.recycle(family.samples);
            }
        }
    }

    fn recycle(&mut self, mut samples: Vec<Sample>) {
        samples.clear();
        if samples.capacity() > 0 {
            self.spare.push(samples);
        }
    }

    /// Reports an error met while collecting.
    pub fn error(&mut self, error: Error) {
        self.errors.push(error);
    }

    /// The families written so far.
    pub fn families(&self) -> &[MetricFamily] {
        &self.families
    }

    /// The families, mutably. A family changed through this reference is checked in
    /// full by the gather, as a hand-built one is.
    pub fn families_mut(&mut self) -> &mut Vec<MetricFamily> {
        for family in &mut self.families {
            family.marks.verified = false;
        }
        &mut self.families
    }

    /// The families, mutably, for the crate's own changes that keep what a verified
    /// family promises (the registry's merge and checks, views adding the same constant
    /// labels to every sample, which keeps their order).
    pub(crate) fn families_in_place(&mut self) -> &mut Vec<MetricFamily> {
        &mut self.families
    }

    /// The errors reported so far.
    pub fn errors(&self) -> &[Error] {
        &self.errors
    }

    /// Takes the families and errors out, leaving this sink empty.
    pub fn take(&mut self) -> (Vec<MetricFamily>, Vec<Error>) {
        (
            std::mem::take(&mut self.families),
            std::mem::take(&mut self.errors),
        )
    }

    /// Empties the sink for the next gather, keeping sample buffers for reuse (at most
    /// as many as the last gather started families, so hand-built families brought in
    /// with [`Collected::push_family`] do not pile up buffers).
    pub fn clear(&mut self) {
        self.errors.clear();
        // Samples kept at the last clear that nobody asked back for this time.
        for (_, (_, samples)) in std::mem::take(&mut self.previous) {
            self.recycle(samples);
        }
        while let Some(family) = self.families.pop() {
            if family.marks.reuse {
                let key = name_key(&family.name);
                if let Some((_, older)) = self.previous.insert(key, (family.name, family.samples)) {
                    self.recycle(older);
                }
            } else {
                self.recycle(family.samples);
            }
        }
        self.spare.truncate(self.started);
        self.started = 0;
    }
}

/// The identity of a family name: its address (a descriptor's families share its name).
fn name_key(name: &Arc<str>) -> usize {
    Arc::as_ptr(name) as *const u8 as usize
}

/// Writes the samples of one family; returned by [`Collected::family`].
///
/// Every method checks its input against the descriptor: a wrong number of label
/// values or a value of another type is reported as an error naming the metric, and
/// the sample is left out.
pub struct FamilyWriter<'a> {
    desc: &'a Desc,
    family: &'a mut MetricFamily,
    errors: &'a mut Vec<Error>,
}

impl FamilyWriter<'_> {
    /// Adds a sample with `value` for the series with these variable label values.
    pub fn sample(&mut self, label_values: &[&str], value: Value) -> &mut Self {
        self.push(label_values, value, None)
    }

    /// Adds a sample with an explicit timestamp in milliseconds since the Unix epoch.
    pub fn sample_at(
        &mut self,
        label_values: &[&str],
        value: Value,
        timestamp_ms: i64,
    ) -> &mut Self {
        self.push(label_values, value, Some(timestamp_ms))
    }

    /// Promises that the samples written are strictly increasing by labels, match the
    /// descriptor and carry no timestamps, so the gather need not check them again.
    pub(crate) fn mark_verified(&mut self) {
        self.family.marks.verified = true;
    }

    /// The samples written so far, for a writer that guarantees their type (a vec
    /// writing its children).
    pub(crate) fn samples_mut(&mut self) -> &mut Vec<Sample> {
        &mut self.family.samples
    }

    /// Adds a sample whose labels are already complete (constant labels included);
    /// only its type is checked. Vecs use this to push their children.
    pub fn push_sample(&mut self, sample: Sample) -> &mut Self {
        if self.check_type(&sample.value) {
            self.family.samples.push(sample);
        }
        self
    }

    /// Adds a counter sample.
    pub fn counter(&mut self, label_values: &[&str], total: f64) -> &mut Self {
        self.sample(label_values, Value::counter(total))
    }

    /// Adds a gauge sample.
    pub fn gauge(&mut self, label_values: &[&str], value: f64) -> &mut Self {
        self.sample(label_values, Value::Gauge(value))
    }

    /// Adds an untyped sample.
    pub fn untyped(&mut self, label_values: &[&str], value: f64) -> &mut Self {
        self.sample(label_values, Value::Unknown(value))
    }

    /// Adds a histogram from `(upper_bound, cumulative_count)` pairs (ascending; a
    /// `+Inf` bucket holding `count` is added if missing), `count` and `sum`.
    pub fn histogram(
        &mut self,
        label_values: &[&str],
        buckets: &[(f64, u64)],
        count: u64,
        sum: f64,
    ) -> &mut Self {
        let mut list: Vec<Bucket> = buckets
            .iter()
            .map(|&(upper_bound, cumulative_count)| Bucket {
                upper_bound,
                cumulative_count,
                exemplar: None,
            })
            .collect();
        if list.last().is_none_or(|b| b.upper_bound != f64::INFINITY) {
            list.push(Bucket {
                upper_bound: f64::INFINITY,
                cumulative_count: count,
                exemplar: None,
            });
        }
        let value = HistogramValue {
            buckets: list,
            count,
            sum,
            created: None,
        };
        self.sample(label_values, Value::Histogram(Box::new(value)))
    }

    /// Adds a summary from `(quantile, value)` pairs, `count` and `sum`.
    pub fn summary(
        &mut self,
        label_values: &[&str],
        quantiles: &[(f64, f64)],
        count: u64,
        sum: f64,
    ) -> &mut Self {
        let value = SummaryValue {
            quantiles: quantiles.to_vec(),
            count,
            sum,
            created: None,
        };
        self.sample(label_values, Value::Summary(Box::new(value)))
    }

    /// Adds an info sample: the label values are the information.
    pub fn info(&mut self, label_values: &[&str]) -> &mut Self {
        self.sample(label_values, Value::Info)
    }

    /// Adds a state set sample from `(state, is_set)` pairs.
    pub fn state_set(&mut self, label_values: &[&str], states: &[(&str, bool)]) -> &mut Self {
        let states = states.iter().map(|&(s, on)| (Arc::from(s), on)).collect();
        self.sample(label_values, Value::StateSet(states))
    }

    fn check_type(&mut self, value: &Value) -> bool {
        let expected = self.desc.metric_type();
        if value.metric_type() == expected {
            return true;
        }
        self.errors.push(Error::InconsistentSample {
            name: self.desc.name().to_owned(),
            reason: format!(
                "a {:?} value was written to a {:?} family",
                value.metric_type(),
                expected
            ),
        });
        false
    }

    fn push(
        &mut self,
        label_values: &[&str],
        value: Value,
        timestamp_ms: Option<i64>,
    ) -> &mut Self {
        if !self.check_type(&value) {
            return self;
        }
        match self.desc.labels(label_values) {
            Ok(labels) => self.family.samples.push(Sample {
                labels,
                value,
                timestamp_ms,
            }),
            Err(e) => self.errors.push(e),
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Desc, MetricType, Opts};

    #[test]
    fn clear_reuses_buffers_without_piling_them_up() {
        let desc = Desc::new(Opts::new("g", "h"), MetricType::Gauge, &[]).unwrap();
        let mut out = Collected::default();
        for _ in 0..5 {
            out.clear();
            out.family(&desc).gauge(&[], 1.0);
            let mut built = desc.family();
            built.samples.reserve(4);
            out.push_family(built);
        }
        // Each round started two families, so at most two buffers are kept.
        out.clear();
        assert_eq!(out.spare.len(), 2);
        let ptr = out.spare.last().map(|v| v.as_ptr());
        out.family(&desc);
        assert_eq!(
            out.families()[0].samples.as_ptr(),
            ptr.unwrap(),
            "buffer reused"
        );
        out.truncate(0);
        assert!(out.families().is_empty());
    }
}
