//! Figures as PNG and SVG with plotters, text rendered with the DejaVu Sans font shipped by
//! the `dejavu` crate (no system font libraries).

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

/// One line of a panel.
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
    /// Line colour.
    pub color: RGBColor,
    /// Line width in pixels (the marker radius for a scatter).
    pub width: u32,
    /// Whether the points are drawn as markers instead of joined by a line.
    pub markers: bool,
}

impl Series {
    /// A series from x and y columns.
    pub fn new(label: &str, xs: &[f64], ys: &[f64], color: RGBColor, width: u32) -> Self {
        Self {
            label: label.into(),
            points: xs.iter().copied().zip(ys.iter().copied()).collect(),
            color,
            width,
            markers: false,
        }
    }

    /// Points drawn as filled circles of radius `radius`.
    pub fn scatter(label: &str, xs: &[f64], ys: &[f64], color: RGBColor, radius: u32) -> Self {
        Self {
            markers: true,
            ..Self::new(label, xs, ys, color, radius)
        }
    }
}

/// One chart.
pub struct Panel {
    /// Caption.
    pub title: String,
    /// Axis labels.
    pub x_label: String,
    /// Axis labels.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// Vertical markers (x, legend text).
    pub vlines: Vec<(f64, String)>,
}

/// Colours used across the figures.
pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
/// Orange.
pub const ORANGE_: RGBColor = RGBColor(255, 127, 14);
/// Green.
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
/// Red.
pub const RED_: RGBColor = RGBColor(214, 39, 40);
/// Purple.
pub const PURPLE_: RGBColor = RGBColor(148, 103, 189);
/// Grey.
pub const GREY_: RGBColor = RGBColor(110, 110, 110);

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Writes `stem.png` and `stem.svg` with the panels on a grid of `cols` columns.
pub fn save(stem: &Path, title: &str, panels: &[Panel], cols: usize) -> Result<()> {
    register_fonts();
    let rows = panels.len().div_ceil(cols);
    let size = (560 * cols as u32, 420 * rows as u32 + 50);
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw(&root, title, panels, cols)?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        draw(&root, title, panels, cols)?;
        root.present()
            .map_err(|e| anyhow!("writing {}: {e}", svg.display()))?;
    }
    Ok(())
}

fn bounds(panel: &Panel) -> (f64, f64, f64, f64) {
    let pts = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x1 > x0) {
        (x0, x1) = (x0 - 1.0, x0 + 1.0);
    }
    if !(y1 > y0) {
        (y0, y1) = (y0 - 1.0, y0 + 1.0);
    }
    let pad = 0.05 * (y1 - y0);
    (x0, x1, y0 - pad, y1 + pad)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
    cols: usize,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(title, ("sans-serif", 26).into_font().style(FontStyle::Bold))
        .map_err(err)?;
    let rows = panels.len().div_ceil(cols);
    let areas = root.split_evenly((rows, cols));
    for (area, panel) in areas.iter().zip(panels) {
        let (x0, x1, y0, y1) = bounds(panel);
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(panel.x_label.as_str())
            .y_desc(panel.y_label.as_str())
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(err)?;
        for s in &panel.series {
            let style = ShapeStyle {
                color: s.color.to_rgba(),
                filled: false,
                stroke_width: s.width,
            };
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            // A series with an empty label stays out of the legend.
            if s.markers {
                let radius = s.width as i32;
                let filled = style.filled();
                let drawn = chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, radius, filled)))
                    .map_err(err)?;
                if !s.label.is_empty() {
                    drawn
                        .label(s.label.as_str())
                        .legend(move |(x, y)| Circle::new((x + 11, y), radius, filled));
                }
            } else {
                let drawn = chart
                    .draw_series(LineSeries::new(pts, style))
                    .map_err(err)?;
                if !s.label.is_empty() {
                    drawn
                        .label(s.label.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
                }
            }
        }
        for (x, label) in &panel.vlines {
            let style = ShapeStyle {
                color: BLACK.mix(0.55),
                filled: false,
                stroke_width: 1,
            };
            chart
                .draw_series(LineSeries::new(vec![(*x, y0), (*x, y1)], style))
                .map_err(err)?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}
