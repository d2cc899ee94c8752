//! Figure 1 (docs/math.md section 6.1): the SM loss and the two DSM surrogates against the model
//! location μ, on N seeded samples and at the population level (quadrature), μ* = 0 marked.

use std::path::Path;

use anyhow::Result;

use super::{Experiment, write_csv};
use crate::claims::{Claim, argmin, has_local_max, is_unimodal};
use crate::flags::Settings;
use crate::plot::{self, BLUE_, Panel, RED_, Series};
use crate::student::{Family, Loss, grid};

/// The exact columns of fig1.csv.
pub const COLUMNS: [&str; 7] = [
    "mu",
    "sm",
    "dsm_manual",
    "dsm_gaussian",
    "sm_population",
    "dsm_manual_population",
    "dsm_gaussian_population",
];

/// Population values at μ* of docs/math.md N8 for σ = 1: (ν, SM, Gaussian-flow surrogate).
const AT_TRUTH: &[(f64, f64)] = &[(3.0, -2.319482), (5.0, -1.717688), (10.0, -1.329828)];
/// The SM wall of docs/math.md N8 for σ = 1: (ν, position, height).
const SM_WALLS: &[(f64, f64, f64)] = &[(5.0, 3.4607, 1.52197), (10.0, 4.145, 2.7735)];

/// This experiment in the registry of [`super::ALL`].
pub const EXPERIMENT: Experiment = Experiment {
    name: "fig1",
    title: "Figure 1: SM and the two DSM surrogates against μ",
    paper_text,
    run,
};

/// What the paper says (the paragraph under the figure in REPORT.md).
fn paper_text(s: &Settings) -> String {
    format!(
        "The paper (§2.2, Fig. 1) shows that score matching on heavy-tailed Student-t data has a minimum at μ* \
         flanked by two walls, beyond which the loss decays and gradient descent walks away; DSM with a manually \
         chosen diffusion and DSM with the Gaussian flow Φ⁻¹∘F_t both have a single basin at μ*. The paper does not \
         state ν, N or the range: we use set B of docs/math.md §0 (ν = ν₀ = {}, N = {}, μ ∈ ±{}σ, seed {}) and the manual \
         diffusion m(x) = sqrt(1 + (x − μ)²/(ν₀σ²)) (docs/math.md §6.2, an inference). Thin red lines are the \
         population curves by quadrature.",
        s.nu, s.n, s.range, s.seed
    )
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
    let mus: Vec<f64> = grid(s.range, s.step())
        .iter()
        .map(|m| m * s.sigma)
        .collect();
    let mut sample = Vec::new();
    let mut pop = Vec::new();
    for loss in Loss::ALL {
        sample.push(fam.curve(loss, &mus, &data)?);
        pop.push(fam.curve(loss, &mus, &population)?);
    }
    let values = |c: &Vec<dsm_core::Estimate>| c.iter().map(|e| e.value).collect::<Vec<f64>>();
    let rows: Vec<Vec<f64>> = (0..mus.len())
        .map(|i| {
            let mut r = vec![mus[i] / s.sigma];
            r.extend(sample.iter().map(|c| c[i].value));
            r.extend(pop.iter().map(|c| c[i].value));
            r
        })
        .collect();
    write_csv(&out.join("fig1.csv"), &COLUMNS, &rows)?;

    let xs: Vec<f64> = mus.iter().map(|m| m / s.sigma).collect();
    let panels: Vec<Panel> = Loss::ALL
        .iter()
        .enumerate()
        .map(|(k, loss)| Panel {
            title: loss.label().into(),
            x_label: "model location μ (units of σ)".into(),
            y_label: "loss".into(),
            series: vec![
                Series::new(
                    &format!("N = {} samples", s.n),
                    &xs,
                    &values(&sample[k]),
                    BLUE_,
                    2,
                ),
                Series::new("population (quadrature)", &xs, &values(&pop[k]), RED_, 1),
            ],
            vlines: vec![(0.0, "μ* = 0".into())],
        })
        .collect();
    plot::save(
        &out.join("fig1"),
        &format!("Student-t, ν = {}: the losses against μ", s.nu),
        &panels,
        3,
    )?;

    let mut claims = Vec::new();
    let (nu, sig2) = (s.nu, s.sigma * s.sigma);
    let population_at = |loss| fam.loss(loss, 0.0, 0.0, &population).map(|e| e.value);
    claims.push(Claim::near(
        "sm_population_at_truth",
        "docs/math.md N8",
        population_at(Loss::Sm)?,
        -(nu + 1.0) / ((nu + 3.0) * sig2),
        1e-8,
    ));
    if s.nu0 == s.nu {
        claims.push(Claim::near(
            "manual_population_at_truth",
            "docs/math.md N8",
            population_at(Loss::Manual)?,
            -(nu + 1.0) / (nu * sig2),
            1e-8,
        ));
    }
    if let Some(&(_, g)) = AT_TRUTH
        .iter()
        .find(|(v, _)| *v == nu)
        .filter(|_| s.sigma == 1.0)
    {
        claims.push(Claim::near(
            "gaussian_population_at_truth",
            "docs/math.md N8, §6.3",
            population_at(Loss::Gaussian)?,
            g,
            1e-5,
        ));
    }
    let wall = wall(&fam, &population)?;
    if let Some(&(_, pos, height)) = SM_WALLS
        .iter()
        .find(|(v, _, _)| *v == nu)
        .filter(|_| s.sigma == 1.0)
    {
        claims.push(Claim::near(
            "sm_wall_position",
            "paper §2.2, Fig. 1 left; docs/math.md N8",
            wall.0,
            pos,
            0.01,
        ));
        claims.push(Claim::near(
            "sm_wall_height",
            "paper §2.2, Fig. 1 left; docs/math.md N8",
            wall.1,
            height,
            1e-3,
        ));
    } else {
        claims.push(Claim::holds(
            "sm_wall_found",
            "paper §2.2",
            wall.0 > 0.5,
            &format!("a wall at {:.3}", wall.0),
        ));
    }
    let centre = argmin(&values(&pop[0])).unwrap_or(0);
    let sm = values(&sample[0]);
    claims.push(Claim::holds(
        "sm_nonconvex_with_walls",
        "paper §2.2, Fig. 1 left",
        has_local_max(&sm, centre, true) && has_local_max(&sm, centre, false),
        "a local maximum on each side of μ*",
    ));
    for (k, loss) in [(1, Loss::Manual), (2, Loss::Gaussian)] {
        let v = values(&sample[k]);
        claims.push(Claim::holds(
            &format!("{}_unimodal", loss.name()),
            "paper §2.2, §3.2, Fig. 1",
            is_unimodal(&v),
            "unimodal on the grid",
        ));
        let at = argmin(&v).map_or(f64::NAN, |i| xs[i]);
        claims.push(Claim::near(
            &format!("{}_argmin", loss.name()),
            "paper §2.2, §3.2",
            at,
            0.0,
            0.5,
        ));
    }
    // The library's DSM (generic divergence term through the flow) against the closed form
    // h_C of docs/math.md §6.2, on every grid point.
    let mut worst: f64 = 0.0;
    for (i, &mu) in mus.iter().enumerate() {
        let closed = data
            .rows()
            .map(|x| manual_closed_form(x[0], mu, s))
            .sum::<f64>()
            / data.n() as f64;
        worst = worst.max((sample[1][i].value - closed).abs() / (1.0 + closed.abs()));
    }
    claims.push(Claim::at_most(
        "manual_dsm_closed_form_residual",
        "docs/math.md §6.2",
        worst,
        1e-10,
    ));
    for (k, loss) in Loss::ALL.iter().enumerate() {
        let z = sample[k]
            .iter()
            .zip(&pop[k])
            .map(|(e, p)| (e.value - p.value).abs() / e.std_err.max(1e-300))
            .fold(0.0, f64::max);
        claims.push(Claim::at_most(
            &format!("{}_sample_vs_population_max_z", loss.name()),
            "docs/math.md N8",
            z,
            5.0,
        ));
    }
    Ok(claims)
}

