//! Curried views of a vec ([`MetricVec::curry_with`]) and the label values of a lookup:
//! the caller's, merged with the curried ones, or found by name in `(name, value)` pairs.

use std::hash::BuildHasher;

use smallvec::SmallVec;

use super::MetricVec;
use crate::error::{Error, Result};
use crate::metrics::Metric;

/// Label values on the stack: vecs rarely have more than eight labels.
pub(super) type Values<'a> = SmallVec<[&'a str; 8]>;

/// The full label values of a lookup: the caller's own slice when the vec is not
/// curried (the common case, copied nowhere), else merged with the curried ones.
pub(super) enum Full<'a, 'b> {
    Given(&'b [&'a str]),
    Merged(Values<'a>),
}

impl<'a> std::ops::Deref for Full<'a, '_> {
    type Target = [&'a str];

    #[inline]
    fn deref(&self) -> &[&'a str] {
        match self {
            Full::Given(values) => values,
            Full::Merged(values) => values,
        }
    }
}

impl<M: Metric, S: BuildHasher + Send + Sync + 'static> MetricVec<M, S> {
    /// A view of this vec with some labels fixed: its lookups and removals take values
    /// for the remaining labels only (client_golang's `CurryWith`). The view shares the
    /// children; register the original vec, not the view.
    pub fn curry_with(&self, pairs: &[(&str, &str)]) -> Result<Self> {
        let n = self.inner.desc.variable_labels().len();
        let mut fixed: Vec<Option<Box<str>>> = match &self.curried {
            Some(c) => c.to_vec(),
            None => vec![None; n],
        };
        for &(name, value) in pairs {
            let i = self.label_position(name)?;
            if fixed[i].is_some() {
                return Err(Error::UnknownLabel {
                    metric: self.inner.desc.name().to_owned(),
                    label: name.to_owned(),
                    names: self.free_label_names(),
                });
            }
            fixed[i] = Some(value.into());
        }
        Ok(MetricVec {
            inner: self.inner.clone(),
            curried: Some(fixed.into()),
        })
    }
    #[inline]
    pub(super) fn apply_curry<'a, 'b>(&'a self, values: &'b [&'a str]) -> Result<Full<'a, 'b>> {
        let Some(curried) = &self.curried else {
            self.inner.desc.check_label_count(values.len())?;
            return Ok(Full::Given(values));
        };
        let free = curried.iter().filter(|c| c.is_none()).count();
        if values.len() != free {
            return Err(Error::LabelCount {
                metric: self.inner.desc.name().to_owned(),
                names: self.free_label_names(),
                expected: free,
                got: values.len(),
            });
        }
        let mut given = values.iter();
        Ok(Full::Merged(
            curried
                .iter()
                .map(|c| match c {
                    Some(v) => &**v,
                    None => given.next().copied().unwrap_or_default(),
                })
                .collect(),
        ))
    }

    pub(super) fn label_position(&self, name: &str) -> Result<usize> {
        self.inner
            .desc
            .variable_labels()
            .iter()
            .position(|l| &**l == name)
            .ok_or_else(|| Error::UnknownLabel {
                metric: self.inner.desc.name().to_owned(),
                label: name.to_owned(),
                names: self.inner.desc.variable_label_names(),
            })
    }

    fn free_label_names(&self) -> Vec<String> {
        let names = self.inner.desc.variable_labels().iter();
        match &self.curried {
            Some(c) => names
                .zip(c.iter())
                .filter(|(_, v)| v.is_none())
                .map(|(n, _)| n.to_string())
                .collect(),
            None => names.map(|n| n.to_string()).collect(),
        }
    }

    /// Values in the order of the free labels, from `(name, value)` pairs.
    pub(super) fn values_from_pairs<'a>(&self, pairs: &[(&str, &'a str)]) -> Result<Values<'a>> {
        let free = self.free_label_names();
        for &(name, _) in pairs {
            if !free.iter().any(|f| f == name) {
                return Err(Error::UnknownLabel {
                    metric: self.inner.desc.name().to_owned(),
                    label: name.to_owned(),
                    names: free,
                });
            }
        }
        free.iter()
            .map(|f| {
                pairs
                    .iter()
                    .find(|(n, _)| n == f)
                    .map(|&(_, v)| v)
                    .ok_or_else(|| Error::MissingLabel {
                        metric: self.inner.desc.name().to_owned(),
                        label: f.clone(),
                    })
            })
            .collect()
    }
}
