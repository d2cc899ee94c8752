//! One module per experiment; each writes NAME.csv, NAME.png, NAME.svg and returns the claims
//! it checked. Each module also holds, beside its code, an [`Experiment`] constant `EXPERIMENT`
//! with its name, its title and what the paper says about it (the text of its REPORT.md
//! section); [`ALL`] registers them in the order of the report.

pub mod descent;
pub mod estimation;
pub mod fig1;
pub mod fig2;
pub mod fig3;
pub mod identities;
pub mod learned;
pub mod multivariate;
pub mod ode;
pub mod regions;
pub mod shapes;
pub mod thinning;

use std::path::Path;

use anyhow::{Context, Result};

use crate::claims::Claim;
use crate::flags::Settings;

/// One experiment of the reproduction: what it is called, what it reproduces, what the paper
/// says about it, and its entry point.
#[derive(Debug)]
pub struct Experiment {
    /// File stem of its figure and data, and the value of `--only` that selects it.
    pub name: &'static str,
    /// What it reproduces (the heading of its REPORT.md section and its progress line).
    pub title: &'static str,
    /// What the paper says, and where our settings stand in for constants it does not state
    /// (the paragraph under its figure in REPORT.md).
    pub paper_text: fn(&Settings) -> String,
    /// Writes NAME.csv, NAME.png and NAME.svg into the folder and returns the checked claims.
    pub run: fn(&Settings, &Path) -> Result<Vec<Claim>>,
}

/// Every experiment, in the order they run and appear in the report.
pub const ALL: &[Experiment] = &[
    fig1::EXPERIMENT,
    regions::EXPERIMENT,
    descent::EXPERIMENT,
    estimation::EXPERIMENT,
    learned::EXPERIMENT,
    shapes::EXPERIMENT,
    multivariate::EXPERIMENT,
    thinning::EXPERIMENT,
    fig2::EXPERIMENT,
    fig3::EXPERIMENT,
    ode::EXPERIMENT,
    identities::EXPERIMENT,
];

/// The experiment called `name`.
pub fn find(name: &str) -> Option<&'static Experiment> {
    ALL.iter().find(|e| e.name == name)
}

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

    #[test]
    fn names_are_unique_and_listed_in_the_only_flag() {
        let names: Vec<&str> = ALL.iter().map(|e| e.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        // The help text of `--only` in flags.rs lists the names in this order.
        let help = include_str!("../flags.rs");
        assert!(help.contains(&format!("(repeatable): {}.", names.join(", "))));
        assert!(names.iter().all(|n| find(n).is_some_and(|e| e.name == *n)));
    }

    #[test]
    fn paper_texts_read_as_sentences() {
        let s = Settings::parse_from_defaults();
        for e in ALL {
            let text = (e.paper_text)(&s);
            assert!(!text.is_empty() && !e.title.is_empty(), "{}", e.name);
            assert!(
                text.ends_with('.') || text.ends_with(".)"),
                "{}: {text}",
                e.name
            );
            // A sentence after a full stop starts with a capital letter (the old Figure 1 text
            // had lost the words before "curves by quadrature").
            for (i, _) in text.match_indices(". ") {
                let next = text[i + 2..].chars().next().unwrap();
                assert!(
                    !next.is_lowercase(),
                    "{}: a sentence starts in lower case: {text}",
                    e.name
                );
            }
        }
    }
}
