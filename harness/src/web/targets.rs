//! The targets table: pool (job), URL, labels, health, last scrape and last error of
//! every active target, filtered by `?pool=` and `?health=`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{esc, hidden, select, Params};
use crate::scrape::TargetStatus;
use crate::time::format_rfc3339;

/// The targets section of `/`.
pub(crate) fn render(all: &[TargetStatus], params: &Params, now_ms: i64) -> String {
    let (pool, health) = (params.get("pool"), params.get("health"));
    let mut shown: Vec<&TargetStatus> = all
        .iter()
        .filter(|t| pool.is_empty() || t.job == pool)
        .filter(|t| health.is_empty() || t.health.as_str() == health)
        .collect();
    shown.sort_by(|a, b| (&a.job, a.target.url()).cmp(&(&b.job, b.target.url())));
    let pools: BTreeSet<&str> = all.iter().map(|t| t.job.as_str()).collect();
    let mut pool_options = vec![(String::new(), "all pools".to_owned())];
    pool_options.extend(pools.iter().map(|p| ((*p).to_owned(), (*p).to_owned())));
    let health_options: Vec<(String, String)> = [
        ("", "any health"),
        ("up", "up"),
        ("down", "down"),
        ("unknown", "unknown"),
    ]
    .iter()
    .map(|(v, t)| ((*v).to_owned(), (*t).to_owned()))
    .collect();
    let mut out = format!(
        "<h2 id=\"targets-title\">Targets</h2><form id=\"target-filter\" method=\"get\" action=\"/\">\
         <label for=\"pool\">Pool</label>{}<label for=\"health\">Health</label>{}{}<button type=\"submit\">Filter</button></form>\
         <p class=\"note\">{} of {} targets</p>",
        select("pool", &pool_options, pool),
        select("health", &health_options, health),
        hidden(params, &["query", "range", "tab"]),
        shown.len(),
        all.len()
    );
    out.push_str(
        "<table id=\"targets\"><thead><tr><th>Pool</th><th>Endpoint</th><th>Labels</th><th>Health</th>\
         <th>Last scrape</th><th>Last error</th></tr></thead><tbody>",
    );
    for t in &shown {
        let labels: String = t
            .target
            .labels()
            .iter()
            .map(|(n, v)| format!("<span>{}=\"{}\"</span>", esc(n), esc(v)))
            .collect();
        let last = t.last_scrape_ms.map_or_else(
            || "never".to_owned(),
            |ms| {
                format!(
                    "<span title=\"{}\">{:.1}s ago</span> ({:.0} ms)",
                    format_rfc3339(ms),
                    (now_ms - ms).max(0) as f64 / 1000.0,
                    t.last_duration.as_secs_f64() * 1000.0
                )
            },
        );
        let h = t.health.as_str();
        let _ = write!(
            out,
            "<tr class=\"target\"><td>{}</td><td><a href=\"{url}\">{url}</a></td><td class=\"labels\">{labels}</td>\
             <td class=\"health-{h}\">{h}</td><td>{last}</td><td class=\"last-error\">{}</td></tr>",
            esc(&t.job),
            esc(&t.last_error),
            url = esc(t.target.url()),
        );
    }
    if shown.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"note\">no target matches</td></tr>");
    }
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::{Health, ScrapeConfig, Target};
    use std::time::Duration;

    fn status(job: &str, addr: &str, health: Health, labels: &[(&str, &str)]) -> TargetStatus {
        TargetStatus {
            target: Target::new(&ScrapeConfig::new(job), addr, labels),
            job: job.into(),
            health,
            last_error: if health == Health::Down {
                "connection refused <oops>".into()
            } else {
                String::new()
            },
            last_scrape_ms: Some(9_000),
            last_duration: Duration::from_millis(3),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn rows_filter_by_pool_and_health_and_escape_everything() {
        let all = [
            status(
                "a",
                "127.0.10.1:9100",
                Health::Up,
                &[("note", "<script>alert(1)</script>")],
            ),
            status("b", "127.0.10.2:9100", Health::Down, &[]),
        ];
        let none = Params(Vec::new());
        let html = render(&all, &none, 10_000);
        assert_eq!(html.matches("<tr class=\"target\">").count(), 2);
        assert!(
            html.contains("note=\"&lt;script&gt;alert(1)&lt;/script&gt;\""),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("connection refused &lt;oops&gt;"));
        assert!(html.contains("1.0s ago"));
        let by = |k: &str, v: &str| Params(vec![(k.into(), v.into())]);
        let html = render(&all, &by("health", "down"), 10_000);
        assert_eq!(html.matches("<tr class=\"target\">").count(), 1);
        assert!(html.contains("127.0.10.2:9100"));
        let html = render(&all, &by("pool", "a"), 10_000);
        assert_eq!(html.matches("<tr class=\"target\">").count(), 1);
        assert!(html.contains("1 of 2 targets"));
        let html = render(&all, &by("pool", "zzz"), 10_000);
        assert!(html.contains("no target matches"));
    }
}
