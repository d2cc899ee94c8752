//! Stein importance weights (Liu & Lee 2017): the weights on the simplex that minimise the
//! weighted KSD of the draws (docs/math.md eq. 15.2).

use crate::error::{Error, Result};
use crate::linalg;
use crate::mc::Par;
use crate::scored_samples::ScoredSamples;
use crate::stein::SteinKernel;

/// Most active-set changes before [`Error::NotConverged`].
const MAX_CHANGES: usize = 100_000;

/// The weights w ≥ 0, Σw = 1 minimising the V-statistic wᵀHw, H the Stein Gram matrix of
/// the draws, and what they achieve.
#[derive(Debug, Clone, PartialEq)]
pub struct SteinWeights {
    /// The weights, one per draw (most are exactly 0).
    pub weights: Vec<f64>,
    /// wᵀHw, the weighted KSD² (V-statistic).
    pub ksd_squared: f64,
    /// 1ᵀH1/n², the uniform weights' KSD² (V-statistic), for comparison.
    pub uniform_ksd_squared: f64,
    /// Active-set changes the solver made.
    pub iterations: usize,
}

/// Stein importance weights by an exact active-set method for the simplex-constrained
/// quadratic programme
///
/// ```text
/// min_w wᵀH_εw   subject to  wᵢ ≥ 0,  Σᵢ wᵢ = 1,     Hᵢⱼ = k⁰(xᵢ, xⱼ),  H_ε = H + εI
/// ```
/// with the jitter ε = 10⁻¹⁰·tr(H)/n: the Stein Gram matrix of a smooth kernel on many
/// nearby draws is singular to working precision (300 draws in 1-D already are), and the
/// jitter, which changes wᵀHw by at most ε, keeps every solve well posed. On the active set F
/// the optimum solves H_ε,FF w_F = ν1, 1ᵀw_F = 1, i.e. w_F = H_ε,FF⁻¹1 / (1ᵀH_ε,FF⁻¹1) (a
/// Cholesky factorisation); a point enters F while (H_εw)ᵢ < wᵀH_εw (its Lagrange multiplier
/// is negative), and a step that would make a weight negative stops at the boundary and drops
/// it (Lawson–Hanson for the simplex). Finite termination; the result satisfies the KKT
/// conditions of the jittered problem to rounding: (H_εw)ᵢ = wᵀH_εw on F and ≥ wᵀH_εw off it.
/// H is formed in full (8n² bytes, the 1 GiB cap of
/// [`SteinPoints::gram_matrix`](crate::stein::SteinPoints::gram_matrix)); each active-set
/// change costs a factorisation of the active block, so this is for n up to about 10⁴ with a
/// support of hundreds of draws. Exact duplicate draws make the weights non-unique and are
/// refused.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// use dsm_core::mcmc::stein_importance_weights;
/// let xs = StudentT::new(0.0, 1.0, 4.0)?.sample_n(200, 1, Par::Seq)?;
/// let model = Gaussian::standard(1)?;
/// let run = ScoredSamples::from_model(&model, &xs, Par::Seq)?;
/// let w = stein_importance_weights(&Ksd::new(Imq::default(), Estimator::V), &run, Par::Seq)?;
/// assert!((w.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
/// assert!(w.ksd_squared <= w.uniform_ksd_squared);
/// # Ok::<(), dsm_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::Unsupported`] for weighted samples; those of
/// [`SteinKernel::points_scored`] and [`SteinPoints::gram_matrix`](crate::stein::SteinPoints::gram_matrix);
/// [`Error::DegenerateSamples`] naming a draw that repeats an earlier one, or a draw whose
/// entry makes the active block not positive definite; [`Error::NotConverged`] after
/// 100 000 active-set changes.
pub fn stein_importance_weights<S: SteinKernel>(
    stein: &S,
    scored: &ScoredSamples,
    par: Par,
) -> Result<SteinWeights> {
    if scored.samples().weights().is_some() {
        return Err(Error::Unsupported {
            what: "weighted samples in Stein importance weights",
        });
    }
    let n = scored.samples().n();
    refuse_duplicates(scored)?;
    let mut h = stein.points_scored(scored, par)?.gram_matrix(par)?;
    let uniform_ksd_squared = h.iter().sum::<f64>() / (n as f64 * n as f64);
    let jitter = 1e-10 * (0..n).map(|i| h[i * n + i]).sum::<f64>().abs() / n as f64;
    for i in 0..n {
        h[i * n + i] += jitter;
    }
    // Start from the single best point.
    let first = (0..n)
        .min_by(|&a, &b| h[a * n + a].total_cmp(&h[b * n + b]))
        .unwrap_or(0);
    let mut active = vec![first];
    let mut w = vec![0.0; n];
    w[first] = 1.0;
    let mut hw = vec![0.0; n];
    let mut iterations = 0;
    loop {
        // (Hw)ᵢ and wᵀHw over the active set.
        for (i, slot) in hw.iter_mut().enumerate() {
            *slot = active.iter().map(|&j| h[i * n + j] * w[j]).sum();
        }
        let value: f64 = active.iter().map(|&j| w[j] * hw[j]).sum();
        let tolerance =
            1e-12 * (value.abs() + h.iter().step_by(n + 1).fold(0.0f64, |m, v| m.max(v.abs())));
        // The most negative multiplier (Hw)ᵢ − wᵀHw off the active set.
        let entering = (0..n)
            .filter(|i| !active.contains(i))
            .map(|i| (i, hw[i] - value))
            .filter(|(_, gap)| *gap < -tolerance)
            .min_by(|a, b| a.1.total_cmp(&b.1));
        if !value.is_finite() || hw.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "Stein importance weights objective (sums beyond f64)",
                index: hw.iter().position(|v| !v.is_finite()).unwrap_or(0),
            });
        }
        let Some((entering, _)) = entering else {
            // wᵀHw without the jitter.
            let ksd_squared = value - jitter * active.iter().map(|&i| w[i] * w[i]).sum::<f64>();
            return Ok(SteinWeights {
                weights: w,
                ksd_squared,
                uniform_ksd_squared,
                iterations,
            });
        };
        active.push(entering);
        // Solve on the active set; step back to the boundary while a weight would go negative.
        loop {
            iterations += 1;
            if iterations > MAX_CHANGES {
                return Err(Error::NotConverged {
                    what: "Stein importance weights (active set)",
                    iterations: MAX_CHANGES,
                });
            }
            let z = solve_on(&h, n, &active)?;
            if z.iter().all(|&v| v > 0.0) {
                for (&i, &v) in active.iter().zip(&z) {
                    w[i] = v;
                }
                break;
            }
            // Largest step α ∈ [0, 1) along z − w that keeps every weight ≥ 0.
            let mut alpha = 1.0;
            for (&i, &v) in active.iter().zip(&z) {
                if v <= 0.0 {
                    alpha = f64::min(alpha, w[i] / (w[i] - v));
                }
            }
            for (&i, &v) in active.iter().zip(&z) {
                w[i] += alpha * (v - w[i]);
            }
            let mut kept = Vec::with_capacity(active.len());
            for &i in &active {
                if w[i] > 1e-15 {
                    kept.push(i);
                } else {
                    w[i] = 0.0;
                }
            }
            if kept.is_empty() {
                return Err(Error::NotConverged {
                    what: "Stein importance weights (empty active set)",
                    iterations,
                });
            }
            active = kept;
            let total: f64 = active.iter().map(|&i| w[i]).sum();
            for &i in &active {
                w[i] /= total;
            }
        }
    }
}

