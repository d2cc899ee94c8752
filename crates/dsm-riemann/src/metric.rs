//! Metric tensors G(x): fields of symmetric positive-definite matrices with exact derivatives.

use num_dual::Dual64;

use dsm_core::{AutoDiff, Error, Result, Scalar};
use dsm_flows::Flow;

/// A Riemannian metric in local coordinates: G(x) symmetric positive definite, with exact
/// first derivatives (docs/math.md eqs. 13, 25–33).
///
/// Layout: `g[j·d + k] = G_jk(x)`, `dg[(i·d + j)·d + k] = ∂G_jk/∂x_i`.
pub trait Metric: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// Writes G(x).
    ///
    /// # Errors
    /// A metric that is not defined at x (outside its domain) returns an error with sample
    /// index 0; the objectives re-index it.
    fn metric_into(&self, x: &[f64], g: &mut [f64]) -> Result<()>;

    /// Writes ∂G_jk/∂x_i.
    ///
    /// # Errors
    /// As [`Metric::metric_into`].
    fn metric_gradient_into(&self, x: &[f64], dg: &mut [f64]) -> Result<()>;
}

/// A metric written once over the [`Scalar`] type; wrapped in [`AutoDiff`] it is a
/// [`Metric`] with the exact gradient.
///
/// # Examples
/// ```
/// use dsm_core::{AutoDiff, Result, Scalar};
/// use dsm_riemann::{GenericMetric, Metric};
///
/// /// G(x) = (1 + x₁²) I in two dimensions.
/// struct Bump;
/// impl GenericMetric for Bump {
///     fn dim(&self) -> usize { 2 }
///     fn metric_generic<D: Scalar>(&self, x: &[D], g: &mut [D]) -> Result<()> {
///         let s = x[0] * x[0] + 1.0;
///         g.copy_from_slice(&[s, D::from(0.0), D::from(0.0), s]);
///         Ok(())
///     }
/// }
///
/// let mut dg = [0.0; 8];
/// AutoDiff(Bump).metric_gradient_into(&[3.0, 1.0], &mut dg)?;
/// assert_eq!(dg, [6.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0, 0.0]); // ∂₁G = 2x₁ I, ∂₂G = 0
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub trait GenericMetric: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// Writes G(x) (row-major) in the scalar type `D`.
    ///
    /// # Errors
    /// Outside the metric's domain.
    fn metric_generic<D: Scalar>(&self, x: &[D], g: &mut [D]) -> Result<()>;
}

/// A [`GenericMetric`] with its gradient by forward-mode autodiff (d [`Dual64`] passes): the
/// same adapter that gives scores, Hessians and diffusion gradients in dsm-core.
impl<M: GenericMetric> Metric for AutoDiff<M> {
    fn dim(&self) -> usize {
        self.0.dim()
    }
    fn metric_into(&self, x: &[f64], g: &mut [f64]) -> Result<()> {
        self.0.metric_generic(x, g)
    }
    fn metric_gradient_into(&self, x: &[f64], dg: &mut [f64]) -> Result<()> {
        let d = x.len();
        let mut xs: Vec<Dual64> = x.iter().map(|&v| Dual64::from_re(v)).collect();
        let mut gs = vec![Dual64::from_re(0.0); d * d];
        for i in 0..d {
            xs[i].eps = 1.0;
            self.0.metric_generic(&xs, &mut gs)?;
            xs[i].eps = 0.0;
            for (slot, gjk) in dg[i * d * d..(i + 1) * d * d].iter_mut().zip(&gs) {
                *slot = gjk.eps;
            }
        }
        Ok(())
    }
}

/// A constant SPD metric G (a preconditioner: m = a Cholesky factor of G⁻¹).
///
/// # Examples
/// ```
/// use dsm_riemann::{ConstantMetric, Metric};
/// let g = ConstantMetric::new(2, vec![2.0, 0.5, 0.5, 1.0])?;
/// assert!(ConstantMetric::new(2, vec![1.0, 2.0, 2.0, 1.0]).is_err()); // indefinite
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ConstantMetric {
    dim: usize,
    g: Vec<f64>,
}

