//! The moving-diffusion DSM, KSD and DKSD objectives against independent references: the
//! fixed-θ values of dsm-core, central differences (a test oracle only) of those values for
//! every θ-gradient and Gauss–Newton Hessian, the exponential-family closed forms against
//! L-BFGS, the Gaussian's closed form through the Cholesky family, and the paper's question:
//! which objectives recover the Student-t location from starts beyond the SM walls.

use dsm_core::testing::close;
use dsm_core::*;
use dsm_fit::*;
use dsm_flows::{FlowDiffusion, GaussianFlow, ManualFlow};

mod common;
use common::*;

fn student_data(n: usize, seed: u64) -> Samples {
    StudentT::new(0.4, 1.3, 5.0)
        .unwrap()
        .sample_n(n, seed, Par::Seq)
        .unwrap()
}

fn assert_all_close(a: &[f64], b: &[f64], rtol: f64, atol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(close(*x, *y, rtol, atol), "{what}[{k}]: {x} vs {y}");
    }
}

/// The DSM loss of the family at θ with the Gaussian or manual flow of St(θ) held at `flow_at`,
/// by dsm-core's fixed-θ objective and dsm-flows' flow diffusion (independent of dsm-fit).
fn dsm_core_loss(theta: &[f64], flow_at: &[f64], manual: bool, xs: &Samples) -> f64 {
    let family = StudentTFamily::new(5.0).unwrap();
    let (mu, sigma) = (flow_at[0], flow_at[1].exp());
    let model = family.at(theta).unwrap();
    if manual {
        let m = FlowDiffusion::new(ManualFlow::new(mu, sigma, 3.0).unwrap());
        diffusion_score_matching_loss(&model, &m, xs, Par::Seq)
            .unwrap()
            .value
    } else {
        let m = FlowDiffusion::new(GaussianFlow::new(mu, sigma, 5.0).unwrap());
        diffusion_score_matching_loss(&model, &m, xs, Par::Seq)
            .unwrap()
            .value
    }
}

#[test]
fn moving_diffusion_values_and_both_gradients_equal_the_references() {
    let xs = student_data(300, 11);
    let family = StudentTFamily::new(5.0).unwrap();
    for manual in [false, true] {
        let flow_g = family.gaussian_flow().unwrap();
        let flow_m = family.manual_flow(3.0).unwrap();
        for theta in [[0.1, 0.2], [3.0, -0.4], [-12.0, 0.9]] {
            let (total, frozen) = if manual {
                (
                    moving_diffusion_score_matching_gradient(
                        &family,
                        &flow_m,
                        &theta,
                        &xs,
                        Surrogate::Total,
                        Par::Seq,
                    )
                    .unwrap(),
                    moving_diffusion_score_matching_gradient(
                        &family,
                        &flow_m,
                        &theta,
                        &xs,
                        Surrogate::Frozen,
                        Par::Seq,
                    )
                    .unwrap(),
                )
            } else {
                (
                    moving_diffusion_score_matching_gradient(
                        &family,
                        &flow_g,
                        &theta,
                        &xs,
                        Surrogate::Total,
                        Par::Seq,
                    )
                    .unwrap(),
                    moving_diffusion_score_matching_gradient(
                        &family,
                        &flow_g,
                        &theta,
                        &xs,
                        Surrogate::Frozen,
                        Par::Seq,
                    )
                    .unwrap(),
                )
            };
            let what = format!("manual {manual} θ {theta:?}");
            let reference = dsm_core_loss(&theta, &theta, manual, &xs);
            assert!(
                close(total.value.value, reference, 1e-11, 1e-13),
                "{what}: {} vs {reference}",
                total.value.value
            );
            assert_eq!(total.value, frozen.value, "{what}");
            // Total: the flow moves with θ; frozen: the flow stays at θ.
            let fd_total = central_differences(&theta, |t| dsm_core_loss(t, t, manual, &xs));
            let fd_frozen = central_differences(&theta, |t| dsm_core_loss(t, &theta, manual, &xs));
            assert_all_close(
                &total.gradient,
                &fd_total,
                1e-7,
                1e-9,
                &format!("{what} total"),
            );
            assert_all_close(
                &frozen.gradient,
                &fd_frozen,
                1e-7,
                1e-9,
                &format!("{what} frozen"),
            );
            // The two differ: the diffusion's own θ-derivative is not negligible here.
            assert!(
                total
                    .gradient
                    .iter()
                    .zip(&frozen.gradient)
                    .any(|(a, b)| (a - b).abs() > 1e-6),
                "{what}"
            );
        }
    }
}

