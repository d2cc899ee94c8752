//! Euler-discretised ODE flows and the Fisher divergence along them (Proposition 3.2).

use num_dual::Dual64;

use crate::flow::{Flow, invert_into, log_abs_det};
use dsm_core::validate::{finite, positive, same_dim};
use dsm_core::{Error, Estimate, Par, Result, Samples, Scalar, Score, mc};

/// Largest number of Euler steps K (the trajectory has 2(K + 1) entries per sample).
pub const MAX_EULER_STEPS: usize = u32::MAX as usize;

/// Largest Fisher trajectory [`EulerFlow::fisher_trajectory`] allocates: 4 GiB.
pub const MAX_TRAJECTORY_BYTES: u128 = 1 << 32;

/// A drift f(x, t) of the ODE dx/dt = f(x, t) (docs/math.md eq. 14), written once over the scalar
/// type so that its Jacobian J_f is exact.
pub trait Drift: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// Writes f(x, t).
    fn drift<D: Scalar>(&self, x: &[D], t: f64, out: &mut [D]);
}

/// The forward-Euler flow x_{k+1} = x_k + h f(x_k, t_k), t_k = t₀ + k h, k = 0 … K−1
/// (docs/math.md eq. 35): a [`Flow`] whose steps have exact Jacobians S_k = I + h J_f(x_k, t_k).
///
/// Each step is inverted by Newton's method on z + h f(z, t_k) = y (it converges when
/// h·Lip(f) < 1, the regime where the step is invertible).
///
/// # Examples
/// ```
/// use dsm_flows::{Drift, EulerFlow, Flow, Scalar};
/// /// dx/dt = −x + sin(x).
/// struct Pull;
/// impl Drift for Pull {
///     fn dim(&self) -> usize { 1 }
///     fn drift<D: Scalar>(&self, x: &[D], _t: f64, out: &mut [D]) { out[0] = x[0].sin() - x[0]; }
/// }
/// let flow = EulerFlow::new(Pull, 0.0, 0.01, 100)?;
/// let (mut y, mut x) = ([0.0], [0.0]);
/// flow.transform(&[2.0], &mut y);
/// flow.inverse_into(&y, &mut x)?;
/// assert!((x[0] - 2.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct EulerFlow<V> {
    drift: V,
    t0: f64,
    step: f64,
    steps: usize,
}

/// F(q_t ‖ p_t) along an [`EulerFlow`], computed two ways (docs/math.md N7).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FisherTrajectory {
    /// t_k = t₀ + k h, k = 0 … K.
    pub times: Vec<f64>,
    /// F(q_k ‖ p_k) of the pushforwards by the first k steps, by Theorem 3.1 on the samples
    /// of q₀: E_{q₀} ‖δ_k‖², δ_{k+1} = S_k⁻ᵀ δ_k, δ₀ = s_{q₀} − s_{p₀}.
    pub direct: Vec<Estimate>,
    /// The rate of Proposition 3.2 at each t_k: −E[δ_kᵀ (J_f + J_fᵀ) δ_k].
    pub rate: Vec<Estimate>,
    /// F integrated from F(q₀ ‖ p₀) with the rate: F̃_{k+1} = F̃_k + h · rate_k.
    pub integrated: Vec<f64>,
}

