//! Proposition 3.2 along an Euler-discretised ODE flow: F(q_t‖p_t) computed directly
//! (Theorem 3.1 for the time-t map, on samples of q₀) and by integrating the rate
//! −E[δᵀ(J_f + J_fᵀ)δ] (eq. 15); their gap is first order in the step h.

use std::path::Path;

use anyhow::Result;

use super::{Experiment, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, GREY_, ORANGE_, Panel, Series};
use dsm_core::{Gaussian, MultivariateStudentT, Par, Sampler};
use dsm_flows::{Drift, EulerFlow, Scalar};

/// dx/dt = A x + ½ sin(x) + (0.3 t, 0): a rotation-shear with a nonlinearity and a time term.
struct Swirl;
impl Drift for Swirl {
    fn dim(&self) -> usize {
        2
    }
    fn drift<D: Scalar>(&self, x: &[D], t: f64, out: &mut [D]) {
        out[0] = x[0] * -0.5 + x[1] * 0.8 + x[0].sin() * 0.5 + 0.3 * t;
        out[1] = x[0] * -0.8 - x[1] * 0.3 + x[1].sin() * 0.5;
    }
}

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "ode",
    title: "Proposition 3.2 along an Euler flow",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(_s: &Settings) -> String {
    "Proposition 3.2: along an ODE flow the Fisher divergence changes at rate −E[δᵀ(J_f + J_fᵀ)δ]. We \
     integrate that rate along an Euler flow and compare with F computed directly by Theorem 3.1 for the \
     time-t map; the gap halves with the step."
        .into()
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let q0 = Gaussian::new(vec![0.0, 0.0], &[1.0, 0.3, 0.3, 0.8])?;
    let p0 = MultivariateStudentT::new(vec![1.0, -0.5], &[1.5, 0.0, 0.0, 1.0], 4.0)?;
    let n = if s.quick { 500 } else { 4000 };
    let xs = q0.sample_n(n, s.seed, Par::rayon(0))?;
    let horizon = 2.0;
    let fine =
        EulerFlow::new(Swirl, 0.0, 0.01, 200)?.fisher_trajectory(&q0, &p0, &xs, Par::rayon(0))?;
    let coarse =
        EulerFlow::new(Swirl, 0.0, 0.02, 100)?.fisher_trajectory(&q0, &p0, &xs, Par::rayon(0))?;
    let rows: Vec<Vec<f64>> = (0..fine.times.len())
        .map(|k| {
            let c = if k % 2 == 0 {
                (coarse.direct[k / 2].value, coarse.integrated[k / 2])
            } else {
                (f64::NAN, f64::NAN)
            };
            vec![
                fine.times[k],
                fine.direct[k].value,
                fine.direct[k].std_err,
                fine.integrated[k],
                fine.rate[k].value,
                c.0,
                c.1,
            ]
        })
        .collect();
    write_csv(
        &out.join("ode.csv"),
        &[
            "t",
            "direct_h0.01",
            "direct_std_err_h0.01",
            "integrated_h0.01",
            "rate_h0.01",
            "direct_h0.02",
            "integrated_h0.02",
        ],
        &rows,
    )?;
    let gap = |tr: &dsm_flows::FisherTrajectory| {
        tr.direct
            .iter()
            .zip(&tr.integrated)
            .map(|(d, i)| (d.value - i).abs())
            .fold(0.0, f64::max)
    };
    let (g_fine, g_coarse) = (gap(&fine), gap(&coarse));
    let ct: Vec<f64> = coarse.times.clone();
    let panels = vec![
        Panel {
            title: "F(q_t‖p_t): direct (Thm 3.1) and integrated rate (Prop 3.2)".into(),
            x_label: "t".into(),
            y_label: "Fisher divergence".into(),
            series: vec![
                Series::new(
                    "direct, h = 0.01",
                    &fine.times,
                    &fine.direct.iter().map(|e| e.value).collect::<Vec<_>>(),
                    BLUE_,
                    2,
                ),
                Series::new(
                    "integrated, h = 0.01",
                    &fine.times,
                    &fine.integrated,
                    ORANGE_,
                    2,
                ),
                Series::new(
                    "direct, h = 0.02",
                    &ct,
                    &coarse.direct.iter().map(|e| e.value).collect::<Vec<_>>(),
                    GREY_,
                    1,
                ),
                Series::new("integrated, h = 0.02", &ct, &coarse.integrated, GREEN_, 1),
            ],
            vlines: vec![],
        },
        Panel {
            title: "gap |direct − integrated|".into(),
            x_label: "t".into(),
            y_label: "gap".into(),
            series: vec![
                Series::new(
                    "h = 0.01",
                    &fine.times,
                    &fine
                        .direct
                        .iter()
                        .zip(&fine.integrated)
                        .map(|(d, i)| (d.value - i).abs())
                        .collect::<Vec<_>>(),
                    BLUE_,
                    2,
                ),
                Series::new(
                    "h = 0.02",
                    &ct,
                    &coarse
                        .direct
                        .iter()
                        .zip(&coarse.integrated)
                        .map(|(d, i)| (d.value - i).abs())
                        .collect::<Vec<_>>(),
                    ORANGE_,
                    2,
                ),
            ],
            vlines: vec![],
        },
    ];
    plot::save(
        &out.join("ode"),
        &format!("Proposition 3.2 on an Euler flow to t = {horizon}"),
        &panels,
        2,
    )?;
    Ok(vec![
        Claim {
            name: "ode_gap_first_order_in_h".into(),
            paper_ref: "paper Prop. 3.2, eq. 15; docs/math.md N7".into(),
            measured: g_coarse / g_fine,
            expected: "gap(h=0.02)/gap(h=0.01) in [1.6, 2.4]".into(),
            pass: (1.6..=2.4).contains(&(g_coarse / g_fine)),
        },
        Claim::at_most(
            "ode_gap_h0.01_relative",
            "paper Prop. 3.2",
            g_fine / fine.direct[0].value.max(1e-12),
            0.1,
        ),
    ])
}
