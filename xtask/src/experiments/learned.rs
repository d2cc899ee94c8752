//! The diffusion learned from data (the paper's open question; docs/math.md §12): for
//! Student-t data with ν ∈ --dofs, a flow (a power-tail layer and an output affine, eq. 12.5)
//! is fitted by maximum likelihood to the same N samples without knowing the family, and
//! m̂ = (∇T̂)⁻¹ is used in DSM moving with the model's location as the oracle's does,
//! T(x; μ) = T̂(x − μ + ξ̂) with ξ̂ the fitted flow's own centre (total derivative), beside the
//! oracle Gaussian flow and the manual flow (both moving with μ). Per ν: the learned
//! surrogate's μ-derivative changes sign once on the grid (unimodal), its minimiser (L-BFGS
//! from the sample median) lies within 3 standard errors of μ*, descent with the library's
//! L-BFGS from every start in ±R reaches μ*, and the length of its fast-convergence region
//! against the oracle's is reported. For ν ≤ 2 (infinite variance) the claims are made on 5N
//! samples and the N-sample outcome is reported beside them (docs/fitting.md §7 says why).

use std::path::Path;

use anyhow::Result;
use dsm_core::{Par, Samples};
use dsm_fit::{
    FlowFit, FlowFitOptions, LocationScaleFlow, MinimizeOptions, Minimum,
    MovingDiffusionScoreMatching, Objective, ParametricModel, Surrogate, fit_flow,
};
use dsm_flows::{Compose, DiagonalAffine, Flow, PowerTailLayer, Trainable};
use rayon::prelude::*;

use super::{Experiment, region_length, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, ORANGE_, Panel, Series};
use crate::student::{Family, Loss, grid};

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "learned",
    title: "A diffusion learned from the data, against the oracle Gaussian flow",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(s: &Settings) -> String {
    format!(
        "The paper closes hoping to shed light on training the diffusion matrix. Here the diffusion is \
         learned: a flow with a power-tail layer (docs/math.md eq. 12.5) and an output affine is fitted by \
         maximum likelihood to the same N = {} samples, without knowing the family, and its m̂ = (∇T̂)⁻¹ \
         moves with the model's location in DSM as the oracle Gaussian flow does. For each ν the learned \
         surrogate is unimodal, its minimiser is within 3 standard errors of μ*, and the library's L-BFGS \
         reaches μ* from every start in ±{}σ; its fast-convergence region at the smallest threshold is \
         reported against the oracle's in learned_summary.csv. At ν ≤ 2 (infinite variance) {} samples \
         do not pin the flow down well enough for every seed (measured over 21 seeds: 2 of them give a \
         surrogate with walls near ±3σ), so the claims there use {} samples and the {}-sample outcome is \
         reported beside them.",
        s.n,
        s.range,
        s.n,
        LARGE_FACTOR * s.n,
        s.n
    )
}

/// The tail index the learned flow's power-tail layer starts from.
const START_TAIL_INDEX: f64 = 10.0;

/// How many times N the claims at ν ≤ 2 use.
const LARGE_FACTOR: usize = 5;

/// The learned flow for symmetric data: a power-tail layer (location, scale, tail index) then
/// an output affine, fitted by maximum likelihood on all the samples (no held-out split: the
/// flow has five parameters).
pub fn learn_symmetric_flow(
    data: &Samples,
) -> Result<FlowFit<Compose<PowerTailLayer, DiagonalAffine>>> {
    let options = FlowFitOptions {
        held_out_fraction: 0.0,
        ..FlowFitOptions::default()
    };
    let start = Compose::new(
        PowerTailLayer::standardizing(data, START_TAIL_INDEX)?,
        DiagonalAffine::identity(1)?,
    )?;
    Ok(fit_flow(&start, data, options, Par::rayon(0))?)
}

/// The learned flow moved with a one-parameter model's location: T(x; μ) = T̂(x − μ + c), so
/// that at μ = c it is the fitted flow itself.
pub fn moving_with_location<F: Flow + Clone>(
    flow: &F,
    centre: f64,
) -> Result<LocationScaleFlow<Compose<DiagonalAffine, F>>> {
    Ok(LocationScaleFlow::following(flow.clone(), &[centre], 1, 0)?)
}