impl<V: Drift> EulerFlow<V> {
    /// K = `steps` Euler steps of size h = `step` from time `t0`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-finite t₀, h not finite and positive, K = 0 or
    /// K > [`MAX_EULER_STEPS`], or a final time t₀ + K h that is not finite.
    pub fn new(drift: V, t0: f64, step: f64, steps: usize) -> Result<Self> {
        finite("EulerFlow", "t0", t0)?;
        positive("EulerFlow", "step", step)?;
        if steps == 0 || steps > MAX_EULER_STEPS {
            return Err(Error::InvalidParameter {
                owner: "EulerFlow",
                name: "steps",
                value: steps as f64,
                constraint: "in 1..=2^32 - 1",
            });
        }
        finite(
            "EulerFlow",
            "final time t0 + steps * step",
            t0 + steps as f64 * step,
        )?;
        if drift.dim() == 0 {
            return Err(Error::InvalidParameter {
                owner: "EulerFlow",
                name: "drift dimension",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        Ok(Self {
            drift,
            t0,
            step,
            steps,
        })
    }

    /// The drift.
    pub fn drift(&self) -> &V {
        &self.drift
    }

    /// The step size h.
    pub fn step(&self) -> f64 {
        self.step
    }

    /// The number of steps K.
    pub fn steps(&self) -> usize {
        self.steps
    }

    fn time(&self, k: usize) -> f64 {
        self.t0 + k as f64 * self.step
    }

    /// J_f(x, t), row-major, by d [`Dual64`] passes.
    pub fn drift_jacobian_into(&self, x: &[f64], t: f64, jac: &mut [f64]) {
        let d = x.len();
        let mut xs: Vec<Dual64> = x.iter().map(|&v| Dual64::from_re(v)).collect();
        let mut out = vec![Dual64::from_re(0.0); d];
        for k in 0..d {
            xs[k].eps = 1.0;
            self.drift.drift(&xs, t, &mut out);
            xs[k].eps = 0.0;
            for j in 0..d {
                jac[j * d + k] = out[j].eps;
            }
        }
    }

    /// F(q_t ‖ p_t) at every step, directly by Theorem 3.1 and by integrating the rate of
    /// Proposition 3.2 (eq. 15); the two agree to first order in h. `samples` are draws of
    /// q₀ (weighted if they carry weights).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`]; [`Error::NonFiniteValue`] for non-finite scores or
    /// drifts; [`Error::SingularJacobian`] when a step is not invertible at a sample.
    pub fn fisher_trajectory<Q, P>(
        &self,
        q0: &Q,
        p0: &P,
        samples: &Samples,
        par: Par,
    ) -> Result<FisherTrajectory>
    where
        Q: Score + Sync + ?Sized,
        P: Score + Sync + ?Sized,
    {
        let d = self.drift.dim();
        same_dim(
            "dimension of the samples",
            samples.dim(),
            "dimension of the flow",
            d,
        )?;
        same_dim("dimension of q0", q0.dim(), "dimension of the flow", d)?;
        same_dim("dimension of p0", p0.dim(), "dimension of the flow", d)?;
        let k_max = self.steps;
        let width = 2 * (k_max + 1);
        let needed = 8 * samples.n() as u128 * width as u128;
        if needed > MAX_TRAJECTORY_BYTES {
            return Err(Error::MemoryCap {
                what: "Fisher trajectory (2 (K + 1) floats per sample)",
                needed_bytes: needed,
                cap_bytes: MAX_TRAJECTORY_BYTES,
                largest_n: usize::try_from(MAX_TRAJECTORY_BYTES / (8 * width as u128))
                    .unwrap_or(usize::MAX),
                remedy: "the cap MAX_TRAJECTORY_BYTES is fixed: use fewer samples or steps",
            });
        }
        let h = self.step;
        let rows = mc::map_rows(
            samples,
            width,
            par,
            || (),
            |_, i, x0, out| {
                let (mut sq, mut sp) = (vec![0.0; d], vec![0.0; d]);
                q0.score_into(x0, &mut sq);
                p0.score_into(x0, &mut sp);
                let mut delta: Vec<f64> = sq.iter().zip(&sp).map(|(a, b)| a - b).collect();
                if delta.iter().any(|v| !v.is_finite()) {
                    return Err(Error::NonFiniteValue {
                        quantity: "score difference",
                        index: i,
                    });
                }
                let mut x = x0.to_vec();
                let (mut jf, mut s, mut s_inv, mut f) = (
                    vec![0.0; d * d],
                    vec![0.0; d * d],
                    vec![0.0; d * d],
                    vec![0.0; d],
                );
                for k in 0..=k_max {
                    let t = self.time(k);
                    self.drift_jacobian_into(&x, t, &mut jf);
                    out[k] = delta.iter().map(|v| v * v).sum();
                    // −δᵀ(J_f + J_fᵀ)δ = −2 δᵀ J_f δ
                    let quad: f64 = (0..d)
                        .map(|a| delta[a] * (0..d).map(|b| jf[a * d + b] * delta[b]).sum::<f64>())
                        .sum();
                    out[k_max + 1 + k] = -2.0 * quad;
                    if k == k_max {
                        break;
                    }
                    for a in 0..d {
                        for b in 0..d {
                            s[a * d + b] = h * jf[a * d + b] + if a == b { 1.0 } else { 0.0 };
                        }
                    }
                    invert_into(&s, d, &mut s_inv).map_err(|e| e.at_sample(i))?;
                    // δ ← S⁻ᵀ δ
                    delta = (0..d)
                        .map(|a| (0..d).map(|b| s_inv[b * d + a] * delta[b]).sum())
                        .collect();
                    self.drift.drift(&x, t, &mut f);
                    for (xa, fa) in x.iter_mut().zip(&f) {
                        *xa += h * fa;
                    }
                }
                if out.iter().any(|v| !v.is_finite()) {
                    return Err(Error::NonFiniteValue {
                        quantity: "Fisher trajectory",
                        index: i,
                    });
                }
                Ok(())
            },
        )?;
        let n = samples.n();
        let column = |c: usize| -> Vec<f64> { (0..n).map(|i| rows[i * width + c]).collect() };
        let weights = samples.weights();
        let direct = (0..=k_max)
            .map(|k| Estimate::from_values(&column(k), weights, par))
            .collect::<Result<Vec<_>>>()?;
        let rate = (0..=k_max)
            .map(|k| Estimate::from_values(&column(k_max + 1 + k), weights, par))
            .collect::<Result<Vec<_>>>()?;
        let mut integrated = Vec::with_capacity(k_max + 1);
        integrated.push(direct[0].value);
        for k in 0..k_max {
            integrated.push(integrated[k] + h * rate[k].value);
        }
        Ok(FisherTrajectory {
            times: (0..=k_max).map(|k| self.time(k)).collect(),
            direct,
            rate,
            integrated,
        })
    }
}

impl<V: Drift> Flow for EulerFlow<V> {
    fn dim(&self) -> usize {
        self.drift.dim()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        let d = x.len();
        y.copy_from_slice(x);
        let mut f = vec![D::from(0.0); d];
        for k in 0..self.steps {
            self.drift.drift(y, self.time(k), &mut f);
            for (ya, fa) in y.iter_mut().zip(&f) {
                *ya += *fa * self.step;
            }
        }
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        let d = y.len();
        let mut cur = y.to_vec();
        let (mut f, mut jf, mut s, mut s_inv) = (
            vec![0.0; d],
            vec![0.0; d * d],
            vec![0.0; d * d],
            vec![0.0; d * d],
        );
        for k in (0..self.steps).rev() {
            let t = self.time(k);
            // Solve z + h f(z, t) = cur by Newton from z = cur − h f(cur, t).
            self.drift.drift(&cur, t, &mut f);
            let mut z: Vec<f64> = cur
                .iter()
                .zip(&f)
                .map(|(c, fa)| c - self.step * fa)
                .collect();
            let mut converged = false;
            for _ in 0..100 {
                self.drift.drift(&z, t, &mut f);
                let r: Vec<f64> = (0..d).map(|a| z[a] + self.step * f[a] - cur[a]).collect();
                // Converged when every residual is at the rounding level of its own terms:
                // scale-aware, so badly scaled coordinates do not fail spuriously.
                if (0..d).all(|a| {
                    r[a].abs()
                        <= 8.0
                            * f64::EPSILON
                            * (z[a].abs() + (self.step * f[a]).abs() + cur[a].abs())
                }) {
                    converged = true;
                    break;
                }
                self.drift_jacobian_into(&z, t, &mut jf);
                for a in 0..d {
                    for b in 0..d {
                        s[a * d + b] = self.step * jf[a * d + b] + if a == b { 1.0 } else { 0.0 };
                    }
                }
                invert_into(&s, d, &mut s_inv)?;
                let mut size = 0.0f64;
                for a in 0..d {
                    let dz: f64 = (0..d).map(|b| s_inv[a * d + b] * r[b]).sum();
                    z[a] -= dz;
                    size = size.max(dz.abs() / z[a].abs().max(1.0));
                }
                if size <= 1e-15 {
                    converged = true;
                    break;
                }
            }
            if !converged || z.iter().any(|v| !v.is_finite()) {
                return Err(Error::InverseFailed {
                    index: 0,
                    iterations: 100,
                });
            }
            cur = z;
        }
        x.copy_from_slice(&cur);
        Ok(())
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        let d = x.len();
        let mut cur = x.to_vec();
        let (mut f, mut jf, mut s) = (vec![0.0; d], vec![0.0; d * d], vec![0.0; d * d]);
        let mut total = 0.0;
        for k in 0..self.steps {
            let t = self.time(k);
            self.drift_jacobian_into(&cur, t, &mut jf);
            for a in 0..d {
                for b in 0..d {
                    s[a * d + b] = self.step * jf[a * d + b] + if a == b { 1.0 } else { 0.0 };
                }
            }
            total += log_abs_det(&s, d)?;
            self.drift.drift(&cur, t, &mut f);
            for (xa, fa) in cur.iter_mut().zip(&f) {
                *xa += self.step * fa;
            }
        }
        crate::layers::elementwise::finite_log_det(total)
    }
}
