//! Judging a strategy's log against its expectation, and the verdict table.

use std::fmt::Write as _;

use super::{secs, show, Expectation, StepResult, StrategyLog, Verdict};

/// Verdict rows as a text table: result, row, expectation, observation.
pub fn table(verdicts: &[Verdict]) -> String {
    let width = |f: fn(&Verdict) -> &str, title: &str| {
        verdicts
            .iter()
            .map(|v| f(v).chars().count())
            .chain([title.len()])
            .max()
            .unwrap_or(0)
    };
    let (rw, ew) = (width(|v| &v.row, "row"), width(|v| &v.expected, "expected"));
    let mut out = format!("{:<6}  {:<rw$}  {:<ew$}  observed\n", "", "row", "expected");
    for v in verdicts {
        let mark = if v.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{mark:<6}  {:<rw$}  {:<ew$}  {}",
            v.row, v.expected, v.observed
        );
    }
    out
}

/// The verdict row of one strategy: every problem seen, or what it did right.
pub(super) fn verdict(log: &StrategyLog) -> Verdict {
    let steps: Vec<StepResult> = log
        .vanished
        .iter()
        .map(|v| StepResult {
            step: v.step.clone(),
            vanished_at_seconds: secs(v.at),
            gone_after_seconds: v.gone_at.map(|g| secs(g.saturating_sub(v.at))),
            seen_for_seconds: v.last_seen.map(|s| secs(s.saturating_sub(v.at))),
        })
        .collect();
    let mut problems: Vec<String> = Vec::new();
    let never: Vec<&str> = log
        .posted
        .difference(&log.appeared)
        .map(String::as_str)
        .collect();
    if !never.is_empty() {
        problems.push(format!("never returned: {}", never.join(", ")));
    }
    problems.extend(
        log.unexpected
            .iter()
            .map(|m| m.trim_start_matches(&log.name).trim().to_owned()),
    );
    if log.vanished.is_empty() {
        problems.push("no step vanished: nothing was shown".into());
    }
    for v in log.vanished.iter().filter(|v| !v.appeared_before) {
        problems.push(format!("{} vanished before it was ever returned", v.step));
    }
    let (expected, limit, observed) = match log.expectation {
        Expectation::GoneWithin(limit) => {
            let mut parts = Vec::new();
            for v in &log.vanished {
                match v.gone_at.map(|g| g.saturating_sub(v.at)) {
                    Some(d) => {
                        if d > limit {
                            problems.push(format!(
                                "{} took {} (over {})",
                                v.step,
                                show(d),
                                show(limit)
                            ));
                        }
                        parts.push(format!("{} {}", v.step, show(d)));
                    }
                    None => {
                        problems.push(format!("{} still returned", v.step));
                        parts.push(format!("{} still returned", v.step));
                    }
                }
            }
            (
                format!("vanished steps gone within {}", show(limit)),
                limit,
                format!("gone after: {}", parts.join(", ")),
            )
        }
        Expectation::LeaksFor(min) => {
            let mut parts = Vec::new();
            for v in &log.vanished {
                let seen = v.last_seen.map(|s| s.saturating_sub(v.at));
                match (v.gone_at, seen) {
                    (Some(g), _) => problems.push(format!(
                        "{} gone after {}: no leak",
                        v.step,
                        show(g.saturating_sub(v.at))
                    )),
                    (None, Some(d)) if d >= min => parts.push(format!("{} {}", v.step, show(d))),
                    (None, seen) => problems.push(format!(
                        "{} seen only {} after it vanished (need {})",
                        v.step,
                        show(seen.unwrap_or_default()),
                        show(min)
                    )),
                }
            }
            (
                format!("vanished steps leak: still returned {} later", show(min)),
                min,
                format!("still returned after: {}", parts.join(", ")),
            )
        }
    };
    let passed = problems.is_empty();
    let observed = if passed {
        observed
    } else {
        problems.join("; ")
    };
    Verdict {
        row: log.name.clone(),
        expected,
        observed,
        passed,
        limit_seconds: secs(limit),
        steps,
    }
}
