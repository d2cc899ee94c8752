//! The KSD of the first k draws at checkpoints k₁ < k₂ < …, in one pass (as
//! SteinDiscrepancy.jl's `checkpoints`; docs/math.md eq. 15.3).

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::mc::Par;
use crate::scored_samples::ScoredSamples;
use crate::stein::{Estimator, PairScratch, SteinKernel};

/// Columns per parallel chunk of a row sum (fixed: the sums are added in chunk order).
const CHUNK: usize = 2048;

/// The statistic of the first k draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Checkpoint {
    /// k.
    pub k: usize,
    /// KSD² of the first k draws, U or V as the Stein kernel's estimator.
    pub value: f64,
}

/// KSD² (U or V, the Stein kernel's estimator) of the first k draws for every k in
/// `checkpoints`, in one pass over the upper triangle up to the last checkpoint:
///
/// ```text
/// S_k = Σ_{i,j<k} Hᵢⱼ = S_{k−1} + H_{k−1,k−1} + 2 Σ_{j<k−1} H_{k−1,j},   D_k = Σ_{i<k} Hᵢᵢ
/// V_k = S_k / k²,      U_k = (S_k − D_k) / (k(k − 1))
/// ```
/// Each row sum runs in parallel over fixed chunks added in order: bit-identical for any
/// thread count; equal to separate estimates up to rounding (tested to 1e-12).
///
/// # Examples
/// ```
/// use dsm_core::*;
/// use dsm_core::mcmc::cumulative_ksd;
/// let model = Gaussian::standard(2)?;
/// let xs = model.sample_n(400, 1, Par::Seq)?;
/// let run = ScoredSamples::from_model(&model, &xs, Par::Seq)?;
/// let path = cumulative_ksd(&Ksd::new(Imq::default(), Estimator::V), &run, &[50, 100, 200, 400], Par::rayon(2))?;
/// assert_eq!(path.len(), 4);
/// assert!(path[3].value < path[0].value);
/// # Ok::<(), dsm_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for checkpoints that are not strictly increasing, 0, or beyond
/// n (named `checkpoints`, the value the offending one); [`Error::TooFewSamples`] for a U
/// checkpoint below 2 or no checkpoints; [`Error::Unsupported`] for weighted samples; those
/// of [`SteinKernel::points_scored`]; [`Error::NonFiniteValue`] naming the draw whose k⁰ is
/// not finite.
pub fn cumulative_ksd<S: SteinKernel>(
    stein: &S,
    scored: &ScoredSamples,
    checkpoints: &[usize],
    par: Par,
) -> Result<Vec<Checkpoint>> {
    let n = scored.samples().n();
    if scored.samples().weights().is_some() {
        return Err(Error::Unsupported {
            what: "weighted samples in the cumulative KSD",
        });
    }
    let Some(&last) = checkpoints.last() else {
        return Err(Error::TooFewSamples { needed: 1, got: 0 });
    };
    let mut previous = 0;
    for &k in checkpoints {
        if k <= previous || k > n {
            return Err(Error::InvalidParameter {
                owner: "cumulative_ksd",
                name: "checkpoints",
                value: k as f64,
                constraint: "strictly increasing, each in 1..=n",
            });
        }
        previous = k;
    }
    let estimator = stein.estimator();
    if estimator == Estimator::U && checkpoints[0] < 2 {
        return Err(Error::TooFewSamples {
            needed: 2,
            got: checkpoints[0],
        });
    }
    let points = stein.points_scored(scored, par)?;
    let row_sum = |t: usize| -> Result<f64> {
        let chunk = |c: usize| {
            let mut scratch = PairScratch::default();
            let hi = ((c + 1) * CHUNK).min(t);
            (c * CHUNK..hi)
                .map(|j| points.stein_kernel(t, j, &mut scratch))
                .sum::<f64>()
        };
        let chunks = t.div_ceil(CHUNK);
        let sums: Vec<f64> = match par {
            Par::Rayon(_) if chunks > 1 => {
                par.install(|| (0..chunks).into_par_iter().map(chunk).collect())?
            }
            _ => (0..chunks).map(chunk).collect(),
        };
        Ok(sums.iter().sum())
    };
    let mut out = Vec::with_capacity(checkpoints.len());
    let (mut total, mut diagonal) = (0.0, 0.0);
    let mut scratch = PairScratch::default();
    let mut next = checkpoints.iter().peekable();
    for t in 0..last {
        let own = points.stein_kernel(t, t, &mut scratch);
        let row = row_sum(t)?;
        if !(own.is_finite() && row.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "Stein kernel",
                index: t,
            });
        }
        total += own + 2.0 * row;
        diagonal += own;
        let k = t + 1;
        if next.peek() == Some(&&k) {
            next.next();
            let kf = k as f64;
            let value = match estimator {
                Estimator::V => total / (kf * kf),
                Estimator::U => (total - diagonal) / (kf * (kf - 1.0)),
            };
            if !value.is_finite() {
                return Err(Error::NonFiniteValue {
                    quantity: "cumulative KSD (sums beyond f64)",
                    index: t,
                });
            }
            out.push(Checkpoint { k, value });
        }
    }
    Ok(out)
}
