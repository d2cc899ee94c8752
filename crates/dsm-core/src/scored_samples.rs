//! Samples with their scores, for Stein discrepancies without a density: the output of an
//! MCMC run (Stan, PyMC, NumPyro) is draws and ∇log p at each draw, and nothing else.

use crate::density::Score;
use crate::error::{Error, Result, same_dim};
use crate::mc::{CHUNK_SIZE, Par};
use crate::samples::Samples;

/// n samples xᵢ with the model's score sᵢ = ∇log p(xᵢ) at each, both n × d row-major,
/// validated once: the Stein kernels use the table where they would call a model's score
/// (`SteinKernel::points_scored`, `estimate_scored`; `KsdTest::run_scored`), with the same
/// results to the bit.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let model = Gaussian::standard(2)?;
/// let xs = model.sample_n(300, 1, Par::Seq)?;
/// // The scores as an MCMC run would hand them over: −x for N(0, I).
/// let scores: Vec<f64> = xs.as_slice().iter().map(|v| -v).collect();
/// let scored = ScoredSamples::new(xs.clone(), scores)?;
/// let ksd = Ksd::new(Imq::default(), Estimator::V);
/// let from_table = ksd.estimate_scored(&scored, Par::Seq)?;
/// let from_model = ksd.estimate(&model, &xs, Par::Seq)?;
/// assert_eq!(from_table.value, from_model.value);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredSamples {
    samples: Samples,
    scores: Vec<f64>,
}

impl ScoredSamples {
    /// The samples (with their weights, if any) and their scores, row-major n × d.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] unless there are n·d scores;
    /// [`Error::NonFiniteValue`] naming the first sample whose score is not finite.
    pub fn new(samples: Samples, scores: Vec<f64>) -> Result<Self> {
        same_dim(
            "number of score entries",
            scores.len(),
            "n × d of the samples",
            samples.n().saturating_mul(samples.dim()),
        )?;
        let d = samples.dim();
        if let Some(k) = scores.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "score of p",
                index: k / d.max(1),
            });
        }
        Ok(Self { samples, scores })
    }

    /// The samples with the model's scores at them (computed once, in parallel; the values
    /// are the model's own, so every statistic equals the density path's to the bit).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the model's dimension is not the samples';
    /// [`Error::NonFiniteValue`] naming the first sample with a non-finite score;
    /// [`Error::ThreadPool`].
    pub fn from_model<P: Score + Sync + ?Sized>(
        model: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<Self> {
        let d = samples.dim();
        same_dim(
            "dimension of the samples",
            d,
            "dimension of the model",
            model.dim(),
        )?;
        let mut scores = vec![0.0; samples.n() * d];
        if d > 0 {
            par.for_each_chunk_mut(&mut scores, CHUNK_SIZE * d, |(c, chunk)| {
                for (a, out) in chunk.chunks_exact_mut(d).enumerate() {
                    model.score_into(samples.row(c * CHUNK_SIZE + a), out);
                }
            })?;
        }
        Self::new(samples.clone(), scores)
    }

    /// The samples.
    pub fn samples(&self) -> &Samples {
        &self.samples
    }

    /// The scores, row-major n × d.
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// Copies the score of sample i into `out` (length d).
    pub(crate) fn score_into(&self, i: usize, out: &mut [f64]) {
        let d = self.samples.dim();
        out.copy_from_slice(&self.scores[i * d..(i + 1) * d]);
    }
}
