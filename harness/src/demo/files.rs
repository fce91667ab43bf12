//! The demo's files: its configuration (a job reading one file_sd file) and that
//! file, in a directory of their own removed when the demo ends.

use std::path::{Path, PathBuf};

use super::exporters::Exporters;
use super::{DemoError, FILE_SD_REFRESH, JOB, SCRAPE_INTERVAL};

pub(super) fn config_text(targets: &Path) -> String {
    let file = serde_json::Value::from(targets.to_string_lossy().into_owned());
    format!(
        "global:\n  scrape_interval: {}ms\n  scrape_timeout: {}ms\nscrape_configs:\n  - job_name: {JOB}\n    file_sd_configs:\n      - files: [{file}]\n        refresh_interval: {}ms\n",
        SCRAPE_INTERVAL.as_millis(),
        SCRAPE_INTERVAL.as_millis(),
        FILE_SD_REFRESH.as_millis()
    )
}

/// Writes the file_sd file: one group per exporter (but `without`'s), labelled with
/// its strategy. Written beside and renamed, so the watcher never reads half a file.
pub(super) fn write_targets(
    path: &Path,
    exporters: &Exporters,
    without: Option<&str>,
) -> Result<(), DemoError> {
    let groups: Vec<serde_json::Value> = exporters
        .list
        .iter()
        .filter(|e| Some(e.strategy) != without)
        .map(|e| serde_json::json!({"targets": [e.addr.to_string()], "labels": {"strategy": e.strategy}}))
        .collect();
    let text = serde_json::Value::from(groups).to_string();
    let tmp = path.with_extension("json.tmp");
    write_file(&tmp, &text)?;
    std::fs::rename(&tmp, path).map_err(|source| DemoError::Io {
        what: "cannot replace the file_sd file".into(),
        path: path.to_path_buf(),
        source,
    })
}

pub(super) fn write_file(path: &Path, text: &str) -> Result<(), DemoError> {
    std::fs::write(path, text).map_err(|source| DemoError::Io {
        what: "cannot write".into(),
        path: path.to_path_buf(),
        source,
    })
}

/// A directory for the demo's configuration and file_sd file, removed on drop.
pub(super) struct WorkDir(PathBuf);

impl WorkDir {
    pub(super) fn new() -> Result<Self, DemoError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("promsdk-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|source| DemoError::Io {
            what: "cannot create the demo's directory".into(),
            path: path.clone(),
            source,
        })?;
        Ok(WorkDir(path))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
