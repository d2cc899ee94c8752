//! Stein thinning (Riabiz, Chen, Cockayne, Swietach, Niederer, Mackey, Oates 2022): greedily
//! choose m of n MCMC draws, with replacement, so that the KSD of the chosen set is smallest
//! (docs/math.md eq. 15.1), with the conventions of the reference package `stein_thinning`
//! (0.2) or with any Stein kernel (any kernel, any diffusion).

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::mc::Par;
use crate::scored_samples::ScoredSamples;
use crate::stein::{PairScratch, SteinKernel, SteinPoints};

/// Points per parallel chunk of a greedy step (fixed, so the result does not depend on the
/// thread count; every candidate's objective is updated on its own anyway).
const CHUNK: usize = 4096;

/// Rows of the median heuristic's subsample (the package's `m = 1000`).
const MEDIAN_POINTS: usize = 1000;

/// The preconditioner L of the IMQ kernel (1 + (x − y)ᵀL(x − y))^{−½}, as in the reference
/// package (`preconditioner=` of `stein_thinning.thinning.thin`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Preconditioner {
    /// L = I (`'id'`, the default).
    Identity,
    /// L = I/med², med the median pairwise Euclidean distance over at most 1000 evenly
    /// spaced points (`'med'`).
    Median,
    /// L = I·ln(min(1000, n))/med² (`'sclmed'`).
    ScaledMedian,
    /// L = the inverse sample covariance (`'smpcov'`; also for d = 1, which the package
    /// rejects).
    SampleCovariance,
    /// L = I/v (a number v, a squared length-scale).
    Scale(f64),
}

/// Greedy Stein thinning with the reference package's conventions:
///
/// ```text
/// standardise:  xᵢₖ ← xᵢₖ / scl_k,  sᵢₖ ← sᵢₖ · scl_k,   scl_k = (1/n) Σᵢ |xᵢₖ − x̄ₖ|
/// kernel:       q = 1 + rᵀLr,  r = x − y
///               k⁰(x, y) = −3 rᵀL²r / q^{5/2} + (tr L + (sₓ − s_y)ᵀLr) / q^{3/2} + sₓ·s_y / q^{1/2}
/// greedy:       π₁ = argminᵢ k⁰(xᵢ, xᵢ),
///               π_t = argminᵢ k⁰(xᵢ, xᵢ) + 2 Σ_{l<t} k⁰(xᵢ, x_{π_l})
/// ```
/// ties to the lowest index, points chosen with replacement. The same operations in the
/// same order as `stein_thinning` 0.2 (numpy), so the selection agrees index for index (tested
/// on the package's outputs); `thin_with` runs the same greedy search with any [`SteinKernel`]
/// ([`Ksd`](crate::Ksd) with any kernel, [`DiffusionKsd`](crate::DiffusionKsd) with any
/// diffusion, flow and learned diffusions included), on the samples as given.
///
/// Cost: m steps of n Stein-kernel evaluations, O(n) memory, parallel over the candidates in
/// fixed chunks (bit-identical for any thread count).
///
/// # Examples
/// ```
/// use dsm_core::*;
/// use dsm_core::mcmc::{Preconditioner, SteinThinning};
/// let xs = Gaussian::standard(2)?.sample_n(2000, 1, Par::Seq)?;
/// let scores: Vec<f64> = xs.as_slice().iter().map(|v| -v).collect(); // N(0, I): s = −x
/// let run = ScoredSamples::new(xs, scores)?;
/// let thinned = SteinThinning::new()
///     .with_preconditioner(Preconditioner::Median)
///     .thin(&run, 20, Par::rayon(2))?;
/// assert_eq!(thinned.indices.len(), 20);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteinThinning {
    standardize: bool,
    preconditioner: Preconditioner,
}

/// Regularised Stein thinning (Bénard, Staber & Da Veiga 2023): at step t = 1 … m the greedy
/// objective of draw i gains
///
/// ```text
/// Δ⁺log p(xᵢ) − λ t log p(xᵢ),     Δ⁺log p = Σₖ max(0, ∂²log p/∂xₖ²)
/// ```
/// The Laplacian term keeps the selection off points where the score vanishes but the density
/// is low (saddles between modes, which plain Stein thinning over-selects), the entropic term
/// pulls towards high density; λ = 1/m is the reference implementations' default. log p may be
/// unnormalised (a constant does not change the argmin).
#[derive(Debug, Clone, PartialEq)]
pub struct Regularization {
    /// log p at every draw (up to a constant).
    pub log_density: Vec<f64>,
    /// Δ⁺log p at every draw.
    pub laplacian: Vec<f64>,
    /// λ (`None`: 1/m).
    pub lambda: Option<f64>,
}

