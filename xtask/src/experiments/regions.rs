//! Section 3.2: the "fast convergence region" {μ : |dL/dμ| > thr} of the two DSM surrogates
//! (docs/math.md section 6.4), its length for each threshold, and the ratio Gaussian / manual.
//!
//! The lengths on the N samples are checked against the population lengths (the same slopes
//! on quadrature nodes). Where the population |dL/dμ| crosses thr at μ_c, the sample crossing
//! moves by about (Ŝ − S)(μ_c) / (d|S|/dμ)(μ_c), Ŝ the sample slope with standard error se; on
//! the grid each crossing adds at most one step more. The tolerance is therefore
//!
//! ```text
//! tol = Σ_c [ Z · se(μ_c) / |d|S|/dμ (μ_c)| + Δμ ],     Z = 4,
//! ```
//!
//! summed over the interior crossings c (a region cut off by the plotted range has no crossing
//! there: both lengths stop at ±R). Each sample crossing μ̂_c (linear interpolation on the grid)
//! is also checked on its own: |μ̂_c − μ_c| · |d|S|/dμ| / se ≤ Z, with the same number of
//! crossings as the population.

use std::path::Path;

use anyhow::Result;
use dsm_core::{Estimate, Par, Samples};

use super::{Experiment, region_length, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, ORANGE_, Panel, Series};
use crate::student::{Family, Loss, grid};

/// Standard errors of the sample slope allowed at each crossing of the threshold.
const Z: f64 = 4.0;

/// The sample slope dL/dμ at `mu` (total derivative) with its standard error: the mean of the
/// library's exact per-sample gradients.
fn slope_estimate(fam: &Family, loss: Loss, mu: f64, data: &Samples) -> Result<Estimate> {
    let g = fam.gradient(loss, mu, data, true)?;
    Ok(Estimate::from_values(
        &g.per_sample,
        data.weights(),
        Par::Seq,
    )?)
}

/// Interior crossings of |slope| through `thr` on the grid: (position by linear interpolation,
/// d|slope|/dμ over the grid cell).
fn crossings(mus: &[f64], slope: &[f64], thr: f64) -> Vec<(f64, f64)> {
    mus.windows(2)
        .zip(slope.windows(2))
        .filter_map(|(m, v)| {
            let (a, b) = (v[0].abs() - thr, v[1].abs() - thr);
            ((a > 0.0) != (b > 0.0))
                .then(|| (m[0] + (m[1] - m[0]) * a / (a - b), (b - a) / (m[1] - m[0])))
        })
        .collect()
}

/// A crossing of the population |dL/dμ| through the threshold.
struct Boundary {
    /// Its position μ_c.
    at: f64,
    /// d|S|/dμ there.
    rate: f64,
    /// Standard error of the sample slope at μ_c.
    std_err: f64,
}

impl Boundary {
    /// The standard error of the sample crossing's position, se(μ_c) / |d|S|/dμ (μ_c)|.
    fn position_err(&self) -> f64 {
        self.std_err / self.rate.abs()
    }
}

/// The interior crossings of the population slope, with the sample slope's standard error.
fn boundaries(
    fam: &Family,
    loss: Loss,
    mus: &[f64],
    population_slope: &[f64],
    thr: f64,
    data: &Samples,
) -> Result<Vec<Boundary>> {
    crossings(mus, population_slope, thr)
        .into_iter()
        .map(|(at, rate)| {
            Ok(Boundary {
                at,
                rate,
                std_err: slope_estimate(fam, loss, at, data)?.std_err,
            })
        })
        .collect()
}

