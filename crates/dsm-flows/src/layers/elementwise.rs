//! Monotone maps of one variable, and their elementwise lifting to ℝᵈ.

use crate::flow::Flow;
use dsm_core::{Error, Result, Scalar};

/// A strictly increasing map t: ℝ → ℝ with closed-form derivatives and inverse: the
/// building block of elementwise flows ([`Elementwise`]).
pub trait ScalarMap: Sync {
    /// [t(x), t′(x), t″(x), t‴(x)].
    fn derivatives(&self, x: f64) -> [f64; 4];

    /// log t′(x), accurate where t′ itself under- or overflows.
    fn log_derivative(&self, x: f64) -> f64 {
        self.derivatives(x)[1].ln()
    }

    /// t⁻¹(y).
    ///
    /// # Errors
    /// [`Error::InverseFailed`] when an iterative inverse does not settle.
    fn scalar_inverse(&self, y: f64) -> Result<f64>;
}

/// A log-determinant, or [`Error::SingularJacobian`] where it is not finite (t′ = 0 or ∞).
pub(crate) fn finite_log_det(value: f64) -> Result<f64> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Error::SingularJacobian {
            index: 0,
            rcond: 0.0,
        })
    }
}

/// An inverse value, or [`Error::InverseFailed`] where it overflowed (y beyond the range of
/// the map in floating point).
pub(crate) fn finite_inverse(x: f64) -> Result<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(Error::InverseFailed {
            index: 0,
            iterations: 0,
        })
    }
}

/// The derivatives of g∘h from those of g (at h(x)) and of h (at x), Faà di Bruno to third
/// order (docs/math.md eq. 4.12c): (g∘h)′ = g′h′, (g∘h)″ = g″h′² + g′h″,
/// (g∘h)‴ = g‴h′³ + 3g″h′h″ + g′h‴.
#[inline]
pub(crate) fn compose_derivatives(g: [f64; 4], h: [f64; 4]) -> [f64; 4] {
    let [_, h1, h2, h3] = h;
    let [g0, g1, g2, g3] = g;
    [
        g0,
        g1 * h1,
        g2 * h1 * h1 + g1 * h2,
        g3 * h1 * h1 * h1 + 3.0 * g2 * h1 * h2 + g1 * h3,
    ]
}

/// The per-coordinate derivatives of a composite of elementwise parts: `out` is set to the
/// identity, then each call of `part(i, point, step)` evaluates part i at the current point
/// into `step` and the chain rule folds it in. Scratch on the stack for d ≤
/// [`STACK_DIM`](crate::flow::STACK_DIM).
pub(crate) fn compose_elementwise(
    x: &[f64],
    out: &mut [[f64; 4]],
    parts: usize,
    mut part: impl FnMut(usize, &[f64], &mut [[f64; 4]]),
) {
    let d = x.len();
    let mut run = |cur: &mut [f64], step: &mut [[f64; 4]]| {
        for (o, &xi) in out.iter_mut().zip(x) {
            *o = [xi, 1.0, 0.0, 0.0];
        }
        for p in 0..parts {
            for (c, o) in cur.iter_mut().zip(out.iter()) {
                *c = o[0];
            }
            part(p, cur, step);
            for (o, s) in out.iter_mut().zip(step.iter()) {
                *o = compose_derivatives(*s, *o);
            }
        }
    };
    if d <= crate::flow::STACK_DIM {
        let mut cur = [0.0; crate::flow::STACK_DIM];
        let mut step = [[0.0; 4]; crate::flow::STACK_DIM];
        run(&mut cur[..d], &mut step[..d]);
    } else {
        run(&mut vec![0.0; d], &mut vec![[0.0; 4]; d]);
    }
}

