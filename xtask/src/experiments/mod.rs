//! One module per experiment; each writes NAME.csv, NAME.png, NAME.svg and returns the claims
//! it checked.

pub mod descent;
pub mod fig1;
pub mod fig2;
pub mod fig3;
pub mod identities;
pub mod ode;
pub mod regions;

use std::path::Path;

use anyhow::{Context, Result};

/// Writes a CSV with a header and rows of numbers (full precision).
pub fn write_csv(path: &Path, header: &[&str], rows: &[Vec<f64>]) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record(header)?;
    for r in rows {
        w.write_record(r.iter().map(|v| format!("{v:.12e}")))?;
    }
    w.flush()?;
    Ok(())
}

/// Length (Lebesgue measure on the grid) of {μ : |slope(μ)| > thr}.
pub fn region_length(slope: &[f64], step: f64, thr: f64) -> f64 {
    slope.iter().filter(|s| s.abs() > thr).count() as f64 * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_length_counts_grid_cells_above_the_threshold() {
        let slope = [0.0, 0.3, -0.6, 0.05, -0.2, 0.1];
        assert_eq!(region_length(&slope, 0.5, 0.15), 1.5);
        assert_eq!(region_length(&slope, 0.5, 1.0), 0.0);
    }
}
