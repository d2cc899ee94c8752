//! The U and V estimators and the named result they return.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::display::value_with_error;

/// Which estimator of KSD² = E k⁰(x, x') to use.
///
/// `Display` names it: `U-statistic`, `V-statistic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub enum Estimator {
    /// The unbiased U-statistic 1/(n(n−1)) Σ_{i≠j} k⁰(xᵢ, xⱼ); it can be negative.
    #[default]
    U,
    /// The V-statistic 1/n² Σ_{i,j} k⁰(xᵢ, xⱼ) (diagonal included); never negative.
    V,
}

/// A kernel Stein discrepancy estimate.
///
/// `value` is the estimate of KSD² itself, **not clipped**: a U-statistic can be slightly
/// negative when q = p. [`KsdEstimate::ksd`] gives the clipped square root.
///
/// `Display` shows it as an [`Estimate`](crate::Estimate) does (the value to the precision
/// of two significant digits of its standard error) with the estimator:
///
/// ```
/// use dsm_core::{Estimator, KsdEstimate};
/// let e = KsdEstimate { value: 0.0123, std_err: 0.0004, n: 500, estimator: Estimator::V };
/// assert_eq!(e.to_string(), "0.01230 ± 0.00040 (V-statistic, n = 500)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct KsdEstimate {
    /// The U or V statistic (an estimate of KSD²).
    pub value: f64,
    /// Its first-order (Hoeffding) standard error, 2·sd(h₁)/√n with h₁(xᵢ) the mean of
    /// k⁰(xᵢ, ·) over the other samples. It describes the spread when q ≠ p; under q = p the
    /// statistic is degenerate and this is not a calibrated scale (use [`KsdTest`](super::KsdTest)).
    pub std_err: f64,
    /// Number of samples.
    pub n: usize,
    /// The estimator used.
    pub estimator: Estimator,
}

impl KsdEstimate {
    /// sqrt(max(value, 0)): the discrepancy on the scale of a distance.
    pub fn ksd(&self) -> f64 {
        self.value.max(0.0).sqrt()
    }
}

impl fmt::Display for Estimator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Estimator::U => "U-statistic",
            Estimator::V => "V-statistic",
        })
    }
}

impl fmt::Display for KsdEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        value_with_error(f, self.value, self.std_err)?;
        write!(f, " ({}, n = {})", self.estimator, self.n)
    }
}
