//! The four ways of handling steps that are no longer in a pipeline's latest run, one
//! type per strategy behind [`StepMetrics`]. Each reports the same two families for
//! the latest run of each pipeline:
//!
//! - `pipeline_step_duration_seconds{pipeline,step}`: how long the step took;
//! - `pipeline_step_status{pipeline,step,status}`: one gauge per [`Status`], 1 for the
//!   step's status and 0 for the others (what client_golang users write for an enum;
//!   the `status` label stays `status` in both exposition formats, where an OpenMetrics
//!   state set would name it after the metric).
//!
//! They differ only in what happens to a step that the next run no longer has:
//!
//! | strategy | the step's series | how |
//! | --- | --- | --- |
//! | [`Collector`](Strategy::Collector) | gone at the next scrape | [`LatestRuns`] keeps the latest run per pipeline and builds samples on every scrape |
//! | [`Delete`](Strategy::Delete) | gone at the next scrape | [`DeleteGone`] compares the new run with the previous one and removes what disappeared from two vecs |
//! | [`Ttl`](Strategy::Ttl) | gone once idle for the TTL | [`ExpireIdle`]: vecs built with [`VecBuilder::ttl`](promsdk::VecBuilder::ttl), nothing removed by hand |
//! | [`Naive`](Strategy::Naive) | exported forever | [`KeepAll`]: plain vecs, the leak this exporter exists to show |
//!
//! For the same runs, `collector` and `delete` expose exactly the same text.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use promsdk::{Collected, Collector, Desc, GaugeVec, MetricType, Opts, Registry};

use crate::run::{Run, Status, Step};

/// Which strategy handles steps that disappear (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// An on-demand collector over the latest run of each pipeline.
    Collector,
    /// Vecs, removing the steps the new run no longer has.
    Delete,
    /// Vecs whose series expire after `--ttl` without an update.
    Ttl,
    /// Vecs that keep every step ever seen (the leak, kept as the counter-example).
    Naive,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Collector => "collector",
            Strategy::Delete => "delete",
            Strategy::Ttl => "ttl",
            Strategy::Naive => "naive",
        })
    }
}

/// Records the steps of each pipeline's latest run, for `/metrics`.
///
/// # Contract
/// - `record` makes `run` the latest run of its pipeline; it may be called from many
///   threads at once, and no call is lost.
/// - After `record` returns, the next gather reports every step of `run`; what it
///   reports of the pipeline's earlier steps is the strategy's choice (see the module
///   documentation).
pub trait StepMetrics: Send + Sync {
    /// Makes `run` the latest run of its pipeline.
    fn record(&self, run: &Run);
}

/// Builds the strategy, registering its families in `registry`; `ttl` is used by
/// [`Strategy::Ttl`] only.
pub fn register(
    strategy: Strategy,
    ttl: Duration,
    registry: &Registry,
) -> promsdk::Result<Arc<dyn StepMetrics>> {
    Ok(match strategy {
        Strategy::Collector => {
            let latest = Arc::new(LatestRuns::new()?);
            registry.register(Arc::clone(&latest))?;
            latest
        }
        Strategy::Delete => Arc::new(DeleteGone {
            vecs: StepVecs::register(None, registry)?,
            previous: Mutex::default(),
        }),
        Strategy::Ttl => Arc::new(ExpireIdle(StepVecs::register(Some(ttl), registry)?)),
        Strategy::Naive => Arc::new(KeepAll(StepVecs::register(None, registry)?)),
    })
}

fn duration_opts() -> Opts {
    Opts::new(
        "pipeline_step_duration_seconds",
        "How long each step of the latest run of each pipeline took.",
    )
}

fn status_opts() -> Opts {
    Opts::new(
        "pipeline_step_status",
        "How each step of the latest run of each pipeline ended: 1 for its status, 0 for the others.",
    )
}

const DURATION_LABELS: [&str; 2] = ["pipeline", "step"];
const STATUS_LABELS: [&str; 3] = ["pipeline", "step", "status"];

/// The value of the `status` gauge of a step whose status is `actual`.
fn status_value(status: Status, actual: Status) -> f64 {
    if status == actual {
        1.0
    } else {
        0.0
    }
}