/// The largest |μ̂_c − μ_c| / (se/|d|S|/dμ|) over matched crossings, μ̂_c those of the sample
/// slope; +∞ when the sample and the population cross the threshold a different number of times.
fn boundary_max_z(population: &[Boundary], sample: &[(f64, f64)]) -> f64 {
    if population.len() != sample.len() {
        return f64::INFINITY;
    }
    population
        .iter()
        .zip(sample)
        .map(|(b, (at, _))| (at - b.at).abs() / b.position_err())
        .fold(0.0, f64::max)
}

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "regions",
    title: "Section 3.2: the fast-convergence regions",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(_s: &Settings) -> String {
    "The paper (§3.2) says the Gaussian-flow surrogate has a much wider \"fast convergence region\" \
     (where |dL/dμ| exceeds a threshold) than the manual one, by \"more than N times\"; threshold, lengths and N \
     are not stated, so we report the lengths and ratios for several thresholds (total derivative, m moving with \
     μ; the frozen-m lengths are in regions_lengths.csv). The sample lengths are checked against the \
     population lengths (the same slopes on quadrature nodes), within 4 standard errors of the sample slope \
     at each crossing of the threshold, divided by the slope of |dL/dμ| there, plus one grid step per \
     crossing."
        .into()
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let fam = Family {
        nu: s.nu,
        nu0: s.nu0,
        sigma: s.sigma,
    };
    let data = fam.data(s.n, s.seed)?;
    let population = fam.population(s.intervals())?;
    let step = s.step();
    let mus: Vec<f64> = grid(s.range, step).iter().map(|m| m * s.sigma).collect();
    let total_manual = fam.slope(Loss::Manual, &mus, &data, true)?;
    let total_gauss = fam.slope(Loss::Gaussian, &mus, &data, true)?;
    let frozen_manual = fam.slope(Loss::Manual, &mus, &data, false)?;
    let frozen_gauss = fam.slope(Loss::Gaussian, &mus, &data, false)?;
    let sm = fam.slope(Loss::Sm, &mus, &data, true)?;
    let population_manual = fam.slope(Loss::Manual, &mus, &population, true)?;
    let population_gauss = fam.slope(Loss::Gaussian, &mus, &population, true)?;
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
                population_manual[i],
                population_gauss[i],
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
            "population_slope_manual",
            "population_slope_gaussian",
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
    // Per surrogate, the largest standardised shift of a region boundary over the thresholds.
    let mut max_z = [0.0f64; 2];
    for &thr in &s.thresholds {
        let (lm, lg) = (
            region_length(&total_manual, step * s.sigma, thr),
            region_length(&total_gauss, step * s.sigma, thr),
        );
        let (fm, fg) = (
            region_length(&frozen_manual, step * s.sigma, thr),
            region_length(&frozen_gauss, step * s.sigma, thr),
        );
        let mut row = vec![thr, lm, lg, lg / lm, fm, fg];
        claims.push(Claim {
            name: format!("gaussian_region_wider_thr_{thr}"),
            paper_ref: "paper §3.2; docs/math.md §6.4".into(),
            measured: lg / lm,
            expected: format!(
                "ratio > 1 (Gaussian {lg:.2} vs manual {lm:.2} in ±{}σ)",
                s.range
            ),
            pass: lg > lm,
        });
        for (k, (loss, sample_len, sample_slope, pop_slope)) in [
            (Loss::Manual, lm, &total_manual, &population_manual),
            (Loss::Gaussian, lg, &total_gauss, &population_gauss),
        ]
        .into_iter()
        .enumerate()
        {
            let pop_len = region_length(pop_slope, step * s.sigma, thr);
            let bs = boundaries(&fam, loss, &mus, pop_slope, thr, &data)?;
            let monte_carlo: f64 = bs.iter().map(|b| Z * b.position_err()).sum();
            let grid_part = step * s.sigma * bs.len() as f64;
            let tol = monte_carlo + grid_part;
            row.extend([pop_len, tol]);
            claims.push(Claim {
                name: format!("{}_region_thr_{thr}_vs_population", loss.name()),
                paper_ref: "docs/math.md §6.4 (population by quadrature)".into(),
                measured: sample_len,
                expected: format!(
                    "{pop_len:.2} ± {tol:.2} ({} crossings: {Z} s.e. {monte_carlo:.2} + grid {grid_part:.2})",
                    bs.len()
                ),
                pass: (sample_len - pop_len).abs() <= tol,
            });
            max_z[k] = max_z[k].max(boundary_max_z(&bs, &crossings(&mus, sample_slope, thr)));
        }
        table.push(row);
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
            "population_length_manual",
            "tolerance_manual",
            "population_length_gaussian",
            "tolerance_gaussian",
        ],
        &table,
    )?;
    for (loss, z) in [Loss::Manual, Loss::Gaussian].into_iter().zip(max_z) {
        claims.push(Claim::at_most(
            &format!("{}_region_boundaries_max_z", loss.name()),
            "docs/math.md §6.4 (population by quadrature)",
            z,
            Z,
        ));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings_are_interpolated_and_the_range_edge_is_not_one() {
        // |slope| = 0, 1, 3, 3, 1 on μ = 0 … 4: crossings of thr = 2 at 1.5 (rising by 2 per
        // unit) and 3.5 (falling); thr = 0.5 crosses once, at 0.5, and the region runs to the
        // edge.
        let mus = [0.0, 1.0, 2.0, 3.0, 4.0];
        let slope = [0.0, -1.0, -3.0, 3.0, 1.0];
        assert_eq!(crossings(&mus, &slope, 2.0), vec![(1.5, 2.0), (3.5, -2.0)]);
        assert_eq!(crossings(&mus, &slope, 0.5), vec![(0.5, 1.0)]);
        assert!(crossings(&mus, &slope, 5.0).is_empty());
    }
}