impl ConstantMetric {
    /// The constant metric with row-major SPD matrix `g`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for d = 0 or d > [`MAX_DIM`](dsm_core::linalg::MAX_DIM);
    /// [`Error::DimensionMismatch`]; [`Error::NonFiniteMatrix`]; [`Error::NotSymmetric`];
    /// [`Error::NotPositiveDefinite`].
    pub fn new(dim: usize, g: Vec<f64>) -> Result<Self> {
        dsm_core::linalg::check_dim("ConstantMetric", "dim", dim)?;
        dsm_core::linalg::check_square("metric", &g, dim)?;
        // Validation through the Gaussian's SPD check (finite, symmetric, Cholesky).
        dsm_core::Gaussian::new(vec![0.0; dim], &g).map_err(|e| rename(e, "metric"))?;
        Ok(Self { dim, g })
    }
}

/// Renames the matrix in a validation error.
fn rename(e: Error, name: &'static str) -> Error {
    match e {
        Error::NotPositiveDefinite { index, .. } => Error::NotPositiveDefinite { name, index },
        Error::NotSymmetric { row, col, .. } => Error::NotSymmetric { name, row, col },
        Error::NonFiniteMatrix { row, col, .. } => Error::NonFiniteMatrix { name, row, col },
        other => other,
    }
}

impl Metric for ConstantMetric {
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric_into(&self, _x: &[f64], g: &mut [f64]) -> Result<()> {
        g.copy_from_slice(&self.g);
        Ok(())
    }
    fn metric_gradient_into(&self, _x: &[f64], dg: &mut [f64]) -> Result<()> {
        dg.fill(0.0);
        Ok(())
    }
}

/// A metric from two closures: `metric(x, g)` and its exact gradient `gradient(x, dg)`.
#[derive(Clone)]
pub struct MetricFn<G, DG> {
    dim: usize,
    metric: G,
    gradient: DG,
}

impl<G, DG> MetricFn<G, DG>
where
    G: Fn(&[f64], &mut [f64]) + Sync,
    DG: Fn(&[f64], &mut [f64]) + Sync,
{
    /// The metric of dimension `dim` with the given closures.
    pub fn new(dim: usize, metric: G, gradient: DG) -> Self {
        Self {
            dim,
            metric,
            gradient,
        }
    }
}

impl<G, DG> std::fmt::Debug for MetricFn<G, DG> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricFn")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl<G, DG> Metric for MetricFn<G, DG>
where
    G: Fn(&[f64], &mut [f64]) + Sync,
    DG: Fn(&[f64], &mut [f64]) + Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric_into(&self, x: &[f64], g: &mut [f64]) -> Result<()> {
        (self.metric)(x, g);
        Ok(())
    }
    fn metric_gradient_into(&self, x: &[f64], dg: &mut [f64]) -> Result<()> {
        (self.gradient)(x, dg);
        Ok(())
    }
}

/// The flat metric a flow induces, G = JᵀJ (the pullback of the Euclidean metric by T), with
/// ∂ᵢG = (∂ᵢJ)ᵀJ + Jᵀ∂ᵢJ. With it, G⁻¹ = J⁻¹J⁻ᵀ = m mᵀ for the flow's m = J⁻¹ (Proposition
/// 3.1 meets Theorem 3.1).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowMetric<F> {
    flow: F,
}

impl<F: Flow> FlowMetric<F> {
    /// G = JᵀJ of `flow`.
    pub fn new(flow: F) -> Self {
        Self { flow }
    }
}

