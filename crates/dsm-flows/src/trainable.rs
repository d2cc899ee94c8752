//! Flows with trainable parameters φ, written once over the scalar type in both x and φ, so
//! that the log-likelihood gradients of `dsm_fit::fit_flow` and the x-derivatives DSM needs
//! stay exact for the fitted flow (docs/math.md §12).

use dsm_core::validate::finite;
use dsm_core::{Error, Result, Scalar};

use crate::Compose;
use crate::flow::Flow;
use crate::layers::{PowerTail, ScalarMap, SinhArcsinh, power_tail_value};

/// A [`Flow`] with a flat vector of trainable parameters φ, written once for any [`Scalar`]
/// in both x and φ. Every finite φ is a valid, invertible flow (scales and tail weights are
/// taken on the log scale), so an optimiser cannot leave the domain.
///
/// # Examples
/// ```
/// use dsm_flows::{DiagonalAffine, Flow, Trainable};
/// let t = DiagonalAffine::identity(2)?.with_params(&[0.0, 2f64.ln(), 1.0, -1.0])?;
/// let (y, log_det) = t.forward(&[1.0, 1.0])?;
/// assert_eq!(y, vec![2.0, 1.0]);
/// assert!((log_det - 2f64.ln()).abs() < 1e-15);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub trait Trainable: Flow + Clone {
    /// The number of parameters.
    fn n_params(&self) -> usize;

    /// The current parameters φ.
    fn params(&self) -> Vec<f64>;

    /// The same flow with parameters φ.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] for a vector of another length; [`Error::InvalidParameter`]
    /// naming the first non-finite entry.
    fn with_params(&self, params: &[f64]) -> Result<Self>;

    /// y = T(x; φ), in the scalar type `D` for both (raw: lengths unchecked).
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]);

    /// The length of [`Trainable::prepare`]'s output.
    fn prepared_len(&self) -> usize {
        self.n_params()
    }

    /// What the layer can compute once per parameter vector, whatever the point (a spline's
    /// knots, say), flat in the scalar type: by default φ itself. A fit evaluates many points
    /// at one φ; [`Trainable::transform_prepared`] then skips the per-point work.
    fn prepare<D: Scalar>(&self, params: &[D]) -> Vec<D> {
        params.to_vec()
    }

    /// y = T(x; φ) from [`Trainable::prepare`]'s output: equal to
    /// [`Trainable::transform_with`] (by default it is that).
    fn transform_prepared<D: Scalar>(&self, prepared: &[D], x: &[D], y: &mut [D]) {
        self.transform_with(prepared, x, y);
    }
}

/// Checks a parameter vector's length and finiteness for `owner`.
fn check_params(owner: &'static str, params: &[f64], expected: usize) -> Result<()> {
    dsm_core::validate::same_dim(
        "number of parameters given",
        params.len(),
        "number of parameters of the flow",
        expected,
    )?;
    for &v in params {
        finite(owner, "params", v)?;
    }
    Ok(())
}

/// Per coordinate, the median and the interquartile range / 1.349 (the standard deviation
/// for a normal): a robust standardisation, the starting point of a fit.
///
/// # Errors
/// [`Error::TooFewSamples`] for fewer than 2 samples; [`Error::InvalidParameter`] naming
/// `owner` when a coordinate has a zero interquartile range.
fn robust_location_scale(
    owner: &'static str,
    samples: &dsm_core::Samples,
) -> Result<Vec<(f64, f64)>> {
    let (n, d) = (samples.n(), samples.dim());
    if n < 2 {
        return Err(Error::TooFewSamples { needed: 2, got: n });
    }
    let mut column = vec![0.0; n];
    (0..d)
        .map(|i| {
            for (c, row) in column.iter_mut().zip(samples.rows()) {
                *c = row[i];
            }
            column.sort_by(f64::total_cmp);
            let quantile = |q: f64| {
                let t = q * (n - 1) as f64;
                let k = (t.floor() as usize).min(n - 2);
                column[k] + (t - k as f64) * (column[k + 1] - column[k])
            };
            let spread = (quantile(0.75) - quantile(0.25)) / 1.349;
            dsm_core::validate::positive(owner, "interquartile range", spread)?;
            Ok((quantile(0.5), spread))
        })
        .collect()
}

/// An elementwise layer whose coordinate i is t((xᵢ − ξᵢ)/sᵢ) for a [`ScalarMap`] t (the
/// sinh-arcsinh, skew and power-tail layers): its f64 paths (inverse, log-determinant,
/// derivatives) are the map's, through the location and scale.
trait Standardised {
    /// The standardised map t.
    type Map: ScalarMap;
    /// Coordinate i as (ξ, s, t).
    fn coordinate(&self, i: usize) -> (f64, f64, Self::Map);
}

