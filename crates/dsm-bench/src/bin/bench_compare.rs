//! `bench-compare`: dsm against numpy (and JAX when installed) on identical seeded data.
//! Run through `cargo xtask bench-compare [--quick] [--setup]`, which builds it in release.
//!
//! Writes `target/bench/compare.json` and `target/bench/compare.md` (typed rows of
//! [`dsm_bench::compare`]). Every workload row records, per peer that ran, whether dsm's value
//! agrees with the peer's on the identical data within [`REL_TOLERANCE`]; the run fails when
//! any row disagrees.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Parser;
use dsm_bench::{
    ChildReport, CompareSummary, FittingCost, JAX_FLOW_TOLERANCE, Machine, Peer, REL_TOLERANCE,
    ReferenceOutput, RssAtN, TestCost, WorkloadRow, dksd_gaussian_flow, dsm_gaussian_flow,
    dsm_gradient_gaussian_flow, fit_dsm_gaussian_flow, fma_peak_gflops, gemm_peak_gflops,
    ksd_flops_per_pair, ksd_linear_test, ksd_test_imq, ksd_v_imq, median_seconds, normal_data,
    peak_rss_mb, read_floor_seconds, sm_gaussian, sm_gradient_student_t, sm_student_t,
    sm_student_t_autodiff, sqrt_div_ns_per_element, stein_thin, student_t_data, write_f64,
};
use dsm_core::Par;

#[derive(Parser)]
#[command(about = "Side-by-side timing of dsm and Python references on identical data")]
struct Args {
    /// Smaller workloads and fewer repeats.
    #[arg(long)]
    quick: bool,
    /// Create OUT/venv (default target/bench/venv) with numpy (and try JAX) before running.
    #[arg(long)]
    setup: bool,
    /// Also run the KSD statistic at n = 1e6, d = 10 in a child process to record its peak
    /// resident set (about 15 minutes on 2 cores).
    #[arg(long)]
    with_1e6: bool,
    /// Run the KSD statistic at this n (d = 10) in a child process and record its peak
    /// resident set, to check the O(n) memory at a size that finishes quickly.
    #[arg(long, value_name = "N")]
    rss_n: Option<usize>,
    /// Internal: run the KSD at this n and print the peak RSS in MB.
    #[arg(long, hide = true)]
    child_n: Option<usize>,
    /// Time dsm alone on the flow workloads (no references, no summary): for before/after
    /// measurements and profiling.
    #[arg(long)]
    flows_only: bool,
    /// With --flows-only: run only the flow row with this index (0-3), for profiling.
    #[arg(long, hide = true)]
    flow_row: Option<usize>,
    /// Internal: run the SM workload at this n (d = 10) 50 times, for profiling.
    #[arg(long, hide = true)]
    profile_sm: Option<usize>,
    /// Time only the KSD statistic and the wild-bootstrap test at n = 10⁴, d = 10, in Rust and
    /// through the Python bindings, and print the overhead (no summary files).
    #[arg(long)]
    python_overhead: bool,
    /// Output folder (default target/bench); the venv lives in OUT/venv.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python(venv: &Path) -> Option<PathBuf> {
    let candidate = venv.join("bin/python");
    if candidate.exists() {
        return Some(candidate);
    }
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| PathBuf::from("python3"))
}

