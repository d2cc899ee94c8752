//! Capability traits for a (possibly unnormalised) density p on ℝᵈ.
//!
//! The `_into` methods are the low-level kernels used in hot loops: they take a point of
//! length `dim()` and write into a caller-owned buffer, and may panic when the lengths are
//! wrong (every dsm entry point checks them first). The provided `try_*` methods are the
//! checked, allocating versions for one-off use.

use faer::MatMut;
use rand::Rng;

use crate::error::{Error, Result, check_finite, same_dim};
use crate::mc::{CHUNK_SIZE, Par, RandomPurpose, random_stream};
use crate::samples::Samples;

/// A log-density log p(x), up to an additive constant unless the type says it is normalised.
pub trait LogDensity {
    /// The dimension d of the space.
    fn dim(&self) -> usize;

    /// log p(x) for `x.len() == dim()`.
    fn log_density(&self, x: &[f64]) -> f64;

    /// Checked log p(x).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a point of the wrong length; [`Error::NonFiniteSample`]
    /// for a non-finite point (index 0).
    fn try_log_density(&self, x: &[f64]) -> Result<f64> {
        check_point(self.dim(), x)?;
        Ok(self.log_density(x))
    }
}

/// The score s_p(x) = ∇ₓ log p(x) (docs/math.md section 1), a column vector in ℝᵈ.
pub trait Score: LogDensity {
    /// Writes s_p(x) into `out` (`x.len() == out.len() == dim()`).
    fn score_into(&self, x: &[f64], out: &mut [f64]);

    /// Writes the scores of many points at once: `xs` holds k points row-major (k × dim()),
    /// and row r of `out` (k × dim(), any strides) receives s_p(x_r). The default calls
    /// [`Score::score_into`] per point; models override it with a matrix product where one
    /// exists (the Gaussian: S = −(X − 1μᵀ) Σ⁻ᵀ). The objectives call it per chunk of
    /// samples with a column-major `out`, so that per-point norms run along its columns.
    /// `MatMut` is faer's, re-exported as [`crate::faer`] so that an implementation names the
    /// same faer version.
    fn score_rows_into(&self, xs: &[f64], mut out: MatMut<'_, f64>) {
        let d = self.dim();
        if d == 0 {
            return;
        }
        let mut s = vec![0.0; d];
        for (r, x) in xs.chunks_exact(d).enumerate() {
            self.score_into(x, &mut s);
            for (j, v) in s.iter().enumerate() {
                out[(r, j)] = *v;
            }
        }
    }

    /// Whether [`Score::score_rows_into`] is a batched computation (a matrix product) rather
    /// than the per-point default: the SM objective then scores a chunk at once; otherwise it
    /// takes each point's score and Laplacian together ([`Hessian::score_and_laplacian`]), so
    /// that a model with expensive per-point work (a pushforward's T⁻¹) does it once.
    fn has_batched_scores(&self) -> bool {
        false
    }

    /// Checked, allocating score.
    ///
    /// # Errors
    /// As [`LogDensity::try_log_density`], and [`Error::NonFiniteValue`] when the score is
    /// not finite.
    fn try_score(&self, x: &[f64]) -> Result<Vec<f64>> {
        check_point(self.dim(), x)?;
        let mut out = vec![0.0; self.dim()];
        self.score_into(x, &mut out);
        check_finite(&out, "score", 0)?;
        Ok(out)
    }
}

/// The Hessian ∇ₓ² log p(x), d × d row-major; its trace is the Laplacian Δ log p = ∇·s_p
/// that score matching needs (docs/math.md eq. 2).
pub trait Hessian: Score {
    /// Writes ∇² log p(x) into `out` (`out.len() == dim()²`, row-major).
    fn hessian_into(&self, x: &[f64], out: &mut [f64]);

    /// The Laplacian Δ log p(x) = tr ∇² log p(x), the only second-order quantity score
    /// matching needs. The default forms the Hessian in `scratch` (`dim()²`); models with a
    /// cheaper closed form override it.
    fn laplacian(&self, x: &[f64], scratch: &mut [f64]) -> f64 {
        let d = self.dim();
        self.hessian_into(x, scratch);
        (0..d).map(|k| scratch[k * d + k]).sum()
    }

    /// s(x) into `score` and ∇² log p(x) into `hessian` (d², row-major) together. The default
    /// calls [`Score::score_into`] and [`Hessian::hessian_into`]; a model that shares work
    /// between them (a pushforward's T⁻¹ and Jacobians) overrides it. The DSM objective calls
    /// this.
    fn score_and_hessian_into(&self, x: &[f64], score: &mut [f64], hessian: &mut [f64]) {
        self.score_into(x, score);
        self.hessian_into(x, hessian);
    }

    /// s(x) into `score`, and Δ log p(x) returned, with `scratch` (d²) as in
    /// [`Hessian::laplacian`]; the default calls [`Score::score_into`] and
    /// [`Hessian::laplacian`]. The SM objective calls this for models without batched scores.
    fn score_and_laplacian(&self, x: &[f64], score: &mut [f64], scratch: &mut [f64]) -> f64 {
        self.score_into(x, score);
        self.laplacian(x, scratch)
    }

