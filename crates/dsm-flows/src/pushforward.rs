//! The pushforward density p_T of y = T(x), x ~ p.

use crate::flow::{Flow, invert_into};
use dsm_core::rand::Rng;
use dsm_core::{Hessian, LogDensity, Par, Result, Sampler, Samples, Score};

/// Largest dimension of a [`Pushforward`]: its Hessian evaluates d⁴ third derivatives of T
/// (8 MB at d = 32).
pub const MAX_PUSHFORWARD_DIM: usize = 32;
/// The density of y = T(x) for x ~ p (docs/math.md section 1 and eq. 18):
///
/// ```text
/// log p_T(y) = log p(x) − log |det J(x)|,                 x = T⁻¹(y)
/// s_{p_T}(y) = mᵀ (s_p(x) − g(x)),   m = J⁻¹,  gᵢ = ∂ᵢ log |det J| = tr(m ∂ᵢJ)        (N2)
/// ∇²_y log p_T = [∂ₓ s_{p_T}] m,  with ∂ᵢm = −m ∂ᵢJ m and
///               ∂ᵢg_j = tr(m ∂ᵢ∂ⱼJ) − tr(m ∂ᵢJ m ∂ⱼJ)          (third derivatives of T)
/// ```
/// It implements [`LogDensity`], [`Score`] and [`Hessian`] in y, so score matching of p_T in
/// y can be compared with diffusion score matching of p in x (Theorem 3.1). Where T⁻¹ or J⁻¹
/// fails the values are NaN, which the dsm objectives report with the sample's index.
///
/// When the base is a [`Sampler`], so is the pushforward: y = T(x) for x drawn from p
/// ([`Pushforward::sample_n`] is exactly `flow.forward_batch(base.sample_n(..))`).
///
/// # Examples
/// ```
/// use dsm_core::{LogDensity, Score, StudentT};
/// use dsm_flows::{GaussianFlow, Pushforward};
/// // The Gaussian flow pushes St(0, 1, 4) to N(0, 1) exactly (docs/math.md N9).
/// let p = Pushforward::new(StudentT::new(0.0, 1.0, 4.0)?, GaussianFlow::new(0.0, 1.0, 4.0)?)?;
/// let s = p.try_score(&[1.3])?;
/// assert!((s[0] + 1.3).abs() < 1e-10);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Pushforward<P, F> {
    base: P,
    flow: F,
}

impl<P: LogDensity, F: Flow> Pushforward<P, F> {
    /// The pushforward of `base` by `flow`.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](dsm_core::Error::DimensionMismatch) when they differ in
    /// dimension.
    pub fn new(base: P, flow: F) -> Result<Self> {
        dsm_core::validate::same_dim(
            "dimension of the flow",
            flow.dim(),
            "dimension of the base density",
            base.dim(),
        )?;
        if flow.dim() > MAX_PUSHFORWARD_DIM {
            return Err(dsm_core::Error::InvalidParameter {
                owner: "Pushforward",
                name: "flow dimension",
                value: flow.dim() as f64,
                constraint: "<= 32 (the pushforward Hessian needs d⁴ third derivatives)",
            });
        }
        Ok(Self { base, flow })
    }

    /// The base density p.
    pub fn base(&self) -> &P {
        &self.base
    }

    /// The flow T.
    pub fn flow(&self) -> &F {
        &self.flow
    }
}

/// x = T⁻¹(y), m = J(x)⁻¹, ∂J(x), g(x), or None where the flow cannot be inverted.
struct Point {
    x: Vec<f64>,
    m: Vec<f64>,
    dj: Vec<f64>,
    g: Vec<f64>,
}

impl<P, F: Flow> Pushforward<P, F> {
    fn point(&self, y: &[f64]) -> Option<Point> {
        let d = self.flow.dim();
        let mut x = vec![0.0; d];
        self.flow.try_inverse_into(y, &mut x).ok()?;
        let mut j = vec![0.0; d * d];
        self.flow.jacobian_into(&x, &mut j);
        let mut m = vec![0.0; d * d];
        invert_into(&j, d, &mut m).ok()?;
        let mut dj = vec![0.0; d * d * d];
        self.flow.jacobian_gradient_into(&x, &mut dj);
        let g = (0..d)
            .map(|i| {
                let dji = &dj[i * d * d..(i + 1) * d * d];
                let mut acc = 0.0;
                for a in 0..d {
                    for b in 0..d {
                        acc += m[b * d + a] * dji[a * d + b];
                    }
                }
                acc
            })
            .collect();
        Some(Point { x, m, dj, g })
    }
}

impl<P: LogDensity, F: Flow> LogDensity for Pushforward<P, F> {
    fn dim(&self) -> usize {
        self.flow.dim()
    }

    fn log_density(&self, y: &[f64]) -> f64 {
        let mut x = vec![0.0; self.flow.dim()];
        if self.flow.try_inverse_into(y, &mut x).is_err() {
            return f64::NAN;
        }
        match self.flow.log_abs_det_jacobian(&x) {
            Ok(ld) => self.base.log_density(&x) - ld,
            Err(_) => f64::NAN,
        }
    }
}

