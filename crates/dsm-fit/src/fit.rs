//! The result of fitting a model: estimates, the objective at them, and standard errors.

use dsm_core::{Error, Estimate, Result};

/// A fitted parameter vector with its sandwich (Godambe) covariance.
///
/// `Display` prints one line per parameter, `θ[k] = value ± std_err`, then the objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The estimate θ̂.
    pub theta: Vec<f64>,
    /// The objective at θ̂ (its sample mean and standard error).
    pub objective: Estimate,
    /// Standard errors of θ̂: the square roots of the covariance's diagonal.
    pub std_err: Vec<f64>,
    /// The sandwich covariance H⁻¹ J H⁻¹ / n (row-major p × p; docs/math.md eq. 11.4).
    pub covariance: Vec<f64>,
    /// Number of samples.
    pub n: usize,
}

impl Fit {
    /// A fit from its parts; the standard errors from the covariance's diagonal.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the covariance has not p² entries;
    /// [`Error::NonFiniteValue`] when θ̂ or the covariance is not finite, or a variance is
    /// negative.
    pub fn new(
        theta: Vec<f64>,
        objective: Estimate,
        covariance: Vec<f64>,
        n: usize,
    ) -> Result<Self> {
        let p = theta.len();
        dsm_core::validate::same_dim(
            "number of covariance entries",
            covariance.len(),
            "p²",
            p.saturating_mul(p),
        )?;
        if theta.iter().chain(&covariance).any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "estimate or its covariance",
                index: 0,
            });
        }
        let std_err: Vec<f64> = (0..p).map(|k| covariance[k * p + k]).collect();
        if std_err.iter().any(|v| *v < 0.0) {
            return Err(Error::NonFiniteValue {
                quantity: "variance of the estimate (negative)",
                index: 0,
            });
        }
        Ok(Self {
            theta,
            objective,
            std_err: std_err.iter().map(|v| v.sqrt()).collect(),
            covariance,
            n,
        })
    }
}

impl std::fmt::Display for Fit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, (t, s)) in self.theta.iter().zip(&self.std_err).enumerate() {
            writeln!(f, "θ[{k}] = {t:.6} ± {s:.2e}")?;
        }
        write!(f, "objective {}", self.objective)
    }
}
