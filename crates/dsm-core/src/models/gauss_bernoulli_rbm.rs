//! The Gauss–Bernoulli restricted Boltzmann machine, the high-dimensional benchmark of the
//! KSD tests (Liu et al. 2016; Jitkrittum et al. 2017; docs/math.md eq. 14.8).

use faer::{Accum, Mat, MatRef};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::autodiff::GenericLogDensity;
use crate::density::{Hessian, LogDensity, Sampler, Score};
use crate::error::{Error, Result};
use crate::mc::{CHUNK_SIZE, Par, RandomPurpose, random_stream};
use crate::samples::Samples;
use crate::scalar::Scalar;

/// A Gauss–Bernoulli RBM with visible x ∈ ℝ^{d_x}, hidden h ∈ {−1, 1}^{d_h}, weights B
/// (d_x × d_h) and biases b, c (the parametrisation of kgof):
///
/// ```text
/// p(x, h) ∝ exp(½ xᵀBh + bᵀx + cᵀh − ½‖x‖²)
/// log p(x) = bᵀx − ½‖x‖² + Σⱼ ln cosh(yⱼ) + const,   y = ½Bᵀx + c      (unnormalised)
/// s(x)     = b − x + ½ B tanh(y)
/// ∇s(x)    = −I + ¼ B diag(1 − tanh²(y)) Bᵀ
/// ```
/// The normalising constant is intractable, which is why the RBM is the standard test bed of
/// score-based goodness-of-fit tests. Draws are blocked Gibbs chains,
/// h | x: P(hⱼ = 1) = σ(2yⱼ); x | h ~ N(b + ½Bh, I), each started at x ~ N(0, I) and run for
/// `burn_in` sweeps (2000 by default, as in kgof). [`Sampler::sample_n`] runs the chains of
/// one chunk of [`CHUNK_SIZE`] points in lockstep with matrix products (same seeding rule,
/// identical for any `par`); [`Sampler::sample_into`] runs one chain.
///
/// # Examples
/// ```
/// use dsm_core::*;
/// let rbm = GaussBernoulliRbm::new(vec![0.5, -0.5, 1.0, 0.2], 2, 2, vec![0.1, 0.0], vec![0.0, -0.3])?
///     .with_burn_in(100)?;
/// let xs = rbm.sample_n(50, 1, Par::Seq)?;
/// assert_eq!((xs.n(), xs.dim()), (50, 2));
/// assert!(rbm.try_score(xs.row(0))?.iter().all(|s| s.is_finite()));
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaussBernoulliRbm {
    /// B, row-major d_x × d_h.
    weights: Vec<f64>,
    visible: usize,
    hidden: usize,
    b: Vec<f64>,
    c: Vec<f64>,
    burn_in: usize,
}

