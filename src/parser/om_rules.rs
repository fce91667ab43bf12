//! The OpenMetrics 1.0 rules that span lines: which family a sample belongs to,
//! metadata placement, name clashes between families, MetricPoint grouping and
//! timestamps, per-type values and labels, and the histogram bucket rules. The syntax
//! of single lines is in `openmetrics.rs`.

use std::borrow::Cow;
use std::collections::HashSet;

use super::lex::{parse_float, Labels};
use super::ParsedType;

/// What a rule violation reports: the line it belongs to and the message.
pub(super) type Violation = (usize, String);

type Pairs<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// The sample names a type allows, as suffixes of the family name.
fn allowed_suffixes(t: Option<ParsedType>) -> &'static [&'static str] {
    match t {
        Some(ParsedType::Counter) => &["_total", "_created"],
        Some(ParsedType::Summary) => &["", "_count", "_sum", "_created"],
        Some(ParsedType::Histogram) => &["_count", "_sum", "_bucket", "_created"],
        Some(ParsedType::GaugeHistogram) => &["_gcount", "_gsum", "_bucket"],
        Some(ParsedType::Info) => &["_info"],
        _ => &[""],
    }
}

struct Family<'a> {
    name: &'a str,
    kind: Option<ParsedType>,
    help: bool,
    unit: Option<&'a str>,
    has_samples: bool,
    line: usize,
}

impl Family<'_> {
    fn kind(&self) -> ParsedType {
        self.kind.unwrap_or(ParsedType::Unknown)
    }

    fn suffix_of<'n>(&self, name: &'n str) -> Option<&'n str> {
        let suffix = name.strip_prefix(self.name)?;
        allowed_suffixes(self.kind)
            .contains(&suffix)
            .then_some(suffix)
    }
}

/// The bucket rules of one histogram MetricPoint.
struct Histogram<'a> {
    group: Pairs<'a>,
    timestamp: Option<i128>,
    line: usize,
    last_le: Option<f64>,
    last_count: f64,
    count: Option<f64>,
    negative_buckets: bool,
    has_sum: bool,
    has_gsum: bool,
    negative_gsum: bool,
}

impl Histogram<'_> {
    fn check(&self, family: &str) -> Result<(), Violation> {
        let fail = |msg: &str| Err((self.line, format!("histogram {family:?}: {msg}")));
        if self.last_le != Some(f64::INFINITY) {
            return fail("no +Inf bucket (it must be the last one)");
        }
        if self.count.is_some_and(|c| c != self.last_count) {
            return fail("_count differs from the +Inf bucket");
        }
        if self.count.is_none() && (self.has_sum || self.has_gsum) {
            return fail("_sum/_gsum without _count/_gcount");
        }
        if self.count.is_some() && !(self.has_sum || self.has_gsum) {
            return fail("_count/_gcount without _sum/_gsum");
        }
        if self.negative_buckets && self.has_sum {
            return fail("_sum is not allowed with negative buckets");
        }
        if !self.negative_buckets && self.negative_gsum {
            return fail("negative _gsum without negative buckets");
        }
        Ok(())
    }
}

/// One sample as the rules see it.
pub(super) struct SampleFacts<'a> {
    pub(super) name: &'a str,
    pub(super) labels: Labels<'a>,
    pub(super) value: f64,
    pub(super) timestamp: Option<i128>,
    pub(super) has_exemplar: bool,
    pub(super) line: usize,
}

#[derive(Default)]
pub(super) struct Rules<'a> {
    family: Option<Family<'a>>,
    seen_names: HashSet<String>,
    group: Option<Pairs<'a>>,
    group_timestamp: Option<i128>,
    seen_groups: HashSet<Pairs<'a>>,
    /// Series seen in the current group, for the repeated-timestamp rule.
    group_series: Vec<(&'a str, Pairs<'a>)>,
    histogram: Option<Histogram<'a>>,
    pairs: Pairs<'a>,
    key: Pairs<'a>,
}

