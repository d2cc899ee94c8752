//! No heap allocation per sample or per pair: a counting global allocator measures each
//! objective, Stein kernel and bootstrap path at n and at 2n samples (one thread), and the
//! difference may grow only with the number of chunks or row blocks (scratch made once per
//! chunk of 256 samples, or per block of 64 rows), never with the samples or the pairs.
//!
//! The bound per extra chunk is [`PER_CHUNK`] allocations; one allocation per sample would add
//! n, one per pair about 1.5 n². The counts come from dhat's allocator in testing mode.

use std::sync::Mutex;

use dsm::core::*;
use dsm::flows::*;
use dsm::riemann::{ConstantMetric, MetricDiffusion, riemannian_fisher_divergence};

/// dhat's allocator counts every allocation (its heap statistics in testing mode).
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// One dhat profiler at a time: the tests of this binary run one after the other.
static SERIAL: Mutex<()> = Mutex::new(());

/// Allocations allowed per extra chunk of samples (or block of rows) at 2n.
const PER_CHUNK: u64 = 24;

/// Allocations (blocks) made by `f`.
fn count(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

/// Asserts that `f` at 2n allocates at most `PER_CHUNK` more per extra unit of work
/// (chunks of `unit` samples) than at n.
fn assert_no_allocation_per_item(
    label: &str,
    n: usize,
    unit: usize,
    data: impl Fn(usize) -> Samples,
    f: impl Fn(&Samples),
) {
    let (small, large) = (data(n), data(2 * n));
    f(&small); // warm-up: lazily initialised statics
    let at_n = count(|| f(&small));
    let at_2n = count(|| f(&large));
    let extra_units = n.div_ceil(unit) as u64;
    assert!(
        at_2n <= at_n + PER_CHUNK * extra_units,
        "{label}: {at_n} allocations at n = {n}, {at_2n} at 2n (allowed {})",
        at_n + PER_CHUNK * extra_units
    );
}

fn student(n: usize, d: usize) -> Samples {
    let xs = StudentT::new(0.0, 1.0, 5.0)
        .unwrap()
        .sample_n(n * d, 3, Par::Seq)
        .unwrap();
    Samples::new(xs.as_slice().iter().map(|v| v * 0.5).collect(), d).unwrap()
}

fn mvt(d: usize) -> MultivariateStudentT {
    let mut s = vec![0.0; d * d];
    for i in 0..d {
        s[i * d + i] = 1.0 + 0.1 * i as f64;
        if i > 0 {
            s[i * d + i - 1] = 0.2;
            s[(i - 1) * d + i] = 0.2;
        }
    }
    MultivariateStudentT::new(vec![0.1; d], &s, 4.0).unwrap()
}

fn dense_flow(d: usize) -> Chain<Layer> {
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = if i == j {
                1.5
            } else {
                0.1 / (1 + i + j) as f64
            };
        }
    }
    Chain::new(vec![
        Layer::from(Affine::new(d, a, vec![0.1; d]).unwrap()),
        Layer::from(Planar::new(vec![0.3; d], vec![0.2; d], 0.1).unwrap()),
        Layer::from(Radial::new(vec![0.0; d], 1.0, 0.5).unwrap()),
    ])
    .unwrap()
}

fn gaussian_flow(d: usize) -> Elementwise<GaussianFlow> {
    Elementwise::uniform(GaussianFlow::new(0.0, 1.0, 5.0).unwrap(), d).unwrap()
}

const N: usize = 4 * mc::CHUNK_SIZE;

