//! The process collector (feature `process`, Linux): CPU time, memory, file
//! descriptors, threads and start time of a process, read from `/proc` on every
//! gather, as client_golang's `NewProcessCollector` reports them.
//!
//! Whatever cannot be read (a file missing in a container, a field the kernel does
//! not have) is left out of the gather: the collector never reports an error, so it
//! never fails a scrape.
//!
//! ```
//! use promsdk::process::ProcessCollector;
//! use promsdk::Registry;
//!
//! let registry = Registry::new();
//! registry.register(ProcessCollector::new()).unwrap();
//! let gathered = registry.gather();
//! assert!(gathered.errors.is_empty());
//! let names: Vec<&str> = gathered.families.iter().map(|f| &*f.name).collect();
//! assert!(names.contains(&"process_resident_memory_bytes"));
//! ```

use std::path::PathBuf;

use crate::collector::{Collected, Collector};
use crate::desc::{Desc, Opts};
use crate::family::MetricType;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux for every
/// architecture's user-space ABI).
const USER_HZ: f64 = 100.0;

/// Reports `process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
/// `process_start_time_seconds` and `process_threads` of one process.
#[derive(Debug, Clone)]
pub struct ProcessCollector {
    dir: PathBuf,
    system_stat: PathBuf,
    descs: Descs,
}

#[derive(Debug, Clone)]
struct Descs {
    cpu: Desc,
    resident: Desc,
    virtual_memory: Desc,
    open_fds: Desc,
    max_fds: Desc,
    start_time: Desc,
    threads: Desc,
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessCollector {
    /// Reports the current process (`/proc/self`).
    pub fn new() -> Self {
        Self::from_paths(PathBuf::from("/proc/self"), PathBuf::from("/proc/stat"))
    }

    /// Reports the process `pid`.
    pub fn for_pid(pid: u32) -> Self {
        Self::from_paths(
            PathBuf::from(format!("/proc/{pid}")),
            PathBuf::from("/proc/stat"),
        )
    }

    /// Reads the process directory `dir` (holding `stat`, `status`, `limits`, `fd/`)
    /// and the system's `stat` file for the boot time.
    fn from_paths(dir: PathBuf, system_stat: PathBuf) -> Self {
        let desc = |name: &str, help: &str, t: MetricType| {
            Desc::new(Opts::new(name, help), t, &[]).expect("valid constant descriptor")
        };
        let descs = Descs {
            cpu: desc(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                MetricType::Counter,
            ),
            resident: desc(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                MetricType::Gauge,
            ),
            virtual_memory: desc(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                MetricType::Gauge,
            ),
            open_fds: desc(
                "process_open_fds",
                "Number of open file descriptors.",
                MetricType::Gauge,
            ),
            max_fds: desc(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                MetricType::Gauge,
            ),
            start_time: desc(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                MetricType::Gauge,
            ),
            threads: desc(
                "process_threads",
                "Number of OS threads in the process.",
                MetricType::Gauge,
            ),
        };
        Self {
            dir,
            system_stat,
            descs,
        }
    }

    fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(file)).ok()
    }
}

impl Collector for ProcessCollector {
    fn describe(&self) -> Vec<Desc> {
        let d = &self.descs;
        [
            &d.cpu,
            &d.resident,
            &d.virtual_memory,
            &d.open_fds,
            &d.max_fds,
            &d.start_time,
            &d.threads,
        ]
        .into_iter()
        .cloned()
        .collect()
    }

    fn collect(&self, out: &mut Collected) {
        let d = &self.descs;
        if let Some(stat) = self.read("stat").as_deref().and_then(parse_stat) {
            out.family(&d.cpu)
                .counter(&[], (stat.utime + stat.stime) as f64 / USER_HZ);
            out.family(&d.virtual_memory).gauge(&[], stat.vsize as f64);
            out.family(&d.threads).gauge(&[], stat.threads as f64);
            let boot = std::fs::read_to_string(&self.system_stat).ok();
            if let Some(btime) = boot.as_deref().and_then(parse_boot_time) {
                let start = btime as f64 + stat.start_ticks as f64 / USER_HZ;
                out.family(&d.start_time).gauge(&[], start);
            }
        }
        if let Some(rss) = self
            .read("status")
            .as_deref()
            .and_then(parse_resident_bytes)
        {
            out.family(&d.resident).gauge(&[], rss as f64);
        }
        if let Ok(entries) = std::fs::read_dir(self.dir.join("fd")) {
            out.family(&d.open_fds).gauge(&[], entries.count() as f64);
        }
        if let Some(max) = self.read("limits").as_deref().and_then(parse_max_fds) {
            out.family(&d.max_fds).gauge(&[], max);
        }
    }
}

