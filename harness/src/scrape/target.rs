//! [`Target`]: one endpoint of a job, identified by its full label set and URL, and its
//! scrape [`TargetStatus`]. [`populate_labels`] builds a target from the labels
//! discovery found for it, as Prometheus 2.42's `scrape.PopulateLabels`.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::config::{format_duration, parse_duration};
use crate::discovery::TargetGroup;
use crate::relabel::{process, RelabelConfig};
use crate::scrape::{labels_from_pairs, ScrapeConfig};
use promsdk::labels::{is_valid_label_name, LabelPair, LabelSet};

/// The label holding a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";
/// The label holding a target's URL scheme.
pub const SCHEME_LABEL: &str = "__scheme__";
/// The label holding a target's URL path.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// The label holding a target's scrape interval.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// The label holding a target's scrape timeout.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// The prefix of the labels holding URL parameters (`__param_<name>`).
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// The prefix of the labels discovery adds for relabeling only.
pub const META_LABEL_PREFIX: &str = "__meta_";

/// One endpoint to scrape. Two targets are the same target only when their label
/// sets, URLs, intervals and timeouts are equal (the labels it was discovered with do
/// not count, as in Prometheus): the 64-bit [`Target::offset_hash`] only spreads
/// scrapes over the interval and never decides identity.
///
/// ```
/// use promsdk_harness::scrape::{ScrapeConfig, Target};
/// let t = Target::new(&ScrapeConfig::new("node"), "localhost:9100", &[("env", "prod")]);
/// assert_eq!(t.url(), "http://localhost:9100/metrics");
/// assert_eq!(format!("{:?}", t.labels()), r#"{env="prod", instance="localhost:9100", job="node"}"#);
/// assert_eq!(t.discovered_labels().get("__address__"), Some("localhost:9100"));
/// ```
#[derive(Debug, Clone)]
pub struct Target {
    labels: LabelSet,
    /// Shared by the clones a pool, its loop and the target's status keep.
    url: Arc<str>,
    /// The labels as discovered (the target's own and its group's, shared with the
    /// group), before the job's: [`Target::discovered_labels`] puts them together
    /// when asked, so targets do not each keep a copy.
    discovered: LabelSet,
    group: LabelSet,
    job: Option<Arc<JobLabels>>,
    interval: Option<Duration>,
    timeout: Option<Duration>,
    /// A hash of the identity, computed once: maps of targets hash it without
    /// reading the labels, and compare the full identity only on equal hashes.
    hash: u64,
}

