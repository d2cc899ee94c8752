//! The diffusion a flow defines: m(x) = J(x)⁻¹ (Theorem 3.1).

use crate::flow::{Flow, invert_into};
use dsm_core::{Diffusion, DiffusionWork, Result};

/// The paper's dictionary: the diffusion m(x) = (∂T/∂x)⁻¹ of a flow T, with exact derivatives.
///
/// ```text
/// m = J⁻¹,   ∂ᵢm = −m (∂ᵢJ) m,
/// ∇·m = −mᵀ g,  gᵢ = ∂ᵢ log |det J| = tr(m ∂ᵢJ)           (Piola identity, docs/math.md eq. 21)
/// ```
/// Diffusion score matching with this m is score matching of the pushforward densities in
/// y = T(x) (docs/math.md eq. 9 and N4), and the DKSD with it is the KSD in y (eq. 11, N6).
/// A singular Jacobian is an [`Error::SingularJacobian`](dsm_core::Error::SingularJacobian)
/// naming the sample.
///
/// # Examples
/// ```
/// use dsm_core::{diffusion_score_matching_loss, Par, Sampler, StudentT};
/// use dsm_flows::{FlowDiffusion, GaussianFlow};
/// let model = StudentT::new(0.0, 1.0, 5.0)?;
/// let xs = model.sample_n(500, 1, Par::Seq)?;
/// let m = FlowDiffusion::new(GaussianFlow::new(0.0, 1.0, 5.0)?);
/// let loss = diffusion_score_matching_loss(&model, &m, &xs, Par::Seq)?;
/// assert!(loss.value < 0.0); // −E_p[m² s²] at the truth (docs/math.md N8: −1.7177 in the limit)
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FlowDiffusion<F> {
    flow: F,
}

impl<F: Flow> FlowDiffusion<F> {
    /// The diffusion of `flow`.
    pub fn new(flow: F) -> Self {
        Self { flow }
    }

    /// The flow.
    pub fn flow(&self) -> &F {
        &self.flow
    }

    /// J, m = J⁻¹ and ∂J at x into `buf` (d² + d² + d³).
    fn parts<'a>(&self, x: &[f64], buf: &'a mut [f64]) -> Result<(&'a [f64], &'a [f64])> {
        let d = self.flow.dim();
        let (j, rest) = buf.split_at_mut(d * d);
        let (m, dj) = rest.split_at_mut(d * d);
        self.flow.jacobian_into(x, j);
        invert_into(j, d, m)?;
        self.flow.jacobian_gradient_into(x, &mut dj[..d * d * d]);
        Ok((m, &dj[..d * d * d]))
    }
}

impl<F: Flow> Diffusion for FlowDiffusion<F> {
    fn dim(&self) -> usize {
        self.flow.dim()
    }

    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        let d = self.flow.dim();
        let mut j = vec![0.0; d * d];
        self.flow.jacobian_into(x, &mut j);
        invert_into(&j, d, m)
    }

    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        let d = self.flow.dim();
        let mut buf = vec![0.0; 2 * d * d + d * d * d];
        let (m, dj) = self.parts(x, &mut buf)?;
        // ∂ᵢm_jk = −Σ_ab m_ja ∂ᵢJ_ab m_bk
        let mut tmp = vec![0.0; d * d];
        for i in 0..d {
            let dji = &dj[i * d * d..(i + 1) * d * d];
            for a in 0..d {
                for k in 0..d {
                    tmp[a * d + k] = (0..d).map(|b| dji[a * d + b] * m[b * d + k]).sum();
                }
            }
            for jj in 0..d {
                for k in 0..d {
                    dm[(i * d + jj) * d + k] =
                        -(0..d).map(|a| m[jj * d + a] * tmp[a * d + k]).sum::<f64>();
                }
            }
        }
        Ok(())
    }

    fn divergence_into(&self, x: &[f64], work: &mut DiffusionWork, div: &mut [f64]) -> Result<()> {
        let d = self.flow.dim();
        let buf = work.take(2 * d * d + d * d * d);
        let (m, dj) = self.parts(x, buf)?;
        // gᵢ = tr(m ∂ᵢJ) = Σ_ab m_ba ∂ᵢJ_ab;  (∇·m)_k = −Σ_j m_jk g_j
        let g: Vec<f64> = (0..d)
            .map(|i| {
                let dji = &dj[i * d * d..(i + 1) * d * d];
                (0..d)
                    .flat_map(|a| (0..d).map(move |b| (a, b)))
                    .map(|(a, b)| m[b * d + a] * dji[a * d + b])
                    .sum()
            })
            .collect();
        for (k, slot) in div.iter_mut().enumerate() {
            *slot = -(0..d).map(|j| m[j * d + k] * g[j]).sum::<f64>();
        }
        Ok(())
    }
}
