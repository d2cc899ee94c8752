//! The score-matching integrands from per-sample quantities computed elsewhere (another
//! library's autodiff, a sampler's output): docs/math.md eqs. 2 and 6 without a model object.

use crate::error::{Error, Result, check_finite, same_dim};
use crate::mc::{CHUNK_SIZE, Par};

/// The SM integrand (docs/math.md eq. 2) from given scores s_p(xᵢ) (n × d, row-major) and
/// Laplacians Δ log p(xᵢ) (n): hᵢ = ‖sᵢ‖² + 2 Δᵢ, the norm summed over coordinates in order
/// (the bits of [`score_matching_integrand`](crate::score_matching_integrand)).
///
/// # Errors
/// [`Error::InvalidParameter`] for `dim` = 0; [`Error::DimensionMismatch`] when the lengths
/// disagree; [`Error::NonFiniteValue`] naming the first sample with a non-finite score or
/// Laplacian; [`Error::ThreadPool`].
///
/// # Examples
/// ```
/// use dsm_core::{score_matching_integrand_precomputed, Par};
/// // Standard normal model at x = (1, 2): s = −x, Δ log p = −2.
/// let h = score_matching_integrand_precomputed(&[-1.0, -2.0], &[-2.0], 2, Par::Seq)?;
/// assert_eq!(h, vec![5.0 - 4.0]);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn score_matching_integrand_precomputed(
    scores: &[f64],
    laplacians: &[f64],
    dim: usize,
    par: Par,
) -> Result<Vec<f64>> {
    let n = rows(scores.len(), dim, "number of score entries")?;
    same_dim(
        "number of Laplacians",
        laplacians.len(),
        "number of samples",
        n,
    )?;
    per_sample(n, par, |i| {
        let s = &scores[i * dim..(i + 1) * dim];
        check_finite(s, "score of p", i)?;
        check_finite(&laplacians[i..=i], "Laplacian of log p", i)?;
        let mut value = 0.0;
        for v in s {
            value += v * v;
        }
        finite_value(value + 2.0 * laplacians[i], "SM integrand", i)
    })
}

/// The DSM integrand (docs/math.md eq. 6) from given scores (n × d), Hessians of log p
/// (n × d × d), diffusion matrices m(xᵢ) (n × d × d) and divergences ∇·(m mᵀ)(xᵢ) (n × d),
/// all row-major: hᵢ = sᵀAs + 2[(∇·A)ᵀs + tr(A ∇² log p)] with A = m mᵀ (the bits of
/// [`diffusion_score_matching_integrand`](crate::diffusion_score_matching_integrand)).
///
/// # Errors
/// As [`score_matching_integrand_precomputed`], for each array.
///
/// # Examples
/// ```
/// use dsm_core::{diffusion_score_matching_integrand_precomputed, Par};
/// // 1-D: s = −x, ∇² log p = −1, m = 2 (A = 4, ∇·A = 0) at x = 1: 4 + 2·(−4) = −4.
/// let h = diffusion_score_matching_integrand_precomputed(&[-1.0], &[-1.0], &[2.0], &[0.0], 1, Par::Seq)?;
/// assert_eq!(h, vec![-4.0]);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn diffusion_score_matching_integrand_precomputed(
    scores: &[f64],
    hessians: &[f64],
    diffusions: &[f64],
    divergences: &[f64],
    dim: usize,
    par: Par,
) -> Result<Vec<f64>> {
    let n = rows(scores.len(), dim, "number of score entries")?;
    let dd = dim.checked_mul(dim).ok_or(Error::InvalidParameter {
        owner: "diffusion_score_matching_integrand_precomputed",
        name: "dim",
        value: dim as f64,
        constraint: "small enough that d² entries fit in memory",
    })?;
    let n_dd = n.saturating_mul(dd);
    same_dim("number of Hessian entries", hessians.len(), "n·d²", n_dd)?;
    same_dim(
        "number of diffusion entries",
        diffusions.len(),
        "n·d²",
        n_dd,
    )?;
    same_dim(
        "number of divergence entries",
        divergences.len(),
        "n·d",
        n * dim,
    )?;
    let scratch = || vec![0.0; dd];
    per_sample_with(n, par, scratch, |a, i| {
        let s = &scores[i * dim..(i + 1) * dim];
        let h = &hessians[i * dd..(i + 1) * dd];
        let m = &diffusions[i * dd..(i + 1) * dd];
        let div_a = &divergences[i * dim..(i + 1) * dim];
        check_finite(s, "score of p", i)?;
        check_finite(h, "hessian of log p", i)?;
        check_finite(m, "diffusion m", i)?;
        check_finite(div_a, "divergence of m mᵀ", i)?;
        // A = m mᵀ.
        for j in 0..dim {
            for k in 0..dim {
                let (mj, mk) = (&m[j * dim..(j + 1) * dim], &m[k * dim..(k + 1) * dim]);
                a[j * dim + k] = mj.iter().zip(mk).map(|(x, y)| x * y).sum();
            }
        }
        check_finite(a, "diffusion covariance m mᵀ", i)?;
        let value = super::diffusion_score_matching::integrand_at(s, h, a, div_a);
        finite_value(value, "DSM integrand", i)
    })
}

/// `value`, or an error naming the sample when it overflowed.
fn finite_value(value: f64, quantity: &'static str, index: usize) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::NonFiniteValue { quantity, index })
    }
}

/// n = len / dim, or an error when `dim` is 0 or does not divide `len`.
fn rows(len: usize, dim: usize, what: &'static str) -> Result<usize> {
    if dim == 0 {
        return Err(Error::InvalidParameter {
            owner: "precomputed integrand",
            name: "dim",
            value: 0.0,
            constraint: "at least 1",
        });
    }
    if !len.is_multiple_of(dim) {
        return Err(Error::DimensionMismatch {
            what,
            got: len,
            against: "a multiple of the dimension",
            expected: dim * (len / dim + 1),
        });
    }
    Ok(len / dim)
}

fn per_sample(n: usize, par: Par, f: impl Fn(usize) -> Result<f64> + Sync) -> Result<Vec<f64>> {
    per_sample_with(n, par, || (), |_, i| f(i))
}

/// `f(scratch, i)` for i < n, in fixed chunks per `par`; the first error by sample index.
fn per_sample_with<S>(
    n: usize,
    par: Par,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> Result<f64> + Sync,
) -> Result<Vec<f64>> {
    let mut out = vec![0.0; n];
    let mut errors: Vec<Option<Error>> = vec![None; n.div_ceil(CHUNK_SIZE)];
    let mut blocks: Vec<(usize, &mut [f64], &mut Option<Error>)> = out
        .chunks_mut(CHUNK_SIZE)
        .zip(errors.iter_mut())
        .enumerate()
        .map(|(c, (block, e))| (c, block, e))
        .collect();
    par.for_each_chunk_mut(&mut blocks, 1, |(_, chunk)| {
        for (c, block, error) in chunk.iter_mut() {
            let mut scratch = init();
            for (k, slot) in block.iter_mut().enumerate() {
                match f(&mut scratch, *c * CHUNK_SIZE + k) {
                    Ok(v) => *slot = v,
                    Err(e) => {
                        **error = Some(e);
                        break;
                    }
                }
            }
        }
    })?;
    drop(blocks);
    match errors.into_iter().flatten().next() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
