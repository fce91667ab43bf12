//! Chart drawing for the web page, as inline SVG: a time axis shared by both charts,
//! a line chart (one path per series, broken where the series had no value, with an
//! end mark where it went stale) and lifetime bars (one lane per series, grouped in
//! rows). Every text drawn is escaped.

use std::fmt::Write as _;

use super::esc;

/// Series colours, reused in turn.
pub(crate) const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// The colour of series `i`.
pub(crate) fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

const WIDTH: f64 = 960.0;

/// Tick spacings tried, in milliseconds.
const TICKS_MS: [i64; 16] = [
    1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
    1_800_000, 3_600_000, 7_200_000, 21_600_000, 86_400_000,
];

/// Maps `[start_ms, end_ms]` onto `[x0, x1]` pixels.
pub(crate) struct TimeAxis {
    start: i64,
    end: i64,
    x0: f64,
    x1: f64,
}

impl TimeAxis {
    pub(crate) fn new(start: i64, end: i64, x0: f64, x1: f64) -> Self {
        TimeAxis {
            start,
            end: end.max(start + 1),
            x0,
            x1,
        }
    }

    pub(crate) fn x(&self, t: i64) -> f64 {
        let t = t.clamp(self.start, self.end);
        self.x0 + (t - self.start) as f64 / (self.end - self.start) as f64 * (self.x1 - self.x0)
    }

    /// Tick times: the smallest spacing giving at most 8 ticks.
    fn ticks(&self) -> Vec<i64> {
        let span = self.end - self.start;
        let step = TICKS_MS
            .iter()
            .copied()
            .find(|s| span / s <= 8)
            .unwrap_or(span / 8 + 1);
        let first =
            self.start.div_euclid(step) * step + if self.start % step == 0 { 0 } else { step };
        (0..)
            .map(|i| first + i * step)
            .take_while(|t| *t <= self.end)
            .collect()
    }

    /// Grid lines from `top` to `bottom` and labels under `bottom`.
    fn draw(&self, top: f64, bottom: f64, out: &mut String) {
        let _ = write!(
            out,
            r##"<line class="axis" x1="{:.1}" y1="{bottom:.1}" x2="{:.1}" y2="{bottom:.1}" stroke="#888"/>"##,
            self.x0, self.x1
        );
        for t in self.ticks() {
            let x = self.x(t);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#e4e4e4"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                bottom + 14.0,
                clock(t)
            );
        }
        let _ = write!(
            out,
            r##"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">UTC</text>"##,
            self.x1,
            bottom + 28.0
        );
    }
}

