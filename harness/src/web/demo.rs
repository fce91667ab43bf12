//! The demo view, `/demo`: how long each series of one metric was returned, from the
//! store's samples. One row per value of the `by` label (default `strategy`, so one
//! row per exporter strategy of `promsdk-harness demo`), one lane per series, a bar
//! from its first sample to its staleness marker (red end) or to now. Parameters:
//! `metric` (default `pipeline_step_duration_seconds`), `by`, `range` (default: from
//! the metric's first sample) and `refresh` (seconds; reloads the page).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::svg::{self, Bar, Lane, Row};
use super::{esc, range_param, Params};
use crate::query::NAME_LABEL;
use crate::scrape::{is_stale_nan, MemoryStore};
use promsdk::labels::LabelSet;

const DEFAULT_METRIC: &str = "pipeline_step_duration_seconds";
const DEFAULT_BY: &str = "strategy";
/// An instant query finds a sample this far back (Prometheus's default lookback).
const LOOKBACK_MS: i64 = 300_000;
/// The shortest time axis drawn.
const MIN_SPAN_MS: i64 = 10_000;
/// Rows in this order first (the demo's strategies), then the others by name.
const ORDER: [&str; 4] = ["collector", "delete", "ttl", "naive"];

/// The intervals during which a series with these samples was returned by instant
/// queries: from a sample to its staleness marker, or to the lookback after its last
/// sample (at most `now`).
pub(crate) fn bars(samples: &[(i64, f64)], now: i64) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut open: Option<(i64, i64)> = None;
    for &(t, v) in samples {
        if is_stale_nan(v) {
            if let Some((start, _)) = open.take() {
                out.push(Bar {
                    start,
                    end: t,
                    stale: true,
                });
            }
            continue;
        }
        open = match open {
            Some((start, last)) if t - last > LOOKBACK_MS => {
                out.push(Bar {
                    start,
                    end: last + LOOKBACK_MS,
                    stale: false,
                });
                Some((t, t))
            }
            Some((start, _)) => Some((start, t)),
            None => Some((t, t)),
        };
    }
    if let Some((start, last)) = open {
        out.push(Bar {
            start,
            end: (last + LOOKBACK_MS).min(now).max(last),
            stale: false,
        });
    }
    out
}

/// A lane's label: the labels other than the name, `by`, `job`, `instance` and
/// those in `same` (equal in every series shown).
fn lane_label(labels: &LabelSet, by: &str, same: &BTreeMap<String, String>) -> String {
    let rest: Vec<String> = labels
        .iter()
        .filter(|(n, v)| {
            ![NAME_LABEL, by, "job", "instance"].contains(n)
                && same.get(*n).map(String::as_str) != Some(*v)
        })
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    if rest.is_empty() {
        labels.get("instance").unwrap_or("").to_owned()
    } else {
        rest.join(", ")
    }
}

