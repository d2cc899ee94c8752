//! Figure 2 / Appendix D (docs/math.md eq. 41): log-densities of q = St(μ*, σ, ν) and
//! p = St(μ, σ, ν) before and after the manual flow T centred at the model mean (μ* = 0,
//! μ = 5σ). After the flow p_T ∝ sech(y/(√ν σ))^ν: light tails and log-concave.

use std::path::Path;

use anyhow::Result;

use super::{Experiment, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, ORANGE_, Panel, Series};
use dsm_core::{Hessian, LogDensity, StudentT};
use dsm_flows::{Flow, ManualFlow, Pushforward};

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "fig2",
    title: "Figure 2 / Appendix D: densities before and after the manual flow",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(_s: &Settings) -> String {
    "Appendix D (eq. 41): after the manual flow T (centred at the model mean μ = 5σ) the model becomes \
     p_T ∝ sech(y/(√ν σ))^ν, light-tailed and log-concave, which is why DSM behaves well."
        .into()
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let (nu, sigma) = (s.nu, s.sigma);
    let mu = 5.0 * sigma;
    let q = StudentT::new(0.0, sigma, nu)?;
    let p = StudentT::new(mu, sigma, nu)?;
    let flow = ManualFlow::new(mu, sigma, nu)?;
    let (qt, pt) = (Pushforward::new(q, flow)?, Pushforward::new(p, flow)?);
    let n = if s.quick { 201 } else { 1001 };
    let xs: Vec<f64> = (0..n)
        .map(|k| -25.0 * sigma + 55.0 * sigma * k as f64 / (n - 1) as f64)
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            let mut y = [0.0];
            flow.transform(&[x], &mut y);
            y[0]
        })
        .collect();
    let (mut lq, mut lp, mut lqt, mut lpt, mut hpt) = (vec![], vec![], vec![], vec![], vec![]);
    for (&x, &y) in xs.iter().zip(&ys) {
        lq.push(q.log_density(&[x]));
        lp.push(p.log_density(&[x]));
        lqt.push(qt.log_density(&[y]));
        lpt.push(pt.log_density(&[y]));
        hpt.push(pt.try_hessian(&[y])?[0]);
    }
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| vec![xs[i], lq[i], lp[i], ys[i], lqt[i], lpt[i]])
        .collect();
    write_csv(
        &out.join("fig2.csv"),
        &["x", "log_q", "log_p", "y", "log_q_t", "log_p_t"],
        &rows,
    )?;
    let panels = vec![
        Panel {
            title: "before the flow: x-space".into(),
            x_label: "x".into(),
            y_label: "log density".into(),
            series: vec![
                Series::new("log q (μ* = 0)", &xs, &lq, BLUE_, 2),
                Series::new("log p (μ = 5σ)", &xs, &lp, ORANGE_, 2),
            ],
            vlines: vec![],
        },
        Panel {
            title: "after the manual flow: y = T(x)".into(),
            x_label: "y".into(),
            y_label: "log density".into(),
            series: vec![
                Series::new("log q_T", &ys, &lqt, BLUE_, 2),
                Series::new("log p_T", &ys, &lpt, ORANGE_, 2),
            ],
            vlines: vec![],
        },
    ];
    plot::save(
        &out.join("fig2"),
        "Appendix D: the manual flow makes p light-tailed and log-concave",
        &panels,
        2,
    )?;

    // log p_T(y) + ν log cosh(y/(√ν σ)) is a constant (eq. 41).
    let w = nu.sqrt() * sigma;
    let resid: Vec<f64> = ys
        .iter()
        .zip(&lpt)
        .map(|(y, l)| l + nu * (y / w).cosh().ln())
        .collect();
    let spread = resid.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v))
        - resid.iter().fold(f64::INFINITY, |m, v| m.min(*v));
    Ok(vec![
        Claim::at_most(
            "fig2_p_t_is_sech_power",
            "paper eq. 41, App. D",
            spread,
            1e-9,
        ),
        Claim::holds(
            "fig2_p_t_log_concave",
            "paper App. D",
            hpt.iter().all(|h| *h <= 1e-12),
            "∇² log p_T ≤ 0 on the grid",
        ),
    ])
}
