//! Diffusion matrices m(x) and what the diffusion objectives need from them.
//!
//! A [`Diffusion`] is a field of d × d matrices m(x) (not necessarily symmetric). The
//! Fisher-type objectives (docs/math.md eqs. 5, 6) depend on m only through A = m mᵀ and its
//! column divergence; the Stein operators (eq. 7) depend on m and div m. Layout conventions
//! (docs/math.md section 1):
//!
//! ```text
//! m            row-major:            m[j·d + k]          = m_jk(x)
//! gradient     dm[(i·d + j)·d + k] = ∂m_jk/∂x_i
//! div m        (∇·m)_k = Σ_i ∂_i m_ik                  (divergence of each column)
//! div A        (∇·A)_j = Σ_i ∂_i A_ij = Σ_k [ (∇·m)_k m_jk + Σ_i m_ik ∂_i m_jk ]
//! ```
//!
//! Only [`Diffusion::matrix_into`] and [`Diffusion::matrix_gradient_into`] are required;
//! the divergence and the pair (A, ∇·A) have exact default implementations built from them,
//! which a diffusion with a cheaper closed form overrides (a flow's m = J⁻¹ through the
//! Piola identity, a metric's A = G⁻¹ directly).

mod closure;
mod constant;
mod identity;
mod tilted;

pub use closure::DiffusionFn;
pub use constant::ConstantDiffusion;
pub use identity::IdentityDiffusion;
pub use tilted::TiltedDiffusion;

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

/// A diffusion matrix field m: ℝᵈ → ℝᵈˣᵈ with exact first derivatives.
///
/// Implementations must be invertible at every x for eq. 5 to define a divergence; the
/// objectives do not check this per point.
///
/// The `_into` methods take `x.len() == dim()` and buffers of the documented sizes, and may
/// panic otherwise; the dsm entry points check the dimension before calling them.
pub trait Diffusion: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// Writes m(x), row-major, `m.len() == d²`.
    ///
    /// # Errors
    /// A diffusion that cannot be evaluated at x (for example m = J⁻¹ of a flow whose
    /// Jacobian is singular there) returns an error with sample index 0; the objectives
    /// re-index it to the sample they were evaluating ([`Error::at_sample`]).
    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()>;

    /// Writes ∂m_jk/∂x_i at `dm[(i·d + j)·d + k]`, `dm.len() == d³`.
    ///
    /// # Errors
    /// As [`Diffusion::matrix_into`].
    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()>;

    /// Writes the column divergence (∇·m)_k = Σ_i ∂_i m_ik, `div.len() == d`.
    ///
    /// `work` is scratch space that a caller reuses across points.
    ///
    /// # Errors
    /// As [`Diffusion::matrix_into`].
    fn divergence_into(&self, x: &[f64], work: &mut DiffusionWork, div: &mut [f64]) -> Result<()> {
        let d = self.dim();
        let dm = work.take(d * d * d);
        self.matrix_gradient_into(x, dm)?;
        divergence_from_gradient(d, dm, div);
        Ok(())
    }

    /// Writes A = m mᵀ (row-major, d²) and its column divergence ∇·A (d), the two
    /// quantities of the DSM divergence term (docs/math.md eq. 6).
    ///
    /// # Errors
    /// As [`Diffusion::matrix_into`].
    fn covariance_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        a: &mut [f64],
        div_a: &mut [f64],
    ) -> Result<()> {
        let d = self.dim();
        let buf = work.take(d * d + d * d * d);
        let (m, dm) = buf.split_at_mut(d * d);
        self.matrix_into(x, m)?;
        self.matrix_gradient_into(x, dm)?;
        covariance_from_parts(d, m, dm, a, div_a);
        Ok(())
    }

    /// Writes m(x) (d², row-major) and its column divergence ∇·m (d), the two per-point
    /// quantities of the diffusion Stein operator (docs/math.md eq. 7). The default calls
    /// [`Diffusion::matrix_into`] and [`Diffusion::divergence_into`]; a diffusion that
    /// shares work between them (a flow's J, its factorisation and ∂J) computes both in one
    /// pass.
    ///
    /// # Errors
    /// As [`Diffusion::matrix_into`].
    fn matrix_and_divergence_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        m: &mut [f64],
        div: &mut [f64],
    ) -> Result<()> {
        self.matrix_into(x, m)?;
        self.divergence_into(x, work, div)
    }

    /// Whether m(x) is diagonal at every x (m = I, a diagonal constant m, the diffusion of
    /// an elementwise flow). Callers may then take O(d) paths that read only the diagonal of
    /// m; the values are the same as the dense path's up to rounding.
    fn is_diagonal(&self) -> bool {
        false
    }
}

/// The column divergence (∇·m)_k = Σ_i ∂_i m_ik from the gradient `dm[(i·d + j)·d + k]`.
pub fn divergence_from_gradient(d: usize, dm: &[f64], div: &mut [f64]) {
    for (k, slot) in div.iter_mut().enumerate() {
        *slot = (0..d).map(|i| dm[(i * d + i) * d + k]).sum();
    }
}

/// A = m mᵀ and (∇·A)_j = Σ_k [ (∇·m)_k m_jk + Σ_i m_ik ∂_i m_jk ] from m and its gradient.
pub fn covariance_from_parts(d: usize, m: &[f64], dm: &[f64], a: &mut [f64], div_a: &mut [f64]) {
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = (0..d).map(|k| m[i * d + k] * m[j * d + k]).sum();
        }
    }
    for (j, slot) in div_a.iter_mut().enumerate() {
        let mut acc = 0.0;
        for i in 0..d {
            let dim_ = &dm[i * d * d..(i + 1) * d * d];
            for k in 0..d {
                // ∂_i A_ij = Σ_k ∂_i m_ik m_jk + m_ik ∂_i m_jk
                acc += dim_[i * d + k] * m[j * d + k] + m[i * d + k] * dim_[j * d + k];
            }
        }
        *slot = acc;
    }
}

/// Reusable scratch space for [`Diffusion`] evaluations, one per thread of work.
///
/// Implementations ask for a buffer of the length they need with [`DiffusionWork::take`];
/// it grows on first use and is reused afterwards, so the per-point work allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct DiffusionWork {
    buf: Vec<f64>,
}

impl DiffusionWork {
    /// Empty scratch space.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scratch buffer of exactly `len` values (contents unspecified).
    pub fn take(&mut self, len: usize) -> &mut [f64] {
        if self.buf.len() < len {
            self.buf.resize(len, 0.0);
        }
        &mut self.buf[..len]
    }
}

impl<T: Diffusion + ?Sized> Diffusion for &T {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        (**self).matrix_into(x, m)
    }
    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        (**self).matrix_gradient_into(x, dm)
    }
    fn divergence_into(&self, x: &[f64], work: &mut DiffusionWork, div: &mut [f64]) -> Result<()> {
        (**self).divergence_into(x, work, div)
    }
    fn covariance_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        a: &mut [f64],
        div_a: &mut [f64],
    ) -> Result<()> {
        (**self).covariance_into(x, work, a, div_a)
    }
    fn matrix_and_divergence_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        m: &mut [f64],
        div: &mut [f64],
    ) -> Result<()> {
        (**self).matrix_and_divergence_into(x, work, m, div)
    }
    fn is_diagonal(&self) -> bool {
        (**self).is_diagonal()
    }
}
