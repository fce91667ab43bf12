//! The `POST /runs` body: one finished pipeline run, and its validation.
//!
//! ```json
//! {"pipeline": "api",
//!  "steps": [{"name": "clone", "duration_seconds": 1.5, "status": "success"},
//!            {"name": "build", "duration_seconds": 42.0, "status": "failed"}],
//!  "duration_seconds": 44.0,
//!  "finished_at": 1700000000.5}
//! ```
//!
//! `pipeline` and `steps` are required, each step with all three fields;
//! `duration_seconds` (the run's wall time, default: the sum of its steps) and
//! `finished_at` (Unix seconds, default: when the run was received) are optional. Any
//! other field is an error, so a misspelt field is reported instead of ignored.
//!
//! A [`Run`] only exists validated: names are 1 to [`MAX_NAME_CHARS`] characters with
//! no control characters and no surrounding whitespace, step names are unique within
//! the run, a run has 1 to [`MAX_STEPS`] steps, durations and timestamps are finite and
//! not negative, and statuses are one of [`Status::ALL`]. Every error says which field
//! was wrong and why.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;

/// The largest `POST /runs` body accepted, in bytes; larger bodies get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest pipeline or step name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// The most steps one run may have.
pub const MAX_STEPS: usize = 256;

/// How a step, or a whole run, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Ran and succeeded.
    Success,
    /// Ran and failed.
    Failed,
    /// Did not run (a condition was false, or an earlier step failed).
    Skipped,
    /// Stopped before it finished.
    Cancelled,
}

impl Status {
    /// Every status, as the values of the `status` label.
    pub const ALL: [Status; 4] = [
        Status::Success,
        Status::Failed,
        Status::Skipped,
        Status::Cancelled,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == s)
    }
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The step's name, unique within its run.
    pub name: String,
    /// How long it took.
    pub duration_seconds: f64,
    /// How it ended.
    pub status: Status,
}

/// One finished, validated pipeline run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pipeline: String,
    steps: Vec<Step>,
    duration_seconds: f64,
    finished_at: f64,
}

/// Why a run was refused: the message names the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRun(String);

impl fmt::Display for InvalidRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidRun {}