/// Implements [`Flow`] in one dimension for a [`ScalarMap`].
macro_rules! scalar_flow {
    ($t:ty) => {
        impl $crate::flow::Flow for $t {
            fn dim(&self) -> usize {
                1
            }
            fn transform<D: $crate::Scalar>(&self, x: &[D], y: &mut [D]) {
                y[0] = x[0].lift($crate::layers::ScalarMap::derivatives(self, x[0].value()));
            }
            fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> dsm_core::Result<()> {
                $crate::flow::check_point(self.dim(), y, x.len())?;
                x[0] = $crate::layers::ScalarMap::scalar_inverse(self, y[0])?;
                Ok(())
            }
            fn log_abs_det_jacobian(&self, x: &[f64]) -> dsm_core::Result<f64> {
                $crate::flow::check_point(self.dim(), x, self.dim())?;
                $crate::layers::elementwise::finite_log_det(
                    $crate::layers::ScalarMap::log_derivative(self, x[0]),
                )
            }
            fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
                jac[0] = $crate::layers::ScalarMap::derivatives(self, x[0])[1];
            }
            fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
                dj[0] = $crate::layers::ScalarMap::derivatives(self, x[0])[2];
            }
            fn third_derivatives_into(&self, x: &[f64], t3: &mut [f64]) {
                t3[0] = $crate::layers::ScalarMap::derivatives(self, x[0])[3];
            }
            fn is_elementwise(&self) -> bool {
                true
            }
            fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
                out[0] = $crate::layers::ScalarMap::derivatives(self, x[0]);
                true
            }
        }
    };
}
pub(crate) use scalar_flow;

/// A map of one variable applied to each coordinate: T(x)ᵢ = tᵢ(xᵢ).
///
/// ```text
/// J = diag(tᵢ′(xᵢ)),   log |det J| = Σᵢ log tᵢ′(xᵢ),   ∂ᵢJⱼₖ = δᵢⱼδⱼₖ tⱼ″(xⱼ)
/// ```
///
/// # Examples
/// ```
/// use dsm_flows::{Elementwise, Flow, ManualFlow};
/// let t = Elementwise::uniform(ManualFlow::new(0.0, 1.0, 10.0)?, 3)?;
/// let mut y = [0.0; 3];
/// let log_det = t.forward_into(&[0.5, -2.0, 40.0], &mut y)?;
/// let mut x = [0.0; 3];
/// t.inverse_into(&y, &mut x)?;
/// assert!((x[2] - 40.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Elementwise<M> {
    maps: Vec<M>,
}

impl<M: ScalarMap> Elementwise<M> {
    /// One map per coordinate.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty list.
    pub fn new(maps: Vec<M>) -> Result<Self> {
        if maps.is_empty() {
            return Err(Error::InvalidParameter {
                owner: "Elementwise",
                name: "maps",
                value: 0.0,
                constraint: "at least one map",
            });
        }
        Ok(Self { maps })
    }

    /// The same map on each of `dim` coordinates.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `dim` = 0 or beyond the workspace's largest dimension
    /// ([`dsm_core::linalg::MAX_DIM`]).
    pub fn uniform(map: M, dim: usize) -> Result<Self>
    where
        M: Clone,
    {
        dsm_core::linalg::check_dim("Elementwise", "dim", dim)?;
        Self::new(vec![map; dim])
    }

    /// The maps.
    pub fn maps(&self) -> &[M] {
        &self.maps
    }
}

impl<M: ScalarMap> Flow for Elementwise<M> {
    fn dim(&self) -> usize {
        self.maps.len()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        for ((yi, xi), m) in y.iter_mut().zip(x).zip(&self.maps) {
            *yi = xi.lift(m.derivatives(xi.value()));
        }
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        for ((xi, yi), m) in x.iter_mut().zip(y).zip(&self.maps) {
            *xi = m.scalar_inverse(*yi)?;
        }
        Ok(())
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        finite_log_det(
            x.iter()
                .zip(&self.maps)
                .map(|(xi, m)| m.log_derivative(*xi))
                .sum(),
        )
    }

    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        let d = self.maps.len();
        jac.fill(0.0);
        for (i, m) in self.maps.iter().enumerate() {
            jac[i * d + i] = m.derivatives(x[i])[1];
        }
    }

    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        let d = self.maps.len();
        dj.fill(0.0);
        for (i, m) in self.maps.iter().enumerate() {
            dj[(i * d + i) * d + i] = m.derivatives(x[i])[2];
        }
    }

    /// J and ∂J from one evaluation of each map.
    fn jacobian_and_gradient_into(&self, x: &[f64], jac: &mut [f64], dj: &mut [f64]) {
        let d = self.maps.len();
        jac.fill(0.0);
        dj.fill(0.0);
        for (i, m) in self.maps.iter().enumerate() {
            let t = m.derivatives(x[i]);
            jac[i * d + i] = t[1];
            dj[(i * d + i) * d + i] = t[2];
        }
    }

    fn is_elementwise(&self) -> bool {
        true
    }

    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        for ((o, m), xi) in out.iter_mut().zip(&self.maps).zip(x) {
            *o = m.derivatives(*xi);
        }
        true
    }
}
