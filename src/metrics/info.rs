//! [`Info`]: an OpenMetrics info metric, whose labels carry the information and whose
//! value is always 1.

use super::shared::Shared;
use super::{Lifecycle, Metric, NewChild};
use crate::error::Result;
use crate::family::{MetricType, Value};

/// An info metric (OpenMetrics `info`, exposed as `<name>_info{...} 1`): build, version
/// or target facts carried in the labels of its vec or descriptor.
///
/// It has nothing to update: its presence is the information. In a vec with a TTL,
/// [`Info::touch`] marks it as still wanted.
///
/// ```
/// use promsdk::{Info, Metric, Value};
/// assert_eq!(Info::default().value(), Value::Info);
/// ```
#[derive(Debug, Clone)]
pub struct Info(Shared<Lifecycle>);

impl Default for Info {
    fn default() -> Self {
        Self::from_config(&(), NewChild::default())
    }
}

impl Info {
    /// An info metric.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the metric as still in use (the only "update" an info metric has).
    pub fn touch(&self) {
        self.0.touch();
    }
}

impl Metric for Info {
    type Config = ();
    const TYPE: MetricType = MetricType::Info;

    fn check_config(_: &str, _: &()) -> Result<()> {
        Ok(())
    }

    fn from_config(_: &(), child: NewChild<'_>) -> Self {
        Info(Shared::new(child, |lifecycle| lifecycle))
    }

    fn value(&self) -> Value {
        Value::Info
    }

    fn lifecycle(&self) -> &Lifecycle {
        &self.0
    }

    fn handle_count(&self) -> usize {
        self.0.handle_count()
    }

    fn into_handles<const N: usize>(self) -> [Self; N] {
        self.0.into_handles().map(Info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_core() {
        let info = Info::new();
        assert_eq!(info.handle_count(), 1);
        let other = info.clone();
        other.touch();
        assert_eq!(info.handle_count(), 2);
        assert_eq!(Info::TYPE, MetricType::Info);
        assert_eq!(other.value().metric_type(), MetricType::Info);
    }
}