fn invalid(message: impl Into<String>) -> InvalidRun {
    InvalidRun(message.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    pipeline: String,
    steps: Vec<RawStep>,
    #[serde(default)]
    duration_seconds: Option<f64>,
    #[serde(default)]
    finished_at: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: String,
    duration_seconds: f64,
    status: String,
}

impl Run {
    /// Parses and validates a `POST /runs` body; `now` (Unix seconds) is the
    /// `finished_at` of a run that does not say.
    pub fn from_json(body: &[u8], now: f64) -> Result<Run, InvalidRun> {
        let raw: RawRun =
            serde_json::from_slice(body).map_err(|e| invalid(format!("invalid run JSON: {e}")))?;
        let mut steps = Vec::with_capacity(raw.steps.len());
        for (i, step) in raw.steps.into_iter().enumerate() {
            let status = Status::parse(&step.status).ok_or_else(|| {
                let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                invalid(format!(
                    "steps[{i}].status: unknown status {:?} (expected one of {})",
                    step.status,
                    known.join(", ")
                ))
            })?;
            steps.push(Step {
                name: step.name,
                duration_seconds: step.duration_seconds,
                status,
            });
        }
        Run::new(
            raw.pipeline,
            steps,
            raw.duration_seconds,
            raw.finished_at.unwrap_or(now),
        )
    }

    /// A run of `pipeline` made of `steps`, lasting `duration_seconds` (default: the
    /// sum of the steps) and finished at `finished_at` (Unix seconds); validated as
    /// the module documentation says.
    pub fn new(
        pipeline: String,
        steps: Vec<Step>,
        duration_seconds: Option<f64>,
        finished_at: f64,
    ) -> Result<Run, InvalidRun> {
        check_name("pipeline", &pipeline)?;
        if steps.is_empty() {
            return Err(invalid("steps: a run needs at least one step"));
        }
        if steps.len() > MAX_STEPS {
            return Err(invalid(format!(
                "steps: {} steps, at most {MAX_STEPS} are accepted",
                steps.len()
            )));
        }
        let mut seen = HashSet::with_capacity(steps.len());
        for (i, step) in steps.iter().enumerate() {
            check_name(&format!("steps[{i}].name"), &step.name)?;
            check_seconds(
                &format!("steps[{i}].duration_seconds"),
                step.duration_seconds,
            )?;
            if !seen.insert(step.name.as_str()) {
                return Err(invalid(format!(
                    "steps[{i}].name: step {:?} appears more than once",
                    step.name
                )));
            }
        }
        let duration_seconds =
            duration_seconds.unwrap_or_else(|| steps.iter().map(|s| s.duration_seconds).sum());
        check_seconds("duration_seconds", duration_seconds)?;
        check_seconds("finished_at", finished_at)?;
        Ok(Run {
            pipeline,
            steps,
            duration_seconds,
            finished_at,
        })
    }

    /// The pipeline's name.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// The steps, in the order they were given.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The run's wall time.
    pub fn duration_seconds(&self) -> f64 {
        self.duration_seconds
    }

    /// When the run finished, in Unix seconds.
    pub fn finished_at(&self) -> f64 {
        self.finished_at
    }

    /// The run's status: `failed` if a step failed, else `cancelled` if a step was
    /// cancelled, else `success` (skipped steps do not fail a run).
    pub fn status(&self) -> Status {
        let any = |status| self.steps.iter().any(|s| s.status == status);
        if any(Status::Failed) {
            Status::Failed
        } else if any(Status::Cancelled) {
            Status::Cancelled
        } else {
            Status::Success
        }
    }
}

fn check_name(field: &str, name: &str) -> Result<(), InvalidRun> {
    let problem = if name.is_empty() {
        "must not be empty".to_owned()
    } else if name.chars().count() > MAX_NAME_CHARS {
        format!("longer than {MAX_NAME_CHARS} characters")
    } else if name.chars().any(char::is_control) {
        "contains a control character".to_owned()
    } else if name.trim() != name {
        "starts or ends with whitespace".to_owned()
    } else {
        return Ok(());
    };
    Err(invalid(format!("{field}: name {name:?} {problem}")))
}

fn check_seconds(field: &str, value: f64) -> Result<(), InvalidRun> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field}: {value} is not a finite number of seconds >= 0"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000.0;

    #[test]
    fn a_full_run_is_read_with_every_field() {
        let body = br#"{"pipeline":"api","steps":[
            {"name":"clone","duration_seconds":1.5,"status":"success"},
            {"name":"build","duration_seconds":40,"status":"failed"},
            {"name":"push","duration_seconds":0,"status":"skipped"}],
            "duration_seconds":45.25,"finished_at":1600000000.5}"#;
        let run = Run::from_json(body, NOW).unwrap();
        assert_eq!(run.pipeline(), "api");
        let names: Vec<&str> = run.steps().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["clone", "build", "push"]);
        assert_eq!(run.steps()[1].duration_seconds, 40.0);
        assert_eq!(run.steps()[2].status, Status::Skipped);
        assert_eq!(run.duration_seconds(), 45.25);
        assert_eq!(run.finished_at(), 1_600_000_000.5);
        assert_eq!(run.status(), Status::Failed);
    }

    #[test]
    fn optional_fields_default_to_the_step_sum_and_now() {
        let body = br#"{"pipeline":"a","steps":[
            {"name":"x","duration_seconds":1.25,"status":"success"},
            {"name":"y","duration_seconds":2.5,"status":"cancelled"}]}"#;
        let run = Run::from_json(body, NOW).unwrap();
        assert_eq!(run.duration_seconds(), 3.75);
        assert_eq!(run.finished_at(), NOW);
        assert_eq!(run.status(), Status::Cancelled);
    }

    #[test]
    fn skipped_steps_do_not_fail_a_run() {
        let body = br#"{"pipeline":"a","steps":[
            {"name":"x","duration_seconds":1,"status":"skipped"},
            {"name":"y","duration_seconds":2,"status":"success"}]}"#;
        assert_eq!(Run::from_json(body, NOW).unwrap().status(), Status::Success);
    }

    struct Case {
        name: &'static str,
        body: &'static str,
        /// A part of the message that names the problem.
        says: &'static str,
    }

    const STEP: &str = r#"{"name":"x","duration_seconds":1,"status":"success"}"#;

    #[rustfmt::skip]
    const REFUSED: &[Case] = &[
        Case { name: "not JSON", body: "pipeline=a", says: "invalid run JSON" },
        Case { name: "truncated", body: r#"{"pipeline":"a","steps":["#, says: "EOF" },
        Case { name: "no pipeline", body: r#"{"steps":[]}"#, says: "missing field `pipeline`" },
        Case { name: "no steps", body: r#"{"pipeline":"a"}"#, says: "missing field `steps`" },
        Case { name: "step without status", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1}]}"#, says: "missing field `status`" },
        Case { name: "duration as text", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":"1","status":"success"}]}"#, says: "invalid type" },
        Case { name: "unknown field", body: r#"{"pipeline":"a","steps":[],"colour":"red"}"#, says: "unknown field `colour`" },
        Case { name: "empty steps", body: r#"{"pipeline":"a","steps":[]}"#, says: "at least one step" },
        Case { name: "empty pipeline", body: r#"{"pipeline":"","steps":[{"name":"x","duration_seconds":1,"status":"success"}]}"#, says: "pipeline: name \"\" must not be empty" },
        Case { name: "control char", body: r#"{"pipeline":"a\nb","steps":[{"name":"x","duration_seconds":1,"status":"success"}]}"#, says: "control character" },
        Case { name: "padded step", body: r#"{"pipeline":"a","steps":[{"name":" x","duration_seconds":1,"status":"success"}]}"#, says: "steps[0].name" },
        Case { name: "negative", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":-1,"status":"success"}]}"#, says: "steps[0].duration_seconds: -1" },
        Case { name: "huge", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1e999,"status":"success"}]}"#, says: "invalid run JSON" },
        Case { name: "unknown status", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1,"status":"done"}]}"#, says: "steps[0].status: unknown status \"done\"" },
        Case { name: "repeated step", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1,"status":"success"},{"name":"x","duration_seconds":1,"status":"success"}]}"#, says: "steps[1].name: step \"x\" appears more than once" },
        Case { name: "negative run duration", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1,"status":"success"}],"duration_seconds":-0.5}"#, says: "duration_seconds: -0.5" },
        Case { name: "negative finish", body: r#"{"pipeline":"a","steps":[{"name":"x","duration_seconds":1,"status":"success"}],"finished_at":-1}"#, says: "finished_at" },
    ];

    #[test]
    fn every_refusal_names_the_problem() {
        for case in REFUSED {
            let err = Run::from_json(case.body.as_bytes(), NOW)
                .expect_err(case.name)
                .to_string();
            assert!(
                err.contains(case.says),
                "{}: {err:?} lacks {:?}",
                case.name,
                case.says
            );
        }
    }

    #[test]
    fn names_and_step_counts_have_limits() {
        let long = "p".repeat(MAX_NAME_CHARS + 1);
        let body = format!(r#"{{"pipeline":"{long}","steps":[{STEP}]}}"#);
        let err = Run::from_json(body.as_bytes(), NOW).unwrap_err();
        assert!(err.to_string().contains("longer than 128"), "{err}");
        let fits = "p".repeat(MAX_NAME_CHARS);
        let body = format!(r#"{{"pipeline":"{fits}","steps":[{STEP}]}}"#);
        assert!(Run::from_json(body.as_bytes(), NOW).is_ok());

        let steps = |n: usize| -> Vec<Step> {
            (0..n)
                .map(|i| Step {
                    name: format!("s{i}"),
                    duration_seconds: 1.0,
                    status: Status::Success,
                })
                .collect()
        };
        assert!(Run::new("a".into(), steps(MAX_STEPS), None, NOW).is_ok());
        let err = Run::new("a".into(), steps(MAX_STEPS + 1), None, NOW).unwrap_err();
        assert!(err.to_string().contains("at most 256"), "{err}");
    }

    #[test]
    fn non_finite_values_are_refused_when_built_directly() {
        let step = |d: f64| Step {
            name: "x".into(),
            duration_seconds: d,
            status: Status::Success,
        };
        for bad in [f64::NAN, f64::INFINITY, -0.1] {
            let err = Run::new("a".into(), vec![step(bad)], None, NOW).unwrap_err();
            assert!(
                err.to_string().contains("steps[0].duration_seconds"),
                "{err}"
            );
            let err = Run::new("a".into(), vec![step(1.0)], Some(bad), NOW).unwrap_err();
            assert!(err.to_string().starts_with("duration_seconds"), "{err}");
        }
    }
}
