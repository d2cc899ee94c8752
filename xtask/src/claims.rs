//! A checked claim of the paper: what was measured against what was expected.

use serde::Serialize;

/// One line of `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// Short identifier.
    pub name: String,
    /// Where the paper (or docs/math.md) states it.
    pub paper_ref: String,
    /// The measured value.
    pub measured: f64,
    /// The expected value or bound, in words.
    pub expected: String,
    /// Whether the measurement satisfies the claim.
    pub pass: bool,
}

impl Claim {
    /// `|measured − target| ≤ tol`.
    pub fn near(name: &str, paper_ref: &str, measured: f64, target: f64, tol: f64) -> Self {
        Self {
            name: name.into(),
            paper_ref: paper_ref.into(),
            measured,
            expected: format!("{target} ± {tol}"),
            pass: (measured - target).abs() <= tol,
        }
    }

    /// `measured ≤ bound`.
    pub fn at_most(name: &str, paper_ref: &str, measured: f64, bound: f64) -> Self {
        Self {
            name: name.into(),
            paper_ref: paper_ref.into(),
            measured,
            expected: format!("<= {bound}"),
            pass: measured <= bound,
        }
    }

    /// A yes/no property; `measured` is 1 when it holds.
    pub fn holds(name: &str, paper_ref: &str, holds: bool, expected: &str) -> Self {
        Self {
            name: name.into(),
            paper_ref: paper_ref.into(),
            measured: if holds { 1.0 } else { 0.0 },
            expected: expected.into(),
            pass: holds,
        }
    }
}

/// Prints the claims as a table on standard error.
pub fn print_table(claims: &[Claim]) {
    eprintln!(
        "\n{:<40} {:<36} {:>13}  {:<36} result",
        "claim", "reference", "measured", "expected"
    );
    for c in claims {
        let measured = if c.measured != 0.0 && c.measured.abs() < 1e-3 {
            format!("{:.3e}", c.measured)
        } else {
            format!("{:.6}", c.measured)
        };
        eprintln!(
            "{:<40} {:<36} {:>13}  {:<36} {}",
            c.name,
            c.paper_ref,
            measured,
            c.expected,
            if c.pass { "pass" } else { "FAIL" }
        );
    }
    let passed = claims.iter().filter(|c| c.pass).count();
    eprintln!("{passed} of {} claims pass", claims.len());
}

/// Whether `values` decreases to a single minimum and increases after it (ties allowed).
pub fn is_unimodal(values: &[f64]) -> bool {
    let Some(argmin) = argmin(values) else {
        return false;
    };
    values[..=argmin].windows(2).all(|w| w[1] <= w[0])
        && values[argmin..].windows(2).all(|w| w[1] >= w[0])
}

/// Whether `values` has an interior strict local maximum right (or left) of index `centre`.
pub fn has_local_max(values: &[f64], centre: usize, right: bool) -> bool {
    (1..values.len().saturating_sub(1))
        .filter(|&i| {
            if right {
                i > centre + 1
            } else {
                i + 1 < centre
            }
        })
        .any(|i| values[i] > values[i - 1] && values[i] > values[i + 1])
}

/// Index of the smallest value.
pub fn argmin(values: &[f64]) -> Option<usize> {
    values
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unimodality_detects_a_second_basin() {
        assert!(is_unimodal(&[3.0, 2.0, 1.0, 2.0, 5.0]));
        assert!(!is_unimodal(&[3.0, 2.0, 1.0, 2.0, 1.5, 5.0]));
        assert!(!is_unimodal(&[]));
    }

    #[test]
    fn walls_are_local_maxima_on_each_side() {
        // A double-walled curve (SM-like) has both; a basin has neither.
        let walls = [0.0, 1.0, 2.0, 1.0, -1.0, 1.0, 2.0, 1.0, 0.5];
        assert!(has_local_max(&walls, 4, true) && has_local_max(&walls, 4, false));
        let basin = [4.0, 3.0, 2.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0];
        assert!(!has_local_max(&basin, 4, true) && !has_local_max(&basin, 4, false));
        assert!(is_unimodal(&basin) && !is_unimodal(&walls));
    }

    #[test]
    fn claims_pass_and_fail() {
        assert!(Claim::near("a", "r", 1.0, 1.05, 0.1).pass);
        assert!(!Claim::near("a", "r", 1.0, 1.2, 0.1).pass);
        assert!(!Claim::at_most("a", "r", 2.0, 1.0).pass);
    }
}
