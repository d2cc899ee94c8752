//! The inverse of a flow as a flow.

use crate::flow::{Flow, check_point, invert_into};
use dsm_core::{Result, Scalar};

/// The flow S = T⁻¹ of a flow T: its forward is T's inverse and its inverse T's forward.
///
/// ```text
/// S(y) = T⁻¹(y),   J_S(y) = J_T(x)⁻¹,   log |det J_S(y)| = −log |det J_T(x)|,   x = T⁻¹(y)
/// ```
///
/// Every method is exact, the derivatives included:
/// * values, log-determinants, [`Flow::forward_into`] / [`Flow::inverse_into`] and the
///   batch calls go straight to T's inverse and forward (T's own checks and errors);
/// * [`Flow::jacobian_into`] is J_T(x)⁻¹ (LU);
/// * [`Flow::transform`] in a dual type D (and so [`Flow::jacobian_gradient_into`],
///   [`Flow::third_derivatives_into`], [`FlowDiffusion`](crate::FlowDiffusion),
///   [`Pushforward`](crate::Pushforward)) solves T(x) = y in D by the implicit function
///   theorem: from x₀ = T⁻¹(Re y) in `f64` and M = J_T(x₀)⁻¹, the Newton steps
///   x ← x − M (T(x) − y − Re(T(x) − y)) leave Re x = x₀ and make one more order of
///   derivatives exact each (the error is nilpotent of order k after k steps), so
///   `D::NDERIV + 1` steps give every derivative D carries (∂x = M ∂y, ∂²x = −M ∂²T[∂x, ∂x] + …).
///
/// `transform` has no error channel: where T⁻¹ fails or J_T(x₀) is singular it writes NaN,
/// which the checked paths report ([`Flow::try_transform_into`] reports T's inverse error
/// itself).
///
/// # Examples
/// ```
/// use dsm_flows::{Flow, Invert, Planar};
/// let t = Planar::new(vec![0.3, 0.2], vec![1.0, -1.0], 0.1)?;
/// let s = Invert::new(t.clone());
/// let (y, log_det) = t.forward(&[0.3, -0.8])?;
/// let (x, log_det_s) = s.forward(&y)?;
/// assert!((x[0] - 0.3).abs() < 1e-12 && (log_det + log_det_s).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Invert<F> {
    inner: F,
}

impl<F: Flow> Invert<F> {
    /// T⁻¹ as a flow.
    pub fn new(flow: F) -> Self {
        Self { inner: flow }
    }

    /// The flow T that is inverted.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    /// T again.
    pub fn into_inner(self) -> F {
        self.inner
    }

    /// x₀ = T⁻¹(y) and M = J_T(x₀)⁻¹, or None.
    fn base_point(&self, y: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
        let d = self.inner.dim();
        let mut x = vec![0.0; d];
        self.inner.try_inverse_into(y, &mut x).ok()?;
        let mut j = vec![0.0; d * d];
        self.inner.jacobian_into(&x, &mut j);
        let mut m = vec![0.0; d * d];
        invert_into(&j, d, &mut m).ok()?;
        Some((x, m))
    }
}

