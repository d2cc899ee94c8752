//! Section 3.2: the "fast convergence region" {μ : |dL/dμ| > thr} of the two DSM surrogates
//! (MATH.md section 6.4), its length for each threshold, and the ratio Gaussian / manual.

use std::path::Path;

use anyhow::Result;

use super::{region_length, write_csv};
use crate::Settings;
use crate::claims::Claim;
use crate::plot::{self, BLUE_, GREEN_, ORANGE_, Panel, Series};
use crate::student::{Family, Loss, grid};

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let fam = Family {
        nu: s.nu,
        nu0: s.nu0,
        sigma: s.sigma,
    };
    let data = fam.data(s.n, s.seed)?;
    let step = s.step();
    let mus: Vec<f64> = grid(s.range, step).iter().map(|m| m * s.sigma).collect();
    let total_manual = fam.slope(Loss::Manual, &mus, &data, true)?;
    let total_gauss = fam.slope(Loss::Gaussian, &mus, &data, true)?;
    let frozen_manual = fam.slope(Loss::Manual, &mus, &data, false)?;
    let frozen_gauss = fam.slope(Loss::Gaussian, &mus, &data, false)?;
    let sm = fam.slope(Loss::Sm, &mus, &data, true)?;
    let xs: Vec<f64> = mus.iter().map(|m| m / s.sigma).collect();
    let rows: Vec<Vec<f64>> = (0..mus.len())
        .map(|i| {
            vec![
                xs[i],
                sm[i],
                total_manual[i],
                total_gauss[i],
                frozen_manual[i],
                frozen_gauss[i],
            ]
        })
        .collect();
    write_csv(
        &out.join("regions.csv"),
        &[
            "mu",
            "dsm_slope_sm",
            "dsm_slope_manual",
            "dsm_slope_gaussian",
            "frozen_slope_manual",
            "frozen_slope_gaussian",
        ],
        &rows,
    )?;
    let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<f64>>();
    let panels = vec![
        Panel {
            title: "|dL/dμ|, total derivative (m moves with μ)".into(),
            x_label: "model location μ (units of σ)".into(),
            y_label: "|dL/dμ|".into(),
            series: vec![
                Series::new("score matching", &xs, &abs(&sm), BLUE_, 1),
                Series::new("DSM, manual flow", &xs, &abs(&total_manual), ORANGE_, 2),
                Series::new("DSM, Gaussian flow", &xs, &abs(&total_gauss), GREEN_, 2),
            ],
            vlines: vec![],
        },
        Panel {
            title: "|∂L/∂μ| with m frozen at μ".into(),
            x_label: "model location μ (units of σ)".into(),
            y_label: "|∂L/∂μ|".into(),
            series: vec![
                Series::new("DSM, manual flow", &xs, &abs(&frozen_manual), ORANGE_, 2),
                Series::new("DSM, Gaussian flow", &xs, &abs(&frozen_gauss), GREEN_, 2),
            ],
            vlines: vec![],
        },
    ];
    plot::save(
        &out.join("regions"),
        "Fast-convergence regions: where the gradient is large",
        &panels,
        2,
    )?;

    let mut claims = Vec::new();
    let mut table = Vec::new();
    for &thr in &s.thresholds {
        let (lm, lg) = (
            region_length(&total_manual, step * s.sigma, thr),
            region_length(&total_gauss, step * s.sigma, thr),
        );
        let (fm, fg) = (
            region_length(&frozen_manual, step * s.sigma, thr),
            region_length(&frozen_gauss, step * s.sigma, thr),
        );
        table.push(vec![thr, lm, lg, lg / lm, fm, fg]);
        claims.push(Claim {
            name: format!("gaussian_region_wider_thr_{thr}"),
            paper_ref: "paper §3.2; MATH.md §6.4".into(),
            measured: lg / lm,
            expected: format!(
                "ratio > 1 (Gaussian {lg:.2} vs manual {lm:.2} in ±{}σ)",
                s.range
            ),
            pass: lg > lm,
        });
    }
    write_csv(
        &out.join("regions_lengths.csv"),
        &[
            "threshold",
            "length_manual",
            "length_gaussian",
            "ratio",
            "frozen_length_manual",
            "frozen_length_gaussian",
        ],
        &table,
    )?;
    Ok(claims)
}
