//! Adversarial input through the public API: every constructor and entry point, fed NaN,
//! ±inf, ±0, subnormals, ±1e300, ±f64::MAX, empty and ragged data, mismatched dimensions,
//! sizes that overflow usize and chains that push values out of range, must return `Ok` with
//! finite values or `Err` — never panic (counted with `catch_unwind`), abort or return a
//! non-finite value as success. Run in debug (`cargo test`) and release
//! (`cargo test --release --test adversarial`, as CI does).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use dsm::core::autocorrelation::integrated_autocorrelation_time;
use dsm::core::linalg;
use dsm::core::quadrature::sinh_simpson;
use dsm::core::special_functions::StudentTFunctions;
use dsm::core::*;
use dsm::flows::*;
use dsm::riemann::*;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

/// Panics caught so far in this test binary (must stay 0).
static PANICS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The message and location of the last panic on this thread.
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    /// Whether an `Err` fails the check too (for ordinary input).
    static STRICT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Whether this thread is inside [`check`].
    static CHECKING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records panics quietly (the failing case reports them) instead of printing each one.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CHECKING.with(|c| c.get()) {
                LAST_PANIC.with(|l| *l.borrow_mut() = info.to_string());
            } else {
                default(info);
            }
        }))
    });
}

/// Runs `f`; a panic or an `Ok` value that fails `finite` fails the case.
fn check<T: std::fmt::Debug>(
    what: &str,
    f: impl FnOnce() -> Result<T>,
    finite: impl FnOnce(&T) -> bool,
) -> std::result::Result<Option<T>, TestCaseError> {
    quiet_panics();
    CHECKING.with(|c| c.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    CHECKING.with(|c| c.set(false));
    match outcome {
        Err(_) => {
            PANICS.fetch_add(1, Ordering::SeqCst);
            let message = LAST_PANIC.with(|l| l.borrow().clone());
            Err(TestCaseError::fail(format!("{what}: panicked: {message}")))
        }
        Ok(Err(e)) if STRICT.with(|s| s.get()) => Err(TestCaseError::fail(format!(
            "{what}: error on ordinary input: {e}"
        ))),
        Ok(Err(_)) => Ok(None),
        Ok(Ok(v)) if finite(&v) => Ok(Some(v)),
        Ok(Ok(v)) => Err(TestCaseError::fail(format!(
            "{what}: Ok with a non-finite value {v:?}"
        ))),
    }
}

fn all_finite(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// A finite value, and a finite standard error or the documented `+∞` ("cannot be
/// estimated from the data": one sample, or all weight on one sample).
fn estimate_finite(e: &Estimate) -> bool {
    e.value.is_finite() && (e.std_err.is_finite() || e.std_err == f64::INFINITY) && e.std_err >= 0.0
}

/// As [`estimate_finite`] (a single sample has a standard error of `+∞`).
fn ksd_finite(e: &KsdEstimate) -> bool {
    e.value.is_finite() && (e.std_err.is_finite() || e.std_err == f64::INFINITY) && e.std_err >= 0.0
}

/// The values users (and bugs) feed a numerical library.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(5e-324),
            Just(-2.2e-310),
            Just(1e-300),
            Just(1e300),
            Just(-1e300),
            Just(f64::MAX),
            Just(-f64::MAX),
            Just(1.3e154),
            Just(-1e154),
            Just(1.0),
            Just(-1.0),
        ],
        2 => -5.0..5.0f64,
    ]
}

/// Mostly ordinary values with the occasional wild one: data that gets past validation.
fn mostly_finite() -> impl Strategy<Value = f64> {
    prop_oneof![1 => wild(), 6 => -4.0..4.0f64]
}

fn data_vec(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(mostly_finite(), 0..=max)
}

/// Sizes, including ones that overflow allocations and products.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 0usize..5,
        1 => prop_oneof![
            Just(usize::MAX),
            Just(usize::MAX / 2 + 1),
            Just(1usize << 32),
            Just(1usize << 62),
            Just((1usize << 31) + 7),
        ],
    ]
}

fn wild_vec(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(wild(), 0..=max)
}

/// A fixed seed, so that CI runs the same cases every time (30 000 random cases per
/// property passed when this was written; raise `cases` locally to hunt).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_202),
        ..ProptestConfig::default()
    }
}

/// A flow layer of kind `kind` from wild parameters, if its constructor accepts them.
fn layer(kind: u8, d: usize, p: &[f64]) -> Result<Layer> {
    let at = |i: usize| p.get(i).copied().unwrap_or(0.5);
    let vec_of = |from: usize, n: usize| (0..n).map(|i| at(from + i)).collect::<Vec<f64>>();
    Ok(match kind % 7 {
        0 => Layer::Affine(Affine::new(
            d,
            vec_of(0, d.saturating_mul(d).min(64)),
            vec_of(3, d.min(8)),
        )?),
        1 => Layer::Planar(Planar::new(
            vec_of(0, d.min(8)),
            vec_of(2, d.min(8)),
            at(5),
        )?),
        2 => Layer::Radial(Radial::new(vec_of(0, d.min(8)), at(4), at(5))?),
        3 => Layer::Coupling(AffineCoupling::seeded(d, 3, at(0) > 0.0, at(1), 7)?),
        4 => Layer::Gaussian(Elementwise::new(vec![
            GaussianFlow::new(
                at(0),
                at(1),
                at(2)
            )?;
            d.min(8)
        ])?),
        5 => Layer::Manual(Elementwise::new(vec![
            ManualFlow::new(at(0), at(1), at(2))?;
            d.min(8)
        ])?),
        _ => Layer::SinhArcsinh(Elementwise::new(vec![
            SinhArcsinh::new(at(0), at(1))?;
            d.min(8)
        ])?),
    })
}

