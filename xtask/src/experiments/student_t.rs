//! The Student-t example of MATH.md section 6.1 (the paper's Figure 1, left and middle
//! panels): the score-matching loss and the manual-flow DSM surrogate as functions of the
//! model location μ, on N seeded samples and at the population level (quadrature).
//!
//! q = St(μ*, σ, ν) with μ* = 0, model p_μ = St(μ, σ, ν), manual-flow diffusion
//! m(x) = sqrt(1 + (x − μ)²/(ν₀σ²)) evaluated at the same μ as the model (the surrogate of
//! MATH.md eq. 6's note). Writes `student_t.csv`.

use std::path::Path;

use anyhow::{Context, Result};
use dsm_core::{
    Diffusion, DiffusionFn, Par, Sampler, Samples, StudentT, diffusion_score_matching_loss,
    score_matching_loss,
};

use crate::Settings;
use crate::claims::{Claim, argmin, is_unimodal};
use dsm_core::quadrature::sinh_simpson;

/// The manual-flow diffusion m(x) = sqrt(1 + (x − μ)²/(ν₀σ²)) (MATH.md section 6.2) and its
/// exact derivative m'(x) = (x − μ)/(ν₀σ² m(x)).
pub fn manual_diffusion(mu: f64, nu0: f64, sigma: f64) -> impl Diffusion {
    let c = nu0 * sigma * sigma;
    DiffusionFn::new(
        1,
        move |x: &[f64], m: &mut [f64]| m[0] = (1.0 + (x[0] - mu).powi(2) / c).sqrt(),
        move |x: &[f64], dm: &mut [f64]| {
            dm[0] = (x[0] - mu) / (c * (1.0 + (x[0] - mu).powi(2) / c).sqrt())
        },
    )
}

/// The closed-form per-sample manual-flow DSM integrand of MATH.md section 6.2:
/// h_C(z) = (ν+1)/(ν₀σ²(ν+z²)²) · [(ν−1)z⁴ + (ν₀(ν+3) − 6ν)z² − 2ν₀ν], z = (x−μ)/σ.
fn manual_closed_form(x: f64, mu: f64, s: &Settings) -> f64 {
    let (nu, nu0) = (s.nu, s.nu0);
    let z = (x - mu) / s.sigma;
    let z2 = z * z;
    (nu + 1.0) / (nu0 * s.sigma * s.sigma * (nu + z2).powi(2))
        * ((nu - 1.0) * z2 * z2 + (nu0 * (nu + 3.0) - 6.0 * nu) * z2 - 2.0 * nu0 * nu)
}

/// SM and manual-DSM losses of the model St(μ, σ, ν) on `points`.
fn losses(
    mu: f64,
    s: &Settings,
    points: &Samples,
) -> Result<(dsm_core::Estimate, dsm_core::Estimate)> {
    let model = StudentT::new(mu, s.sigma, s.nu)?;
    let sm = score_matching_loss(&model, points, Par::Seq)?;
    let dsm = diffusion_score_matching_loss(
        &model,
        &manual_diffusion(mu, s.nu0, s.sigma),
        points,
        Par::Seq,
    )?;
    Ok((sm, dsm))
}

/// Population SM wall of MATH.md N8 for the DoF it tabulates: (ν, position, height) at σ = 1.
const SM_WALLS: &[(f64, f64, f64)] = &[(5.0, 3.4607, 1.52197), (10.0, 4.145, 2.7735)];

