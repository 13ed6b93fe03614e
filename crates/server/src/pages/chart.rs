//! Server-rendered SVG bar charts, our own code: one chart per evaluation on the compare
//! page, a bar for each experiment's headline number. This module computes the geometry;
//! the `chart` template writes the SVG, so every text in it is escaped like any page text.

use minijinja::{Value, context};

use super::render;
use crate::error::ApiError;

/// Width of the drawing, in SVG units.
const WIDTH: f64 = 360.0;
/// Height of one bar and the gap below it.
const BAR: f64 = 18.0;
const GAP: f64 = 8.0;
/// Room on the left for names and on the right for values.
const NAMES: f64 = 130.0;
const VALUES: f64 = 60.0;

/// A bar: its name and its value (`None`: no value, drawn as a dash).
pub(crate) struct Bar {
    pub(crate) name: String,
    pub(crate) value: Option<f64>,
    pub(crate) text: String,
}

/// The SVG of a horizontal bar chart titled `title`. Bars scale to the largest absolute
/// value, or to 1 when `unit` (shares from 0 to 1).
pub(crate) fn bars(title: &str, bars: &[Bar], unit: bool) -> Result<Value, ApiError> {
    let largest = bars.iter().filter_map(|b| b.value).map(f64::abs).fold(0.0, f64::max);
    let scale = if unit {
        1.0
    } else if largest > 0.0 {
        largest
    } else {
        1.0
    };
    let room = WIDTH - NAMES - VALUES;
    let rows: Vec<Value> = (bars.iter().enumerate())
        .map(|(i, b)| {
            let y = 22.0 + i as f64 * (BAR + GAP);
            let width = b.value.map(|v| (v.abs() / scale).min(1.0) * room).unwrap_or(0.0);
            let name: String = b.name.chars().take(20).collect();
            context! {
                y, text_y => y + BAR * 0.72, width => format!("{width:.1}"),
                name, full_name => b.name.clone(), value => b.text.clone(),
                negative => b.value.is_some_and(|v| v < 0.0), baseline => i == 0,
            }
        })
        .collect();
    let height = 22.0 + bars.len() as f64 * (BAR + GAP) + 4.0;
    render(
        "chart",
        context! {
            title, rows, width => WIDTH, height, names => NAMES, bar => BAR,
            value_x => WIDTH - VALUES + 6.0,
        },
    )
}
