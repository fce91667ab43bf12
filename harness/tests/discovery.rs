//! Service discovery on real files and a real local HTTP endpoint: file_sd add, modify,
//! remove, broken and deleted files; http_sd with a failing endpoint; two jobs sharing
//! one provider; a burst of updates coalesced into one send; a receiver too busy to
//! take a send. Targets are loopback addresses (127.0.10.x) that nothing scrapes here.

#[path = "common/http_sd.rs"]
mod http_sd;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use promsdk_harness::discovery::file_sd::FileSdConfig;
use promsdk_harness::discovery::http_sd::HttpSdConfig;
use promsdk_harness::discovery::{
    BoxFuture, Discoverer, DiscovererOptions, DiscoveryError, DiscoveryMetrics, Manager,
    ManagerOpts, SdConfig, TargetGroup, TargetSets, Updates,
};
use tokio::sync::mpsc;

const FAST: ManagerOpts = ManagerOpts {
    updates_interval: Duration::from_millis(50),
};

/// `(job, source, address)` of every target, sorted: what the scrape side is given.
fn addresses(sets: &TargetSets) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = sets
        .iter()
        .flat_map(|(job, groups)| {
            groups.iter().flat_map(move |g| {
                g.targets.iter().map(move |t| {
                    let address = t.get("__address__").unwrap_or_default().to_owned();
                    (job.clone(), g.source.clone(), address)
                })
            })
        })
        .collect();
    out.sort();
    out
}

/// Receives sends until `want` holds, failing after 10 s with the last one seen.
async fn until(
    rx: &mut mpsc::Receiver<TargetSets>,
    what: &str,
    want: impl Fn(&TargetSets) -> bool,
) -> TargetSets {
    let mut last = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(sets)) if want(&sets) => return sets,
            Ok(Some(sets)) => last = Some(sets),
            _ => panic!("{what}: not seen within 10 s; last send: {last:?}"),
        }
    }
}

fn file_sd(dir: &Path, pattern: &str, refresh: Duration) -> Arc<dyn SdConfig> {
    let pattern = dir.join(pattern).to_string_lossy().into_owned();
    Arc::new(FileSdConfig::new(vec![pattern], refresh).unwrap())
}

