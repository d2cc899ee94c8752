//! Gradient descent on the three losses from a grid of starting points in [−R, R]: where it
//! ends and in how many steps (the practical meaning of the walls of SM and of the
//! fast-convergence regions).
//!
//! The gradient is the total derivative dL/dμ on the sample loss, computed by central
//! differences at every grid point (step 0.1σ, 0.5σ with --quick) and interpolated linearly
//! between them; μ ← μ − η dL/dμ with η = 0.5σ², at most 3000 steps. A run *converges* when
//! |dL/dμ| < 10⁻³ within 0.5σ of μ*, and *fails* when it leaves the plotted range or runs out
//! of steps elsewhere.
//!
//! The manual surrogate is checked against its own fast-convergence region at the smallest
//! threshold thr (the regions experiment), {μ : |dL/dμ| > thr} = {a < |μ − μ*| < b} with
//! length L = 2(b − a): from a start with |μ₀| ≤ L/2 ≤ b every step until the core |μ| < a
//! moves μ by at least η·thr, so it needs at most L/(2η·thr) steps (660 for the defaults,
//! L ≈ 33σ, thr = 0.05) of the 3000, and must reach μ*. Beyond b the manual slope decays and
//! the budget runs out, so it reaches μ* from fewer starts than the Gaussian flow (paper §3.2:
//! the Gaussian region is wider).

use std::path::Path;

use anyhow::Result;

use super::{Experiment, region_length, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, ORANGE_, Panel, Series};
use crate::student::{Family, Loss, grid};

/// Outcome of one descent.
struct Run {
    end: f64,
    steps: usize,
    converged: bool,
}

fn descend(start: f64, xs: &[f64], slope: &[f64], range: f64, lr: f64) -> Run {
    let step = xs[1] - xs[0];
    let grad = |mu: f64| {
        let t = ((mu - xs[0]) / step).clamp(0.0, (xs.len() - 1) as f64);
        let i = (t.floor() as usize).min(xs.len() - 2);
        let w = t - i as f64;
        (1.0 - w) * slope[i] + w * slope[i + 1]
    };
    let mut mu = start;
    for k in 0..3000 {
        let g = grad(mu);
        if g.abs() < 1e-3 {
            return Run {
                end: mu,
                steps: k,
                converged: mu.abs() < 0.5,
            };
        }
        mu -= lr * g;
        if mu.abs() > range {
            return Run {
                end: mu,
                steps: k + 1,
                converged: false,
            };
        }
    }
    Run {
        end: mu,
        steps: 3000,
        converged: false,
    }
}

