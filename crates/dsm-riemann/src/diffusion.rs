//! The diffusion of a metric: m mᵀ = G⁻¹ (Proposition 3.1).

use crate::metric::Metric;
use dsm_core::{Diffusion, DiffusionWork, Error, Result};

/// G = C Cᵀ and G⁻¹ in caller scratch (`work`: d values), no allocation for small d
/// ([`dsm_core::linalg::cholesky_in_scratch`]), or `NotPositiveDefinite` at the sample.
fn factor_in_scratch(
    g: &[f64],
    d: usize,
    chol: &mut [f64],
    inv: &mut [f64],
    work: &mut [f64],
) -> Result<()> {
    spd_error(dsm_core::linalg::cholesky_in_scratch(
        "metric",
        g,
        d,
        chol,
        Some(inv),
        work,
    ))
}

/// A factorisation's failure read as a metric that is not SPD at the sample.
fn spd_error(r: Result<f64>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(Error::NotPositiveDefinite { .. } | Error::NonFiniteMatrix { .. }) => {
            Err(Error::NotPositiveDefinite {
                name: "metric",
                index: Some(0),
            })
        }
        Err(other) => Err(other),
    }
}

/// The diffusion of a metric, m = C⁻ᵀ with G = C Cᵀ, so that m mᵀ = G⁻¹ (docs/math.md eq. 13):
/// every dsm-core objective runs on a metric through it.
///
/// ```text
/// m = C⁻ᵀ = G⁻¹ C,   ∂ᵢm = −m (∂ᵢC)ᵀ m,   ∂ᵢC = C Φ(mᵀ ∂ᵢG m)      (Φ: lower part, half diagonal)
/// A = m mᵀ = G⁻¹,    (∇·A)_j = −Σᵢ (G⁻¹ ∂ᵢG G⁻¹)ᵢⱼ                   (no Cholesky derivative)
/// ```
/// The Fisher-type objectives see only A = G⁻¹, so any other square root (the symmetric one,
/// m R for orthogonal R) gives the same values (docs/math.md N10). A G that is not SPD at a sample
/// is [`Error::NotPositiveDefinite`] naming that sample.
///
/// # Examples
/// ```
/// use dsm_core::{diffusion_score_matching_loss, Gaussian, Par, Sampler};
/// use dsm_riemann::{ConstantMetric, MetricDiffusion};
/// let p = Gaussian::standard(2)?;
/// let xs = p.sample_n(100, 1, Par::Seq)?;
/// let m = MetricDiffusion::new(ConstantMetric::new(2, vec![4.0, 0.0, 0.0, 4.0])?);
/// // G = 4I: A = I/4, every term of the DSM integrand is a quarter of SM's.
/// let dsm = diffusion_score_matching_loss(&p, &m, &xs, Par::Seq)?;
/// let sm = dsm_core::score_matching_loss(&p, &xs, Par::Seq)?;
/// assert!((dsm.value - sm.value / 4.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDiffusion<M> {
    metric: M,
}

impl<M: Metric> MetricDiffusion<M> {
    /// The diffusion of `metric`.
    pub fn new(metric: M) -> Self {
        Self { metric }
    }

    /// The metric.
    pub fn metric(&self) -> &M {
        &self.metric
    }

    /// m = G⁻¹ C into `m`, with C and G⁻¹ left in `chol` and `inv`; `buf` holds G and the
    /// factorisation's work (d² + d).
    fn sqrt_inverse(
        &self,
        x: &[f64],
        m: &mut [f64],
        chol: &mut [f64],
        inv: &mut [f64],
        buf: &mut [f64],
    ) -> Result<()> {
        let d = x.len();
        let (g, work) = buf.split_at_mut(d * d);
        self.metric.metric_into(x, g)?;
        factor_in_scratch(g, d, chol, inv, work)?;
        for a in 0..d {
            for b in 0..d {
                m[a * d + b] = (b..d).map(|c| inv[a * d + c] * chol[c * d + b]).sum();
            }
        }
        Ok(())
    }

    /// Scratch length of [`MetricDiffusion::gradient_in`]: m, C, G⁻¹, G and its work, ∂G,
    /// X and ∂C.
    fn gradient_len(d: usize) -> usize {
        6 * d * d + d + d * d * d
    }