/// Writes through a temporary file and a rename, as tools that write file_sd
/// files should, so a reader never sees half a file.
fn write(path: &Path, body: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, body).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test]
async fn file_sd_follows_files_added_modified_broken_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = DiscoveryMetrics::unregistered();
    let (m, mut rx) = Manager::new(FAST, metrics.clone());
    // A long refresh interval: only the directory watch can notice these changes.
    let cfg = file_sd(dir.path(), "*.json", Duration::from_secs(3600));
    m.apply_config(BTreeMap::from([("node".to_owned(), vec![cfg])]));
    let a = dir.path().join("a.json");
    let source = |i: usize| format!("{}:{i}", a.display());

    write(
        &a,
        r#"[{"targets": ["127.0.10.1:9100"], "labels": {"env": "dev"}}]"#,
    );
    let sets = until(&mut rx, "a target added", |s| addresses(s).len() == 1).await;
    let g = &sets["node"][0];
    assert_eq!(g.labels.get("env"), Some("dev"));
    assert_eq!(g.labels.get("__meta_filepath"), Some(&*a.to_string_lossy()));

    write(
        &a,
        r#"[{"targets": ["127.0.10.1:9100", "127.0.10.2:9100"]}, {"targets": ["127.0.10.3:9100"]}]"#,
    );
    let sets = until(&mut rx, "a target and a group added", |s| {
        addresses(s).len() == 3
    })
    .await;
    assert_eq!(
        addresses(&sets),
        [
            ("node".into(), source(0), "127.0.10.1:9100".into()),
            ("node".into(), source(0), "127.0.10.2:9100".into()),
            ("node".into(), source(1), "127.0.10.3:9100".into()),
        ]
    );

    // A shorter file empties the group it no longer has.
    write(&a, r#"[{"targets": ["127.0.10.2:9100"]}]"#);
    let sets = until(&mut rx, "a target and a group removed", |s| {
        addresses(s).len() == 1
    })
    .await;
    assert_eq!(addresses(&sets)[0].2, "127.0.10.2:9100");
    assert!(sets["node"]
        .iter()
        .any(|g| g.source == source(1) && g.targets.is_empty()));

    // A broken file keeps its last good targets and counts the error.
    write(&a, r#"[{"targets": "127.0.10.9:9100"}]"#);
    tokio::time::timeout(Duration::from_secs(10), async {
        while metrics.file_read_errors.get() < 1.0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the broken file is counted");
    // Another file changing makes a send: `a`'s targets are still there.
    write(
        &dir.path().join("b.json"),
        r#"[{"targets": ["127.0.10.5:9100"]}]"#,
    );
    let sets = until(&mut rx, "b added, a kept", |s| addresses(s).len() == 2).await;
    assert_eq!(addresses(&sets)[0].2, "127.0.10.2:9100");

    // A deleted file empties its groups.
    std::fs::remove_file(&a).unwrap();
    let sets = until(&mut rx, "a deleted", |s| addresses(s).len() == 1).await;
    assert_eq!(addresses(&sets)[0].2, "127.0.10.5:9100");
    assert!(sets["node"]
        .iter()
        .any(|g| g.source == source(0) && g.targets.is_empty()));
    m.stop();
}

#[tokio::test]
async fn file_sd_reads_yaml_and_rereads_on_the_refresh_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (m, mut rx) = Manager::new(FAST, DiscoveryMetrics::unregistered());
    let path = dir.path().join("t.yml");
    write(&path, "- targets: ['127.0.10.1:9100']\n");
    // Watch only a directory nothing changes in; the interval re-reads `t.yml`.
    let cfg = FileSdConfig::new(
        vec![path.to_string_lossy().into_owned()],
        Duration::from_millis(200),
    )
    .unwrap();
    m.apply_config(BTreeMap::from([(
        "j".to_owned(),
        vec![Arc::new(cfg) as Arc<dyn SdConfig>],
    )]));
    until(&mut rx, "yaml read", |s| addresses(s).len() == 1).await;
    std::fs::write(&path, "- targets: ['127.0.10.1:9100', '127.0.10.2:9100']\n").unwrap();
    until(&mut rx, "re-read", |s| addresses(s).len() == 2).await;
    m.stop();
}

#[tokio::test]
async fn http_sd_keeps_the_last_good_targets_while_the_endpoint_fails() {
    let good = r#"[{"targets": ["127.0.10.1:9100"], "labels": {"role": "db"}}, {"targets": ["127.0.10.2:9100"]}]"#;
    let answer: http_sd::Answer = Arc::new(Mutex::new((200, "application/json", good.to_owned())));
    let addr = http_sd::serve(Arc::clone(&answer)).await;
    let url = format!("http://{addr}/sd");
    let metrics = DiscoveryMetrics::unregistered();
    let (m, mut rx) = Manager::new(FAST, metrics.clone());
    let cfg = HttpSdConfig::new(url.as_str(), Duration::from_millis(100)).unwrap();
    m.apply_config(BTreeMap::from([(
        "api".to_owned(),
        vec![Arc::new(cfg) as Arc<dyn SdConfig>],
    )]));
    let sets = until(&mut rx, "first answer", |s| addresses(s).len() == 2).await;
    let g = sets["api"]
        .iter()
        .find(|g| g.source == format!("{url}:0"))
        .unwrap();
    assert_eq!(
        (g.labels.get("role"), g.labels.get("__meta_url")),
        (Some("db"), Some(&*url))
    );

    for (status, ct, body) in [
        (500, "application/json", good.to_owned()),
        (200, "text/plain", good.to_owned()),
        (200, "application/json", "[{\"targets\": 1}]".to_owned()),
    ] {
        let before = metrics.http_failures.get();
        *answer.lock() = (status, ct, body);
        tokio::time::timeout(Duration::from_secs(10), async {
            while metrics.http_failures.get() < before + 2.0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{status} {ct}: failures not counted"));
    }
    // Failures sent nothing: the next send, once the endpoint answers with one group
    // fewer, drops exactly the missing group.
    *answer.lock() = (
        200,
        "application/json; charset=utf-8",
        r#"[{"targets": ["127.0.10.3:9100"]}]"#.into(),
    );
    let sets = until(&mut rx, "recovered", |s| addresses(s).len() == 1).await;
    assert_eq!(
        addresses(&sets)[0],
        ("api".into(), format!("{url}:0"), "127.0.10.3:9100".into())
    );
    assert!(sets["api"]
        .iter()
        .any(|g| g.source == format!("{url}:1") && g.targets.is_empty()));
    m.stop();
}

#[tokio::test]
async fn jobs_with_identical_configs_share_one_provider_across_reloads() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("t.json"),
        r#"[{"targets": ["127.0.10.1:9100"]}]"#,
    );
    let (m, mut rx) = Manager::new(FAST, DiscoveryMetrics::unregistered());
    let cfg = || file_sd(dir.path(), "*.json", Duration::from_secs(3600));
    m.apply_config(BTreeMap::from([
        ("a".to_owned(), vec![cfg()]),
        ("b".to_owned(), vec![cfg()]),
    ]));
    assert_eq!(m.providers(), ["file/0"]);
    let sets = until(&mut rx, "both jobs", |s| addresses(s).len() == 2).await;
    assert_eq!(sets.len(), 2);

    // A reload adding job `c` with the same config: same provider, and `c` gets the
    // groups at once (no re-read: the file is gone but nothing noticed it yet).
    m.apply_config(BTreeMap::from([
        ("a".to_owned(), vec![cfg()]),
        ("b".to_owned(), vec![cfg()]),
        ("c".to_owned(), vec![cfg()]),
    ]));
    assert_eq!(
        m.providers(),
        ["file/0"],
        "the unchanged provider keeps running"
    );
    let sets = until(&mut rx, "job c", |s| addresses(s).len() == 3).await;
    assert_eq!(sets["c"][0].targets.len(), 1);

    // Job `a` changes its config (a new provider); `b` and `c` drop theirs (the old
    // provider is cancelled); `d` has none and gets one empty group.
    let other = file_sd(dir.path(), "other*.json", Duration::from_secs(3600));
    m.apply_config(BTreeMap::from([
        ("a".to_owned(), vec![other]),
        ("d".to_owned(), vec![]),
    ]));
    assert_eq!(m.providers(), ["file/1", "static/2"]);
    let sets = until(&mut rx, "d empty", |s| s.contains_key("d")).await;
    assert!(addresses(&sets).is_empty(), "{sets:?}");
    assert_eq!(
        sets["d"],
        [TargetGroup {
            source: "0".into(),
            ..Default::default()
        }]
    );
    m.stop();
}

/// A provider that sends `n` updates of one group at once, the last with `n` targets.
#[derive(Debug)]
struct Burst(usize);

impl SdConfig for Burst {
    fn name(&self) -> &str {
        "burst"
    }
    fn new_discoverer(&self, _: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        Ok(Box::new(Burst(self.0)))
    }
}

impl Discoverer for Burst {
    fn run(self: Box<Self>, updates: Updates) -> BoxFuture {
        Box::pin(async move {
            for i in 1..=self.0 {
                let addresses: Vec<String> = (0..i)
                    .map(|t| format!("127.0.10.1:{}", 10_000 + t))
                    .collect();
                let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
                let group = TargetGroup::of("burst", &addresses);
                if updates.send(vec![group]).await.is_err() {
                    return;
                }
            }
            std::future::pending::<()>().await;
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_updates_is_one_send_and_a_busy_receiver_delays_sends() {
    let metrics = DiscoveryMetrics::unregistered();
    let opts = ManagerOpts {
        updates_interval: Duration::from_secs(5),
    };
    let (m, mut rx) = Manager::new(opts, metrics.clone());
    m.apply_config(BTreeMap::from([(
        "j".to_owned(),
        vec![Arc::new(Burst(100)) as Arc<dyn SdConfig>],
    )]));
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let sets = rx.try_recv().expect("one send after the first tick");
    assert_eq!(
        sets["j"][0].targets.len(),
        100,
        "the last update of the burst"
    );
    assert!(rx.try_recv().is_err(), "exactly one send");
    assert_eq!(
        (metrics.received_updates.get(), metrics.updates.get()),
        (100.0, 1.0)
    );

    // Nothing changed: later ticks send nothing.
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(rx.try_recv().is_err());
    assert_eq!(metrics.updates.get(), 1.0);

    // The receiver does not read: one send waits in the channel, the next is put off
    // (counted) and retried on every tick, without blocking anything.
    m.apply_config(BTreeMap::from([(
        "j".to_owned(),
        vec![Arc::new(Burst(100)) as Arc<dyn SdConfig>],
    )]));
    tokio::time::sleep(Duration::from_secs(5)).await; // sent, waiting in the channel
    m.apply_config(BTreeMap::from([(
        "k".to_owned(),
        vec![Arc::new(Burst(3)) as Arc<dyn SdConfig>],
    )]));
    tokio::time::sleep(Duration::from_secs(10)).await; // two ticks: both delayed
    assert_eq!(metrics.updates_delayed.get(), 2.0);
    let waiting = rx.try_recv().unwrap();
    assert!(waiting.contains_key("j") && !waiting.contains_key("k"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let latest = rx
        .try_recv()
        .expect("the delayed update, sent once there was room");
    assert_eq!(addresses(&latest).len(), 3);
    assert!(!latest.contains_key("j"), "job j's provider was cancelled");
    m.stop();
}

#[test]
fn discovery_config_errors_name_the_key_and_line() {
    use promsdk_harness::config::Config;
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "file_sd pattern",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['targets/*.txt']\n",
            3,
            "path name \"targets/*.txt\" is not valid for file discovery",
        ),
        (
            "file_sd unknown key",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['t.json']\n        refresh: 1m\n",
            5,
            "unknown field `refresh`",
        ),
        (
            "file_sd interval",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: ['t.json']\n        refresh_interval: 1x\n",
            5,
            "refresh_interval",
        ),
        (
            "http_sd scheme",
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - url: ftp://127.0.0.1/sd\n",
            3,
            "URL scheme must be 'http' or 'https'",
        ),
        (
            "http_sd without url",
            "scrape_configs:\n  - job_name: a\n    http_sd_configs:\n      - refresh_interval: 1m\n",
            4,
            "missing field `url`",
        ),
        (
            "file_sd files of the wrong type",
            "scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: 't.json'\n",
            4,
            "invalid type",
        ),
    ];
    for (name, yaml, line, says) in cases {
        let err = Config::parse(yaml).expect_err(name);
        assert_eq!(err.line, Some(*line), "{name}: {err}");
        assert!(err.to_string().contains(says), "{name}: {err}");
    }
}

#[test]
fn static_file_and_http_configs_become_providers_in_order() {
    use promsdk_harness::config::Config;
    let cfg = Config::parse(
        "scrape_configs:
  - job_name: a
    static_configs: [{targets: ['127.0.10.1:9100']}, {targets: []}]
    file_sd_configs: [{files: ['t/*.json']}]
    http_sd_configs: [{url: 'http://127.0.0.1:8080/sd', refresh_interval: 30s}]
  - job_name: b
",
    )
    .unwrap();
    let sd = cfg.discovery();
    let names: Vec<&str> = sd["a"].iter().map(|c| c.name()).collect();
    assert_eq!(names, ["static", "file", "http"]);
    assert!(
        sd["b"].is_empty(),
        "the manager gives job b its empty group"
    );
    let text = format!("{:?}", sd["a"]);
    assert!(
        text.contains("refresh_interval: 300s") && text.contains("refresh_interval: 30s"),
        "{text}"
    );
}

#[tokio::test]
async fn no_task_outlives_the_manager() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("t.json"),
        r#"[{"targets": ["127.0.10.1:9100"]}]"#,
    );
    let (m, mut rx) = Manager::new(FAST, DiscoveryMetrics::unregistered());
    let clone = m.clone();
    m.apply_config(BTreeMap::from([
        (
            "a".to_owned(),
            vec![file_sd(dir.path(), "*.json", Duration::from_secs(3600))],
        ),
        ("b".to_owned(), vec![]),
    ]));
    until(&mut rx, "targets", |s| addresses(s).len() == 1).await;
    assert_eq!(
        metrics.num_alive_tasks(),
        baseline + 3,
        "sender, file and static providers"
    );
    drop(m);
    assert_eq!(
        metrics.num_alive_tasks(),
        baseline + 3,
        "a clone keeps them running"
    );
    drop(clone);
    tokio::time::timeout(Duration::from_secs(5), async {
        while metrics.num_alive_tasks() > baseline {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every task ends once the last clone is dropped");
    assert!(
        rx.recv().await.is_none(),
        "the receiver sees the channel close"
    );
}
