//! Stein tools for MCMC output (docs/mcmc.md, docs/math.md section 15): Stein thinning against
//! the reference package `stein_thinning` 0.2 (committed selections) and a brute-force greedy
//! over the Stein Gram matrix from its definition; the preconditioner identity; Stein
//! importance weights (KKT); cumulative KSD; chain diagnostics; bad input.

use dsm_core::mcmc::*;
use dsm_core::testing::close;
use dsm_core::*;

fn csv(text: &str, d: usize) -> Samples {
    let values: Vec<f64> = text
        .lines()
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap()))
        .collect();
    Samples::new(values, d).unwrap()
}

fn negated(xs: &Samples) -> ScoredSamples {
    ScoredSamples::new(xs.clone(), xs.as_slice().iter().map(|v| -v).collect()).unwrap()
}

#[test]
fn selections_equal_the_reference_package_index_for_index() {
    let toy = negated(&csv(include_str!("reference/stein_thinning/toy10.csv"), 2));
    let big = negated(&csv(include_str!("reference/stein_thinning/X1009.csv"), 3));
    let demo_x = csv(include_str!("reference/stein_thinning/demo_smp.csv"), 2);
    let demo_s = csv(include_str!("reference/stein_thinning/demo_scr.csv"), 2);
    let demo = ScoredSamples::new(demo_x, demo_s.as_slice().to_vec()).unwrap();
    let mut checked = 0;
    for line in include_str!("reference/stein_thinning/stein_thinning_reference.csv")
        .lines()
        .skip(1)
    {
        let (case, indices) = line.split_once(',').unwrap();
        let want: Vec<usize> = indices.split(';').map(|v| v.parse().unwrap()).collect();
        let parts: Vec<&str> = case.split('/').collect();
        let run = match parts[0] {
            "toy10" => &toy,
            "X1009" => &big,
            _ => &demo,
        };
        let preconditioner = match parts[1] {
            "id" => Preconditioner::Identity,
            "med" => Preconditioner::Median,
            "sclmed" => Preconditioner::ScaledMedian,
            "smpcov" => Preconditioner::SampleCovariance,
            v => Preconditioner::Scale(v.parse().unwrap()),
        };
        let m: usize = parts[3].parse().unwrap();
        let thinning = SteinThinning::new()
            .with_standardize(parts[2] == "1")
            .with_preconditioner(preconditioner);
        for par in [Par::Seq, Par::rayon(2)] {
            let got = thinning.thin(run, m, par).unwrap();
            assert_eq!(got.indices, want, "{case}");
        }
        checked += 1;
    }
    assert_eq!(checked, 21);
}

/// k⁰ of the Langevin Stein kernel with k = (1 + ‖r‖²)^{−½} from its definition
/// k sₓ·s_y + sₓ·∇_y k + ∇ₓk·s_y + tr ∇ₓ∇_yᵀk (docs/math.md eq. 7.1), with
/// ∇ₓk = −r q^{−3/2}, ∇_y k = r q^{−3/2}, ∂²k/∂xₐ∂y_b = δₐ_b q^{−3/2} − 3 rₐ r_b q^{−5/2}.
fn definition(x: &[f64], y: &[f64], sx: &[f64], sy: &[f64]) -> f64 {
    let d = x.len();
    let r: Vec<f64> = (0..d).map(|a| x[a] - y[a]).collect();
    let q = 1.0 + r.iter().map(|v| v * v).sum::<f64>();
    let k = q.powf(-0.5);
    let mut total = k * (0..d).map(|a| sx[a] * sy[a]).sum::<f64>();
    for a in 0..d {
        total += sx[a] * r[a] * q.powf(-1.5) - r[a] * q.powf(-1.5) * sy[a];
        total += q.powf(-1.5) - 3.0 * r[a] * r[a] * q.powf(-2.5);
    }
    total
}