impl Target {
    /// The target at `address` (`host:port`) of job `cfg` as a static config entry
    /// gives it, without the job's `relabel_configs` (see [`populate_labels`] for
    /// those): labels `job` and `instance` (the address) plus `extra` (a static
    /// config's `labels`; `job` or `instance` among them override the defaults,
    /// `__scheme__`, `__metrics_path__` and `__param_<name>` change the URL), and
    /// Prometheus's default port (`:80`, `:443`) for an address without one. An
    /// address or labels [`populate_labels`] rejects are taken as they are.
    pub fn new(cfg: &ScrapeConfig, address: &str, extra: &[(&str, &str)]) -> Self {
        let mut pairs: Vec<LabelPair> = extra
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|&(n, v)| LabelPair::new(n, v))
            .collect();
        pairs.push(LabelPair::new(ADDRESS_LABEL, address));
        let discovered = labels_from_pairs(pairs);
        match populate(&discovered, cfg, &[]) {
            Ok(Populated::Active(t)) => t,
            Ok(Populated::Dropped(_)) | Err(_) => {
                let mut pairs: Vec<LabelPair> = extra
                    .iter()
                    .filter(|(n, v)| !v.is_empty() && !n.starts_with("__"))
                    .map(|&(n, v)| LabelPair::new(n, v))
                    .collect();
                pairs.push(LabelPair::new("job", cfg.job_name.as_str()));
                pairs.push(LabelPair::new("instance", address));
                let url = format!("{}://{}{}", cfg.scheme, address, cfg.metrics_path);
                Target::from_parts(labels_from_pairs(pairs), url).with_discovered(discovered)
            }
        }
    }

    /// A target with exactly these labels and URL, scraped at its job's interval and
    /// timeout, with no discovered labels.
    pub fn from_parts(labels: LabelSet, url: impl Into<Arc<str>>) -> Self {
        Target::build(labels, url.into(), LabelSet::empty(), None, None)
    }

    fn build(
        labels: LabelSet,
        url: Arc<str>,
        discovered: LabelSet,
        interval: Option<Duration>,
        timeout: Option<Duration>,
    ) -> Self {
        let mut t = Target {
            labels,
            url,
            discovered,
            group: LabelSet::empty(),
            job: None,
            interval,
            timeout,
            hash: 0,
        };
        t.hash = IDENTITY_HASHER
            .get_or_init(RandomState::new)
            .hash_one(t.identity());
        t
    }

    fn with_discovered(mut self, discovered: LabelSet) -> Self {
        self.discovered = discovered;
        self
    }

    /// The labels attached to every series scraped from the target.
    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// The URL scraped.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The labels before relabeling: those discovered plus `job`, `__address__`,
    /// `__scheme__`, `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__`
    /// and `__param_<name>` from the job (Prometheus's `discoveredLabels`).
    /// Prometheus 2.42's `/api/v1/targets` can show these partly overwritten by the
    /// relabeled labels (its `relabel.Process` reuses the input's array; fixed in 2.43);
    /// these are the labels as they were.
    pub fn discovered_labels(&self) -> LabelSet {
        match &self.job {
            Some(job) => job.apply(&self.discovered, &self.group),
            None => self.discovered.clone(),
        }
    }

    /// The scrape interval from the target's `__scrape_interval__`, or `None` when the
    /// job's applies ([`Target::from_parts`]).
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// The scrape timeout from the target's `__scrape_timeout__`, or `None` when the
    /// job's applies ([`Target::from_parts`]).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
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

    fn identity(&self) -> (&LabelSet, &str, Option<Duration>, Option<Duration>) {
        (&self.labels, &self.url, self.interval, self.timeout)
    }
}

/// The name `instance`, shared by every target's label.
static INSTANCE_NAME: OnceLock<Arc<str>> = OnceLock::new();

/// The hasher of [`Target`] identities, seeded once per process.
static IDENTITY_HASHER: OnceLock<RandomState> = OnceLock::new();

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.identity() == other.identity()
    }
}

impl Eq for Target {}

/// Writes the identity's hash, computed once (equal targets have equal hashes).
impl Hash for Target {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Target {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Target {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}

/// What [`populate_labels`] made of a discovered target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Populated {
    /// A target to scrape.
    Active(Target),
    /// Relabeling dropped the target; these are its labels before relabeling (what
    /// `/api/v1/targets` lists as the `discoveredLabels` of a dropped target).
    Dropped(LabelSet),
}

impl Populated {
    /// The labels before relabeling.
    pub fn discovered_labels(&self) -> LabelSet {
        match self {
            Populated::Active(t) => t.discovered_labels(),
            Populated::Dropped(labels) => labels.clone(),
        }
    }

    /// The target, unless it was dropped.
    pub fn active(self) -> Option<Target> {
        match self {
            Populated::Active(t) => Some(t),
            Populated::Dropped(_) => None,
        }
    }
}

/// Why a discovered target cannot be scraped; the messages are Prometheus 2.42's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// No `__address__` (or an empty one) after relabeling.
    #[error("no address")]
    NoAddress,
    /// An address without a port, with a scheme other than `http` or `https`.
    #[error("invalid scheme: {0:?}")]
    InvalidScheme(String),
    /// An address with a `/`.
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    /// `__scrape_interval__` is not a duration.
    #[error("error parsing scrape interval: {0}")]
    Interval(String),
    /// `__scrape_interval__` is 0.
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    /// `__scrape_timeout__` is not a duration.
    #[error("error parsing scrape timeout: {0}")]
    Timeout(String),
    /// `__scrape_timeout__` is 0.
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    /// `__scrape_timeout__` is longer than `__scrape_interval__`.
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutAboveInterval {
        /// The timeout as written.
        timeout: String,
        /// The interval as written.
        interval: String,
    },
    /// A label of the target (after relabeling) has a name that is not a label name.
    #[error("invalid label name {0:?}")]
    InvalidLabelName(String),
}

