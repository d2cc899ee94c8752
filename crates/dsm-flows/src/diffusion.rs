//! The diffusion a flow defines: m(x) = J(x)⁻¹ (Theorem 3.1).

use crate::flow::{Flow, jacobian_error};
use dsm_core::{Diffusion, DiffusionWork, Error, Result};

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

    /// Scratch length of [`FlowDiffusion::dense_parts`]: J, m, ∂J, g and the inverse's work.
    fn dense_len(d: usize) -> usize {
        2 * d * d + d * d * d + d + dsm_core::linalg::inverse_scratch_len(d)
    }

    /// One pass at x for a flow with a full Jacobian: J and ∂J from one set of hyper-dual
    /// passes, m = J⁻¹ (equilibrated, in scratch), and gᵢ = tr(m ∂ᵢJ) = ∂ᵢ log |det J|.
    /// Returns (m, ∂J, g) inside `buf`.
    fn dense_parts<'a>(
        &self,
        x: &[f64],
        buf: &'a mut [f64],
    ) -> Result<(&'a [f64], &'a [f64], &'a [f64])> {
        let d = self.flow.dim();
        let (j, rest) = buf.split_at_mut(d * d);
        let (m, rest) = rest.split_at_mut(d * d);
        let (dj, rest) = rest.split_at_mut(d * d * d);
        let (g, work) = rest.split_at_mut(d);
        self.flow.jacobian_and_gradient_into(x, j, dj);
        dsm_core::linalg::invert_in_scratch(j, d, m, work).map_err(jacobian_error)?;
        for (i, gi) in g.iter_mut().enumerate() {
            let dji = &dj[i * d * d..(i + 1) * d * d];
            let mut acc = 0.0;
            for a in 0..d {
                for b in 0..d {
                    acc += m[b * d + a] * dji[a * d + b];
                }
            }
            *gi = acc;
        }
        Ok((m, dj, g))
    }

    /// For an elementwise flow: [tᵢ, tᵢ′, tᵢ″, tᵢ‴] per coordinate into `out`, checked: a
    /// non-finite tᵢ′ is a non-finite Jacobian, tᵢ′ = 0 (or 1/tᵢ′ overflowing) a singular one.
    fn elementwise_parts(&self, x: &[f64], out: &mut [[f64; 4]]) -> Result<()> {
        self.flow.elementwise_derivatives_into(x, out);
        for t in out.iter() {
            if !t[1].is_finite() {
                return Err(Error::NonFiniteValue {
                    quantity: "Jacobian",
                    index: 0,
                });
            }
            if !(1.0 / t[1]).is_finite() {
                return Err(Error::SingularJacobian {
                    index: 0,
                    rcond: 0.0,
                });
            }
        }
        Ok(())
    }

    /// [`FlowDiffusion::elementwise_parts`] with its [tᵢ…] buffer on the stack for
    /// d ≤ [`STACK_DIM`](crate::flow::STACK_DIM) (the heap beyond), then `f` of them.
    fn with_elementwise<R>(
        &self,
        x: &[f64],
        f: impl FnOnce(&[[f64; 4]]) -> Result<R>,
    ) -> Result<R> {
        let d = self.flow.dim();
        if d <= crate::flow::STACK_DIM {
            let mut t = [[0.0; 4]; crate::flow::STACK_DIM];
            self.elementwise_parts(x, &mut t[..d])?;
            f(&t[..d])
        } else {
            let mut t = vec![[0.0; 4]; d];
            self.elementwise_parts(x, &mut t)?;
            f(&t)
        }
    }
}

/// (∇·m)_k = −Σⱼ m_jk gⱼ (the Piola identity, docs/math.md eq. 4.9).
fn piola_divergence(d: usize, m: &[f64], g: &[f64], div: &mut [f64]) {
    for (k, slot) in div.iter_mut().enumerate() {
        *slot = -(0..d).map(|j| m[j * d + k] * g[j]).sum::<f64>();
    }
}

/// (∇·m)ᵢ = −tᵢ″/tᵢ′² for an elementwise flow (eq. 4.12b), as −m(m t″) with m = 1/t′: no
/// t′² to underflow far in a tail.
fn elementwise_divergence(t: &[[f64; 4]], div: &mut [f64]) {
    for (v, ti) in div.iter_mut().zip(t) {
        let m = 1.0 / ti[1];
        *v = -(m * (m * ti[2]));
    }
}

/// Elementwise m = diag(1/tᵢ′).
fn write_diagonal(d: usize, out: &mut [f64], value: impl Fn(usize) -> f64) {
    out.fill(0.0);
    for i in 0..d {
        out[i * d + i] = value(i);
    }
}

impl<F: Flow> Diffusion for FlowDiffusion<F> {
    fn dim(&self) -> usize {
        self.flow.dim()
    }

