//! The pushforward density p_T of y = T(x), x ~ p.

use crate::flow::{Flow, with_scratch};
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
/// The per-point quantities at y, in a scratch slice: x = T⁻¹(y), m = J(x)⁻¹, ∂J(x) and
/// gᵢ = tr(m ∂ᵢJ), from one inverse, one set of hyper-dual passes and one factorisation.
struct Point<'a> {
    x: &'a [f64],
    m: &'a [f64],
    dj: &'a [f64],
    g: &'a [f64],
}

/// Scratch length of [`Pushforward::point`] in dimension d.
fn point_len(d: usize) -> usize {
    2 * d + 2 * d * d + d * d * d + dsm_core::linalg::inverse_scratch_len(d)
}

impl<P, F: Flow> Pushforward<P, F> {
    fn point<'a>(&self, y: &[f64], buf: &'a mut [f64]) -> Option<Point<'a>> {
        let d = self.flow.dim();
        let (x, rest) = buf.split_at_mut(d);
        let (j, rest) = rest.split_at_mut(d * d);
        let (m, rest) = rest.split_at_mut(d * d);
        let (dj, rest) = rest.split_at_mut(d * d * d);
        let (g, work) = rest.split_at_mut(d);
        self.flow.try_inverse_into(y, x).ok()?;
        self.flow.jacobian_and_gradient_into(x, j, dj);
        dsm_core::linalg::invert_in_scratch(j, d, m, work).ok()?;
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
        Some(Point { x, m, dj, g })
    }
}

impl<P: Score, F: Flow> Pushforward<P, F> {
    /// The score at y from its point: s = mᵀ(s_p(x) − g), with s_p(x) left in `sp`.
    fn score_from(&self, pt: &Point<'_>, sp: &mut [f64], out: &mut [f64]) {
        let d = out.len();
        self.base.score_into(pt.x, sp);
        for (a, o) in out.iter_mut().enumerate() {
            *o = (0..d).map(|j| pt.m[j * d + a] * (sp[j] - pt.g[j])).sum();
        }
    }
}

/// Scratch length of the Hessian beyond the point: s_p, H_p, ∂²J (d⁴), m∂J (d³), v, ∂s, ∂g.
fn hessian_len(d: usize) -> usize {
    d + d * d + d * d * d * d + d * d * d + d + d * d + d
}

impl<P: Hessian, F: Flow> Pushforward<P, F> {
    /// ∇²_y log p_T at the point (docs/math.md eqs. 4.10-4.11), s_p(x) left in the scratch's
    /// first d values; `out` is d², row-major.
    fn hessian_from(&self, pt: &Point<'_>, buf: &mut [f64], out: &mut [f64]) {
        let d = pt.x.len();
        let (sp, rest) = buf.split_at_mut(d);
        let (hp, rest) = rest.split_at_mut(d * d);
        let (t3, rest) = rest.split_at_mut(d * d * d * d);
        let (mdj, rest) = rest.split_at_mut(d * d * d);
        let (v, rest) = rest.split_at_mut(d);
        let (ds, rest) = rest.split_at_mut(d * d);
        let dg = &mut rest[..d];
        let (m, dj, g) = (pt.m, pt.dj, pt.g);
        self.base.score_into(pt.x, sp);
        self.base.hessian_into(pt.x, hp);
        self.flow.third_derivatives_into(pt.x, t3);
        // m ∂ᵢJ for each i: (m dJ_i)_ab = Σ_c m_ac ∂ᵢJ_cb
        for i in 0..d {
            for a in 0..d {
                for b in 0..d {
                    mdj[(i * d + a) * d + b] =
                        (0..d).map(|c| m[a * d + c] * dj[(i * d + c) * d + b]).sum();
                }
            }
        }
        for j in 0..d {
            v[j] = sp[j] - g[j];
        }
        // ds[a][i] = ∂s_a/∂x_i
        for i in 0..d {
            // ∂ᵢg_j = tr(m ∂ᵢ∂ⱼJ) − tr(m∂ᵢJ m∂ⱼJ)
            for (j, dgj) in dg.iter_mut().enumerate() {
                let mut t = 0.0;
                for a in 0..d {
                    for b in 0..d {
                        t += m[b * d + a] * t3[((i * d + j) * d + a) * d + b];
                        t -= mdj[(i * d + a) * d + b] * mdj[(j * d + b) * d + a];
                    }
                }
                *dgj = t;
            }
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
        with_scratch(point_len(d) + d, |buf| {
            let (pbuf, sp) = buf.split_at_mut(point_len(d));
            match self.point(y, pbuf) {
                Some(pt) => self.score_from(&pt, sp, out),
                None => out.fill(f64::NAN),
            }
        });
    }
}

impl<P: Hessian, F: Flow> Hessian for Pushforward<P, F> {
    fn hessian_into(&self, y: &[f64], out: &mut [f64]) {
        let d = y.len();
        with_scratch(point_len(d) + hessian_len(d), |buf| {
            let (pbuf, hbuf) = buf.split_at_mut(point_len(d));
            match self.point(y, pbuf) {
                Some(pt) => self.hessian_from(&pt, hbuf, out),
                None => out.fill(f64::NAN),
            }
        });
    }

    /// One T⁻¹, one J and ∂J, one factorisation for both.
    fn score_and_hessian_into(&self, y: &[f64], score: &mut [f64], hessian: &mut [f64]) {
        let d = y.len();
        with_scratch(point_len(d) + hessian_len(d), |buf| {
            let (pbuf, hbuf) = buf.split_at_mut(point_len(d));
            match self.point(y, pbuf) {
                Some(pt) => {
                    self.hessian_from(&pt, hbuf, hessian);
                    // s_p(x) is in hbuf[..d]: s = mᵀ(s_p − g).
                    for (a, o) in score.iter_mut().enumerate() {
                        *o = (0..d).map(|j| pt.m[j * d + a] * (hbuf[j] - pt.g[j])).sum();
                    }
                }
                None => {
                    score.fill(f64::NAN);
                    hessian.fill(f64::NAN);
                }
            }
        });
    }

    /// As [`Hessian::score_and_hessian_into`], the trace taken from the Hessian in `scratch`.
    fn score_and_laplacian(&self, y: &[f64], score: &mut [f64], scratch: &mut [f64]) -> f64 {
        let d = y.len();
        self.score_and_hessian_into(y, score, scratch);
        (0..d).map(|k| scratch[k * d + k]).sum()
    }
}

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
