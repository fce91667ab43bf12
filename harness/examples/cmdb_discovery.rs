//! A custom service discovery provider written against the public trait: it polls a
//! CMDB-style inventory API (hosts with roles and owners) and turns the answer into
//! target groups with `__meta_cmdb_*` labels, run by the same discovery manager as
//! the built-in providers. The example serves a small inventory itself on loopback,
//! changes it once, and prints what the scrape side would be given:
//!
//! ```sh
//! cargo run -p promsdk-harness --example cmdb_discovery
//! ```
//!
//! Writing a provider is one trait: here [`Refresher`] (read the whole source), which
//! [`RefreshDiscoverer`] polls; for a source that pushes changes, implement
//! [`Discoverer`] directly.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use promsdk::labels::{LabelPair, LabelSet};
use promsdk_harness::discovery::refresh::{RefreshDiscoverer, RefreshFuture, Refresher};
use promsdk_harness::discovery::{
    Discoverer, DiscovererOptions, DiscoveryError, DiscoveryMetrics, Manager, ManagerOpts,
    SdConfig, TargetGroup, TargetSets,
};
use serde::Deserialize;

/// The configuration: where the inventory is and how often to read it.
#[derive(Debug)]
pub struct CmdbSdConfig {
    /// The inventory's `/hosts` URL.
    pub url: String,
    /// Time between reads.
    pub refresh_interval: Duration,
}

impl SdConfig for CmdbSdConfig {
    fn name(&self) -> &str {
        "cmdb"
    }

    fn new_discoverer(&self, _: &DiscovererOptions) -> Result<Box<dyn Discoverer>, DiscoveryError> {
        let refresher = CmdbRefresher {
            url: self.url.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        Ok(Box::new(RefreshDiscoverer::new(
            "cmdb",
            self.refresh_interval,
            refresher,
        )))
    }
}

/// One host as the inventory lists it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Host {
    /// Host name.
    pub hostname: String,
    /// Where its exporter listens (`ip:port`).
    pub address: String,
    /// What it does (`db`, `web`, …): hosts are grouped by role.
    pub role: String,
    /// The team that owns it.
    pub owner: String,
}

struct CmdbRefresher {
    url: String,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl CmdbRefresher {
    async fn hosts(&self) -> Result<Vec<Host>, String> {
        let uri = self.url.parse().map_err(|e| format!("{e}"))?;
        let response = self.client.get(uri).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("inventory answered {}", response.status()));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        serde_json::from_slice(&body).map_err(|e| format!("bad inventory JSON: {e}"))
    }
}

impl Refresher for CmdbRefresher {
    fn refresh(&mut self) -> RefreshFuture<'_> {
        Box::pin(async move {
            let hosts = self
                .hosts()
                .await
                .map_err(|message| DiscoveryError::Source {
                    source_name: self.url.clone(),
                    message,
                })?;
            Ok(groups(&hosts))
        })
    }
}

/// One group per role (source `cmdb:<role>`), each host a target with its own
/// `__meta_cmdb_hostname` and `__meta_cmdb_owner`.
pub fn groups(hosts: &[Host]) -> Vec<TargetGroup> {
    let mut by_role: BTreeMap<&str, Vec<LabelSet>> = BTreeMap::new();
    for h in hosts {
        let target = LabelSet::from_vec(
            "",
            vec![
                LabelPair::new("__address__", h.address.as_str()),
                LabelPair::new("__meta_cmdb_hostname", h.hostname.as_str()),
                LabelPair::new("__meta_cmdb_owner", h.owner.as_str()),
            ],
        )
        .unwrap_or_default();
        by_role.entry(&h.role).or_default().push(target);
    }
    by_role
        .into_iter()
        .map(|(role, targets)| TargetGroup {
            source: format!("cmdb:{role}"),
            targets: targets.into(),
            labels: LabelSet::from_vec("", vec![LabelPair::new("__meta_cmdb_role", role)])
                .unwrap_or_default(),
        })
        .collect()
}

/// Serves `hosts` as JSON at `/hosts` on a free loopback port.
pub async fn serve_inventory(hosts: Arc<Mutex<Vec<Host>>>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let hosts = Arc::clone(&hosts);
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let body = serde_json::to_vec(&*hosts.lock()).unwrap_or_default();
                    async move {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from(body),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn host(name: &str, last: u8, role: &str, owner: &str) -> Host {
    Host {
        hostname: name.into(),
        address: format!("127.0.10.{last}:9100"),
        role: role.into(),
        owner: owner.into(),
    }
}

/// `(role, hostname, owner)` of every target sent.
pub fn summary(sets: &TargetSets) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = sets
        .values()
        .flatten()
        .flat_map(|g| {
            g.targets.iter().map(|t| {
                let get = |l: &LabelSet, n: &str| l.get(n).unwrap_or_default().to_owned();
                (
                    get(&g.labels, "__meta_cmdb_role"),
                    get(t, "__meta_cmdb_hostname"),
                    get(t, "__meta_cmdb_owner"),
                )
            })
        })
        .collect();
    out.sort();
    out
}

/// Runs the demo: discovers the inventory, moves one host to another role, returns
/// both target summaries.
pub async fn run() -> Result<Vec<Vec<(String, String, String)>>, Box<dyn std::error::Error>> {
    let hosts = Arc::new(Mutex::new(vec![
        host("db-1", 1, "db", "storage-team"),
        host("web-1", 2, "web", "frontend-team"),
        host("web-2", 3, "web", "frontend-team"),
    ]));
    let addr = serve_inventory(Arc::clone(&hosts)).await?;
    let opts = ManagerOpts {
        updates_interval: Duration::from_millis(100),
    };
    let (manager, mut sets) = Manager::new(opts, DiscoveryMetrics::unregistered());
    let cmdb: Arc<dyn SdConfig> = Arc::new(CmdbSdConfig {
        url: format!("http://{addr}/hosts"),
        refresh_interval: Duration::from_millis(200),
    });
    manager.apply_config(BTreeMap::from([("inventory".to_owned(), vec![cmdb])]));
    let mut seen = Vec::new();
    let first = sets.recv().await.ok_or("the manager stopped")?;
    println!("discovered: {:?}", summary(&first));
    seen.push(summary(&first));
    // web-2 becomes a database; the whole `web` group shrinks, `db` grows.
    hosts.lock()[2].role = "db".into();
    let moved = loop {
        let next = sets.recv().await.ok_or("the manager stopped")?;
        if summary(&next) != seen[0] {
            break next;
        }
    };
    println!("after the change: {:?}", summary(&moved));
    seen.push(summary(&moved));
    manager.stop();
    Ok(seen)
}

#[tokio::main(flavor = "current_thread")]
#[allow(dead_code)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run().await.map(|_| ())
}
