//! Vec lifecycle: remove what is gone, expire what went idle, cap the cardinality.

use std::time::Duration;

use promsdk::{encode, Format, GaugeVec, Opts, Registry};

fn main() -> Result<(), promsdk::Error> {
    let registry = Registry::default();
    let steps = GaugeVec::builder(
        Opts::new("pipeline_step_duration_seconds", "Step time."),
        &["pipeline", "step"],
    )
    .ttl(Duration::from_secs(300)) // idle children stop being exported and are freed
    .max_series(10_000) // past it: an error (fallible lookup) or an overflow series
    .build()?;
    registry.register(steps.clone())?;

    steps.with_label_values(&["build", "clone"]).set(1.5);
    steps.with_label_values(&["build", "compile"]).set(42.0);
    steps.with_label_values(&["deploy", "push"]).set(3.0);

    // The next run of "build" has no "clone" step: forget it.
    steps.remove(&["build", "clone"]);
    // The "deploy" pipeline was deleted: forget all its steps.
    steps.remove_matching(&[("pipeline", "deploy")])?;

    let mut body = Vec::new();
    encode(&registry.gather().families, Format::Text, &mut body);
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
