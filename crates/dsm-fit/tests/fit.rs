//! dsm-fit against independent references: Hyvärinen's closed form for the Gaussian, central
//! differences of the loss (a test oracle only) for the θ-gradients, the coverage of the
//! sandwich intervals, determinism, and bad input.

use dsm_core::testing::close;
use dsm_core::*;
use dsm_fit::*;

mod common;
use common::*;

/// Student-t with location θ₀ and log-scale θ₁ at ν = 4.
struct LocationScaleT;

impl ParametricModel for LocationScaleT {
    fn dim(&self) -> usize {
        1
    }
    fn n_params(&self) -> usize {
        2
    }
    fn log_density_generic<D: Scalar>(&self, theta: &[D], x: &[D]) -> D {
        let z = (x[0] - theta[0]) / theta[1].exp();
        -(z * z / 4.0 + 1.0).ln() * 2.5 - theta[1]
    }
}

#[test]
fn the_gaussian_sm_estimate_is_the_sample_mean_and_the_inverse_biased_covariance() {
    // Hyvärinen (2005): score matching of N(μ, Σ) gives μ̂ = x̄ and P̂ = S⁻¹, S the biased
    // sample covariance.
    for (d, cov) in [
        (1, vec![2.5]),
        (2, vec![2.0, 0.3, 0.3, 0.5]),
        (3, vec![1.0, 0.2, 0.0, 0.2, 2.0, -0.4, 0.0, -0.4, 0.7]),
    ] {
        let xs = Gaussian::new((0..d).map(|i| i as f64 - 1.0).collect(), &cov)
            .unwrap()
            .sample_n(3000, 11 + d as u64, Par::Seq)
            .unwrap();
        let family = ExponentialFamily::new(GaussianStatistic::new(d).unwrap());
        let fit = family.fit_score_matching(&xs, Par::rayon(2)).unwrap();
        let (mean, precision) = family.statistic().mean_and_precision(&fit.theta).unwrap();
        let (x_bar, s) = sample_mean_and_biased_covariance(&xs);
        let mut s_inv = vec![0.0; d * d];
        linalg::invert_into(&s, d, &mut s_inv).unwrap();
        for (a, b) in mean.iter().zip(&x_bar) {
            assert!(close(*a, *b, 1e-10, 1e-12), "d={d}: mean {a} vs {b}");
        }
        for (a, b) in precision.iter().zip(&s_inv) {
            assert!(close(*a, *b, 1e-10, 1e-12), "d={d}: precision {a} vs {b}");
        }
    }
}

/// Central differences of the SM loss in θ through `ParametricModel::at`.
fn fd_gradient<M: ParametricModel>(model: &M, theta: &[f64], xs: &Samples) -> Vec<f64> {
    central_differences(theta, |t| {
        score_matching_loss(&model.at(t).unwrap(), xs, Par::Seq)
            .unwrap()
            .value
    })
}

