//! What the demo saw and what it concludes, kept apart from the processes and sockets
//! of [`demo`](crate::demo) so that the rules can be tested on made-up observations:
//! a [`Recorder`] is told which runs were posted and which step series each instant
//! query returned; it writes the timeline ([`Event`]) and judges each strategy
//! against its [`Expectation`] ([`Verdict`]), all gathered in a [`DemoReport`].
//!
//! ```
//! use std::collections::{BTreeMap, BTreeSet};
//! use std::time::Duration;
//! use promsdk_harness::demo::report::{Expectation, Recorder};
//!
//! let s = Duration::from_secs;
//! let mut rec = Recorder::new(vec![("delete".into(), Expectation::GoneWithin(s(2)))]);
//! let at = |t| BTreeMap::from([("delete".to_owned(), t)]);
//! let seen = |steps: &[&str]| BTreeMap::from([("delete".to_owned(), steps.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>())]);
//! rec.run(1, &["clone", "build"], &at(s(0)));
//! rec.observe(&seen(&["clone", "build"]), s(1));
//! rec.run(2, &["build"], &at(s(2)));          // clone vanishes
//! rec.observe(&seen(&["build"]), s(3));       // and is gone 1 s later
//! let verdicts = rec.verdicts();
//! assert!(verdicts[0].passed, "{:?}", verdicts[0]);
//! assert_eq!(verdicts[0].steps[0].gone_after_seconds, Some(1.0));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

mod verdict;

pub use verdict::table;
use verdict::verdict;

/// What a strategy must do with a step that its pipeline's latest run no longer has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// The step's series is gone from instant query results at most this long after
    /// the run that dropped it was recorded.
    GoneWithin(Duration),
    /// The step's series is still returned at least this long after the run that
    /// dropped it (the leak the `naive` strategy exists to show).
    LeaksFor(Duration),
}

/// What kind of thing an [`Event`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A run with a new set of steps was posted to every exporter.
    Run,
    /// Steps of one strategy were returned by a query for the first time.
    Appeared,
    /// A vanished step of one strategy stopped being returned.
    Gone,
    /// A step stopped being returned although the latest run has it, or a step came
    /// back after it had gone: never expected.
    Unexpected,
    /// An exporter was removed from the file_sd file.
    TargetRemoved,
    /// Every series of the removed exporter stopped being returned.
    TargetGone,
}

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// When, in seconds since the first run was posted.
    pub at_seconds: f64,
    /// What happened.
    pub kind: EventKind,
    /// The strategy concerned, if one.
    pub strategy: Option<String>,
    /// The steps concerned.
    pub steps: Vec<String>,
    /// For `gone` and `target_gone`: seconds since the step vanished or the target
    /// was removed.
    pub delay_seconds: Option<f64>,
    /// The line as printed.
    pub message: String,
}

/// What became of one vanished step under one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepResult {
    /// The step.
    pub step: String,
    /// When the run that dropped it was recorded (seconds since the first run).
    pub vanished_at_seconds: f64,
    /// How long after that it stopped being returned; `None` while still returned.
    pub gone_after_seconds: Option<f64>,
    /// How long after that it was last seen returned; `None` if never after.
    pub seen_for_seconds: Option<f64>,
}

/// One row of the verdict table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// The strategy, or `removed target (STRATEGY)`.
    pub row: String,
    /// What was required.
    pub expected: String,
    /// What was seen.
    pub observed: String,
    /// Whether what was seen is what was required.
    pub passed: bool,
    /// The bound in seconds (the longest allowed delay, or the shortest leak).
    pub limit_seconds: f64,
    /// Each vanished step (empty for the removed target's row).
    pub steps: Vec<StepResult>,
}