/// What is used from `/proc/<pid>/stat`.
#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    threads: u64,
    start_ticks: u64,
    vsize: u64,
}

/// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // Field 3 (state) is index 0 here, so field N is index N - 3.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
    })
}

/// The boot time (`btime`, seconds since the epoch) from `/proc/stat`.
fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The resident set size in bytes from `/proc/<pid>/status` (`VmRSS: N kB`).
fn parse_resident_bytes(text: &str) -> Option<u64> {
    let line = text.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().next()?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The soft limit on open files from `/proc/<pid>/limits`; `unlimited` is `+Inf`.
fn parse_max_fds(text: &str) -> Option<f64> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    match line.split_whitespace().next()? {
        "unlimited" => Some(f64::INFINITY),
        soft => soft.parse::<u64>().ok().map(|v| v as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
        250 75 0 0 20 0 7 0 123456 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 3 0 0 0 0 0\n";

    const LIMITS: &str =
        "Limit                     Soft Limit           Hard Limit           Units     \n\
        Max cpu time              unlimited            unlimited            seconds   \n\
        Max open files            1024                 524288               files     \n";

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        let stat = parse_stat(STAT).unwrap();
        assert_eq!(
            stat,
            Stat {
                utime: 250,
                stime: 75,
                threads: 7,
                start_ticks: 123456,
                vsize: 104857600
            }
        );
        assert_eq!(parse_stat("12 (x) S 1 2"), None, "truncated");
        assert_eq!(parse_stat("no parenthesis"), None);
    }

    #[test]
    fn status_limits_and_boot_time_parse() {
        let status = "Name:\tprog\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t7\n";
        assert_eq!(parse_resident_bytes(status), Some(5120 * 1024));
        assert_eq!(parse_resident_bytes("Name:\tkthread\n"), None);
        assert_eq!(parse_max_fds(LIMITS), Some(1024.0));
        assert_eq!(
            parse_max_fds("Max open files unlimited unlimited files\n"),
            Some(f64::INFINITY)
        );
        assert_eq!(parse_max_fds("Max cpu time 1 1 seconds\n"), None);
        assert_eq!(
            parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_boot_time("cpu 1\n"), None);
    }

    fn fake_proc(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("promsdk-process-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    fn gather(collector: ProcessCollector) -> Vec<(String, f64)> {
        let mut out = Collected::default();
        collector.collect(&mut out);
        assert!(out.errors().is_empty(), "{:?}", out.errors());
        out.families()
            .iter()
            .map(|f| {
                let value = match &f.samples[0].value {
                    crate::Value::Counter { total, .. } => *total,
                    crate::Value::Gauge(v) => *v,
                    other => panic!("unexpected {other:?}"),
                };
                (f.name.to_string(), value)
            })
            .collect()
    }

    #[test]
    fn reports_every_readable_value_from_a_fake_proc() {
        let dir = fake_proc(
            "full",
            &[
                ("stat", STAT),
                ("status", "VmRSS:\t 8 kB\n"),
                ("limits", LIMITS),
                ("system_stat", "btime 1000\n"),
            ],
        );
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        for fd in ["0", "1", "2"] {
            std::fs::write(dir.join("fd").join(fd), "").unwrap();
        }
        let mut got = gather(ProcessCollector::from_paths(
            dir.clone(),
            dir.join("system_stat"),
        ));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let want = [
            ("process_cpu_seconds", 3.25),
            ("process_max_fds", 1024.0),
            ("process_open_fds", 3.0),
            ("process_resident_memory_bytes", 8192.0),
            ("process_start_time_seconds", 1000.0 + 1234.56),
            ("process_threads", 7.0),
            ("process_virtual_memory_bytes", 104857600.0),
        ];
        let want: Vec<(String, f64)> = want.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        assert_eq!(got, want);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unreadable_values_are_skipped_without_errors() {
        let dir = fake_proc(
            "partial",
            &[("stat", "garbage"), ("status", "VmRSS:\t 8 kB\n")],
        );
        let got = gather(ProcessCollector::from_paths(
            dir.clone(),
            dir.join("missing"),
        ));
        assert_eq!(got, [("process_resident_memory_bytes".to_string(), 8192.0)]);
        std::fs::remove_dir_all(dir).unwrap();
        let gone = gather(ProcessCollector::for_pid(u32::MAX));
        assert!(gone.is_empty(), "{gone:?}");
    }

    #[test]
    fn the_current_process_reports_every_metric() {
        let got = gather(ProcessCollector::new());
        assert_eq!(got.len(), 7, "{got:?}");
        for (name, value) in got {
            // CPU time is in 10 ms ticks: a quick test process may not have one yet.
            let positive = value > 0.0 || (name == "process_cpu_seconds" && value == 0.0);
            assert!(positive, "{name} = {value}");
        }
    }
}