impl Regularization {
    /// The terms from a model with a Hessian, at the draws.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the model's dimension is not the draws';
    /// [`Error::NonFiniteValue`] naming the first draw whose log-density or Hessian is not
    /// finite.
    pub fn from_model<P: crate::density::Hessian + ?Sized>(
        model: &P,
        samples: &crate::Samples,
    ) -> Result<Self> {
        let d = samples.dim();
        crate::validate::same_dim(
            "dimension of the samples",
            d,
            "dimension of the model",
            model.dim(),
        )?;
        let mut hessian = vec![0.0; d * d];
        let mut log_density = Vec::with_capacity(samples.n());
        let mut laplacian = Vec::with_capacity(samples.n());
        for (i, x) in samples.rows().enumerate() {
            let value = model.log_density(x);
            model.hessian_into(x, &mut hessian);
            let positive: f64 = (0..d).map(|k| hessian[k * d + k].max(0.0)).sum();
            if !(value.is_finite() && positive.is_finite()) {
                return Err(Error::NonFiniteValue {
                    quantity: "log-density or Hessian for the regularisation",
                    index: i,
                });
            }
            log_density.push(value);
            laplacian.push(positive);
        }
        Ok(Self {
            log_density,
            laplacian,
            lambda: None,
        })
    }

    /// Checks lengths and values against n draws and m points; returns λ.
    fn check(&self, n: usize, m: usize) -> Result<f64> {
        crate::validate::same_dim(
            "length of log_density",
            self.log_density.len(),
            "number of draws",
            n,
        )?;
        crate::validate::same_dim(
            "length of laplacian",
            self.laplacian.len(),
            "number of draws",
            n,
        )?;
        if let Some(i) = self
            .log_density
            .iter()
            .zip(&self.laplacian)
            .position(|(a, b)| !(a.is_finite() && b.is_finite()))
        {
            return Err(Error::NonFiniteValue {
                quantity: "regularisation term",
                index: i,
            });
        }
        let lambda = self.lambda.unwrap_or(1.0 / m as f64);
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::InvalidParameter {
                owner: "Regularization",
                name: "lambda",
                value: lambda,
                constraint: "finite and >= 0",
            });
        }
        Ok(lambda)
    }
}

/// The outcome of a thinning: the chosen indices in the order chosen, and the objective at
/// each step.
#[derive(Debug, Clone, PartialEq)]
pub struct Thinned {
    /// 0-based indices into the samples, in the order chosen (repeats allowed).
    pub indices: Vec<usize>,
    /// The minimum of the greedy objective at each step: k⁰(x, x) + 2 Σ_{l<t} k⁰(x, x_{π_l}).
    /// Its running sum gives the V-statistic of the chosen set: after m steps,
    /// KSD²_V = Σ_t objective_t / m² (with the kernel the thinning used).
    pub objective: Vec<f64>,
}

impl Thinned {
    /// The V-statistic KSD² of the first k chosen points, for k = 1 … m (from the objectives:
    /// Σ_{t≤k} objective_t / k²).
    pub fn ksd_squared(&self) -> Vec<f64> {
        let mut total = 0.0;
        self.objective
            .iter()
            .enumerate()
            .map(|(t, o)| {
                total += o;
                total / ((t + 1) as f64).powi(2)
            })
            .collect()
    }
}

impl Default for SteinThinning {
    fn default() -> Self {
        Self::new()
    }
}

impl SteinThinning {
    /// The package's defaults: standardised coordinates and L = I.
    pub fn new() -> Self {
        Self {
            standardize: true,
            preconditioner: Preconditioner::Identity,
        }
    }

    /// Whether each coordinate is divided by its mean absolute deviation first.
    pub fn with_standardize(mut self, standardize: bool) -> Self {
        self.standardize = standardize;
        self
    }

    /// Sets the preconditioner.
    pub fn with_preconditioner(mut self, preconditioner: Preconditioner) -> Self {
        self.preconditioner = preconditioner;
        self
    }

    /// Chooses m points from the samples and their scores.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for m = 0; [`Error::Unsupported`] for weighted samples;
    /// [`Error::DegenerateSamples`] for a constant coordinate under standardisation, or a
    /// median distance of 0 (more than half the pairs are duplicates);
    /// [`Error::InvalidParameter`] for a `Scale` that is not finite and positive;
    /// the matrix errors of the sample covariance's inverse; [`Error::NonFiniteValue`] when
    /// the objective overflows.
    pub fn thin(&self, scored: &ScoredSamples, m: usize, par: Par) -> Result<Thinned> {
        check_request(scored, m)?;
        self.preconditioned_greedy(scored, m, par, None)
    }