#[test]
fn theta_gradients_equal_central_differences() {
    let xs = StudentT::new(0.3, 1.5, 4.0)
        .unwrap()
        .sample_n(400, 5, Par::Seq)
        .unwrap();
    for theta in [[0.0, 0.0], [0.7, 0.4], [-2.0, -0.5]] {
        let g = score_matching_gradient(&LocationScaleT, &theta, &xs, Par::Seq).unwrap();
        let fd = fd_gradient(&LocationScaleT, &theta, &xs);
        let value = score_matching_loss(&LocationScaleT.at(&theta).unwrap(), &xs, Par::Seq)
            .unwrap()
            .value;
        assert!(
            close(g.value.value, value, 1e-12, 1e-12),
            "{} vs {value}",
            g.value.value
        );
        for (a, b) in g.gradient.iter().zip(&fd) {
            assert!(close(*a, *b, 1e-7, 1e-9), "θ={theta:?}: {a} vs {b}");
        }
    }
    let family = ExponentialFamily::new(Quartic);
    let xs2 = Gaussian::new(vec![0.2, -0.1], &[1.0, 0.4, 0.4, 0.8])
        .unwrap()
        .sample_n(300, 3, Par::Seq)
        .unwrap();
    for theta in [[0.1, -0.3, 0.2, 0.5], [1.0, -1.0, -0.5, 0.0]] {
        let g = score_matching_gradient(&family, &theta, &xs2, Par::Seq).unwrap();
        let fd = fd_gradient(&family, &theta, &xs2);
        for (a, b) in g.gradient.iter().zip(&fd) {
            assert!(close(*a, *b, 1e-7, 1e-9), "θ={theta:?}: {a} vs {b}");
        }
    }
    // The closed form is a stationary point of the exact gradient, and the per-sample
    // gradients there average to it.
    let fit = family.fit_score_matching(&xs2, Par::Seq).unwrap();
    let g = score_matching_gradient(&family, &fit.theta, &xs2, Par::Seq).unwrap();
    assert!(
        g.gradient.iter().all(|v| v.abs() < 1e-9),
        "{:?}",
        g.gradient
    );
    assert!(close(g.value.value, fit.objective.value, 1e-9, 1e-9));
    let p = 4;
    for k in 0..p {
        let mean: f64 = g.per_sample.iter().skip(k).step_by(p).sum::<f64>() / xs2.n() as f64;
        assert!(close(mean, g.gradient[k], 1e-12, 1e-12));
    }
}

#[test]
fn results_are_bit_identical_for_any_thread_count() {
    let xs = StudentT::new(0.0, 1.0, 4.0)
        .unwrap()
        .sample_n(3000, 2, Par::Seq)
        .unwrap();
    let a = score_matching_gradient(&LocationScaleT, &[0.2, 0.1], &xs, Par::Seq).unwrap();
    let xs2 = Gaussian::standard(2)
        .unwrap()
        .sample_n(3000, 2, Par::Seq)
        .unwrap();
    let family = ExponentialFamily::new(GaussianStatistic::new(2).unwrap());
    let f = family.fit_score_matching(&xs2, Par::Seq).unwrap();
    for threads in [1, 2, 3] {
        let b = score_matching_gradient(&LocationScaleT, &[0.2, 0.1], &xs, Par::rayon(threads))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            f,
            family
                .fit_score_matching(&xs2, Par::rayon(threads))
                .unwrap()
        );
    }
}

