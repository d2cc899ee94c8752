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
struct PointTable {
    data: Vec<f64>,
    stride: usize,
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
    let rows = mc::map_rows(
        samples,
        width,
        par,
        || {
            (
                vec![0.0; d],
                vec![0.0; d],
                vec![0.0; d * d],
                vec![0.0; 2 * d],
            )
        },
        |(gx, gy, cross, v), i, xi, row| {
            row.fill(0.0);
            let ti = &table.data[i * table.stride..(i + 1) * table.stride];
            for j in 0..n {
                if j == i && estimator == Estimator::U {
                    continue;
                }
                let tj = &table.data[j * table.stride..(j + 1) * table.stride];
                let k = kernel.derivatives_into(xi, samples.row(j), gx, gy, cross);
                // vᵢⱼ = b_j k + m_jᵀ∇_y k and vⱼᵢ = bᵢ k + mᵢᵀ∇ₓk: ∂k⁰/∂b at each end.
                let (vj, vi) = v.split_at_mut(d);
                stein_direction(tj, gy, k, d, vj);
                stein_direction(ti, gx, k, d, vi);
                let (bi, bj) = (&ti[d + d * d..], &tj[d + d * d..]);
                let (grad, hess) = row.split_at_mut(p);
                for a in 0..p {
                    let (bia, bja) = (&bi[a * d..(a + 1) * d], &bj[a * d..(a + 1) * d]);
                    grad[a] += dot(bia, vj) + dot(bja, vi);
                    for c in 0..p {
                        let (bic, bjc) = (&bi[c * d..(c + 1) * d], &bj[c * d..(c + 1) * d]);
                        hess[a * p + c] += k * (dot(bia, bjc) + dot(bic, bja));
                    }
                }
            }
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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// out = b k + mᵀg for one point's table entry (b, m, …) and a kernel gradient g.
fn stein_direction(t: &[f64], g: &[f64], k: f64, d: usize, out: &mut [f64]) {
    let (b, m) = (&t[..d], &t[d..d + d * d]);
    for (a, o) in out.iter_mut().enumerate() {
        *o = b[a] * k + (0..d).map(|c| m[c * d + a] * g[c]).sum::<f64>();
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
    Ok(PointTable { data, stride })
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