/// `collector`: the latest run of each pipeline, turned into samples on every scrape.
/// Whatever the latest run does not have is simply not reported.
pub struct LatestRuns {
    runs: RwLock<BTreeMap<String, Vec<Step>>>,
    duration: Desc,
    status: Desc,
}

impl LatestRuns {
    fn new() -> promsdk::Result<Self> {
        Ok(LatestRuns {
            runs: RwLock::default(),
            duration: Desc::new(duration_opts(), MetricType::Gauge, &DURATION_LABELS)?,
            status: Desc::new(status_opts(), MetricType::Gauge, &STATUS_LABELS)?,
        })
    }
}

impl StepMetrics for LatestRuns {
    fn record(&self, run: &Run) {
        let steps = run.steps().to_vec();
        self.runs
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(run.pipeline().to_owned(), steps);
    }
}

impl Collector for LatestRuns {
    fn describe(&self) -> Vec<Desc> {
        vec![self.duration.clone(), self.status.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let runs = self.runs.read().unwrap_or_else(PoisonError::into_inner);
        let mut duration = out.family(&self.duration);
        for (pipeline, steps) in runs.iter() {
            for step in steps {
                duration.gauge(&[pipeline, &step.name], step.duration_seconds);
            }
        }
        let mut status = out.family(&self.status);
        for (pipeline, steps) in runs.iter() {
            for step in steps {
                for s in Status::ALL {
                    status.gauge(
                        &[pipeline, &step.name, s.as_str()],
                        status_value(s, step.status),
                    );
                }
            }
        }
    }
}

/// The two step vecs the `delete`, `ttl` and `naive` strategies update.
struct StepVecs {
    duration: GaugeVec,
    status: GaugeVec,
}

impl StepVecs {
    fn register(ttl: Option<Duration>, registry: &Registry) -> promsdk::Result<Self> {
        let build = |opts: Opts, labels: &[&str]| {
            let builder = GaugeVec::builder(opts, labels);
            match ttl {
                Some(ttl) => builder.ttl(ttl).build(),
                None => builder.build(),
            }
        };
        let vecs = StepVecs {
            duration: build(duration_opts(), &DURATION_LABELS)?,
            status: build(status_opts(), &STATUS_LABELS)?,
        };
        registry.register(vecs.duration.clone())?;
        registry.register(vecs.status.clone())?;
        Ok(vecs)
    }

    fn set(&self, pipeline: &str, step: &Step) {
        self.duration
            .update(&[pipeline, &step.name], |g| g.set(step.duration_seconds));
        for s in Status::ALL {
            self.status
                .update(&[pipeline, &step.name, s.as_str()], |g| {
                    g.set(status_value(s, step.status))
                });
        }
    }