/// h_C(z) = (ν+1)/(ν₀σ²(ν+z²)²) · [(ν−1)z⁴ + (ν₀(ν+3) − 6ν)z² − 2ν₀ν], z = (x−μ)/σ.
fn manual_closed_form(x: f64, mu: f64, s: &Settings) -> f64 {
    let (nu, nu0) = (s.nu, s.nu0);
    let z2 = ((x - mu) / s.sigma).powi(2);
    (nu + 1.0) / (nu0 * s.sigma * s.sigma * (nu + z2).powi(2))
        * ((nu - 1.0) * z2 * z2 + (nu0 * (nu + 3.0) - 6.0 * nu) * z2 - 2.0 * nu0 * nu)
}

/// Position and height of the right-hand population SM wall, by a scan and golden sections.
fn wall(fam: &Family, population: &dsm_core::Samples) -> Result<(f64, f64)> {
    let f = |mu: f64| {
        fam.loss(Loss::Sm, mu * fam.sigma, mu * fam.sigma, population)
            .map(|e| e.value)
    };
    let mut best = (0.05, f(0.05)?);
    for k in 2..=400 {
        let mu = k as f64 * 0.05;
        let v = f(mu)?;
        if v > best.1 {
            best = (mu, v);
        }
    }
    let (mut a, mut b) = (best.0 - 0.05, best.0 + 0.05);
    let g = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..50 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_schema_is_the_documented_one() {
        assert_eq!(
            COLUMNS.join(","),
            "mu,sm,dsm_manual,dsm_gaussian,sm_population,dsm_manual_population,dsm_gaussian_population"
        );
        let dir = std::env::temp_dir().join(format!("dsm-fig1-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fig1.csv");
        write_csv(&path, &COLUMNS, &[vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        let row: Vec<f64> = lines
            .next()
            .unwrap()
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(row, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_manual_closed_form_at_z_zero() {
        // By hand for ν = ν₀ = 10, σ = 1:
        // h_C(0) = 11/(10·100)·(−200) = −2.2.
        let s = crate::flags::Settings::parse_from_defaults();
        assert!((manual_closed_form(0.0, 0.0, &s) + 2.2).abs() < 1e-14);
    }
}