/// The U or V statistic of dsm-core at θ (Langevin KSD or DKSD with the Gaussian flow).
fn stein_value<M: ParametricModel>(
    model: &M,
    theta: &[f64],
    xs: &Samples,
    estimator: Estimator,
    diffusion: bool,
) -> f64 {
    let at = model.at(theta).unwrap();
    if diffusion {
        let m = FlowDiffusion::new(GaussianFlow::new(0.2, 1.1, 5.0).unwrap());
        DiffusionKsd::new(Imq::default(), m, estimator)
            .unwrap()
            .estimate(&at, xs, Par::Seq)
            .unwrap()
            .value
    } else {
        Ksd::new(Imq::default(), estimator)
            .estimate(&at, xs, Par::Seq)
            .unwrap()
            .value
    }
}

#[test]
fn stein_gradients_equal_central_differences_of_the_statistics() {
    let xs = student_data(120, 3);
    let family = StudentTFamily::with_free_dof();
    let theta = [0.7, -0.2, 1.1];
    let m = FlowDiffusion::new(GaussianFlow::new(0.2, 1.1, 5.0).unwrap());
    for estimator in [Estimator::U, Estimator::V] {
        let ksd = Ksd::new(Imq::default(), estimator)
            .evaluate(&family, &theta, &xs, Par::Seq)
            .unwrap();
        let dksd = DiffusionKsd::new(Imq::default(), &m, estimator)
            .unwrap()
            .evaluate(&family, &theta, &xs, Par::Seq)
            .unwrap();
        for (diffusion, g) in [(false, &ksd), (true, &dksd)] {
            let what = format!("{estimator} diffusion {diffusion}");
            assert_eq!(
                g.value.value,
                stein_value(&family, &theta, &xs, estimator, diffusion),
                "{what}"
            );
            let fd = central_differences(&theta, |t| {
                stein_value(&family, t, &xs, estimator, diffusion)
            });
            assert_all_close(&g.gradient, &fd, 1e-7, 1e-10, &what);
            // The per-sample projections average to the gradient.
            let mean: Vec<f64> = (0..3)
                .map(|k| g.per_sample.iter().skip(k).step_by(3).sum::<f64>() / 120.0)
                .collect();
            assert_all_close(&mean, &g.gradient, 1e-12, 1e-15, &what);
        }
    }
    // A two-dimensional model with cross terms: the Gaussian in its Cholesky parameterisation.
    let xs2 = Gaussian::new(vec![0.5, -1.0], &[1.0, 0.4, 0.4, 2.0])
        .unwrap()
        .sample_n(80, 5, Par::Seq)
        .unwrap();
    let g2 = GaussianFamily::new(2).unwrap();
    let theta2 = [0.3, -0.8, 0.1, -0.3, -0.2];
    for estimator in [Estimator::U, Estimator::V] {
        let g = Ksd::new(Imq::default(), estimator)
            .evaluate(&g2, &theta2, &xs2, Par::Seq)
            .unwrap();
        let fd = central_differences(&theta2, |t| stein_value(&g2, t, &xs2, estimator, false));
        assert_all_close(&g.gradient, &fd, 1e-7, 1e-10, &format!("2-D {estimator}"));
    }
}