#[test]
fn objectives_allocate_nothing_per_sample() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _profiler = dhat::Profiler::builder().testing().build();
    let unit = mc::CHUNK_SIZE;
    let t = StudentT::new(0.2, 1.0, 5.0).unwrap();
    assert_no_allocation_per_item(
        "SM, Student-t",
        N,
        unit,
        |n| student(n, 1),
        |xs| {
            score_matching_loss(&t, xs, Par::Seq).unwrap();
        },
    );
    let p = mvt(3);
    assert_no_allocation_per_item(
        "SM, multivariate t",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            score_matching_loss(&p, xs, Par::Seq).unwrap();
        },
    );
    let g = Gaussian::standard(3).unwrap();
    assert_no_allocation_per_item(
        "SM, Gaussian",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            score_matching_loss(&g, xs, Par::Seq).unwrap();
        },
    );
    assert_no_allocation_per_item(
        "Fisher divergence",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            fisher_divergence(&g, &p, xs, Par::Seq).unwrap();
        },
    );
    let m = ConstantDiffusion::new(3, vec![1.0, 0.2, 0.0, 0.0, 1.0, 0.1, 0.0, 0.0, 2.0]).unwrap();
    assert_no_allocation_per_item(
        "DSM, constant m",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            diffusion_score_matching_loss(&p, &m, xs, Par::Seq).unwrap();
        },
    );
    let closure = DiffusionFn::new(
        1,
        |x: &[f64], m: &mut [f64]| m[0] = (1.0 + x[0] * x[0] / 5.0).sqrt(),
        |x: &[f64], dm: &mut [f64]| dm[0] = x[0] / (5.0 * (1.0 + x[0] * x[0] / 5.0).sqrt()),
    );
    assert_no_allocation_per_item(
        "DSM, closure m",
        N,
        unit,
        |n| student(n, 1),
        |xs| {
            diffusion_score_matching_loss(&t, &closure, xs, Par::Seq).unwrap();
        },
    );
    let one = FlowDiffusion::new(GaussianFlow::new(0.2, 1.0, 5.0).unwrap());
    assert_no_allocation_per_item(
        "DSM, Gaussian flow 1-D",
        N,
        unit,
        |n| student(n, 1),
        |xs| {
            diffusion_score_matching_loss(&t, &one, xs, Par::Seq).unwrap();
        },
    );
    let elementwise = FlowDiffusion::new(gaussian_flow(3));
    assert_no_allocation_per_item(
        "DSM, elementwise flow",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            diffusion_score_matching_loss(&p, &elementwise, xs, Par::Seq).unwrap();
        },
    );
    let dense = FlowDiffusion::new(dense_flow(3));
    assert_no_allocation_per_item(
        "DSM, affine-planar-radial chain",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            diffusion_score_matching_loss(&p, &dense, xs, Par::Seq).unwrap();
        },
    );
    let inverted = FlowDiffusion::new(Invert::new(dense_flow(3)));
    assert_no_allocation_per_item(
        "DSM, inverted chain",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            diffusion_score_matching_loss(&p, &inverted, xs, Par::Seq).unwrap();
        },
    );
    assert_no_allocation_per_item(
        "diffusion Fisher, chain",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            diffusion_fisher_divergence(&g, &p, &dense, xs, Par::Seq).unwrap();
        },
    );
    let pushforward = Pushforward::new(mvt(3), dense_flow(3)).unwrap();
    assert_no_allocation_per_item(
        "SM, pushforward",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            score_matching_loss(&pushforward, xs, Par::Seq).unwrap();
        },
    );
    let pushed_1d = Pushforward::new(t, GaussianFlow::new(0.0, 1.0, 5.0).unwrap()).unwrap();
    assert_no_allocation_per_item(
        "DSM, pushforward",
        N,
        unit,
        |n| student(n, 1),
        |xs| {
            diffusion_score_matching_loss(&pushed_1d, &one, xs, Par::Seq).unwrap();
        },
    );
    let family = dsm::fit::ExponentialFamily::new(dsm::fit::GaussianStatistic::new(3).unwrap());
    let theta = [0.1, 0.0, -0.1, 1.0, 1.2, 0.9, 0.1, 0.0, 0.2];
    assert_no_allocation_per_item(
        "SM θ-gradient",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            dsm::fit::score_matching_gradient(&family, &theta, xs, Par::Seq).unwrap();
        },
    );
    assert_no_allocation_per_item(
        "DSM θ-gradient, elementwise flow",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            dsm::fit::diffusion_score_matching_gradient(
                &family,
                &elementwise,
                &theta,
                xs,
                Par::Seq,
            )
            .unwrap();
        },
    );
    assert_no_allocation_per_item(
        "SM closed-form fit",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            family.fit_score_matching(xs, Par::Seq).unwrap();
        },
    );
    let metric = ConstantMetric::new(3, vec![2.0, 0.1, 0.0, 0.1, 1.0, 0.0, 0.0, 0.0, 1.5]).unwrap();
    assert_no_allocation_per_item(
        "Riemannian Fisher",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            riemannian_fisher_divergence(&g, &p, &metric, xs, Par::Seq).unwrap();
        },
    );
    let metric_m = MetricDiffusion::new(metric.clone());
    assert_no_allocation_per_item(
        "DSM, metric diffusion",
        N,
        unit,
        |n| student(n, 3),
        |xs| {
            diffusion_score_matching_loss(&p, &metric_m, xs, Par::Seq).unwrap();
        },
    );
}

#[test]
fn stein_discrepancies_allocate_nothing_per_pair() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _profiler = dhat::Profiler::builder().testing().build();
    // Pairs grow fourfold from n to 2n; blocks of 64 rows and chunks of 256 samples twofold.
    let (n, unit) = (256, 64);
    let p = mvt(2);
    for estimator in [Estimator::V, Estimator::U] {
        let ksd = Ksd::new(Imq::default(), estimator);
        assert_no_allocation_per_item(
            "KSD, IMQ",
            n,
            unit,
            |n| student(n, 2),
            |xs| {
                ksd.estimate(&p, xs, Par::Seq).unwrap();
            },
        );
        let rbf = Ksd::new(Rbf::new(1.0).unwrap(), estimator);
        assert_no_allocation_per_item(
            "KSD, RBF",
            n,
            unit,
            |n| student(n, 2),
            |xs| {
                rbf.estimate(&p, xs, Par::Seq).unwrap();
            },
        );
        let diagonal = DiffusionKsd::new(
            Imq::default(),
            FlowDiffusion::new(gaussian_flow(2)),
            estimator,
        )
        .unwrap();
        assert_no_allocation_per_item(
            "DKSD, elementwise flow",
            n,
            unit,
            |n| student(n, 2),
            |xs| {
                diagonal.estimate(&p, xs, Par::Seq).unwrap();
            },
        );
        let dense = DiffusionKsd::new(Imq::default(), FlowDiffusion::new(dense_flow(2)), estimator)
            .unwrap();
        assert_no_allocation_per_item(
            "DKSD, chain flow",
            n,
            unit,
            |n| student(n, 2),
            |xs| {
                dense.estimate(&p, xs, Par::Seq).unwrap();
            },
        );
    }
}

#[test]
fn the_bootstrap_allocates_nothing_per_pair_or_replicate() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _profiler = dhat::Profiler::builder().testing().build();
    let p = mvt(2);
    let ksd = Ksd::new(Imq::default(), Estimator::V);
    for bootstrap in [Bootstrap::Rademacher, Bootstrap::MarkovChainAuto] {
        let test = KsdTest::new(bootstrap, 5)
            .unwrap()
            .with_replicates(200)
            .unwrap();
        assert_no_allocation_per_item(
            "KSD test",
            256,
            64,
            |n| student(n, 2),
            |xs| {
                test.run(&ksd, &p, xs, Par::Seq).unwrap();
            },
        );
    }
}
