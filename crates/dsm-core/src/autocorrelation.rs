//! The integrated autocorrelation time of a scalar series, by Geyer's (1992) initial
//! monotone sequence estimator.

use crate::error::{Error, Result};

/// The integrated autocorrelation time τ = 1 + 2 Σ_{k≥1} ρₖ of a stationary series, by
/// Geyer's initial monotone sequence estimator:
///
/// ```text
/// cₖ = (1/n) Σ_{t<n−k} (yₜ − ȳ)(y_{t+k} − ȳ)              (biased autocovariance)
/// Γₘ = c_{2m} + c_{2m+1},  m = 0, 1, …  while Γₘ > 0      (initial positive sequence)
/// Γₘ ← min(Γ₀, …, Γₘ)                                     (made monotone)
/// τ̂  = (2 Σₘ Γₘ − c₀) / c₀
/// ```
/// For independent values τ̂ ≈ 1; for an AR(1) chain with coefficient ρ, τ = (1 + ρ)/(1 − ρ).
/// The effective sample size is n/τ̂. A constant series returns 1 (no dependence to measure).
/// Cost: O(n · number of lags used), at most O(n²).
///
/// # Errors
/// [`Error::TooFewSamples`] for fewer than 3 values; [`Error::NonFiniteValue`] naming the
/// first non-finite value.
///
/// # Examples
/// ```
/// // An alternating series is anti-correlated: τ̂ < 1.
/// let y: Vec<f64> = (0..100).map(|t| if t % 2 == 0 { 1.0 } else { -1.0 }).collect();
/// let tau = dsm_core::autocorrelation::integrated_autocorrelation_time(&y)?;
/// assert!(tau < 1.0);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn integrated_autocorrelation_time(series: &[f64]) -> Result<f64> {
    let n = series.len();
    if n < 3 {
        return Err(Error::TooFewSamples { needed: 3, got: n });
    }
    if let Some(index) = series.iter().position(|y| !y.is_finite()) {
        return Err(Error::NonFiniteValue {
            quantity: "series value",
            index,
        });
    }
    // Scale by the largest magnitude first so that squares cannot overflow.
    let scale = series.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
    if scale == 0.0 {
        return Ok(1.0);
    }
    let mean = series.iter().map(|y| y / scale).sum::<f64>() / n as f64;
    let centred: Vec<f64> = series.iter().map(|y| y / scale - mean).collect();
    let autocovariance = |lag: usize| -> f64 {
        centred[..n - lag]
            .iter()
            .zip(&centred[lag..])
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / n as f64
    };
    let c0 = autocovariance(0);
    if c0 <= 0.0 {
        return Ok(1.0);
    }
    let mut sum = 0.0;
    let mut previous = f64::INFINITY;
    let mut m = 0;
    while 2 * m + 1 < n {
        let gamma = autocovariance(2 * m) + autocovariance(2 * m + 1);
        if gamma <= 0.0 {
            break;
        }
        previous = previous.min(gamma);
        sum += previous;
        m += 1;
    }
    Ok((2.0 * sum - c0) / c0)
}