#[test]
fn sandwich_intervals_cover_at_their_level() {
    // 500 seeded replications (seeds 1000..1500) of the SM fit of N(2, 0.5²) from n = 1000:
    // the 95% interval θ̂ₖ ± 1.96 seₖ must cover the true θₖ (μ/σ² = 8, 1/σ² = 4) in a
    // fraction inside the binomial 99% interval around 0.95 for 500 trials, [0.924, 0.974]
    // (0.95 ± 2.576·√(0.95·0.05/500)).
    let family = ExponentialFamily::new(GaussianStatistic::new(1).unwrap());
    let truth = [8.0, 4.0];
    let q = Gaussian::isotropic(vec![2.0], 0.25).unwrap();
    let replications = 500;
    let mut covered = [0usize; 2];
    for r in 0..replications {
        let xs = q.sample_n(1000, 1000 + r as u64, Par::Seq).unwrap();
        let fit = family.fit_score_matching(&xs, Par::Seq).unwrap();
        for k in 0..2 {
            if (fit.theta[k] - truth[k]).abs() <= 1.96 * fit.std_err[k] {
                covered[k] += 1;
            }
        }
    }
    eprintln!("sandwich coverage over {replications} replications: {covered:?}");
    for (k, c) in covered.iter().enumerate() {
        let rate = *c as f64 / replications as f64;
        assert!((0.924..=0.974).contains(&rate), "θ[{k}] coverage {rate}");
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let xs = Samples::from_scalars(vec![0.1, 0.5, -0.3, 2.0]).unwrap();
    assert!(matches!(
        score_matching_gradient(&LocationScaleT, &[0.0], &xs, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        score_matching_gradient(&LocationScaleT, &[f64::NAN, 0.0], &xs, Par::Seq),
        Err(Error::InvalidParameter { name: "theta", .. })
    ));
    assert!(matches!(
        LocationScaleT.at(&[0.0, f64::INFINITY]),
        Err(Error::InvalidParameter { .. })
    ));
    let xs2 = Samples::new(vec![0.0, 1.0, 2.0, 3.0], 2).unwrap();
    assert!(matches!(
        score_matching_gradient(&LocationScaleT, &[0.0, 0.0], &xs2, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    // A log-scale so large that z underflows and the loss overflows: an error naming a sample.
    assert!(score_matching_gradient(&LocationScaleT, &[0.0, -800.0], &xs, Par::Seq).is_err());
    // A statistic that does not identify θ: t = (x, 2x) makes Γ̄ singular.
    struct Twice;
    impl SufficientStatistic for Twice {
        fn dim(&self) -> usize {
            1
        }
        fn n_params(&self) -> usize {
            2
        }
        fn statistic_generic<D: Scalar>(&self, x: &[D], t: &mut [D]) {
            t[0] = x[0];
            t[1] = x[0] * 2.0;
        }
    }
    assert!(matches!(
        ExponentialFamily::new(Twice).fit_score_matching(&xs, Par::Seq),
        Err(Error::Singular { .. })
    ));
    let family = ExponentialFamily::new(GaussianStatistic::new(1).unwrap());
    assert!(matches!(
        family.fit_score_matching(&Samples::from_scalars(vec![1.0]).unwrap(), Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    // Equal weights are the unweighted fit; KSD gradients refuse weights.
    let weighted = xs.clone().with_weights(vec![2.0; 4]).unwrap();
    let (a, b) = (
        family.fit_score_matching(&weighted, Par::Seq).unwrap(),
        family.fit_score_matching(&xs, Par::Seq).unwrap(),
    );
    for (u, v) in a
        .theta
        .iter()
        .zip(&b.theta)
        .chain(a.std_err.iter().zip(&b.std_err))
    {
        assert!(close(*u, *v, 1e-12, 0.0), "{u} vs {v}");
    }
    assert!(matches!(
        family.fit(&Ksd::new(Imq::default(), Estimator::U), &weighted, Par::Seq),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        family.fit_score_matching(&xs2, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        GaussianStatistic::new(0),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        family.statistic().mean_and_precision(&[1.0]),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn a_fit_prints_one_line_per_parameter() {
    let fit = Fit::new(
        vec![0.75, 0.25],
        Estimate {
            value: -1.5,
            std_err: 0.01,
            n: 100,
        },
        vec![1e-4, 0.0, 0.0, 4e-6],
        100,
    )
    .unwrap();
    assert_eq!(fit.std_err, vec![0.01, 0.002]);
    assert_eq!(
        fit.to_string(),
        "θ[0] = 0.750000 ± 1.00e-2\nθ[1] = 0.250000 ± 2.00e-3\nobjective -1.500 ± 0.010 (n = 100)"
    );
    assert!(Fit::new(vec![f64::NAN], fit.objective, vec![1.0], 1).is_err());
    assert!(Fit::new(vec![1.0], fit.objective, vec![-1.0], 1).is_err());
    assert!(matches!(
        Fit::new(vec![1.0, 2.0], fit.objective, vec![1.0], 1),
        Err(Error::DimensionMismatch { .. })
    ));
}

/// Central differences of the DSM loss in θ.
fn fd_dsm_gradient<M: ParametricModel, A: Diffusion>(
    model: &M,
    m: &A,
    theta: &[f64],
    xs: &Samples,
) -> Vec<f64> {
    central_differences(theta, |t| {
        diffusion_score_matching_loss(&model.at(t).unwrap(), m, xs, Par::Seq)
            .unwrap()
            .value
    })
}

#[test]
fn dsm_theta_gradients_equal_central_differences() {
    use dsm_flows::{Elementwise, FlowDiffusion, GaussianFlow};
    // 1-D: the Gaussian flow's diffusion of St(0.3, 1.5, 4), held fixed while θ moves.
    let xs = StudentT::new(0.3, 1.5, 4.0)
        .unwrap()
        .sample_n(300, 8, Par::Seq)
        .unwrap();
    let m = FlowDiffusion::new(GaussianFlow::new(0.3, 1.5, 4.0).unwrap());
    for theta in [[0.0, 0.0], [2.0, 0.7]] {
        let g = diffusion_score_matching_gradient(&LocationScaleT, &m, &theta, &xs, Par::rayon(2))
            .unwrap();
        let value =
            diffusion_score_matching_loss(&LocationScaleT.at(&theta).unwrap(), &m, &xs, Par::Seq)
                .unwrap()
                .value;
        assert!(
            close(g.value.value, value, 1e-12, 1e-12),
            "{} vs {value}",
            g.value.value
        );
        let fd = fd_dsm_gradient(&LocationScaleT, &m, &theta, &xs);
        for (a, b) in g.gradient.iter().zip(&fd) {
            assert!(close(*a, *b, 1e-7, 1e-9), "θ={theta:?}: {a} vs {b}");
        }
    }
    // 2-D: a family with cross terms and an elementwise flow diffusion; and a dense constant m.
    let family = ExponentialFamily::new(Quartic);
    let xs2 = Gaussian::new(vec![0.2, -0.1], &[1.0, 0.4, 0.4, 0.8])
        .unwrap()
        .sample_n(200, 4, Par::Seq)
        .unwrap();
    let flow_m = FlowDiffusion::new(
        Elementwise::uniform(GaussianFlow::new(0.0, 1.0, 3.0).unwrap(), 2).unwrap(),
    );
    let dense_m = ConstantDiffusion::new(2, vec![1.5, 0.4, -0.2, 0.8]).unwrap();
    let theta = [0.1, -0.3, 0.2, 0.5];
    let g = diffusion_score_matching_gradient(&family, &flow_m, &theta, &xs2, Par::Seq).unwrap();
    for (a, b) in g
        .gradient
        .iter()
        .zip(&fd_dsm_gradient(&family, &flow_m, &theta, &xs2))
    {
        assert!(close(*a, *b, 1e-7, 1e-9), "flow m: {a} vs {b}");
    }
    let g = diffusion_score_matching_gradient(&family, &dense_m, &theta, &xs2, Par::Seq).unwrap();
    for (a, b) in g
        .gradient
        .iter()
        .zip(&fd_dsm_gradient(&family, &dense_m, &theta, &xs2))
    {
        assert!(close(*a, *b, 1e-7, 1e-9), "dense m: {a} vs {b}");
    }
    // m = I: the SM gradient.
    let id = diffusion_score_matching_gradient(
        &family,
        &IdentityDiffusion::new(2),
        &theta,
        &xs2,
        Par::Seq,
    )
    .unwrap();
    let sm = score_matching_gradient(&family, &theta, &xs2, Par::Seq).unwrap();
    for (a, b) in id.gradient.iter().zip(&sm.gradient) {
        assert!(close(*a, *b, 1e-12, 1e-12));
    }
    // A diffusion of another dimension is an error.
    assert!(matches!(
        diffusion_score_matching_gradient(
            &family,
            &IdentityDiffusion::new(3),
            &theta,
            &xs2,
            Par::Seq
        ),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn built_in_families_match_the_closed_form_models() {
    // Scores and Hessians at θ against dsm-core's closed forms (independent code).
    let points = [-30.0, -1.3, 0.0, 0.4, 2.5, 1e3];
    for (mu, log_sigma, nu) in [(0.3, 0.2, 4.0), (-2.0, -1.0, 0.7), (5.0, 1.5, 50.0)] {
        let reference = StudentT::new(mu, f64::exp(log_sigma), nu).unwrap();
        let fixed = StudentTFamily::new(nu).unwrap();
        let free = StudentTFamily::with_free_dof();
        for model in [
            fixed.at(&[mu, log_sigma]).unwrap(),
            free.at(&[mu, log_sigma, nu.ln()]).unwrap(),
        ] {
            for x in points {
                let (s, h) = (
                    model.try_score(&[x]).unwrap()[0],
                    model.try_hessian(&[x]).unwrap()[0],
                );
                let (s0, h0) = (
                    reference.try_score(&[x]).unwrap()[0],
                    reference.try_hessian(&[x]).unwrap()[0],
                );
                assert!(close(s, s0, 1e-12, 1e-14), "score at {x}: {s} vs {s0}");
                assert!(close(h, h0, 1e-12, 1e-14), "hessian at {x}: {h} vs {h0}");
            }
        }
    }
    let cov = [2.0, 0.3, 0.3, 0.5];
    let mu = [1.0, -2.0];
    let g = GaussianMeanFamily::new(2, &cov).unwrap();
    let t = MultivariateStudentTFamily::new(2, &cov, 3.5).unwrap();
    let (g0, t0) = (
        Gaussian::new(mu.to_vec(), &cov).unwrap(),
        MultivariateStudentT::new(mu.to_vec(), &cov, 3.5).unwrap(),
    );
    for x in [[0.0, 0.0], [3.0, -1.0], [-40.0, 25.0]] {
        for (a, b) in [
            (
                g.at(&mu).unwrap().try_score(&x).unwrap(),
                g0.try_score(&x).unwrap(),
            ),
            (
                g.at(&mu).unwrap().try_hessian(&x).unwrap(),
                g0.try_hessian(&x).unwrap(),
            ),
            (
                t.at(&mu).unwrap().try_score(&x).unwrap(),
                t0.try_score(&x).unwrap(),
            ),
            (
                t.at(&mu).unwrap().try_hessian(&x).unwrap(),
                t0.try_hessian(&x).unwrap(),
            ),
        ] {
            for (u, v) in a.iter().zip(&b) {
                assert!(close(*u, *v, 1e-12, 1e-14), "x={x:?}: {a:?} vs {b:?}");
            }
        }
    }
    // Bad constructors are typed errors.
    assert!(matches!(
        StudentTFamily::new(0.0),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        GaussianMeanFamily::new(2, &[1.0, 2.0, 0.0, 1.0]),
        Err(Error::NotSymmetric { .. })
    ));
    assert!(matches!(
        MultivariateStudentTFamily::new(2, &[1.0, 0.0, 0.0, -1.0], 3.0),
        Err(Error::NotPositiveDefinite { .. })
    ));
    assert!(GaussianMeanFamily::new(0, &[]).is_err());
    assert!(GaussianMeanFamily::new(2, &[1.0]).is_err());
}

#[test]
fn the_gaussian_mean_family_fitted_by_its_gradient_is_the_sample_mean() {
    // SM in μ for N(μ, Σ) with Σ known: h = ‖P(x − μ)‖² − 2 tr P, minimised at the sample
    // mean, where the exact gradient must vanish (and point away from it elsewhere).
    let cov = [1.5, 0.2, 0.2, 0.8];
    let family = GaussianMeanFamily::new(2, &cov).unwrap();
    let xs = Gaussian::new(vec![0.5, -1.0], &cov)
        .unwrap()
        .sample_n(500, 21, Par::Seq)
        .unwrap();
    let (x_bar, _) = sample_mean_and_biased_covariance(&xs);
    let g = score_matching_gradient(&family, &x_bar, &xs, Par::Seq).unwrap();
    assert!(
        g.gradient.iter().all(|v| v.abs() < 1e-12),
        "{:?}",
        g.gradient
    );
    let off = score_matching_gradient(&family, &[x_bar[0] + 0.1, x_bar[1]], &xs, Par::Seq).unwrap();
    assert!(off.gradient[0] > 0.0);
}

#[test]
fn lbfgs_reaches_the_closed_form_minimum() {
    let sm = ScoreMatching;
    // The noise rule off: these compare L-BFGS with closed forms to 1e-8.
    let options = MinimizeOptions {
        noise_tolerance: 0.0,
        ..MinimizeOptions::default()
    };
    // For the Gaussian's five parameters ‖∇L‖ ≤ 1e-8: the rounding of the Monte Carlo sums
    // stalls L-BFGS at a few 1e-9 there (measured 4.4e-9), so it is compared at 1e-7.
    let loose = MinimizeOptions {
        gradient_tolerance: 1e-8,
        ..options
    };
    // A family with a base measure and cross terms: closed form vs L-BFGS to 1e-8.
    let family = ExponentialFamily::new(Quartic);
    let xs = Gaussian::new(vec![0.2, -0.1], &[1.0, 0.4, 0.4, 0.8])
        .unwrap()
        .sample_n(2000, 5, Par::Seq)
        .unwrap();
    let closed = family.fit_score_matching(&xs, Par::Seq).unwrap();
    let fit = sm
        .minimize(&family, &[0.0; 4], &xs, Par::rayon(2), options)
        .unwrap();
    assert!(fit.converged, "{fit:?}");
    for (a, b) in fit.theta.iter().zip(&closed.theta) {
        assert!(close(*a, *b, 1e-8, 1e-10), "L-BFGS {a} vs closed form {b}");
    }
    assert!(close(
        fit.objective.value,
        closed.objective.value,
        1e-12,
        1e-12
    ));
    // The Gaussian through L-BFGS: the sample mean and the inverse biased covariance.
    let gauss = ExponentialFamily::new(GaussianStatistic::new(2).unwrap());
    let xs2 = Gaussian::new(vec![1.0, -2.0], &[2.0, 0.3, 0.3, 0.5])
        .unwrap()
        .sample_n(2000, 9, Par::Seq)
        .unwrap();
    let fit = sm
        .minimize(&gauss, &[0.0, 0.0, 1.0, 1.0, 0.0], &xs2, Par::Seq, loose)
        .unwrap();
    assert!(fit.converged, "{fit:?}");
    let (mean, precision) = gauss.statistic().mean_and_precision(&fit.theta).unwrap();
    let (x_bar, s) = sample_mean_and_biased_covariance(&xs2);
    let mut s_inv = vec![0.0; 4];
    linalg::invert_into(&s, 2, &mut s_inv).unwrap();
    for (a, b) in mean.iter().zip(&x_bar).chain(precision.iter().zip(&s_inv)) {
        assert!(close(*a, *b, 1e-7, 1e-9), "{a} vs {b}");
    }
    // The same result for any thread count.
    let again = sm
        .minimize(
            &gauss,
            &[0.0, 0.0, 1.0, 1.0, 0.0],
            &xs2,
            Par::rayon(3),
            loose,
        )
        .unwrap();
    assert_eq!(fit, again);
}

#[test]
fn student_t_location_and_scale_by_sm_and_fixed_diffusion_dsm() {
    use dsm_flows::{FlowDiffusion, GaussianFlow};
    let xs = StudentT::new(1.0, 2.0, 5.0)
        .unwrap()
        .sample_n(5000, 13, Par::Seq)
        .unwrap();
    let family = StudentTFamily::new(5.0).unwrap();
    let truth = [1.0, 2f64.ln()];
    let sm = ScoreMatching;
    let fit = sm
        .minimize(
            &family,
            &[0.5, 0.0],
            &xs,
            Par::Seq,
            MinimizeOptions::default(),
        )
        .unwrap();
    assert!(fit.converged && fit.gradient_norm <= 1e-8, "{fit:?}");
    // The DSM loss with the Gaussian flow's diffusion of the truth, held fixed.
    let m = FlowDiffusion::new(GaussianFlow::new(1.0, 2.0, 5.0).unwrap());
    let dsm = DiffusionScoreMatching(&m);
    let fit_dsm = dsm
        .minimize(
            &family,
            &[0.5, 0.0],
            &xs,
            Par::Seq,
            MinimizeOptions::default(),
        )
        .unwrap();
    assert!(fit_dsm.converged, "{fit_dsm:?}");
    for f in [&fit, &fit_dsm] {
        assert!(
            (f.theta[0] - truth[0]).abs() < 0.15 && (f.theta[1] - truth[1]).abs() < 0.1,
            "{f:?}"
        );
    }
    // Bad options and a bad start are typed errors.
    let bad = MinimizeOptions {
        gradient_tolerance: f64::NAN,
        ..MinimizeOptions::default()
    };
    assert!(matches!(
        sm.minimize(&family, &[0.5, 0.0], &xs, Par::Seq, bad),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        sm.minimize(
            &family,
            &[f64::NAN, 0.0],
            &xs,
            Par::Seq,
            MinimizeOptions::default()
        ),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        sm.minimize(&family, &[0.5], &xs, Par::Seq, MinimizeOptions::default()),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn many_starts_reach_one_minimum_deterministically() {
    let xs = StudentT::new(1.0, 2.0, 5.0)
        .unwrap()
        .sample_n(3000, 17, Par::Seq)
        .unwrap();
    let family = StudentTFamily::new(5.0).unwrap();
    let sm = ScoreMatching;
    let starts = vec![
        vec![-1.0, 0.0],
        vec![0.5, 1.0],
        vec![3.0, 0.3],
        vec![f64::NAN, 0.0],
    ];
    let seq = sm.minimize_many(&family, &starts, &xs, Par::Seq, MinimizeOptions::default());
    let par = sm.minimize_many(
        &family,
        &starts,
        &xs,
        Par::rayon(2),
        MinimizeOptions::default(),
    );
    // (The bad start's error holds a NaN, which is never equal to itself.)
    assert_eq!(seq[..3], par[..3]);
    assert!(matches!(seq[3], Err(Error::InvalidParameter { .. })));
    assert!(matches!(par[3], Err(Error::InvalidParameter { .. })));
    let first = seq[0].as_ref().unwrap();
    for m in &seq[..3] {
        let m = m.as_ref().unwrap();
        assert!(m.converged, "{m:?}");
        for (a, b) in m.theta.iter().zip(&first.theta) {
            assert!((a - b).abs() < 1e-6, "{:?} vs {:?}", m.theta, first.theta);
        }
    }
}

#[test]
fn the_closure_minimisers_equal_the_objective_ones() {
    let xs = StudentT::new(0.3, 1.0, 5.0)
        .unwrap()
        .sample_n(400, 21, Par::Seq)
        .unwrap();
    let family = StudentTFamily::location(1.0, 5.0).unwrap();
    let options = MinimizeOptions::default();
    // minimize_with on the SM objective's own evaluation is Objective::minimize, to the bit.
    let direct = ScoreMatching
        .minimize(&family, &[1.5], &xs, Par::Seq, options)
        .unwrap();
    let evaluate = |theta: &[f64]| ScoreMatching.evaluate(&family, theta, &xs, Par::Seq);
    let closure = minimize_with(&evaluate, &[1.5], &xs, options).unwrap();
    assert_eq!(closure.theta, direct.theta);
    assert_eq!(closure.std_err, direct.std_err);
    // frozen_fixed_point_with with the Gaussian flow held at the frozen point is the frozen
    // surrogate of MovingDiffusionScoreMatching, to the bit.
    let flow = family.gaussian_flow().unwrap();
    let frozen = MovingDiffusionScoreMatching::new(&flow, Surrogate::Frozen)
        .minimize(&family, &[2.0], &xs, Par::Seq, options)
        .unwrap();
    let held = |theta: &[f64], at: &[f64]| {
        let m =
            dsm_flows::FlowDiffusion::new(dsm_flows::GaussianFlow::new(at[0], 1.0, 5.0).unwrap());
        DiffusionScoreMatching(&m).evaluate(&family, theta, &xs, Par::Seq)
    };
    let with = frozen_fixed_point_with(held, &[2.0], &xs, options).unwrap();
    assert!(
        close(with.theta[0], frozen.theta[0], 1e-12, 1e-12),
        "{} vs {}",
        with.theta[0],
        frozen.theta[0]
    );
    assert!(with.converged && (with.theta[0] - 0.3).abs() < 0.2);
    // Bad options and a failing evaluation are typed errors.
    let bad = MinimizeOptions {
        max_iters: 0,
        ..options
    };
    assert!(matches!(
        minimize_with(&evaluate, &[1.5], &xs, bad),
        Err(Error::InvalidParameter { .. })
    ));
    let failing = |_: &[f64]| -> Result<ObjectiveGradient> {
        Err(Error::TooFewSamples { needed: 2, got: 1 })
    };
    assert!(minimize_with(&failing, &[1.5], &xs, options).is_err());
    assert!(frozen_fixed_point_with(|_, _| failing(&[]), &[1.5], &xs, options).is_err());
}