/// Exact duplicate draws (same point and score): [`Error::DegenerateSamples`] naming the later.
fn refuse_duplicates(scored: &ScoredSamples) -> Result<()> {
    let samples = scored.samples();
    let d = samples.dim();
    let key = |i: usize| (samples.row(i), &scored.scores()[i * d..(i + 1) * d]);
    let mut order: Vec<usize> = (0..samples.n()).collect();
    let compare = |a: &usize, b: &usize| {
        let (xa, sa) = key(*a);
        let (xb, sb) = key(*b);
        xa.iter()
            .chain(sa)
            .zip(xb.iter().chain(sb))
            .map(|(u, v)| u.total_cmp(v))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(b))
    };
    order.sort_by(compare);
    for pair in order.windows(2) {
        if key(pair[0]) == key(pair[1]) {
            return Err(Error::DegenerateSamples {
                what: "draw that repeats an earlier draw (the weights would not be unique)",
                index: pair[0].max(pair[1]),
            });
        }
    }
    Ok(())
}

/// z = H_FF⁻¹1 / (1ᵀH_FF⁻¹1) on the active set F.
fn solve_on(h: &[f64], n: usize, active: &[usize]) -> Result<Vec<f64>> {
    let k = active.len();
    let mut sub = vec![0.0; k * k];
    for (a, &i) in active.iter().enumerate() {
        for (b, &j) in active.iter().enumerate() {
            sub[a * k + b] = h[i * n + j];
        }
    }
    let mut inverse = vec![0.0; k * k];
    let mut factor = vec![0.0; k * k];
    let degenerate = || Error::DegenerateSamples {
        what: "draw whose Stein kernel row makes the active Gram matrix not positive definite",
        index: *active.last().unwrap_or(&0),
    };
    linalg::cholesky_into(
        "active Stein Gram matrix",
        &sub,
        k,
        &mut factor,
        Some(&mut inverse),
    )
    .map_err(|_| degenerate())?;
    let row_sums: Vec<f64> = inverse.chunks_exact(k).map(|r| r.iter().sum()).collect();
    let total: f64 = row_sums.iter().sum();
    if !(total > 0.0) || !total.is_finite() {
        return Err(degenerate());
    }
    Ok(row_sums.iter().map(|v| v / total).collect())
}
