//! The composition of any two flows, so that a user's own flow can be chained beside the
//! built-in layers.

use crate::flow::{Flow, check_point, offset_layer};
use dsm_core::validate::same_dim;
use dsm_core::{Result, Scalar};

/// T = B ∘ A for any two flows A (applied first) and B of the same dimension:
///
/// ```text
/// J(x) = J_B(A(x)) J_A(x),   log |det J(x)| = log |det J_A(x)| + log |det J_B(A(x))|
/// T⁻¹ = A⁻¹ ∘ B⁻¹
/// ```
///
/// [`Chain`](crate::Chain) holds layers of one type; `Compose` joins flows of different
/// types, a user's own among them (build it with [`Flow::then`] or [`Chain::then`](crate::Chain::then)).
/// A part's errors come wrapped in [`Error::InLayer`](dsm_core::Error::InLayer) (or as
/// [`Error::NonFiniteLayerOutput`](dsm_core::Error::NonFiniteLayerOutput)) with layer indices
/// that run across both parts: B's first layer is numbered [`Flow::layer_count`] of A.
///
/// # Examples
/// ```
/// use dsm_core::Scalar;
/// use dsm_flows::{Affine, Chain, Flow, Layer, Radial};
///
/// /// A user's own flow: y = x + sinh(x)/2 per coordinate (strictly increasing).
/// struct Bump;
/// impl Flow for Bump {
///     fn dim(&self) -> usize { 2 }
///     fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
///         for (yi, xi) in y.iter_mut().zip(x) { *yi = *xi + xi.sinh() * 0.5; }
///     }
///     fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> dsm_core::Result<()> {
///         for (xi, yi) in x.iter_mut().zip(y) {
///             let mut z = *yi; // Newton on z + sinh(z)/2 = y (convex on each side of 0)
///             for _ in 0..100 { z -= (z + 0.5 * z.sinh() - yi) / (1.0 + 0.5 * z.cosh()); }
///             *xi = z;
///         }
///         Ok(())
///     }
/// }
///
/// let built_in = Chain::new(vec![
///     Layer::from(Affine::new(2, vec![1.0, 0.5, 0.0, 2.0], vec![0.0, 1.0])?),
///     Layer::from(Radial::new(vec![0.5, 0.5], 1.0, 0.7)?),
/// ])?;
/// let t = built_in.then(Bump)?;
/// let (y, log_det) = t.forward(&[0.3, -0.8])?;
/// let (x, inv_log_det) = t.inverse(&y)?;
/// assert!((log_det + inv_log_det).abs() < 1e-10 && (x[1] + 0.8).abs() < 1e-10);
/// assert_eq!(t.layer_count(), 3);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Compose<A, B> {
    first: A,
    second: B,
}

impl<A: Flow, B: Flow> Compose<A, B> {
    /// `second ∘ first`: `first` applied first.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](dsm_core::Error::DimensionMismatch) when they differ in
    /// dimension.
    pub fn new(first: A, second: B) -> Result<Self> {
        same_dim(
            "dimension of the second flow",
            second.dim(),
            "dimension of the first flow",
            first.dim(),
        )?;
        Ok(Self { first, second })
    }

    /// The flow applied first.
    pub fn first(&self) -> &A {
        &self.first
    }

    /// The flow applied second.
    pub fn second(&self) -> &B {
        &self.second
    }

    /// The two parts, first applied first.
    pub fn into_parts(self) -> (A, B) {
        (self.first, self.second)
    }
}

impl<A: Flow, B: Flow> Flow for Compose<A, B> {
    fn dim(&self) -> usize {
        self.first.dim()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        crate::flow::with_copy(x, |mid| {
            self.first.transform(x, mid);
            self.second.transform(mid, y);
        })
    }

    /// Elementwise when both parts are.
    fn is_elementwise(&self) -> bool {
        self.first.is_elementwise() && self.second.is_elementwise()
    }

    /// The parts' per-coordinate derivatives composed by the chain rule.
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        if !self.is_elementwise() {
            return false;
        }
        crate::layers::elementwise::compose_elementwise(x, out, 2, |p, at, step| {
            if p == 0 {
                self.first.elementwise_derivatives_into(at, step);
            } else {
                self.second.elementwise_derivatives_into(at, step);
            }
        });
        true
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        check_point(self.dim(), y, x.len())?;
        crate::flow::with_copy(y, |mid| {
            self.second
                .try_inverse_into(y, mid)
                .map_err(|e| offset_layer(e, self.first.layer_count()))?;
            self.first
                .try_inverse_into(mid, x)
                .map_err(|e| offset_layer(e, 0))
        })
    }

    fn layer_count(&self) -> usize {
        self.first.layer_count() + self.second.layer_count()
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        check_point(self.dim(), x, self.dim())?;
        crate::flow::with_copy(x, |y| self.forward_into(x, y))
    }

    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        check_point(self.dim(), x, y.len())?;
        crate::flow::with_copy(x, |mid| {
            self.first
                .try_transform_into(x, mid)
                .map_err(|e| offset_layer(e, 0))?;
            self.second
                .try_transform_into(mid, y)
                .map_err(|e| offset_layer(e, self.first.layer_count()))
        })
    }

    fn forward_into(&self, x: &[f64], y: &mut [f64]) -> Result<f64> {
        check_point(self.dim(), x, y.len())?;
        let total = crate::flow::with_copy(x, |mid| {
            let a = self
                .first
                .forward_into(x, mid)
                .map_err(|e| offset_layer(e, 0))?;
            let b = self
                .second
                .forward_into(mid, y)
                .map_err(|e| offset_layer(e, self.first.layer_count()))?;
            Ok::<f64, dsm_core::Error>(a + b)
        })?;
        crate::layers::elementwise::finite_log_det(total)
    }

    fn inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<f64> {
        check_point(self.dim(), y, x.len())?;
        let total = crate::flow::with_copy(y, |mid| {
            let b = self
                .second
                .inverse_into(y, mid)
                .map_err(|e| offset_layer(e, self.first.layer_count()))?;
            let a = self
                .first
                .inverse_into(mid, x)
                .map_err(|e| offset_layer(e, 0))?;
            Ok::<f64, dsm_core::Error>(a + b)
        })?;
        crate::layers::elementwise::finite_log_det(total)
    }
}