/// xᵢ = ξᵢ + sᵢ t⁻¹(yᵢ), or [`Error::InverseFailed`] where it overflows.
fn standardised_inverse<L: Standardised>(layer: &L, y: &[f64], x: &mut [f64]) -> Result<()> {
    for (i, xi_out) in x.iter_mut().enumerate() {
        let (xi, s, map) = layer.coordinate(i);
        let v = xi + s * map.scalar_inverse(y[i])?;
        if !v.is_finite() {
            return Err(Error::InverseFailed {
                index: 0,
                iterations: 0,
            });
        }
        *xi_out = v;
    }
    Ok(())
}

/// Σᵢ log t′((xᵢ − ξᵢ)/sᵢ) − log sᵢ, or [`Error::SingularJacobian`] where it is not finite.
fn standardised_log_det<L: Standardised>(layer: &L, x: &[f64]) -> Result<f64> {
    let mut total = 0.0;
    for (i, &xv) in x.iter().enumerate() {
        let (xi, s, map) = layer.coordinate(i);
        total += map.log_derivative((xv - xi) / s) - s.ln();
    }
    if total.is_finite() {
        Ok(total)
    } else {
        Err(Error::SingularJacobian {
            index: 0,
            rcond: 0.0,
        })
    }
}

/// [T, T′, T″, T‴] per coordinate: the chain rule on t's derivatives at (x − ξ)/s.
fn standardised_derivatives<L: Standardised>(layer: &L, x: &[f64], out: &mut [[f64; 4]]) -> bool {
    for (i, o) in out.iter_mut().enumerate() {
        let (xi, s, map) = layer.coordinate(i);
        let [g0, g1, g2, g3] = map.derivatives((x[i] - xi) / s);
        *o = [g0, g1 / s, g2 / (s * s), g3 / (s * s * s)];
    }
    true
}

/// y = exp(a) ∘ x + b, φ = (a, b) (2d parameters): the diagonal affine layer.
///
/// ```text
/// T⁻¹(y) = (y − b) ∘ exp(−a),   log |det J| = Σ aᵢ
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiagonalAffine {
    params: Vec<f64>,
}

impl DiagonalAffine {
    /// The identity in d dimensions (a = b = 0).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension.
    pub fn identity(dim: usize) -> Result<Self> {
        dsm_core::linalg::check_dim("DiagonalAffine", "dim", dim)?;
        Ok(Self {
            params: vec![0.0; 2 * dim],
        })
    }
}

impl DiagonalAffine {
    /// The layer that standardises each coordinate robustly, y = (x − median)/spread with the
    /// spread the interquartile range / 1.349 (the standard deviation for a normal).
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for fewer than 2 samples; [`Error::InvalidParameter`] when a
    /// coordinate has a zero interquartile range.
    pub fn standardizing(samples: &dsm_core::Samples) -> Result<Self> {
        let robust = robust_location_scale("DiagonalAffine", samples)?;
        let d = robust.len();
        let mut params = vec![0.0; 2 * d];
        for (i, (location, spread)) in robust.into_iter().enumerate() {
            params[i] = -spread.ln();
            params[d + i] = -location / spread;
        }
        Ok(Self { params })
    }
}

impl Trainable for DiagonalAffine {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("DiagonalAffine", params, self.params.len())?;
        Ok(Self {
            params: params.to_vec(),
        })
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        let d = x.len();
        for i in 0..d {
            y[i] = params[i].exp() * x[i] + params[d + i];
        }
    }
}

impl Flow for DiagonalAffine {
    fn dim(&self) -> usize {
        self.params.len() / 2
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let d = x.len();
        for i in 0..d {
            y[i] = x[i] * self.params[i].exp() + self.params[d + i];
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        let d = y.len();
        for i in 0..d {
            x[i] = (y[i] - self.params[d + i]) * (-self.params[i]).exp();
        }
        Ok(())
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        Ok(self.params[..self.dim()].iter().sum())
    }
    fn is_elementwise(&self) -> bool {
        true
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        let d = x.len();
        for (i, o) in out.iter_mut().enumerate() {
            let scale = self.params[i].exp();
            *o = [scale * x[i] + self.params[d + i], scale, 0.0, 0.0];
        }
        true
    }
}

/// y = L x + b with L lower triangular and a positive diagonal: φ = (L packed row by row with
/// log Lᵢᵢ on the diagonal, then b), d(d+1)/2 + d parameters.
///
/// ```text
/// T⁻¹(y) by forward substitution,   log |det J| = Σ log Lᵢᵢ
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LowerTriangularAffine {
    dim: usize,
    params: Vec<f64>,
}

impl LowerTriangularAffine {
    /// The identity in d dimensions.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension.
    pub fn identity(dim: usize) -> Result<Self> {
        dsm_core::linalg::check_dim("LowerTriangularAffine", "dim", dim)?;
        Ok(Self {
            dim,
            params: vec![0.0; dim * (dim + 1) / 2 + dim],
        })
    }

