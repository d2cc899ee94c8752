//! Stein thinning of an MCMC run (docs/mcmc.md; docs/math.md eq. 15.1): a two-component
//! Gaussian mixture in 2-D sampled by a seeded random-walk Metropolis chain, thinned to m
//! points by naive thinning (every ⌊n/m⌋-th draw), Stein thinning with the reference
//! package's `id` and `med` preconditioners, and DKSD thinning with the diffusion of a flow
//! learned from the chain (an elementwise sinh-arcsinh layer fitted by maximum likelihood).
//! Each thinned set is scored by one yardstick, the V-statistic KSD² with the IMQ kernel at the
//! chain's median distance and the model's scores.

use std::path::Path;

use anyhow::Result;
use dsm_core::mc::{RandomPurpose, random_stream};
use dsm_core::mcmc::{Preconditioner, SteinThinning, Thinned};
use dsm_core::{DiffusionKsd, Estimator, Imq, Ksd, Par, Rbf, Samples, ScoredSamples, SteinKernel};
use dsm_fit::{FlowFitOptions, fit_flow};
use dsm_flows::{FlowDiffusion, SinhArcsinhLayer};
use rand::RngExt;
use rand_distr::StandardNormal;

use super::{Experiment, write_csv};
use crate::claims::Claim;
use crate::flags::Settings;
use crate::plot::{self, BLUE_, GREEN_, GREY_, ORANGE_, Panel, RED_, Series};

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "thinning",
    title: "Stein thinning of an MCMC run: naive, Stein (id, med) and DKSD thinning with a learned flow",
    paper_text,
    run,
};

/// What the experiment shows (the paragraph under the figure in REPORT.md).
fn paper_text(s: &Settings) -> String {
    format!(
        "Not in the paper: post-processing MCMC output. A random-walk Metropolis chain of {} draws \
         (after {} of burn-in) on a two-component Gaussian mixture is thinned to m points by naive \
         thinning, by Stein thinning (Riabiz et al. 2022, the reference package's id and med \
         preconditioners), by DKSD thinning with the diffusion of a flow learned from the chain, and \
         by regularised Stein thinning (Bénard et al. 2023). Stein thinning should give a smaller KSD \
         than naive thinning at every m; plain Stein thinning over-selects the low-density saddle \
         between the modes, which the regularisation corrects.",
        chain_length(s),
        BURN_IN
    )
}

/// Mixture weights, means and standard deviations (isotropic components).
const WEIGHTS: [f64; 2] = [0.4, 0.6];
const MEANS: [[f64; 2]; 2] = [[-2.0, 0.0], [2.0, 0.5]];
const SDS: [f64; 2] = [0.8, 1.0];
/// Random-walk proposal standard deviation and burn-in.
const STEP: f64 = 1.0;
const BURN_IN: usize = 1000;
/// The thinned sizes.
const SIZES: [usize; 5] = [10, 20, 40, 80, 160];
/// The size whose points are drawn over the contours.
const SHOWN: usize = 40;

fn chain_length(s: &Settings) -> usize {
    if s.quick { 4000 } else { 10_000 }
}

/// log p(x) and the score of the mixture.
fn log_density_and_score(x: &[f64], score: &mut [f64]) -> f64 {
    let mut logs = [0.0; 2];
    for k in 0..2 {
        let r2 = (x[0] - MEANS[k][0]).powi(2) + (x[1] - MEANS[k][1]).powi(2);
        logs[k] = WEIGHTS[k].ln()
            - 2.0 * SDS[k].ln()
            - std::f64::consts::TAU.ln()
            - 0.5 * r2 / (SDS[k] * SDS[k]);
    }
    let top = logs[0].max(logs[1]);
    let total = top + ((logs[0] - top).exp() + (logs[1] - top).exp()).ln();
    score.fill(0.0);
    for k in 0..2 {
        let responsibility = (logs[k] - total).exp();
        for (j, s) in score.iter_mut().enumerate() {
            *s -= responsibility * (x[j] - MEANS[k][j]) / (SDS[k] * SDS[k]);
        }
    }
    total
}