/// The demo's settings, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// The job's scrape interval.
    pub scrape_interval_seconds: f64,
    /// The discovery manager's update interval.
    pub discovery_update_interval_seconds: f64,
    /// The file_sd refresh interval (the file is also watched).
    pub file_sd_refresh_interval_seconds: f64,
    /// Time between two posted runs.
    pub run_interval_seconds: f64,
    /// The `ttl` exporter's `--ttl`.
    pub ttl_seconds: f64,
    /// The slack added to every bound.
    pub tolerance_seconds: f64,
    /// How often the demo queries the harness.
    pub poll_interval_seconds: f64,
}

/// One exporter the demo started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExporterInfo {
    /// Its `--strategy`.
    pub strategy: String,
    /// The address it listened on.
    pub address: String,
}

/// The demo's whole result, as `--json` writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemoReport {
    /// Every verdict row passed: the demo's exit status is 0 exactly then.
    pub passed: bool,
    /// Wall time of the demo, exporters' start to verdict.
    pub duration_seconds: f64,
    /// The settings in force.
    pub settings: Settings,
    /// The exporters, one per strategy.
    pub exporters: Vec<ExporterInfo>,
    /// The strategy whose exporter was removed from the file_sd file.
    pub removed: String,
    /// The timeline.
    pub timeline: Vec<Event>,
    /// The verdict table.
    pub verdicts: Vec<Verdict>,
}

impl DemoReport {
    /// The verdict table as printed at the end of the demo.
    pub fn table(&self) -> String {
        table(&self.verdicts)
    }
}