/// dL/dμ of an objective on a grid of μ (parallel over the grid, sequential per point, so the
/// values do not depend on the thread count).
pub fn slopes<M: ParametricModel, O: Objective + Sync>(
    objective: &O,
    model: &M,
    mus: &[f64],
    data: &Samples,
) -> Result<Vec<f64>> {
    mus.par_iter()
        .map(|&mu| {
            Ok(objective
                .value_and_gradient(model, &[mu], data, Par::Seq)?
                .gradient[0])
        })
        .collect()
}

/// The number of sign changes of a sequence (zeros skipped).
pub fn sign_changes(v: &[f64]) -> usize {
    let signs: Vec<bool> = v.iter().filter(|x| **x != 0.0).map(|x| *x > 0.0).collect();
    signs.windows(2).filter(|w| w[0] != w[1]).count()
}

/// The sample median of one-dimensional samples.
pub fn median(xs: &Samples) -> f64 {
    let mut v = xs.as_slice().to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// What one (ν, N) study measured.
struct Study {
    slope_learned: Vec<f64>,
    slope_oracle: Vec<f64>,
    slope_manual: Vec<f64>,
    fit: FlowFit<Compose<PowerTailLayer, DiagonalAffine>>,
    estimate: Minimum,
    runs: Vec<Minimum>,
}

impl Study {
    fn run(fam: &Family, n: usize, seed: u64, mus: &[f64], starts: &[Vec<f64>]) -> Result<Self> {
        let data = fam.data(n, seed)?;
        let model = fam.model()?;
        let fit = learn_symmetric_flow(&data)?;
        // The fitted flow's own centre ξ̂ (the power-tail layer's location).
        let moving = moving_with_location(&fit.flow, fit.flow.params()[0])?;
        let learned = MovingDiffusionScoreMatching::new(&moving, Surrogate::Total);
        let options = MinimizeOptions::default();
        let estimate = learned.minimize(&model, &[median(&data)], &data, Par::rayon(0), options)?;
        let runs = learned
            .minimize_many(&model, starts, &data, Par::rayon(0), options)
            .into_iter()
            .collect::<dsm_core::Result<_>>()?;
        Ok(Self {
            slope_learned: slopes(&learned, &model, mus, &data)?,
            slope_oracle: fam.slope(Loss::Gaussian, mus, &data, true)?,
            slope_manual: fam.slope(Loss::Manual, mus, &data, true)?,
            fit,
            estimate,
            runs,
        })
    }

    /// The fraction of starts whose run converged within σ/2 of μ* = 0.
    fn reached(&self, sigma: f64) -> f64 {
        let hits = self
            .runs
            .iter()
            .filter(|r| r.converged && r.theta[0].abs() < 0.5 * sigma)
            .count();
        hits as f64 / self.runs.len() as f64
    }

    /// The tail index the fitted flow implies, A²α (output scale A, the power-tail layer's α):
    /// N(0, 1) pulled back through it has tails |x|^(−A²α−1) up to a slowly varying factor
    /// (docs/math.md eq. 12.5), so it estimates ν.
    fn tail_index(&self) -> f64 {
        let scale = self.fit.flow.second().params()[0].exp();
        scale * scale * self.fit.flow.first().tail_indices()[0]
    }

    /// |μ̂ − μ*| in standard errors.
    fn z(&self) -> f64 {
        let se = self.estimate.std_err.as_ref().map_or(f64::NAN, |v| v[0]);
        self.estimate.theta[0].abs() / se
    }
}

/// Runs the experiment.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let step = if s.quick { 0.5 } else { 0.25 };
    let mus: Vec<f64> = grid(s.range, step).iter().map(|m| m * s.sigma).collect();
    let starts: Vec<Vec<f64>> = grid(s.range, if s.quick { 5.0 } else { 2.5 })
        .iter()
        .map(|m| vec![m * s.sigma])
        .collect();
    let thr = s.thresholds.iter().copied().fold(f64::INFINITY, f64::min);
    let xs: Vec<f64> = mus.iter().map(|m| m / s.sigma).collect();
    let mut claims = Vec::new();
    let mut rows: Vec<Vec<f64>> = xs.iter().map(|x| vec![*x]).collect();
    let mut summary = Vec::new();
    let mut panels = Vec::new();
    for (k, &nu) in s.dofs.iter().enumerate() {
        let fam = Family {
            nu,
            nu0: nu,
            sigma: s.sigma,
        };
        let sizes = if nu <= 2.0 {
            vec![s.n, LARGE_FACTOR * s.n]
        } else {
            vec![s.n]
        };
        let mut claimed = None;
        for (j, &n) in sizes.iter().enumerate() {
            let study = Study::run(&fam, n, s.seed.wrapping_add(k as u64 + 100), &mus, &starts)?;
            let region = |slope: &[f64]| region_length(slope, step * s.sigma, thr);
            let (len_learned, len_oracle) =
                (region(&study.slope_learned), region(&study.slope_oracle));
            let is_claimed = j + 1 == sizes.len();
            summary.push(vec![
                nu,
                n as f64,
                f64::from(u8::from(is_claimed)),
                study.fit.train_log_likelihood,
                study.tail_index(),
                study.estimate.theta[0],
                study.estimate.std_err.as_ref().map_or(f64::NAN, |v| v[0]),
                sign_changes(&study.slope_learned) as f64,
                study.reached(s.sigma),
                len_learned,
                len_oracle,
                region(&study.slope_manual),
                len_learned / len_oracle,
            ]);
            if is_claimed {
                claimed = Some((n, study));
            }
        }
        let Some((n, study)) = claimed else {
            continue;
        };
        let changes = sign_changes(&study.slope_learned);
        claims.push(Claim {
            name: format!("learned_unimodal_nu_{nu}"),
            paper_ref: "paper §4 (training the diffusion); docs/math.md §12".into(),
            measured: changes as f64,
            expected: format!("1 sign change of dL/dμ on the grid (N = {n})"),
            pass: changes == 1,
        });
        claims.push(Claim::at_most(
            &format!("learned_minimum_within_3se_nu_{nu}"),
            "docs/math.md eqs. 11.4, 12.1",
            study.z(),
            3.0,
        ));
        let reached = study.reached(s.sigma);
        claims.push(Claim {
            name: format!("learned_descent_from_every_start_nu_{nu}"),
            paper_ref: "paper §3.2".into(),
            measured: reached,
            expected: format!(
                "1 (all {} starts in ±{}σ reach μ*, N = {n})",
                study.runs.len(),
                s.range
            ),
            pass: reached == 1.0,
        });
        for (row, i) in rows.iter_mut().zip(0..) {
            row.extend([
                study.slope_learned[i],
                study.slope_oracle[i],
                study.slope_manual[i],
            ]);
        }
        let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<f64>>();
        panels.push(Panel {
            title: format!("ν = {nu}, N = {n}: |dL/dμ|"),
            x_label: "model location μ (units of σ)".into(),
            y_label: "|dL/dμ|".into(),
            series: vec![
                Series::new(
                    "DSM, learned flow",
                    &xs,
                    &abs(&study.slope_learned),
                    BLUE_,
                    2,
                ),
                Series::new(
                    "DSM, oracle Gaussian flow",
                    &xs,
                    &abs(&study.slope_oracle),
                    GREEN_,
                    2,
                ),
                Series::new(
                    "DSM, manual flow",
                    &xs,
                    &abs(&study.slope_manual),
                    ORANGE_,
                    1,
                ),
            ],
            vlines: vec![],
        });
    }
    let mut header = vec!["mu".to_string()];
    for nu in &s.dofs {
        for col in ["learned", "oracle_gaussian", "manual"] {
            header.push(format!("slope_{col}_nu_{nu}"));
        }
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    write_csv(&out.join("learned.csv"), &header, &rows)?;
    write_csv(
        &out.join("learned_summary.csv"),
        &[
            "nu",
            "n",
            "claimed",
            "train_log_likelihood",
            "tail_index",
            "theta_hat",
            "std_err",
            "sign_changes",
            "fraction_reached",
            "region_learned",
            "region_oracle",
            "region_manual",
            "region_learned_over_oracle",
        ],
        &summary,
    )?;
    plot::save(
        &out.join("learned"),
        "DSM with a learned diffusion, the oracle Gaussian flow and the manual flow",
        &panels,
        2,
    )?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_changes_skip_zeros() {
        assert_eq!(sign_changes(&[-1.0, -0.5, 0.0, 0.3, 2.0]), 1);
        assert_eq!(sign_changes(&[1.0, -1.0, 1.0]), 2);
        assert_eq!(sign_changes(&[0.0, 0.0]), 0);
    }

    #[test]
    fn the_median_of_odd_and_even_samples() {
        let odd = Samples::from_scalars(vec![3.0, -1.0, 2.0]).unwrap();
        let even = Samples::from_scalars(vec![4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(median(&odd), 2.0);
        assert_eq!(median(&even), 2.5);
    }
}