    /// [`SteinThinning::thin`] with the regularisation of Bénard et al. (2023).
    ///
    /// # Errors
    /// Those of [`SteinThinning::thin`]; [`Error::DimensionMismatch`] for terms of another
    /// length; [`Error::NonFiniteValue`] naming a draw with a non-finite term;
    /// [`Error::InvalidParameter`] for a negative or non-finite λ.
    pub fn thin_regularized(
        &self,
        scored: &ScoredSamples,
        regularization: &Regularization,
        m: usize,
        par: Par,
    ) -> Result<Thinned> {
        check_request(scored, m)?;
        let lambda = regularization.check(scored.samples().n(), m)?;
        self.preconditioned_greedy(scored, m, par, Some((regularization, lambda)))
    }

    /// The greedy search with the package's standardisation and preconditioned IMQ, plain or
    /// regularised (the request already checked).
    fn preconditioned_greedy(
        &self,
        scored: &ScoredSamples,
        m: usize,
        par: Par,
        regularization: Option<(&Regularization, f64)>,
    ) -> Result<Thinned> {
        let samples = scored.samples();
        let (n, d) = (samples.n(), samples.dim());
        let mut x = samples.as_slice().to_vec();
        let mut s = scored.scores().to_vec();
        if self.standardize {
            standardize(&mut x, &mut s, n, d)?;
        }
        let l = preconditioner_matrix(self.preconditioner, &x, n, d)?;
        let kernel = PreconditionedImq::new(l, d);
        let k0 = |i: usize, j: usize| {
            kernel.value(
                &x[i * d..(i + 1) * d],
                &x[j * d..(j + 1) * d],
                &s[i * d..(i + 1) * d],
                &s[j * d..(j + 1) * d],
            )
        };
        greedy(n, m, par, regularization, || (), |_, i, j| k0(i, j))
    }

    /// Chooses m points with any Stein kernel (a kernel and, for [`DiffusionKsd`](crate::DiffusionKsd),
    /// a diffusion: DKSD thinning), on the samples and scores as given (no standardisation,
    /// no preconditioner: build them into the kernel or the diffusion).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for m = 0; [`Error::Unsupported`] for weighted samples; those
    /// of [`SteinKernel::points_scored`]; [`Error::NonFiniteValue`] when k⁰ or the objective
    /// is not finite.
    pub fn thin_with<S: SteinKernel>(
        stein: &S,
        scored: &ScoredSamples,
        m: usize,
        par: Par,
    ) -> Result<Thinned> {
        check_request(scored, m)?;
        let points: SteinPoints<'_, S::Kernel> = stein.points_scored(scored, par)?;
        greedy(
            scored.samples().n(),
            m,
            par,
            None,
            PairScratch::default,
            |scratch, i, j| points.stein_kernel(i, j, scratch),
        )
    }
}

/// m ≥ 1, unweighted samples.
fn check_request(scored: &ScoredSamples, m: usize) -> Result<()> {
    if m == 0 {
        return Err(Error::TooFewSamples { needed: 1, got: 0 });
    }
    if m > MAX_THINNED {
        return Err(Error::InvalidParameter {
            owner: "SteinThinning",
            name: "m",
            value: m as f64,
            constraint: "at most 10^8 points (MAX_THINNED; each costs a pass over the draws)",
        });
    }
    if scored.samples().weights().is_some() {
        return Err(Error::Unsupported {
            what: "weighted samples in Stein thinning (thin the draws, then weight)",
        });
    }
    Ok(())
}

/// The most points a thinning selects: each is a pass over all n draws, so more is a
/// mistake, and the caller's m must not reach the allocator unchecked.
pub const MAX_THINNED: usize = 100_000_000;