    /// Lᵢⱼ (j ≤ i) from packed parameters in the scalar type.
    #[inline]
    fn entry<D: Scalar>(params: &[D], i: usize, j: usize) -> D {
        let v = params[i * (i + 1) / 2 + j];
        if i == j { v.exp() } else { v }
    }
}

impl Trainable for LowerTriangularAffine {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("LowerTriangularAffine", params, self.params.len())?;
        Ok(Self {
            dim: self.dim,
            params: params.to_vec(),
        })
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        let shift = self.dim * (self.dim + 1) / 2;
        for (i, yi) in y.iter_mut().enumerate() {
            let mut acc = params[shift + i];
            for (j, xj) in x.iter().enumerate().take(i + 1) {
                acc += Self::entry(params, i, j) * *xj;
            }
            *yi = acc;
        }
    }
}

impl Flow for LowerTriangularAffine {
    fn dim(&self) -> usize {
        self.dim
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let shift = self.dim * (self.dim + 1) / 2;
        for (i, yi) in y.iter_mut().enumerate() {
            let mut acc = D::from(self.params[shift + i]);
            for (j, xj) in x.iter().enumerate().take(i + 1) {
                acc += *xj * Self::entry(&self.params, i, j);
            }
            *yi = acc;
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        let d = self.dim;
        let shift = d * (d + 1) / 2;
        for i in 0..d {
            let mut acc = y[i] - self.params[shift + i];
            for (j, xj) in x.iter().enumerate().take(i) {
                acc -= Self::entry(&self.params, i, j) * *xj;
            }
            x[i] = acc / Self::entry(&self.params, i, i);
            if !x[i].is_finite() {
                return Err(Error::InverseFailed {
                    index: 0,
                    iterations: 0,
                });
            }
        }
        Ok(())
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim, x, self.dim)?;
        Ok((0..self.dim)
            .map(|i| self.params[i * (i + 1) / 2 + i])
            .sum())
    }
}

/// The elementwise sinh-arcsinh layer with its own location and scale, four parameters per
/// coordinate, φᵢ = (ξᵢ, log sᵢ, εᵢ, log δᵢ) (Jones & Pewsey 2009):
///
/// ```text
/// yᵢ = sinh(δᵢ asinh(zᵢ) − εᵢ),   zᵢ = (xᵢ − ξᵢ)/sᵢ
/// T⁻¹: xᵢ = ξᵢ + sᵢ sinh((asinh(yᵢ) + εᵢ)/δᵢ)
/// log Tᵢ′ = log δᵢ + log cosh(δᵢ asinh zᵢ − εᵢ) − ½ log(1 + zᵢ²) − log sᵢ
/// ```
/// With δ < 1 it thins heavy tails towards the normal's, with ε it removes skew: a
/// Gaussianising map for heavy-tailed, skewed data.
#[derive(Debug, Clone, PartialEq)]
pub struct SinhArcsinhLayer {
    params: Vec<f64>,
}

impl SinhArcsinhLayer {
    /// The identity in d dimensions (ξ = 0, s = 1, ε = 0, δ = 1).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension.
    pub fn identity(dim: usize) -> Result<Self> {
        dsm_core::linalg::check_dim("SinhArcsinhLayer", "dim", dim)?;
        Ok(Self {
            params: vec![0.0; 4 * dim],
        })
    }

    /// The layer that standardises each coordinate robustly, a starting point for a fit: ξᵢ the
    /// median, sᵢ the interquartile range / 1.349 (the standard deviation for a normal), ε = 0,
    /// δ = 1.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for fewer than 2 samples; [`Error::InvalidParameter`] when a
    /// coordinate has a zero interquartile range.
    pub fn standardizing(samples: &dsm_core::Samples) -> Result<Self> {
        let robust = robust_location_scale("SinhArcsinhLayer", samples)?;
        let mut params = vec![0.0; 4 * robust.len()];
        for (p, (location, spread)) in params.chunks_exact_mut(4).zip(robust) {
            p[0] = location;
            p[1] = spread.ln();
        }
        Ok(Self { params })
    }
}

