//! The paper's identities on seeded random instances (random flows of affine, planar and
//! sinh-arcsinh layers, random Gaussian q and Student-t p, d = 1 … 4): the largest relative
//! residual of each, as a table. The property tests prove the same on many more instances;
//! this is the record a reader can inspect.

use std::path::Path;

use anyhow::Result;

use super::{Experiment, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, ORANGE_, PURPLE_, Panel, RED_, Series};
use dsm_core::{
    Diffusion, DiffusionKsd, Estimator, Gaussian, Imq, Ksd, MultivariateStudentT, Par, Samples,
    Score, SteinKernel, diffusion_fisher_divergence_integrand, diffusion_score_matching_integrand,
    score_matching_integrand,
};
use dsm_flows::{
    Affine, Chain, Drift, Elementwise, EulerFlow, Flow, FlowDiffusion, Layer, Planar,
    PulledBackKernel, Pushforward, Scalar, SinhArcsinh,
};
use dsm_riemann::{FlowMetric, riemannian_fisher_divergence_integrand};

/// SplitMix64 uniforms in [−1, 1).
struct Draw(u64);
impl Draw {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        2.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

struct Instance {
    flow: Chain<Layer>,
    q: Gaussian,
    p: MultivariateStudentT,
    p2: MultivariateStudentT,
    x: Vec<f64>,
    x2: Vec<f64>,
}

fn instance(d: usize, r: &mut Draw) -> Result<Instance> {
    let a: Vec<f64> = (0..d * d)
        .map(|k| 0.2 * r.next() / (d as f64).sqrt() + if k / d == k % d { 1.5 } else { 0.0 })
        .collect();
    let w = r.vec(d);
    let mut u: Vec<f64> = r.vec(d).iter().map(|v| 0.6 * v).collect();
    let wu: f64 = w.iter().zip(&u).map(|(a, b)| a * b).sum();
    let w2: f64 = w.iter().map(|v| v * v).sum::<f64>().max(1e-6);
    if wu < -0.8 {
        for (ui, wi) in u.iter_mut().zip(&w) {
            *ui += (-0.8 - wu) * wi / w2;
        }
    }
    let flow = Chain::new(vec![
        Layer::from(Affine::new(d, a, r.vec(d))?),
        Layer::from(Planar::new(u, w, r.next())?),
        Layer::from(Elementwise::uniform(
            SinhArcsinh::new(0.3 * r.next(), 0.7 + 0.3 * r.next().abs())?,
            d,
        )?),
    ])?;
    let scale: Vec<f64> = (0..d * d)
        .map(|k| {
            if k / d == k % d {
                1.0 + 0.5 * r.next().abs()
            } else {
                0.0
            }
        })
        .collect();
    Ok(Instance {
        flow,
        q: Gaussian::new(r.vec(d).iter().map(|v| 0.5 * v).collect(), &scale)?,
        p: MultivariateStudentT::new(r.vec(d), &scale, 2.0 + 5.0 * r.next().abs())?,
        p2: MultivariateStudentT::new(r.vec(d), &scale, 1.5)?,
        x: r.vec(d).iter().map(|v| 2.0 * v).collect(),
        x2: r.vec(d).iter().map(|v| 2.0 * v).collect(),
    })
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1.0)
}

fn forward(t: &impl Flow, x: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    t.transform(x, &mut y);
    y
}

/// dx/dt = A x.
struct Linear(usize, Vec<f64>);
impl Drift for Linear {
    fn dim(&self) -> usize {
        self.0
    }
    fn drift<D: Scalar>(&self, x: &[D], _t: f64, out: &mut [D]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = x.iter().enumerate().fold(D::from(0.0), |acc, (k, xk)| {
                acc + *xk * self.1[j * self.0 + k]
            });
        }
    }
}