/// The greedy search over the candidates 0 … n−1 with the pair function `k0(scratch, i, j)`;
/// with a regularisation, step t (from 1) ranks by objective + Δ⁺ − λ t log p.
fn greedy<T, I, F>(
    n: usize,
    m: usize,
    par: Par,
    regularization: Option<(&Regularization, f64)>,
    init: I,
    k0: F,
) -> Result<Thinned>
where
    T: Send,
    I: Fn() -> T + Sync + Send,
    F: Fn(&mut T, usize, usize) -> f64 + Sync + Send,
{
    let mut objective = vec![0.0; n];
    let update = |last: Option<usize>, obj: &mut [f64]| -> Result<()> {
        let step = |(c, chunk): (usize, &mut [f64])| {
            let mut scratch = init();
            for (a, slot) in chunk.iter_mut().enumerate() {
                let i = c * CHUNK + a;
                match last {
                    None => *slot = k0(&mut scratch, i, i),
                    Some(j) => *slot += 2.0 * k0(&mut scratch, i, j),
                }
            }
        };
        match par {
            Par::Seq => obj.chunks_mut(CHUNK).enumerate().for_each(step),
            Par::Rayon(_) => {
                par.install(|| obj.par_chunks_mut(CHUNK).enumerate().for_each(step))?
            }
        }
        Ok(())
    };
    // m is the caller's: reserve fallibly, so that an absurd m is an error, not an abort.
    let too_big = || Error::MemoryCap {
        what: "the m chosen indices and objectives",
        needed_bytes: 16 * m as u128,
        cap_bytes: isize::MAX as u128,
        largest_n: isize::MAX as usize / 16,
        remedy: "ask for fewer points",
    };
    let mut indices = Vec::new();
    indices.try_reserve_exact(m).map_err(|_| too_big())?;
    let mut minima = Vec::new();
    minima.try_reserve_exact(m).map_err(|_| too_big())?;
    for t in 0..m {
        update(indices.last().copied(), &mut objective)?;
        if let Some(i) = objective.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFiniteValue {
                quantity: "Stein thinning objective",
                index: i,
            });
        }
        // The first minimum (ties to the lowest index).
        let ranked = |i: usize| match regularization {
            None => objective[i],
            Some((r, lambda)) => {
                objective[i] + r.laplacian[i] - lambda * (t + 1) as f64 * r.log_density[i]
            }
        };
        let mut best = 0;
        let mut best_value = ranked(0);
        for i in 1..n {
            let v = ranked(i);
            if v < best_value {
                (best, best_value) = (i, v);
            }
        }
        if !best_value.is_finite() {
            return Err(Error::NonFiniteValue {
                quantity: "regularised Stein thinning objective",
                index: best,
            });
        }
        indices.push(best);
        minima.push(objective[best]);
    }
    Ok(Thinned {
        indices,
        objective: minima,
    })
}

/// x ← x/scl, s ← s·scl per coordinate, scl the mean absolute deviation about the mean (sums
/// in sample order, as numpy's column reductions).
fn standardize(x: &mut [f64], s: &mut [f64], n: usize, d: usize) -> Result<()> {
    for k in 0..d {
        let mut mean = 0.0;
        for i in 0..n {
            mean += x[i * d + k];
        }
        mean /= n as f64;
        let mut scale = 0.0;
        for i in 0..n {
            scale += (x[i * d + k] - mean).abs();
        }
        scale /= n as f64;
        if !(scale > 0.0) || !scale.is_finite() {
            return Err(Error::DegenerateSamples {
                what: "coordinate with zero mean absolute deviation (cannot be standardised)",
                index: k,
            });
        }
        for i in 0..n {
            x[i * d + k] /= scale;
            s[i * d + k] *= scale;
        }
    }
    Ok(())
}

/// med²: the squared median pairwise Euclidean distance over all points (n ≤ 1000) or the
/// 1000 rows ⌊i (n − 1)/999⌋ (computed in floating point, the last row n − 1), as numpy's
/// `linspace(0, n − 1, 1000, dtype=int)`.
pub(crate) fn median_squared_distance(x: &[f64], n: usize, d: usize) -> Result<f64> {
    let rows: Vec<usize> = if n > MEDIAN_POINTS {
        let step = (n - 1) as f64 / (MEDIAN_POINTS - 1) as f64;
        let mut rows: Vec<usize> = (0..MEDIAN_POINTS)
            .map(|i| (i as f64 * step) as usize)
            .collect();
        rows[MEDIAN_POINTS - 1] = n - 1;
        rows
    } else {
        (0..n).collect()
    };
    let mut distances = Vec::with_capacity(rows.len() * rows.len().saturating_sub(1) / 2);
    for (a, &i) in rows.iter().enumerate() {
        for &j in &rows[a + 1..] {
            let mut sum = 0.0;
            for k in 0..d {
                let t = x[i * d + k] - x[j * d + k];
                sum += t * t;
            }
            distances.push(sum.sqrt());
        }
    }
    if distances.is_empty() {
        return Err(Error::TooFewSamples { needed: 2, got: n });
    }
    distances.sort_by(f64::total_cmp);
    let k = distances.len();
    let median = if k % 2 == 1 {
        distances[k / 2]
    } else {
        (distances[k / 2 - 1] + distances[k / 2]) / 2.0
    };
    let squared = median * median;
    if !(squared > 0.0) {
        return Err(Error::DegenerateSamples {
            what: "median pairwise distance of 0 (more than half the pairs are duplicates)",
            index: 0,
        });
    }
    Ok(squared)
}