/// `HH:MM:SS` (UTC) of a Unix time in milliseconds.
pub(crate) fn clock(t_ms: i64) -> String {
    let s = t_ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A value for an axis label: short, never more than 4 significant digits.
pub(crate) fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !(1e-3..1e5).contains(&v.abs()) {
        return format!("{v:.2e}");
    }
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Round values between `lo` and `hi`: about five, spaced 1, 2, 2.5 or 5 times a
/// power of ten.
fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 5.0;
    if !(raw.is_finite() && raw > 0.0) {
        return vec![lo];
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// One series of a line chart.
pub(crate) struct Line<'a> {
    /// Its name, for the tooltip.
    pub name: &'a str,
    /// Its points `(t_ms, value)`, one per evaluation step where it had a value.
    pub points: &'a [(i64, f64)],
}

/// A line chart of `lines` over `[start, end]` evaluated every `step_ms`: a missing
/// step breaks the line, and a series that stops before `end` gets an end mark (the
/// query no longer returned it: it went stale).
pub(crate) fn line_chart(lines: &[Line<'_>], start: i64, end: i64, step_ms: i64) -> String {
    let (top, bottom, left, right) = (12.0, 272.0, 64.0, WIDTH - 16.0);
    let axis = TimeAxis::new(start, end, left, right);
    let values = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite());
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    } else if lo == hi {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    } else {
        let pad = (hi - lo) * 0.05;
        (lo, hi) = (lo - pad, hi + pad);
    }
    let y = |v: f64| bottom - (v - lo) / (hi - lo) * (bottom - top);
    let mut out = format!(
        r#"<svg class="chart graph" viewBox="0 0 {WIDTH} 310" width="100%" role="img" aria-label="line graph" xmlns="http://www.w3.org/2000/svg">"#
    );
    axis.draw(top, bottom, &mut out);
    for v in nice_ticks(lo, hi) {
        let _ = write!(
            out,
            r##"<line x1="{left}" y1="{0:.1}" x2="{right}" y2="{0:.1}" stroke="#f0f0f0"/><text class="tick" x="{1}" y="{2:.1}" text-anchor="end">{3}</text>"##,
            y(v),
            left - 6.0,
            y(v) + 4.0,
            number(v)
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let c = color(i);
        let mut d = String::new();
        let mut prev: Option<i64> = None;
        let mut ends: Vec<(i64, f64)> = Vec::new();
        for (j, &(t, v)) in line.points.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let joined = prev.is_some_and(|p| t - p <= step_ms);
            let _ = write!(
                d,
                "{}{:.1},{:.1} ",
                if joined { "L" } else { "M" },
                axis.x(t),
                y(v)
            );
            let next = line.points.get(j + 1).map(|p| p.0);
            if next.is_none_or(|n| n - t > step_ms) && t + step_ms <= end {
                ends.push((t, v));
            }
            prev = Some(t);
        }
        let name = esc(line.name);
        let _ = write!(
            out,
            r#"<path class="series" data-series="{i}" d="{}" fill="none" stroke="{c}" stroke-width="1.8"><title>{name}</title></path>"#,
            d.trim_end()
        );
        // A lone point draws nothing as a path: show it as a dot.
        if line.points.len() == 1 {
            let (t, v) = line.points[0];
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{c}"/>"#,
                axis.x(t),
                y(v)
            );
        }
        for (t, v) in ends {
            let (x, yy) = (axis.x(t), y(v));
            let _ = write!(
                out,
                r#"<g class="stale-mark" data-series="{i}" stroke="{c}" stroke-width="2"><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><title>{name} went stale after {}</title></g>"#,
                x - 4.0,
                yy - 4.0,
                x + 4.0,
                yy + 4.0,
                x - 4.0,
                yy + 4.0,
                x + 4.0,
                yy - 4.0,
                clock(t)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// One interval during which a series was returned.
pub(crate) struct Bar {
    /// Its first sample.
    pub start: i64,
    /// Its stale marker, or the last time it counts as returned.
    pub end: i64,
    /// It ended with a staleness marker.
    pub stale: bool,
}

/// One series: its label and intervals.
pub(crate) struct Lane {
    pub label: String,
    /// Its colour's index in the palette.
    pub color: usize,
    pub bars: Vec<Bar>,
}

/// A group of lanes (a strategy).
pub(crate) struct Row {
    pub label: String,
    pub lanes: Vec<Lane>,
}

/// Characters of a row label shown (the rest in its tooltip).
const ROW_LABEL_CHARS: usize = 14;
/// Characters of a lane label shown.
const LANE_LABEL_CHARS: usize = 27;

/// `s` cut to `max` characters, the cut marked with `…`.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}

/// Lifetime bars: one block per row, one lane per series, on one time axis over
/// `[start, end]`; a bar ending in a staleness marker gets a red end mark.
pub(crate) fn lifetimes(rows: &[Row], start: i64, end: i64) -> String {
    const LANE: f64 = 18.0;
    const GAP: f64 = 14.0;
    let (left, right, top) = (300.0, WIDTH - 16.0, 8.0);
    let lanes: usize = rows.iter().map(|r| r.lanes.len().max(1)).sum();
    let bottom = top + lanes as f64 * LANE + rows.len() as f64 * GAP;
    let height = bottom + 34.0;
    let axis = TimeAxis::new(start, end, left, right);
    let mut out = format!(
        r#"<svg class="chart lifetimes" viewBox="0 0 {WIDTH} {height:.0}" width="100%" role="img" aria-label="series lifetimes" xmlns="http://www.w3.org/2000/svg">"#
    );
    let block = |row: &Row| row.lanes.len().max(1) as f64 * LANE;
    // Backgrounds first, then the grid over them, then the bars.
    let mut y = top + GAP / 2.0;
    for (r, row) in rows.iter().enumerate() {
        if r % 2 == 0 {
            let _ = write!(
                out,
                r##"<rect x="0" y="{:.1}" width="{WIDTH}" height="{:.1}" fill="#f3f6fa"/>"##,
                y - GAP / 2.0,
                block(row) + GAP
            );
        }
        y += block(row) + GAP;
    }
    axis.draw(top, bottom, &mut out);
    let mut y = top + GAP / 2.0;
    for row in rows {
        let _ = write!(
            out,
            r##"<g class="row" data-row="{}"><text class="row-label" x="6" y="{:.1}"><title>{}</title>{}</text>"##,
            esc(&row.label),
            y + 13.0,
            esc(&row.label),
            esc(&clip(&row.label, ROW_LABEL_CHARS))
        );
        for (l, lane) in row.lanes.iter().enumerate() {
            let ly = y + l as f64 * LANE;
            let c = color(lane.color);
            let _ = write!(
                out,
                r#"<text class="lane-label" x="{:.1}" y="{:.1}" text-anchor="end"><title>{}</title>{}</text>"#,
                left - 8.0,
                ly + 13.0,
                esc(&lane.label),
                esc(&clip(&lane.label, LANE_LABEL_CHARS))
            );
            for bar in &lane.bars {
                let (x0, x1) = (axis.x(bar.start), axis.x(bar.end));
                let _ = write!(
                    out,
                    r#"<rect class="bar" x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="2" fill="{c}"><title>{} {} – {}{}</title></rect>"#,
                    ly + 3.0,
                    (x1 - x0).max(1.5),
                    LANE - 6.0,
                    esc(&lane.label),
                    clock(bar.start),
                    clock(bar.end),
                    if bar.stale { " (stale)" } else { "" }
                );
                if bar.stale {
                    let _ = write!(
                        out,
                        r##"<g class="stale-end"><line x1="{x1:.1}" y1="{:.1}" x2="{x1:.1}" y2="{:.1}" stroke="#c00" stroke-width="3"/><title>{} stale at {}</title></g>"##,
                        ly + 1.0,
                        ly + LANE - 1.0,
                        esc(&lane.label),
                        clock(bar.end)
                    );
                }
            }
        }
        out.push_str("</g>");
        y += block(row) + GAP;
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_within_the_axis() {
        let axis = TimeAxis::new(1_000_500, 1_030_500, 0.0, 100.0);
        let ticks = axis.ticks();
        assert_eq!(ticks.first(), Some(&1_005_000));
        assert!(ticks
            .iter()
            .all(|t| t % 5_000 == 0 && (1_000_500..=1_030_500).contains(t)));
        assert!(ticks.len() <= 8);
        assert_eq!(axis.x(1_000_500), 0.0);
        assert_eq!(axis.x(2_000_000), 100.0);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(clock(3_723_000), "01:02:03");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(123_456.0), "1.23e5");
        assert_eq!(number(0.0), "0");
        assert_eq!(nice_ticks(0.7, 6.8), [2.0, 4.0, 6.0]);
        let shown: Vec<String> = nice_ticks(0.0, 0.5).into_iter().map(number).collect();
        assert_eq!(shown, ["0", "0.1", "0.2", "0.3", "0.4", "0.5"]);
        assert_eq!(nice_ticks(-0.45, 9.45), [0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(nice_ticks(3.0, 3.0), [3.0]);
    }

    #[test]
    fn a_gap_breaks_the_line_and_an_early_end_is_marked() {
        let points = [(0, 1.0), (1_000, 2.0), (5_000, 3.0), (6_000, 3.0)];
        let svg = line_chart(
            &[Line {
                name: "a<b>",
                points: &points,
            }],
            0,
            10_000,
            1_000,
        );
        let d = svg.split("d=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(svg.matches("class=\"stale-mark\"").count(), 2);
        assert!(svg.contains("a&lt;b&gt;") && !svg.contains("a<b>"));
        let full = [(0, 1.0), (5_000, 1.0), (10_000, 1.0)];
        let svg = line_chart(
            &[Line {
                name: "x",
                points: &full,
            }],
            0,
            10_000,
            5_000,
        );
        assert_eq!(svg.matches("stale-mark").count(), 0);
    }

    #[test]
    fn stale_bars_get_an_end_mark() {
        let rows = [Row {
            label: "delete".into(),
            lanes: vec![Lane {
                label: "<i>".into(),
                color: 0,
                bars: vec![
                    Bar {
                        start: 0,
                        end: 4_000,
                        stale: true,
                    },
                    Bar {
                        start: 6_000,
                        end: 10_000,
                        stale: false,
                    },
                ],
            }],
        }];
        let svg = lifetimes(&rows, 0, 10_000);
        assert_eq!(svg.matches("class=\"bar\"").count(), 2);
        assert_eq!(svg.matches("class=\"stale-end\"").count(), 1);
        assert!(svg.contains("&lt;i&gt;") && !svg.contains("<i>"));
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
