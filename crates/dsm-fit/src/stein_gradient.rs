//! The KSD and DKSD of a parametric model with their exact θ-gradients, U and V.

use num_dual::HyperDual64;

use crate::duals::with_duals;
use crate::model::ParametricModel;
use crate::objective_gradient::{ObjectiveGradient, check_inputs, weighted_column_means};
use dsm_core::mc::{self, Par};
use dsm_core::{
    Diffusion, DiffusionWork, Error, Estimate, Estimator, Kernel, Result, Samples, SteinKernel,
};

/// The per-point table of the gradient: b = mᵀs + ∇·m (d), m (d², row-major), and
/// B = mᵀ∂θs (p × d, row k = mᵀ∂θₖs).
/// Stored in columns: field f of point j at `cols[f·n + j]`, with the fields b_a (a < d),
/// m_ca (d + c·d + a) and B_qa (d + d² + q·d + a).
struct PointTable {
    cols: Vec<f64>,
    d: usize,
    p: usize,
}

/// What a Stein discrepancy objective is made of: its name for errors, its base kernel, its
/// diffusion (`None` for the Langevin KSD) and its estimator.
pub(crate) struct SteinParts<'a, K, A> {
    pub(crate) owner: &'static str,
    pub(crate) kernel: &'a K,
    pub(crate) diffusion: Option<&'a A>,
    pub(crate) estimator: Estimator,
}

