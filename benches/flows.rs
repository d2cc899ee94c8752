//! Criterion benches of the flow layers: forward map, log-determinant and full Jacobian per
//! point for each layer (d = 10), and the Gaussian flow per point across its range.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dsm::flows::*;

fn layers(d: usize) -> Vec<(&'static str, Layer)> {
    let a: Vec<f64> = (0..d * d)
        .map(|k| {
            if k / d == k % d {
                1.5
            } else {
                0.01 * (k % 7) as f64
            }
        })
        .collect();
    vec![
        (
            "affine",
            Layer::from(Affine::new(d, a, vec![0.1; d]).unwrap()),
        ),
        (
            "planar",
            Layer::from(Planar::new(vec![0.3; d], vec![0.2; d], 0.1).unwrap()),
        ),
        (
            "radial",
            Layer::from(Radial::new(vec![0.0; d], 1.0, 0.5).unwrap()),
        ),
        (
            "coupling",
            Layer::from(AffineCoupling::seeded(d, 16, true, 0.5, 1).unwrap()),
        ),
        (
            "gaussian",
            Layer::from(
                Elementwise::uniform(GaussianFlow::new(0.0, 1.0, 5.0).unwrap(), d).unwrap(),
            ),
        ),
        (
            "manual",
            Layer::from(Elementwise::uniform(ManualFlow::new(0.0, 1.0, 5.0).unwrap(), d).unwrap()),
        ),
        (
            "sinh_arcsinh",
            Layer::from(Elementwise::uniform(SinhArcsinh::new(0.2, 0.8).unwrap(), d).unwrap()),
        ),
    ]
}

fn flows(c: &mut Criterion) {
    let d = 10;
    let points: Vec<Vec<f64>> = (0..256)
        .map(|i| {
            (0..d)
                .map(|k| ((i * 7 + k * 3) % 23) as f64 / 5.0 - 2.2)
                .collect()
        })
        .collect();
    let mut group = c.benchmark_group("flow_layer_d10");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(300));
    group.throughput(Throughput::Elements(points.len() as u64));
    for (name, layer) in layers(d) {
        group.bench_function(BenchmarkId::new("forward_log_det", name), |b| {
            let mut y = vec![0.0; d];
            b.iter(|| {
                for x in &points {
                    black_box(layer.forward_into(black_box(x), &mut y).unwrap());
                }
            })
        });
        group.bench_function(BenchmarkId::new("jacobian", name), |b| {
            let mut j = vec![0.0; d * d];
            b.iter(|| {
                for x in &points {
                    layer.jacobian_into(black_box(x), &mut j);
                    black_box(&j);
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("gaussian_flow_point");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(2));
    let t = GaussianFlow::new(0.0, 1.0, 5.0).unwrap();
    for x in [0.5f64, 30.0, 1e6, 1e12] {
        group.bench_with_input(BenchmarkId::new("derivatives", x), &x, |b, &x| {
            b.iter(|| t.derivatives(black_box(x)))
        });
        group.bench_with_input(BenchmarkId::new("inverse", x), &x, |b, &x| {
            let y = t.derivatives(x)[0];
            b.iter(|| t.scalar_inverse(black_box(y)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, flows);
criterion_main!(benches);
