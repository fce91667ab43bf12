//! [`RefreshDiscoverer`]: a discoverer for sources that are polled (http_sd, an
//! inventory API), as Prometheus's `discovery/refresh`: refresh at once, then every
//! interval; a failed refresh is logged and sends nothing, so the last good groups
//! stay; a source whose group is missing from a later answer gets an empty group,
//! so its targets go.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{BoxFuture, Discoverer, DiscoveryError, TargetGroup, Updates};

/// The future a [`Refresher`] returns.
pub type RefreshFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<TargetGroup>, DiscoveryError>> + Send + 'a>>;

/// A source read in full on each refresh.
pub trait Refresher: Send + 'static {
    /// Reads every group the source has now. Sources should be stable
    /// (`"{url}:{index}"`): a group is replaced by the next one with its source.
    fn refresh(&mut self) -> RefreshFuture<'_>;
}

/// Polls a [`Refresher`] every `interval` (and once at start).
///
/// ```
/// use std::time::Duration;
/// use promsdk_harness::discovery::refresh::{RefreshDiscoverer, RefreshFuture, Refresher};
/// use promsdk_harness::discovery::{Discoverer, TargetGroup};
///
/// struct Counting(usize);
/// impl Refresher for Counting {
///     fn refresh(&mut self) -> RefreshFuture<'_> {
///         self.0 += 1;
///         let n = self.0;
///         Box::pin(async move { Ok((0..3 - n.min(2)).map(|i| TargetGroup { source: format!("s:{i}"), ..Default::default() }).collect()) })
///     }
/// }
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
/// let (tx, mut rx) = tokio::sync::mpsc::channel(4);
/// tokio::spawn(Box::new(RefreshDiscoverer::new("count", Duration::from_secs(30), Counting(0))).run(tx));
/// assert_eq!(rx.recv().await.unwrap().len(), 2);      // s:0, s:1
/// let second = rx.recv().await.unwrap();              // s:0 and an empty s:1
/// assert_eq!((second.len(), second[1].source.as_str(), second[1].targets.len()), (2, "s:1", 0));
/// # });
/// ```
pub struct RefreshDiscoverer<R> {
    mechanism: String,
    interval: Duration,
    refresher: R,
    last_sources: HashSet<String>,
}

impl<R: Refresher> RefreshDiscoverer<R> {
    /// Refreshes `refresher` every `interval` (zero: once); `mechanism` names it in
    /// logs.
    pub fn new(mechanism: impl Into<String>, interval: Duration, refresher: R) -> Self {
        RefreshDiscoverer {
            mechanism: mechanism.into(),
            interval,
            refresher,
            last_sources: HashSet::new(),
        }
    }

    /// One refresh, with an empty group for each source the previous refresh had
    /// and this one does not; `None` when it failed (logged).
    async fn refresh(&mut self) -> Option<Vec<TargetGroup>> {
        match self.refresher.refresh().await {
            Ok(mut groups) => {
                let sources: HashSet<String> = groups.iter().map(|g| g.source.clone()).collect();
                let mut gone: Vec<String> =
                    self.last_sources.difference(&sources).cloned().collect();
                gone.sort();
                groups.extend(gone.into_iter().map(|source| TargetGroup {
                    source,
                    ..TargetGroup::default()
                }));
                self.last_sources = sources;
                Some(groups)
            }
            Err(e) => {
                tracing::error!(mechanism = %self.mechanism, error = %e, "unable to refresh target groups");
                None
            }
        }
    }
}

impl<R: Refresher> Discoverer for RefreshDiscoverer<R> {
    fn run(mut self: Box<Self>, updates: Updates) -> BoxFuture {
        Box::pin(async move {
            if let Some(groups) = self.refresh().await {
                if updates.send(groups).await.is_err() {
                    return;
                }
            }
            if self.interval.is_zero() {
                return;
            }
            let mut ticker = tokio::time::interval(self.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Some(groups) = self.refresh().await {
                    if updates.send(groups).await.is_err() {
                        return;
                    }
                }
            }
        })
    }
}
