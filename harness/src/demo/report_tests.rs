use super::*;

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn recorded(names: &[&str], at: f64) -> BTreeMap<String, Duration> {
    names.iter().map(|n| ((*n).to_owned(), s(at))).collect()
}

fn seen(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    pairs
        .iter()
        .map(|(n, steps)| {
            (
                (*n).to_owned(),
                steps.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect()
}

/// One strategy `name` held to `e`: run 1 has a, b; run 2 (at 2 s) only b; `after`
/// says what the queries return from 2 s on, at the times given.
fn one(e: Expectation, after: &[(f64, &[&str])]) -> Verdict {
    let mut rec = Recorder::new(vec![("x".into(), e)]);
    rec.run(1, &["a", "b"], &recorded(&["x"], 0.0));
    rec.observe(&seen(&[("x", &["a", "b"])]), s(1.0));
    rec.run(2, &["b"], &recorded(&["x"], 2.0));
    for (at, steps) in after {
        rec.observe(&seen(&[("x", steps)]), s(*at));
    }
    rec.verdicts().remove(0)
}

#[test]
fn a_step_gone_within_the_bound_passes_and_one_late_fails() {
    let within = Expectation::GoneWithin(s(1.5));
    let v = one(within, &[(2.5, &["a", "b"]), (3.4, &["b"])]);
    assert!(v.passed, "{v:?}");
    assert_eq!(v.steps[0].gone_after_seconds, Some(1.4));
    assert_eq!(v.observed, "gone after: a 1.40s");
    let v = one(within, &[(3.6, &["b"])]);
    assert!(!v.passed);
    assert!(
        v.observed.contains("a took 1.60s (over 1.50s)"),
        "{}",
        v.observed
    );
    let v = one(within, &[(9.0, &["a", "b"])]);
    assert!(!v.passed);
    assert!(v.observed.contains("a still returned"), "{}", v.observed);
}

#[test]
fn a_leak_passes_only_when_the_step_stays_long_enough() {
    let leak = Expectation::LeaksFor(s(4.0));
    let v = one(leak, &[(6.5, &["a", "b"])]);
    assert!(v.passed, "{v:?}");
    assert_eq!(v.steps[0].seen_for_seconds, Some(4.5));
    let v = one(leak, &[(5.0, &["a", "b"])]);
    assert!(!v.passed);
    assert!(v.observed.contains("seen only 3.00s"), "{}", v.observed);
    let v = one(leak, &[(3.0, &["b"]), (7.0, &["b"])]);
    assert!(!v.passed);
    assert!(v.observed.contains("no leak"), "{}", v.observed);
}

#[test]
fn a_running_step_that_disappears_or_one_never_returned_fails() {
    let within = Expectation::GoneWithin(s(1.5));
    let v = one(within, &[(2.5, &[])]);
    assert!(!v.passed);
    assert!(
        v.observed
            .contains("b is no longer returned although the latest run has it"),
        "{}",
        v.observed
    );
    let mut rec = Recorder::new(vec![("x".into(), within)]);
    rec.run(1, &["a", "b"], &recorded(&["x"], 0.0));
    rec.observe(&seen(&[("x", &["b"])]), s(1.0));
    rec.run(2, &["b"], &recorded(&["x"], 2.0));
    let v = rec.verdicts().remove(0);
    assert!(!v.passed);
    assert!(v.observed.contains("never returned: a"), "{}", v.observed);
    assert!(
        v.observed
            .contains("a vanished before it was ever returned"),
        "{}",
        v.observed
    );
}

#[test]
fn a_step_that_comes_back_fails() {
    let v = one(
        Expectation::GoneWithin(s(1.5)),
        &[(2.5, &["b"]), (3.0, &["a", "b"])],
    );
    assert!(!v.passed);
    assert!(v.observed.contains("returned again"), "{}", v.observed);
}

#[test]
fn nothing_vanished_is_no_demonstration() {
    let mut rec = Recorder::new(vec![("x".into(), Expectation::GoneWithin(s(1.0)))]);
    rec.run(1, &["a"], &recorded(&["x"], 0.0));
    rec.observe(&seen(&[("x", &["a"])]), s(1.0));
    let v = rec.verdicts().remove(0);
    assert!(!v.passed);
    assert!(v.observed.contains("no step vanished"), "{}", v.observed);
}

#[test]
fn the_removed_target_row_and_the_overall_result() {
    let report = |gone_at: Option<f64>, before: usize| {
        let mut rec = Recorder::new(vec![("x".into(), Expectation::LeaksFor(s(1.0)))]);
        rec.run(1, &["a", "b"], &recorded(&["x"], 0.0));
        rec.observe(&seen(&[("x", &["a", "b"])]), s(1.0));
        rec.run(2, &["b"], &recorded(&["x"], 2.0));
        rec.observe(&seen(&[("x", &["a", "b"])]), s(3.5));
        rec.target_removed("x", "127.0.10.1:9100", s(4.0), s(3.0), before);
        // Its series going away is not a strategy's doing: x's row keeps its leak.
        rec.observe(&seen(&[]), s(5.0));
        rec.removed_series(before, s(5.0));
        if let Some(t) = gone_at {
            rec.removed_series(0, s(t));
        }
        rec.finish(s(10.0), settings(), Vec::new())
    };
    let ok = report(Some(6.5), 7);
    assert!(ok.passed, "{}", ok.table());
    assert_eq!(ok.verdicts.len(), 2);
    assert_eq!(ok.verdicts[1].row, "removed target (x)");
    assert_eq!(ok.verdicts[1].observed, "all 7 series gone after 2.50s");
    assert_eq!(ok.removed, "x");
    let kinds: Vec<EventKind> = ok.timeline.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::Run,
            EventKind::Appeared,
            EventKind::Run,
            EventKind::TargetRemoved,
            EventKind::TargetGone
        ]
    );
    assert_eq!(ok.timeline[4].delay_seconds, Some(2.5));
    for (gone, before) in [(Some(7.5), 7), (None, 7), (Some(5.0), 0)] {
        let bad = report(gone, before);
        assert!(!bad.passed, "{gone:?} {before}");
        assert!(!bad.verdicts[1].passed);
        assert!(
            bad.table().contains("FAIL    removed target (x)"),
            "{}",
            bad.table()
        );
    }
}

fn settings() -> Settings {
    Settings {
        scrape_interval_seconds: 1.0,
        discovery_update_interval_seconds: 1.0,
        file_sd_refresh_interval_seconds: 1.0,
        run_interval_seconds: 2.0,
        ttl_seconds: 3.0,
        tolerance_seconds: 0.5,
        poll_interval_seconds: 0.1,
    }
}

#[test]
fn runs_with_the_same_steps_make_one_timeline_line() {
    let mut rec = Recorder::new(vec![("x".into(), Expectation::GoneWithin(s(1.0)))]);
    rec.run(1, &["a", "b"], &recorded(&["x"], 0.0));
    rec.run(2, &["a", "b"], &recorded(&["x"], 2.0));
    rec.run(3, &["b"], &recorded(&["x"], 4.0));
    let lines: Vec<&str> = rec.events().iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        lines,
        [
            "run 1 recorded by every exporter: steps a, b",
            "run 3 recorded by every exporter: steps b (a vanished)"
        ]
    );
}
