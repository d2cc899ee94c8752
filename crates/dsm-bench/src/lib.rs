//! # dsm-bench
//!
//! Benchmark workloads of dsm and the pieces of the side-by-side comparison harness
//! (`cargo xtask bench-compare`, binary `bench-compare`): seeded data written once and read by
//! both dsm and the Python references (numpy, JAX), medians of repeated runs, the measured
//! peak of one FMA loop, and the peak resident set. The typed rows of the harness (the
//! references' output, dsm's value checked against each peer's within [`REL_TOLERANCE`],
//! `compare.json` and `compare.md`) are in [`compare`]. The criterion benches live in the
//! top-level `benches/`.

pub mod compare;

pub use compare::{
    Agreement, ChildReport, CompareSummary, FittingCost, Machine, Peer, REL_TOLERANCE,
    ReferenceOutput, RssAtN, TestCost, Verdict, WorkloadRow,
};

use std::hint::black_box;
use std::time::Instant;

use dsm_core::{
    Bootstrap, DiffusionKsd, Estimator, Gaussian, Imq, Ksd, KsdTest, LinearKsdTest,
    MultivariateStudentT, Par, Result, Sampler, Samples, SteinKernel, StudentT,
    diffusion_score_matching_loss, score_matching_loss,
};
use dsm_flows::{Elementwise, FlowDiffusion, GaussianFlow};

/// Degrees of freedom of the flow workloads (the paper's Student-t).
pub const FLOW_DOF: f64 = 10.0;
/// Location of the model (and of its Gaussian flow) in the flow workloads; the data are
/// centred at 0, so the model is misspecified by this shift.
pub const FLOW_LOCATION: f64 = 0.3;

