//! The score-matching loss, docs/math.md eq. 2.

use crate::density::Hessian;
use faer::Mat;

use crate::error::{Result, same_dim};
use crate::mc::{self, Estimate, Par};
use crate::samples::Samples;

/// Per-sample integrand of the score-matching loss (docs/math.md eq. 2):
///
/// ```text
/// h_SM(x) = ‖s_p(x)‖² + 2 Δ log p(x),      Δ log p = tr ∇² log p
/// ```
///
/// # Errors
/// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) when p and the samples
/// differ in dimension; [`Error::NonFiniteValue`](crate::Error::NonFiniteValue) naming the
/// first sample where the score or Hessian is not finite;
/// [`Error::ThreadPool`](crate::Error::ThreadPool).
pub fn score_matching_integrand<P>(p: &P, samples: &Samples, par: Par) -> Result<Vec<f64>>
where
    P: Hessian + Sync + ?Sized,
{
    let d = samples.dim();
    same_dim("dimension of p", p.dim(), "dimension of the samples", d)?;
    if !p.has_batched_scores() {
        // Each point's score and Laplacian together (one T⁻¹ for a pushforward); the norm is
        // summed over the coordinates in the same order as the chunked path below.
        return mc::map_samples(
            samples,
            par,
            || (vec![0.0; d], vec![0.0; d * d]),
            |(s, h), i, x| {
                let laplacian = p.score_and_laplacian(x, s, h);
                crate::error::check_finite(s, "score of p", i)?;
                if !laplacian.is_finite() {
                    return Err(crate::Error::NonFiniteValue {
                        quantity: "hessian of log p",
                        index: i,
                    });
                }
                let mut value = 0.0;
                for v in s.iter() {
                    value += v * v;
                }
                Ok(value + 2.0 * laplacian)
            },
        );
    }
    // Scores a chunk at a time (Score::score_rows_into: one matrix product for a Gaussian),
    // column-major, so that the checks and the norms run along contiguous columns.
    mc::map_sample_chunks(
        samples,
        par,
        || (Mat::<f64>::zeros(mc::CHUNK_SIZE, d), vec![0.0; d * d]),
        |(s, h), first, rows, values| {
            let k = values.len();
            p.score_rows_into(rows, s.as_mut().subrows_mut(0, k));
            values.fill(0.0);
            let mut bad = 0;
            for j in 0..d {
                let col = &s.col_as_slice(j)[..k];
                // Counting (not short-circuiting) lets the check vectorise.
                bad += col.iter().filter(|v| !v.is_finite()).count();
                for (v, c) in values.iter_mut().zip(col) {
                    *v += c * c;
                }
            }
            // The first bad score by sample, so errors name the first bad sample whichever
            // check fails.
            let bad_score = (bad > 0).then(|| {
                (0..k)
                    .find(|&r| (0..d).any(|j| !s[(r, j)].is_finite()))
                    .unwrap_or(0)
            });
            for (r, (x, value)) in rows.chunks_exact(d).zip(values.iter_mut()).enumerate() {
                if bad_score == Some(r) {
                    return Err(crate::Error::NonFiniteValue {
                        quantity: "score of p",
                        index: first + r,
                    });
                }
                let laplacian = p.laplacian(x, h);
                if !laplacian.is_finite() {
                    return Err(crate::Error::NonFiniteValue {
                        quantity: "hessian of log p",
                        index: first + r,
                    });
                }
                *value += 2.0 * laplacian;
            }
            Ok(())
        },
    )
}

/// The score-matching loss L_SM(p) = E_q[‖s_p‖² + 2 Δ log p] (docs/math.md eq. 2), which equals
/// F(q ‖ p) − E_q‖s_q‖², estimated over `samples` from q.
///
/// # Errors
/// As [`score_matching_integrand`].
///
/// # Examples
/// ```
/// use dsm_core::{score_matching_loss, Par, Sampler, StudentT};
/// let q = StudentT::new(0.0, 1.0, 10.0)?;
/// let xs = q.sample_n(4000, 1, Par::Seq)?;
/// let loss = score_matching_loss(&q, &xs, Par::Seq)?;
/// // E_p[h_SM] = −(ν+1)/(ν+3) for p = q (docs/math.md N8).
/// assert!((loss.value + 11.0 / 13.0).abs() < 4.0 * loss.std_err);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn score_matching_loss<P>(p: &P, samples: &Samples, par: Par) -> Result<Estimate>
where
    P: Hessian + Sync + ?Sized,
{
    let values = score_matching_integrand(p, samples, par)?;
    Estimate::from_values(&values, samples.weights(), par)
}