/// Builds the target for `discovered` (a target group's target labels merged with the
/// group's labels, the target's winning) of job `cfg`, as Prometheus 2.42's
/// `scrape.PopulateLabels` (without the `no-default-scrape-port` feature):
///
/// 1. `job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__` and
///    `__scrape_timeout__` are added from the job unless present; each of the job's
///    `params` sets `__param_<name>` to its first value. This is the target's
///    [discovered labels](Target::discovered_labels).
/// 2. The job's `relabel_configs` apply; a dropped target is [`Populated::Dropped`].
/// 3. `__address__` must be set; one without a port gets `:80` (`http`) or `:443`
///    (`https`); it must not contain `/`. The interval and timeout labels must be
///    durations, not 0, the timeout not above the interval.
/// 4. The URL is `__scheme__://__address__` + `__metrics_path__` + the job's `params`
///    with the `__param_<name>` values replacing their first values, escaped as Go's
///    `net/url` writes it (Prometheus's `scrapeUrl`).
/// 5. `instance` defaults to the address; labels starting with `__` are dropped; the
///    rest must have valid names (Prometheus 2.42 does not check names; a label
///    name made by relabeling that is not one is an error here).
///
/// ```
/// use promsdk::labels::{LabelPair, LabelSet};
/// use promsdk_harness::scrape::{populate_labels, Populated, ScrapeConfig};
/// let cfg = ScrapeConfig::new("blackbox").metrics_path("/probe")
///     .params([("module".to_owned(), vec!["http_2xx".to_owned()])].into());
/// let found = LabelSet::from_vec("", vec![LabelPair::new("__address__", "127.0.10.1")]).unwrap();
/// let Populated::Active(t) = populate_labels(&found, &cfg).unwrap() else { unreachable!() };
/// assert_eq!(t.url(), "http://127.0.10.1:80/probe?module=http_2xx");
/// assert_eq!(t.labels().get("instance"), Some("127.0.10.1:80"));
/// assert_eq!(t.discovered_labels().get("__param_module"), Some("http_2xx"));
/// ```
pub fn populate_labels(
    discovered: &LabelSet,
    cfg: &ScrapeConfig,
) -> Result<Populated, TargetError> {
    populate(discovered, cfg, &cfg.relabel_configs)
}

fn populate(
    discovered: &LabelSet,
    cfg: &ScrapeConfig,
    rules: &[RelabelConfig],
) -> Result<Populated, TargetError> {
    populate_with(
        discovered,
        &LabelSet::empty(),
        cfg,
        rules,
        &Arc::new(JobLabels::of(cfg)),
    )
}

/// The labels [`populate_labels`] adds from the job (`job`, `__scrape_interval__`,
/// `__scrape_timeout__`, `__metrics_path__`, `__scheme__`, `__param_<name>`), built
/// once per job so that its targets share them.
#[derive(Debug, Clone)]
pub(crate) struct JobLabels {
    /// Set when the target has no (or an empty) value.
    defaults: Vec<LabelPair>,
    /// Always set.
    params: Vec<LabelPair>,
}

