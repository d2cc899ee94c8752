//! Coverage of the sandwich intervals of general (non-exponential-family) fits, and the
//! consistency question of the moving diffusion (the paper's §2.2 surrogates):
//!
//! * DSM with the Gaussian flow moving with the location (total derivative, the Hessian of
//!   docs/math.md eqs. 11.9–11.10), the frozen gradient with location and log-scale free, and
//!   the KSD U-statistic (eq. 11.8, Hoeffding variance): 500 seeded replications each (seeds
//!   stated below); the 95% interval θ̂ₖ ± 1.96 seₖ must cover the truth in a count inside the
//!   binomial 99% interval around 0.95 for 500 trials, [462, 487]
//!   (scipy.stats.binom(500, 0.95).ppf([0.005, 0.995])).
//! * The total derivative with the scale free is not consistent: the term −E_q(s_qᵀA_θs_q) of
//!   the loss (docs/math.md eq. 11.10) moves with σ, so its minimiser is not the truth. The test
//!   measures the bias in standard errors.

use dsm_core::*;
use dsm_fit::*;

const REPLICATIONS: usize = 500;
const INTERVAL: std::ops::RangeInclusive<usize> = 462..=487;

/// Counts, per parameter, the replications whose converged 95% interval covers `truth`.
fn coverage<O: Objective>(
    objective: &O,
    family: &StudentTFamily,
    truth: &[f64],
    q: &StudentT,
    n: usize,
    seed0: u64,
) -> Vec<usize> {
    let mut covered = vec![0usize; truth.len()];
    for r in 0..REPLICATIONS {
        let xs = q.sample_n(n, seed0 + r as u64, Par::Seq).unwrap();
        let fit = objective
            .minimize(family, truth, &xs, Par::Seq, MinimizeOptions::default())
            .unwrap();
        let se = fit.std_err.clone().expect("a regular Hessian at the fit");
        for (k, c) in covered.iter_mut().enumerate() {
            if fit.converged && (fit.theta[k] - truth[k]).abs() <= 1.96 * se[k] {
                *c += 1;
            }
        }
    }
    covered
}

#[test]
fn moving_gaussian_flow_dsm_location_intervals_cover_at_their_level() {
    // Seeds 5000..5500, n = 400 draws of St(0.5, 1, 5), θ = μ.
    let family = StudentTFamily::location(1.0, 5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let q = StudentT::new(0.5, 1.0, 5.0).unwrap();
    let total = MovingDiffusionScoreMatching::new(&flow, Surrogate::Total);
    let covered = coverage(&total, &family, &[0.5], &q, 400, 5000);
    eprintln!("moving Gaussian-flow DSM (total) coverage over {REPLICATIONS}: {covered:?}");
    assert!(
        covered.iter().all(|c| INTERVAL.contains(c)),
        "{covered:?} not in {INTERVAL:?}"
    );
}

#[test]
fn frozen_gradient_intervals_cover_location_and_scale() {
    // Seeds 6000..6500, n = 400 draws of St(0.5, e^0.2, 5), θ = (μ, log σ).
    let family = StudentTFamily::new(5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let q = StudentT::new(0.5, 0.2f64.exp(), 5.0).unwrap();
    let frozen = MovingDiffusionScoreMatching::new(&flow, Surrogate::Frozen);
    let covered = coverage(&frozen, &family, &[0.5, 0.2], &q, 400, 6000);
    eprintln!("moving Gaussian-flow DSM (frozen) coverage over {REPLICATIONS}: {covered:?}");
    assert!(
        covered.iter().all(|c| INTERVAL.contains(c)),
        "{covered:?} not in {INTERVAL:?}"
    );
}

#[test]
fn ksd_intervals_cover_at_their_level() {
    // Seeds 7000..7500, n = 200 draws of St(0.5, e^0.2, 5), θ = (μ, log σ).
    let family = StudentTFamily::new(5.0).unwrap();
    let q = StudentT::new(0.5, 0.2f64.exp(), 5.0).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let covered = coverage(&ksd, &family, &[0.5, 0.2], &q, 200, 7000);
    eprintln!("KSD (U) coverage over {REPLICATIONS}: {covered:?}");
    assert!(
        covered.iter().all(|c| INTERVAL.contains(c)),
        "{covered:?} not in {INTERVAL:?}"
    );
}

#[test]
fn the_total_derivative_with_a_free_scale_is_biased_and_the_frozen_one_is_not() {
    // n = 20 000 draws of St(0.5, e^0.2, 5), seed 11: the total surrogate's log σ̂ lies many
    // standard errors from the truth (measured: it runs off to log σ̂ ≈ 11, where the loss is
    // lower than at the truth); the frozen gradient's lies within 3.
    let family = StudentTFamily::new(5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let truth = [0.5, 0.2];
    let xs = StudentT::new(0.5, 0.2f64.exp(), 5.0)
        .unwrap()
        .sample_n(20_000, 11, Par::Seq)
        .unwrap();
    let fit = |s: Surrogate| {
        MovingDiffusionScoreMatching::new(&flow, s)
            .minimize(
                &family,
                &truth,
                &xs,
                Par::rayon(2),
                MinimizeOptions::default(),
            )
            .unwrap()
    };
    let (total, frozen) = (fit(Surrogate::Total), fit(Surrogate::Frozen));
    let z = |m: &Minimum| (m.theta[1] - truth[1]) / m.std_err.as_ref().unwrap()[1];
    eprintln!("log σ̂: total {total}\nfrozen {frozen}");
    assert!(
        total.converged && z(&total).abs() > 10.0,
        "total z = {}",
        z(&total)
    );
    assert!(
        frozen.converged && z(&frozen).abs() < 3.0,
        "frozen z = {}",
        z(&frozen)
    );
}