/// The body of `/demo`.
pub(crate) fn render(store: &MemoryStore, params: &Params, now: i64) -> String {
    let metric = Some(params.get("metric"))
        .filter(|m| !m.is_empty())
        .unwrap_or(DEFAULT_METRIC);
    let by = Some(params.get("by"))
        .filter(|b| !b.is_empty())
        .unwrap_or(DEFAULT_BY);
    // Row value -> lanes (label, first sample, bars).
    let mut groups: BTreeMap<String, Vec<(String, i64, Vec<Bar>)>> = BTreeMap::new();
    let mut first_sample = now;
    {
        let reader = store.reader();
        let shown: Vec<(&LabelSet, Vec<Bar>)> = reader
            .series()
            .filter(|(labels, _)| labels.get(NAME_LABEL) == Some(metric))
            .map(|(labels, samples)| (labels, bars(samples, now)))
            .filter(|(_, bars)| !bars.is_empty())
            .collect();
        // Labels with one value in every series say nothing about a lane.
        let mut same: BTreeMap<String, String> = BTreeMap::new();
        if let Some((first, _)) = shown.first() {
            for (n, v) in first.iter() {
                if shown.len() > 1 && shown.iter().all(|(l, _)| l.get(n) == Some(v)) {
                    same.insert(n.to_owned(), v.to_owned());
                }
            }
        }
        for (labels, bars) in shown {
            let first = bars[0].start;
            first_sample = first_sample.min(first);
            let row = labels.get(by).unwrap_or("").to_owned();
            groups
                .entry(row)
                .or_default()
                .push((lane_label(labels, by, &same), first, bars));
        }
    }
    let start = if params.get("range").is_empty() {
        let first = first_sample.min(now - MIN_SPAN_MS);
        // A little room before the first bar.
        first - (now - first) / 50
    } else {
        now - range_param(params, 300_000)
    };
    let mut names: Vec<String> = groups.keys().cloned().collect();
    names.sort_by_key(|n| {
        (
            ORDER.iter().position(|o| o == n).unwrap_or(ORDER.len()),
            n.clone(),
        )
    });
    // One colour per lane label, the same in every row, in order of appearance.
    let mut seen: Vec<(i64, String)> = groups
        .values()
        .flatten()
        .map(|l| (l.1, l.0.clone()))
        .collect();
    seen.sort();
    let mut colors: BTreeMap<String, usize> = BTreeMap::new();
    for (_, label) in seen {
        let next = colors.len();
        colors.entry(label).or_insert(next);
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut summary = String::new();
    for name in names {
        let mut lanes = groups.remove(&name).unwrap_or_default();
        lanes.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let stale = lanes
            .iter()
            .filter(|l| l.2.last().is_some_and(|b| b.stale))
            .count();
        let label = if name.is_empty() {
            format!("(no {by})")
        } else {
            name
        };
        let _ = write!(
            summary,
            "<tr class=\"lifetime-row\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label),
            lanes.len(),
            lanes.len() - stale,
            stale
        );
        rows.push(Row {
            label,
            lanes: lanes
                .into_iter()
                .map(|(label, _, bars)| Lane {
                    color: colors.get(&label).copied().unwrap_or(0),
                    label,
                    bars,
                })
                .collect(),
        });
    }
    let refresh = params.get("refresh");
    let mut out = format!(
        "<h2 id=\"demo-title\">Series lifetimes: {} by {}</h2>\
         <form id=\"demo-form\" method=\"get\" action=\"/demo\"><label for=\"metric\">Metric</label>\
         <input type=\"text\" name=\"metric\" id=\"metric\" value=\"{}\"><label for=\"by\">Rows by</label>\
         <input type=\"text\" name=\"by\" id=\"by\" value=\"{}\" style=\"min-width:8em;flex:0\">\
         <label for=\"range\">Range</label><input type=\"text\" name=\"range\" id=\"range\" value=\"{}\" placeholder=\"all\" style=\"min-width:5em;flex:0\">\
         <label for=\"refresh\">Reload every</label><input type=\"text\" name=\"refresh\" id=\"refresh\" value=\"{}\" placeholder=\"never\" style=\"min-width:4em;flex:0\">s\
         <button type=\"submit\">Show</button></form>",
        esc(metric),
        esc(by),
        esc(metric),
        esc(by),
        esc(params.get("range")),
        esc(refresh)
    );
    if rows.is_empty() {
        let _ = write!(out, "<p class=\"note\" id=\"no-data\">No series of {} yet. Run <code>promsdk-harness demo</code>, or scrape an exporter that has it.</p>", esc(metric));
        return out;
    }
    out.push_str(
        "<p class=\"note\">Each bar is one series, from its first sample to the staleness marker the scrape wrote when the series \
         stopped being exposed (red end) or its target went away; after that marker queries no longer return it. A bar reaching \
         the right edge is still returned. The <code>naive</code> strategy's vanished steps leak until its target is removed.</p>",
    );
    out.push_str(&svg::lifetimes(&rows, start, now));
    out.push_str(
        "<table id=\"lifetimes-summary\"><thead><tr><th>Row</th><th>Series</th><th>Returned now</th><th>Ended stale</th></tr></thead><tbody>",
    );
    out.push_str(&summary);
    out.push_str("</tbody></table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::{series_labels, Storage, STALE_NAN};
    use std::time::Duration;

    #[test]
    fn bars_end_at_the_stale_marker_or_the_lookback() {
        let b = bars(
            &[(0, 1.0), (1000, 1.0), (2000, STALE_NAN), (5000, 2.0)],
            6000,
        );
        let got: Vec<_> = b.iter().map(|b| (b.start, b.end, b.stale)).collect();
        assert_eq!(got, [(0, 2000, true), (5000, 6000, false)]);
        let b = bars(&[(0, 1.0), (400_000, 1.0)], 1_000_000);
        let got: Vec<_> = b.iter().map(|b| (b.start, b.end, b.stale)).collect();
        assert_eq!(got, [(0, 300_000, false), (400_000, 700_000, false)]);
        assert!(bars(&[(0, STALE_NAN)], 10).is_empty());
    }

    #[test]
    fn rows_follow_the_strategies_and_labels_are_escaped() {
        let store = MemoryStore::new(Duration::from_secs(3600));
        let mut app = store.appender();
        for (strategy, step, stale) in [
            ("naive", "a", false),
            ("collector", "a", true),
            ("collector", "<b>", false),
        ] {
            let labels = series_labels(
                DEFAULT_METRIC,
                &[("strategy", strategy), ("step", step), ("job", "j")],
            );
            app.append(&labels, 1000, 1.0);
            if stale {
                app.append(&labels, 2000, STALE_NAN);
            }
        }
        app.append(&series_labels("other", &[("strategy", "x")]), 1000, 1.0);
        app.commit();
        let html = render(&store, &Params(Vec::new()), 5000);
        let collector = html.find("data-row=\"collector\"").unwrap();
        let naive = html.find("data-row=\"naive\"").unwrap();
        assert!(collector < naive);
        assert!(!html.contains("data-row=\"x\""));
        assert_eq!(html.matches("class=\"bar\"").count(), 3);
        assert_eq!(html.matches("class=\"stale-end\"").count(), 1);
        assert!(
            html.contains("step=&quot;&lt;b&gt;&quot;") && !html.contains("<b>"),
            "{html}"
        );
        assert!(
            html.contains("<td>collector</td><td>2</td><td>1</td><td>1</td>"),
            "{html}"
        );
        let empty = render(
            &store,
            &Params(vec![("metric".into(), "nope".into())]),
            5000,
        );
        assert!(empty.contains("id=\"no-data\""));
    }
}