impl<P: Score, F: Flow> Score for Pushforward<P, F> {
    fn score_into(&self, y: &[f64], out: &mut [f64]) {
        let d = y.len();
        let Some(pt) = self.point(y) else {
            out.fill(f64::NAN);
            return;
        };
        let mut sp = vec![0.0; d];
        self.base.score_into(&pt.x, &mut sp);
        for (a, o) in out.iter_mut().enumerate() {
            *o = (0..d).map(|j| pt.m[j * d + a] * (sp[j] - pt.g[j])).sum();
        }
    }
}

impl<P: Hessian, F: Flow> Hessian for Pushforward<P, F> {
    fn hessian_into(&self, y: &[f64], out: &mut [f64]) {
        let d = y.len();
        let Some(pt) = self.point(y) else {
            out.fill(f64::NAN);
            return;
        };
        let (m, dj, g) = (&pt.m, &pt.dj, &pt.g);
        let mut sp = vec![0.0; d];
        let mut hp = vec![0.0; d * d];
        self.base.score_into(&pt.x, &mut sp);
        self.base.hessian_into(&pt.x, &mut hp);
        let mut t3 = vec![0.0; d * d * d * d];
        self.flow.third_derivatives_into(&pt.x, &mut t3);
        // m ∂ᵢJ for each i: (m dJ_i)_ab = Σ_c m_ac ∂ᵢJ_cb
        let mut mdj = vec![0.0; d * d * d];
        for i in 0..d {
            for a in 0..d {
                for b in 0..d {
                    mdj[(i * d + a) * d + b] =
                        (0..d).map(|c| m[a * d + c] * dj[(i * d + c) * d + b]).sum();
                }
            }
        }
        let v: Vec<f64> = (0..d).map(|j| sp[j] - g[j]).collect();
        // ds[a][i] = ∂s_a/∂x_i
        let mut ds = vec![0.0; d * d];
        for i in 0..d {
            // ∂ᵢg_j = tr(m ∂ᵢ∂ⱼJ) − tr(m∂ᵢJ m∂ⱼJ)
            let dg: Vec<f64> = (0..d)
                .map(|j| {
                    let mut t = 0.0;
                    for a in 0..d {
                        for b in 0..d {
                            t += m[b * d + a] * t3[((i * d + j) * d + a) * d + b];
                            t -= mdj[(i * d + a) * d + b] * mdj[(j * d + b) * d + a];
                        }
                    }
                    t
                })
                .collect();
            for a in 0..d {
                let mut acc = 0.0;
                for j in 0..d {
                    // ∂ᵢm_ja = −(m ∂ᵢJ m)_ja
                    let dm_ja: f64 = -(0..d)
                        .map(|c| mdj[(i * d + j) * d + c] * m[c * d + a])
                        .sum::<f64>();
                    acc += dm_ja * v[j] + m[j * d + a] * (hp[j * d + i] - dg[j]);
                }
                ds[a * d + i] = acc;
            }
        }
        for a in 0..d {
            for l in 0..d {
                out[a * d + l] = (0..d).map(|i| ds[a * d + i] * m[i * d + l]).sum();
            }
        }
    }
}

/// Draws y = T(x), x ~ p. The rule for a draw where T(x) is not finite (an overflow) is:
/// [`Sampler::sample_n`] returns the error naming the sample and, in a chain, the layer
/// ([`Error::NonFiniteLayerOutput`](dsm_core::Error::NonFiniteLayerOutput)); nothing is
/// skipped, so the draws stay those of the base's stream. The infallible
/// [`Sampler::sample_into`] writes NaN there instead.
///
/// # Examples
/// ```
/// use dsm_core::{Gaussian, Par, Sampler};
/// use dsm_flows::{Affine, Flow, Pushforward};
/// let base = Gaussian::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, 1.0])?;
/// let t = Affine::new(2, vec![2.0, 0.0, 1.0, 1.0], vec![1.0, -1.0])?;
/// let ys = Pushforward::new(base.clone(), t.clone())?.sample_n(100, 7, Par::Seq)?;
/// let (direct, _) = t.forward_batch(&base.sample_n(100, 7, Par::Seq)?, Par::Seq)?;
/// assert_eq!(ys.as_slice(), direct.as_slice());
/// # Ok::<(), dsm_core::Error>(())
/// ```
impl<P: Sampler + Sync, F: Flow> Sampler for Pushforward<P, F> {
    fn sample_into<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [f64]) {
        let mut x = vec![0.0; self.flow.dim()];
        self.base.sample_into(rng, &mut x);
        if self.flow.try_transform_into(&x, out).is_err() {
            out.fill(f64::NAN);
        }
    }

    /// The base's `sample_n(n, seed, par)` pushed through T by [`Flow::forward_batch`]:
    /// the same streams as [`Sampler::sample_into`], bit-identical for any `par`.
    ///
    /// # Errors
    /// As the base's `sample_n`, and the first sample by index whose image is not finite
    /// ([`Flow::try_transform_into`], re-indexed).
    fn sample_n(&self, n: usize, seed: u64, par: Par) -> Result<Samples>
    where
        Self: Sync,
    {
        let xs = self.base.sample_n(n, seed, par)?;
        dsm_core::mc::map_rows(
            &xs,
            self.flow.dim(),
            par,
            || (),
            |_, i, x, y| {
                self.flow
                    .try_transform_into(x, y)
                    .map_err(|e| e.at_sample(i))
            },
        )
        .and_then(|ys| Samples::new(ys, self.flow.dim()))
    }
}