impl<'a> Rules<'a> {
    /// A `# HELP`/`# TYPE`/`# UNIT` line for `name`.
    pub(super) fn metadata(
        &mut self,
        keyword: &str,
        name: &'a str,
        kind: Option<ParsedType>,
        unit: Option<&'a str>,
        line: usize,
    ) -> Result<(), Violation> {
        let same = self.family.as_ref().is_some_and(|f| f.name == name);
        if same && self.family.as_ref().is_some_and(|f| f.has_samples) {
            return Err((line, format!("# {keyword} for {name:?} after its samples")));
        }
        if !same {
            self.start_family(name, None, line)?;
        }
        let Some(family) = self.family.as_mut() else {
            return Ok(());
        };
        let repeated = match keyword {
            "HELP" => std::mem::replace(&mut family.help, true),
            "TYPE" => family
                .kind
                .replace(kind.unwrap_or(ParsedType::Unknown))
                .is_some(),
            _ => family.unit.replace(unit.unwrap_or("")).is_some(),
        };
        if repeated {
            return Err((line, format!("second # {keyword} for {name:?}")));
        }
        if let Some(unit) = family.unit.filter(|u| !u.is_empty()) {
            let suffixed = name
                .strip_suffix(unit)
                .is_some_and(|rest| rest.ends_with('_'));
            if !suffixed {
                return Err((
                    line,
                    format!("{name:?} does not end with its unit \"_{unit}\""),
                ));
            }
            if matches!(family.kind, Some(ParsedType::Info | ParsedType::StateSet)) {
                return Err((line, format!("{name:?}: info and stateset take no unit")));
            }
        }
        Ok(())
    }

    /// Checks a sample; returns its family and type, or `None` when it repeats a
    /// series at the previous sample's timestamp and is to be skipped.
    pub(super) fn sample(
        &mut self,
        s: &SampleFacts<'a>,
    ) -> Result<Option<(&'a str, ParsedType)>, Violation> {
        let fail = |msg: String| Err((s.line, msg));
        let owned = self.family.as_ref().and_then(|f| f.suffix_of(s.name));
        let suffix = match owned {
            Some(suffix) => suffix,
            None => {
                self.start_family(s.name, Some(ParsedType::Unknown), s.line)?;
                ""
            }
        };
        let Some(family) = self.family.as_mut() else {
            return Ok(None);
        };
        family.has_samples = true;
        let (fname, kind) = (family.name, family.kind());

        self.pairs.clear();
        self.pairs.extend(s.labels.iter());
        self.pairs.sort();
        let mut le = None;
        match (kind, suffix) {
            (ParsedType::StateSet, _) if s.labels.get(fname).is_none() => {
                return fail(format!("stateset sample without a label named {fname:?}"));
            }
            (_, "_bucket") => {
                let text = s.labels.get("le");
                let bound = text.as_deref().and_then(parse_float);
                match bound {
                    Some(b)
                        if !b.is_nan()
                            && (b != f64::INFINITY || text.as_deref() == Some("+Inf")) =>
                    {
                        le = Some(b);
                    }
                    _ => {
                        return fail(format!(
                            "bucket of {fname:?} needs a numeric le label (+Inf as \"+Inf\")"
                        ))
                    }
                }
                if s.value.fract() != 0.0 || !s.value.is_finite() {
                    return fail(format!("bucket value of {fname:?} must be an integer"));
                }
            }
            (_, "_count" | "_gcount") if s.value.fract() != 0.0 || !s.value.is_finite() => {
                return fail(format!("count of {fname:?} must be an integer"));
            }
            (ParsedType::Summary, "") => {
                let q = s.labels.get("quantile");
                let q = q.as_deref().and_then(parse_float);
                if !q.is_some_and(|q| (0.0..=1.0).contains(&q)) {
                    return fail(format!("quantile of {fname:?} must be a number in [0, 1]"));
                }
            }
            _ => {}
        }

        // Grouping: the MetricPoint's labels without le, quantile or the state label.
        self.key.clear();
        if kind != ParsedType::Info {
            let drop = match (kind, suffix) {
                (ParsedType::Summary, "") => Some("quantile"),
                (ParsedType::StateSet, _) => Some(fname),
                (_, "_bucket") => Some("le"),
                _ => None,
            };
            let pairs = self.pairs.iter().filter(|(n, _)| Some(*n) != drop);
            self.key.extend(pairs.cloned());
        }
        let keep = self.group_rules(s, kind)?;

        let v = s.value;
        match (kind, suffix) {
            (ParsedType::StateSet, _) if v != 0.0 && v != 1.0 => {
                return fail(format!("stateset {fname:?} values must be 0 or 1"));
            }
            (ParsedType::Info, _) if v != 1.0 => {
                return fail(format!("info {fname:?} values must be 1"));
            }
            (ParsedType::Summary, "") if v < 0.0 => {
                return fail(format!("quantile values of {fname:?} cannot be negative"));
            }
            _ => {}
        }
        let counter_like = matches!(
            suffix,
            "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum"
        );
        if counter_like && v.is_nan() {
            return fail(format!("{}: counter-like values cannot be NaN", s.name));
        }
        if counter_like && suffix != "_gsum" && v < 0.0 {
            return fail(format!(
                "{}: counter-like values cannot be negative",
                s.name
            ));
        }
        let exemplar_ok = match kind {
            ParsedType::Histogram | ParsedType::GaugeHistogram => suffix == "_bucket",
            ParsedType::Counter => suffix == "_total",
            _ => false,
        };
        if s.has_exemplar && !exemplar_ok {
            return fail(format!(
                "{}: only counter _total and bucket samples take exemplars",
                s.name
            ));
        }
        if keep && matches!(kind, ParsedType::Histogram | ParsedType::GaugeHistogram) {
            self.histogram_rules(s, suffix, le, fname)?;
        }
        Ok(keep.then_some((fname, kind)))
    }