/// Every objective quadratic in the score, on the quartic exponential family.
fn check_quadratic_objective<O: Objective>(objective: &O, xs: &Samples, label: &str) {
    let family = ExponentialFamily::new(Quartic);
    let theta = [0.3, -0.7, 0.2, 0.1];
    let at = objective.evaluate(&family, &theta, xs, Par::Seq).unwrap();
    // The Gauss–Newton Hessian is the exact Hessian: central differences of the exact gradient.
    for k in 0..4 {
        let column = central_differences(&theta, |t| {
            objective
                .evaluate(&family, t, xs, Par::Seq)
                .unwrap()
                .gradient[k]
        });
        assert_all_close(
            &at.hessian[k * 4..(k + 1) * 4],
            &column,
            1e-6,
            1e-9,
            &format!("{label} Hessian row {k}"),
        );
    }
    // The closed form equals the L-BFGS minimum.
    let closed = family.fit(objective, xs, Par::rayon(2)).unwrap();
    let lbfgs = objective
        .minimize(
            &family,
            &[0.0; 4],
            xs,
            Par::rayon(2),
            MinimizeOptions {
                gradient_tolerance: 1e-12,
                noise_tolerance: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
    assert_all_close(
        &lbfgs.theta,
        &closed.theta,
        1e-8,
        1e-9,
        &format!("{label} closed form vs L-BFGS: {lbfgs}"),
    );
    let se = lbfgs.std_err.expect("a regular Hessian");
    assert_all_close(
        &se,
        &closed.std_err,
        1e-5,
        0.0,
        &format!("{label} standard errors"),
    );
}

#[test]
fn exponential_family_closed_forms_equal_lbfgs_for_every_objective() {
    let xs = Gaussian::new(vec![0.2, -0.1], &[1.0, 0.3, 0.3, 0.8])
        .unwrap()
        .sample_n(300, 2, Par::Seq)
        .unwrap();
    let m = FlowDiffusion::new(
        dsm_flows::Elementwise::new(vec![
            dsm_flows::SinhArcsinh::new(0.1, 0.8).unwrap(),
            dsm_flows::SinhArcsinh::new(-0.2, 1.2).unwrap(),
        ])
        .unwrap(),
    );
    check_quadratic_objective(&ScoreMatching, &xs, "SM");
    check_quadratic_objective(&DiffusionScoreMatching(&m), &xs, "DSM");
    check_quadratic_objective(&Ksd::new(Imq::default(), Estimator::U), &xs, "KSD U");
    check_quadratic_objective(
        &DiffusionKsd::new(Rbf::new(1.0).unwrap(), &m, Estimator::V).unwrap(),
        &xs,
        "DKSD V",
    );
    // The moving diffusion is not quadratic: no closed form.
    let family = StudentTFamily::new(5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let fam = ExponentialFamily::new(Quartic);
    let _ = &fam;
    assert!(matches!(
        ExponentialFamily::new(GaussianStatistic::new(1).unwrap()).fit(
            &MovingDiffusionScoreMatching::new(&flow, Surrogate::Total),
            &student_data(10, 1),
            Par::Seq
        ),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn the_cholesky_gaussian_by_lbfgs_is_the_sample_mean_and_inverse_biased_covariance() {
    let xs = Gaussian::new(
        vec![1.0, -2.0, 0.5],
        &[2.0, 0.3, 0.1, 0.3, 0.5, -0.1, 0.1, -0.1, 1.0],
    )
    .unwrap()
    .sample_n(3000, 8, Par::Seq)
    .unwrap();
    let family = GaussianFamily::new(3).unwrap();
    let start = family
        .theta_of(&[0.0; 3], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
        .unwrap();
    assert_eq!(start, vec![0.0; 9]);
    let fit = ScoreMatching
        .minimize(
            &family,
            &start,
            &xs,
            Par::rayon(2),
            MinimizeOptions {
                noise_tolerance: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
    let (mean, cov) = sample_mean_and_biased_covariance(&xs);
    let (mu, precision) = family.mean_and_precision(&fit.theta).unwrap();
    assert_all_close(&mu, &mean, 1e-8, 1e-9, &format!("mean of {fit}"));
    // P Σ̂ = I.
    for a in 0..3 {
        for b in 0..3 {
            let v: f64 = (0..3).map(|c| precision[a * 3 + c] * cov[c * 3 + b]).sum();
            assert!(
                close(v, f64::from(u8::from(a == b)), 0.0, 1e-7),
                "(PΣ̂)[{a},{b}] = {v}"
            );
        }
    }
    // θ_of inverts mean_and_precision.
    let mut sigma = vec![0.0; 9];
    dsm_core::linalg::invert_into(&precision, 3, &mut sigma).unwrap();
    assert_all_close(
        &family.theta_of(&mu, &sigma).unwrap(),
        &fit.theta,
        1e-9,
        1e-10,
        "θ_of",
    );
}

#[test]
fn the_multivariate_t_with_free_scale_recovers_its_location_and_scale() {
    let scale = [1.5, 0.4, 0.4, 0.8];
    let xs = MultivariateStudentT::new(vec![1.0, -1.0], &scale, 5.0)
        .unwrap()
        .sample_n(4000, 4, Par::Seq)
        .unwrap();
    let family = MultivariateStudentTFamily::with_free_scale(2, 5.0).unwrap();
    // From the moments (from θ = 0 the non-convex loss can run to a degenerate scale).
    let (mean, cov) = sample_mean_and_biased_covariance(&xs);
    let start = GaussianFamily::new(2)
        .unwrap()
        .theta_of(&mean, &cov)
        .unwrap();
    let fit = ScoreMatching
        .minimize(
            &family,
            &start,
            &xs,
            Par::rayon(2),
            MinimizeOptions::default(),
        )
        .unwrap();
    assert!(fit.converged, "{fit}");
    let se = fit.std_err.clone().unwrap();
    let truth = GaussianFamily::new(2)
        .unwrap()
        .theta_of(&[1.0, -1.0], &scale)
        .unwrap();
    for k in 0..5 {
        assert!(
            (fit.theta[k] - truth[k]).abs() < 4.0 * se[k],
            "θ[{k}] = {} ± {} vs {}",
            fit.theta[k],
            se[k],
            truth[k]
        );
    }
}

#[test]
fn beyond_the_sm_walls_only_the_total_derivative_of_the_moving_gaussian_flow_recovers_the_location()
{
    // Set B of the paper's example: St(0, 1, 5) data, model location μ.
    let xs = StudentT::new(0.0, 1.0, 5.0)
        .unwrap()
        .sample_n(1000, 2024, Par::Seq)
        .unwrap();
    let family = StudentTFamily::location(1.0, 5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let far: Vec<Vec<f64>> = [-50.0, -20.0, -8.0, 8.0, 20.0, 50.0]
        .iter()
        .map(|&s| vec![s])
        .collect();
    let near: Vec<Vec<f64>> = [-2.0, -1.0, 1.0, 2.0].iter().map(|&s| vec![s]).collect();
    let opts = MinimizeOptions::default();
    let recovers = |run: &Minimum| {
        let se = run.std_err.as_ref().map_or(f64::NAN, |s| s[0]);
        run.converged && run.theta[0].abs() < 0.5 && run.theta[0].abs() < 3.0 * se
    };
    // The total derivative (m moves with μ) brings every start back.
    let total = MovingDiffusionScoreMatching::new(&flow, Surrogate::Total);
    for (start, run) in far.iter().chain(&near).zip(total.minimize_many(
        &family,
        &[far.clone(), near.clone()].concat(),
        &xs,
        Par::rayon(2),
        opts,
    )) {
        let run = run.unwrap();
        assert!(recovers(&run), "total from {start:?}: {run}");
    }
    // The frozen gradient points outwards beyond about 3σ (a fixed diffusion has walls too):
    // it recovers μ* from near starts only.
    let frozen = MovingDiffusionScoreMatching::new(&flow, Surrogate::Frozen);
    for (start, run) in
        near.iter()
            .zip(frozen.minimize_many(&family, &near, &xs, Par::rayon(2), opts))
    {
        let run = run.unwrap();
        assert!(recovers(&run), "frozen from {start:?}: {run}");
    }
    for (start, run) in
        far.iter()
            .zip(frozen.minimize_many(&family, &far, &xs, Par::rayon(2), opts))
    {
        let run = run.unwrap();
        assert!(
            run.theta[0].abs() > 8.0,
            "frozen from {start:?} came back: {run}"
        );
    }
    // SM from beyond its walls ends away from μ*; from inside, at μ*.
    for (start, run) in
        far.iter()
            .zip(ScoreMatching.minimize_many(&family, &far, &xs, Par::rayon(2), opts))
    {
        let run = run.unwrap();
        assert!(
            run.theta[0].abs() > 5.0,
            "SM from {start:?} crossed the wall: {run}"
        );
    }
    for (start, run) in
        near.iter()
            .zip(ScoreMatching.minimize_many(&family, &near, &xs, Par::rayon(2), opts))
    {
        let run = run.unwrap();
        assert!(recovers(&run), "SM from {start:?}: {run}");
    }
}

#[test]
fn many_starts_are_bit_identical_for_any_thread_count() {
    let xs = student_data(200, 6);
    let family = StudentTFamily::new(5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let objective = MovingDiffusionScoreMatching::new(&flow, Surrogate::Total);
    let starts: Vec<Vec<f64>> = (0..5).map(|k| vec![k as f64 * 3.0 - 6.0, 0.3]).collect();
    let one = objective.minimize_many(&family, &starts, &xs, Par::Seq, MinimizeOptions::default());
    let two = objective.minimize_many(
        &family,
        &starts,
        &xs,
        Par::rayon(2),
        MinimizeOptions::default(),
    );
    let three = objective.minimize_many(
        &family,
        &starts,
        &xs,
        Par::rayon(3),
        MinimizeOptions::default(),
    );
    for ((a, b), c) in one.into_iter().zip(two).zip(three) {
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        assert_eq!(a, b);
        assert_eq!(a, c);
    }
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let a = ksd.evaluate(&family, &[0.3, 0.1], &xs, Par::Seq).unwrap();
    let b = ksd
        .evaluate(&family, &[0.3, 0.1], &xs, Par::rayon(3))
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_input_to_the_new_objectives_is_a_typed_error() {
    let xs = student_data(20, 1);
    let family = StudentTFamily::new(5.0).unwrap();
    let flow = family.gaussian_flow().unwrap();
    let total = MovingDiffusionScoreMatching::new(&flow, Surrogate::Total);
    assert!(matches!(
        total.evaluate(&family, &[0.0], &xs, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        total.evaluate(&family, &[f64::NAN, 0.0], &xs, Par::Seq),
        Err(Error::InvalidParameter { .. })
    ));
    // A flow of another parameter count than the model.
    let other = StudentTFamily::location(1.0, 5.0)
        .unwrap()
        .gaussian_flow()
        .unwrap();
    assert!(matches!(
        moving_diffusion_score_matching_gradient(
            &family,
            &other,
            &[0.0, 0.0],
            &xs,
            Surrogate::Total,
            Par::Seq
        ),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        StudentTFamily::with_free_dof().gaussian_flow(),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        LocationScaleFlow::new(
            GaussianFlow::new(0.0, 1.0, 5.0).unwrap(),
            1,
            1,
            Scale::Fixed(1.0),
            Output::Standard
        ),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        LocationScaleFlow::new(
            GaussianFlow::new(0.0, 1.0, 5.0).unwrap(),
            1,
            0,
            Scale::Fixed(-1.0),
            Output::Standard
        ),
        Err(Error::InvalidParameter { .. })
    ));
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let one = Samples::from_scalars(vec![0.5]).unwrap();
    assert!(matches!(
        ksd.evaluate(&family, &[0.0, 0.0], &one, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    let empty = Samples::new(vec![], 1);
    if let Ok(empty) = empty {
        assert!(
            ScoreMatching
                .evaluate(&family, &[0.0, 0.0], &empty, Par::Seq)
                .is_err()
        );
    }
    assert!(GaussianFamily::new(0).is_err());
    assert!(MultivariateStudentTFamily::with_free_scale(2, -1.0).is_err());
    // Far outside the data, the overflowing Student-t tail gives a typed error or a finite
    // result, never a NaN result.
    for theta in [[1e300, 0.0], [0.0, 700.0], [0.0, -700.0]] {
        for r in [
            total.evaluate(&family, &theta, &xs, Par::Seq),
            ksd.evaluate(&family, &theta, &xs, Par::Seq),
        ]
        .into_iter()
        .flatten()
        {
            {
                assert!(
                    r.value.value.is_finite() && r.gradient.iter().all(|g| g.is_finite()),
                    "{theta:?}"
                );
            }
        }
    }
}
