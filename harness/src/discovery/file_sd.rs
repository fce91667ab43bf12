//! [`FileSdConfig`]: Prometheus's `file_sd_configs`. Target groups are read from JSON
//! (`.json`) or YAML (`.yml`, `.yaml`) files matched by patterns with a glob in the
//! last path component; the files' directories are watched (inotify, through the
//! `notify` crate) and every file is also re-read each `refresh_interval` (default
//! 5m), as in Prometheus:
//! - group `i` of file `f` has source `"f:i"` and label `__meta_filepath="f"`;
//! - a file that cannot be read or decoded keeps its last good groups; the error is
//!   logged with the file name and counted in `prometheus_sd_file_read_errors_total`;
//! - a deleted file (or one no longer matched) sends empty groups for its sources.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::{
    BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, DiscoveryMetrics, SdConfig,
    TargetGroup, Updates,
};

/// The label naming the file a target came from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// A `file_sd_configs` entry.
///
/// ```
/// use promsdk_harness::discovery::file_sd::FileSdConfig;
/// use std::time::Duration;
/// assert!(FileSdConfig::new(vec!["targets/*.json".into()], Duration::from_secs(300)).is_ok());
/// let err = FileSdConfig::new(vec!["targets/*.txt".into()], Duration::from_secs(300)).unwrap_err();
/// assert!(err.to_string().contains("targets/*.txt"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSdConfig {
    files: Vec<String>,
    refresh_interval: Duration,
}

impl FileSdConfig {
    /// Prometheus's default refresh interval.
    pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);

    /// Checks the patterns as Prometheus does: a `*` only in the last path component,
    /// and a `.json`, `.yml` or `.yaml` extension.
    pub fn new(files: Vec<String>, refresh_interval: Duration) -> Result<Self, DiscoveryError> {
        let invalid = |message: String| DiscoveryError::Config {
            mechanism: "file_sd".into(),
            message,
        };
        if files.is_empty() {
            return Err(invalid("file_sd_configs: no files given".into()));
        }
        for pattern in &files {
            if !valid_pattern(pattern) {
                return Err(invalid(format!(
                    "path name {pattern:?} is not valid for file discovery"
                )));
            }
        }
        Ok(FileSdConfig {
            files,
            refresh_interval,
        })
    }

    /// Resolves relative patterns against `dir` (the configuration file's directory).
    pub fn relative_to(mut self, dir: &Path) -> Self {
        for f in &mut self.files {
            if Path::new(f).is_relative() {
                *f = dir.join(&*f).to_string_lossy().into_owned();
            }
        }
        self
    }

    /// The file patterns.
    pub fn files(&self) -> &[String] {
        &self.files
    }
}

/// `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`, Prometheus's pattern check.
fn valid_pattern(p: &str) -> bool {
    let Some((stem, ext)) = p.rsplit_once('.') else {
        return false;
    };
    let ext_ok = matches!(ext, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML");
    let glob_ok = match stem.find('*') {
        None => true,
        Some(i) => !stem[i + 1..].contains(['*', '/']),
    };
    ext_ok && glob_ok
}

impl SdConfig for FileSdConfig {
    fn name(&self) -> &str {
        "file"
    }

    fn new_discoverer(
        &self,
        opts: &DiscovererOptions,
    ) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        Ok(Box::new(FileDiscoverer {
            cfg: self.clone(),
            metrics: opts.metrics.clone(),
            last: HashMap::new(),
        }))
    }
}

struct FileDiscoverer {
    cfg: FileSdConfig,
    metrics: DiscoveryMetrics,
    /// How many groups each file had at its last good read.
    last: HashMap<PathBuf, usize>,
}

