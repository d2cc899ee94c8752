//! The identity diffusion m(x) = I, which turns every diffusion objective into its plain one.

use super::{Diffusion, DiffusionWork};

/// m(x) = I_d: DSM becomes SM and DKSD becomes KSD.
///
/// # Examples
/// ```
/// use dsm_core::{Diffusion, IdentityDiffusion};
/// let m = IdentityDiffusion::new(2);
/// let mut out = [0.0; 4];
/// m.matrix_into(&[0.3, -1.0], &mut out);
/// assert_eq!(out, [1.0, 0.0, 0.0, 1.0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityDiffusion {
    dim: usize,
}

impl IdentityDiffusion {
    /// The identity in dimension `dim`.
    pub fn new(dim: usize) -> Self {
        Self { dim }
    }
}

fn write_identity(d: usize, m: &mut [f64]) {
    m.fill(0.0);
    for i in 0..d {
        m[i * d + i] = 1.0;
    }
}

impl Diffusion for IdentityDiffusion {
    fn dim(&self) -> usize {
        self.dim
    }
    fn matrix_into(&self, _x: &[f64], m: &mut [f64]) -> crate::Result<()> {
        write_identity(self.dim, m);
        Ok(())
    }
    fn matrix_gradient_into(&self, _x: &[f64], dm: &mut [f64]) -> crate::Result<()> {
        dm.fill(0.0);
        Ok(())
    }
    fn divergence_into(
        &self,
        _x: &[f64],
        _work: &mut DiffusionWork,
        div: &mut [f64],
    ) -> crate::Result<()> {
        div.fill(0.0);
        Ok(())
    }
    fn covariance_into(
        &self,
        _x: &[f64],
        _work: &mut DiffusionWork,
        a: &mut [f64],
        div_a: &mut [f64],
    ) -> crate::Result<()> {
        write_identity(self.dim, a);
        div_a.fill(0.0);
        Ok(())
    }
    fn is_diagonal(&self) -> bool {
        true
    }
}
