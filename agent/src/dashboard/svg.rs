//! Charts drawn by the binary as SVG: a funnel of horizontal bars, a daily
//! line chart and the small bars beside table figures. They need no
//! JavaScript and nothing from outside the machine, so they work on an HQ
//! network without internet and in a page printed to PDF.
//!
//! Every label passes through [`escape`]: store ids and SKU names come from
//! the field.

use super::html::escape;
use std::fmt::Write as _;

/// The stage colours, from exposure to purchase; distinguishable in print.
pub(super) const STAGE_COLOURS: [&str; 5] = ["#9db4d6", "#4c78a8", "#f58518", "#e45756", "#54a24b"];
/// The colour of visits, the stage before exposure where doors are counted.
pub(super) const VISITS_COLOUR: &str = "#79706e";
/// Colours of lines that are not stages (one per region), in turn;
/// distinguishable in print.
pub(super) const SERIES_COLOURS: [&str; 6] = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2",
];

/// A funnel: one bar per stage, widths proportional to the largest value,
/// each labelled with its name and formatted value. The last five stages
/// are exposure to purchase; a stage before them is visits.
pub(super) fn funnel(stages: &[(&str, u64, String)]) -> String {
    const WIDTH: f64 = 640.0;
    const LABEL: f64 = 190.0;
    const ROW: f64 = 34.0;
    let max = stages.iter().map(|s| s.1).max().unwrap_or(0).max(1) as f64;
    let height = ROW * stages.len() as f64 + 6.0;
    let mut out = format!(
        "<svg class=\"chart funnel\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" width=\"{WIDTH}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, (label, value, shown)) in stages.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let w = ((WIDTH - LABEL - 90.0) * (*value as f64) / max).max(1.0);
        let before = stages.len().saturating_sub(STAGE_COLOURS.len());
        let colour = match i.checked_sub(before) {
            Some(stage) => STAGE_COLOURS[stage],
            None => VISITS_COLOUR,
        };
        let _ = write!(
            out,
            "<text x=\"0\" y=\"{ty}\" font-size=\"14\">{label}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" rx=\"3\" fill=\"{colour}\"/>\
             <text x=\"{vx:.1}\" y=\"{ty}\" font-size=\"14\">{shown}</text>",
            ty = y + 19.0,
            h = ROW - 8.0,
            vx = LABEL + w + 6.0,
            label = escape(label),
            shown = escape(shown),
        );
    }
    out.push_str("</svg>");
    out
}

/// A line chart: `series` of (name, colour, one value per label), with the
/// first and last label under the axis and a legend.
pub(super) fn lines(labels: &[String], series: &[(&str, &str, Vec<u64>)]) -> String {
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 220.0;
    const LEFT: f64 = 56.0;
    const BOTTOM: f64 = 40.0;
    const TOP: f64 = 24.0;
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_w = WIDTH - LEFT - 12.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let x = |i: usize| {
        if labels.len() <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (labels.len() - 1) as f64
        }
    };
    let y = |v: u64| TOP + plot_h * (1.0 - v as f64 / max);
    let mut out = format!(
        "<svg class=\"chart trend\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <line x1=\"{LEFT}\" y1=\"{base}\" x2=\"{right}\" y2=\"{base}\" stroke=\"#888\"/>\
         <text x=\"{lx}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"end\">{max}</text>\
         <text x=\"{lx}\" y=\"{base}\" font-size=\"12\" text-anchor=\"end\">0</text>",
        base = TOP + plot_h,
        right = WIDTH - 12.0,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
        max = max as u64,
    );
    if let (Some(first), Some(last)) = (labels.first(), labels.last()) {
        let _ = write!(
            out,
            "<text x=\"{LEFT}\" y=\"{ly}\" font-size=\"12\">{first}</text>\
             <text x=\"{rx}\" y=\"{ly}\" font-size=\"12\" text-anchor=\"end\">{last}</text>",
            ly = HEIGHT - BOTTOM + 16.0,
            rx = WIDTH - 12.0,
            first = escape(first),
            last = escape(last),
        );
    }
    let mut legend_x = LEFT;
    for (name, colour, values) in series {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        );
        for (i, v) in values.iter().enumerate() {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                x(i),
                y(*v)
            );
        }
        let _ = write!(
            out,
            "<rect x=\"{legend_x}\" y=\"{ry}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{name}</text>",
            ry = HEIGHT - 14.0,
            tx = legend_x + 14.0,
            ty = HEIGHT - 5.0,
            name = escape(name),
        );
        legend_x += 24.0 + 8.0 * name.chars().count() as f64;
    }
    out.push_str("</svg>");
    out
}

/// A small bar for a table cell: `value` out of `max`.
pub(super) fn bar(value: u64, max: u64, colour: &str) -> String {
    let w = if max == 0 {
        0.0
    } else {
        80.0 * value as f64 / max as f64
    };
    // Sized by the page's `.bar` style and in the HTML namespace's own SVG
    // parsing: a SKU page repeats this thousands of times.
    format!("<svg class=\"bar\" aria-hidden=\"true\"><rect width=\"{w:.1}\" height=\"10\" fill=\"{colour}\"/></svg>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_the_field_are_escaped_inside_charts() {
        let svg = funnel(&[("<b>", 3, "3".into())]);
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        let svg = lines(&["<i>".into()], &[("a&b", "#000", vec![1])]);
        assert!(svg.contains("&lt;i&gt;") && svg.contains("a&amp;b"));
    }

    #[test]
    fn the_largest_stage_fills_the_width_and_zero_stays_visible() {
        let svg = funnel(&[("a", 10, "10".into()), ("b", 0, "0".into())]);
        assert!(svg.contains("width=\"360.0\""));
        assert!(svg.contains("width=\"1.0\""));
    }
}