impl Standardised for SinhArcsinhLayer {
    type Map = SinhArcsinh;
    fn coordinate(&self, i: usize) -> (f64, f64, SinhArcsinh) {
        let p = &self.params[4 * i..4 * i + 4];
        (p[0], p[1].exp(), SinhArcsinh::unchecked(p[2], p[3].exp()))
    }
}

impl Trainable for SinhArcsinhLayer {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("SinhArcsinhLayer", params, self.params.len())?;
        Ok(Self {
            params: params.to_vec(),
        })
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let p = &params[4 * i..4 * i + 4];
            let z = (x[i] - p[0]) / p[1].exp();
            *yi = (z.asinh() * p[3].exp() - p[2]).sinh();
        }
    }
}

impl Flow for SinhArcsinhLayer {
    fn dim(&self) -> usize {
        self.params.len() / 4
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let p = &self.params[4 * i..4 * i + 4];
            let z = (x[i] - p[0]) / p[1].exp();
            *yi = (z.asinh() * p[3].exp() - p[2]).sinh();
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        standardised_inverse(self, y, x)
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        standardised_log_det(self, x)
    }
    fn is_elementwise(&self) -> bool {
        true
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        standardised_derivatives(self, x, out)
    }
}

/// The elementwise sinh-arcsinh skew with the tail weight held at 1, three parameters per
/// coordinate, φᵢ = (ξᵢ, log sᵢ, εᵢ) (eq. 12.3 with δ = 1):
///
/// ```text
/// yᵢ = sinh(asinh(zᵢ) − εᵢ) = zᵢ cosh εᵢ − √(1 + zᵢ²) sinh εᵢ,   zᵢ = (xᵢ − ξᵢ)/sᵢ
/// ```
/// Asymptotically linear, with slopes e^(−ε) on the right and e^(ε) on the left: it removes
/// skew without touching the tail class, so that a power-tail layer after it still grows like
/// √(log |x|) on both sides (a free δ would turn the tails into powers |x|^δ).
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, SkewLayer, Trainable};
/// let t = SkewLayer::identity(1)?.with_params(&[0.0, 0.0, 0.5])?;
/// let (y, _) = t.forward(&[1e8])?;
/// assert!((y[0] / 1e8 - (-0.5f64).exp()).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SkewLayer {
    params: Vec<f64>,
}

impl SkewLayer {
    /// The identity in d dimensions (ξ = 0, s = 1, ε = 0).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension.
    pub fn identity(dim: usize) -> Result<Self> {
        dsm_core::linalg::check_dim("SkewLayer", "dim", dim)?;
        Ok(Self {
            params: vec![0.0; 3 * dim],
        })
    }

    /// The layer that standardises each coordinate robustly (the median and the interquartile
    /// range / 1.349), ε = 0: a starting point for a fit.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for fewer than 2 samples; [`Error::InvalidParameter`] when a
    /// coordinate has a zero interquartile range.
    pub fn standardizing(samples: &dsm_core::Samples) -> Result<Self> {
        let robust = robust_location_scale("SkewLayer", samples)?;
        let mut params = vec![0.0; 3 * robust.len()];
        for (p, (location, spread)) in params.chunks_exact_mut(3).zip(robust) {
            p[0] = location;
            p[1] = spread.ln();
        }
        Ok(Self { params })
    }
}

impl Standardised for SkewLayer {
    type Map = SinhArcsinh;
    fn coordinate(&self, i: usize) -> (f64, f64, SinhArcsinh) {
        let p = &self.params[3 * i..3 * i + 3];
        (p[0], p[1].exp(), SinhArcsinh::unchecked(p[2], 1.0))
    }
}

impl Trainable for SkewLayer {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("SkewLayer", params, self.params.len())?;
        Ok(Self {
            params: params.to_vec(),
        })
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let p = &params[3 * i..3 * i + 3];
            let z = (x[i] - p[0]) / p[1].exp();
            *yi = (z.asinh() - p[2]).sinh();
        }
    }
}

impl Flow for SkewLayer {
    fn dim(&self) -> usize {
        self.params.len() / 3
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let p = &self.params[3 * i..3 * i + 3];
            let z = (x[i] - p[0]) / p[1].exp();
            *yi = (z.asinh() - p[2]).sinh();
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        standardised_inverse(self, y, x)
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        standardised_log_det(self, x)
    }
    fn is_elementwise(&self) -> bool {
        true
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        standardised_derivatives(self, x, out)
    }
}