#[test]
fn greedy_equals_a_brute_force_over_the_gram_matrix() {
    // Ten hand-checkable points, score −x, IMQ c = 1, β = −½, no standardisation.
    let xs = csv(include_str!("reference/stein_thinning/toy10.csv"), 2);
    let run = negated(&xs);
    let n = 10;
    let row = |i: usize| xs.row(i);
    let s = |i: usize| [-xs.row(i)[0], -xs.row(i)[1]];
    let h: Vec<f64> = (0..n * n)
        .map(|k| definition(row(k / n), row(k % n), &s(k / n), &s(k % n)))
        .collect();
    // Brute force: objective_t(i) = H_ii + 2 Σ_{l<t} H_{i,π_l}, argmin with ties to the lowest.
    let (mut chosen, mut objectives) = (Vec::new(), Vec::new());
    for _ in 0..12 {
        let obj: Vec<f64> = (0..n)
            .map(|i| h[i * n + i] + 2.0 * chosen.iter().map(|&j: &usize| h[i * n + j]).sum::<f64>())
            .collect();
        let best = (0..n).fold(0, |b, i| if obj[i] < obj[b] { i } else { b });
        chosen.push(best);
        objectives.push(obj[best]);
    }
    let thinning = SteinThinning::new().with_standardize(false);
    let fast = thinning.thin(&run, 12, Par::rayon(2)).unwrap();
    let general =
        SteinThinning::thin_with(&Ksd::new(Imq::default(), Estimator::V), &run, 12, Par::Seq)
            .unwrap();
    for got in [&fast, &general] {
        assert_eq!(got.indices, chosen);
        for (t, (g, w)) in got.objective.iter().zip(&objectives).take(3).enumerate() {
            assert!(close(*g, *w, 1e-12, 1e-15), "step {t}");
        }
    }
    // The package's published first three objectives on the standardised points.
    let published = [2.014171104285099, 1.8879857161932536, 1.7256435734803866];
    let standardised = SteinThinning::new().thin(&run, 3, Par::Seq).unwrap();
    for (got, want) in standardised.objective.iter().zip(published) {
        assert!(close(*got, want, 1e-14, 0.0), "{got} vs {want}");
    }
    // The running sums are the V-statistic of the chosen set (with repeats).
    let v = fast.ksd_squared()[11];
    let direct: f64 = chosen
        .iter()
        .flat_map(|&i| chosen.iter().map(move |&j| (i, j)))
        .map(|(i, j)| h[i * n + j])
        .sum::<f64>()
        / 144.0;
    assert!(close(v, direct, 1e-12, 1e-15));
}

#[test]
fn a_constant_diffusion_is_a_preconditioner_on_transformed_draws() {
    // DKSD with m = cI on (x, s) is KSD with L = c²I on (x/c, c s): the same objectives.
    let model = MultivariateStudentT::new(vec![0.0, 0.5], &[1.0, 0.3, 0.3, 2.0], 4.0).unwrap();
    let xs = model.sample_n(300, 3, Par::Seq).unwrap();
    let run = ScoredSamples::from_model(&model, &xs, Par::Seq).unwrap();
    let c = 1.7;
    let m = ConstantDiffusion::new(2, vec![c, 0.0, 0.0, c]).unwrap();
    let dksd = DiffusionKsd::new(Imq::default(), m, Estimator::V).unwrap();
    let diffusion = SteinThinning::thin_with(&dksd, &run, 25, Par::rayon(2)).unwrap();
    let z = Samples::new(xs.as_slice().iter().map(|v| v / c).collect(), 2).unwrap();
    let sz: Vec<f64> = run.scores().iter().map(|v| v * c).collect();
    let transformed = ScoredSamples::new(z, sz).unwrap();
    let preconditioned = SteinThinning::new()
        .with_standardize(false)
        .with_preconditioner(Preconditioner::Scale(1.0 / (c * c)))
        .thin(&transformed, 25, Par::Seq)
        .unwrap();
    assert_eq!(diffusion.indices, preconditioned.indices);
    for (a, b) in diffusion.objective.iter().zip(&preconditioned.objective) {
        assert!(close(*a, *b, 1e-12, 1e-14), "{a} vs {b}");
    }
}

