//! Per-point Stein quantities, computed once, and the Stein kernel k⁰ of a pair.

use crate::density::Score;
use crate::error::Result;
use crate::kernel::{Kernel, sq_dist};
use crate::mc::Par;
use crate::samples::Samples;

/// A Stein discrepancy that can prepare its per-point quantities for a model and samples:
/// implemented by [`Ksd`](super::Ksd) and [`DiffusionKsd`](super::DiffusionKsd), and consumed
/// by their estimators and by [`KsdTest`](super::KsdTest).
pub trait SteinKernel {
    /// The base kernel.
    type Kernel: Kernel;

    /// The estimator (U or V) this discrepancy was configured with.
    fn estimator(&self) -> super::Estimator;

    /// Computes the per-point quantities (O(n·d) or O(n·d²) memory) once.
    ///
    /// # Errors
    /// Dimension mismatches, non-finite scores or diffusion values (naming the sample), and
    /// [`Error::ThreadPool`](crate::Error::ThreadPool).
    fn points<'a, P>(
        &'a self,
        model: &P,
        samples: &'a Samples,
        par: Par,
    ) -> Result<SteinPoints<'a, Self::Kernel>>
    where
        P: Score + Sync + ?Sized;
}

/// Scratch buffers for kernels that are not radial (allocated once per task, not per pair).
#[derive(Debug, Clone, Default)]
pub struct PairScratch {
    grad_x: Vec<f64>,
    grad_y: Vec<f64>,
    cross: Vec<f64>,
}

impl PairScratch {
    fn ensure(&mut self, d: usize) {
        if self.grad_x.len() != d {
            self.grad_x = vec![0.0; d];
            self.grad_y = vec![0.0; d];
            self.cross = vec![0.0; d * d];
        }
    }
}

/// The per-point quantities of a Stein kernel for one sample set: for each point the vector
/// b (the score s_p for the Langevin kernel, b = mᵀs_p + ∇·m for a diffusion) and, for a
/// diffusion, the matrix m; k⁰ of any pair follows from them and the base kernel.
#[derive(Debug)]
pub struct SteinPoints<'a, K> {
    pub(crate) kernel: &'a K,
    pub(crate) samples: &'a Samples,
    /// Per point: [b (d) | m (d², row-major) when `diffusion`].
    pub(crate) data: Vec<f64>,
    pub(crate) stride: usize,
    pub(crate) diffusion: bool,
}

impl<K: Kernel> SteinPoints<'_, K> {
    /// Number of points.
    pub fn n(&self) -> usize {
        self.samples.n()
    }

    /// The Stein kernel k⁰(xᵢ, xⱼ) (unchecked indices: panics when out of range).
    ///
    /// Langevin (docs/math.md section 7.1), with r = x − y and a radial k = φ(‖r‖²):
    /// ```text
    /// u_p = k sₓᵀs_y + sₓᵀ∇_y k + ∇ₓkᵀ s_y + tr ∇ₓ∇_yᵀk
    ///     = φ sₓ·s_y + 2φ′ r·(s_y − sₓ) − 2dφ′ − 4φ″‖r‖²
    /// ```
    /// Diffusion (docs/math.md section 7.2), with vₓ = mₓᵀr, v_y = m_yᵀr:
    /// ```text
    /// k⁰ = bₓᵀb_y k + b_yᵀmₓᵀ∇ₓk + bₓᵀm_yᵀ∇_y k + tr(mₓᵀ[∇ₓ∇_yᵀk] m_y)
    ///    = φ bₓ·b_y + 2φ′(b_y·vₓ − bₓ·v_y) − 2φ′⟨mₓ, m_y⟩_F − 4φ″ vₓ·v_y
    /// ```
    /// Kernels without a radial profile use the first line of each, through their full
    /// derivatives.
    #[inline]
    pub fn stein_kernel(&self, i: usize, j: usize, scratch: &mut PairScratch) -> f64 {
        let (x, y) = (self.samples.row(i), self.samples.row(j));
        let d = x.len();
        let pi = &self.data[i * self.stride..(i + 1) * self.stride];
        let pj = &self.data[j * self.stride..(j + 1) * self.stride];
        let (bx, by) = (&pi[..d], &pj[..d]);
        let u = sq_dist(x, y);
        if let Some([phi, d1, d2]) = self.kernel.radial_profile(u) {
            if !self.diffusion {
                let mut dot = 0.0;
                let mut dr = 0.0;
                for a in 0..d {
                    dot += bx[a] * by[a];
                    dr += (x[a] - y[a]) * (by[a] - bx[a]);
                }
                return phi * dot + 2.0 * d1 * dr - 2.0 * d as f64 * d1 - 4.0 * d2 * u;
            }
            let (mx, my) = (&pi[d..], &pj[d..]);
            let (mut dot, mut cross_b, mut frob, mut vv) = (0.0, 0.0, 0.0, 0.0);
            for c in 0..d {
                let (mut vxc, mut vyc) = (0.0, 0.0);
                for a in 0..d {
                    let ra = x[a] - y[a];
                    let (mxa, mya) = (mx[a * d + c], my[a * d + c]);
                    vxc += mxa * ra;
                    vyc += mya * ra;
                    frob += mxa * mya;
                }
                dot += bx[c] * by[c];
                cross_b += by[c] * vxc - bx[c] * vyc;
                vv += vxc * vyc;
            }
            return phi * dot + 2.0 * d1 * cross_b - 2.0 * d1 * frob - 4.0 * d2 * vv;
        }
        scratch.ensure(d);
        let PairScratch {
            grad_x,
            grad_y,
            cross,
        } = scratch;
        let k = self.kernel.derivatives_into(x, y, grad_x, grad_y, cross);
        if !self.diffusion {
            let mut total = 0.0;
            for a in 0..d {
                total +=
                    k * bx[a] * by[a] + bx[a] * grad_y[a] + grad_x[a] * by[a] + cross[a * d + a];
            }
            return total;
        }
        let (mx, my) = (&pi[d..], &pj[d..]);
        let mut total = 0.0;
        for c in 0..d {
            total += k * bx[c] * by[c];
            for a in 0..d {
                // b_yᵀ mₓᵀ ∇ₓk = Σ_a ∇ₓk_a (mₓ b_y)_a, likewise for y.
                total += grad_x[a] * mx[a * d + c] * by[c] + grad_y[a] * my[a * d + c] * bx[c];
                let mut cm = 0.0;
                for b in 0..d {
                    cm += cross[a * d + b] * my[b * d + c];
                }
                total += mx[a * d + c] * cm;
            }
        }
        total
    }
}