/// The elementwise power-tail layer with its own location and scale, three parameters per
/// coordinate, φᵢ = (ξᵢ, log sᵢ, log αᵢ) (docs/math.md eq. 12.5):
///
/// ```text
/// yᵢ = t_αᵢ(zᵢ) = sign(zᵢ) √(αᵢ log(1 + zᵢ²/αᵢ)),   zᵢ = (xᵢ − ξᵢ)/sᵢ
/// log Tᵢ′ = log t_αᵢ′(zᵢ) − log sᵢ
/// ```
/// It gives a learned flow the √(2α log|x|) tail growth of the Gaussian flow of a law with
/// power tails of index α, with α fitted: what a learned diffusion needs for DSM to keep
/// pulling from far starts (docs/fitting.md §7), which layers with power-law tails (affine,
/// sinh-arcsinh, splines with linear tails) cannot give.
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, PowerTailLayer, Trainable};
/// // ξ = 1, s = 2, α = 5.
/// let t = PowerTailLayer::new(1, 5.0)?.with_params(&[1.0, 2f64.ln(), 5f64.ln()])?;
/// let (y, _) = t.forward(&[7.0])?;
/// assert!((y[0] - (5.0f64 * (1.0f64 + 9.0 / 5.0).ln()).sqrt()).abs() < 1e-14);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PowerTailLayer {
    params: Vec<f64>,
}

impl PowerTailLayer {
    /// ξ = 0, s = 1 and tail index α in every one of d coordinates.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension and α is
    /// finite and positive.
    pub fn new(dim: usize, alpha: f64) -> Result<Self> {
        dsm_core::linalg::check_dim("PowerTailLayer", "dim", dim)?;
        dsm_core::validate::positive("PowerTailLayer", "alpha", alpha)?;
        let mut params = vec![0.0; 3 * dim];
        for p in params.chunks_exact_mut(3) {
            p[2] = alpha.ln();
        }
        Ok(Self { params })
    }

    /// The layer with tail index α whose ξ and s standardise each coordinate robustly (the
    /// median and the interquartile range / 1.349), a starting point for a fit.
    ///
    /// # Errors
    /// [`Error::TooFewSamples`] for fewer than 2 samples; [`Error::InvalidParameter`] for an
    /// α that is not finite and positive or a coordinate with a zero interquartile range.
    pub fn standardizing(samples: &dsm_core::Samples, alpha: f64) -> Result<Self> {
        let robust = robust_location_scale("PowerTailLayer", samples)?;
        let mut layer = Self::new(robust.len(), alpha)?;
        for (p, (location, spread)) in layer.params.chunks_exact_mut(3).zip(robust) {
            p[0] = location;
            p[1] = spread.ln();
        }
        Ok(layer)
    }

    /// The fitted tail indices αᵢ.
    pub fn tail_indices(&self) -> Vec<f64> {
        self.params.chunks_exact(3).map(|p| p[2].exp()).collect()
    }
}

impl Standardised for PowerTailLayer {
    type Map = PowerTail;
    fn coordinate(&self, i: usize) -> (f64, f64, PowerTail) {
        let p = &self.params[3 * i..3 * i + 3];
        (p[0], p[1].exp(), PowerTail::unchecked(p[2].exp()))
    }
}

impl Trainable for PowerTailLayer {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("PowerTailLayer", params, self.params.len())?;
        Ok(Self {
            params: params.to_vec(),
        })
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let p = &params[3 * i..3 * i + 3];
            *yi = power_tail_value((x[i] - p[0]) / p[1].exp(), p[2].exp());
        }
    }
}

