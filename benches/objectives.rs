//! Criterion benches of the dsm-core objectives: score matching and diffusion score matching
//! per sample, sequential and parallel, on seeded data.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dsm::prelude::*;

fn objectives(c: &mut Criterion) {
    let mut group = c.benchmark_group("score_matching");
    group
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(5));
    for (n, d) in [(100_000usize, 1usize), (1_000_000, 10)] {
        let mut scale = vec![0.0; d * d];
        for i in 0..d {
            scale[i * d + i] = 1.0 + 0.1 * i as f64;
        }
        let p = MultivariateStudentT::new(vec![0.1; d], &scale, 5.0).unwrap();
        let xs = p.sample_n(n, 1, Par::rayon(0)).unwrap();
        group.throughput(Throughput::Elements(n as u64));
        for (label, par) in [("seq", Par::Seq), ("par", Par::rayon(0))] {
            group.bench_with_input(
                BenchmarkId::new(format!("sm_mvt_d{d}_{label}"), n),
                &xs,
                |b, xs| b.iter(|| score_matching_loss(black_box(&p), black_box(xs), par).unwrap()),
            );
        }
    }
    group.finish();

    let mut group = c.benchmark_group("diffusion_score_matching");
    group
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(5));
    let n = 100_000;
    let q = StudentT::new(0.0, 1.0, 10.0).unwrap();
    let xs = q.sample_n(n, 2, Par::rayon(0)).unwrap();
    let m = DiffusionFn::new(
        1,
        |x: &[f64], m: &mut [f64]| m[0] = (1.0 + x[0] * x[0] / 10.0).sqrt(),
        |x: &[f64], dm: &mut [f64]| dm[0] = x[0] / (10.0 * (1.0 + x[0] * x[0] / 10.0).sqrt()),
    );
    group.throughput(Throughput::Elements(n as u64));
    for (label, par) in [("seq", Par::Seq), ("par", Par::rayon(0))] {
        group.bench_with_input(
            BenchmarkId::new(format!("dsm_student_t_manual_{label}"), n),
            &xs,
            |b, xs| {
                b.iter(|| {
                    diffusion_score_matching_loss(black_box(&q), &m, black_box(xs), par).unwrap()
                })
            },
        );
    }
    group.finish();

    // DSM at n = 1e6, d = 10 with a constant (preconditioner) diffusion.
    let mut group = c.benchmark_group("diffusion_score_matching_d10");
    group
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(5));
    let d = 10;
    let n = 1_000_000;
    let mut scale = vec![0.0; d * d];
    let mut m = vec![0.0; d * d];
    for i in 0..d {
        scale[i * d + i] = 1.0;
        m[i * d + i] = 1.0 + 0.1 * i as f64;
    }
    let p = MultivariateStudentT::new(vec![0.0; d], &scale, 5.0).unwrap();
    let xs = p.sample_n(n, 3, Par::rayon(0)).unwrap();
    let m = ConstantDiffusion::new(d, m).unwrap();
    group.throughput(Throughput::Elements(n as u64));
    group.bench_with_input(
        BenchmarkId::new("dsm_mvt_constant_m_par", n),
        &xs,
        |b, xs| {
            b.iter(|| {
                diffusion_score_matching_loss(black_box(&p), &m, black_box(xs), Par::rayon(0))
                    .unwrap()
            })
        },
    );
    group.finish();
}

criterion_group!(benches, objectives);
criterion_main!(benches);