    /// Checked, allocating Hessian.
    ///
    /// # Errors
    /// As [`Score::try_score`].
    fn try_hessian(&self, x: &[f64]) -> Result<Vec<f64>> {
        check_point(self.dim(), x)?;
        let d = self.dim();
        let mut out = vec![0.0; d * d];
        self.hessian_into(x, &mut out);
        check_finite(&out, "hessian", 0)?;
        Ok(out)
    }
}

/// A distribution that can draw points, reproducibly from a seed.
///
/// The built-in models also implement [`rand::distr::Distribution`] (`f64` for the 1-D
/// [`StudentT`](crate::StudentT), `Vec<f64>` for [`Gaussian`](crate::Gaussian) and
/// [`MultivariateStudentT`](crate::MultivariateStudentT)); a draw from it consumes the same
/// random numbers as [`Sampler::sample_into`] and returns the same point.
pub trait Sampler: LogDensity {
    /// Draws one point into `out` (`out.len() == dim()`).
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]);

    /// Draws `n` points from the caller's random number generator, one after the other with
    /// [`Sampler::sample_into`] (sequential: the points are those of n calls in a row, and
    /// `rng` is left after the last draw). Use [`Sampler::sample_n`] for seeded,
    /// parallel sampling; the two give different points for the same seed.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for `n == 0`; [`Error::MemoryCap`] when n·dim() values
    /// cannot be allocated (beyond `isize::MAX` bytes, or refused by the allocator);
    /// [`Error::NonFiniteSample`] if a draw overflowed.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Gaussian, Sampler};
    /// use rand::SeedableRng;
    /// let mut rng = chacha20::ChaCha8Rng::seed_from_u64(7);
    /// let xs = Gaussian::standard(2)?.sample_n_with(&mut rng, 100)?;
    /// assert_eq!((xs.n(), xs.dim()), (100, 2));
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    fn sample_n_with<R: Rng + ?Sized>(&self, rng: &mut R, n: usize) -> Result<Samples> {
        if n == 0 {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        let d = self.dim();
        let mut data = sample_buffer(n, d)?;
        for row in data.chunks_exact_mut(d.max(1)) {
            self.sample_into(rng, row);
        }
        Samples::new(data, d)
    }

    /// Draws `n` points from the seed `seed`: chunk c of [`CHUNK_SIZE`] points uses the
    /// stream [`random_stream`]`(seed, RandomPurpose::Sampling, c)`, so the result is identical for every `par`.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for `n == 0`; [`Error::NonFiniteSample`] if a draw overflowed;
    /// [`Error::ThreadPool`].
    fn sample_n(&self, n: usize, seed: u64, par: Par) -> Result<Samples>
    where
        Self: Sync,
    {
        if n == 0 {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        let d = self.dim();
        let mut data = sample_buffer(n, d)?;
        let fill = |(c, block): (usize, &mut [f64])| {
            let mut rng = random_stream(seed, RandomPurpose::Sampling, c as u64);
            for row in block.chunks_exact_mut(d) {
                self.sample_into(&mut rng, row);
            }
        };
        par.for_each_chunk_mut(&mut data, CHUNK_SIZE * d, fill)?;
        Samples::new(data, d)
    }
}

/// Checks a single point's length and finiteness.
pub(crate) fn check_point(dim: usize, x: &[f64]) -> Result<()> {
    same_dim(
        "length of the point",
        x.len(),
        "dimension of the model",
        dim,
    )?;
    match x.iter().position(|v| !v.is_finite()) {
        Some(coordinate) => Err(Error::NonFiniteSample {
            index: 0,
            coordinate,
        }),
        None => Ok(()),
    }
}

impl<T: LogDensity + ?Sized> LogDensity for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        (**self).log_density(x)
    }
}

impl<T: Score + ?Sized> Score for &T {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        (**self).score_into(x, out)
    }
    fn score_rows_into(&self, xs: &[f64], out: MatMut<'_, f64>) {
        (**self).score_rows_into(xs, out)
    }
    fn has_batched_scores(&self) -> bool {
        (**self).has_batched_scores()
    }
}

impl<T: Hessian + ?Sized> Hessian for &T {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        (**self).hessian_into(x, out)
    }
    fn laplacian(&self, x: &[f64], scratch: &mut [f64]) -> f64 {
        (**self).laplacian(x, scratch)
    }
    fn score_and_hessian_into(&self, x: &[f64], score: &mut [f64], hessian: &mut [f64]) {
        (**self).score_and_hessian_into(x, score, hessian)
    }
    fn score_and_laplacian(&self, x: &[f64], score: &mut [f64], scratch: &mut [f64]) -> f64 {
        (**self).score_and_laplacian(x, score, scratch)
    }
}

/// A zeroed buffer for n draws of dimension d, or [`Error::MemoryCap`] when n·d·8 bytes
/// overflow or cannot be allocated (never an allocation abort).
fn sample_buffer(n: usize, d: usize) -> Result<Vec<f64>> {
    let too_big = || Error::MemoryCap {
        what: "samples",
        needed_bytes: 8 * n as u128 * d as u128,
        cap_bytes: isize::MAX as u128,
        largest_n: isize::MAX as usize / (8 * d.max(1)),
        remedy: "the address space limits one allocation: draw in batches",
    };
    let len = n.checked_mul(d).ok_or_else(too_big)?;
    let mut data = Vec::new();
    data.try_reserve_exact(len).map_err(|_| too_big())?;
    data.resize(len, 0.0);
    Ok(data)
}