/// Every fallible entry point of a flow at the point `x` (of any length).
fn drive_flow<F: Flow>(name: &str, flow: &F, x: &[f64]) -> std::result::Result<(), TestCaseError> {
    let d = flow.dim();
    let mut y = vec![0.0; d];
    let mut back = vec![0.0; d];
    check(
        &format!("{name}: try_transform_into"),
        || flow.try_transform_into(x, &mut y).map(|()| y.clone()),
        |v| all_finite(v),
    )?;
    check(
        &format!("{name}: forward_into"),
        || flow.forward_into(x, &mut y).map(|l| (l, y.clone())),
        |(l, v)| l.is_finite() && all_finite(v),
    )?;
    check(
        &format!("{name}: log_abs_det_jacobian"),
        || flow.log_abs_det_jacobian(x),
        |l| l.is_finite(),
    )?;
    check(
        &format!("{name}: try_inverse_into"),
        || flow.try_inverse_into(x, &mut back).map(|()| back.clone()),
        |v| all_finite(v),
    )?;
    check(
        &format!("{name}: inverse_into"),
        || flow.inverse_into(x, &mut back).map(|l| (l, back.clone())),
        |(l, v)| l.is_finite() && all_finite(v),
    )?;
    check(
        &format!("{name}: forward"),
        || flow.forward(x),
        |(v, l)| l.is_finite() && all_finite(v),
    )?;
    check(
        &format!("{name}: inverse"),
        || flow.inverse(x),
        |(v, l)| l.is_finite() && all_finite(v),
    )?;
    let strict = STRICT.with(|s| s.replace(false));
    let mut short = vec![0.0; d.saturating_sub(1)];
    check(
        &format!("{name}: try_transform_into (short output)"),
        || {
            flow.try_transform_into(x, &mut short)
                .map(|()| short.clone())
        },
        |v| all_finite(v),
    )?;
    STRICT.with(|s| s.set(strict));
    Ok(())
}

/// `Distribution` draws and `sample_n_with` of a validated model with wild parameters: finite
/// points or an error, never a panic (n up to `size()`, capped so the case stays fast).
fn drive_sampling<S, T>(
    name: &str,
    model: &S,
    n: usize,
    to_vec: impl Fn(T) -> Vec<f64>,
) -> std::result::Result<(), TestCaseError>
where
    S: Sampler + rand::distr::Distribution<T>,
{
    let mut rng = mc::random_stream(3, mc::RandomPurpose::Other(1), 0);
    check(
        &format!("{name}: Distribution::sample"),
        || Ok(to_vec(model.sample(&mut rng))),
        |_| true,
    )?;
    let n = if n > 64 { n % 64 } else { n };
    check(
        &format!("{name}: sample_n_with"),
        || model.sample_n_with(&mut rng, n),
        |s| all_finite(s.as_slice()),
    )?;
    for huge in [usize::MAX, 1 << 62] {
        check(
            &format!("{name}: sample_n_with (n = {huge})"),
            || model.sample_n_with(&mut rng, huge),
            |s| all_finite(s.as_slice()),
        )?;
    }
    Ok(())
}

/// The objectives, discrepancies and tests on wild samples against a model of dimension d.
fn drive_objectives<P>(name: &str, p: &P, xs: &Samples) -> std::result::Result<(), TestCaseError>
where
    P: Score + LogDensity + Hessian + Sync,
{
    let d = p.dim();
    let par = Par::rayon(2);
    check(
        &format!("{name}: score_matching_loss"),
        || score_matching_loss(p, xs, par),
        estimate_finite,
    )?;
    check(
        &format!("{name}: fisher_divergence"),
        || fisher_divergence(p, p, xs, Par::Seq),
        estimate_finite,
    )?;
    check(
        &format!("{name}: DSM identity"),
        || diffusion_score_matching_loss(p, &IdentityDiffusion::new(d), xs, par),
        estimate_finite,
    )?;
    if let Ok(m) = ConstantDiffusion::new(
        d,
        (0..d * d)
            .map(|i| if i % (d + 1) == 0 { 2.0 } else { 0.1 })
            .collect(),
    ) {
        check(
            &format!("{name}: DSM constant"),
            || diffusion_score_matching_loss(p, &m, xs, par),
            estimate_finite,
        )?;
        check(
            &format!("{name}: diffusion Fisher"),
            || diffusion_fisher_divergence(p, p, &m, xs, par),
            estimate_finite,
        )?;
    }
    check(
        &format!("{name}: KSD IMQ U"),
        || Ksd::new(Imq::default(), Estimator::U).estimate(p, xs, par),
        ksd_finite,
    )?;
    check(
        &format!("{name}: KSD RBF V"),
        || Ksd::new(Rbf::new(0.7)?, Estimator::V).estimate(p, xs, par),
        ksd_finite,
    )?;
    check(
        &format!("{name}: DKSD"),
        || {
            DiffusionKsd::new(Imq::default(), IdentityDiffusion::new(d), Estimator::U)?
                .estimate(p, xs, par)
        },
        ksd_finite,
    )?;
    for bootstrap in [Bootstrap::Rademacher, Bootstrap::MarkovChainAuto] {
        check(
            &format!("{name}: KsdTest {bootstrap:?}"),
            || {
                KsdTest::new(bootstrap, 1)?.with_replicates(9)?.run(
                    &Ksd::new(Imq::default(), Estimator::V),
                    p,
                    xs,
                    par,
                )
            },
            |r| {
                r.statistic.is_finite()
                    && r.critical_value.is_finite()
                    && r.p_value > 0.0
                    && r.p_value <= 1.0
            },
        )?;
    }
    check(
        &format!("{name}: ksd_test"),
        || ksd_test(p, xs, 1, par),
        |r| {
            r.statistic.is_finite()
                && r.critical_value.is_finite()
                && r.p_value > 0.0
                && r.p_value <= 1.0
                && !r.to_string().is_empty()
        },
    )?;
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    if let Some(points) = check(
        &format!("{name}: SteinPoints"),
        || ksd.points(p, xs, par),
        |_| true,
    )? {
        let n = points.n();
        check(
            &format!("{name}: gram_matrix"),
            || points.gram_matrix(par),
            |h| h.len() == n * n && all_finite(h),
        )?;
        // A cap below 8n² bytes is an error even on ordinary input.
        let strict = STRICT.with(|s| s.replace(false));
        check(
            &format!("{name}: gram_matrix_with_cap"),
            || points.gram_matrix_with_cap(Par::Seq, 8),
            |h| h.len() == n * n && all_finite(h),
        )?;
        STRICT.with(|s| s.set(strict));
        check(
            &format!("{name}: SteinPoints::value"),
            || {
                Ok([
                    points.value(0, n - 1),
                    points.value(n, 0),
                    points.value(0, usize::MAX),
                ])
            },
            |v| v[1].is_none() && v[2].is_none(),
        )?;
    }
    if let Ok(g) = ConstantMetric::new(
        d,
        (0..d * d)
            .map(|i| if i % (d + 1) == 0 { 0.5 } else { 0.0 })
            .collect(),
    ) {
        check(
            &format!("{name}: Riemannian Fisher"),
            || riemannian_fisher_divergence(p, p, &g, xs, par),
            estimate_finite,
        )?;
    }
    Ok(())
}

