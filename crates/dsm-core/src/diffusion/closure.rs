//! A diffusion given by a pair of user closures: m(x) and its gradient.

use super::Diffusion;

/// A diffusion from two closures: `matrix(x, m)` writes m(x) (row-major d²) and
/// `gradient(x, dm)` writes ∂m_jk/∂x_i at `dm[(i·d + j)·d + k]` (d³).
///
/// The gradient must be exact (a closed form); to derive it automatically, write m once over
/// a generic scalar and use [`AutoDiff`](crate::AutoDiff) with a
/// [`GenericDiffusion`](crate::GenericDiffusion) instead.
///
/// # Examples
/// The heavy-tail diffusion m(x) = sqrt(1 + x²/ν₀) of docs/math.md section 6.2:
/// ```
/// use dsm_core::{Diffusion, DiffusionFn};
/// let nu0 = 10.0;
/// let m = DiffusionFn::new(
///     1,
///     move |x: &[f64], m: &mut [f64]| m[0] = (1.0 + x[0] * x[0] / nu0).sqrt(),
///     move |x: &[f64], dm: &mut [f64]| dm[0] = x[0] / (nu0 * (1.0 + x[0] * x[0] / nu0).sqrt()),
/// );
/// let mut out = [0.0];
/// m.matrix_into(&[3.0], &mut out);
/// assert!((out[0] - 1.9f64.sqrt()).abs() < 1e-15);
/// ```
#[derive(Clone)]
pub struct DiffusionFn<M, G> {
    dim: usize,
    matrix: M,
    gradient: G,
}

impl<M, G> DiffusionFn<M, G>
where
    M: Fn(&[f64], &mut [f64]) + Sync,
    G: Fn(&[f64], &mut [f64]) + Sync,
{
    /// The diffusion of dimension `dim` with the given matrix and gradient closures.
    pub fn new(dim: usize, matrix: M, gradient: G) -> Self {
        Self {
            dim,
            matrix,
            gradient,
        }
    }
}

impl<M, G> std::fmt::Debug for DiffusionFn<M, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiffusionFn")
            .field("dim", &self.dim)
            .finish_non_exhaustive()
    }
}

impl<M, G> Diffusion for DiffusionFn<M, G>
where
    M: Fn(&[f64], &mut [f64]) + Sync,
    G: Fn(&[f64], &mut [f64]) + Sync,
{
    fn dim(&self) -> usize {
        self.dim
    }
    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> crate::Result<()> {
        (self.matrix)(x, m);
        Ok(())
    }
    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> crate::Result<()> {
        (self.gradient)(x, dm);
        Ok(())
    }
}