impl Flow for PowerTailLayer {
    fn dim(&self) -> usize {
        self.params.len() / 3
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        for (i, yi) in y.iter_mut().enumerate() {
            let (xi, s, map) = self.coordinate(i);
            let mut out = [D::from(0.0)];
            map.transform(&[(x[i] - xi) / s], &mut out);
            *yi = out[0];
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        standardised_inverse(self, y, x)
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        standardised_log_det(self, x)
    }
    fn is_elementwise(&self) -> bool {
        true
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        standardised_derivatives(self, x, out)
    }
}

/// The manual flow √ν σ asinh((x − μ)/(√ν σ)) as a layer without trainable parameters: in a
/// composition it gives a learned flow the logarithmic tail growth the Gaussian flow of a
/// heavy-tailed family has (m = 1/T′ growing like |x|), which sinh-arcsinh layers alone, with
/// their power-law tails, cannot reach.
impl Trainable for crate::ManualFlow {
    fn n_params(&self) -> usize {
        0
    }
    fn params(&self) -> Vec<f64> {
        Vec::new()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("ManualFlow", params, 0)?;
        Ok(*self)
    }
    fn transform_with<D: Scalar>(&self, _params: &[D], x: &[D], y: &mut [D]) {
        self.transform(x, y);
    }
}

/// A composition of trainable flows is trainable: φ = (φ_first, φ_second).
impl<A: Trainable, B: Trainable> Trainable for Compose<A, B> {
    fn n_params(&self) -> usize {
        self.first().n_params() + self.second().n_params()
    }
    fn params(&self) -> Vec<f64> {
        let mut p = self.first().params();
        p.extend(self.second().params());
        p
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        dsm_core::validate::same_dim(
            "number of parameters given",
            params.len(),
            "number of parameters of the flow",
            self.n_params(),
        )?;
        let (a, b) = params.split_at(self.first().n_params());
        Compose::new(
            self.first().with_params(a).map_err(|e| Error::InLayer {
                layer: 0,
                source: Box::new(e),
            })?,
            self.second().with_params(b).map_err(|e| Error::InLayer {
                layer: 1,
                source: Box::new(e),
            })?,
        )
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        let (a, b) = params.split_at(self.first().n_params());
        crate::flow::with_copy(x, |mid| {
            self.first().transform_with(a, x, mid);
            self.second().transform_with(b, mid, y);
        });
    }
    fn prepared_len(&self) -> usize {
        self.first().prepared_len() + self.second().prepared_len()
    }
    fn prepare<D: Scalar>(&self, params: &[D]) -> Vec<D> {
        let (a, b) = params.split_at(self.first().n_params());
        let mut prepared = self.first().prepare(a);
        prepared.extend(self.second().prepare(b));
        prepared
    }
    fn transform_prepared<D: Scalar>(&self, prepared: &[D], x: &[D], y: &mut [D]) {
        let (a, b) = prepared.split_at(self.first().prepared_len());
        crate::flow::with_copy(x, |mid| {
            self.first().transform_prepared(a, x, mid);
            self.second().transform_prepared(b, mid, y);
        });
    }
}

/// The elementwise monotone rational-quadratic spline (Durkan et al. 2019) on [−B, B] with K
/// bins and identity (slope 1) tails outside, 3K − 1 parameters per coordinate: bin-width and
/// bin-height logits (K each; widths and heights are 2B·softmax) and the log-derivatives at
/// the K − 1 interior knots (the derivative is 1 at ±B, matching the tails). At a knot the
/// map is C¹: its second derivative jumps there, so DSM's ∇·m (which needs T″) takes the
/// one-sided value of the bin the point falls in.
///
/// ```text
/// in bin k, ξ = (x − x_k)/w_k, s_k = h_k/w_k:
/// y = y_k + h_k [s_k ξ² + δ_k ξ(1−ξ)] / [s_k + (δ_{k+1} + δ_k − 2s_k) ξ(1−ξ)]
/// ```
/// Every finite φ is a strictly increasing bijection of ℝ; φ = 0 is the identity.
#[derive(Debug, Clone, PartialEq)]
pub struct RationalQuadraticSpline {
    dim: usize,
    bins: usize,
    bound: f64,
    params: Vec<f64>,
}

impl RationalQuadraticSpline {
    /// The identity in d dimensions with K bins on [−B, B].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless 1 ≤ d ≤ the workspace's largest dimension, 2 ≤ K ≤
    /// 64 and B is finite and positive.
    pub fn identity(dim: usize, bins: usize, bound: f64) -> Result<Self> {
        dsm_core::linalg::check_dim("RationalQuadraticSpline", "dim", dim)?;
        dsm_core::validate::positive("RationalQuadraticSpline", "bound", bound)?;
        if !(2..=MAX_BINS).contains(&bins) {
            return Err(Error::InvalidParameter {
                owner: "RationalQuadraticSpline",
                name: "bins",
                value: bins as f64,
                constraint: "in 2..=64",
            });
        }
        Ok(Self {
            dim,
            bins,
            bound,
            params: vec![0.0; dim * (3 * bins - 1)],
        })
    }