/// Runs the experiment; returns its claims.
pub fn run(s: &Settings, out: &Path) -> Result<Vec<Claim>> {
    let q = StudentT::new(0.0, s.sigma, s.nu)?;
    let data = q.sample_n(s.n, s.seed, Par::rayon(0))?;
    let population = sinh_simpson(&q, 0.0, s.sigma, 8.0, if s.quick { 2000 } else { 6000 })?;
    let step = if s.quick { 0.5 } else { 0.1 };
    let half = (s.range / step).round() as i64;
    let grid: Vec<f64> = (-half..=half).map(|k| k as f64 * step * s.sigma).collect();

    let mut rows = Vec::with_capacity(grid.len());
    for &mu in &grid {
        let (sm, dsm) = losses(mu, s, &data)?;
        let (sm_pop, dsm_pop) = losses(mu, s, &population)?;
        let closed = data
            .rows()
            .map(|x| manual_closed_form(x[0], mu, s))
            .sum::<f64>()
            / data.n() as f64;
        rows.push([
            mu,
            sm.value,
            sm.std_err,
            sm_pop.value,
            dsm.value,
            dsm.std_err,
            dsm_pop.value,
            closed,
        ]);
    }

    let path = out.join("student_t.csv");
    let mut w =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    w.write_record([
        "mu",
        "sm",
        "sm_std_err",
        "sm_population",
        "dsm_manual",
        "dsm_manual_std_err",
        "dsm_manual_population",
        "dsm_manual_closed_form",
    ])?;
    for r in &rows {
        w.write_record(r.iter().map(|v| format!("{v:.12e}")))?;
    }
    w.flush()?;

    let col = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<f64>>();
    let (sm, sm_se, sm_pop, dsm, dsm_se, dsm_pop, closed) =
        (col(1), col(2), col(3), col(4), col(5), col(6), col(7));
    let mut claims = Vec::new();
    let (nu, sig2) = (s.nu, s.sigma * s.sigma);

    // Population values at the truth (MATH.md section 5 and N8).
    let (sm0, dsm0) = losses(0.0, s, &population)?;
    claims.push(Claim::near(
        "sm_population_at_truth",
        "MATH.md N8",
        sm0.value,
        -(nu + 1.0) / ((nu + 3.0) * sig2),
        1e-8,
    ));
    if s.nu0 == s.nu {
        claims.push(Claim::near(
            "manual_population_at_truth",
            "MATH.md N8",
            dsm0.value,
            -(nu + 1.0) / (nu * sig2),
            1e-8,
        ));
    }

    // The SM walls: a population maximum on each side, where MATH.md N8 puts it.
    let wall = population_wall(s, &population)?;
    if let Some(&(_, pos, height)) = SM_WALLS
        .iter()
        .find(|(v, _, _)| *v == nu)
        .filter(|_| s.sigma == 1.0)
    {
        claims.push(Claim::near(
            "sm_wall_position",
            "MATH.md N8, paper Fig. 1",
            wall.0,
            pos,
            0.01,
        ));
        claims.push(Claim::near(
            "sm_wall_height",
            "MATH.md N8, paper Fig. 1",
            wall.1,
            height,
            1e-3,
        ));
    }
    let centre = grid.iter().position(|&m| m >= 0.0).unwrap_or(0);
    let sm_is_nonconvex =
        local_max_beyond(&sm, centre, true) && local_max_beyond(&sm, centre, false);
    claims.push(Claim::holds(
        "sm_nonconvex_with_walls",
        "paper section 2.2, Fig. 1 left",
        sm_is_nonconvex,
        "a local maximum on each side of mu*",
    ));

    // The manual-flow surrogate: one basin at mu*.
    claims.push(Claim::holds(
        "manual_dsm_unimodal",
        "paper section 2.2, Fig. 1 middle",
        is_unimodal(&dsm),
        "unimodal on the grid",
    ));
    let argmin_mu = argmin(&dsm).map_or(f64::NAN, |i| grid[i]);
    claims.push(Claim::near(
        "manual_dsm_argmin",
        "paper section 2.2",
        argmin_mu,
        0.0,
        0.5 * s.sigma,
    ));

    // The library's DSM (generic divergence term) equals the closed form of MATH.md 6.2.
    let max_closed = dsm
        .iter()
        .zip(&closed)
        .map(|(a, b)| (a - b).abs() / (1.0 + b.abs()))
        .fold(0.0, f64::max);
    claims.push(Claim::at_most(
        "manual_dsm_closed_form_residual",
        "MATH.md section 6.2",
        max_closed,
        1e-10,
    ));

    // Sample curves agree with the population curves within Monte Carlo error.
    let z_max = |v: &[f64], se: &[f64], pop: &[f64]| {
        v.iter()
            .zip(se)
            .zip(pop)
            .map(|((v, se), p)| (v - p).abs() / se.max(1e-300))
            .fold(0.0, f64::max)
    };
    claims.push(Claim::at_most(
        "sm_sample_vs_population_max_z",
        "MATH.md N8",
        z_max(&sm, &sm_se, &sm_pop),
        5.0,
    ));
    claims.push(Claim::at_most(
        "manual_sample_vs_population_max_z",
        "MATH.md N8",
        z_max(&dsm, &dsm_se, &dsm_pop),
        5.0,
    ));
    Ok(claims)
}

/// Whether `values` has an interior local maximum strictly right (or left) of `centre`.
fn local_max_beyond(values: &[f64], centre: usize, right: bool) -> bool {
    (1..values.len() - 1)
        .filter(|&i| {
            if right {
                i > centre + 1
            } else {
                i + 1 < centre
            }
        })
        .any(|i| values[i] > values[i - 1] && values[i] > values[i + 1])
}

/// Position and height of the right-hand population SM wall, by golden-section search.
fn population_wall(s: &Settings, population: &Samples) -> Result<(f64, f64)> {
    let f = |mu: f64| -> Result<f64> {
        let model = StudentT::new(mu, s.sigma, s.nu)?;
        Ok(score_matching_loss(&model, population, Par::Seq)?.value)
    };
    // Coarse scan, then golden section around the best point.
    let coarse: Vec<f64> = (1..=400).map(|k| k as f64 * 0.05 * s.sigma).collect();
    let mut best = (coarse[0], f(coarse[0])?);
    for &mu in &coarse[1..] {
        let v = f(mu)?;
        if v > best.1 {
            best = (mu, v);
        }
    }
    let (mut a, mut b) = (best.0 - 0.05 * s.sigma, best.0 + 0.05 * s.sigma);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if f(c)? > f(d)? {
            b = d;
        } else {
            a = c;
        }
    }
    let mu = 0.5 * (a + b);
    Ok((mu, f(mu)?))
}
