//! The harness configuration: a strict subset of prometheus.yml.
//!
//! ```yaml
//! global:
//!   scrape_interval: 15s     # default 1m
//!   scrape_timeout: 10s      # default 10s
//! scrape_configs:
//!   - job_name: pipeline
//!     scrape_interval: 5s    # default: global
//!     scrape_timeout: 2s     # default: global, capped at the interval
//!     metrics_path: /metrics
//!     scheme: https          # default http
//!     tls_config:            # for https; default: verify against the system's roots
//!       ca_file: ca.pem      # trust these CAs instead; relative to the config file
//!       cert_file: client.pem  # a client certificate: cert_file and key_file, or neither
//!       key_file: client-key.pem
//!       server_name: exporter.internal  # verify this name instead of the host
//!       insecure_skip_verify: false
//!     honor_labels: false
//!     sample_limit: 10000    # 0: none
//!     body_size_limit: 10MB  # B, KB|KiB, MB|MiB, GB|GiB, TB|TiB; 0: none
//!     params: { module: [http_2xx] }  # URL parameters
//!     relabel_configs:       # per target, see crate::relabel
//!       - { source_labels: [__address__], target_label: __param_target }
//!     metric_relabel_configs:  # per scraped series
//!       - { source_labels: [__name__], regex: 'go_.*', action: drop }
//!     static_configs:
//!       - targets: ["localhost:9100"]
//!         labels: { env: dev }
//!     file_sd_configs:
//!       - files: ["targets/*.json", "more.yml"]  # relative to the config file
//!         refresh_interval: 5m                  # default 5m
//!     http_sd_configs:
//!       - url: http://127.0.0.1:8080/sd
//!         refresh_interval: 60s                 # default 60s
//! ```
//!
//! Any other key is an error, as is an invalid value; errors name the key and its line
//! (for a relabeling rule, the line where the rule starts). Static targets go through
//! [`populate_labels`] with the job's `relabel_configs`: a target they drop is left
//! out, one it rejects is an error naming it.
//! The files of `tls_config` are read and checked at load time (see
//! [`tls`](crate::tls)), and errors about them name the file.
//! Durations use Prometheus's syntax (`1h30m`, `500ms`, units `y w d h m s ms` in that
//! order).
//!
//! ```
//! use promsdk_harness::config::Config;
//! let cfg = Config::parse("scrape_configs:\n  - job_name: a\n    scrape_interval: 1m30s\n").unwrap();
//! assert_eq!(cfg.jobs()[0].0.interval.as_secs(), 90);
//! let err = Config::parse("scrape_configs:\n  - job_name: a\n    scrape_intervall: 1m\n").unwrap_err();
//! assert_eq!(err.line, Some(3));
//! assert!(err.to_string().contains("scrape_intervall"), "{err}");
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::discovery::file_sd::FileSdConfig;
use crate::discovery::http_sd::HttpSdConfig;
use crate::discovery::static_sd::StaticConfig;
use crate::discovery::{SdConfig, SdConfigs, TargetGroup};
use crate::relabel::RelabelConfig;
use crate::scrape::{labels_from_pairs, populate_labels, Populated, ScrapeConfig, Target};
use crate::tls::{TlsConfig, TlsSettings};
use promsdk::labels::{is_valid_label_name, LabelPair, LabelSet};

/// A configuration error: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
}

/// A parsed and validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    jobs: Vec<JobConfig>,
}

/// One `scrape_configs` entry: how its targets are scraped and where they come from.
#[derive(Debug, Clone)]
struct JobConfig {
    scrape: ScrapeConfig,
    static_targets: Vec<Target>,
    discovery: SdConfigs,
}

