//! Criterion benches of the kernel Stein discrepancies: KSD U and V with the IMQ kernel for
//! n in {1000, 10000} and d in {1, 10, 50}, sequential and parallel; DKSD with a flow
//! diffusion. Seeded inputs; throughput in pairs.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dsm::flows::{Elementwise, FlowDiffusion, ManualFlow};
use dsm::prelude::*;

fn ksd(c: &mut Criterion) {
    let mut group = c.benchmark_group("ksd_imq");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_millis(500));
    for n in [1000usize, 10_000] {
        for d in [1usize, 10, 50] {
            let model = Gaussian::standard(d).unwrap();
            let xs = model.sample_n(n, 7, Par::rayon(0)).unwrap();
            group.throughput(Throughput::Elements((n * (n - 1) / 2) as u64));
            for (est, tag) in [(Estimator::U, "u"), (Estimator::V, "v")] {
                let ksd = Ksd::new(Imq::default(), est);
                for (label, par) in [("seq", Par::Seq), ("par", Par::rayon(0))] {
                    if n == 10_000 && label == "seq" && d == 50 {
                        continue; // the slowest configuration, measured in parallel only
                    }
                    group.bench_with_input(
                        BenchmarkId::new(format!("{tag}_d{d}_{label}"), n),
                        &xs,
                        |b, xs| {
                            b.iter(|| ksd.estimate(black_box(&model), black_box(xs), par).unwrap())
                        },
                    );
                }
            }
        }
    }
    group.finish();

    let mut group = c.benchmark_group("dksd_flow");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    let d = 10;
    let model = MultivariateStudentT::new(vec![0.0; d], &identity(d), 5.0).unwrap();
    let m = FlowDiffusion::new(
        Elementwise::uniform(ManualFlow::new(0.0, 1.0, 5.0).unwrap(), d).unwrap(),
    );
    let dksd = DiffusionKsd::new(Imq::default(), m, Estimator::V).unwrap();
    for n in [1000usize, 4000] {
        let xs = model.sample_n(n, 8, Par::rayon(0)).unwrap();
        group.throughput(Throughput::Elements((n * (n - 1) / 2) as u64));
        group.bench_with_input(
            BenchmarkId::new("v_manual_flow_d10_par", n),
            &xs,
            |b, xs| {
                b.iter(|| {
                    dksd.estimate(black_box(&model), black_box(xs), Par::rayon(0))
                        .unwrap()
                })
            },
        );
    }
    group.finish();
}

fn identity(d: usize) -> Vec<f64> {
    (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect()
}

criterion_group!(benches, ksd);
criterion_main!(benches);