/// Δ⁺log p = Σₖ max(0, ∂²log p/∂xₖ²) of the mixture: with responsibilities r_c and
/// g_c = −(x − μ_c)/σ_c², ∂²log p/∂xₖ² = Σ_c r_c(g_ck² − 1/σ_c²) − (Σ_c r_c g_ck)².
fn positive_laplacian(x: &[f64]) -> f64 {
    let mut score = [0.0; 2];
    let total = log_density_and_score(x, &mut score);
    let mut sum = 0.0;
    for k in 0..2 {
        let mut second = 0.0;
        for c in 0..2 {
            let r2 = (x[0] - MEANS[c][0]).powi(2) + (x[1] - MEANS[c][1]).powi(2);
            let log_c = WEIGHTS[c].ln()
                - 2.0 * SDS[c].ln()
                - std::f64::consts::TAU.ln()
                - 0.5 * r2 / (SDS[c] * SDS[c]);
            let responsibility = (log_c - total).exp();
            let g = -(x[k] - MEANS[c][k]) / (SDS[c] * SDS[c]);
            second += responsibility * (g * g - 1.0 / (SDS[c] * SDS[c]));
        }
        sum += (second - score[k] * score[k]).max(0.0);
    }
    sum
}

/// A seeded random-walk Metropolis chain: n draws after the burn-in, with their scores.
fn metropolis(n: usize, seed: u64) -> Result<ScoredSamples> {
    let mut rng = random_stream(seed, RandomPurpose::Other(0x0074_6869_6e21), 0);
    let mut x = [0.0, 0.0];
    let mut score = [0.0; 2];
    let mut log_p = log_density_and_score(&x, &mut score);
    let (mut draws, mut scores) = (Vec::with_capacity(2 * n), Vec::with_capacity(2 * n));
    for t in 0..BURN_IN + n {
        let proposal = [
            x[0] + STEP * rng.sample::<f64, _>(StandardNormal),
            x[1] + STEP * rng.sample::<f64, _>(StandardNormal),
        ];
        let mut proposal_score = [0.0; 2];
        let proposal_log_p = log_density_and_score(&proposal, &mut proposal_score);
        if rng.random::<f64>().ln() < proposal_log_p - log_p {
            (x, score, log_p) = (proposal, proposal_score, proposal_log_p);
        }
        if t >= BURN_IN {
            draws.extend_from_slice(&x);
            scores.extend_from_slice(&score);
        }
    }
    Ok(ScoredSamples::new(Samples::new(draws, 2)?, scores)?)
}

/// The draws and scores at `indices`.
fn subset(run: &ScoredSamples, indices: &[usize]) -> Result<ScoredSamples> {
    let (x, s) = (run.samples(), run.scores());
    let mut xs = Vec::with_capacity(2 * indices.len());
    let mut ss = Vec::with_capacity(2 * indices.len());
    for &i in indices {
        xs.extend_from_slice(x.row(i));
        ss.extend_from_slice(&s[2 * i..2 * i + 2]);
    }
    Ok(ScoredSamples::new(Samples::new(xs, 2)?, ss)?)
}

fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let n = chain_length(s);
    let chain = metropolis(n, s.seed)?;
    let med = Rbf::median_heuristic(chain.samples())?.bandwidth();
    let yardstick = Ksd::new(Imq::new(med, -0.5)?, Estimator::V);
    let learned = fit_flow(
        &SinhArcsinhLayer::standardizing(chain.samples())?,
        chain.samples(),
        FlowFitOptions::default(),
        Par::rayon(0),
    )?;
    let dksd = DiffusionKsd::new(
        Imq::new(med, -0.5)?,
        FlowDiffusion::new(learned.flow),
        Estimator::V,
    )?;
    let largest = *SIZES.last().unwrap();
    let id = SteinThinning::new().thin(&chain, largest, Par::rayon(0))?;
    let median = SteinThinning::new()
        .with_preconditioner(Preconditioner::Median)
        .thin(&chain, largest, Par::rayon(0))?;
    let flow = SteinThinning::thin_with(&dksd, &chain, largest, Par::rayon(0))?;
    // Regularised Stein thinning (Bénard et al. 2023; λ = 1/m, so one run per m).
    let regularization = dsm_core::mcmc::Regularization {
        log_density: chain
            .samples()
            .rows()
            .map(|x| log_density_and_score(x, &mut [0.0; 2]))
            .collect(),
        laplacian: chain.samples().rows().map(positive_laplacian).collect(),
        lambda: None,
    };
    let regularised = |m: usize| -> Result<Vec<usize>> {
        Ok(SteinThinning::new()
            .with_preconditioner(Preconditioner::Median)
            .thin_regularized(&chain, &regularization, m, Par::rayon(0))?
            .indices)
    };
    // Greedy selections are nested: the first m of the largest run are the run for m.
    let first = |t: &Thinned, m: usize| t.indices[..m].to_vec();
    let naive = |m: usize| -> Vec<usize> { (0..m).map(|i| (i + 1) * (n / m) - 1).collect() };
    let ksd_of = |indices: &[usize]| -> Result<f64> {
        Ok(yardstick
            .estimate_scored(&subset(&chain, indices)?, Par::Seq)?
            .value)
    };
    let mut rows = Vec::new();
    let mut claims = Vec::new();
    for &m in &SIZES {
        let values = [
            ksd_of(&naive(m))?,
            ksd_of(&first(&id, m))?,
            ksd_of(&first(&median, m))?,
            ksd_of(&first(&flow, m))?,
            ksd_of(&regularised(m)?)?,
        ];
        rows.push(vec![
            m as f64, values[0], values[1], values[2], values[3], values[4],
        ]);
        for (label, v) in [
            ("Stein thinning (id)", values[1]),
            ("Stein thinning (med)", values[2]),
            ("DKSD thinning (learned flow)", values[3]),
        ] {
            claims.push(Claim::holds(
                &format!("{label} beats naive thinning at m = {m}"),
                "Riabiz et al. 2022; docs/math.md eq. 15.1",
                v < values[0],
                &format!("KSD² {v:.3e} < naive {:.3e}", values[0]),
            ));
        }
    }
    // Points in the low-density strip between the modes, |x₁| < 0.75, at m = 40.
    let in_saddle = |indices: &[usize]| {
        indices
            .iter()
            .filter(|&&i| chain.samples().row(i)[0].abs() < 0.75)
            .count() as f64
    };
    let (plain_saddle, regular_saddle) = (
        in_saddle(&first(&median, SHOWN)),
        in_saddle(&regularised(SHOWN)?),
    );
    claims.push(Claim::holds(
        &format!("regularised Stein thinning (med) keeps fewer of its m = {SHOWN} points in the low-density strip |x₁| < 0.75 between the modes"),
        "Bénard et al. 2023; docs/math.md eq. 15.1",
        regular_saddle < plain_saddle,
        &format!("{regular_saddle} < {plain_saddle} (plain med; naive thinning: {})", in_saddle(&naive(SHOWN))),
    ));
    write_csv(
        &out.join("thinning.csv"),
        &[
            "m",
            "naive",
            "stein_id",
            "stein_med",
            "dksd_learned_flow",
            "stein_med_regularised",
        ],
        &rows,
    )?;
    let mut points = Vec::new();
    for (code, indices) in [
        (0.0, naive(SHOWN)),
        (1.0, first(&id, SHOWN)),
        (2.0, first(&median, SHOWN)),
        (3.0, first(&flow, SHOWN)),
        (4.0, regularised(SHOWN)?),
    ] {
        for i in indices {
            let x = chain.samples().row(i);
            points.push(vec![code, i as f64, x[0], x[1]]);
        }
    }
    write_csv(
        &out.join("thinning_points.csv"),
        &["method", "index", "x1", "x2"],
        &points,
    )?;

    let ms: Vec<f64> = SIZES.iter().map(|&m| m as f64).collect();
    let column = |c: usize| -> Vec<f64> { rows.iter().map(|r| r[c].log10()).collect() };
    let curves = Panel {
        title: "KSD² of the thinned set (V-statistic, IMQ at the median distance)".into(),
        x_label: "m (points kept)".into(),
        y_label: "log10 KSD²".into(),
        series: vec![
            Series::new("naive", &ms, &column(1), GREY_, 2),
            Series::new("Stein (id)", &ms, &column(2), BLUE_, 2),
            Series::new("Stein (med)", &ms, &column(3), ORANGE_, 2),
            Series::new("DKSD, learned flow", &ms, &column(4), GREEN_, 2),
            Series::new("Stein (med), regularised", &ms, &column(5), RED_, 2),
        ],
        vlines: Vec::new(),
    };
    // The chain (every 5th draw), contours of the mixture density, and the m = 40 selections.
    let mut scatter = Vec::new();
    let background: Vec<usize> = (0..n).step_by(5).collect();
    let (bx, by): (Vec<f64>, Vec<f64>) = background
        .iter()
        .map(|&i| (chain.samples().row(i)[0], chain.samples().row(i)[1]))
        .unzip();
    scatter.push(Series::scatter(
        "chain (every 5th draw)",
        &bx,
        &by,
        plotters::style::RGBColor(200, 200, 200),
        1,
    ));
    let density = |x: f64, y: f64| log_density_and_score(&[x, y], &mut [0.0; 2]).exp();
    let peak = density(MEANS[1][0], MEANS[1][1]);
    let mut label = "density at 50%, 10%, 1% of its peak";
    for fraction in [0.5, 0.1, 0.01] {
        for (a, b) in contour(&density, fraction * peak, (-5.5, 5.5), (-4.0, 4.5), 160) {
            let color = plotters::style::RGBColor(0, 0, 0);
            scatter.push(Series::new(label, &[a.0, b.0], &[a.1, b.1], color, 1));
            label = "";
        }
    }
    for (label, indices, color) in [
        ("naive", naive(SHOWN), GREY_),
        ("Stein (med)", first(&median, SHOWN), ORANGE_),
        ("Stein (med), regularised", regularised(SHOWN)?, RED_),
        ("DKSD, learned flow", first(&flow, SHOWN), GREEN_),
    ] {
        let (xs, ys): (Vec<f64>, Vec<f64>) = indices
            .iter()
            .map(|&i| (chain.samples().row(i)[0], chain.samples().row(i)[1]))
            .unzip();
        scatter.push(Series::scatter(label, &xs, &ys, color, 4));
    }
    let picture = Panel {
        title: format!("m = {SHOWN} points over the mixture"),
        x_label: "x₁".into(),
        y_label: "x₂".into(),
        series: scatter,
        vlines: Vec::new(),
    };
    plot::save(
        &out.join("thinning"),
        "Stein thinning of a random-walk Metropolis run",
        &[curves, picture],
        2,
    )?;
    Ok(claims)
}

