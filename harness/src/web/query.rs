//! The query box: `?query=EXPR&range=5m&tab=graph|table`. The graph evaluates the
//! expression over the range ([`Engine::range`], about 300 steps) and draws one line
//! per series with a legend; the table shows the instant result at now.

use std::fmt::Write as _;
use std::time::Duration;

use super::svg::{self, color, Line};
use super::{esc, hidden, range_param, select, url_encode, Params};
use crate::query::{format_value, Engine, QueryValue, NAME_LABEL};
use promsdk::labels::LabelSet;

/// At most this many series are drawn or listed.
const MAX_SERIES: usize = 100;
/// Points per line, about.
const STEPS: i64 = 300;
const RANGES: [&str; 7] = ["1m", "5m", "15m", "30m", "1h", "6h", "1d"];

/// A series' name as Prometheus's graph shows it: `name{a="x", b="y"}`.
pub(crate) fn series_name(labels: &LabelSet) -> String {
    let name = labels.get(NAME_LABEL).unwrap_or("");
    let rest: Vec<String> = labels
        .iter()
        .filter(|(n, _)| *n != NAME_LABEL)
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", rest.join(", "))
    }
}

/// The query section of `/`.
pub(crate) fn render(engine: &Engine, params: &Params, now_ms: i64) -> String {
    let q = params.get("query");
    let range = range_param(params, 300_000);
    let range_text = params.get("range");
    let tab = if params.get("tab") == "table" {
        "table"
    } else {
        "graph"
    };
    let mut ranges: Vec<(String, String)> = RANGES
        .iter()
        .map(|r| ((*r).to_owned(), (*r).to_owned()))
        .collect();
    let chosen = if range_text.is_empty() || range_param(params, 0) == 0 {
        "5m"
    } else {
        range_text
    };
    if !RANGES.contains(&chosen) {
        ranges.push((chosen.to_owned(), chosen.to_owned()));
    }
    let tabs = [
        ("graph".to_owned(), "graph".to_owned()),
        ("table".to_owned(), "table".to_owned()),
    ];
    let mut out = format!(
        "<h2 id=\"query-title\">Query</h2><form id=\"query-form\" method=\"get\" action=\"/\">\
         <input type=\"text\" name=\"query\" id=\"query\" value=\"{}\" placeholder=\"PromQL, e.g. pipeline_step_duration_seconds\" aria-label=\"expression\">\
         <label for=\"range\">Range</label>{}<label for=\"tab\">Show</label>{}{}<button type=\"submit\">Execute</button></form>",
        esc(q),
        select("range", &ranges, chosen),
        select("tab", &tabs, tab),
        hidden(params, &["pool", "health"])
    );
    if q.is_empty() {
        out.push_str("<p class=\"note\">Enter an expression to graph it over the range or list its value now.</p>");
        return out;
    }
    let other = if tab == "graph" { "table" } else { "graph" };
    let _ = write!(
        out,
        "<p class=\"note\"><a href=\"/?query={}&amp;range={}&amp;tab={other}\">show as {other}</a></p>",
        url_encode(q),
        url_encode(chosen)
    );
    let result = if tab == "graph" {
        graph(engine, q, range, now_ms)
    } else {
        table(engine, q, now_ms)
    };
    match result {
        Ok(html) => out.push_str(&html),
        Err(e) => {
            let _ = write!(out, "<p class=\"error\" id=\"query-error\">{}</p>", esc(&e));
        }
    }
    out
}

