//! Criterion benches of fitting (dsm-fit): one objective-and-gradient evaluation against the
//! objective alone (SM, and DSM with the Gaussian flow moving with μ; n = 1e4 draws of
//! St(0, 1, 10), model St(0.3, 1, 10)), a whole fit of the location from 20σ, and fit_flow of
//! the learned-diffusion flows on 1e4 samples.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use dsm::core::{Par, Sampler, StudentT, diffusion_score_matching_loss, score_matching_loss};
use dsm::fit::{
    FlowFitOptions, MinimizeOptions, MovingDiffusionScoreMatching, Objective, ParametricModel,
    StudentTFamily, Surrogate, fit_flow, score_matching_gradient,
};
use dsm::flows::{
    Compose, DiagonalAffine, FlowDiffusion, GaussianFlow, PowerTailLayer, RationalQuadraticSpline,
};

fn fitting(c: &mut Criterion) {
    let (nu, at) = (10.0, 0.3);
    let xs = StudentT::new(0.0, 1.0, nu)
        .unwrap()
        .sample_n(10_000, 42, Par::Seq)
        .unwrap();
    let model = StudentT::new(at, 1.0, nu).unwrap();
    let family = StudentTFamily::location(1.0, nu).unwrap();
    let fixed = FlowDiffusion::new(GaussianFlow::new(at, 1.0, nu).unwrap());
    let flow = family.gaussian_flow().unwrap();
    let moving = MovingDiffusionScoreMatching::new(&flow, Surrogate::Total);
    let mut g = c.benchmark_group("fitting_n1e4");
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("sm_objective", |b| {
        b.iter(|| black_box(score_matching_loss(&model, &xs, Par::Seq).unwrap()))
    });
    // The same objective through the parametric model's dual numbers (what the gradient uses).
    let at_model = family.at(&[at]).unwrap();
    g.bench_function("sm_objective_autodiff_model", |b| {
        b.iter(|| black_box(score_matching_loss(&at_model, &xs, Par::Seq).unwrap()))
    });
    g.bench_function("sm_objective_and_gradient", |b| {
        b.iter(|| black_box(score_matching_gradient(&family, &[at], &xs, Par::Seq).unwrap()))
    });
    g.bench_function("dsm_gaussian_flow_objective", |b| {
        b.iter(|| black_box(diffusion_score_matching_loss(&model, &fixed, &xs, Par::Seq).unwrap()))
    });
    g.bench_function("dsm_gaussian_flow_objective_and_gradient", |b| {
        b.iter(|| {
            black_box(
                moving
                    .value_and_gradient(&family, &[at], &xs, Par::Seq)
                    .unwrap(),
            )
        })
    });
    g.sample_size(10);
    g.bench_function("fit_dsm_gaussian_flow_from_20_sigma", |b| {
        b.iter(|| {
            black_box(
                moving
                    .minimize(&family, &[20.0], &xs, Par::Seq, MinimizeOptions::default())
                    .unwrap(),
            )
        })
    });
    g.finish();
}

/// fit_flow on 1e4 draws of St(0, 1, 5), d = 1, 2 threads, no held-out split: the elementwise
/// spline (standardising affine, 8 bins on [−3, 3]) and the power-tail flow of the learned
/// diffusion (power-tail layer, output affine). Target ([learned-diffusion]): the spline under 2 s.
fn flow_fits(c: &mut Criterion) {
    let xs = StudentT::new(0.0, 1.0, 5.0)
        .unwrap()
        .sample_n(10_000, 43, Par::Seq)
        .unwrap();
    let options = FlowFitOptions {
        held_out_fraction: 0.0,
        ..FlowFitOptions::default()
    };
    let spline = Compose::new(
        DiagonalAffine::standardizing(&xs).unwrap(),
        RationalQuadraticSpline::identity(1, 8, 3.0).unwrap(),
    )
    .unwrap();
    let tail = Compose::new(
        PowerTailLayer::standardizing(&xs, 10.0).unwrap(),
        DiagonalAffine::identity(1).unwrap(),
    )
    .unwrap();
    let mut g = c.benchmark_group("flow_fit_1e4");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("spline_8_bins", |b| {
        b.iter(|| black_box(fit_flow(&spline, &xs, options, Par::rayon(2)).unwrap()))
    });
    g.bench_function("power_tail_and_affine", |b| {
        b.iter(|| black_box(fit_flow(&tail, &xs, options, Par::rayon(2)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, fitting, flow_fits);
criterion_main!(benches);
