//! The Monte Carlo decision of a test from its statistic and its null replicates
//! (docs/math.md eqs. 8.3–8.4), shared by every test of the workspace.

/// p-value, critical value and decision of a test from T and its replicates T₁ … T_B:
///
/// ```text
/// p = (1 + #{T_b ≥ T}) / (1 + B),   critical value = the ⌈(1 − α)B⌉-th smallest T_b,   reject ⇔ p ≤ α
/// ```
///
/// ```
/// use dsm_core::stein::Decision;
/// let d = Decision::from_replicates(2.5, &[0.1, 3.0, 1.0, 2.0], 0.5);
/// assert_eq!((d.p_value, d.critical_value, d.reject), (0.4, 1.0, true));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// (1 + #{T_b ≥ T}) / (1 + B).
    pub p_value: f64,
    /// The (1 − α) empirical quantile of the replicates (+∞ without replicates).
    pub critical_value: f64,
    /// p ≤ α.
    pub reject: bool,
}

impl Decision {
    /// The decision at level α; without replicates p = 1 and nothing is rejected.
    pub fn from_replicates(statistic: f64, replicates: &[f64], level: f64) -> Self {
        let count = replicates.len();
        if count == 0 {
            return Decision {
                p_value: 1.0,
                critical_value: f64::INFINITY,
                reject: false,
            };
        }
        let exceed = replicates.iter().filter(|&&t| t >= statistic).count();
        let p_value = (1 + exceed) as f64 / (1 + count) as f64;
        let mut sorted = replicates.to_vec();
        sorted.sort_by(f64::total_cmp);
        let q = ((1.0 - level) * count as f64).ceil() as usize;
        Decision {
            p_value,
            critical_value: sorted[q.clamp(1, count) - 1],
            reject: p_value <= level,
        }
    }
}