    /// The knots of one coordinate from its 3K − 1 parameters, in the scalar type, into
    /// `out` (length [`Self::knots_len`] = 5K + 3): the K + 1 knot abscissae (from −B), the
    /// K + 1 ordinates, the K widths, the K heights and the K + 1 knot derivatives (1 at ±B).
    /// What does not depend on the point.
    fn knots<D: Scalar>(&self, p: &[D], out: &mut [D]) {
        let (k_bins, b) = (self.bins, self.bound);
        let (xs, rest) = out.split_at_mut(k_bins + 1);
        let (ys, rest) = rest.split_at_mut(k_bins + 1);
        let (widths, rest) = rest.split_at_mut(k_bins);
        let (heights, ds) = rest.split_at_mut(k_bins);
        softmax_scaled(&p[..k_bins], 2.0 * b, widths);
        softmax_scaled(&p[k_bins..2 * k_bins], 2.0 * b, heights);
        xs[0] = D::from(-b);
        ys[0] = D::from(-b);
        for k in 0..k_bins {
            xs[k + 1] = xs[k] + widths[k];
            ys[k + 1] = ys[k] + heights[k];
        }
        ds[0] = D::from(1.0);
        ds[k_bins] = D::from(1.0);
        for i in 1..k_bins {
            ds[i] = p[2 * k_bins + i - 1].exp();
        }
    }

    /// The length of one coordinate's knots.
    fn knots_len(&self) -> usize {
        5 * self.bins + 3
    }

    /// The spline of one coordinate at x from its knots ([`Self::knots`]).
    fn eval_knots<D: Scalar>(&self, knots: &[D], x: D) -> D {
        let (k_bins, b) = (self.bins, self.bound);
        let xv = x.value();
        if !(xv > -b && xv < b) {
            return x; // identity tails (and NaN passes through)
        }
        let (xs, rest) = knots.split_at(k_bins + 1);
        let (ys, rest) = rest.split_at(k_bins + 1);
        let (widths, rest) = rest.split_at(k_bins);
        let (heights, ds) = rest.split_at(k_bins);
        // The bin: the last knot at or left of x.
        let mut k = 0;
        while k + 1 < k_bins && xs[k + 1].value() <= xv {
            k += 1;
        }
        let one = D::from(1.0);
        let (w, h) = (widths[k], heights[k]);
        let s = h / w;
        let xi = (x - xs[k]) / w;
        let xi1 = xi * (one - xi);
        let (d0, d1) = (ds[k], ds[k + 1]);
        ys[k] + h * (s * xi * xi + d0 * xi1) / (s + (d1 + d0 - s * 2.0) * xi1)
    }

    /// The spline of one coordinate at x, for its 3K − 1 parameters in the scalar type.
    fn eval<D: Scalar>(&self, p: &[D], x: D) -> D {
        let mut knots = [D::from(0.0); 5 * MAX_BINS + 3];
        let len = self.knots_len();
        self.knots(p, &mut knots[..len]);
        self.eval_knots(&knots[..len], x)
    }

    /// x of one coordinate at y (f64 parameters): the quadratic of Durkan et al. eq. 6.
    fn invert_one(&self, p: &[f64], y: f64) -> f64 {
        let (k_bins, b) = (self.bins, self.bound);
        if !(y > -b && y < b) {
            return y;
        }
        let (mut widths, mut heights) = ([0.0; MAX_BINS], [0.0; MAX_BINS]);
        softmax_scaled(&p[..k_bins], 2.0 * b, &mut widths[..k_bins]);
        softmax_scaled(&p[k_bins..2 * k_bins], 2.0 * b, &mut heights[..k_bins]);
        let (mut x_k, mut y_k) = (-b, -b);
        let mut k = 0;
        while k + 1 < k_bins && y_k + heights[k] <= y {
            x_k += widths[k];
            y_k += heights[k];
            k += 1;
        }
        let delta = |i: usize| {
            if i == 0 || i == k_bins {
                1.0
            } else {
                p[2 * k_bins + i - 1].exp()
            }
        };
        let (w, h) = (widths[k], heights[k]);
        let s = h / w;
        let (d0, d1) = (delta(k), delta(k + 1));
        let dy = y - y_k;
        let c0 = d1 + d0 - 2.0 * s;
        let a = h * (s - d0) + dy * c0;
        let bq = h * d0 - dy * c0;
        let c = -s * dy;
        let disc = (bq * bq - 4.0 * a * c).max(0.0);
        let xi = 2.0 * c / (-bq - disc.sqrt());
        x_k + xi * w
    }
}

/// The most bins a [`RationalQuadraticSpline`] takes (its per-point buffers live on the stack).
const MAX_BINS: usize = 64;

/// out = scale · softmax(logits), in the scalar type (max subtracted for range).
fn softmax_scaled<D: Scalar>(logits: &[D], scale: f64, out: &mut [D]) {
    let max = logits
        .iter()
        .map(|l| l.value())
        .fold(f64::NEG_INFINITY, f64::max);
    let mut total = D::from(0.0);
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        total += *o;
    }
    for o in out.iter_mut() {
        *o = *o / total * scale;
    }
}