    /// Grouping and timestamps; returns whether the sample is kept.
    fn group_rules(&mut self, s: &SampleFacts<'a>, kind: ParsedType) -> Result<bool, Violation> {
        let same_group = self.group.as_ref() == Some(&self.key);
        if self.group.is_some() {
            if !same_group && self.seen_groups.contains(&self.key) {
                return Err((
                    s.line,
                    format!(
                        "{}: samples of one MetricPoint group must be together",
                        s.name
                    ),
                ));
            }
            if same_group {
                if s.timestamp.is_some() != self.group_timestamp.is_some() {
                    return Err((
                        s.line,
                        format!(
                            "{}: mix of samples with and without timestamps in a group",
                            s.name
                        ),
                    ));
                }
                if kind != ParsedType::Info && s.timestamp < self.group_timestamp {
                    return Err((s.line, format!("{}: timestamp goes backwards", s.name)));
                }
            }
        }
        if !same_group {
            self.group_series.clear();
        }
        let seen = self
            .group_series
            .iter()
            .any(|(n, p)| *n == s.name && *p == self.pairs);
        let keep = s.timestamp != self.group_timestamp || !seen;
        if !seen {
            self.group_series.push((s.name, self.pairs.clone()));
        }
        if !same_group {
            self.seen_groups.insert(self.key.clone());
            self.group = Some(self.key.clone());
        }
        self.group_timestamp = s.timestamp;
        Ok(keep)
    }

    fn histogram_rules(
        &mut self,
        s: &SampleFacts<'a>,
        suffix: &str,
        le: Option<f64>,
        fname: &str,
    ) -> Result<(), Violation> {
        let fresh = self
            .histogram
            .as_ref()
            .is_none_or(|h| h.group != self.key || h.timestamp != s.timestamp);
        if fresh {
            if let Some(done) = self.histogram.take() {
                done.check(fname)?;
            }
            self.histogram = Some(Histogram {
                group: self.key.clone(),
                timestamp: s.timestamp,
                line: s.line,
                last_le: None,
                last_count: 0.0,
                count: None,
                negative_buckets: false,
                has_sum: false,
                has_gsum: false,
                negative_gsum: false,
            });
        }
        let Some(h) = self.histogram.as_mut() else {
            return Ok(());
        };
        match (suffix, le) {
            ("_bucket", Some(le)) => {
                h.negative_buckets |= le < 0.0;
                if h.last_le.is_some_and(|prev| le <= prev) {
                    return Err((s.line, format!("histogram {fname:?}: buckets out of order")));
                }
                if s.value < h.last_count {
                    return Err((
                        s.line,
                        format!("histogram {fname:?}: bucket counts decrease"),
                    ));
                }
                h.last_le = Some(le);
                h.last_count = s.value;
            }
            ("_count" | "_gcount", _) => h.count = Some(s.value),
            ("_sum", _) => h.has_sum = true,
            ("_gsum", _) => {
                h.has_gsum = true;
                h.negative_gsum |= s.value < 0.0;
            }
            _ => {}
        }
        Ok(())
    }

    fn start_family(
        &mut self,
        name: &'a str,
        kind: Option<ParsedType>,
        line: usize,
    ) -> Result<(), Violation> {
        self.finish()?;
        self.family = Some(Family {
            name,
            kind,
            help: false,
            unit: None,
            has_samples: false,
            line,
        });
        Ok(())
    }

    /// Ends the current family: its last histogram MetricPoint and name clashes.
    pub(super) fn finish(&mut self) -> Result<(), Violation> {
        let Some(family) = self.family.take() else {
            return Ok(());
        };
        if let Some(h) = self.histogram.take() {
            h.check(family.name)?;
        }
        self.group = None;
        self.group_timestamp = None;
        self.seen_groups.clear();
        self.group_series.clear();
        let mut names: Vec<String> = allowed_suffixes(family.kind)
            .iter()
            .chain(&[""])
            .map(|suffix| format!("{}{suffix}", family.name))
            .collect();
        names.sort();
        names.dedup();
        if let Some(full) = names.iter().find(|n| self.seen_names.contains(*n)) {
            return Err((
                family.line,
                format!(
                    "family {:?} clashes with an earlier family using {full:?}",
                    family.name
                ),
            ));
        }
        self.seen_names.extend(names);
        Ok(())
    }
}