fn graph(engine: &Engine, q: &str, range: i64, now_ms: i64) -> Result<String, String> {
    let step = (range / STEPS).max(100);
    let start = (now_ms - range).div_euclid(step) * step;
    let end = now_ms.div_euclid(step) * step;
    let series = engine
        .range(q, start, end, Duration::from_millis(step as u64), None)
        .map_err(|e| e.to_string())?;
    if series.is_empty() {
        return Ok("<p class=\"note\" id=\"no-data\">No data in this range.</p>".into());
    }
    let names: Vec<String> = series.iter().map(|s| series_name(&s.labels)).collect();
    let shown = series.len().min(MAX_SERIES);
    let lines: Vec<Line<'_>> = series
        .iter()
        .zip(&names)
        .take(shown)
        .map(|(s, name)| Line {
            name,
            points: &s.points,
        })
        .collect();
    let mut out = svg::line_chart(&lines, start, end, step);
    out.push_str("<ul class=\"legend\" id=\"legend\">");
    for (i, name) in names.iter().take(shown).enumerate() {
        let _ = write!(
            out,
            "<li data-series=\"{i}\"><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            color(i),
            esc(name)
        );
    }
    out.push_str("</ul>");
    let _ = write!(
        out,
        "<p class=\"note\">{} series{}, evaluated every {} ms; a line ends with × where its series went stale (the query stopped returning it).</p>",
        series.len(),
        if shown < series.len() { format!(", the first {shown} drawn") } else { String::new() },
        step
    );
    Ok(out)
}

fn table(engine: &Engine, q: &str, now_ms: i64) -> Result<String, String> {
    let value = engine.instant(q, now_ms, None).map_err(|e| e.to_string())?;
    let mut out = String::from(
        "<table id=\"result\"><thead><tr><th>Series</th><th>Value</th></tr></thead><tbody>",
    );
    let row = |out: &mut String, name: &str, value: &str| {
        let _ = write!(
            out,
            "<tr class=\"sample\"><td>{}</td><td>{}</td></tr>",
            esc(name),
            esc(value)
        );
    };
    match &value {
        QueryValue::Vector(v) => {
            for s in v.iter().take(MAX_SERIES) {
                row(&mut out, &series_name(&s.labels), &format_value(s.value));
            }
            if v.is_empty() {
                out.push_str("<tr><td colspan=\"2\" class=\"note\">empty result</td></tr>");
            }
        }
        QueryValue::Matrix(m) => {
            for s in m.iter().take(MAX_SERIES) {
                let values: Vec<String> = s
                    .points
                    .iter()
                    .map(|(t, v)| format!("{} @{}", format_value(*v), svg::clock(*t)))
                    .collect();
                row(&mut out, &series_name(&s.labels), &values.join(", "));
            }
        }
        QueryValue::Scalar(v) => row(&mut out, "scalar", &format_value(*v)),
        QueryValue::String(s) => row(&mut out, "string", s),
    }
    out.push_str("</tbody></table>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::EngineOpts;
    use crate::scrape::{series_labels, MemoryStore, Storage, STALE_NAN};

    fn engine() -> Engine {
        let store = MemoryStore::new(Duration::from_secs(3600));
        let mut app = store.appender();
        for t in 0..10 {
            app.append(
                &series_labels("m", &[("step", "<b>x</b>")]),
                t * 1000,
                t as f64,
            );
            if t < 5 {
                app.append(&series_labels("m", &[("step", "gone")]), t * 1000, 1.0);
            }
        }
        app.append(&series_labels("m", &[("step", "gone")]), 5000, STALE_NAN);
        app.commit();
        Engine::new(store, EngineOpts::default())
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        )
    }

    #[test]
    fn the_graph_has_a_line_per_series_and_marks_the_stale_one() {
        let html = render(
            &engine(),
            &params(&[("query", "m"), ("range", "1m")]),
            9_000,
        );
        assert_eq!(html.matches("class=\"series\"").count(), 2, "{html}");
        assert_eq!(html.matches("class=\"stale-mark\"").count(), 1, "{html}");
        assert!(
            html.contains("m{step=&quot;&lt;b&gt;x&lt;/b&gt;&quot;}"),
            "{html}"
        );
        assert!(!html.contains("<b>x"));
    }

    #[test]
    fn the_table_shows_the_instant_result_and_errors_are_escaped() {
        let html = render(
            &engine(),
            &params(&[("query", "m"), ("tab", "table")]),
            9_000,
        );
        assert_eq!(html.matches("<tr class=\"sample\">").count(), 1, "{html}");
        assert!(html.contains("<td>9</td>"));
        let html = render(&engine(), &params(&[("query", "m{<script>")]), 9_000);
        assert!(html.contains("id=\"query-error\""), "{html}");
        assert!(!html.contains("<script>"));
        assert!(html.contains("value=\"m{&lt;script&gt;\""));
    }
}