impl GaussBernoulliRbm {
    /// The RBM with weights B (row-major d_x × d_h) and biases b (d_x), c (d_h).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for d_x = 0 or a non-finite entry (named);
    /// [`Error::DimensionMismatch`] for arrays of the wrong length.
    pub fn new(
        weights: Vec<f64>,
        visible: usize,
        hidden: usize,
        b: Vec<f64>,
        c: Vec<f64>,
    ) -> Result<Self> {
        if visible == 0 {
            return Err(Error::InvalidParameter {
                owner: "GaussBernoulliRbm",
                name: "visible",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        crate::validate::same_dim(
            "length of the weights",
            weights.len(),
            "visible × hidden",
            visible.saturating_mul(hidden),
        )?;
        crate::validate::same_dim("length of b", b.len(), "visible units", visible)?;
        crate::validate::same_dim("length of c", c.len(), "hidden units", hidden)?;
        for (name, values) in [("weights", &weights), ("b", &b), ("c", &c)] {
            if let Some(&bad) = values.iter().find(|v| !v.is_finite()) {
                return Err(Error::InvalidParameter {
                    owner: "GaussBernoulliRbm",
                    name,
                    value: bad,
                    constraint: "finite in every entry",
                });
            }
        }
        Ok(Self {
            weights,
            visible,
            hidden,
            b,
            c,
            burn_in: 2000,
        })
    }

    /// Sets the Gibbs sweeps per draw.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0 sweeps.
    pub fn with_burn_in(mut self, burn_in: usize) -> Result<Self> {
        if burn_in == 0 {
            return Err(Error::InvalidParameter {
                owner: "GaussBernoulliRbm::with_burn_in",
                name: "burn_in",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        self.burn_in = burn_in;
        Ok(self)
    }

    /// The weights B, row-major d_x × d_h.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The hidden dimension d_h.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// y = ½Bᵀx + c.
    fn activations(&self, x: &[f64], y: &mut [f64]) {
        y.copy_from_slice(&self.c);
        for (xi, row) in x.iter().zip(self.weights.chunks_exact(self.hidden.max(1))) {
            for (yj, bij) in y.iter_mut().zip(row) {
                *yj += 0.5 * xi * bij;
            }
        }
    }

    /// Runs `m` chains (rows of x, m × d_x row-major) for the burn-in sweeps.
    fn gibbs<R: Rng + ?Sized>(&self, rng: &mut R, x: &mut [f64]) {
        let (dx, dh) = (self.visible, self.hidden);
        let m = x.len() / dx;
        for v in x.iter_mut() {
            *v = rng.sample(StandardNormal);
        }
        let bm = MatRef::from_row_major_slice(&self.weights, dx, dh);
        let mut y = Mat::<f64>::zeros(m, dh);
        let mut h = Mat::<f64>::zeros(m, dh);
        let mut mean = Mat::<f64>::zeros(m, dx);
        for _ in 0..self.burn_in {
            // y = ½ X B + 1cᵀ; P(h = 1) = σ(2y).
            faer::linalg::matmul::matmul(
                y.as_mut(),
                Accum::Replace,
                MatRef::from_row_major_slice(x, m, dx),
                bm,
                0.5,
                faer::Par::Seq,
            );
            for r in 0..m {
                for j in 0..dh {
                    let p = 1.0 / (1.0 + (-2.0 * (y[(r, j)] + self.c[j])).exp());
                    h[(r, j)] = if rng.random::<f64>() < p { 1.0 } else { -1.0 };
                }
            }
            // x = 1bᵀ + ½ H Bᵀ + Z.
            faer::linalg::matmul::matmul(
                mean.as_mut(),
                Accum::Replace,
                h.as_ref(),
                bm.transpose(),
                0.5,
                faer::Par::Seq,
            );
            for r in 0..m {
                for i in 0..dx {
                    let z: f64 = rng.sample(StandardNormal);
                    x[r * dx + i] = mean[(r, i)] + self.b[i] + z;
                }
            }
        }
    }
}

impl LogDensity for GaussBernoulliRbm {
    fn dim(&self) -> usize {
        self.visible
    }
    fn log_density(&self, x: &[f64]) -> f64 {
        let mut y = vec![0.0; self.hidden];
        self.activations(x, &mut y);
        let linear: f64 = x
            .iter()
            .zip(&self.b)
            .map(|(xi, bi)| xi * bi - 0.5 * xi * xi)
            .sum();
        // ln cosh y = |y| + ln(1 + e^{−2|y|}) − ln 2, finite for every finite y.
        linear
            + y.iter()
                .map(|v| v.abs() + (-2.0 * v.abs()).exp().ln_1p() - std::f64::consts::LN_2)
                .sum::<f64>()
    }
}

impl Score for GaussBernoulliRbm {
    fn score_into(&self, x: &[f64], out: &mut [f64]) {
        let mut y = [0.0; 64];
        let mut heap = Vec::new();
        let y: &mut [f64] = if self.hidden <= 64 {
            &mut y[..self.hidden]
        } else {
            heap.resize(self.hidden, 0.0);
            &mut heap
        };
        self.activations(x, y);
        y.iter_mut().for_each(|v| *v = v.tanh());
        for (i, (o, row)) in out
            .iter_mut()
            .zip(self.weights.chunks_exact(self.hidden.max(1)))
            .enumerate()
        {
            let pull: f64 = row.iter().zip(y.iter()).map(|(bij, t)| bij * t).sum();
            *o = self.b[i] - x[i] + 0.5 * pull;
        }
        if self.hidden == 0 {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.b[i] - x[i];
            }
        }
    }
}

impl Hessian for GaussBernoulliRbm {
    fn hessian_into(&self, x: &[f64], out: &mut [f64]) {
        let (dx, dh) = (self.visible, self.hidden);
        let mut y = vec![0.0; dh];
        self.activations(x, &mut y);
        let curvature: Vec<f64> = y.iter().map(|v| 1.0 - v.tanh().powi(2)).collect();
        for a in 0..dx {
            for b in 0..dx {
                let (row_a, row_b) = (
                    &self.weights[a * dh..(a + 1) * dh],
                    &self.weights[b * dh..(b + 1) * dh],
                );
                let sum: f64 = row_a
                    .iter()
                    .zip(&curvature)
                    .zip(row_b)
                    .map(|((u, k), v)| u * k * v)
                    .sum();
                out[a * dx + b] = 0.25 * sum - if a == b { 1.0 } else { 0.0 };
            }
        }
    }
}

impl Sampler for GaussBernoulliRbm {
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        self.gibbs(rng, out);
    }

    fn sample_n(&self, n: usize, seed: u64, par: Par) -> Result<Samples>
    where
        Self: Sync,
    {
        if n == 0 {
            return Err(Error::TooFewSamples { needed: 1, got: 0 });
        }
        let d = self.visible;
        let mut data = vec![0.0; n * d];
        par.for_each_chunk_mut(&mut data, CHUNK_SIZE * d, |(c, block)| {
            let mut rng = random_stream(seed, RandomPurpose::Sampling, c as u64);
            self.gibbs(&mut rng, block);
        })?;
        Samples::new(data, d)
    }
}

impl GenericLogDensity for GaussBernoulliRbm {
    fn dim(&self) -> usize {
        self.visible
    }
    fn log_density_generic<D: Scalar>(&self, x: &[D]) -> D {
        let mut total = D::from(0.0);
        for (xi, bi) in x.iter().zip(&self.b) {
            total += *xi * *bi - *xi * *xi * 0.5;
        }
        for j in 0..self.hidden {
            let mut y = D::from(self.c[j]);
            for (i, xi) in x.iter().enumerate() {
                y += *xi * (0.5 * self.weights[i * self.hidden + j]);
            }
            let magnitude = if y.re() < 0.0 { -y } else { y };
            total += magnitude + (magnitude * -2.0).exp().ln_1p() - std::f64::consts::LN_2;
        }
        total
    }
}