/// A coordinate's spline parameters lifted to the scalar type, on the stack.
fn lifted<D: Scalar>(p: &[f64]) -> [D; 3 * MAX_BINS] {
    let mut q = [D::from(0.0); 3 * MAX_BINS];
    for (a, &v) in q.iter_mut().zip(p) {
        *a = D::from(v);
    }
    q
}

impl Trainable for RationalQuadraticSpline {
    fn n_params(&self) -> usize {
        self.params.len()
    }
    fn params(&self) -> Vec<f64> {
        self.params.clone()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        check_params("RationalQuadraticSpline", params, self.params.len())?;
        Ok(Self {
            params: params.to_vec(),
            ..self.clone()
        })
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        let per = 3 * self.bins - 1;
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = self.eval(&params[i * per..(i + 1) * per], x[i]);
        }
    }
    /// The knots of every coordinate (5K + 3 each): the softmaxes run once per φ, not per point.
    fn prepared_len(&self) -> usize {
        self.dim * self.knots_len()
    }
    fn prepare<D: Scalar>(&self, params: &[D]) -> Vec<D> {
        let (per, len) = (3 * self.bins - 1, self.knots_len());
        let mut out = vec![D::from(0.0); self.dim * len];
        for (i, knots) in out.chunks_exact_mut(len).enumerate() {
            self.knots(&params[i * per..(i + 1) * per], knots);
        }
        out
    }
    fn transform_prepared<D: Scalar>(&self, prepared: &[D], x: &[D], y: &mut [D]) {
        let len = self.knots_len();
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = self.eval_knots(&prepared[i * len..(i + 1) * len], x[i]);
        }
    }
}

impl Flow for RationalQuadraticSpline {
    fn dim(&self) -> usize {
        self.dim
    }
    /// Σᵢ log Tᵢ′(xᵢ) in closed form (Durkan et al. eq. 5): in bin k,
    /// T′ = s² (δ_{k+1} ξ² + 2s ξ(1−ξ) + δ_k (1−ξ)²) / (s + (δ_{k+1} + δ_k − 2s) ξ(1−ξ))²,
    /// and 1 in the tails.
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim, x, self.dim)?;
        let (per, len, k_bins, b) = (3 * self.bins - 1, self.knots_len(), self.bins, self.bound);
        let mut knots = [0.0; 5 * MAX_BINS + 3];
        let mut total = 0.0;
        for (i, &xv) in x.iter().enumerate() {
            if !(xv > -b && xv < b) {
                continue;
            }
            self.knots(&self.params[i * per..(i + 1) * per], &mut knots[..len]);
            let (xs, rest) = knots[..len].split_at(k_bins + 1);
            let (_, rest) = rest.split_at(k_bins + 1);
            let (widths, rest) = rest.split_at(k_bins);
            let (heights, ds) = rest.split_at(k_bins);
            let mut k = 0;
            while k + 1 < k_bins && xs[k + 1] <= xv {
                k += 1;
            }
            let s = heights[k] / widths[k];
            let xi = (xv - xs[k]) / widths[k];
            let xi1 = xi * (1.0 - xi);
            let (d0, d1) = (ds[k], ds[k + 1]);
            let num = s * s * (d1 * xi * xi + 2.0 * s * xi1 + d0 * (1.0 - xi) * (1.0 - xi));
            let den = s + (d1 + d0 - 2.0 * s) * xi1;
            total += num.ln() - 2.0 * den.ln();
        }
        if total.is_finite() {
            Ok(total)
        } else {
            Err(Error::SingularJacobian {
                index: 0,
                rcond: 0.0,
            })
        }
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let per = 3 * self.bins - 1;
        for (i, yi) in y.iter_mut().enumerate() {
            let p = lifted::<D>(&self.params[i * per..(i + 1) * per]);
            *yi = self.eval(&p[..per], x[i]);
        }
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        let per = 3 * self.bins - 1;
        for (i, xi) in x.iter_mut().enumerate() {
            let v = self.invert_one(&self.params[i * per..(i + 1) * per], y[i]);
            if !v.is_finite() {
                return Err(Error::InverseFailed {
                    index: 0,
                    iterations: 0,
                });
            }
            *xi = v;
        }
        Ok(())
    }
    fn is_elementwise(&self) -> bool {
        true
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        let per = 3 * self.bins - 1;
        for (i, o) in out.iter_mut().enumerate() {
            let q = lifted(&self.params[i * per..(i + 1) * per]);
            *o = dsm_core::derivatives_of(|v| self.eval(&q[..per], v), x[i]);
        }
        true
    }
}