/// L (row-major d × d) for the preconditioner on the (standardised) samples.
fn preconditioner_matrix(p: Preconditioner, x: &[f64], n: usize, d: usize) -> Result<Vec<f64>> {
    let diagonal = |v: f64| {
        let mut l = vec![0.0; d * d];
        for k in 0..d {
            l[k * d + k] = v;
        }
        l
    };
    match p {
        Preconditioner::Identity => Ok(diagonal(1.0)),
        Preconditioner::Median => Ok(diagonal(1.0 / median_squared_distance(x, n, d)?)),
        Preconditioner::ScaledMedian => {
            let med2 = median_squared_distance(x, n, d)?;
            Ok(diagonal((1.0 / med2) * (n.min(MEDIAN_POINTS) as f64).ln()))
        }
        Preconditioner::Scale(v) => {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::InvalidParameter {
                    owner: "Preconditioner::Scale",
                    name: "v",
                    value: v,
                    constraint: "finite and > 0",
                });
            }
            Ok(diagonal(1.0 / v))
        }
        Preconditioner::SampleCovariance => {
            if n < 2 {
                return Err(Error::TooFewSamples { needed: 2, got: n });
            }
            let mut mean = vec![0.0; d];
            for row in x.chunks_exact(d) {
                for (m, v) in mean.iter_mut().zip(row) {
                    *m += v;
                }
            }
            mean.iter_mut().for_each(|m| *m /= n as f64);
            let mut cov = vec![0.0; d * d];
            for row in x.chunks_exact(d) {
                for a in 0..d {
                    for b in 0..d {
                        cov[a * d + b] += (row[a] - mean[a]) * (row[b] - mean[b]);
                    }
                }
            }
            let scale = 1.0 / (n as f64 - 1.0);
            cov.iter_mut().for_each(|c| *c *= scale);
            let mut inverse = vec![0.0; d * d];
            crate::linalg::invert_into(&cov, d, &mut inverse).map_err(|e| match e {
                Error::Singular { rcond, .. } => Error::Singular {
                    name: "sample covariance",
                    rcond,
                },
                other => other,
            })?;
            Ok(inverse)
        }
    }
}

/// The IMQ Stein kernel with preconditioner L (c = 1, β = −½), evaluated with the operations
/// of `stein_thinning.kernel.vfk0_imq` in their order.
struct PreconditionedImq {
    d: usize,
    l: Vec<f64>,
    l2: Vec<f64>,
    trace: f64,
    diagonal: bool,
}

impl PreconditionedImq {
    fn new(l: Vec<f64>, d: usize) -> Self {
        let mut l2 = vec![0.0; d * d];
        for a in 0..d {
            for b in 0..d {
                let mut sum = 0.0;
                for k in 0..d {
                    sum += l[a * d + k] * l[k * d + b];
                }
                l2[a * d + b] = sum;
            }
        }
        let mut trace = 0.0;
        for k in 0..d {
            trace += l[k * d + k];
        }
        let diagonal = (0..d).all(|a| (0..d).all(|b| a == b || l[a * d + b] == 0.0));
        PreconditionedImq {
            d,
            l,
            l2,
            trace,
            diagonal,
        }
    }

    /// Σₖ (M v)ₖ rₖ, the product M v first (row by row), then the sum in k.
    fn form(&self, m: &[f64], v: impl Fn(usize) -> f64, r: impl Fn(usize) -> f64) -> f64 {
        let d = self.d;
        let mut sum = 0.0;
        if self.diagonal {
            for k in 0..d {
                sum += m[k * d + k] * v(k) * r(k);
            }
        } else {
            for k in 0..d {
                let mut mv = 0.0;
                for j in 0..d {
                    mv += m[k * d + j] * v(j);
                }
                sum += mv * r(k);
            }
        }
        sum
    }

    fn value(&self, x: &[f64], y: &[f64], sx: &[f64], sy: &[f64]) -> f64 {
        let r = |k: usize| x[k] - y[k];
        let q = 1.0 + self.form(&self.l, r, r);
        let t1 = (-3.0 * self.form(&self.l2, r, r)) / q.powf(2.5);
        let t2 = (self.trace + self.form(&self.l, |k| sx[k] - sy[k], r)) / q.powf(1.5);
        let mut dot = 0.0;
        for k in 0..self.d {
            dot += sx[k] * sy[k];
        }
        let t3 = dot / q.sqrt();
        t1 + t2 + t3
    }
}