#[test]
fn stein_weights_satisfy_the_kkt_conditions_and_beat_uniform_weights() {
    let model = Gaussian::standard(2).unwrap();
    let draws = StudentT::new(0.3, 1.0, 3.0)
        .unwrap()
        .sample_n(300, 4, Par::Seq)
        .unwrap();
    let xs = Samples::new(draws.as_slice().to_vec(), 2).unwrap();
    let run = ScoredSamples::from_model(&model, &xs, Par::Seq).unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let w = stein_importance_weights(&ksd, &run, Par::rayon(2)).unwrap();
    assert!(w.weights.iter().all(|&v| v >= 0.0));
    assert!((w.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(w.ksd_squared < w.uniform_ksd_squared);
    // KKT: (Hw)ᵢ = wᵀHw where wᵢ > 0 and (Hw)ᵢ ≥ wᵀHw elsewhere (to the jitter 1e-10·tr H/n).
    let h = ksd
        .points_scored(&run, Par::Seq)
        .unwrap()
        .gram_matrix(Par::Seq)
        .unwrap();
    let n = 150;
    let hw: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| h[i * n + j] * w.weights[j]).sum())
        .collect();
    let value: f64 = (0..n).map(|i| w.weights[i] * hw[i]).sum();
    assert!(close(value, w.ksd_squared, 1e-10, 1e-14));
    for (i, &hwi) in hw.iter().enumerate() {
        if w.weights[i] > 0.0 {
            assert!(
                close(hwi, value, 1e-8, 1e-12),
                "support {i}: {hwi} vs {value}"
            );
        } else {
            assert!(
                hwi >= value - 1e-10 * value.abs().max(1e-12),
                "off support {i}"
            );
        }
    }
    // The weighted sample's KSD through the estimator equals wᵀHw.
    let weighted = ScoredSamples::new(
        xs.clone().with_weights(w.weights.clone()).unwrap(),
        run.scores().to_vec(),
    )
    .unwrap();
    let through = ksd.estimate_scored(&weighted, Par::Seq).unwrap().value;
    assert!(close(through, w.ksd_squared, 1e-10, 1e-14));
    // An exact duplicate draw makes the weights non-unique: refused, naming the later copy.
    let mut dup = xs.as_slice().to_vec();
    dup[8..10].copy_from_slice(&xs.as_slice()[2..4]);
    let dup_run =
        ScoredSamples::from_model(&model, &Samples::new(dup, 2).unwrap(), Par::Seq).unwrap();
    assert!(matches!(
        stein_importance_weights(&ksd, &dup_run, Par::Seq),
        Err(Error::DegenerateSamples { index: 4, .. })
    ));
    // Many nearby draws in 1-D (a Gram matrix singular to working precision) still solve.
    let line = StudentT::new(0.0, 1.0, 4.0)
        .unwrap()
        .sample_n(400, 2, Par::Seq)
        .unwrap();
    let line_run =
        ScoredSamples::from_model(&Gaussian::standard(1).unwrap(), &line, Par::Seq).unwrap();
    let w1 = stein_importance_weights(&ksd, &line_run, Par::Seq).unwrap();
    assert!(w1.ksd_squared < w1.uniform_ksd_squared && w1.ksd_squared >= 0.0);
}