/// Median wall time in seconds of `runs` calls of `f` (after one warm-up call).
pub fn median_seconds(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Seeded standard-normal data, n × d.
///
/// # Errors
/// Invalid sizes.
pub fn normal_data(n: usize, d: usize, seed: u64) -> Result<Samples> {
    Gaussian::standard(d)?.sample_n(n, seed, Par::rayon(0))
}

/// The `ksd_v_imq` workload: KSD² V-statistic, IMQ c = 1, β = −½, standard normal model.
///
/// # Errors
/// As [`SteinKernel::estimate`] on a [`Ksd`].
pub fn ksd_v_imq(xs: &Samples, par: Par) -> Result<f64> {
    let model = Gaussian::standard(xs.dim())?;
    Ok(Ksd::new(Imq::default(), Estimator::V)
        .estimate(&model, xs, par)?
        .value)
}

/// The `ksd_test_imq` workload: the wild-bootstrap test of N(0, I) (IMQ, V-statistic,
/// Rademacher, B = 1000, seed 1); its value is the statistic n·V.
///
/// # Errors
/// As [`KsdTest::run`].
pub fn ksd_test_imq(xs: &Samples, par: Par) -> Result<f64> {
    let model = Gaussian::standard(xs.dim())?;
    let test = KsdTest::new(Bootstrap::Rademacher, 1)?.with_replicates(1000)?;
    Ok(test
        .run(&Ksd::new(Imq::default(), Estimator::V), &model, xs, par)?
        .statistic)
}

/// The linear-time test of N(0, I) (IMQ, L = 10, B = 1000, seed 1); its value is Ū.
///
/// # Errors
/// As [`LinearKsdTest::run`].
pub fn ksd_linear_test(xs: &Samples, par: Par) -> Result<f64> {
    let model = Gaussian::standard(xs.dim())?;
    let test = LinearKsdTest::new(10, 1)?.with_replicates(1000)?;
    Ok(test
        .run(&Ksd::new(Imq::default(), Estimator::U), &model, xs, par)?
        .statistic)
}

/// The `stein_thin` workload: Stein thinning of N(0, I) draws (scores −x) to 100 points with
/// the reference package's defaults (standardised coordinates, L = I); its value is the
/// checksum Σ_t (t + 1)·π_t of the chosen indices, equal only when the selections are.
///
/// # Errors
/// As [`SteinThinning::thin`](dsm_core::mcmc::SteinThinning::thin).
pub fn stein_thin(xs: &Samples, par: Par) -> Result<f64> {
    let scores: Vec<f64> = xs.as_slice().iter().map(|v| -v).collect();
    let run = dsm_core::ScoredSamples::new(xs.clone(), scores)?;
    let thinned = dsm_core::mcmc::SteinThinning::new().thin(&run, 100, par)?;
    Ok(thinned
        .indices
        .iter()
        .enumerate()
        .map(|(t, &i)| ((t + 1) * i) as f64)
        .sum())
}

/// The `sm_gaussian` workload: the score-matching loss of N(0, I) on the samples.
///
/// # Errors
/// As [`score_matching_loss`].
pub fn sm_gaussian(xs: &Samples, par: Par) -> Result<f64> {
    Ok(score_matching_loss(&Gaussian::standard(xs.dim())?, xs, par)?.value)
}

/// The tolerance JAX's value is held to on the flow workloads: its float64 `betainc` (a
/// continued fraction) loses relative accuracy in the Student-t tails, so its flow values
/// differ from scipy's and dsm's by up to about 1e-7 (measured: 8e-8 on the DKSD at
/// n = 500, d = 2), while numpy/scipy agree with dsm to 1e-10.
pub const JAX_FLOW_TOLERANCE: f64 = 1e-6;

/// Seeded Student-t data (ν = [`FLOW_DOF`], location 0, scale 1), n × d with independent
/// coordinates.
///
/// # Errors
/// Invalid sizes.
pub fn student_t_data(n: usize, d: usize, seed: u64) -> Result<Samples> {
    let scalars = StudentT::new(0.0, 1.0, FLOW_DOF)?.sample_n(n * d, seed, Par::rayon(0))?;
    Samples::new(scalars.as_slice().to_vec(), d)
}

/// The Gaussian flow Φ⁻¹∘F_ν of St([`FLOW_LOCATION`], 1, [`FLOW_DOF`]) on each of d
/// coordinates, as a diffusion m = J⁻¹.
///
/// # Errors
/// `d == 0`.
pub fn gaussian_flow_diffusion(d: usize) -> Result<FlowDiffusion<Elementwise<GaussianFlow>>> {
    let t = GaussianFlow::new(FLOW_LOCATION, 1.0, FLOW_DOF)?;
    Ok(FlowDiffusion::new(Elementwise::uniform(t, d)?))
}

/// The model of the flow workloads in d dimensions: the multivariate t with location
/// [`FLOW_LOCATION`]·1, identity scale and ν = [`FLOW_DOF`] (in one dimension, the Student-t
/// St([`FLOW_LOCATION`], 1, [`FLOW_DOF`])).
///
/// # Errors
/// `d == 0`.
pub fn flow_model(d: usize) -> Result<MultivariateStudentT> {
    let mut scale = vec![0.0; d * d];
    for i in 0..d {
        scale[i * d + i] = 1.0;
    }
    MultivariateStudentT::new(vec![FLOW_LOCATION; d], &scale, FLOW_DOF)
}

/// The `dsm_gaussian_flow` workload: the DSM loss (docs/math.md eq. 6) of [`flow_model`] with
/// the [`gaussian_flow_diffusion`], in the samples' dimension (the paper's main path in 1-D).
///
/// # Errors
/// As [`diffusion_score_matching_loss`].
pub fn dsm_gaussian_flow(xs: &Samples, par: Par) -> Result<f64> {
    let d = xs.dim();
    let m = gaussian_flow_diffusion(d)?;
    let value = if d == 1 {
        let p = StudentT::new(FLOW_LOCATION, 1.0, FLOW_DOF)?;
        diffusion_score_matching_loss(&p, &m, xs, par)?.value
    } else {
        diffusion_score_matching_loss(&flow_model(d)?, &m, xs, par)?.value
    };
    Ok(value)
}

/// The `dksd_gaussian_flow` workload: the DKSD² V-statistic (IMQ c = 1, β = −½) of
/// [`flow_model`] with the [`gaussian_flow_diffusion`].
///
/// # Errors
/// As [`SteinKernel::estimate`] on a [`DiffusionKsd`].
pub fn dksd_gaussian_flow(xs: &Samples, par: Par) -> Result<f64> {
    let d = xs.dim();
    let dksd = DiffusionKsd::new(Imq::default(), gaussian_flow_diffusion(d)?, Estimator::V)?;
    Ok(dksd.estimate(&flow_model(d)?, xs, par)?.value)
}

/// Start of the fit workload in units of the scale (the data are St(0, 1, [`FLOW_DOF`])).
pub const FIT_START: f64 = 20.0;

/// The fit workloads' model: St(μ, 1, [`FLOW_DOF`]) in θ = μ.
///
/// # Errors
/// None for these constants.
pub fn fit_family() -> Result<dsm_fit::StudentTFamily> {
    dsm_fit::StudentTFamily::location(1.0, FLOW_DOF)
}

/// The `sm_student_t` workload: the SM loss of St([`FLOW_LOCATION`], 1, [`FLOW_DOF`]) on 1-D
/// data (dsm-core's objective alone).
///
/// # Errors
/// As [`score_matching_loss`].
pub fn sm_student_t(xs: &Samples, par: Par) -> Result<f64> {
    let p = StudentT::new(FLOW_LOCATION, 1.0, FLOW_DOF)?;
    Ok(dsm_core::score_matching_loss(&p, xs, par)?.value)
}

/// The SM loss of [`fit_family`] at μ = [`FLOW_LOCATION`] through the parametric model's dual
/// numbers (`ParametricModel::at`): the same objective as [`sm_student_t`], the way the
/// gradient computes it.
///
/// # Errors
/// As [`score_matching_loss`].
pub fn sm_student_t_autodiff(xs: &Samples, par: Par) -> Result<f64> {
    use dsm_fit::ParametricModel;
    let family = fit_family()?;
    Ok(dsm_core::score_matching_loss(&family.at(&[FLOW_LOCATION])?, xs, par)?.value)
}

/// The SM loss of [`fit_family`] at μ = [`FLOW_LOCATION`] with its exact μ-gradient (dsm-fit);
/// returns the gradient.
///
/// # Errors
/// As [`dsm_fit::score_matching_gradient`].
pub fn sm_gradient_student_t(xs: &Samples, par: Par) -> Result<f64> {
    Ok(dsm_fit::score_matching_gradient(&fit_family()?, &[FLOW_LOCATION], xs, par)?.gradient[0])
}

/// The DSM loss with the Gaussian flow moving with μ, at μ = [`FLOW_LOCATION`], with its exact
/// total μ-gradient (what one L-BFGS step asks for: `value_and_gradient`); returns the
/// gradient. Its value equals [`dsm_gaussian_flow`] at d = 1.
///
/// # Errors
/// As [`dsm_fit::moving_diffusion_score_matching_gradient`].
pub fn dsm_gradient_gaussian_flow(xs: &Samples, par: Par) -> Result<f64> {
    use dsm_fit::Objective;
    let family = fit_family()?;
    let flow = family.gaussian_flow()?;
    let objective = dsm_fit::MovingDiffusionScoreMatching::new(&flow, dsm_fit::Surrogate::Total);
    Ok(objective
        .value_and_gradient(&family, &[FLOW_LOCATION], xs, par)?
        .gradient[0])
}

/// The `fit_dsm_gaussian_flow` workload: the location of [`fit_family`] by DSM with the
/// Gaussian flow moving with μ (total derivative), L-BFGS from μ = [`FIT_START`].
///
/// # Errors
/// As [`dsm_fit::Objective::minimize`].
pub fn fit_dsm_gaussian_flow(xs: &Samples, par: Par) -> Result<dsm_fit::Minimum> {
    use dsm_fit::Objective;
    let family = fit_family()?;
    let flow = family.gaussian_flow()?;
    dsm_fit::MovingDiffusionScoreMatching::new(&flow, dsm_fit::Surrogate::Total).minimize(
        &family,
        &[FIT_START],
        xs,
        par,
        dsm_fit::MinimizeOptions::default(),
    )
}

/// Floating-point operations per pair of the Langevin IMQ Stein kernel in d dimensions as
/// the engine evaluates it: four inner products from the tile matrix products (8d) and about
/// 20 scalar flops, one square root and one division for the profile and the combination.
pub fn ksd_flops_per_pair(d: usize) -> f64 {
    8.0 * d as f64 + 20.0
}

/// The measured peak of one core: GFLOP/s of a loop of independent multiply-adds
/// (8 accumulators, 2 flops each) compiled with the same target features as the library
/// (no `-C target-cpu=native`: SSE2 on x86-64, so no hardware FMA is assumed).
pub fn fma_peak_gflops() -> f64 {
    let n = 50_000_000usize;
    let secs = median_seconds(3, || {
        let mut acc = [1.0f64, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7];
        let (a, b) = (black_box(0.999_999_9), black_box(1e-9));
        for _ in 0..n / 8 {
            for v in acc.iter_mut() {
                *v = *v * a + b;
            }
        }
        black_box(acc);
    });
    2.0 * n as f64 / secs / 1e9
}

/// The measured peak of one core with run-time SIMD dispatch: GFLOP/s of a 768³ matrix
/// product by faer on one thread (AVX2/FMA or AVX-512 where the CPU has them). This is the
/// fair ceiling for code that, like the KSD tiles, goes through faer's products.
pub fn gemm_peak_gflops() -> f64 {
    let k = 768;
    let a = faer::Mat::<f64>::from_fn(k, k, |i, j| ((i * 7 + j * 3) % 11) as f64 / 11.0);
    let b = faer::Mat::<f64>::from_fn(k, k, |i, j| ((i * 5 + j) % 13) as f64 / 13.0);
    let mut c = faer::Mat::<f64>::zeros(k, k);
    let secs = median_seconds(3, || {
        faer::linalg::matmul::matmul(
            c.as_mut(),
            faer::Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            faer::Par::Seq,
        );
        black_box(&c);
    });
    2.0 * (k * k * k) as f64 / secs / 1e9
}

/// Seconds to read the samples once on all threads (a parallel sum in 256-row chunks): the
/// memory floor of any objective that visits every sample, such as the SM loss.
pub fn read_floor_seconds(xs: &Samples) -> f64 {
    use rayon::prelude::*;
    let data = xs.as_slice();
    let chunk = 256 * xs.dim().max(1);
    median_seconds(5, || {
        let s: f64 = data.par_chunks(chunk).map(|c| c.iter().sum::<f64>()).sum();
        black_box(s);
    })
}

/// Peak resident set size of this process in MB of 10⁶ bytes (Linux `VmHWM`), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0 / 1e6)
}

