//! Writing an exporter means implementing `Collector`: samples are built afresh on every
//! gather, so whatever no longer exists is simply not reported. Here each gather reports
//! the current depth of some queues read from "elsewhere".

use promsdk::{encode, Collected, Collector, Desc, Format, MetricType, Opts, Registry};

struct QueueCollector {
    depth: Desc,
}

impl Collector for QueueCollector {
    fn describe(&self) -> Vec<Desc> {
        vec![self.depth.clone()]
    }

    fn collect(&self, out: &mut Collected) {
        let mut family = out.family(&self.depth);
        for (queue, depth) in read_queue_depths() {
            family.gauge(&[queue], depth);
        }
    }
}

/// Stands in for a call to the system being exported.
fn read_queue_depths() -> Vec<(&'static str, f64)> {
    vec![("email", 12.0), ("billing", 0.0)]
}

fn main() -> Result<(), promsdk::Error> {
    let registry = Registry::default();
    let depth = Desc::new(
        Opts::new("queue_depth", "Jobs waiting per queue."),
        MetricType::Gauge,
        &["queue"],
    )?;
    registry.register(QueueCollector { depth })?;

    let mut body = Vec::new();
    encode(&registry.gather().families, Format::OpenMetrics, &mut body);
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