impl JobLabels {
    pub(crate) fn of(cfg: &ScrapeConfig) -> Self {
        let defaults = [
            ("job", cfg.job_name.clone()),
            (SCRAPE_INTERVAL_LABEL, format_duration(cfg.interval)),
            (SCRAPE_TIMEOUT_LABEL, format_duration(cfg.timeout)),
            (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
            (SCHEME_LABEL, cfg.scheme.clone()),
        ]
        .into_iter()
        .map(|(name, value)| LabelPair::new(name, value))
        .collect();
        let params = cfg
            .params
            .iter()
            .filter_map(|(name, values)| {
                let first = values.first()?;
                Some(LabelPair::new(
                    format!("{PARAM_LABEL_PREFIX}{name}"),
                    first.as_str(),
                ))
            })
            .collect();
        JobLabels { defaults, params }
    }

    /// A target's labels over its group's, with the job's labels: defaults where
    /// missing or empty, params always; empty values dropped.
    fn apply(&self, target: &LabelSet, group: &LabelSet) -> LabelSet {
        let mut pairs = TargetGroup::merged_pairs(target, group);
        for default in &self.defaults {
            let given = target
                .get(&default.name)
                .or_else(|| group.get(&default.name));
            if given.unwrap_or("").is_empty() {
                set(&mut pairs, default);
            }
        }
        for param in &self.params {
            set(&mut pairs, param);
        }
        pairs.retain(|p| !p.value.is_empty());
        labels_from_pairs(pairs)
    }
}

/// [`populate_labels`] for `discovered` (a target's own labels) in a group with
/// labels `group`, the job's labels built already.
pub(crate) fn populate_with(
    discovered: &LabelSet,
    group: &LabelSet,
    cfg: &ScrapeConfig,
    rules: &[RelabelConfig],
    job: &Arc<JobLabels>,
) -> Result<Populated, TargetError> {
    let pre = job.apply(discovered, group);
    let Some(relabeled) = process(&pre, rules) else {
        return Ok(Populated::Dropped(pre));
    };
    let get = |name: &str| relabeled.get(name).unwrap_or("");
    let mut address = get(ADDRESS_LABEL).to_owned();
    if address.is_empty() {
        return Err(TargetError::NoAddress);
    }
    if split_host_port(&address).is_none() && split_host_port(&format!("{address}:1234")).is_some()
    {
        match get(SCHEME_LABEL) {
            "http" | "" => address.push_str(":80"),
            "https" => address.push_str(":443"),
            _ => return Err(TargetError::InvalidScheme(cfg.scheme.clone())),
        }
    }
    if address.contains('/') {
        return Err(TargetError::InvalidAddress(address));
    }
    let (interval_text, timeout_text) = (get(SCRAPE_INTERVAL_LABEL), get(SCRAPE_TIMEOUT_LABEL));
    let interval = go_duration(interval_text).map_err(TargetError::Interval)?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    let timeout = go_duration(timeout_text).map_err(TargetError::Timeout)?;
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutAboveInterval {
            timeout: timeout_text.to_owned(),
            interval: interval_text.to_owned(),
        });
    }
    let url = target_url(
        get(SCHEME_LABEL),
        &address,
        get(METRICS_PATH_LABEL),
        &cfg.params,
        &relabeled,
    );
    let mut public: Vec<LabelPair> = Vec::with_capacity(relabeled.len());
    for pair in relabeled
        .pairs()
        .iter()
        .filter(|p| !p.name.starts_with("__"))
    {
        if !is_valid_label_name(&pair.name) {
            return Err(TargetError::InvalidLabelName(pair.name.to_string()));
        }
        public.push(pair.clone());
    }
    if get("instance").is_empty() {
        // The address's text is shared when relabeling left it as discovered.
        let value: Arc<str> = match relabeled.pairs().iter().find(|p| &*p.name == ADDRESS_LABEL) {
            Some(p) if *p.value == *address => Arc::clone(&p.value),
            _ => address.into(),
        };
        public.push(LabelPair::new(
            INSTANCE_NAME.get_or_init(|| "instance".into()).clone(),
            value,
        ));
    }
    let mut target = Target::build(
        labels_from_pairs(public),
        url.into(),
        discovered.clone(),
        Some(interval),
        Some(timeout),
    );
    target.group = group.clone();
    target.job = Some(Arc::clone(job));
    Ok(Populated::Active(target))
}

/// Sets `pair` in `pairs` (any order; at most one pair per name), sharing its text.
fn set(pairs: &mut Vec<LabelPair>, pair: &LabelPair) {
    match pairs.iter_mut().find(|p| p.name == pair.name) {
        Some(p) => p.value = Arc::clone(&pair.value),
        None => pairs.push(pair.clone()),
    }
}