/// The goodness-of-fit tests of [stein-scale] on `p` and `xs`, with wild tuning values:
/// weighted wild bootstrap, linear-time, parametric, aggregated (kernels and a tilted
/// diffusion) and composite tests, each with few replicates.
fn drive_gof_tests<P>(
    name: &str,
    p: &P,
    xs: &Samples,
    wild: &[f64],
) -> std::result::Result<(), TestCaseError>
where
    P: Score + Sampler + Sync,
{
    let d = p.dim();
    let ksd = Ksd::new(Imq::default(), Estimator::U);
    let result_ok = |r: &KsdTestResult| r.statistic.is_finite() && r.p_value.is_finite();
    let weights: Vec<f64> = (0..xs.n()).map(|i| wild[i % wild.len()].abs()).collect();
    if let Ok(weighted) = xs.clone().with_weights(weights)
        && let Ok(test) = KsdTest::new(Bootstrap::Rademacher, 1).and_then(|t| t.with_replicates(9))
    {
        check(
            &format!("{name}: KsdTest weighted"),
            || {
                test.run(
                    &Ksd::new(Imq::default(), Estimator::V),
                    p,
                    &weighted,
                    Par::rayon(2),
                )
            },
            result_ok,
        )?;
    }
    let offsets = (wild[0].abs().min(1e6) as usize).max(1);
    if let Ok(test) = LinearKsdTest::new(offsets, 2).and_then(|t| t.with_replicates(9)) {
        check(
            &format!("{name}: LinearKsdTest"),
            || test.run(&ksd, p, xs, Par::rayon(2)),
            |r| r.statistic.is_finite() && r.p_value.is_finite(),
        )?;
    }
    if let Ok(test) = ParametricKsdTest::new(3).with_replicates(5) {
        check(
            &format!("{name}: ParametricKsdTest"),
            || test.run(&ksd, p, xs, Par::rayon(2)),
            result_ok,
        )?;
    }
    if let Ok(tilted) =
        TiltedDiffusion::new(wild.iter().cycle().take(d).copied().collect(), wild[1])
        && let Ok(dksd) = DiffusionKsd::new(Imq::default(), tilted, Estimator::U)
        && let Ok(agg) =
            AggregatedKsdTest::new(Bootstrap::Rademacher, 4).and_then(|t| t.with_replicates(9, 9))
    {
        let mut second = Candidate::new("tilted", &dksd);
        second.weight = wild[2];
        let candidates = [Candidate::new("imq", &ksd), second];
        check(
            &format!("{name}: AggregatedKsdTest"),
            || agg.run(&candidates, p, xs, Par::rayon(2)),
            |r| r.candidates.iter().all(|c| c.statistic.is_finite()),
        )?;
    }
    if let Ok(family) = dsm::fit::GaussianMeanFamily::new(
        d,
        &(0..d * d)
            .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
            .collect::<Vec<_>>(),
    ) {
        let draw = |theta: &[f64], n: usize, seed: u64| {
            Gaussian::new(
                theta.to_vec(),
                &(0..d * d)
                    .map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 })
                    .collect::<Vec<_>>(),
            )?
            .sample_n(n, seed, Par::Seq)
        };
        let few = dsm::fit::MinimizeOptions {
            max_iters: 3,
            ..Default::default()
        };
        let test = dsm::fit::CompositeKsdTest::new(5)
            .with_replicates(3)
            .map(|t| t.with_options(few));
        if let Ok(test) = test {
            check(
                &format!("{name}: CompositeKsdTest"),
                || {
                    test.run(
                        &family,
                        &ksd,
                        draw,
                        &wild[..d.min(wild.len())],
                        xs,
                        Par::rayon(2),
                    )
                },
                |r| r.statistic.is_finite() && all_finite(&r.theta),
            )?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn constructors_and_samples(
        data in wild_vec(12),
        dim in size(),
        weights in data_vec(6),
        p in prop::collection::vec(wild(), 12),
        n in size(),
    ) {
        check("Samples::new", || Samples::new(data.clone(), dim), |s| all_finite(s.as_slice()))?;
        check("Samples::from_scalars", || Samples::from_scalars(data.clone()), |s| all_finite(s.as_slice()))?;
        if let Ok(s) = Samples::from_scalars(data.clone()) {
            check("Samples::with_weights", || s.with_weights(weights.clone()), |s| all_finite(s.weights().unwrap()))?;
        }
        check("Samples::from_rows (ragged)", || Samples::from_rows(&[data.clone(), weights.clone()]), |s| all_finite(s.as_slice()))?;
        check("Gaussian::new", || Gaussian::new(p[..3].to_vec(), &p[3..12]), |_| true)?;
        check("Gaussian::new (d = 2)", || Gaussian::new(p[..2].to_vec(), &p[2..6]), |_| true)?;
        check("Gaussian::standard", || Gaussian::standard(dim), |_| true)?;
        if let Some(t) = check("StudentT::new", || StudentT::new(p[0], p[1], p[2]), |_| true)? {
            drive_sampling("StudentT", &t, n, |x: f64| vec![x])?;
            let x = p[3];
            check("StudentT scalar methods", || Ok([t.log_pdf(x), t.pdf(x), t.score(x), t.score_derivative(x)]), |_| true)?;
            check("StudentT::cdf", || t.cdf(x), |v| (0.0..=1.0).contains(v))?;
            check("StudentT::sf", || t.sf(x), |v| (0.0..=1.0).contains(v))?;
        }
        if let Some(g) = check("Gaussian::new (d = 2, sampled)", || Gaussian::new(p[..2].to_vec(), &p[2..6]), |_| true)? {
            drive_sampling("Gaussian", &g, n, |x: Vec<f64>| x)?;
        }
        if let Some(m) = check("MultivariateStudentT::new", || MultivariateStudentT::new(p[..2].to_vec(), &p[2..6], p[6]), |_| true)? {
            drive_sampling("MultivariateStudentT", &m, n, |x: Vec<f64>| x)?;
        }
        check("ConstantDiffusion::new", || ConstantDiffusion::new(dim, p[..4].to_vec()), |_| true)?;
        check("ConstantDiffusion::new (d = 2)", || ConstantDiffusion::new(2, p[..4].to_vec()), |_| true)?;
        check("Imq::new", || Imq::new(p[0], p[1]), |_| true)?;
        check("Rbf::new", || Rbf::new(p[0]), |_| true)?;
        check("KsdTest", || KsdTest::new(Bootstrap::MarkovChain { flip_probability: p[0] }, 3)?.with_replicates(n)?.with_level(p[1]), |_| true)?;
        check("ConstantMetric::new", || ConstantMetric::new(dim, p[..4].to_vec()), |_| true)?;
        check("ConstantMetric::new (d = 2)", || ConstantMetric::new(2, p[..4].to_vec()), |_| true)?;
        check("HyperbolicHalfSpace::new", || HyperbolicHalfSpace::new(dim), |_| true)?;
        check("autocorrelation", || integrated_autocorrelation_time(&data), |t| t.is_finite())?;
        if let Ok(q) = StudentT::new(0.0, 1.0, 3.0) {
            check("sinh_simpson", || sinh_simpson(&q, p[0], p[1], p[2], n), |s| all_finite(s.as_slice()) && all_finite(s.weights().unwrap_or(&[])))?;
        }
    }

    #[test]
    fn special_functions_and_linear_algebra(
        dof in wild(),
        z in wild(),
        a in data_vec(9),
        d in size(),
        out_len in 0usize..10,
    ) {
        if let Some(t) = check("StudentTFunctions::new", || StudentTFunctions::new(dof), |_| true)?
            && z.is_finite()
        {
            {
                // A log-probability is −∞ only where the true value is below −f64::MAX
                // (ν and |z| both near f64::MAX), never NaN or +∞.
                check("log_sf", || t.log_sf(z), |v| v.is_finite() || (*v == f64::NEG_INFINITY && t.dof() > 1e300 && z > 1e150))?;
                check("log_cdf", || t.log_cdf(z), |v| v.is_finite() || (*v == f64::NEG_INFINITY && t.dof() > 1e300 && z < -1e150))?;
                check("central", || t.central(z), |v| v.is_finite())?;
                check("quantile_log_sf", || t.quantile_log_sf(-z.abs()), |v| v.is_finite())?;
                check("quantile_central", || t.quantile_central(z), |v| v.is_finite())?;
                prop_assert!(t.score(z).is_finite() && t.log_pdf(z).is_finite() || z.abs() > 1e150, "Student-t at {}", z);
                prop_assert!(t.score_derivative(z).is_finite(), "score derivative at {}", z);
            }
        }
        // The incomplete beta and gamma functions and the inverse at wild shapes and points:
        // log-probabilities are ≤ 0 (−∞ allowed), inverses are ≥ 0.
        {
            use dsm::core::special_functions::incomplete::{Tail, gamma_inc_inverse, log_beta_inc, log_gamma_inc};
            let logp = |v: &f64| *v <= 0.0 && !v.is_nan();
            check("log_gamma_inc", || log_gamma_inc(dof, z), |(p, q)| logp(p) && logp(q))?;
            check("log_beta_inc", || log_beta_inc(dof, z, 0.3, 0.7), |(p, q)| logp(p) && logp(q))?;
            let u = (z / (1.0 + z.abs())).abs();
            check("log_beta_inc (wild x)", || log_beta_inc(2.0, dof, u, 1.0 - u), |(p, q)| logp(p) && logp(q))?;
            check("gamma_inc_inverse", || gamma_inc_inverse(dof, -z.abs(), Tail::Upper), |x| *x >= 0.0)?;
            check("gamma_inc_inverse (lower)", || gamma_inc_inverse(dof, z, Tail::Lower), |x| *x >= 0.0)?;
        }
        // The radial Gaussian flow at wild dof, through the Flow API.
        let dims = (d % 4).max(1);
        if let Ok(t) = MultivariateStudentT::new(vec![0.0; dims], &(0..dims * dims).map(|i| if i % (dims + 1) == 0 { 1.0 } else { 0.0 }).collect::<Vec<_>>(), dof)
            && let Some(flow) = check("RadialGaussianFlow::new", || RadialGaussianFlow::new(&t), |_| true)?
        {
            let point: Vec<f64> = a.iter().copied().chain(std::iter::repeat(z)).take(dims).collect();
            drive_flow("RadialGaussianFlow", &flow, &point)?;
            check("RadialGaussianFlow::radius", || flow.radius(z), |v| *v >= 0.0)?;
        }
        let mut out = vec![0.0; out_len];
        check("log_abs_det", || linalg::log_abs_det(&a, d), |v| v.is_finite())?;
        check("reciprocal_condition", || linalg::reciprocal_condition(&a, d), |v| v.is_finite())?;
        check("invert_into", || linalg::invert_into(&a, d, &mut out).map(|r| (r, out.clone())), |(r, v)| r.is_finite() && all_finite(v))?;
        let mut chol = vec![0.0; out_len];
        check("cholesky_into", || linalg::cholesky_into("G", &a, d, &mut chol, Some(&mut out)).map(|r| (r, chol.clone())), |(r, v)| r.is_finite() && all_finite(v))?;
        check("spd_inverse_quadratic_form", || linalg::spd_inverse_quadratic_form("G", &a, d, &a[..a.len().min(3)]), |v| v.is_finite())?;
        check("flows::log_abs_det", || dsm::flows::log_abs_det(&a, d), |v| v.is_finite())?;
        // The scratch forms, with scratch of every length from 0 up.
        let mut work = vec![0.0; out_len * out_len / 2];
        check("invert_in_scratch", || linalg::invert_in_scratch(&a, d, &mut out, &mut work).map(|()| out.clone()), |v| all_finite(v))?;
        check("cholesky_in_scratch", || linalg::cholesky_in_scratch("G", &a, d, &mut chol, Some(&mut out), &mut work).map(|r| (r, chol.clone())), |(r, v)| r.is_finite() && all_finite(v))?;
        let objective = Estimate { value: 0.0, std_err: 0.0, n: 1 };
        check("Fit::new", || dsm::fit::Fit::new(a[..a.len().min(out_len)].to_vec(), objective, a.clone(), 1), |f| all_finite(&f.theta) && all_finite(&f.std_err))?;
        check("spd_inverse_quadratic_form_in_scratch", || linalg::spd_inverse_quadratic_form_in_scratch("G", &a, d, &a[..a.len().min(3)], &mut work), |v| v.is_finite())?;
    }

    #[test]
    fn objectives_discrepancies_and_tests(
        data in data_vec(10),
        d in 1usize..4,
        mean in prop::collection::vec(wild(), 3),
        dof in wild(),
    ) {
        let Ok(xs) = Samples::new(data.clone(), d) else { return Ok(()) };
        if let Ok(p) = Gaussian::standard(d) {
            drive_objectives("Gaussian", &p, &xs)?;
        }
        if let Ok(p) = Gaussian::new(mean[..d].to_vec(), &(0..d * d).map(|i| if i % (d + 1) == 0 { 1.5 } else { 0.2 }).collect::<Vec<_>>()) {
            drive_objectives("Gaussian (wild mean)", &p, &xs)?;
        }
        if let Ok(p) = MultivariateStudentT::new(vec![0.0; d], &(0..d * d).map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 }).collect::<Vec<_>>(), dof) {
            drive_objectives("MultivariateStudentT", &p, &xs)?;
        }
        if d == 1
            && let Ok(p) = StudentT::new(mean[0], 1.0, dof)
        {
            drive_objectives("StudentT", &p, &xs)?;
        }
        // Precomputed scores (an MCMC run's gradients) at wild values, through the KSD, the
        // DKSD, a pulled-back kernel (the feature-map path) and the test.
        let wild_scores: Vec<f64> = data.iter().zip(mean.iter().cycle()).map(|(x, m)| x * m).collect();
        if let Some(scored) = check("ScoredSamples::new", || ScoredSamples::new(xs.clone(), wild_scores.clone()), |_| true)? {
            check("Ksd::estimate_scored", || Ksd::new(Imq::default(), Estimator::U).estimate_scored(&scored, Par::rayon(2)), ksd_finite)?;
            check("DiffusionKsd::estimate_scored", || DiffusionKsd::new(Imq::default(), IdentityDiffusion::new(d), Estimator::V)?.estimate_scored(&scored, Par::rayon(2)), ksd_finite)?;
            if let Ok(flow) = Affine::new(d, (0..d * d).map(|i| if i % (d + 1) == 0 { 2.0 } else { 0.0 }).collect(), vec![0.0; d]) {
                check("pulled-back kernel estimate_scored", || Ksd::new(PulledBackKernel::new(Imq::default(), &flow), Estimator::V).estimate_scored(&scored, Par::Seq), ksd_finite)?;
            }
            if let Ok(test) = KsdTest::new(Bootstrap::Rademacher, 3) {
                check("KsdTest::run_scored", || test.run_scored(&Ksd::new(Imq::default(), Estimator::V), &scored, Par::Seq), |r| r.statistic.is_finite() && r.p_value.is_finite())?;
                check("diagnose_chains", || dsm::core::mcmc::diagnose_chains(&Ksd::new(Imq::default(), Estimator::V), &[scored.clone(), scored.clone()], test, Par::Seq), |r| r.pooled.value.is_finite())?;
            }
            // MCMC post-processing at wild draws and scores.
            use dsm::core::mcmc::{Preconditioner, Regularization, SteinThinning, cumulative_ksd, stein_importance_weights};
            let m = (mean[0].abs().min(50.0) as usize).max(1);
            for preconditioner in [Preconditioner::Identity, Preconditioner::Median, Preconditioner::ScaledMedian, Preconditioner::SampleCovariance, Preconditioner::Scale(dof)] {
                for standardize in [true, false] {
                    check("SteinThinning::thin", || SteinThinning::new().with_standardize(standardize).with_preconditioner(preconditioner).thin(&scored, m, Par::rayon(2)), |t| t.indices.len() == m && all_finite(&t.objective))?;
                }
            }
            check("SteinThinning::thin_with (DKSD)", || SteinThinning::thin_with(&DiffusionKsd::new(Imq::default(), TiltedDiffusion::new(mean.iter().cycle().take(d).copied().collect(), mean[1])?, Estimator::V)?, &scored, m, Par::Seq), |t| all_finite(&t.objective))?;
            let reg = Regularization { log_density: data.iter().take(xs.n()).copied().collect(), laplacian: vec![mean[2].abs(); xs.n()], lambda: Some(dof) };
            check("SteinThinning::thin_regularized", || SteinThinning::new().thin_regularized(&scored, &reg, m, Par::Seq), |t| all_finite(&t.objective))?;
            check("stein_importance_weights", || stein_importance_weights(&Ksd::new(Imq::default(), Estimator::V), &scored, Par::Seq), |w| all_finite(&w.weights) && w.ksd_squared.is_finite())?;
            check("cumulative_ksd", || cumulative_ksd(&Ksd::new(Imq::default(), Estimator::U), &scored, &[2, m.max(3), xs.n()], Par::rayon(2)), |c| c.iter().all(|p| p.value.is_finite()))?;
        }
        // Mismatched dimension between model and samples.
        if let Ok(p) = Gaussian::standard(d + 1) {
            drive_objectives("Gaussian (wrong dimension)", &p, &xs)?;
            drive_gof_tests("Gaussian (wrong dimension)", &p, &xs, &mean)?;
        }
        // The goodness-of-fit tests and the benchmark models at wild parameters.
        if let Ok(p) = Gaussian::standard(d) {
            drive_gof_tests("Gaussian", &p, &xs, &mean)?;
        }
        if d == 1
            && let Some(g) = check("GammaDist::new", || GammaDist::new(mean[0].abs(), dof), |_| true)?
        {
            drive_objectives("GammaDist", &g, &xs)?;
            drive_gof_tests("GammaDist", &g, &xs, &mean)?;
        }
        let hidden = 2;
        if let Some(rbm) = check("GaussBernoulliRbm::new", || GaussBernoulliRbm::new(mean.iter().cycle().take(d * hidden).copied().collect(), d, hidden, mean.iter().cycle().take(d).copied().collect(), vec![dof, mean[0]])?.with_burn_in(3), |_| true)? {
            drive_objectives("GaussBernoulliRbm", &rbm, &xs)?;
            drive_gof_tests("GaussBernoulliRbm", &rbm, &xs, &mean)?;
        }
        // Fitting: the built-in families at wild θ, through the SM gradient.
        if d == 1 {
            if let Ok(fam) = dsm::fit::StudentTFamily::new(dof) {
                check("StudentTFamily SM gradient", || dsm::fit::score_matching_gradient(&fam, &mean[..2], &xs, Par::Seq), |g| all_finite(&g.gradient))?;
            }
            check("StudentTFamily (free dof) SM gradient", || dsm::fit::score_matching_gradient(&dsm::fit::StudentTFamily::with_free_dof(), &mean, &xs, Par::Seq), |g| all_finite(&g.gradient))?;
            // Trainable flows and their maximum-likelihood fit on wild data and parameters.
            let phi: Vec<f64> = mean.iter().cycle().take(4).copied().collect();
            check("flow_log_likelihood_gradient", || dsm::fit::flow_log_likelihood_gradient(&dsm::flows::SinhArcsinhLayer::identity(1)?, &phi, &xs, Par::Seq), |g| g.value.value.is_finite() && all_finite(&g.gradient))?;
            if let Some(layer) = check("SinhArcsinhLayer::standardizing", || dsm::flows::SinhArcsinhLayer::standardizing(&xs), |_| true)? {
                let few = dsm::fit::FlowFitOptions { minimize: dsm::fit::MinimizeOptions { max_iters: 3, ..Default::default() }, ..Default::default() };
                check("fit_flow", || dsm::fit::fit_flow(&layer, &xs, few, Par::Seq), |f| f.train_log_likelihood.is_finite())?;
            }
            // The power-tail and skew layers: constructors, wild parameters through the
            // likelihood gradient, the learned flow following a location, the two-stage fit.
            check("PowerTail::new", || dsm::flows::PowerTail::new(dof), |_| true)?;
            if let Some(tail) = check("PowerTailLayer::standardizing", || dsm::flows::PowerTailLayer::standardizing(&xs, dof), |_| true)? {
                let chain = dsm::flows::Compose::new(tail, dsm::flows::SkewLayer::identity(1)?)?;
                let psi: Vec<f64> = mean.iter().cycle().take(6).copied().collect();
                check("flow_log_likelihood_gradient (power tail, skew)", || dsm::fit::flow_log_likelihood_gradient(&chain, &psi, &xs, Par::Seq), |g| g.value.value.is_finite() && all_finite(&g.gradient))?;
                if let Some(moving) = check("LocationScaleFlow::following", || dsm::fit::LocationScaleFlow::following(chain.clone(), &mean[..1], 1, 0), |_| true)?
                    && let Ok(fam) = dsm::fit::StudentTFamily::location(1.0, 3.0)
                {
                    let few = dsm::fit::MinimizeOptions { max_iters: 3, ..Default::default() };
                    let dsm_moving = dsm::fit::MovingDiffusionScoreMatching::new(&moving, dsm::fit::Surrogate::Total);
                    check("minimize_two_stage", || dsm_moving.minimize_two_stage(&fam, &mean[1..2], &xs, Par::Seq, few), |m| all_finite(&m.theta) && m.objective.value.is_finite())?;
                }
            }
            check("SkewLayer::standardizing", || dsm::flows::SkewLayer::standardizing(&xs), |_| true)?;
            // The closure minimisers at wild starts.
            if let Ok(fam) = dsm::fit::StudentTFamily::location(1.0, 3.0) {
                use dsm::fit::Objective;
                let few = dsm::fit::MinimizeOptions { max_iters: 3, ..Default::default() };
                let evaluate = |theta: &[f64]| dsm::fit::ScoreMatching.evaluate(&fam, theta, &xs, Par::Seq);
                check("minimize_with", || dsm::fit::minimize_with(&evaluate, &mean[..1], &xs, few), |m| all_finite(&m.theta) && m.objective.value.is_finite())?;
                let held = |theta: &[f64], at: &[f64]| {
                    let m = FlowDiffusion::new(GaussianFlow::new(at[0], 1.0, 3.0)?);
                    dsm::fit::DiffusionScoreMatching(&m).evaluate(&fam, theta, &xs, Par::Seq)
                };
                check("frozen_fixed_point_with", || dsm::fit::frozen_fixed_point_with(held, &mean[..1], &xs, few), |m| all_finite(&m.theta) && m.objective.value.is_finite())?;
            }
            // The moving Gaussian flow, total and frozen, at wild θ and dof.
            if let Ok(fam) = dsm::fit::StudentTFamily::new(dof)
                && let Some(flow) = check("StudentTFamily::gaussian_flow", || fam.gaussian_flow(), |_| true)?
            {
                for surrogate in [dsm::fit::Surrogate::Total, dsm::fit::Surrogate::Frozen] {
                    check("moving_diffusion_score_matching_gradient", || dsm::fit::moving_diffusion_score_matching_gradient(&fam, &flow, &mean[..2], &xs, surrogate, Par::Seq), |g| g.value.value.is_finite() && all_finite(&g.gradient) && all_finite(&g.hessian))?;
                }
            }
        }
        if let Ok(fam) = dsm::fit::MultivariateStudentTFamily::new(d, &(0..d * d).map(|i| if i % (d + 1) == 0 { 1.0 } else { 0.0 }).collect::<Vec<_>>(), dof) {
            check("MultivariateStudentTFamily SM gradient", || dsm::fit::score_matching_gradient(&fam, &mean[..d], &xs, Par::Seq), |g| all_finite(&g.gradient))?;
        }
        // Fitting: the closed-form Gaussian SM estimate and the exact θ-gradient at wild θ.
        for dim in [d, d + 1] {
            if let Ok(stat) = dsm::fit::GaussianStatistic::new(dim) {
                let family = dsm::fit::ExponentialFamily::new(stat);
                check("fit_score_matching", || family.fit_score_matching(&xs, Par::rayon(2)), |f| all_finite(&f.theta) && all_finite(&f.std_err))?;
                let theta: Vec<f64> = mean.iter().cycle().take(dsm::fit::ParametricModel::n_params(&family)).copied().collect();
                check("score_matching_gradient", || dsm::fit::score_matching_gradient(&family, &theta, &xs, Par::rayon(2)), |g| g.value.value.is_finite() && all_finite(&g.gradient) && all_finite(&g.per_sample))?;
                use dsm::fit::Objective;
                let few = dsm::fit::MinimizeOptions { max_iters: 5, ..Default::default() };
                check("Objective::minimize", || dsm::fit::ScoreMatching.minimize(&family, &theta, &xs, Par::Seq, few), |m| all_finite(&m.theta) && m.objective.value.is_finite())?;
                let ksd = dsm::core::Ksd::new(dsm::core::Imq::default(), dsm::core::Estimator::U);
                check("Ksd::evaluate", || ksd.evaluate(&family, &theta, &xs, Par::rayon(2)), |g| g.value.value.is_finite() && all_finite(&g.gradient) && all_finite(&g.hessian))?;
                check("ExponentialFamily::fit (KSD)", || family.fit(&ksd, &xs, Par::Seq), |f| all_finite(&f.theta) && all_finite(&f.std_err))?;
                check("diffusion_score_matching_gradient", || dsm::fit::diffusion_score_matching_gradient(&family, &IdentityDiffusion::new(dim), &theta, &xs, Par::rayon(2)), |g| g.value.value.is_finite() && all_finite(&g.gradient) && all_finite(&g.per_sample))?;
            }
        }
    }

    #[test]
    fn flows_chains_and_flow_objectives(
        kinds in prop::collection::vec(0u8..7, 1..4),
        p in prop::collection::vec(mostly_finite(), 6),
        d in 1usize..4,
        x in data_vec(4),
        data in data_vec(8),
    ) {
        let mut layers = Vec::new();
        for (k, &kind) in kinds.iter().enumerate() {
            let shifted: Vec<f64> = p.iter().map(|v| if k % 2 == 0 { *v } else { v * 0.5 }).collect();
            if let Some(l) = check("layer constructor", || layer(kind, d, &shifted), |_| true)? {
                drive_flow(&format!("layer {kind}"), &l, &x)?;
                layers.push(l);
            }
        }
        // The trainable power-tail and skew layers at wild parameters, through the Flow API and
        // as the diffusion of DSM.
        let psi: Vec<f64> = p.iter().cycle().take(3 * d).copied().collect();
        if let Some(tail) = check("PowerTailLayer::with_params", || dsm::flows::PowerTailLayer::new(d, 2.0)?.with_params(&psi), |_| true)? {
            drive_flow("PowerTailLayer", &tail, &x)?;
            if let (Ok(xs), Ok(base)) = (Samples::new(data.clone(), d), Gaussian::standard(d)) {
                check("DSM with a power-tail diffusion", || diffusion_score_matching_loss(&base, &FlowDiffusion::new(&tail), &xs, Par::Seq), estimate_finite)?;
            }
        }
        if let Some(skew) = check("SkewLayer::with_params", || dsm::flows::SkewLayer::identity(d)?.with_params(&psi), |_| true)? {
            drive_flow("SkewLayer", &skew, &x)?;
        }
        if let Some(map) = check("PowerTail::new", || dsm::flows::PowerTail::new(p[0]), |_| true)? {
            drive_flow("PowerTail", &map, &x[..x.len().min(1)])?;
        }
        let Some(chain) = check("Chain::new", || Chain::new(layers), |_| true)? else { return Ok(()) };
        drive_flow("chain", &chain, &x)?;
        let inverted = Invert::new(&chain);
        drive_flow("Invert(chain)", &inverted, &x)?;
        if let Some(both) = check("Compose::new", || (&chain).then(Invert::new(&chain)), |_| true)? {
            drive_flow("chain then Invert(chain)", &both, &x)?;
        }
        let par = Par::rayon(2);
        if let Ok(xs) = Samples::new(data.clone(), chain.dim()) {
            check("forward_batch", || chain.forward_batch(&xs, par), |(ys, l)| all_finite(ys.as_slice()) && all_finite(l))?;
            check("inverse_batch", || chain.inverse_batch(&xs, par), |(ys, l)| all_finite(ys.as_slice()) && all_finite(l))?;
            check("Invert forward_batch", || inverted.forward_batch(&xs, par), |(ys, l)| all_finite(ys.as_slice()) && all_finite(l))?;
            if let Ok(base) = Gaussian::standard(chain.dim()) {
                check("DSM with the diffusion of an inverted flow", || diffusion_score_matching_loss(&base, &FlowDiffusion::new(&inverted), &xs, par), estimate_finite)?;
                if let Ok(push) = Pushforward::new(base.clone(), &chain) {
                    check("Pushforward::sample_n", || push.sample_n(16, 3, par), |ys| all_finite(ys.as_slice()))?;
                }
            }
        }
        if let Ok(xs) = Samples::new(data.clone(), chain.dim()) {
            let diffusion = FlowDiffusion::new(&chain);
            if let Ok(base) = Gaussian::standard(chain.dim()) {
                check("DSM with a flow diffusion", || diffusion_score_matching_loss(&base, &diffusion, &xs, par), estimate_finite)?;
                check("DKSD with a flow diffusion", || DiffusionKsd::new(Imq::default(), FlowDiffusion::new(&chain), Estimator::V)?.estimate(&base, &xs, par), ksd_finite)?;
                check("KSD with a pulled-back kernel", || Ksd::new(PulledBackKernel::new(Imq::default(), &chain), Estimator::U).estimate(&base, &xs, par), ksd_finite)?;
                check("DKSD with a pulled-back kernel and a flow diffusion", || DiffusionKsd::new(PulledBackKernel::new(Imq::default(), &chain), FlowDiffusion::new(&chain), Estimator::V)?.estimate(&base, &xs, par), ksd_finite)?;
                check("diffusion Fisher with a flow diffusion", || diffusion_fisher_divergence(&base, &base, &diffusion, &xs, par), estimate_finite)?;
                check("Riemannian Fisher with a flow metric", || riemannian_fisher_divergence(&base, &base, &FlowMetric::new(&chain), &xs, par), estimate_finite)?;
                if let Some(push) = check("Pushforward::new", || Pushforward::new(base.clone(), &chain), |_| true)? {
                    check("SM of a pushforward", || score_matching_loss(&push, &xs, par), estimate_finite)?;
                    check("DSM of a pushforward", || diffusion_score_matching_loss(&push, &diffusion, &xs, par), estimate_finite)?;
                    check("KSD of a pushforward", || Ksd::new(Imq::default(), Estimator::V).estimate(&push, &xs, par), ksd_finite)?;
                }
            }
        }
        // A pulled-back kernel whose flow has the wrong dimension.
        if let (Ok(xs), Ok(base)) = (Samples::new(data.clone(), chain.dim() + 1), Gaussian::standard(chain.dim() + 1)) {
            check("pulled-back kernel (wrong dimension)", || Ksd::new(PulledBackKernel::new(Imq::default(), &chain), Estimator::U).estimate(&base, &xs, par), ksd_finite)?;
        }
    }

    #[test]
    fn partial_estimates_and_precomputed_integrands(
        values in wild_vec(12),
        weights in wild_vec(12),
        first in size(),
        dim in size(),
        extra in wild_vec(40),
        count in size(),
        sums in wild_vec(5),
    ) {
        let w = (!weights.is_empty()).then_some(&weights[..]);
        let part = check("PartialEstimate::from_values", || PartialEstimate::from_values(&values, w, first, Par::Seq), |_| true)?;
        if let Some(part) = part {
            check("PartialEstimate::finish", || part.finish(), estimate_finite)?;
            check("PartialEstimate::merge", || PartialEstimate::merge(&[part.clone(), part.clone()]), |_| true)?;
        }
        let chunk = ChunkSums {
            count,
            weight: sums.first().copied().unwrap_or(1.0),
            weight_sq: sums.get(1).copied().unwrap_or(1.0),
            weighted_sum: sums.get(2).copied().unwrap_or(0.0),
            centred_sq: sums.get(3).copied().unwrap_or(0.0),
            centred: sums.get(4).copied().unwrap_or(0.0),
        };
        if let Some(p) = check("PartialEstimate::from_chunks", || PartialEstimate::from_chunks(first, vec![chunk; 2]), |_| true)? {
            check("PartialEstimate::finish (from chunks)", || p.finish(), estimate_finite)?;
        }
        check("PartialEstimate::merge (empty)", || PartialEstimate::merge(&[]), |_| true)?;
        let cut = extra.len() / 2;
        check("score_matching_integrand_precomputed", || score_matching_integrand_precomputed(&extra, &values, dim, Par::Seq), |v| all_finite(v))?;
        check("diffusion_score_matching_integrand_precomputed", || diffusion_score_matching_integrand_precomputed(&extra[..cut], &extra, &extra[cut..], &values, dim, Par::rayon(2)), |v| all_finite(v))?;
        // Caller-chosen sizes that must be errors, not allocation aborts (found through the
        // Python bindings): draws of dimension 8 (≥ 128 GB at the large sizes), replicate
        // counts, thinning sizes, per-coordinate flows.
        // Sizes that fit the address space but not the machine are left out: like numpy, an
        // allocation the kernel grants and the container cannot back is killed, not refused.
        if let Ok(p) = Gaussian::standard(8)
            && !(1 << 20..=1 << 60).contains(&first)
        {
            check("Sampler::sample_n (size)", || p.sample_n(first, 1, Par::rayon(2)), |xs| all_finite(xs.as_slice()))?;
        }
        check("KsdTest::with_replicates (size)", || KsdTest::new(Bootstrap::Rademacher, 1).and_then(|t| t.with_replicates(count)), |_| true)?;
        check("LinearKsdTest::with_replicates (size)", || LinearKsdTest::new(2, 1).and_then(|t| t.with_replicates(count)), |_| true)?;
        check("ParametricKsdTest::with_replicates (size)", || ParametricKsdTest::new(1).with_replicates(count), |_| true)?;
        if let Ok(xs) = Samples::new(vec![0.1, -0.4, 1.3, 0.7, -2.0, 0.2], 2)
            && let Ok(scored) = ScoredSamples::new(xs.clone(), xs.as_slice().iter().map(|v| -v).collect())
        {
            check("SteinThinning::thin (size)", || mcmc::SteinThinning::new().thin(&scored, count, Par::Seq), |t| all_finite(&t.ksd_squared()))?;
        }
        if let Ok(g) = GaussianFlow::new(0.0, 1.0, 3.0) {
            check("Elementwise::uniform (size)", || Elementwise::uniform(g, count), |_| true)?;
        }
    }

    #[test]
    fn euler_flows(
        rate in wild(),
        t0 in wild(),
        step in wild(),
        steps in size(),
        x in wild_vec(3),
        data in wild_vec(6),
    ) {
        let drift = LinearDrift { rate };
        if let Some(flow) = check("EulerFlow::new", || EulerFlow::new(drift, t0, step, steps.min(1 << 40)), |_| true)?
            && flow.steps() <= 64
        {
            {
                drive_flow("Euler", &flow, &x)?;
                if let (Ok(xs), Ok(p)) = (Samples::new(data.clone(), 1), Gaussian::standard(1)) {
                    check("fisher_trajectory", || flow.fisher_trajectory(&p, &p, &xs, Par::rayon(2)), |_| true)?;
                }
            }
        }
        check("EulerFlow::new (raw steps)", || EulerFlow::new(LinearDrift { rate: 0.1 }, 0.0, 0.01, steps), |_| true)?;
    }
}

