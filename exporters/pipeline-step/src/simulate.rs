//! The built-in simulation (on unless `--no-simulate`): a handful of pipelines whose
//! step sets change from run to run, as optional steps (integration tests, deploys,
//! fuzzing) come and go and a failure skips the steps after it. It is exactly the
//! input that leaves stale series behind in a naive exporter.
//!
//! At start every pipeline runs once, before the server answers, so the first scrape
//! already shows every pipeline; then one pipeline, picked at random, finishes a run
//! every interval.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;

use crate::exporter::Exporter;
use crate::run::{InvalidRun, Run, Status, Step};

/// A step a pipeline may run, and how long it typically takes.
struct StepDef {
    name: &'static str,
    seconds: f64,
    /// Runs in about half of the runs only.
    optional: bool,
}

const fn step(name: &'static str, seconds: f64, optional: bool) -> StepDef {
    StepDef {
        name,
        seconds,
        optional,
    }
}

/// The simulated pipelines and their steps, in running order.
const PIPELINES: &[(&str, &[StepDef])] = &[
    (
        "api",
        &[
            step("clone", 3.0, false),
            step("lint", 20.0, true),
            step("build", 120.0, false),
            step("unit-test", 90.0, false),
            step("integration-test", 300.0, true),
            step("docker-build", 150.0, true),
            step("deploy-staging", 60.0, true),
        ],
    ),
    (
        "web",
        &[
            step("clone", 2.0, false),
            step("install", 45.0, false),
            step("build", 80.0, false),
            step("e2e-test", 240.0, true),
            step("deploy-preview", 30.0, true),
        ],
    ),
    (
        "docs",
        &[
            step("clone", 1.0, false),
            step("build", 25.0, false),
            step("link-check", 40.0, true),
            step("publish", 10.0, true),
        ],
    ),
    (
        "nightly",
        &[
            step("clone", 5.0, false),
            step("build", 300.0, false),
            step("fuzz", 600.0, true),
            step("benchmark", 900.0, true),
            step("report", 5.0, false),
        ],
    ),
];

/// Makes up runs. Deterministic for a given seed (xorshift64*), so tests can rely on it.
pub struct Simulator {
    state: u64,
}

impl Simulator {
    /// A simulator whose runs follow from `seed`.
    pub fn new(seed: u64) -> Self {
        Simulator {
            // xorshift must never hold 0.
            state: seed | 1,
        }
    }

    /// The number of simulated pipelines.
    pub fn pipelines() -> usize {
        PIPELINES.len()
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A run of pipeline number `index` (modulo the number of pipelines) that finished
    /// at `finished_at`: optional steps in about half the runs, a step failing now and
    /// then (about one in fifteen) or cancelled (one in forty), skipping the rest.
    pub fn run_of(&mut self, index: usize, finished_at: f64) -> Result<Run, InvalidRun> {
        let (pipeline, defs) = &PIPELINES[index % PIPELINES.len()];
        let mut stopped = false;
        let mut steps = Vec::with_capacity(defs.len());
        for def in defs.iter() {
            if def.optional && self.unit() < 0.5 {
                continue;
            }
            let (status, duration_seconds) = if stopped {
                (Status::Skipped, 0.0)
            } else {
                let roll = self.unit();
                let status = if roll < 0.065 {
                    Status::Failed
                } else if roll < 0.09 {
                    Status::Cancelled
                } else {
                    Status::Success
                };
                stopped = status != Status::Success;
                // Half to one and a half times the typical duration, to the millisecond.
                let seconds = def.seconds * (0.5 + self.unit());
                (status, (seconds * 1000.0).round() / 1000.0)
            };
            steps.push(Step {
                name: def.name.to_owned(),
                duration_seconds,
                status,
            });
        }
        Run::new((*pipeline).to_owned(), steps, None, finished_at)
    }

    /// A run of a pipeline picked at random.
    pub fn any_run(&mut self, finished_at: f64) -> Result<Run, InvalidRun> {
        let index = (self.next() % PIPELINES.len() as u64) as usize;
        self.run_of(index, finished_at)
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn record(exporter: &Exporter, run: Result<Run, InvalidRun>) {
    match run {
        Ok(run) => {
            tracing::debug!(
                pipeline = run.pipeline(),
                steps = run.steps().len(),
                status = run.status().as_str(),
                "simulated run"
            );
            exporter.record(&run);
        }
        Err(error) => tracing::warn!(%error, "simulated run refused"),
    }
}

/// Records one run of every pipeline now, then spawns a task recording a random run
/// every `every`, forever (abort the task to stop it).
pub fn start(exporter: Arc<Exporter>, every: Duration, seed: u64) -> JoinHandle<()> {
    let mut simulator = Simulator::new(seed);
    for index in 0..Simulator::pipelines() {
        record(&exporter, simulator.run_of(index, unix_now()));
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await; // the first tick is immediate
        loop {
            ticks.tick().await;
            record(&exporter, simulator.any_run(unix_now()));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    #[test]
    fn simulated_runs_are_valid_and_their_step_sets_change() {
        let mut simulator = Simulator::new(42);
        let mut sets: HashMap<String, BTreeSet<Vec<String>>> = HashMap::new();
        let mut statuses = BTreeSet::new();
        for i in 0..400 {
            let run = simulator.any_run(1000.0 + i as f64).expect("a valid run");
            statuses.insert(run.status().as_str());
            let names = run.steps().iter().map(|s| s.name.clone()).collect();
            sets.entry(run.pipeline().to_owned())
                .or_default()
                .insert(names);
        }
        assert_eq!(sets.len(), Simulator::pipelines(), "every pipeline runs");
        for (pipeline, seen) in &sets {
            assert!(seen.len() >= 3, "{pipeline}: only {} step sets", seen.len());
        }
        assert_eq!(
            statuses,
            BTreeSet::from(["cancelled", "failed", "success"]),
            "every run status shows up"
        );
    }

    #[test]
    fn a_failed_step_skips_the_rest() {
        let mut simulator = Simulator::new(7);
        let mut checked = 0;
        for _ in 0..400 {
            let run = simulator.run_of(0, 1.0).unwrap();
            let Some(first) = run.steps().iter().position(|s| s.status != Status::Success) else {
                continue;
            };
            checked += 1;
            for later in &run.steps()[first + 1..] {
                assert_eq!(later.status, Status::Skipped, "{run:?}");
                assert_eq!(later.duration_seconds, 0.0, "{run:?}");
            }
        }
        assert!(checked > 10, "only {checked} runs stopped early");
    }

    #[test]
    fn the_same_seed_makes_the_same_runs() {
        let (mut a, mut b) = (Simulator::new(3), Simulator::new(3));
        for _ in 0..20 {
            assert_eq!(a.any_run(1.0), b.any_run(1.0));
        }
    }
}