/// Parses a duration label as Prometheus's `model.ParseDuration`, with its messages.
fn go_duration(s: &str) -> Result<Duration, String> {
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    parse_duration(s).ok_or_else(|| format!("not a valid duration string: {s:?}"))
}

/// Go's `net.SplitHostPort`: the host and port of `host:port` or `[host]:port`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    let colon = s.rfind(':')?;
    let (host, from) = if s.starts_with('[') {
        let end = s.find(']')?;
        if end + 1 != colon {
            return None;
        }
        (&s[1..end], end + 1)
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return None;
        }
        (host, 0)
    };
    let from_bracket = usize::from(s.starts_with('['));
    if s[from_bracket..].contains('[') || s[from..].contains(']') {
        return None;
    }
    Some((host, &s[colon + 1..]))
}

/// The URL Prometheus's `Target.URL().String()` gives for these parts: the job's
/// `params`, each `__param_<name>` label of `labels` replacing its first value.
fn target_url(
    scheme: &str,
    address: &str,
    path: &str,
    params: &BTreeMap<String, Vec<String>>,
    labels: &LabelSet,
) -> String {
    let mut query: BTreeMap<&str, Vec<&str>> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    for (name, value) in labels.iter() {
        if let Some(key) = name.strip_prefix(PARAM_LABEL_PREFIX) {
            let values = query.entry(key).or_default();
            match values.first_mut() {
                Some(first) => *first = value,
                None => values.push(value),
            }
        }
    }
    let mut url = String::with_capacity(scheme.len() + address.len() + path.len() + 8);
    if !scheme.is_empty() {
        url.push_str(scheme);
        url.push(':');
    }
    if !address.is_empty() || !path.is_empty() {
        url.push_str("//");
    }
    escape_into(&mut url, address, Mode::Host);
    if !path.is_empty() && !path.starts_with('/') && !address.is_empty() {
        url.push('/');
    }
    if path == "*" {
        url.push('*');
    } else {
        escape_into(&mut url, path, Mode::Path);
    }
    let mut first = true;
    for (key, values) in &query {
        for value in values {
            url.push(if first { '?' } else { '&' });
            first = false;
            escape_into(&mut url, key, Mode::Query);
            url.push('=');
            escape_into(&mut url, value, Mode::Query);
        }
    }
    url
}

/// The parts of a URL Go's `net/url` escapes differently.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Path,
    Query,
}

/// Appends `s` escaped as Go's `url.escape` does in `mode`.
fn escape_into(out: &mut String, s: &str, mode: Mode) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        let keep = match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => true,
            b'!' | b'\'' | b'(' | b')' | b'*' | b'[' | b']' | b'<' | b'>' | b'"' => {
                mode == Mode::Host
            }
            b'$' | b'&' | b'+' | b',' | b';' | b'=' | b':' => mode != Mode::Query,
            b'/' | b'@' => mode == Mode::Path,
            _ => false,
        };
        if keep {
            out.push(char::from(b));
        } else if b == b' ' && mode == Mode::Query {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
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

/// What the last scrape of a target found, shared by its loop (which writes it) and
/// its pool (which reads it for [`TargetStatus`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeHealth {
    /// The last scrape's health.
    pub health: Health,
    /// The last scrape's error, empty after a success.
    pub last_error: String,
    /// When the last scrape started (ms since the epoch), if any.
    pub last_scrape_ms: Option<i64>,
    /// How long the last scrape took.
    pub last_duration: Duration,
}

impl TargetStatus {
    /// The status of `target` of job `cfg` whose last scrape found `health`.
    pub fn new(target: &Target, cfg: &crate::scrape::ScrapeConfig, health: &ScrapeHealth) -> Self {
        TargetStatus {
            target: target.clone(),
            job: cfg.job_name.clone(),
            health: health.health,
            last_error: health.last_error.clone(),
            last_scrape_ms: health.last_scrape_ms,
            last_duration: health.last_duration,
            interval: target.interval().unwrap_or(cfg.interval),
            timeout: target.timeout().unwrap_or(cfg.timeout),
        }
    }
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
