//! `bench-compare`: dsm against numpy (and JAX when installed) on identical seeded data.
//! Run through `cargo xtask bench-compare [--quick] [--setup]`, which builds it in release.
//!
//! Writes `target/bench/compare.json` and `target/bench/compare.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Parser;
use dsm_bench::{
    fma_peak_gflops, gemm_peak_gflops, ksd_flops_per_pair, ksd_v_imq, median_seconds, normal_data,
    peak_rss_mb, read_floor_seconds, sm_gaussian, sqrt_div_ns_per_element, write_f64,
};
use dsm_core::Par;
use serde_json::{Value, json};

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
    /// Internal: run the SM workload at this n (d = 10) 50 times, for profiling.
    #[arg(long, hide = true)]
    profile_sm: Option<usize>,
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
    let jax = Command::new(&pip)
        .args(["install", "-q", "-r"])
        .arg(dir.join("requirements-jax.txt"))
        .status()?;
    if !jax.success() {
        eprintln!("JAX could not be installed; the JAX column will be empty");
    }
    Ok(())
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim();
    json!({
        "cpu": model,
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "os": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
    })
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
        let v = ksd_v_imq(&xs, Par::rayon(0))?;
        println!("{} {}", peak_rss_mb().unwrap_or(f64::NAN), v);
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
    let mut rows = Vec::new();
    let run = |name: &str,
               n: usize,
               f: &dyn Fn(&dsm_core::Samples) -> dsm_core::Result<f64>|
     -> Result<(Value, f64, f64)> {
        let xs = normal_data(n, d, 42)?;
        let value = f(&xs)?;
        let dsm_s = median_seconds(repeats, || {
            std::hint::black_box(f(&xs).unwrap());
        });
        let path = out.join(format!("{name}_{n}.f64"));
        write_f64(&path, &xs)?;
        let reference = match &py {
            Some(py) => {
                let o = Command::new(py)
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
                serde_json::from_slice::<Value>(&o.stdout)?
            }
            None => json!({}),
        };
        let _ = std::fs::remove_file(&path);
        let rel = |k: &str| {
            reference
                .get(k)
                .and_then(Value::as_f64)
                .map(|r| (r - value).abs() / value.abs().max(1e-300))
        };
        let max_rel = [rel("numpy_value"), rel("jax_value"), rel("torch_value")]
            .into_iter()
            .flatten()
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let row = json!({
            "name": name, "n": n, "d": d, "dsm_s": dsm_s,
            "numpy_s": reference.get("numpy_s").cloned().unwrap_or(Value::Null),
            "jax_s": reference.get("jax_s").cloned().unwrap_or(Value::Null),
            "torch_s": reference.get("torch_s").cloned().unwrap_or(Value::Null),
            "max_rel_diff": max_rel,
            "dsm_value": value,
        });
        Ok((row, dsm_s, value))
    };
    for &n in ksd_sizes {
        let (row, t, _) = run("ksd_v_imq", n, &|xs| ksd_v_imq(xs, Par::rayon(0)))?;
        eprintln!("ksd_v_imq n = {n}: dsm {t:.4} s");
        rows.push((row.clone(), n));
        workloads.push(row);
    }
    let (row, t, _) = run("sm_gaussian", sm_n, &|xs| sm_gaussian(xs, Par::rayon(0)))?;
    eprintln!("sm_gaussian n = {sm_n}: dsm {t:.4} s");
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
        Ok(String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok()))
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
    let summary = json!({
        "machine": machine(),
        "workloads": workloads,
        "ksd_1e6_peak_rss_mb": rss,
        "ksd_peak_rss_at_n": rss_small.map(|(n, mb)| json!({ "n": n, "d": 10, "peak_rss_mb": mb })),
        "parallel_speedup": seq / par,
        "flops_fraction_of_peak": fraction,
        "peak_gflops_per_core": peak,
        "muladd_loop_gflops_per_core": loop_peak,
        "gemm_gflops_per_core": gemm_peak,
        "ksd_achieved_gflops": achieved,
        "sqrt_div_ns_per_element": divider_ns,
        "sm_read_floor_s": sm_read_floor,
        "ksd_floor_s": floor_s,
        "ksd_time_over_floor": par / floor_s,
        "ksd_sequential_s": seq,
        "ksd_parallel_s": par,
        "quick": args.quick,
    });
    std::fs::write(
        out.join("compare.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;

    let mut md = String::from("# dsm against numpy, JAX and PyTorch\n\n");
    md += &format!(
        "Machine: {} ({} threads). Medians of {repeats} runs after a warm-up; identical seeded data; float64.\n\n",
        summary["machine"]["cpu"], threads
    );
    md += "| workload | n | d | dsm (s) | numpy (s) | JAX (s) | PyTorch (s) | fastest reference / dsm | max rel. diff |\n|---|---|---|---|---|---|---|---|---|\n";
    for w in &summary["workloads"].as_array().cloned().unwrap_or_default() {
        let f = |k: &str| w[k].as_f64();
        let best = [f("numpy_s"), f("jax_s"), f("torch_s")]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        let show = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
        md += &format!(
            "| {} | {} | {} | {:.4} | {} | {} | {} | {} | {} |\n",
            w["name"].as_str().unwrap_or(""),
            w["n"],
            w["d"],
            f("dsm_s").unwrap_or(f64::NAN),
            show(f("numpy_s")),
            show(f("jax_s")),
            show(f("torch_s")),
            if best.is_finite() {
                format!("{:.1}×", best / f("dsm_s").unwrap_or(f64::NAN))
            } else {
                "–".into()
            },
            w["max_rel_diff"]
                .as_f64()
                .map_or("–".into(), |v| format!("{v:.1e}")),
        );
    }
    md += &format!(
        "\nKSD n = {n}, d = {d}: sequential {seq:.3} s, parallel {par:.3} s, speed-up {:.2} on {threads} threads; \
         {achieved:.2} GFLOP/s ({:.0} flops per pair) against a measured peak of {peak:.2} GFLOP/s per core \
         (the larger of a mul-add loop, {loop_peak:.2}, and a 768³ faer matrix product, {gemm_peak:.2}): {:.0}% of {threads}-core peak.\n",
        seq / par,
        ksd_flops_per_pair(d),
        100.0 * fraction
    );
    md += &format!(
        "Floor counting the divider: the products at the GEMM peak plus one division and one square root per pair \
         ({divider_ns:.2} ns per element, vectorised) = {floor_s:.3} s on {threads} threads; dsm takes {:.2}× that.\n",
        par / floor_s
    );
    md += &format!(
        "SM n = {sm_n}, d = {d}: reading the samples once on {threads} threads takes {sm_read_floor:.4} s (the memory floor).\n"
    );
    md += &format!(
        "\nPeak RSS of the KSD statistic at n = 1e6, d = 10: {}.\n",
        rss.map_or("not measured (run with --with-1e6)".into(), |v| format!(
            "{v:.0} MB"
        ))
    );
    if let Some((n, mb)) = rss_small {
        let mb = mb.map_or("unknown".to_string(), |v| format!("{v:.1} MB"));
        md += &format!("Peak RSS of the KSD statistic at n = {n}, d = 10: {mb}.\n");
    }
    std::fs::write(out.join("compare.md"), &md)?;
    println!("{md}");
    let bad: Vec<_> = rows
        .iter()
        .filter(|(r, _)| r["max_rel_diff"].as_f64().is_some_and(|v| v > 1e-10))
        .collect();
    if !bad.is_empty() {
        bail!("values disagree with the references beyond 1e-10");
    }
    Ok(())
}
