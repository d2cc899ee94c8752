//! Population expectations in one dimension by quadrature, as weighted [`Samples`].
//!
//! ```text
//! E_q[h] = ∫ q(x) h(x) dx,   x = c + s·sinh(u),   u ∈ [−U, U] on a uniform grid,
//! wₖ = q(xₖ) · s·cosh(uₖ) · (Simpson weight)ₖ · Δu / 3
//! ```
//! The sinh map reaches |x − c| ≈ s·e^U/2 with few nodes, which heavy (polynomial) tails need.
//! Every dsm objective evaluated on these samples returns the population value (a weighted
//! mean Σ wₖ hₖ / Σ wₖ, where Σ wₖ ≈ 1 is the quadrature of q itself).

use crate::density::LogDensity;
use crate::error::{Error, Result, positive, same_dim};
use crate::samples::Samples;

/// Largest number of Simpson intervals (nodes and weights are stored: 1 GiB at the cap).
pub const MAX_INTERVALS: usize = 1 << 26;
/// Quadrature nodes and weights for E_q over ℝ (q one-dimensional), centred at `centre` with
/// scale `scale`, on u ∈ [−`half_width`, `half_width`] with `intervals` Simpson intervals
/// (rounded up to an even number).
///
/// # Errors
/// [`Error::DimensionMismatch`] when q is not one-dimensional; [`Error::InvalidParameter`]
/// for a non-finite centre, a non-positive scale or half-width, or fewer than 2 intervals;
/// [`Error::InvalidWeight`] when q is not finite at a node.
///
/// # Examples
/// ```
/// use dsm_core::{quadrature::sinh_simpson, StudentT, score_matching_loss, Par};
/// let q = StudentT::new(0.0, 1.0, 5.0)?;
/// let nodes = sinh_simpson(&q, 0.0, 1.0, 8.0, 4000)?;
/// // Population SM loss at the truth: −(ν+1)/(ν+3) (docs/math.md N8).
/// let l = score_matching_loss(&q, &nodes, Par::Seq)?;
/// assert!((l.value + 0.75).abs() < 1e-9);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn sinh_simpson<Q: LogDensity + ?Sized>(
    q: &Q,
    centre: f64,
    scale: f64,
    half_width: f64,
    intervals: usize,
) -> Result<Samples> {
    same_dim(
        "dimension of q",
        q.dim(),
        "dimension of the quadrature (one)",
        1,
    )?;
    crate::error::finite("sinh_simpson", "centre", centre)?;
    positive("sinh_simpson", "scale", scale)?;
    positive("sinh_simpson", "half_width", half_width)?;
    if intervals > MAX_INTERVALS {
        return Err(Error::InvalidParameter {
            owner: "sinh_simpson",
            name: "intervals",
            value: intervals as f64,
            constraint: "<= 2^26 (the rule stores its nodes)",
        });
    }
    if intervals < 2 {
        return Err(Error::InvalidParameter {
            owner: "sinh_simpson",
            name: "intervals",
            value: intervals as f64,
            constraint: ">= 2",
        });
    }
    let intervals = intervals + intervals % 2;
    let du = 2.0 * half_width / intervals as f64;
    let mut nodes = Vec::with_capacity(intervals + 1);
    let mut weights = Vec::with_capacity(intervals + 1);
    for k in 0..=intervals {
        let u = -half_width + k as f64 * du;
        let x = centre + scale * u.sinh();
        let simpson = if k == 0 || k == intervals {
            1.0
        } else if k % 2 == 1 {
            4.0
        } else {
            2.0
        };
        nodes.push(x);
        weights.push(q.log_density(&[x]).exp() * scale * u.cosh() * simpson * du / 3.0);
    }
    Samples::from_scalars(nodes)?.with_weights(weights)
}
