//! [`Exporter`]: records finished runs. The per-pipeline metrics every strategy shares
//! live here; the per-step ones are the chosen [`StepMetrics`]'.
//!
//! - `pipeline_runs_total{pipeline,status}`: runs recorded, by run status;
//! - `pipeline_run_duration_seconds`: a histogram of the wall time of every run;
//! - `pipeline_last_run_timestamp_seconds{pipeline}`: when the latest run finished.
//!
//! A pipeline never disappears, so these use plain vecs whatever the strategy.

use std::sync::Arc;
use std::time::Duration;

use promsdk::{CounterVec, GaugeVec, Histogram, HistogramConfig, Opts, Registry};

use crate::run::Run;
use crate::strategy::{self, StepMetrics, Strategy};

/// Bucket bounds for run durations: CI runs take from seconds to hours.
const RUN_BUCKETS: [f64; 12] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];

/// Records finished runs into the metrics of one registry. Cheap to share (`Arc`);
/// every method takes `&self` and may be called from many threads at once.
pub struct Exporter {
    runs: CounterVec,
    run_duration: Histogram,
    last_run: GaugeVec,
    steps: Arc<dyn StepMetrics>,
}

impl Exporter {
    /// Registers every metric in `registry`, the step metrics handled by `strategy`
    /// (`ttl` is used by [`Strategy::Ttl`] only).
    pub fn register(
        registry: &Registry,
        strategy: Strategy,
        ttl: Duration,
    ) -> promsdk::Result<Self> {
        let runs = CounterVec::new(
            Opts::new(
                "pipeline_runs_total",
                "Pipeline runs recorded, by run status.",
            ),
            &["pipeline", "status"],
        )?;
        let run_duration = Histogram::new(&HistogramConfig::new(&RUN_BUCKETS))?;
        let last_run = GaugeVec::new(
            Opts::new(
                "pipeline_last_run_timestamp_seconds",
                "When the latest run of each pipeline finished, in Unix seconds.",
            ),
            &["pipeline"],
        )?;
        registry.register(runs.clone())?;
        registry.register_metric(
            Opts::new(
                "pipeline_run_duration_seconds",
                "Wall time of every pipeline run.",
            ),
            run_duration.clone(),
        )?;
        registry.register(last_run.clone())?;
        Ok(Exporter {
            runs,
            run_duration,
            last_run,
            steps: strategy::register(strategy, ttl, registry)?,
        })
    }

    /// Records one finished run.
    pub fn record(&self, run: &Run) {
        self.steps.record(run);
        self.runs
            .update(&[run.pipeline(), run.status().as_str()], |c| c.inc());
        self.run_duration.observe(run.duration_seconds());
        self.last_run
            .update(&[run.pipeline()], |g| g.set(run.finished_at()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Status, Step};
    use promsdk::Value;

    fn run(pipeline: &str, status: Status, seconds: f64, finished_at: f64) -> Run {
        let step = Step {
            name: "only".into(),
            duration_seconds: seconds,
            status,
        };
        Run::new(pipeline.into(), vec![step], None, finished_at).unwrap()
    }

    fn sample(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let gathered = registry.gather();
        let family = gathered.families.iter().find(|f| &*f.name == name)?;
        let found = family
            .samples
            .iter()
            .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))?;
        match found.value {
            Value::Counter { total, .. } => Some(total),
            Value::Gauge(v) => Some(v),
            _ => None,
        }
    }

    #[test]
    fn runs_are_counted_timed_and_stamped_per_pipeline() {
        let registry = Registry::new();
        let exporter = Exporter::register(&registry, Strategy::Collector, Duration::ZERO).unwrap();
        exporter.record(&run("a", Status::Success, 2.0, 100.0));
        exporter.record(&run("a", Status::Failed, 700.0, 200.0));
        exporter.record(&run("b", Status::Success, 3.0, 150.0));
        let runs = |p, s| {
            sample(
                &registry,
                "pipeline_runs",
                &[("pipeline", p), ("status", s)],
            )
        };
        assert_eq!(runs("a", "success"), Some(1.0));
        assert_eq!(runs("a", "failed"), Some(1.0));
        assert_eq!(runs("b", "success"), Some(1.0));
        assert_eq!(runs("b", "failed"), None);
        let last = |p| {
            sample(
                &registry,
                "pipeline_last_run_timestamp_seconds",
                &[("pipeline", p)],
            )
        };
        assert_eq!(last("a"), Some(200.0));
        assert_eq!(last("b"), Some(150.0));
        let snapshot = exporter.run_duration.snapshot();
        assert_eq!(snapshot.count, 3);
        assert_eq!(snapshot.sum, 705.0);
    }
}
