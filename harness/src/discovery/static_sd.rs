//! [`StaticConfig`]: a job's `static_configs`, run through the same path as every
//! other provider (as in Prometheus, all of a job's static groups are one provider,
//! their sources `"0"`, `"1"`, …).

use super::{
    BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, SdConfig, TargetGroup, Updates,
};

/// Fixed target groups.
///
/// ```
/// use promsdk_harness::discovery::{static_sd::StaticConfig, DiscoveryMetrics, DiscovererOptions, SdConfig};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let cfg = StaticConfig::new(vec![Default::default()]);
/// let d = cfg.new_discoverer(&DiscovererOptions { metrics: DiscoveryMetrics::unregistered() }).unwrap();
/// let (tx, mut rx) = tokio::sync::mpsc::channel(1);
/// tokio::spawn(d.run(tx));
/// assert_eq!(rx.recv().await.unwrap()[0].source, "0");
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticConfig(Vec<TargetGroup>);

impl StaticConfig {
    /// The groups, their sources set to their indexes.
    pub fn new(groups: Vec<TargetGroup>) -> Self {
        StaticConfig(
            groups
                .into_iter()
                .enumerate()
                .map(|(i, g)| TargetGroup {
                    source: i.to_string(),
                    ..g
                })
                .collect(),
        )
    }

    /// The groups.
    pub fn groups(&self) -> &[TargetGroup] {
        &self.0
    }
}

impl SdConfig for StaticConfig {
    fn name(&self) -> &str {
        "static"
    }

    fn new_discoverer(&self, _: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        Ok(Box::new(self.clone()))
    }
}

impl Discoverer for StaticConfig {
    fn run(self: Box<Self>, updates: Updates) -> BoxFuture {
        Box::pin(async move {
            // Sent once; nothing changes until cancelled.
            let _ = updates.send(self.0).await;
        })
    }
}