    fn remove(&self, pipeline: &str, step: &str) {
        self.duration.remove(&[pipeline, step]);
        for s in Status::ALL {
            self.status.remove(&[pipeline, step, s.as_str()]);
        }
    }
}

/// `delete`: vecs, plus removal of the steps the previous run of the pipeline had and
/// the new one has not.
pub struct DeleteGone {
    vecs: StepVecs,
    /// The step names of each pipeline's latest run. Held while the vecs are updated,
    /// so two runs of one pipeline recorded at once cannot leave a mix of both.
    previous: Mutex<HashMap<String, Vec<String>>>,
}

impl StepMetrics for DeleteGone {
    fn record(&self, run: &Run) {
        let mut previous = self.previous.lock().unwrap_or_else(PoisonError::into_inner);
        let now: Vec<String> = run.steps().iter().map(|s| s.name.clone()).collect();
        if let Some(before) = previous.get(run.pipeline()) {
            for gone in before.iter().filter(|name| !now.contains(name)) {
                self.vecs.remove(run.pipeline(), gone);
            }
        }
        for step in run.steps() {
            self.vecs.set(run.pipeline(), step);
        }
        previous.insert(run.pipeline().to_owned(), now);
    }
}

/// `ttl`: vecs whose children expire once no run has updated them for the TTL.
pub struct ExpireIdle(StepVecs);

impl StepMetrics for ExpireIdle {
    fn record(&self, run: &Run) {
        for step in run.steps() {
            self.0.set(run.pipeline(), step);
        }
    }
}

/// `naive`: plain vecs; a step that disappears keeps its last values forever.
pub struct KeepAll(StepVecs);

impl StepMetrics for KeepAll {
    fn record(&self, run: &Run) {
        for step in run.steps() {
            self.0.set(run.pipeline(), step);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promsdk::{encode, Format};

    fn run(pipeline: &str, steps: &[(&str, f64, Status)]) -> Run {
        let steps = steps
            .iter()
            .map(|&(name, duration_seconds, status)| Step {
                name: name.into(),
                duration_seconds,
                status,
            })
            .collect();
        Run::new(pipeline.into(), steps, None, 1.0).unwrap()
    }

    fn exposition(registry: &Registry) -> String {
        let gathered = registry.gather();
        assert!(gathered.errors.is_empty(), "{:?}", gathered.errors);
        let mut body = Vec::new();
        encode(&gathered.families, Format::Text, &mut body);
        String::from_utf8(body).unwrap()
    }

    /// Records `runs` with `strategy` and returns the exposition.
    fn after(strategy: Strategy, runs: &[Run]) -> String {
        let registry = Registry::new();
        let steps = register(strategy, Duration::from_secs(3600), &registry).unwrap();
        for r in runs {
            steps.record(r);
        }
        exposition(&registry)
    }

    fn runs() -> Vec<Run> {
        use Status::*;
        vec![
            run("a", &[("clone", 1.5, Success), ("build", 40.0, Failed)]),
            run("b", &[("lint", 2.0, Success)]),
            run("a", &[("build", 30.0, Success), ("push", 3.0, Cancelled)]),
        ]
    }

    #[test]
    fn collector_and_delete_expose_the_latest_runs_only() {
        let collector = after(Strategy::Collector, &runs());
        assert_eq!(collector, after(Strategy::Delete, &runs()));
        assert!(!collector.contains("step=\"clone\""), "{collector}");
        assert!(collector
            .contains("pipeline_step_duration_seconds{pipeline=\"a\",step=\"build\"} 30.0\n"));
        assert!(collector.contains(
            "pipeline_step_status{pipeline=\"a\",status=\"cancelled\",step=\"push\"} 1.0\n"
        ));
        assert!(collector.contains(
            "pipeline_step_status{pipeline=\"a\",status=\"success\",step=\"push\"} 0.0\n"
        ));
        assert!(collector.contains("pipeline=\"b\",step=\"lint\""));
        // Two steps of a, one of b: a duration and four status samples each.
        let samples = collector.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 3 * 5, "{collector}");
    }

    #[test]
    fn naive_and_ttl_keep_the_vanished_step_until_it_expires() {
        let naive = after(Strategy::Naive, &runs());
        assert_eq!(naive, after(Strategy::Ttl, &runs()));
        assert!(
            naive.contains("pipeline_step_duration_seconds{pipeline=\"a\",step=\"clone\"} 1.5\n")
        );
        let samples = naive.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 4 * 5, "{naive}");
    }

    #[test]
    fn strategies_agree_before_any_run() {
        let empty = after(Strategy::Collector, &[]);
        for strategy in [Strategy::Delete, Strategy::Ttl, Strategy::Naive] {
            assert_eq!(after(strategy, &[]), empty, "{strategy}");
        }
    }

    #[test]
    fn delete_keeps_concurrent_runs_of_one_pipeline_whole() {
        use Status::Success;
        let registry = Registry::new();
        let steps = register(Strategy::Delete, Duration::ZERO, &registry).unwrap();
        let left = run("a", &[("x1", 1.0, Success), ("x2", 1.0, Success)]);
        let right = run("a", &[("y1", 2.0, Success)]);
        std::thread::scope(|s| {
            for r in [&left, &right] {
                let steps = &steps;
                s.spawn(move || {
                    for _ in 0..200 {
                        steps.record(r);
                    }
                });
            }
        });
        let text = exposition(&registry);
        let has = |step: &str| text.contains(&format!("step=\"{step}\""));
        let whole_left = has("x1") && has("x2") && !has("y1");
        let whole_right = !has("x1") && !has("x2") && has("y1");
        assert!(whole_left || whole_right, "a mix of two runs: {text}");
    }
}