/// Seconds with millisecond precision, as reported.
fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// A duration as printed: `0.62s`.
fn show(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// An event found while the strategies are borrowed: kind, strategy, steps, delay,
/// message.
type PendingEvent = (EventKind, String, Vec<String>, Option<Duration>, String);

#[derive(Debug)]
struct Vanish {
    step: String,
    at: Duration,
    /// It had been returned before it vanished.
    appeared_before: bool,
    gone_at: Option<Duration>,
    last_seen: Option<Duration>,
}

#[derive(Debug)]
struct StrategyLog {
    name: String,
    expectation: Expectation,
    /// Steps of the latest run recorded.
    current: BTreeSet<String>,
    /// Every step of every run recorded.
    posted: BTreeSet<String>,
    visible: BTreeSet<String>,
    appeared: BTreeSet<String>,
    vanished: Vec<Vanish>,
    unexpected: Vec<String>,
    /// Its target was removed: what queries return no longer says anything about
    /// the strategy.
    frozen: bool,
}

/// Records in `unexpected` that `step` of strategy `name` did what no strategy should
/// (`what`), and returns the event saying so. (Fields, not the log: the caller is
/// iterating over the log's sets.)
fn unexpected(name: &str, unexpected: &mut Vec<String>, step: &str, what: &str) -> PendingEvent {
    let message = format!("{name:<9}  {step} {what}");
    unexpected.push(message.clone());
    (
        EventKind::Unexpected,
        name.to_owned(),
        vec![step.to_owned()],
        None,
        message,
    )
}

#[derive(Debug)]
struct Removal {
    strategy: String,
    at: Duration,
    limit: Duration,
    series_before: usize,
    gone_at: Option<Duration>,
}

/// Collects what the demo did and saw, in time order; times are offsets from the
/// demo's start.
#[derive(Debug)]
pub struct Recorder {
    strategies: Vec<StrategyLog>,
    removal: Option<Removal>,
    events: Vec<Event>,
    last_steps: Option<Vec<String>>,
}

impl Recorder {
    /// A recorder for these strategies and what each is expected to do.
    pub fn new(strategies: Vec<(String, Expectation)>) -> Self {
        Recorder {
            strategies: strategies
                .into_iter()
                .map(|(name, expectation)| StrategyLog {
                    name,
                    expectation,
                    current: BTreeSet::new(),
                    posted: BTreeSet::new(),
                    visible: BTreeSet::new(),
                    appeared: BTreeSet::new(),
                    vanished: Vec::new(),
                    unexpected: Vec::new(),
                    frozen: false,
                })
                .collect(),
            removal: None,
            events: Vec::new(),
            last_steps: None,
        }
    }

    /// The timeline so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    fn push(
        &mut self,
        at: Duration,
        kind: EventKind,
        strategy: Option<&str>,
        steps: Vec<String>,
        delay: Option<Duration>,
        message: String,
    ) {
        self.events.push(Event {
            at_seconds: secs(at),
            kind,
            strategy: strategy.map(str::to_owned),
            steps,
            delay_seconds: delay.map(secs),
            message,
        });
    }

    /// Run `number` with `steps` was recorded by each strategy's exporter at the time
    /// given for it: steps its previous run had and this one lacks have vanished.
    pub fn run(&mut self, number: usize, steps: &[&str], recorded: &BTreeMap<String, Duration>) {
        let steps_now: BTreeSet<String> = steps.iter().map(|s| (*s).to_owned()).collect();
        let mut dropped: Vec<String> = Vec::new();
        for log in &mut self.strategies {
            let Some(&at) = recorded.get(&log.name) else {
                continue;
            };
            for step in log.current.difference(&steps_now) {
                let visible = log.visible.contains(step);
                log.vanished.push(Vanish {
                    step: step.clone(),
                    at,
                    appeared_before: log.appeared.contains(step),
                    gone_at: (!visible).then_some(at),
                    last_seen: None,
                });
                if !dropped.contains(step) {
                    dropped.push(step.clone());
                }
            }
            log.current.clone_from(&steps_now);
            log.posted.extend(steps_now.iter().cloned());
        }
        let list: Vec<String> = steps.iter().map(|s| (*s).to_owned()).collect();
        if self.last_steps.as_ref() == Some(&list) {
            return;
        }
        self.last_steps = Some(list.clone());
        let at = recorded.values().min().copied().unwrap_or_default();
        let mut message = format!(
            "run {number} recorded by every exporter: steps {}",
            list.join(", ")
        );
        if !dropped.is_empty() {
            let _ = write!(message, " ({} vanished)", dropped.join(", "));
        }
        self.push(at, EventKind::Run, None, dropped, None, message);
    }

    /// An instant query at `at` returned these steps for each strategy (strategies
    /// missing from the map returned none).
    pub fn observe(&mut self, returned: &BTreeMap<String, BTreeSet<String>>, at: Duration) {
        let empty = BTreeSet::new();
        let mut lines: Vec<PendingEvent> = Vec::new();
        for log in self.strategies.iter_mut().filter(|l| !l.frozen) {
            let now = returned.get(&log.name).unwrap_or(&empty);
            let first: Vec<String> = now.difference(&log.appeared).cloned().collect();
            if !first.is_empty() {
                let message = format!("{:<9}  appeared: {}", log.name, first.join(", "));
                lines.push((
                    EventKind::Appeared,
                    log.name.clone(),
                    first.clone(),
                    None,
                    message,
                ));
                log.appeared.extend(first.iter().cloned());
            }
            for step in now.difference(&log.visible) {
                let back = log
                    .vanished
                    .iter()
                    .any(|v| &v.step == step && v.gone_at.is_some());
                if back {
                    lines.push(unexpected(
                        &log.name,
                        &mut log.unexpected,
                        step,
                        "is returned again after it had gone",
                    ));
                }
            }
            for step in log.visible.difference(now) {
                if let Some(v) = log
                    .vanished
                    .iter_mut()
                    .find(|v| &v.step == step && v.gone_at.is_none())
                {
                    v.gone_at = Some(at);
                    let delay = at.saturating_sub(v.at);
                    let message = format!(
                        "{:<9}  {step} gone from query results {} after it vanished",
                        log.name,
                        show(delay)
                    );
                    lines.push((
                        EventKind::Gone,
                        log.name.clone(),
                        vec![step.clone()],
                        Some(delay),
                        message,
                    ));
                } else if log.current.contains(step) {
                    lines.push(unexpected(
                        &log.name,
                        &mut log.unexpected,
                        step,
                        "is no longer returned although the latest run has it",
                    ));
                }
            }
            for v in log.vanished.iter_mut().filter(|v| v.gone_at.is_none()) {
                if now.contains(&v.step) {
                    v.last_seen = Some(at);
                }
            }
            log.visible.clone_from(now);
        }
        for (kind, strategy, steps, delay, message) in lines {
            self.push(at, kind, Some(&strategy), steps, delay, message);
        }
    }

    /// The exporter of `strategy` was taken out of the file_sd file at `at`, when
    /// `series_before` of its series were returned; all must be gone within `limit`.
    pub fn target_removed(
        &mut self,
        strategy: &str,
        address: &str,
        at: Duration,
        limit: Duration,
        series_before: usize,
    ) {
        for log in self.strategies.iter_mut().filter(|l| l.name == strategy) {
            log.frozen = true;
        }
        self.removal = Some(Removal {
            strategy: strategy.to_owned(),
            at,
            limit,
            series_before,
            gone_at: None,
        });
        let message = format!(
            "removed the {strategy} exporter ({address}) from the file_sd file: {series_before} series returned"
        );
        self.push(
            at,
            EventKind::TargetRemoved,
            Some(strategy),
            Vec::new(),
            None,
            message,
        );
    }

    /// A query at `at` for every series of the removed exporter returned `count`.
    pub fn removed_series(&mut self, count: usize, at: Duration) {
        let Some(removal) = self.removal.as_mut() else {
            return;
        };
        if count > 0 || removal.gone_at.is_some() {
            return;
        }
        removal.gone_at = Some(at);
        let delay = at.saturating_sub(removal.at);
        let strategy = removal.strategy.clone();
        let message = format!(
            "{strategy:<9}  every series of the removed exporter gone {} after its removal",
            show(delay)
        );
        self.push(
            at,
            EventKind::TargetGone,
            Some(&strategy),
            Vec::new(),
            Some(delay),
            message,
        );
    }

    /// Whether the removed exporter's series are all gone.
    pub fn removed_gone(&self) -> bool {
        self.removal.as_ref().is_some_and(|r| r.gone_at.is_some())
    }

    /// The verdict rows: one per strategy, then the removed target's.
    pub fn verdicts(&self) -> Vec<Verdict> {
        let mut rows: Vec<Verdict> = self.strategies.iter().map(verdict).collect();
        if let Some(r) = &self.removal {
            let delay = r.gone_at.map(|g| g.saturating_sub(r.at));
            let passed = r.series_before > 0 && delay.is_some_and(|d| d <= r.limit);
            let observed = match delay {
                _ if r.series_before == 0 => {
                    "no series returned before the removal: nothing to go stale".to_owned()
                }
                Some(d) => format!("all {} series gone after {}", r.series_before, show(d)),
                None => format!("still returned {} after the removal", show(r.limit)),
            };
            rows.push(Verdict {
                row: format!("removed target ({})", r.strategy),
                expected: format!("all its series gone within {}", show(r.limit)),
                observed,
                passed,
                limit_seconds: secs(r.limit),
                steps: Vec::new(),
            });
        }
        rows
    }

    /// The report: the timeline and the verdicts, with the context given.
    pub fn finish(
        self,
        duration: Duration,
        settings: Settings,
        exporters: Vec<ExporterInfo>,
    ) -> DemoReport {
        let verdicts = self.verdicts();
        DemoReport {
            passed: !verdicts.is_empty() && verdicts.iter().all(|v| v.passed),
            duration_seconds: secs(duration),
            settings,
            exporters,
            removed: self.removal.map(|r| r.strategy).unwrap_or_default(),
            timeline: self.events,
            verdicts,
        }
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