/// Segments of the level set {f = level} on a grid of `cells` × `cells` over the box, by
/// marching squares with linear interpolation along the cell edges (a saddle cell pairs its
/// crossings in edge order).
fn contour(
    f: &impl Fn(f64, f64) -> f64,
    level: f64,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    cells: usize,
) -> Vec<((f64, f64), (f64, f64))> {
    let (hx, hy) = ((x1 - x0) / cells as f64, (y1 - y0) / cells as f64);
    let grid: Vec<f64> = (0..=cells)
        .flat_map(|j| (0..=cells).map(move |i| (i, j)))
        .map(|(i, j)| f(x0 + i as f64 * hx, y0 + j as f64 * hy))
        .collect();
    let at = |i: usize, j: usize| grid[j * (cells + 1) + i];
    let mut segments = Vec::new();
    for j in 0..cells {
        for i in 0..cells {
            // Corners counter-clockwise from (i, j); edges between consecutive corners.
            let corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            let mut crossings = Vec::new();
            for e in 0..4 {
                let (a, b) = (corners[e], corners[(e + 1) % 4]);
                let (fa, fb) = (at(a.0, a.1) - level, at(b.0, b.1) - level);
                if (fa < 0.0) != (fb < 0.0) {
                    let t = fa / (fa - fb);
                    let point = |c: (usize, usize)| (x0 + c.0 as f64 * hx, y0 + c.1 as f64 * hy);
                    let (pa, pb) = (point(a), point(b));
                    crossings.push((pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1)));
                }
            }
            for pair in crossings.chunks_exact(2) {
                segments.push((pair[0], pair[1]));
            }
        }
    }
    segments
}