#[test]
fn cumulative_ksd_equals_separate_estimates() {
    let model = Gaussian::standard(3).unwrap();
    let xs = StudentT::new(0.0, 1.0, 5.0)
        .unwrap()
        .sample_n(1800, 2, Par::Seq)
        .unwrap();
    let xs = Samples::new(xs.as_slice().to_vec(), 3).unwrap();
    let run = ScoredSamples::from_model(&model, &xs, Par::Seq).unwrap();
    let ks = [2, 7, 100, 333, 600];
    for est in [Estimator::V, Estimator::U] {
        let ksd = Ksd::new(Imq::default(), est);
        let path = cumulative_ksd(&ksd, &run, &ks, Par::rayon(2)).unwrap();
        assert_eq!(path, cumulative_ksd(&ksd, &run, &ks, Par::Seq).unwrap());
        for (c, &k) in path.iter().zip(&ks) {
            let head = Samples::new(xs.as_slice()[..3 * k].to_vec(), 3).unwrap();
            let separate = ksd.estimate(&model, &head, Par::Seq).unwrap().value;
            assert_eq!(c.k, k);
            assert!(
                close(c.value, separate, 1e-12, 1e-14),
                "{est:?} k = {k}: {} vs {separate}",
                c.value
            );
        }
    }
    assert!(matches!(
        cumulative_ksd(
            &Ksd::new(Imq::default(), Estimator::V),
            &run,
            &[5, 5],
            Par::Seq
        ),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        cumulative_ksd(
            &Ksd::new(Imq::default(), Estimator::V),
            &run,
            &[601],
            Par::Seq
        ),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        cumulative_ksd(
            &Ksd::new(Imq::default(), Estimator::U),
            &run,
            &[1, 4],
            Par::Seq
        ),
        Err(Error::TooFewSamples { .. })
    ));
    assert!(matches!(
        cumulative_ksd(&Ksd::new(Imq::default(), Estimator::V), &run, &[], Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
}

/// An AR(1) chain with N(μ, 1) marginals and its scores under N(0, 1).
fn ar1(n: usize, rho: f64, mu: f64, seed: u64) -> ScoredSamples {
    let noise = Gaussian::standard(1)
        .unwrap()
        .sample_n(n, seed, Par::Seq)
        .unwrap();
    let mut x = noise.as_slice()[0];
    let mut xs = Vec::with_capacity(n);
    for t in 0..n {
        if t > 0 {
            x = rho * x + (1.0 - rho * rho).sqrt() * noise.as_slice()[t];
        }
        xs.push(x + mu);
    }
    let scores = xs.iter().map(|v| -v).collect();
    ScoredSamples::new(Samples::new(xs, 1).unwrap(), scores).unwrap()
}

#[test]
fn chain_diagnostics_flag_the_chain_that_is_off() {
    let chains = vec![
        ar1(800, 0.7, 0.0, 1),
        ar1(800, 0.7, 0.0, 2),
        ar1(800, 0.7, 1.5, 3),
    ];
    let test = KsdTest::new(Bootstrap::Rademacher, 5)
        .unwrap()
        .with_replicates(199)
        .unwrap();
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    let report = diagnose_chains(&ksd, &chains, test, Par::rayon(2)).unwrap();
    assert_eq!(report.chains.len(), 3);
    assert!(!report.chains[0].test.reject && !report.chains[1].test.reject);
    assert!(report.chains[2].test.reject && report.pooled_test.reject);
    assert!(report.chains[2].ksd.value > 10.0 * report.chains[0].ksd.value);
    // τ̂ of an AR(1) chain with ρ = 0.7 is near (1 + ρ)/(1 − ρ) = 5.7.
    let tau = report.chains[0].test.autocorrelation_time.unwrap();
    assert!(tau > 3.0 && tau < 9.0, "τ̂ = {tau}");
    assert_eq!(
        report,
        diagnose_chains(&ksd, &chains, test, Par::Seq).unwrap()
    );
    assert!(report.to_string().contains("pooled"));
    assert!(matches!(
        diagnose_chains(&ksd, &[], test, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    let wrong = negated(&Samples::new(vec![0.0; 10], 2).unwrap());
    assert!(matches!(
        diagnose_chains(&ksd, &[chains[0].clone(), wrong], test, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn bad_input_is_a_typed_error() {
    let xs = csv(include_str!("reference/stein_thinning/toy10.csv"), 2);
    let run = negated(&xs);
    assert!(matches!(
        SteinThinning::new().thin(&run, 0, Par::Seq),
        Err(Error::TooFewSamples { .. })
    ));
    // A constant coordinate cannot be standardised; named by its index.
    let flat: Vec<f64> = xs.rows().flat_map(|r| [r[0], 3.0]).collect();
    let flat_run = negated(&Samples::new(flat, 2).unwrap());
    assert!(matches!(
        SteinThinning::new().thin(&flat_run, 3, Par::Seq),
        Err(Error::DegenerateSamples { index: 1, .. })
    ));
    // All duplicates: the median distance is 0.
    let same = negated(&Samples::new([1.0, 2.0].repeat(10), 2).unwrap());
    assert!(matches!(
        SteinThinning::new()
            .with_standardize(false)
            .with_preconditioner(Preconditioner::Median)
            .thin(&same, 3, Par::Seq),
        Err(Error::DegenerateSamples { .. })
    ));
    for v in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            SteinThinning::new()
                .with_preconditioner(Preconditioner::Scale(v))
                .thin(&run, 3, Par::Seq),
            Err(Error::InvalidParameter { .. })
        ));
    }
    // NaN scores and mismatched shapes are refused by ScoredSamples itself.
    let mut bad = vec![-1.0; 20];
    bad[7] = f64::NAN;
    assert!(matches!(
        ScoredSamples::new(xs.clone(), bad),
        Err(Error::NonFiniteValue { index: 3, .. })
    ));
    assert!(matches!(
        ScoredSamples::new(xs.clone(), vec![0.0; 19]),
        Err(Error::DimensionMismatch { .. })
    ));
    let weighted = ScoredSamples::new(
        xs.clone().with_weights(vec![1.0; 10]).unwrap(),
        vec![0.5; 20],
    )
    .unwrap();
    assert!(matches!(
        SteinThinning::new().thin(&weighted, 3, Par::Seq),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn regularised_thinning_equals_its_brute_force() {
    // Bénard et al. (2023): objective + Δ⁺log p − λ t log p at step t, on draws of a 2-D t₃
    // spread out so that some sit where the curvature of log p is positive.
    let model = MultivariateStudentT::new(vec![0.0, 0.0], &[1.0, 0.0, 0.0, 1.0], 3.0).unwrap();
    let raw = csv(include_str!("reference/stein_thinning/toy10.csv"), 2);
    let xs = Samples::new(raw.as_slice().iter().map(|v| 3.0 * v).collect(), 2).unwrap();
    let run = ScoredSamples::from_model(&model, &xs, Par::Seq).unwrap();
    let reg = Regularization::from_model(&model, &xs).unwrap();
    assert!(
        reg.laplacian.iter().any(|&v| v > 0.0),
        "the test needs positive curvature somewhere"
    );
    let n = 10;
    let m = 8;
    let lambda = 1.0 / m as f64;
    let s = |i: usize| run.scores()[2 * i..2 * i + 2].to_vec();
    let h: Vec<f64> = (0..n * n)
        .map(|k| definition(xs.row(k / n), xs.row(k % n), &s(k / n), &s(k % n)))
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    for t in 1..=m {
        let rank = |i: usize| {
            h[i * n + i]
                + 2.0 * chosen.iter().map(|&j| h[i * n + j]).sum::<f64>()
                + reg.laplacian[i]
                - lambda * t as f64 * reg.log_density[i]
        };
        let best = (0..n).fold(0, |b, i| if rank(i) < rank(b) { i } else { b });
        chosen.push(best);
    }
    let thinning = SteinThinning::new().with_standardize(false);
    let got = thinning
        .thin_regularized(&run, &reg, m, Par::rayon(2))
        .unwrap();
    assert_eq!(got.indices, chosen);
    // Without its terms the regularised search is the plain one.
    let none = Regularization {
        log_density: vec![0.0; n],
        laplacian: vec![0.0; n],
        lambda: Some(0.0),
    };
    assert_eq!(
        thinning.thin_regularized(&run, &none, m, Par::Seq).unwrap(),
        thinning.thin(&run, m, Par::Seq).unwrap()
    );
    // Bad terms.
    let short = Regularization {
        log_density: vec![0.0; 3],
        ..none.clone()
    };
    assert!(matches!(
        thinning.thin_regularized(&run, &short, m, Par::Seq),
        Err(Error::DimensionMismatch { .. })
    ));
    let negative = Regularization {
        lambda: Some(-1.0),
        ..none.clone()
    };
    assert!(matches!(
        thinning.thin_regularized(&run, &negative, m, Par::Seq),
        Err(Error::InvalidParameter { .. })
    ));
    let mut nan = none;
    nan.log_density[4] = f64::NAN;
    assert!(matches!(
        thinning.thin_regularized(&run, &nan, m, Par::Seq),
        Err(Error::NonFiniteValue { index: 4, .. })
    ));
}