/// Residuals of the five identities on one instance.
fn residuals(inst: &Instance, d: usize) -> Result<[f64; 5]> {
    let t = &inst.flow;
    let xs = Samples::new(inst.x.clone(), d)?;
    let y = forward(t, &inst.x);
    let ys = Samples::new(y.clone(), d)?;
    let (qt, pt) = (
        Pushforward::new(inst.q.clone(), t)?,
        Pushforward::new(inst.p.clone(), t)?,
    );
    // Theorem 3.1: ‖s_{q_T} − s_{p_T}‖²(T x) = ‖mᵀ(s_q − s_p)‖²(x).
    let (a, b) = (qt.try_score(&y)?, pt.try_score(&y)?);
    let f_y: f64 = a.iter().zip(&b).map(|(u, v)| (u - v) * (u - v)).sum();
    let m = FlowDiffusion::new(t);
    let d_m = diffusion_fisher_divergence_integrand(&inst.q, &inst.p, &m, &xs, Par::Seq)?[0];
    let thm31 = rel(f_y, d_m);
    // Theorem 3.2 (kernel form): u_{p_T}(T x, T x′) = k⁰(x, x′) with m = J⁻¹, K = k̃(T·, T·).
    let pair_x = Samples::from_rows(&[inst.x.clone(), inst.x2.clone()])?;
    let pair_y = Samples::from_rows(&[y.clone(), forward(t, &inst.x2)])?;
    let u = Ksd::new(Imq::default(), Estimator::V)
        .points(&pt, &pair_y, Par::Seq)?
        .stein_kernel(0, 1, &mut Default::default());
    let k0 = DiffusionKsd::new(
        PulledBackKernel::new(Imq::default(), t),
        FlowDiffusion::new(t),
        Estimator::V,
    )?
    .points(&inst.p, &pair_x, Par::Seq)?
    .stein_kernel(0, 1, &mut Default::default());
    let thm32 = rel(u, k0);
    // Proposition 3.1: eq. 33 with G = JᵀJ equals D_m with m = J⁻¹.
    let riem = riemannian_fisher_divergence_integrand(
        &inst.q,
        &inst.p,
        &FlowMetric::new(t),
        &xs,
        Par::Seq,
    )?[0];
    let prop31 = rel(riem, d_m);
    // N4: DSM in x − SM in y does not depend on the model.
    let gap = |p: &MultivariateStudentT| -> Result<f64> {
        Ok(diffusion_score_matching_integrand(p, &m, &xs, Par::Seq)?[0]
            - score_matching_integrand(&Pushforward::new(p.clone(), t)?, &ys, Par::Seq)?[0])
    };
    let n4 = rel(gap(&inst.p)?, gap(&inst.p2)?);
    // Proposition 3.2 (discrete): the Euler trajectory's δ_k against the exact scores of the
    // Gaussian pushforwards N(Mμ, MΣMᵀ), M = (I + hA)^k.
    let a: Vec<f64> = inst
        .x2
        .iter()
        .cycle()
        .take(d * d)
        .map(|v| 0.3 * v)
        .collect();
    let (h, steps) = (0.05, 6);
    let pg = Gaussian::new(
        vec![0.3; d],
        &(0..d * d)
            .map(|k| if k / d == k % d { 2.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    )?;
    let traj = EulerFlow::new(Linear(d, a.clone()), 0.0, h, steps)?.fisher_trajectory(
        &inst.q,
        &pg,
        &xs,
        Par::Seq,
    )?;
    let step: Vec<f64> = (0..d * d)
        .map(|k| h * a[k] + if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    let mut mk: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    for _ in 0..steps {
        mk = (0..d * d)
            .map(|k| {
                (0..d)
                    .map(|l| step[(k / d) * d + l] * mk[l * d + k % d])
                    .sum()
            })
            .collect();
    }
    let push = |g: &Gaussian| -> Result<Gaussian> {
        let mean: Vec<f64> = (0..d)
            .map(|i| (0..d).map(|j| mk[i * d + j] * g.mean()[j]).sum())
            .collect();
        let s = g.covariance();
        let ms: Vec<f64> = (0..d * d)
            .map(|k| (0..d).map(|l| mk[(k / d) * d + l] * s[l * d + k % d]).sum())
            .collect();
        let cov: Vec<f64> = (0..d * d)
            .map(|k| {
                (0..d)
                    .map(|l| ms[(k / d) * d + l] * mk[(k % d) * d + l])
                    .sum()
            })
            .collect();
        Ok(Gaussian::new(mean, &cov)?)
    };
    let xk: Vec<f64> = (0..d)
        .map(|i| (0..d).map(|j| mk[i * d + j] * inst.x[j]).sum())
        .collect();
    let (sq, sp) = (push(&inst.q)?.try_score(&xk)?, push(&pg)?.try_score(&xk)?);
    let exact: f64 = sq.iter().zip(&sp).map(|(u, v)| (u - v) * (u - v)).sum();
    let prop32 = rel(traj.direct[steps].value, exact);
    let _ = m.dim();
    Ok([thm31, thm32, prop31, prop32, n4])
}

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "identities",
    title: "Theorems 3.1, 3.2, Propositions 3.1, 3.2 on random instances",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(_s: &Settings) -> String {
    "Theorems 3.1 and 3.2 and Propositions 3.1 and 3.2 are identities; on seeded random flows and \
     densities their residuals are at the level of rounding."
        .into()
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let names = [
        ("theorem_3_1", "Theorem 3.1 (eq. 9–10, N1)"),
        ("theorem_3_2", "Theorem 3.2 (eq. 11, N6)"),
        ("proposition_3_1", "Proposition 3.1 (eq. 13, 33, N10)"),
        ("proposition_3_2", "Proposition 3.2 (eq. 36, N7)"),
        ("objectives_n4", "DSM − SM_y depends on T only (N4)"),
    ];
    let count = if s.quick { 12 } else { 60 };
    let mut r = Draw(s.seed);
    let mut per = vec![Vec::new(); names.len()];
    for k in 0..count {
        let d = 1 + k % 4;
        let inst = instance(d, &mut r)?;
        for (j, v) in residuals(&inst, d)?.into_iter().enumerate() {
            per[j].push(v);
        }
    }
    let rows: Vec<Vec<f64>> = (0..count)
        .map(|k| (0..names.len()).map(|j| per[j][k]).collect())
        .collect();
    let header: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    write_csv(&out.join("identities.csv"), &header, &rows)?;
    let idx: Vec<f64> = (0..count).map(|k| k as f64).collect();
    let colors = [BLUE_, ORANGE_, GREEN_, RED_, PURPLE_];
    let panels = vec![Panel {
        title: "relative residual per random instance (log10)".into(),
        x_label: "instance (d = 1 + k mod 4)".into(),
        y_label: "log10 relative residual".into(),
        series: names
            .iter()
            .zip(&per)
            .zip(colors)
            .map(|(((_, label), v), c)| {
                Series::new(
                    label,
                    &idx,
                    &v.iter().map(|x| x.max(1e-18).log10()).collect::<Vec<_>>(),
                    c,
                    2,
                )
            })
            .collect(),
        vlines: vec![],
    }];
    plot::save(
        &out.join("identities"),
        "The paper's identities hold to rounding",
        &panels,
        1,
    )?;
    Ok(names
        .iter()
        .zip(&per)
        .map(|((name, label), v)| {
            Claim::at_most(
                &format!("identity_{name}_max_residual"),
                label,
                v.iter().fold(0.0, |m, x| m.max(*x)),
                1e-9,
            )
        })
        .collect())
}