/// Nanoseconds per element of the IMQ profile's divider work, 1/(1 + u) then its square
/// root, in a loop compiled for the CPU's vector unit (pulp's run-time dispatch), as the KSD
/// tile pass runs it. Division and square root share one unit that no other flop can use, so
/// pairs × this is a floor for the pass however well the rest of it overlaps.
pub fn sqrt_div_ns_per_element() -> f64 {
    let u: Vec<f64> = (0..4096).map(|i| (i % 97) as f64 * 0.37).collect();
    let mut out = vec![0.0; u.len()];
    let reps = 4000;
    let secs = median_seconds(3, || {
        for r in 0..reps {
            let shift = black_box(r as f64 * 1e-9);
            pulp::Arch::new().dispatch(|| {
                for (o, &v) in out.iter_mut().zip(&u) {
                    let inv = (1.0 + v + shift).recip();
                    *o = inv.sqrt();
                }
            });
            black_box(&out);
        }
    });
    secs / (reps * u.len()) as f64 * 1e9
}

/// Writes the samples as raw little-endian f64, row-major (what the Python side reads with
/// `numpy.fromfile`).
///
/// # Errors
/// I/O errors, as [`std::io::Error`].
pub fn write_f64(path: &std::path::Path, xs: &Samples) -> std::io::Result<()> {
    let bytes: Vec<u8> = xs.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes)
}