/// The file as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Global,
    #[serde(default)]
    scrape_configs: Vec<Job>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Global {
    scrape_interval: Option<String>,
    scrape_timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Job {
    job_name: String,
    scrape_interval: Option<String>,
    scrape_timeout: Option<String>,
    metrics_path: Option<String>,
    scheme: Option<String>,
    tls_config: Option<RawTls>,
    honor_labels: Option<bool>,
    sample_limit: Option<u64>,
    body_size_limit: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    metric_relabel_configs: Vec<Option<RelabelConfig>>,
    #[serde(default)]
    static_configs: Vec<RawStatic>,
    #[serde(default)]
    file_sd_configs: Vec<RawFileSd>,
    #[serde(default)]
    http_sd_configs: Vec<RawHttpSd>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileSd {
    files: Vec<String>,
    refresh_interval: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpSd {
    url: String,
    refresh_interval: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca_file: Option<PathBuf>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    server_name: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

impl RawTls {
    /// The settings, relative paths resolved against `base`.
    fn settings(&self, base: &Path) -> TlsSettings {
        let resolve = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
        TlsSettings {
            ca_file: resolve(&self.ca_file),
            cert_file: resolve(&self.cert_file),
            key_file: resolve(&self.key_file),
            server_name: self.server_name.clone(),
            insecure_skip_verify: self.insecure_skip_verify,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatic {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `d` as Prometheus's `model.Duration` writes it: `0s`, or units from `y` to `ms`,
/// years and weeks only when they divide the whole (`2w`, but `20d` rather than `2w6d`).
///
/// ```
/// use promsdk_harness::config::format_duration;
/// assert_eq!(format_duration(std::time::Duration::from_secs(90)), "1m30s");
/// ```
pub fn format_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size, exact) in [
        ("y", 365 * 86_400_000, true),
        ("w", 7 * 86_400_000, true),
        ("d", 86_400_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1_000, false),
        ("ms", 1, false),
    ] {
        if (exact && ms % size != 0) || ms < size {
            continue;
        }
        let _ = write!(out, "{}{unit}", ms / size);
        ms %= size;
    }
    out
}

/// Parses a Prometheus duration: `0`, or one or more `<int><unit>` with units `y`
/// (365 d), `w`, `d`, `h`, `m`, `s`, `ms`, each at most once and in that order.
///
/// ```
/// use promsdk_harness::config::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
/// assert_eq!(parse_duration("30m1h"), None);
/// assert_eq!(parse_duration("1.5s"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1_000),
    ];
    // Order of appearance required: y w d h m s ms.
    const ORDER: [&str; 7] = ["y", "w", "d", "h", "m", "s", "ms"];
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total: u64 = 0;
    let mut next_allowed = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let &(unit, ms) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        let rank = ORDER.iter().position(|u| *u == unit)?;
        if rank < next_allowed {
            return None;
        }
        next_allowed = rank + 1;
        total = total.checked_add(n.checked_mul(ms)?)?;
    }
    (!s.is_empty()).then(|| Duration::from_millis(total))
}

/// Parses a size: `0`, or `<int><unit>` with units `B`, `KB`/`KiB`, `MB`/`MiB`,
/// `GB`/`GiB`, `TB`/`TiB`, `PB`/`PiB` (powers of 1024, as Prometheus).
///
/// ```
/// use promsdk_harness::config::parse_size;
/// assert_eq!(parse_size("10MB"), Some(10 << 20));
/// assert_eq!(parse_size("512KiB"), Some(512 << 10));
/// assert_eq!(parse_size("10"), None);
/// ```
pub fn parse_size(s: &str) -> Option<u64> {
    if s == "0" {
        return Some(0);
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n: u64 = s.get(..digits)?.parse().ok()?;
    let shift = match &s[digits..] {
        "B" => 0,
        "KB" | "KiB" => 10,
        "MB" | "MiB" => 20,
        "GB" | "GiB" => 30,
        "TB" | "TiB" => 40,
        "PB" | "PiB" => 50,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Locates keys in the source text, for errors about values serde accepted.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn key(l: &str) -> &str {
        l.trim_start().trim_start_matches("- ").trim_start()
    }

    /// The first line at or after `from` (1-based) whose key is `key`.
    fn find(&self, from: usize, key: &str) -> Option<usize> {
        self.0
            .lines()
            .enumerate()
            .skip(from.saturating_sub(1))
            .find(|(_, l)| Self::key(l).starts_with(&format!("{key}:")))
            .map(|(i, _)| i + 1)
    }

    /// The line of the `nth` (0-based) `job_name: <name>`.
    fn job(&self, name: &str, nth: usize) -> Option<usize> {
        self.0
            .lines()
            .enumerate()
            .filter(|(_, l)| {
                Self::key(l)
                    .strip_prefix("job_name:")
                    .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == name)
            })
            .nth(nth)
            .map(|(i, _)| i + 1)
    }
}

fn duration(
    value: &Option<String>,
    key: &str,
    line: impl Fn(&str) -> Option<usize>,
) -> Result<Option<Duration>, ConfigError> {
    value
        .as_deref()
        .map(|v| {
            parse_duration(v).ok_or_else(|| ConfigError {
                line: line(key),
                message: format!("{key}: not a valid duration string: {v:?}"),
            })
        })
        .transpose()
}

impl Config {
    /// Parses and validates configuration text; relative `tls_config` paths are
    /// relative to the current directory.
    pub fn parse(src: &str) -> Result<Config, ConfigError> {
        Self::parse_in(src, Path::new(""))
    }

    fn parse_in(src: &str, base: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_norway::from_str(src).map_err(|e| ConfigError {
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        Ok(Config {
            jobs: raw.validate(&Lines(src), base)?,
        })
    }

    /// Reads and parses a file; relative `tls_config` paths are relative to its
    /// directory, as in Prometheus.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let src = std::fs::read_to_string(path).map_err(|e| ConfigError {
            line: None,
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Self::parse_in(&src, base).map_err(|e| ConfigError {
            message: format!("{}: {}", path.display(), e.message),
            ..e
        })
    }

    /// Each job's scrape settings (defaults filled in from `global`) and its static
    /// targets.
    pub fn jobs(&self) -> Vec<(ScrapeConfig, Vec<Target>)> {
        self.jobs
            .iter()
            .map(|j| (j.scrape.clone(), j.static_targets.clone()))
            .collect()
    }

    /// Each job's scrape settings.
    pub fn scrape_configs(&self) -> Vec<ScrapeConfig> {
        self.jobs.iter().map(|j| j.scrape.clone()).collect()
    }

    /// Each job's service discovery configurations, its `static_configs` as one
    /// [`StaticConfig`], as the discovery manager takes them.
    pub fn discovery(&self) -> BTreeMap<String, SdConfigs> {
        self.jobs
            .iter()
            .map(|j| (j.scrape.job_name.clone(), j.discovery.clone()))
            .collect()
    }
}

impl RawConfig {
    fn validate(&self, src: &Lines<'_>, base: &Path) -> Result<Vec<JobConfig>, ConfigError> {
        let global_line = |key: &str| src.find(src.find(1, "global").unwrap_or(1), key);
        let interval = duration(&self.global.scrape_interval, "scrape_interval", global_line)?
            .unwrap_or(Duration::from_secs(60));
        let timeout = duration(&self.global.scrape_timeout, "scrape_timeout", global_line)?;
        if timeout.is_some_and(|t| t > interval) {
            return Err(ConfigError {
                line: global_line("scrape_timeout"),
                message: "global.scrape_timeout: greater than global.scrape_interval".into(),
            });
        }
        let timeout = timeout.unwrap_or(Duration::from_secs(10).min(interval));
        let mut names = HashSet::new();
        let mut jobs = Vec::new();
        for (i, job) in self.scrape_configs.iter().enumerate() {
            let nth = self.scrape_configs[..i]
                .iter()
                .filter(|j| j.job_name == job.job_name)
                .count();
            let job_line = src.job(&job.job_name, nth).unwrap_or(1);
            let at = |key: &str| src.find(job_line, key).or(Some(job_line));
            let err = |key: &str, message: String| ConfigError {
                line: at(key),
                message: format!("scrape_configs[{}].{key}: {message}", job.job_name),
            };
            if job.job_name.is_empty() {
                return Err(err("job_name", "must not be empty".into()));
            }
            if !names.insert(&job.job_name) {
                return Err(err("job_name", format!("{:?} is used twice", job.job_name)));
            }
            let interval =
                duration(&job.scrape_interval, "scrape_interval", at)?.unwrap_or(interval);
            if interval.is_zero() {
                return Err(err("scrape_interval", "must be greater than 0".into()));
            }
            let timeout = match duration(&job.scrape_timeout, "scrape_timeout", at)? {
                Some(t) if t > interval => {
                    return Err(err(
                        "scrape_timeout",
                        format!("{t:?} is greater than the scrape interval {interval:?}"),
                    ))
                }
                Some(t) => t,
                None => timeout.min(interval),
            };
            let body_size_limit = match &job.body_size_limit {
                None => 0,
                Some(v) => parse_size(v)
                    .ok_or_else(|| err("body_size_limit", format!("not a valid size: {v:?}")))?,
            };
            let scheme = match job.scheme.as_deref() {
                None => "http",
                Some(s @ ("http" | "https")) => s,
                Some(other) => {
                    return Err(err(
                        "scheme",
                        format!("{other:?} is not supported (only \"http\" and \"https\")"),
                    ))
                }
            };
            let tls = job
                .tls_config
                .as_ref()
                .map(|raw| {
                    TlsConfig::load(raw.settings(base)).map_err(|e| ConfigError {
                        line: at(e.key()),
                        message: format!("scrape_configs[{}].tls_config.{e}", job.job_name),
                    })
                })
                .transpose()?;
            let mut cfg = ScrapeConfig::new(job.job_name.as_str())
                .scheme(scheme)
                .interval(interval)
                .timeout(timeout)
                .honor_labels(job.honor_labels.unwrap_or(false))
                .sample_limit(usize::try_from(job.sample_limit.unwrap_or(0)).unwrap_or(usize::MAX))
                .body_size_limit(body_size_limit);
            if let Some(tls) = tls {
                cfg = cfg.tls(tls);
            }
            if let Some(path) = &job.metrics_path {
                if !path.starts_with('/') {
                    return Err(err("metrics_path", format!("{path:?} must start with /")));
                }
                cfg = cfg.metrics_path(path.as_str());
            }
            for (key, rules, what) in [
                ("relabel_configs", &job.relabel_configs, "target"),
                (
                    "metric_relabel_configs",
                    &job.metric_relabel_configs,
                    "metric",
                ),
            ] {
                if rules.iter().any(Option::is_none) {
                    return Err(err(key, format!("empty or null {what} relabeling rule")));
                }
            }
            let rules = |rules: &[Option<RelabelConfig>]| rules.iter().flatten().cloned().collect();
            cfg = cfg
                .params(job.params.clone())
                .relabel_configs(rules(&job.relabel_configs))
                .metric_relabel_configs(rules(&job.metric_relabel_configs));
            let mut targets = Vec::new();
            let mut groups = Vec::new();
            for sc in &job.static_configs {
                let mut pairs = Vec::new();
                for (name, value) in &sc.labels {
                    if !is_valid_label_name(name) {
                        return Err(err("labels", format!("{name:?} is not a valid label name")));
                    }
                    pairs.push(LabelPair::new(name.as_str(), value.as_str()));
                }
                let labels =
                    LabelSet::from_vec("", pairs).map_err(|e| err("labels", e.to_string()))?;
                let mut group_targets = Vec::with_capacity(sc.targets.len());
                for t in &sc.targets {
                    // Without relabeling, Prometheus rejects a URL at load time.
                    let path = t.contains('/') && cfg.relabel_configs.is_empty();
                    if t.is_empty() || path || t.contains(char::is_whitespace) {
                        return Err(err("targets", format!("{t:?} is not a valid host:port")));
                    }
                    let mut pairs = vec![LabelPair::new("__address__", t.as_str())];
                    pairs.extend(
                        sc.labels
                            .iter()
                            .map(|(n, v)| LabelPair::new(n.as_str(), v.as_str())),
                    );
                    match populate_labels(&labels_from_pairs(pairs), &cfg) {
                        Ok(Populated::Active(target)) => targets.push(target),
                        Ok(Populated::Dropped(_)) => {}
                        Err(e) => return Err(err("targets", format!("{t:?}: {e}"))),
                    }
                    group_targets.push(
                        LabelSet::from_vec("", vec![LabelPair::new("__address__", t.as_str())])
                            .map_err(|e| err("targets", e.to_string()))?,
                    );
                }
                groups.push(TargetGroup {
                    targets: group_targets.into(),
                    labels,
                    ..TargetGroup::default()
                });
            }
            let mut discovery: SdConfigs = Vec::new();
            if !groups.is_empty() {
                discovery.push(std::sync::Arc::new(StaticConfig::new(groups)));
            }
            for (n, sd) in job.file_sd_configs.iter().enumerate() {
                let key = "file_sd_configs";
                let interval = duration(&sd.refresh_interval, "refresh_interval", |k| {
                    src.find(at(key).unwrap_or(job_line), k)
                })?
                .unwrap_or(FileSdConfig::DEFAULT_REFRESH_INTERVAL);
                let file = FileSdConfig::new(sd.files.clone(), interval)
                    .map_err(|e| err(key, format!("[{n}]: {e}")))?;
                discovery.push(std::sync::Arc::new(file.relative_to(base)));
            }
            for (n, sd) in job.http_sd_configs.iter().enumerate() {
                let key = "http_sd_configs";
                let interval = duration(&sd.refresh_interval, "refresh_interval", |k| {
                    src.find(at(key).unwrap_or(job_line), k)
                })?
                .unwrap_or(HttpSdConfig::DEFAULT_REFRESH_INTERVAL);
                let http = HttpSdConfig::new(sd.url.as_str(), interval)
                    .map_err(|e| err(key, format!("[{n}]: {e}")))?;
                discovery.push(std::sync::Arc::new(http) as std::sync::Arc<dyn SdConfig>);
            }
            jobs.push(JobConfig {
                scrape: cfg,
                static_targets: targets,
                discovery,
            });
        }
        Ok(jobs)
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jobs: Vec<&str> = self
            .jobs
            .iter()
            .map(|j| j.scrape.job_name.as_str())
            .collect();
        write!(f, "{} jobs: {}", jobs.len(), jobs.join(", "))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