fn setup(venv: &Path) -> Result<()> {
    let dir = workspace().join("crates/dsm-bench/python");
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(venv)
        .status()
        .context("python3 -m venv")?;
    if !status.success() {
        bail!("could not create {}", venv.display());
    }
    let pip = venv.join("bin/pip");
    let status = Command::new(&pip)
        .args(["install", "-q", "-r"])
        .arg(dir.join("requirements.txt"))
        .status()?;
    if !status.success() {
        bail!("pip install numpy failed");
    }
    // dsm's own Python bindings, for the overhead column (built from source by maturin).
    let bindings = Command::new(&pip)
        .args(["install", "-q"])
        .arg(workspace().join("crates/dsm-py"))
        .status()?;
    if !bindings.success() {
        eprintln!(
            "the Python bindings could not be built; the dsm-from-Python column will be empty"
        );
    }
    let jax = Command::new(&pip)
        .args(["install", "-q", "-r"])
        .arg(dir.join("requirements-jax.txt"))
        .status()?;
    if !jax.success() {
        eprintln!("JAX could not be installed; the JAX column will be empty");
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(n) = args.profile_sm {
        let xs = normal_data(n, 10, 11)?;
        let t = std::time::Instant::now();
        let mut v = 0.0;
        for _ in 0..50 {
            v += sm_gaussian(&xs, Par::rayon(0))?;
        }
        println!(
            "{:.4} s per run, value {}",
            t.elapsed().as_secs_f64() / 50.0,
            v / 50.0
        );
        return Ok(());
    }
    if let Some(n) = args.child_n {
        let xs = normal_data(n, 10, 11)?;
        let value = ksd_v_imq(&xs, Par::rayon(0))?;
        let report = ChildReport {
            peak_rss_mb: peak_rss_mb(),
            value,
        };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    if args.flows_only {
        for (row, (name, n, dim)) in [
            ("dsm_gaussian_flow", 100_000, 1),
            ("dsm_gaussian_flow", 1_000_000, 1),
            ("dsm_gaussian_flow", 100_000, 10),
            ("dksd_gaussian_flow", 10_000, 2),
        ]
        .into_iter()
        .enumerate()
        {
            if args.flow_row.is_some_and(|r| r != row) {
                continue;
            }
            let xs = student_t_data(n, dim, 42)?;
            let f = |par: Par| match name {
                "dsm_gaussian_flow" => dsm_gaussian_flow(&xs, par),
                _ => dksd_gaussian_flow(&xs, par),
            };
            let value = f(Par::rayon(0))?;
            let par = median_seconds(5, || {
                std::hint::black_box(f(Par::rayon(0)).unwrap());
            });
            let seq = median_seconds(3, || {
                std::hint::black_box(f(Par::Seq).unwrap());
            });
            println!(
                "{name} n = {n}, d = {dim}: {par:.4} s, one thread {seq:.4} s, value {value:.17e}"
            );
        }
        return Ok(());
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace().join("target/bench"));
    std::fs::create_dir_all(&out)?;
    let venv = out.join("venv");
    if args.setup {
        setup(&venv)?;
    }
    let py = python(&venv);
    if py.is_none() {
        eprintln!(
            "no Python with numpy found (run with --setup): the reference columns will be empty"
        );
    }
    let script = workspace().join("crates/dsm-bench/python/compare.py");
    let repeats = if args.quick { 3 } else { 5 };
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let ksd_sizes: &[usize] = if args.quick {
        &[1000, 2000]
    } else {
        &[2000, 10_000]
    };
    let sm_n = if args.quick { 100_000 } else { 1_000_000 };
    let d = 10;
    let mut workloads = Vec::new();
    type Data = fn(usize, usize, u64) -> dsm_core::Result<dsm_core::Samples>;
    let run_data = |name: &str,
                    (n, d): (usize, usize),
                    data: Data,
                    f: &dyn Fn(&dsm_core::Samples) -> dsm_core::Result<f64>|
     -> Result<WorkloadRow> {
        let xs = data(n, d, 42)?;
        let value = f(&xs)?;
        let dsm_s = median_seconds(repeats, || {
            std::hint::black_box(f(&xs).unwrap());
        });
        let path = out.join(format!("{name}_{n}.f64"));
        write_f64(&path, &xs)?;
        let reference = match &py {
            Some(py) => {
                let o = Command::new(py)
                    .env(
                        "DSM_BENCH_ONLY",
                        if args.python_overhead { "python" } else { "" },
                    )
                    .arg(&script)
                    .args([
                        name,
                        path.to_str().unwrap(),
                        &n.to_string(),
                        &d.to_string(),
                        &repeats.to_string(),
                    ])
                    .output()?;
                if !o.status.success() {
                    bail!(
                        "{name}: python failed: {}",
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
                // Say once which references are missing (the script names them on stderr).
                if n == ksd_sizes[0] && name == "ksd_v_imq" {
                    for line in String::from_utf8_lossy(&o.stderr).lines() {
                        eprintln!("{line}");
                    }
                }
                serde_json::from_slice::<ReferenceOutput>(&o.stdout)
                    .with_context(|| format!("{name}: reading the references' output"))?
            }
            None => ReferenceOutput::default(),
        };
        let _ = std::fs::remove_file(&path);
        Ok(WorkloadRow::new(
            name,
            (n, d),
            (dsm_s, value),
            &reference,
            REL_TOLERANCE,
        ))
    };
    let run = |name: &str,
               n: usize,
               f: &dyn Fn(&dsm_core::Samples) -> dsm_core::Result<f64>|
     -> Result<WorkloadRow> { run_data(name, (n, d), normal_data, f) };
    if args.python_overhead {
        // The issue's targets: the bindings within 5% of the Rust call at n = 10⁴, d = 10.
        for name in ["ksd_v_imq", "ksd_test_imq"] {
            let row = run(name, 10_000, &|xs| match name {
                "ksd_v_imq" => ksd_v_imq(xs, Par::rayon(0)),
                _ => ksd_test_imq(xs, Par::rayon(0)),
            })?;
            let Some(py_s) = row.python_s else {
                bail!("the Python bindings are not installed in the venv (run with --setup)");
            };
            println!(
                "{name} n = 10000, d = 10: Rust {:.4} s, Python {py_s:.4} s, overhead {:+.1}%, rel. diff {:.1e}",
                row.dsm_s,
                100.0 * (py_s / row.dsm_s - 1.0),
                row.python_rel_diff.unwrap_or(f64::NAN)
            );
            if row.verdict == dsm_bench::Verdict::Disagrees {
                bail!("{name}: the bindings' value differs from Rust's");
            }
        }
        return Ok(());
    }
    // The paper's main path: DSM and DKSD with the Gaussian flow's diffusion, on Student-t
    // data, with the one-thread time beside (the parallel speed-up).
    let flow_rows: Vec<(&str, usize, usize)> = if args.quick {
        vec![
            ("dsm_gaussian_flow", 10_000, 1),
            ("dsm_gaussian_flow", 10_000, 10),
            ("dksd_gaussian_flow", 1000, 2),
        ]
    } else {
        vec![
            ("dsm_gaussian_flow", 100_000, 1),
            ("dsm_gaussian_flow", 1_000_000, 1),
            ("dsm_gaussian_flow", 100_000, 10),
            ("dksd_gaussian_flow", 10_000, 2),
        ]
    };
    for (name, n, dim) in flow_rows {
        let f = |xs: &dsm_core::Samples, par: Par| match name {
            "dsm_gaussian_flow" => dsm_gaussian_flow(xs, par),
            _ => dksd_gaussian_flow(xs, par),
        };
        let row = run_data(name, (n, dim), student_t_data, &|xs| f(xs, Par::rayon(0)))?;
        let xs = student_t_data(n, dim, 42)?;
        let seq = median_seconds(repeats, || {
            std::hint::black_box(f(&xs, Par::Seq).unwrap());
        });
        let row = row
            .with_tolerance(Peer::Jax, JAX_FLOW_TOLERANCE)
            .with_sequential(seq);
        eprintln!(
            "{name} n = {n}, d = {dim}: dsm {:.4} s (one thread {seq:.4} s)",
            row.dsm_s
        );
        workloads.push(row);
    }
    // Fitting (dsm-fit): one objective-and-gradient evaluation against the objective alone,
    // and the fit of the Student-t location from 20σ beside JAX's (jax.value_and_grad with
    // scipy's L-BFGS-B on the same objective).
    let fit_n = if args.quick { 10_000 } else { 100_000 };
    let xs_fit = student_t_data(fit_n, 1, 42)?;
    let time = |f: &dyn Fn() -> dsm_core::Result<f64>| -> Result<f64> {
        f()?;
        Ok(median_seconds(repeats, || {
            std::hint::black_box(f().unwrap());
        }))
    };
    let fit = fit_dsm_gaussian_flow(&xs_fit, Par::rayon(0))?;
    let fitting = FittingCost {
        n: fit_n,
        sm_objective_s: time(&|| sm_student_t(&xs_fit, Par::rayon(0)))?,
        sm_objective_autodiff_s: time(&|| sm_student_t_autodiff(&xs_fit, Par::rayon(0)))?,
        sm_gradient_s: time(&|| sm_gradient_student_t(&xs_fit, Par::rayon(0)))?,
        dsm_objective_s: time(&|| dsm_gaussian_flow(&xs_fit, Par::rayon(0)))?,
        dsm_gradient_s: time(&|| dsm_gradient_gaussian_flow(&xs_fit, Par::rayon(0)))?,
        fit_evaluations: fit.evaluations,
        fit_theta: fit.theta[0],
    };
    drop(xs_fit);
    eprintln!("{}", fitting.markdown().trim());
    let row = run_data("fit_dsm_gaussian_flow", (fit_n, 1), student_t_data, &|xs| {
        Ok(fit_dsm_gaussian_flow(xs, Par::rayon(0))?.objective.value)
    })?
    .with_tolerance(Peer::Jax, JAX_FLOW_TOLERANCE);
    eprintln!("fit_dsm_gaussian_flow n = {fit_n}: dsm {:.4} s", row.dsm_s);
    workloads.push(row);
    for &n in ksd_sizes {
        let row = run("ksd_v_imq", n, &|xs| ksd_v_imq(xs, Par::rayon(0)))?;
        eprintln!("ksd_v_imq n = {n}: dsm {:.4} s", row.dsm_s);
        workloads.push(row);
    }
    // The wild-bootstrap test against numpy's batched form (Gram matrix in row blocks, then
    // all replicates in one product W·H), and its matrix-product floor.
    let test_n = if args.quick { 2000 } else { 10_000 };
    let row = run("ksd_test_imq", test_n, &|xs| {
        ksd_test_imq(xs, Par::rayon(0))
    })?;
    eprintln!("ksd_test_imq n = {test_n}: dsm {:.4} s", row.dsm_s);
    let test_s = row.dsm_s;
    workloads.push(row);
    // Stein thinning against the reference package stein_thinning (same selection).
    let thin_n = if args.quick { 10_000 } else { 100_000 };
    let row = run("stein_thin", thin_n, &|xs| stein_thin(xs, Par::rayon(0)))?;
    eprintln!("stein_thin n = {thin_n}, m = 100: dsm {:.4} s", row.dsm_s);
    workloads.push(row);
    let linear_n = if args.quick { 100_000 } else { 1_000_000 };
    let xs_linear = normal_data(linear_n, d, 42)?;
    let linear_s = median_seconds(repeats.min(3), || {
        std::hint::black_box(ksd_linear_test(&xs_linear, Par::rayon(0)).unwrap());
    });
    drop(xs_linear);
    eprintln!("linear-time test n = {linear_n}: dsm {linear_s:.4} s");
    let xs_sm = normal_data(sm_n, d, 42)?;
    let sm_seq = median_seconds(repeats, || {
        std::hint::black_box(sm_gaussian(&xs_sm, Par::Seq).unwrap());
    });
    drop(xs_sm);
    let row =
        run("sm_gaussian", sm_n, &|xs| sm_gaussian(xs, Par::rayon(0)))?.with_sequential(sm_seq);
    eprintln!("sm_gaussian n = {sm_n}: dsm {:.4} s", row.dsm_s);
    let sm_read_floor = read_floor_seconds(&normal_data(sm_n, d, 7)?);
    workloads.push(row);

    // Parallel speed-up and flop rate on the largest KSD workload.
    let n = *ksd_sizes.last().unwrap();
    let xs = normal_data(n, d, 42)?;
    let seq = median_seconds(repeats, || {
        std::hint::black_box(ksd_v_imq(&xs, Par::Seq).unwrap());
    });
    let par = median_seconds(repeats, || {
        std::hint::black_box(ksd_v_imq(&xs, Par::rayon(0)).unwrap());
    });
    let loop_peak = fma_peak_gflops();
    let gemm_peak = gemm_peak_gflops();
    let tests = TestCost {
        n: test_n,
        replicates: 1000,
        dsm_s: test_s,
        floor_s: (test_n as f64).powi(2) * 1000.0 / 2.0 * 2.0 / (gemm_peak * 1e9 * threads as f64),
        linear_n,
        linear_s,
    };
    let peak = loop_peak.max(gemm_peak);
    let pairs = (n * (n - 1) / 2 + n) as f64;
    let achieved = pairs * ksd_flops_per_pair(d) / par / 1e9;
    let fraction = achieved / (peak * threads as f64);
    // The floor of the KSD: its matrix products (8d flops per pair) at the GEMM peak, plus one
    // division and one square root per pair at the divider's measured rate, on all threads.
    let divider_ns = sqrt_div_ns_per_element();
    let floor_s = pairs * (8.0 * d as f64 / (gemm_peak * 1e9) + divider_ns * 1e-9) / threads as f64;
    let child_rss = |n: usize| -> Result<Option<f64>> {
        let o = Command::new(std::env::current_exe()?)
            .args(["--child-n", &n.to_string()])
            .output()?;
        let report: Option<ChildReport> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| serde_json::from_str(l).ok());
        Ok(report.and_then(|r| r.peak_rss_mb))
    };
    let rss = if args.with_1e6 {
        child_rss(1_000_000)?
    } else {
        None
    };
    let rss_small = match args.rss_n {
        Some(n) => Some((n, child_rss(n)?)),
        None => None,
    };
    let summary = CompareSummary {
        machine: Machine::this(),
        repeats,
        d,
        workloads,
        ksd_1e6_peak_rss_mb: rss,
        ksd_peak_rss_at_n: rss_small.map(|(n, peak_rss_mb)| RssAtN {
            n,
            d: 10,
            peak_rss_mb,
        }),
        ksd_n: n,
        sm_n,
        parallel_speedup: seq / par,
        flops_fraction_of_peak: fraction,
        peak_gflops_per_core: peak,
        muladd_loop_gflops_per_core: loop_peak,
        gemm_gflops_per_core: gemm_peak,
        ksd_achieved_gflops: achieved,
        sqrt_div_ns_per_element: divider_ns,
        sm_read_floor_s: sm_read_floor,
        ksd_floor_s: floor_s,
        ksd_time_over_floor: par / floor_s,
        ksd_sequential_s: seq,
        ksd_parallel_s: par,
        fitting: Some(fitting),
        tests: Some(tests),
        quick: args.quick,
    };
    std::fs::write(
        out.join("compare.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    let md = summary.markdown();
    std::fs::write(out.join("compare.md"), &md)?;
    println!("{md}");
    let bad = summary.disagreements();
    if !bad.is_empty() {
        let lines: Vec<String> = bad.iter().map(|w| w.disagreement()).collect();
        bail!(
            "values disagree with the references beyond {REL_TOLERANCE:e} (relative): {}",
            lines.join("; ")
        );
    }
    Ok(())
}