/// f(x, t) = rate · x.
#[derive(Debug, Clone, Copy)]
struct LinearDrift {
    rate: f64,
}

impl Drift for LinearDrift {
    fn dim(&self) -> usize {
        1
    }
    fn drift<D: Scalar>(&self, x: &[D], _t: f64, out: &mut [D]) {
        out[0] = x[0] * self.rate;
    }
}

#[test]
fn the_drivers_reach_the_entry_points_on_ordinary_input() {
    // Guards against a vacuous suite: on ordinary data every check returns Ok.
    let xs = Samples::new(vec![0.3, -0.5, 1.2, 0.1, -0.9, 0.4, 0.0, 2.0], 2).unwrap();
    let p = Gaussian::standard(2).unwrap();
    let count = PANICS.load(Ordering::SeqCst);
    STRICT.with(|s| s.set(true));
    drive_objectives("ordinary", &p, &xs).unwrap();
    drive_gof_tests("ordinary", &p, &xs, &[1.0, 1.0, 1.0]).unwrap();
    let flow = Chain::new(vec![
        layer(0, 2, &[1.2, 0.1, 0.0, 0.9, 0.3, 0.2]).unwrap(),
        layer(4, 2, &[0.0, 1.0, 3.0]).unwrap(),
    ])
    .unwrap();
    drive_flow("ordinary chain", &flow, &[0.3, -0.7]).unwrap();
    assert_eq!(PANICS.load(Ordering::SeqCst), count);
}

#[test]
fn chains_that_push_values_out_of_range_are_errors_naming_the_layer() {
    // Two affine layers with scale 1e200 take 1e100 to 1e500: the second layer is named.
    let big = Affine::new(1, vec![1e200], vec![0.0]).unwrap();
    let chain = Chain::new(vec![big.clone(), big]).unwrap();
    let mut y = [0.0];
    let err = chain.try_transform_into(&[1e100], &mut y).unwrap_err();
    assert!(
        matches!(err, Error::NonFiniteLayerOutput { layer: 1, .. }),
        "{err:?}"
    );
    // Two Gaussian flows at ±1e300 stay finite (T(1e300) ≈ 37 at ν = 3).
    let g = GaussianFlow::new(0.0, 1.0, 3.0).unwrap();
    let chain = Chain::new(vec![g, g]).unwrap();
    for x in [1e300, -1e300, f64::MAX, -f64::MAX] {
        chain.try_transform_into(&[x], &mut y).unwrap();
        assert!(
            y[0].is_finite() && (y[0] > 0.0) == (x > 0.0),
            "{x}: {}",
            y[0]
        );
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}
