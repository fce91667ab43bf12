//! [`Target`]: one endpoint of a job, identified by its full label set and URL, and its
//! scrape [`TargetStatus`].

use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::scrape::{labels_from_pairs, ScrapeConfig};
use promsdk::labels::{LabelPair, LabelSet};

/// One endpoint to scrape. Two targets are the same target only when their label sets
/// and URLs are equal: the 64-bit [`Target::offset_hash`] only spreads scrapes over
/// the interval and never decides identity.
///
/// ```
/// use promsdk_harness::scrape::{ScrapeConfig, Target};
/// let t = Target::new(&ScrapeConfig::new("node"), "localhost:9100", &[("env", "prod")]);
/// assert_eq!(t.url(), "http://localhost:9100/metrics");
/// assert_eq!(format!("{:?}", t.labels()), r#"{env="prod", instance="localhost:9100", job="node"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    labels: LabelSet,
    url: String,
}

impl Target {
    /// The target at `address` (`host:port`) of job `cfg`: labels `job` and `instance`
    /// (the address) plus `extra` (a static config's `labels`; `job` or `instance` among
    /// them override the defaults, as in Prometheus), URL from the scheme and path.
    pub fn new(cfg: &ScrapeConfig, address: &str, extra: &[(&str, &str)]) -> Self {
        let mut pairs: Vec<LabelPair> = extra
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|&(n, v)| LabelPair::new(n, v))
            .collect();
        pairs.push(LabelPair::new("job", cfg.job_name.as_str()));
        pairs.push(LabelPair::new("instance", address));
        let url = format!("{}://{}{}", cfg.scheme, address, cfg.metrics_path);
        Target::from_parts(labels_from_pairs(pairs), url)
    }

    /// A target with exactly these labels and URL.
    pub fn from_parts(labels: LabelSet, url: impl Into<String>) -> Self {
        Target {
            labels,
            url: url.into(),
        }
    }

    /// The labels attached to every series scraped from the target.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// The URL scraped.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A hash of labels and URL that is the same in every process (FNV-1a), used for
    /// the target's scrape offset within the interval.
    pub fn offset_hash(&self) -> u64 {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        for (n, v) in self.labels.iter() {
            n.hash(&mut h);
            v.hash(&mut h);
        }
        self.url.hash(&mut h);
        h.finish()
    }
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// A target's health as `/api/v1/targets` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Not scraped yet.
    #[default]
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// What is known about a target's scrapes.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetStatus {
    /// The target.
    pub target: Target,
    /// The job it belongs to.
    pub job: String,
    /// The last scrape's health.
    pub health: Health,
    /// The last scrape's error, empty after a success.
    pub last_error: String,
    /// When the last scrape started (ms since the epoch), if any.
    pub last_scrape_ms: Option<i64>,
    /// How long the last scrape took.
    pub last_duration: Duration,
    /// The job's interval.
    pub interval: Duration,
    /// The job's timeout.
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_labels_and_url() {
        let cfg = ScrapeConfig::new("j");
        let a = Target::new(&cfg, "h:1", &[]);
        assert_eq!(a, Target::new(&cfg, "h:1", &[]));
        assert_ne!(a, Target::new(&cfg, "h:1", &[("x", "y")]));
        assert_ne!(a, Target::new(&cfg.clone().metrics_path("/m"), "h:1", &[]));
        assert_eq!(a.offset_hash(), Target::new(&cfg, "h:1", &[]).offset_hash());
        assert_ne!(a.offset_hash(), Target::new(&cfg, "h:2", &[]).offset_hash());
    }

    #[test]
    fn static_labels_can_override_instance() {
        let t = Target::new(&ScrapeConfig::new("j"), "h:1", &[("instance", "nice")]);
        assert_eq!(t.labels().get("instance"), Some("nice"));
        assert_eq!(t.url(), "http://h:1/metrics");
    }
}