    fn is_diagonal(&self) -> bool {
        self.flow.is_elementwise()
    }

    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        let d = self.flow.dim();
        if self.flow.is_elementwise() {
            return self.with_elementwise(x, |t| {
                write_diagonal(d, m, |i| 1.0 / t[i][1]);
                Ok(())
            });
        }
        let mut invert = |j: &mut [f64], work: &mut [f64]| {
            self.flow.jacobian_into(x, j);
            dsm_core::linalg::invert_in_scratch(j, d, m, work).map_err(jacobian_error)
        };
        if d <= crate::flow::STACK_DIM {
            // J and the inverse's scratch on the stack: no allocation per point.
            let mut j = [0.0; crate::flow::STACK_DIM * crate::flow::STACK_DIM];
            let mut work = [0.0; dsm_core::linalg::inverse_scratch_len(crate::flow::STACK_DIM)];
            invert(&mut j[..d * d], &mut work)
        } else {
            invert(
                &mut vec![0.0; d * d],
                &mut vec![0.0; dsm_core::linalg::inverse_scratch_len(d)],
            )
        }
    }

    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        let d = self.flow.dim();
        let mut buf = vec![0.0; Self::dense_len(d)];
        let (m, dj, _) = self.dense_parts(x, &mut buf)?;
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

    /// ∇·m = −mᵀg (Piola, docs/math.md eq. 21); elementwise, (∇·m)ᵢ = −tᵢ″/tᵢ′².
    fn divergence_into(&self, x: &[f64], work: &mut DiffusionWork, div: &mut [f64]) -> Result<()> {
        let d = self.flow.dim();
        if self.flow.is_elementwise() {
            return self.with_elementwise(x, |t| {
                elementwise_divergence(t, div);
                Ok(())
            });
        }
        let (m, _, g) = self.dense_parts(x, work.take(Self::dense_len(d)))?;
        piola_divergence(d, m, g, div);
        Ok(())
    }

    /// m and ∇·m from one pass (one J, one factorisation, one ∂J; elementwise, one
    /// evaluation of each map).
    fn matrix_and_divergence_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        m_out: &mut [f64],
        div: &mut [f64],
    ) -> Result<()> {
        let d = self.flow.dim();
        if self.flow.is_elementwise() {
            return self.with_elementwise(x, |t| {
                write_diagonal(d, m_out, |i| 1.0 / t[i][1]);
                elementwise_divergence(t, div);
                Ok(())
            });
        }
        let (m, _, g) = self.dense_parts(x, work.take(Self::dense_len(d)))?;
        m_out.copy_from_slice(m);
        piola_divergence(d, m, g, div);
        Ok(())
    }

    /// A = m mᵀ and ∇·A in one pass (docs/math.md eq. 21 and section 1):
    ///
    /// ```text
    /// ∇·A = −A g − m w,    gᵢ = tr(m ∂ᵢJ),   w_a = Σᵢₗ ∂ᵢJ_al A_li        (docs/math.md eq. 4.12a)
    /// ```
    /// (from ∂ᵢA = −m ∂ᵢJ A − A ∂ᵢJᵀ mᵀ and ∂ᵢJ_al = ∂ₗJ_ai); elementwise,
    /// Aᵢᵢ = 1/tᵢ′² and (∇·A)ᵢ = −2tᵢ″/tᵢ′³ (eq. 4.12b).
    fn covariance_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        a: &mut [f64],
        div_a: &mut [f64],
    ) -> Result<()> {
        let d = self.flow.dim();
        if self.flow.is_elementwise() {
            return self.with_elementwise(x, |t| {
                write_diagonal(d, a, |i| {
                    let m = 1.0 / t[i][1];
                    m * m
                });
                for (v, ti) in div_a.iter_mut().zip(t) {
                    let m = 1.0 / ti[1];
                    *v = -2.0 * ti[2] * m * m * m;
                }
                Ok(())
            });
        }
        let buf = work.take(Self::dense_len(d) + d);
        let (parts, w) = buf.split_at_mut(Self::dense_len(d));
        let (m, dj, g) = self.dense_parts(x, parts)?;
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| m[i * d + k] * m[j * d + k]).sum();
            }
        }
        for (aa, wa) in w.iter_mut().enumerate() {
            let mut acc = 0.0;
            for i in 0..d {
                let row = &dj[(i * d + aa) * d..(i * d + aa + 1) * d];
                for (l, v) in row.iter().enumerate() {
                    acc += v * a[l * d + i];
                }
            }
            *wa = acc;
        }
        for (jj, slot) in div_a.iter_mut().enumerate() {
            let ag: f64 = (0..d).map(|l| a[jj * d + l] * g[l]).sum();
            let mw: f64 = (0..d).map(|l| m[jj * d + l] * w[l]).sum();
            *slot = -ag - mw;
        }
        Ok(())
    }
}