impl FileDiscoverer {
    fn list_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for pattern in &self.cfg.files {
            match glob::glob(pattern) {
                Ok(paths) => files.extend(paths.filter_map(Result::ok)),
                Err(e) => tracing::error!(pattern, error = %e, "invalid file_sd pattern"),
            }
        }
        files.sort();
        files.dedup();
        files
    }

    /// Reads every file; returns the updates to send.
    fn refresh(&mut self) -> Vec<Vec<TargetGroup>> {
        let mut sends = Vec::new();
        let mut now = HashMap::new();
        for path in self.list_files() {
            match read_file(&path) {
                Ok(groups) => {
                    // A file that shrank empties the sources it no longer has.
                    let before = self.last.get(&path).copied().unwrap_or(0);
                    let mut groups = groups;
                    let len = groups.len();
                    groups.extend((len..before).map(|i| empty_group(&path, i)));
                    now.insert(path, len);
                    sends.push(groups);
                }
                Err(message) => {
                    self.metrics.file_read_errors.inc();
                    tracing::error!(file = %path.display(), error = %message, "error reading file_sd file; keeping its last targets");
                    if let Some(&n) = self.last.get(&path) {
                        now.insert(path, n);
                    }
                }
            }
        }
        for (path, n) in &self.last {
            if !now.contains_key(path) {
                sends.push((0..*n).map(|i| empty_group(path, i)).collect());
            }
        }
        self.last = now;
        sends
    }
}

fn empty_group(path: &Path, index: usize) -> TargetGroup {
    TargetGroup {
        source: format!("{}:{index}", path.display()),
        ..TargetGroup::default()
    }
}

/// One file's groups, each labelled with `__meta_filepath`.
fn read_file(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let body = std::fs::read(path).map_err(|e| e.to_string())?;
    let name = path.display().to_string();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let groups = match ext.as_str() {
        "json" => TargetGroup::from_json(&body, &name)?,
        "yml" | "yaml" => TargetGroup::from_yaml(&body, &name)?,
        other => {
            return Err(format!(
                "retrieval target groups from {other:?} files is not supported"
            ))
        }
    };
    Ok(groups
        .into_iter()
        .map(|g| g.with_label(FILEPATH_LABEL, &name))
        .collect())
}

impl Discoverer for FileDiscoverer {
    fn run(mut self: Box<Self>, updates: Updates) -> BoxFuture {
        Box::pin(async move {
            let (events_tx, mut events) = mpsc::unbounded_channel();
            // Dropped with this future: the watch ends when the provider is cancelled.
            let _watcher = watch(&self.cfg.files, events_tx);
            let mut ticker = tokio::time::interval(if self.cfg.refresh_interval.is_zero() {
                FileSdConfig::DEFAULT_REFRESH_INTERVAL
            } else {
                self.cfg.refresh_interval
            });
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                for groups in self.refresh() {
                    if updates.send(groups).await.is_err() {
                        return;
                    }
                }
                tokio::select! {
                    _ = ticker.tick() => {}
                    Some(()) = events.recv() => {
                        // One refresh for a burst of events.
                        while events.try_recv().is_ok() {}
                    }
                }
            }
        })
    }
}

/// Watches the directories of `patterns`; each relevant event sends `()`. `None`
/// (logged) when watching is not possible: the refresh interval still applies.
fn watch(
    patterns: &[String],
    events: mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev {
            if !ev.kind.is_access() && !ev.paths.is_empty() {
                let _ = events.send(());
            }
        }
    })
    .map_err(|e| tracing::error!(error = %e, "cannot watch file_sd directories; re-reading on the refresh interval only"))
    .ok()?;
    let mut dirs: Vec<PathBuf> = patterns
        .iter()
        .map(|p| match Path::new(p).parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
            tracing::error!(dir = %dir.display(), error = %e, "cannot watch file_sd directory");
        }
    }
    Some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked_as_prometheus() {
        for (p, ok) in [
            ("a.json", true),
            ("dir/*.yml", true),
            ("dir/x*y.YAML", true),
            ("*/a.json", false),
            ("dir/**.json", false),
            ("a.txt", false),
            ("a", false),
        ] {
            assert_eq!(valid_pattern(p), ok, "{p}");
        }
    }
}