impl<F: Flow> Metric for FlowMetric<F> {
    fn dim(&self) -> usize {
        self.flow.dim()
    }
    fn metric_into(&self, x: &[f64], g: &mut [f64]) -> Result<()> {
        let d = x.len();
        let mut j = vec![0.0; d * d];
        self.flow.jacobian_into(x, &mut j);
        for a in 0..d {
            for b in 0..d {
                g[a * d + b] = (0..d).map(|c| j[c * d + a] * j[c * d + b]).sum();
            }
        }
        Ok(())
    }
    fn metric_gradient_into(&self, x: &[f64], dg: &mut [f64]) -> Result<()> {
        let d = x.len();
        let mut j = vec![0.0; d * d];
        let mut dj = vec![0.0; d * d * d];
        self.flow.jacobian_into(x, &mut j);
        self.flow.jacobian_gradient_into(x, &mut dj);
        for i in 0..d {
            let dji = &dj[i * d * d..(i + 1) * d * d];
            for a in 0..d {
                for b in 0..d {
                    dg[(i * d + a) * d + b] = (0..d)
                        .map(|c| dji[c * d + a] * j[c * d + b] + j[c * d + a] * dji[c * d + b])
                        .sum();
                }
            }
        }
        Ok(())
    }
}

/// The hyperbolic metric of the upper half-space Hᵈ = {x : x_d > 0}:
///
/// ```text
/// G(x) = I / x_d²,     ∂ᵢG = −2 δ_{i,d} I / x_d³
/// ```
/// Its sectional curvature is −1 everywhere. A flow T induces the pullback G = JᵀJ of the flat
/// Euclidean metric, whose curvature is 0, so **no flow can express this metric**: it is a
/// diffusion m(x) = x_d I that only the Riemannian reading provides (for d ≥ 2; in one
/// dimension every metric is flat). Points with x_d ≤ 0 are outside the domain:
/// [`Error::NotPositiveDefinite`] naming the sample.
///
/// # Examples
/// ```
/// use dsm_riemann::{HyperbolicHalfSpace, Metric};
/// let h = HyperbolicHalfSpace::new(2)?;
/// let mut g = [0.0; 4];
/// h.metric_into(&[3.0, 0.5], &mut g)?;
/// assert_eq!(g, [4.0, 0.0, 0.0, 4.0]);
/// assert!(h.metric_into(&[3.0, -0.5], &mut g).is_err());
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperbolicHalfSpace {
    dim: usize,
}

impl HyperbolicHalfSpace {
    /// Hᵈ.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for d = 0.
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidParameter {
                owner: "HyperbolicHalfSpace",
                name: "dim",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        Ok(Self { dim })
    }
}

impl GenericMetric for HyperbolicHalfSpace {
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric_generic<D: Scalar>(&self, x: &[D], g: &mut [D]) -> Result<()> {
        let d = self.dim;
        let h = x[d - 1];
        if !(h.value() > 0.0) {
            return Err(Error::NotPositiveDefinite {
                name: "hyperbolic metric (x_d <= 0)",
                index: Some(0),
            });
        }
        let inv2 = (h * h).recip();
        for a in 0..d {
            for b in 0..d {
                g[a * d + b] = if a == b { inv2 } else { D::from(0.0) };
            }
        }
        Ok(())
    }
}

impl Metric for HyperbolicHalfSpace {
    fn dim(&self) -> usize {
        self.dim
    }
    fn metric_into(&self, x: &[f64], g: &mut [f64]) -> Result<()> {
        self.metric_generic(x, g)
    }
    fn metric_gradient_into(&self, x: &[f64], dg: &mut [f64]) -> Result<()> {
        AutoDiff(*self).metric_gradient_into(x, dg)
    }
}

impl<M: Metric + ?Sized> Metric for &M {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn metric_into(&self, x: &[f64], g: &mut [f64]) -> Result<()> {
        (**self).metric_into(x, g)
    }
    fn metric_gradient_into(&self, x: &[f64], dg: &mut [f64]) -> Result<()> {
        (**self).metric_gradient_into(x, dg)
    }
}
