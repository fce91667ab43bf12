//! [`ScrapeManager`]: one [`ScrapePool`] per job, fed complete target sets per job
//! (static lists now; the discovery manager's output later).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::scrape::pool::ScrapePool;
use crate::scrape::scraper::Scraper;
use crate::scrape::store::Storage;
use crate::scrape::target::{Target, TargetStatus};
use crate::scrape::{ScrapeConfig, WallClock};

/// Every job's pool. Cheap to clone (shared); must be used within a tokio runtime.
///
/// ```
/// use promsdk::scrape::{FakeScraper, MemoryStore, ScrapeConfig, ScrapeManager, Target};
/// use std::{collections::HashMap, sync::Arc, time::Duration};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = ScrapeManager::new(Arc::new(FakeScraper::default()), Arc::new(MemoryStore::new(Duration::from_secs(60))));
/// let job = ScrapeConfig::new("node");
/// manager.apply_config(vec![job.clone()]);
/// manager.sync(HashMap::from([("node".to_owned(), vec![Target::new(&job, "a:9100", &[])])]));
/// assert_eq!(manager.targets()[0].target.url(), "http://a:9100/metrics");
/// manager.shutdown();
/// # });
/// ```
#[derive(Clone)]
pub struct ScrapeManager {
    scraper: Arc<dyn Scraper>,
    storage: Arc<dyn Storage>,
    clock: WallClock,
    pools: Arc<Mutex<BTreeMap<String, ScrapePool>>>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("jobs", &self.pools.lock().keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ScrapeManager {
    /// A manager with no jobs, scraping with `scraper` into `storage`.
    pub fn new(scraper: Arc<dyn Scraper>, storage: Arc<dyn Storage>) -> Self {
        ScrapeManager {
            scraper,
            storage,
            clock: WallClock::system(),
            pools: Arc::default(),
        }
    }

    /// Stamps scrapes with `clock` (default: the system clock). Set it before the
    /// first [`apply_config`](Self::apply_config).
    pub fn with_clock(mut self, clock: WallClock) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the jobs: a job no longer configured stops (its series go stale), a new
    /// one gets an empty pool, and a job whose settings changed restarts its loops
    /// (as Prometheus's reload does). Unchanged jobs keep running.
    pub fn apply_config(&self, jobs: Vec<ScrapeConfig>) {
        let mut pools = self.pools.lock();
        let mut old = std::mem::take(&mut *pools);
        for cfg in jobs {
            match old.remove(&cfg.job_name) {
                Some(pool) if *pool.config() == cfg => {
                    pools.insert(cfg.job_name.clone(), pool);
                }
                previous => {
                    let targets: Vec<Target> = previous
                        .map(|mut p| {
                            let t = p.targets().into_iter().map(|s| s.target).collect();
                            p.stop(true);
                            t
                        })
                        .unwrap_or_default();
                    let mut pool = ScrapePool::new(
                        cfg.clone(),
                        Arc::clone(&self.scraper),
                        Arc::clone(&self.storage),
                    )
                    .with_clock(self.clock.clone());
                    pool.sync(targets);
                    pools.insert(cfg.job_name, pool);
                }
            }
        }
        for (_, mut gone) in old {
            gone.stop(true);
        }
    }

    /// Syncs the pools of the jobs named in `target_sets` to their target lists; a job
    /// not named keeps its targets, a job not configured is ignored.
    pub fn sync(&self, target_sets: impl IntoIterator<Item = (String, Vec<Target>)>) {
        let mut pools = self.pools.lock();
        for (job, targets) in target_sets {
            if let Some(pool) = pools.get_mut(&job) {
                pool.sync(targets);
            }
        }
    }

    /// Every target's status, by job, then target.
    pub fn targets(&self) -> Vec<TargetStatus> {
        self.pools
            .lock()
            .values()
            .flat_map(ScrapePool::targets)
            .collect()
    }

    /// Stops every loop without writing staleness markers (process shutdown).
    pub fn shutdown(&self) {
        for (_, mut pool) in std::mem::take(&mut *self.pools.lock()) {
            pool.stop(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::scraper::{FakeScraper, Scraped};
    use crate::scrape::store::{is_stale_nan, MemoryStore};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn removing_a_job_marks_its_series_stale_and_keeps_others() {
        let store = MemoryStore::new(Duration::from_secs(3600));
        let fake = FakeScraper::default();
        let m = ScrapeManager::new(Arc::new(fake.clone()), Arc::new(store.clone()))
            .with_clock(WallClock::tokio());
        let (a, b) = (
            ScrapeConfig::new("a").interval(Duration::from_secs(5)),
            ScrapeConfig::new("b").interval(Duration::from_secs(5)),
        );
        let (ta, tb) = (Target::new(&a, "h:1", &[]), Target::new(&b, "h:1", &[]));
        fake.set(ta.url(), Ok(Scraped::text("m 1\n")));
        m.apply_config(vec![a.clone(), b.clone()]);
        m.sync([("a".to_owned(), vec![ta]), ("b".to_owned(), vec![tb])]);
        tokio::time::sleep(Duration::from_secs(10)).await;
        m.apply_config(vec![b.clone()]);
        assert_eq!(m.targets().len(), 1);
        tokio::time::sleep(Duration::from_secs(20)).await;
        let up = store.select(|l| l.get("__name__") == Some("up"), i64::MIN, i64::MAX);
        let last: Vec<(&str, bool)> = up
            .iter()
            .map(|(l, s)| (l.get("job").unwrap(), is_stale_nan(s.last().unwrap().1)))
            .collect();
        assert_eq!(last, [("a", true), ("b", false)]);
        m.shutdown();
        assert!(m.targets().is_empty());
    }
}