/// The Stein discrepancy (KSD with `diffusion = None`, DKSD otherwise) of a model at θ, its
/// exact θ-gradient, per-sample Hoeffding projections and Gauss–Newton Hessian
/// (docs/math.md eqs. 11.8–11.9). The value comes from dsm-core's estimator `stein`.
pub(crate) fn stein_gradient<M, K, S, A>(
    stein: &S,
    parts: SteinParts<'_, K, A>,
    model: &M,
    theta: &[f64],
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient>
where
    M: ParametricModel,
    K: Kernel,
    S: SteinKernel,
    A: Diffusion,
{
    let SteinParts {
        owner,
        kernel,
        diffusion,
        estimator,
    } = parts;
    let p = check_inputs(owner, model, theta, samples)?;
    if samples.weights().is_some() {
        return Err(Error::Unsupported {
            what: "weighted samples in the KSD and DKSD θ-gradients",
        });
    }
    let (n, d) = (samples.n(), samples.dim());
    let min_n = if estimator == Estimator::U { 2 } else { 1 };
    if n < min_n {
        return Err(Error::TooFewSamples {
            needed: min_n,
            got: n,
        });
    }
    if let Some(a) = diffusion {
        dsm_core::validate::same_dim(
            "dimension of the diffusion",
            a.dim(),
            "dimension of the samples",
            d,
        )?;
    }
    let at = model.at(theta)?;
    let estimate = stein.estimate(&at, samples, par)?;
    let table = point_table(model, diffusion, theta, samples, p, par)?;
    let count = if estimator == Estimator::U { n - 1 } else { n } as f64;
    let width = p + p * p;
    let radial = kernel.radial_profile(0.0).is_some();
    let xs = samples.as_slice();
    let rows = mc::map_rows(
        samples,
        width,
        par,
        || RowScratch::new(d, p, n),
        |sc, i, xi, row| {
            kernel_columns(kernel, radial, xs, xi, d, sc);
            if estimator == Estimator::U {
                sc.k[i] = 0.0;
                for a in 0..d {
                    sc.gx[a * n + i] = 0.0;
                    sc.gy[a * n + i] = 0.0;
                }
            }
            row_terms(&table, i, sc, row);
            for r in row.iter_mut() {
                *r /= count;
            }
            if row.iter().all(|r| r.is_finite()) {
                Ok(())
            } else {
                Err(Error::NonFiniteValue {
                    quantity: "θ-gradient of the Stein discrepancy",
                    index: i,
                })
            }
        },
    )?;
    let means = weighted_column_means(&rows, width, None);
    let mut per_sample = Vec::with_capacity(n * p);
    for row in rows.chunks_exact(width) {
        per_sample.extend_from_slice(&row[..p]);
    }
    Ok(ObjectiveGradient {
        value: Estimate {
            value: estimate.value,
            std_err: estimate.std_err,
            n,
        },
        gradient: means[..p].to_vec(),
        per_sample,
        hessian: means[p..].to_vec(),
        projection_factor: 4.0,
    })
}

/// Per-chunk scratch of one row i of the pair sums, in columns over j: k(xᵢ, xⱼ), ∇ₓk and
/// ∇_y k (d columns each), the Stein directions vⱼ = b_j k + m_jᵀ∇_y k and vᵢ = bᵢ k + mᵢᵀ∇ₓk
/// (d columns each), and the radial kernels' squared distances and φ′.
struct RowScratch {
    k: Vec<f64>,
    gx: Vec<f64>,
    gy: Vec<f64>,
    vj: Vec<f64>,
    vi: Vec<f64>,
    u: Vec<f64>,
    dphi: Vec<f64>,
    pair_gx: Vec<f64>,
    pair_gy: Vec<f64>,
    cross: Vec<f64>,
    s: Vec<f64>,
}

impl RowScratch {
    fn new(d: usize, p: usize, n: usize) -> Self {
        Self {
            k: vec![0.0; n],
            gx: vec![0.0; d * n],
            gy: vec![0.0; d * n],
            vj: vec![0.0; d * n],
            vi: vec![0.0; d * n],
            u: vec![0.0; n],
            dphi: vec![0.0; n],
            pair_gx: vec![0.0; d],
            pair_gy: vec![0.0; d],
            cross: vec![0.0; d * d],
            s: vec![0.0; p * d],
        }
    }
}

/// k(xᵢ, xⱼ), ∇ₓk and ∇_y k for every j into the scratch's columns: a radial kernel from its
/// batched profile (∇ₓk = 2φ′r = −∇_y k, r = xᵢ − xⱼ), others pair by pair.
fn kernel_columns<K: Kernel>(
    kernel: &K,
    radial: bool,
    xs: &[f64],
    xi: &[f64],
    d: usize,
    sc: &mut RowScratch,
) {
    let n = sc.k.len();
    if radial {
        sc.u.fill(0.0);
        for a in 0..d {
            let column = &mut sc.gx[a * n..(a + 1) * n];
            for (j, (g, u)) in column.iter_mut().zip(sc.u.iter_mut()).enumerate() {
                let r = xi[a] - xs[j * d + a];
                *g = r;
                *u += r * r;
            }
        }
        let (k, dphi) = (&mut sc.k, &mut sc.dphi);
        kernel.radial_profile_each(&sc.u, |j, [f, f1, _]| {
            k[j] = f;
            dphi[j] = 2.0 * f1;
        });
        for a in 0..d {
            let (gx, gy) = (
                &mut sc.gx[a * n..(a + 1) * n],
                &mut sc.gy[a * n..(a + 1) * n],
            );
            for ((gxj, gyj), two_dphi) in gx.iter_mut().zip(gy.iter_mut()).zip(&sc.dphi) {
                *gxj *= two_dphi;
                *gyj = -*gxj;
            }
        }
    } else {
        for j in 0..n {
            sc.k[j] = kernel.derivatives_into(
                xi,
                &xs[j * d..(j + 1) * d],
                &mut sc.pair_gx,
                &mut sc.pair_gy,
                &mut sc.cross,
            );
            for a in 0..d {
                sc.gx[a * n + j] = sc.pair_gx[a];
                sc.gy[a * n + j] = sc.pair_gy[a];
            }
        }
    }
}

/// Row i of the pair sums (eqs. 11.8, 11.9) from the kernel columns: [Σⱼ ∇θk⁰(xᵢ, xⱼ) (p),
/// Σⱼ k (BᵢᵀBⱼ + BⱼᵀBᵢ) (p²)], every sum over j in order.
fn row_terms(table: &PointTable, i: usize, sc: &mut RowScratch, row: &mut [f64]) {
    let (d, p, n) = (table.d, table.p, sc.k.len());
    let col = |f: usize| &table.cols[f * n..(f + 1) * n];
    let b_field = |a: usize| a;
    let m_field = |c: usize, a: usize| d + c * d + a;
    let big_b_field = |q: usize, a: usize| d + d * d + q * d + a;
    let at_i = |f: usize| table.cols[f * n + i];
    for a in 0..d {
        let (vj, vi) = (
            &mut sc.vj[a * n..(a + 1) * n],
            &mut sc.vi[a * n..(a + 1) * n],
        );
        let (b, bi) = (col(b_field(a)), at_i(b_field(a)));
        for j in 0..n {
            vj[j] = b[j] * sc.k[j];
            vi[j] = bi * sc.k[j];
        }
        for c in 0..d {
            let (m, mi) = (col(m_field(c, a)), at_i(m_field(c, a)));
            let (gx, gy) = (&sc.gx[c * n..(c + 1) * n], &sc.gy[c * n..(c + 1) * n]);
            for j in 0..n {
                vj[j] += m[j] * gy[j];
                vi[j] += mi * gx[j];
            }
        }
    }
    let (grad, hess) = row.split_at_mut(p);
    for (q, gq) in grad.iter_mut().enumerate() {
        let mut g = 0.0;
        for a in 0..d {
            let big_b = col(big_b_field(q, a));
            let (vj, vi) = (&sc.vj[a * n..(a + 1) * n], &sc.vi[a * n..(a + 1) * n]);
            let (mut sum_vj, mut sum_bvi, mut sum_kb) = (0.0, 0.0, 0.0);
            for j in 0..n {
                sum_vj += vj[j];
                sum_bvi += big_b[j] * vi[j];
                sum_kb += sc.k[j] * big_b[j];
            }
            g += at_i(big_b_field(q, a)) * sum_vj + sum_bvi;
            sc.s[q * d + a] = sum_kb;
        }
        *gq = g;
    }
    for q in 0..p {
        for c in 0..p {
            hess[q * p + c] = (0..d)
                .map(|a| {
                    at_i(big_b_field(q, a)) * sc.s[c * d + a]
                        + at_i(big_b_field(c, a)) * sc.s[q * d + a]
                })
                .sum();
        }
    }
}

/// b, m and B = mᵀ∂θs at every sample (m = I without a diffusion).
fn point_table<M: ParametricModel, A: Diffusion>(
    model: &M,
    diffusion: Option<&A>,
    theta: &[f64],
    samples: &Samples,
    p: usize,
    par: Par,
) -> Result<PointTable> {
    let d = samples.dim();
    let stride = d + d * d + p * d;
    let data = mc::map_rows(
        samples,
        stride,
        par,
        || {
            (
                DiffusionWork::new(),
                vec![0.0; d],
                vec![0.0; p * d],
                vec![0.0; d],
            )
        },
        |(work, s, ds, div), i, x, row| {
            scores_and_theta_derivatives(model, theta, x, s, ds);
            let (b, rest) = row.split_at_mut(d);
            let (m, big_b) = rest.split_at_mut(d * d);
            match diffusion {
                Some(a) => {
                    a.matrix_into(x, m).map_err(|e| e.at_sample(i))?;
                    a.divergence_into(x, work, div)
                        .map_err(|e| e.at_sample(i))?;
                }
                None => {
                    m.fill(0.0);
                    for a in 0..d {
                        m[a * d + a] = 1.0;
                    }
                    div.fill(0.0);
                }
            }
            for a in 0..d {
                b[a] = (0..d).map(|c| m[c * d + a] * s[c]).sum::<f64>() + div[a];
                for k in 0..p {
                    big_b[k * d + a] = (0..d).map(|c| m[c * d + a] * ds[k * d + c]).sum();
                }
            }
            if row.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Error::NonFiniteValue {
                    quantity: "Stein vector b = mᵀs + ∇·m or its θ-derivative",
                    index: i,
                })
            }
        },
    )?;
    let n = samples.n();
    let mut cols = vec![0.0; stride * n];
    for (j, row) in data.chunks_exact(stride).enumerate() {
        for (f, v) in row.iter().enumerate() {
            cols[f * n + j] = *v;
        }
    }
    Ok(PointTable { cols, d, p })
}

/// s = ∇ₓℓ and ∂θₖs (row k) at x: one hyper-dual evaluation per (xᵢ, θₖ).
fn scores_and_theta_derivatives<M: ParametricModel>(
    model: &M,
    theta: &[f64],
    x: &[f64],
    s: &mut [f64],
    ds: &mut [f64],
) {
    let d = x.len();
    with_duals(theta, x, HyperDual64::from, |th, xs| {
        for i in 0..d {
            xs[i].eps1 = 1.0;
            for k in 0..th.len() {
                th[k].eps2 = 1.0;
                let l = model.log_density_generic(th, xs);
                th[k].eps2 = 0.0;
                if k == 0 {
                    s[i] = l.eps1;
                }
                ds[k * d + i] = l.eps1eps2;
            }
            xs[i].eps1 = 0.0;
        }
    });
}