    /// m into the first d² values of `buf` and ∂ᵢm_jk into `dm` (d³), all work in `buf`.
    fn gradient_in(&self, x: &[f64], buf: &mut [f64], dm: &mut [f64]) -> Result<()> {
        let d = x.len();
        let (m, rest) = buf.split_at_mut(d * d);
        let (chol, rest) = rest.split_at_mut(d * d);
        let (inv, rest) = rest.split_at_mut(d * d);
        let (gbuf, rest) = rest.split_at_mut(d * d + d);
        let (dg, rest) = rest.split_at_mut(d * d * d);
        let (xm, dc) = rest.split_at_mut(d * d);
        self.sqrt_inverse(x, m, chol, inv, gbuf)?;
        self.metric.metric_gradient_into(x, dg)?;
        for i in 0..d {
            let dgi = &dg[i * d * d..(i + 1) * d * d];
            // X = mᵀ ∂ᵢG m, then Φ(X): strictly lower part and half the diagonal.
            for a in 0..d {
                for b in 0..d {
                    xm[a * d + b] = (0..d)
                        .map(|c| {
                            m[c * d + a]
                                * (0..d).map(|e| dgi[c * d + e] * m[e * d + b]).sum::<f64>()
                        })
                        .sum();
                }
            }
            // ∂ᵢC = C Φ(X)
            for a in 0..d {
                for b in 0..d {
                    dc[a * d + b] = (0..d)
                        .map(|c| {
                            let phi = if c > b {
                                xm[c * d + b]
                            } else if c == b {
                                0.5 * xm[c * d + c]
                            } else {
                                0.0
                            };
                            chol[a * d + c] * phi
                        })
                        .sum();
                }
            }
            // ∂ᵢm = −m (∂ᵢC)ᵀ m
            for a in 0..d {
                for b in 0..d {
                    dm[(i * d + a) * d + b] = -(0..d)
                        .map(|c| {
                            m[a * d + c] * (0..d).map(|e| dc[e * d + c] * m[e * d + b]).sum::<f64>()
                        })
                        .sum::<f64>();
                }
            }
        }
        Ok(())
    }
}

impl<M: Metric> Diffusion for MetricDiffusion<M> {
    fn dim(&self) -> usize {
        self.metric.dim()
    }

    fn matrix_into(&self, x: &[f64], m: &mut [f64]) -> Result<()> {
        let d = x.len();
        let mut run = |buf: &mut [f64]| {
            let (chol, rest) = buf.split_at_mut(d * d);
            let (inv, work) = rest.split_at_mut(d * d);
            self.sqrt_inverse(x, m, chol, inv, work)
        };
        if d <= dsm_core::linalg::SMALL_DIM {
            const N: usize = dsm_core::linalg::SMALL_DIM;
            run(&mut [0.0; 3 * N * N + N][..3 * d * d + d])
        } else {
            run(&mut vec![0.0; 3 * d * d + d])
        }
    }

    fn matrix_gradient_into(&self, x: &[f64], dm: &mut [f64]) -> Result<()> {
        let d = x.len();
        self.gradient_in(x, &mut vec![0.0; Self::gradient_len(d)], dm)
    }

    /// (∇·m)_k = Σᵢ ∂ᵢm_ik, from the gradient in `work`.
    fn divergence_into(&self, x: &[f64], work: &mut DiffusionWork, div: &mut [f64]) -> Result<()> {
        let d = x.len();
        let buf = work.take(Self::gradient_len(d) + d * d * d);
        let (gbuf, dm) = buf.split_at_mut(Self::gradient_len(d));
        self.gradient_in(x, gbuf, dm)?;
        dsm_core::diffusion::divergence_from_gradient(d, dm, div);
        Ok(())
    }

    /// m and ∇·m from one factorisation, in `work`.
    fn matrix_and_divergence_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        m: &mut [f64],
        div: &mut [f64],
    ) -> Result<()> {
        let d = x.len();
        let buf = work.take(Self::gradient_len(d) + d * d * d);
        let (gbuf, dm) = buf.split_at_mut(Self::gradient_len(d));
        self.gradient_in(x, gbuf, dm)?;
        m.copy_from_slice(&gbuf[..d * d]);
        dsm_core::diffusion::divergence_from_gradient(d, dm, div);
        Ok(())
    }

    /// A = G⁻¹ and (∇·A)_j = −Σᵢ (G⁻¹ ∂ᵢG G⁻¹)ᵢⱼ, with G, its factor and ∂G in `work` (no
    /// allocation per point for d ≤ [`SMALL_DIM`](dsm_core::linalg::SMALL_DIM)).
    fn covariance_into(
        &self,
        x: &[f64],
        work: &mut DiffusionWork,
        a: &mut [f64],
        div_a: &mut [f64],
    ) -> Result<()> {
        let d = x.len();
        let buf = work.take(2 * d * d + d * d * d + d);
        let (g, rest) = buf.split_at_mut(d * d);
        let (chol, rest) = rest.split_at_mut(d * d);
        let (dg, tmp) = rest.split_at_mut(d * d * d);
        self.metric.metric_into(x, g)?;
        factor_in_scratch(g, d, chol, a, tmp)?;
        self.metric.metric_gradient_into(x, dg)?;
        // (∇·A)_j = −Σᵢ Σ_bc A_ib ∂ᵢG_bc A_cj
        for (j, slot) in div_a.iter_mut().enumerate() {
            let mut acc = 0.0;
            for i in 0..d {
                let dgi = &dg[i * d * d..(i + 1) * d * d];
                for b in 0..d {
                    let aib = a[i * d + b];
                    for c in 0..d {
                        acc += aib * dgi[b * d + c] * a[c * d + j];
                    }
                }
            }
            *slot = -acc;
        }
        Ok(())
    }
}