/// The fraction of runs that reached μ* (0 for no runs).
fn converged_fraction<'a>(runs: impl IntoIterator<Item = &'a Run>) -> f64 {
    let (mut n, mut converged) = (0usize, 0usize);
    for r in runs {
        n += 1;
        converged += usize::from(r.converged);
    }
    converged as f64 / n.max(1) as f64
}

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "descent",
    title: "Gradient descent from −50σ … 50σ",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(_s: &Settings) -> String {
    "Gradient descent makes the regions concrete: from outside the SM walls descent does not reach μ*, \
     while the Gaussian-flow DSM brings every start in the range back to μ*. The manual-flow DSM brings back \
     every start inside its own fast-convergence region (smallest threshold) and, its region being \
     narrower, fewer starts than the Gaussian flow within the 3000-step budget."
        .into()
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let fam = Family {
        nu: s.nu,
        nu0: s.nu0,
        sigma: 1.0,
    };
    let data = fam.data(s.n, s.seed)?;
    let xs = grid(s.range, s.step());
    let starts: Vec<f64> = grid(s.range, if s.quick { 5.0 } else { 2.5 });
    let mut rows = vec![Vec::new(); starts.len()];
    let mut outcomes = Vec::new();
    let mut slopes = Vec::new();
    for loss in Loss::ALL {
        let slope = fam.slope(loss, &xs, &data, true)?;
        let runs: Vec<Run> = starts
            .iter()
            .map(|&m| descend(m, &xs, &slope, s.range, 0.5))
            .collect();
        for (row, (start, r)) in rows.iter_mut().zip(starts.iter().zip(&runs)) {
            if row.is_empty() {
                row.push(*start);
            }
            row.extend([r.end, r.steps as f64, f64::from(u8::from(r.converged))]);
        }
        outcomes.push(runs);
        slopes.push(slope);
    }
    write_csv(
        &out.join("descent.csv"),
        &[
            "start",
            "sm_end",
            "sm_steps",
            "sm_converged",
            "dsm_manual_end",
            "dsm_manual_steps",
            "dsm_manual_converged",
            "dsm_gaussian_end",
            "dsm_gaussian_steps",
            "dsm_gaussian_converged",
        ],
        &rows,
    )?;
    let colors = [BLUE_, ORANGE_, GREEN_];
    let panels = vec![
        Panel {
            title: "where gradient descent ends".into(),
            x_label: "start μ₀ (units of σ)".into(),
            y_label: "final μ (clipped to the range)".into(),
            series: Loss::ALL
                .iter()
                .zip(&outcomes)
                .zip(colors)
                .map(|((l, runs), c)| {
                    let ends: Vec<f64> = runs
                        .iter()
                        .map(|r| r.end.clamp(-s.range, s.range))
                        .collect();
                    Series::new(l.label(), &starts, &ends, c, 2)
                })
                .collect(),
            vlines: vec![],
        },
        Panel {
            title: "steps taken (3000 = did not settle)".into(),
            x_label: "start μ₀ (units of σ)".into(),
            y_label: "steps".into(),
            series: Loss::ALL
                .iter()
                .zip(&outcomes)
                .zip(colors)
                .map(|((l, runs), c)| {
                    Series::new(
                        l.label(),
                        &starts,
                        &runs.iter().map(|r| r.steps as f64).collect::<Vec<_>>(),
                        c,
                        2,
                    )
                })
                .collect(),
            vlines: vec![],
        },
    ];
    plot::save(
        &out.join("descent"),
        "Gradient descent from −R … R (η = 0.5)",
        &panels,
        2,
    )?;

    let all_gauss = outcomes[2].iter().all(|r| r.converged);
    let wall = 5.0; // beyond the SM walls (≈ 3.5σ–4.2σ for ν = 5–10, docs/math.md N8)
    let outside: Vec<&Run> = starts
        .iter()
        .zip(&outcomes[0])
        .filter(|(m, _)| m.abs() > wall)
        .map(|(_, r)| r)
        .collect();
    let sm_fails = outside.iter().all(|r| !r.converged);
    let inside_ok = starts
        .iter()
        .zip(&outcomes[0])
        .filter(|(m, _)| m.abs() < 2.0)
        .all(|(_, r)| r.converged);
    let (manual_fraction, gauss_fraction) = (
        converged_fraction(&outcomes[1]),
        converged_fraction(&outcomes[2]),
    );
    let thr = s.thresholds.iter().copied().fold(f64::INFINITY, f64::min);
    let half = 0.5 * region_length(&slopes[1], s.step(), thr);
    let in_fast: Vec<&Run> = starts
        .iter()
        .zip(&outcomes[1])
        .filter(|(m, _)| m.abs() <= half)
        .map(|(_, r)| r)
        .collect();
    Ok(vec![
        Claim::holds(
            "descent_gaussian_converges_from_every_start",
            "paper §3.2",
            all_gauss,
            "every start reaches μ*",
        ),
        Claim::holds(
            "descent_sm_fails_outside_the_walls",
            "paper §2.2",
            sm_fails,
            "no start beyond 5σ reaches μ*",
        ),
        Claim::holds(
            "descent_sm_converges_inside_the_walls",
            "paper §2.2",
            inside_ok,
            "starts within 2σ reach μ*",
        ),
        Claim {
            name: "descent_manual_converges_in_its_fast_region".into(),
            paper_ref: "paper §3.2".into(),
            measured: converged_fraction(in_fast.iter().copied()),
            expected: format!(
                "1, over {} >= 3 starts with |μ₀| <= {half:.2}σ (half the region at thr {thr})",
                in_fast.len()
            ),
            pass: in_fast.len() >= 3 && in_fast.iter().all(|r| r.converged),
        },
        Claim {
            name: "descent_manual_reaches_fewer_starts".into(),
            paper_ref: "paper §3.2".into(),
            measured: manual_fraction,
            expected: format!("< {gauss_fraction:.3}, the Gaussian flow's fraction"),
            pass: manual_fraction < gauss_fraction,
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descent_converges_on_a_bowl_and_fails_past_a_wall() {
        let xs = grid(50.0, 0.1);
        // L = μ²/2: slope μ; every start converges.
        let bowl: Vec<f64> = xs.clone();
        assert!(
            [-50.0, -3.0, 20.0, 49.0]
                .iter()
                .all(|&m| descend(m, &xs, &bowl, 50.0, 0.5).converged)
        );
        // SM-like: a basin within |μ| < 4, beyond it the slope pushes outwards and decays.
        let walls: Vec<f64> = xs
            .iter()
            .map(|&m| {
                if m.abs() < 4.0 {
                    m
                } else {
                    -m.signum() * 4.0 / (m * m)
                }
            })
            .collect();
        assert!(descend(1.0, &xs, &walls, 50.0, 0.5).converged);
        assert!(!descend(10.0, &xs, &walls, 50.0, 0.5).converged);
    }
}