impl<F: Flow> Flow for Invert<F> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn transform<D: Scalar>(&self, y: &[D], x: &mut [D]) {
        let d = self.inner.dim();
        let re: Vec<f64> = y.iter().map(Scalar::value).collect();
        let Some((x0, m)) = self.base_point(&re) else {
            // NaN in every part (0 · NaN = NaN), derivatives included: never a silent value.
            for (xi, yi) in x.iter_mut().zip(y) {
                *xi = *yi * f64::NAN;
            }
            return;
        };
        for (xi, v) in x.iter_mut().zip(&x0) {
            *xi = D::from(*v);
        }
        if D::NDERIV == 0 {
            return;
        }
        let mut tx = vec![D::from(0.0); d];
        let mut r = vec![D::from(0.0); d];
        for _ in 0..=D::NDERIV {
            self.inner.transform(x, &mut tx);
            for ((ri, ti), yi) in r.iter_mut().zip(&tx).zip(y) {
                let res = *ti - *yi;
                // Only the derivative parts: the real part stays x₀, T's own f64 inverse.
                *ri = res - D::from(res.value());
            }
            for (a, xa) in x.iter_mut().enumerate() {
                let mut step = D::from(0.0);
                for (b, rb) in r.iter().enumerate() {
                    step += *rb * m[a * d + b];
                }
                *xa -= step;
            }
        }
    }

    fn inverse_unchecked_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.inner.try_transform_into(x, y)
    }

    fn layer_count(&self) -> usize {
        self.inner.layer_count()
    }

    fn log_abs_det_jacobian(&self, y: &[f64]) -> Result<f64> {
        let mut x = vec![0.0; y.len()];
        self.inner.inverse_into(y, &mut x)
    }

    fn try_transform_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        self.inner.try_inverse_into(y, x)
    }

    fn try_inverse_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        self.inner.try_transform_into(x, y)
    }

    fn forward_into(&self, y: &[f64], x: &mut [f64]) -> Result<f64> {
        self.inner.inverse_into(y, x)
    }

    fn inverse_into(&self, x: &[f64], y: &mut [f64]) -> Result<f64> {
        self.inner.forward_into(x, y)
    }

    /// J_S and ∂J_S of S = T⁻¹ from one inverse, one set of T's hyper-dual passes and one
    /// factorisation (the inverse function theorem), instead of a T⁻¹ per dual pass:
    ///
    /// ```text
    /// J_S(y) = M = J_T(x)⁻¹,   ∂J_S/∂yᵢ = −M Eᵢ M,   Eᵢ = Σₗ Mₗᵢ ∂ₗJ_T(x),   x = T⁻¹(y)
    /// ```
    /// NaN where T⁻¹ fails or J_T is singular.
    fn jacobian_and_gradient_into(&self, y: &[f64], jac: &mut [f64], dj: &mut [f64]) {
        let d = self.dim();
        let len = d + 3 * d * d + d * d * d + dsm_core::linalg::inverse_scratch_len(d);
        // x, J_T, ∂J_T, Eᵢ, M Eᵢ… in this thread's scratch: nothing allocated per point.
        let ok = check_point(d, y, d).is_ok()
            && crate::flow::with_scratch(len, |buf| {
                let (x, rest) = buf.split_at_mut(d);
                let (jt, rest) = rest.split_at_mut(d * d);
                let (djt, rest) = rest.split_at_mut(d * d * d);
                let (e, rest) = rest.split_at_mut(d * d);
                let (em, work) = rest.split_at_mut(d * d);
                if self.inner.try_inverse_into(y, x).is_err() {
                    return false;
                }
                self.inner.jacobian_and_gradient_into(x, jt, djt);
                if dsm_core::linalg::invert_in_scratch(jt, d, jac, work).is_err() {
                    return false;
                }
                let m = &*jac;
                for i in 0..d {
                    for ab in 0..d * d {
                        e[ab] = (0..d).map(|l| m[l * d + i] * djt[l * d * d + ab]).sum();
                    }
                    for a in 0..d {
                        for k in 0..d {
                            em[a * d + k] = (0..d).map(|b| e[a * d + b] * m[b * d + k]).sum();
                        }
                    }
                    for j in 0..d {
                        for k in 0..d {
                            dj[(i * d + j) * d + k] =
                                -(0..d).map(|a| m[j * d + a] * em[a * d + k]).sum::<f64>();
                        }
                    }
                }
                true
            });
        if !ok {
            jac.fill(f64::NAN);
            dj.fill(f64::NAN);
        }
    }

    fn jacobian_gradient_into(&self, y: &[f64], dj: &mut [f64]) {
        let d = self.dim();
        self.jacobian_and_gradient_into(y, &mut vec![0.0; d * d], dj);
    }

    /// J_T(x)⁻¹ at x = T⁻¹(y) (NaN where T⁻¹ fails or J_T is singular).
    fn jacobian_into(&self, y: &[f64], jac: &mut [f64]) {
        if check_point(self.dim(), y, self.dim()).is_err() {
            jac.fill(f64::NAN);
            return;
        }
        match self.base_point(y) {
            Some((_, m)) => jac.copy_from_slice(&m),
            None => jac.fill(f64::NAN),
        }
    }
}
