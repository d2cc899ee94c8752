//! Typed rows of the comparison harness (`bench-compare`): what the Python references print,
//! dsm's value checked against each peer's on the identical data, and `compare.json` /
//! `compare.md`.
//!
//! Every row written or read is a serde struct. Each workload row carries one [`Agreement`]
//! per peer that ran: the relative difference of the two values,
//!
//! ```text
//! rel = |peer − dsm| / max(|dsm|, 1e-300),   agrees ⇔ rel ≤ tolerance
//! ```
//!
//! and a [`Verdict`] for the row; the harness fails when any row [`Verdict::Disagrees`].

use serde::{Deserialize, Serialize};

/// Relative tolerance within which dsm's value must agree with every peer's (float64, same
/// data, same formula; the measured differences are about 1e-15).
pub const REL_TOLERANCE: f64 = 1e-10;

/// A Python reference implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    /// numpy.
    Numpy,
    /// JAX (jit, x64).
    Jax,
    /// PyTorch (CPU).
    Torch,
}

impl Peer {
    /// Every peer, in the column order of `compare.md`.
    pub const ALL: [Self; 3] = [Self::Numpy, Self::Jax, Self::Torch];

    /// Name in `compare.md`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Numpy => "numpy",
            Self::Jax => "JAX",
            Self::Torch => "PyTorch",
        }
    }
}

/// One line of `compare.py` output: seconds and value per reference, `null` where the
/// reference is not installed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReferenceOutput {
    /// numpy's median seconds.
    pub numpy_s: Option<f64>,
    /// numpy's value.
    pub numpy_value: Option<f64>,
    /// JAX's median seconds.
    pub jax_s: Option<f64>,
    /// JAX's value.
    pub jax_value: Option<f64>,
    /// PyTorch's median seconds.
    pub torch_s: Option<f64>,
    /// PyTorch's value.
    pub torch_value: Option<f64>,
    /// dsm's own Python bindings: median seconds (not a peer: the overhead of the bindings).
    #[serde(default)]
    pub python_s: Option<f64>,
    /// The bindings' value (must equal dsm's).
    #[serde(default)]
    pub python_value: Option<f64>,
}

/// The bindings must return the Rust value; only the thread pools' warm state and the
/// argument handling differ.
pub const PYTHON_TOLERANCE: f64 = 1e-12;

impl ReferenceOutput {
    /// The (seconds, value) of `peer`.
    pub fn of(&self, peer: Peer) -> (Option<f64>, Option<f64>) {
        match peer {
            Peer::Numpy => (self.numpy_s, self.numpy_value),
            Peer::Jax => (self.jax_s, self.jax_value),
            Peer::Torch => (self.torch_s, self.torch_value),
        }
    }
}

/// dsm's value against one peer's, on the identical data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// The peer.
    pub peer: Peer,
    /// The peer's value.
    pub peer_value: f64,
    /// |peer − dsm| / max(|dsm|, 1e-300).
    pub rel_diff: f64,
    /// The tolerance it is held to.
    pub tolerance: f64,
    /// `rel_diff ≤ tolerance` (false for a non-finite difference).
    pub agrees: bool,
}

impl Agreement {
    /// Compares `peer_value` with `dsm_value` within the relative `tolerance`.
    pub fn check(peer: Peer, dsm_value: f64, peer_value: f64, tolerance: f64) -> Self {
        let rel_diff = (peer_value - dsm_value).abs() / dsm_value.abs().max(1e-300);
        Self {
            peer,
            peer_value,
            rel_diff,
            tolerance,
            agrees: rel_diff <= tolerance,
        }
    }
}

/// Whether a row's value agrees with every peer that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every peer agrees within the tolerance.
    Agrees,
    /// At least one peer disagrees (or gave a non-finite value).
    Disagrees,
    /// No peer ran (no Python with numpy): nothing to compare.
    NoReference,
}

impl Verdict {
    /// The verdict of a row's agreements.
    pub fn of(agreements: &[Agreement]) -> Self {
        if agreements.is_empty() {
            Self::NoReference
        } else if agreements.iter().all(|a| a.agrees) {
            Self::Agrees
        } else {
            Self::Disagrees
        }
    }
}

/// One workload of `compare.json`: dsm's time and value, each peer's time, and the agreement
/// of the values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadRow {
    /// Workload name (`ksd_v_imq`, `sm_gaussian`; the argument of `compare.py`).
    pub name: String,
    /// Number of samples.
    pub n: usize,
    /// Dimension.
    pub d: usize,
    /// dsm's median seconds.
    pub dsm_s: f64,
    /// dsm's value.
    pub dsm_value: f64,
    /// numpy's median seconds.
    pub numpy_s: Option<f64>,
    /// JAX's median seconds.
    pub jax_s: Option<f64>,
    /// PyTorch's median seconds.
    pub torch_s: Option<f64>,
    /// dsm's median seconds on one thread, where measured.
    #[serde(default)]
    pub dsm_sequential_s: Option<f64>,
    /// The same call through dsm's Python bindings: median seconds, where installed.
    #[serde(default)]
    pub python_s: Option<f64>,
    /// Relative difference of the bindings' value from dsm's (beyond [`PYTHON_TOLERANCE`]
    /// the row disagrees).
    #[serde(default)]
    pub python_rel_diff: Option<f64>,
    /// Largest relative difference over the peers that ran.
    pub max_rel_diff: Option<f64>,
    /// The tolerance numpy and PyTorch are held to (each [`Agreement`] carries its own: JAX's
    /// may be looser where its special functions are less accurate, [`WorkloadRow::with_tolerance`]).
    pub tolerance: f64,
    /// One entry per peer that ran.
    pub agreements: Vec<Agreement>,
    /// Whether every peer agrees.
    pub verdict: Verdict,
}

impl WorkloadRow {
    /// The row of a workload: dsm's time and value against the references' output.
    pub fn new(
        name: &str,
        (n, d): (usize, usize),
        (dsm_s, dsm_value): (f64, f64),
        reference: &ReferenceOutput,
        tolerance: f64,
    ) -> Self {
        let agreements: Vec<Agreement> = Peer::ALL
            .into_iter()
            .filter_map(|p| {
                let (_, value) = reference.of(p);
                value.map(|v| Agreement::check(p, dsm_value, v, tolerance))
            })
            .collect();
        let max_rel_diff = agreements
            .iter()
            .map(|a| a.rel_diff)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let python_rel_diff = reference
            .python_value
            .map(|v| (v - dsm_value).abs() / dsm_value.abs().max(f64::MIN_POSITIVE));
        let mut verdict = Verdict::of(&agreements);
        if python_rel_diff.is_some_and(|r| !(r <= PYTHON_TOLERANCE)) {
            verdict = Verdict::Disagrees;
        }
        Self {
            name: name.into(),
            n,
            d,
            dsm_s,
            dsm_value,
            numpy_s: reference.numpy_s,
            jax_s: reference.jax_s,
            torch_s: reference.torch_s,
            dsm_sequential_s: None,
            python_s: reference.python_s,
            python_rel_diff,
            max_rel_diff,
            tolerance,
            verdict,
            agreements,
        }
    }

    /// Holds `peer` to another tolerance (JAX's float64 `betainc` on the flow workloads,
    /// whose accuracy is the bound there, not dsm's), and recomputes the verdict.
    pub fn with_tolerance(mut self, peer: Peer, tolerance: f64) -> Self {
        for a in self.agreements.iter_mut().filter(|a| a.peer == peer) {
            *a = Agreement::check(peer, self.dsm_value, a.peer_value, tolerance);
        }
        self.verdict = Verdict::of(&self.agreements);
        if self
            .python_rel_diff
            .is_some_and(|r| !(r <= PYTHON_TOLERANCE))
        {
            self.verdict = Verdict::Disagrees;
        }
        self
    }

    /// Records dsm's one-thread time (for the parallel speed-up).
    pub fn with_sequential(mut self, seconds: f64) -> Self {
        self.dsm_sequential_s = Some(seconds);
        self
    }

    /// The peer's median seconds.
    pub fn seconds(&self, peer: Peer) -> Option<f64> {
        match peer {
            Peer::Numpy => self.numpy_s,
            Peer::Jax => self.jax_s,
            Peer::Torch => self.torch_s,
        }
    }

    /// One line for a failure message: the workload and each disagreeing peer.
    pub fn disagreement(&self) -> String {
        let peers: Vec<String> = self
            .agreements
            .iter()
            .filter(|a| !a.agrees)
            .map(|a| format!("{} rel. diff {:.1e}", a.peer.label(), a.rel_diff))
            .collect();
        format!(
            "{} n = {}, d = {}: {}",
            self.name,
            self.n,
            self.d,
            peers.join(", ")
        )
    }
}

/// The machine of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Available threads.
    pub threads: usize,
    /// Operating system.
    pub os: String,
    /// Architecture.
    pub arch: String,
}

impl Machine {
    /// This machine (`/proc/cpuinfo` for the model name).
    pub fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("unknown")
            .trim();
        Self {
            cpu: model.into(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
        }
    }
}

/// The peak resident set of the KSD statistic at one n.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RssAtN {
    /// Number of samples.
    pub n: usize,
    /// Dimension.
    pub d: usize,
    /// Peak RSS in MB, if the child reported it.
    pub peak_rss_mb: Option<f64>,
}

/// What the `--child-n` child prints (one JSON line): its peak RSS and the KSD value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildReport {
    /// Peak RSS in MB, if known.
    pub peak_rss_mb: Option<f64>,
    /// The KSD value it computed.
    pub value: f64,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSummary {
    /// The machine.
    pub machine: Machine,
    /// Repeats behind each median.
    pub repeats: usize,
    /// Dimension of every workload.
    pub d: usize,
    /// Every workload row.
    pub workloads: Vec<WorkloadRow>,
    /// Peak RSS of the KSD at n = 1e6 (with `--with-1e6`).
    pub ksd_1e6_peak_rss_mb: Option<f64>,
    /// Peak RSS of the KSD at `--rss-n`.
    pub ksd_peak_rss_at_n: Option<RssAtN>,
    /// n of the speed-up and flop-rate measurement (the largest KSD workload).
    pub ksd_n: usize,
    /// n of the SM workload.
    pub sm_n: usize,
    /// Sequential over parallel time of the KSD.
    pub parallel_speedup: f64,
    /// Achieved rate over the peak of all threads.
    pub flops_fraction_of_peak: f64,
    /// The larger of the two measured peaks per core.
    pub peak_gflops_per_core: f64,
    /// Peak of a mul-add loop.
    pub muladd_loop_gflops_per_core: f64,
    /// Peak of a faer matrix product.
    pub gemm_gflops_per_core: f64,
    /// Achieved GFLOP/s of the parallel KSD.
    pub ksd_achieved_gflops: f64,
    /// Measured divider time per element.
    pub sqrt_div_ns_per_element: f64,
    /// Time to read the SM samples once.
    pub sm_read_floor_s: f64,
    /// Floor of the KSD counting the divider.
    pub ksd_floor_s: f64,
    /// Parallel KSD time over its floor.
    pub ksd_time_over_floor: f64,
    /// Sequential KSD seconds.
    pub ksd_sequential_s: f64,
    /// Parallel KSD seconds.
    pub ksd_parallel_s: f64,
    /// The cost of fitting (dsm-fit) on 1-D Student-t data.
    pub fitting: Option<FittingCost>,
    /// The goodness-of-fit tests against their matrix-product floor.
    #[serde(default)]
    pub tests: Option<TestCost>,
    /// Whether `--quick` was given.
    pub quick: bool,
}

/// What fitting costs (dsm-fit), on n draws of St(0, 1, 10) with the model St(μ, 1, 10):
/// one objective-and-gradient evaluation against the objective alone (the issue's target:
/// at most 2×), and a whole fit of μ from 20σ by DSM with the Gaussian flow moving with μ
/// (target: at most 30 evaluations). The JAX fit is the `fit_dsm_gaussian_flow` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittingCost {
    /// Number of samples.
    pub n: usize,
    /// SM loss alone (dsm-core), seconds.
    pub sm_objective_s: f64,
    /// SM loss of the same model through `ParametricModel::at` (dual numbers), seconds.
    pub sm_objective_autodiff_s: f64,
    /// SM loss and its exact μ-gradient (dsm-fit), seconds.
    pub sm_gradient_s: f64,
    /// DSM loss with the Gaussian flow alone (dsm-core), seconds.
    pub dsm_objective_s: f64,
    /// DSM loss with the Gaussian flow moving with μ and its exact total gradient, seconds.
    pub dsm_gradient_s: f64,
    /// Objective-and-gradient evaluations of the fit from 20σ.
    pub fit_evaluations: usize,
    /// The fitted μ.
    pub fit_theta: f64,
}

/// What the goodness-of-fit tests cost: the wild-bootstrap `KsdTest` against its floor (the
/// n²B/2 multiply-adds of the upper triangle's products at the measured GEMM rate on all
/// threads), and the linear-time test at its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCost {
    /// n of the bootstrap test (d = 10).
    pub n: usize,
    /// Replicates B.
    pub replicates: usize,
    /// The test's seconds (statistic, replicates, p-value).
    pub dsm_s: f64,
    /// n²B/2 multiply-adds at the GEMM peak on all threads, seconds.
    pub floor_s: f64,
    /// n of the linear-time test (d = 10, L = 10, B = 1000).
    pub linear_n: usize,
    /// Its seconds.
    pub linear_s: f64,
}

impl TestCost {
    /// The markdown paragraph of the summary.
    pub fn markdown(&self) -> String {
        format!(
            "\nKsdTest (IMQ, V-statistic, Rademacher), n = {}, d = 10, B = {}: {:.3} s against the floor of its \
             n²B/2 multiply-adds at the GEMM peak, {:.3} s: {:.2}× the floor (target ≤ 1.5×). The linear-time test \
             at n = {}, d = 10, L = 10, B = 1000: {:.3} s (target < 10 s at n = 10⁶).\n",
            self.n,
            self.replicates,
            self.dsm_s,
            self.floor_s,
            self.dsm_s / self.floor_s,
            self.linear_n,
            self.linear_s
        )
    }
}

impl FittingCost {
    /// The markdown paragraph of the summary.
    pub fn markdown(&self) -> String {
        format!(
            "\nFitting, n = {} (1-D Student-t): SM objective {:.4} s (closed-form model; {:.4} s through the \
             parametric model's dual numbers), with its exact gradient {:.4} s ({:.2}× the closed form, {:.2}× the \
             same model); DSM with the Gaussian flow {:.4} s, with the total gradient through the moving flow \
             {:.4} s ({:.2}×) (target ≤ 2×). The fit of μ from 20σ took {} evaluations (target ≤ 30), \
             μ̂ = {:.6}.\n",
            self.n,
            self.sm_objective_s,
            self.sm_objective_autodiff_s,
            self.sm_gradient_s,
            self.sm_gradient_s / self.sm_objective_s,
            self.sm_gradient_s / self.sm_objective_autodiff_s,
            self.dsm_objective_s,
            self.dsm_gradient_s,
            self.dsm_gradient_s / self.dsm_objective_s,
            self.fit_evaluations,
            self.fit_theta
        )
    }
}

impl CompareSummary {
    /// The rows whose values disagree with a peer's.
    pub fn disagreements(&self) -> Vec<&WorkloadRow> {
        self.workloads
            .iter()
            .filter(|w| w.verdict == Verdict::Disagrees)
            .collect()
    }

    /// The paragraph on the Python bindings: each call's time through Python against the
    /// Rust call on the same data, and the overhead (empty when they are not installed).
    pub fn python_markdown(&self) -> String {
        let rows: Vec<&WorkloadRow> = self
            .workloads
            .iter()
            .filter(|w| w.python_s.is_some())
            .collect();
        if rows.is_empty() {
            return String::new();
        }
        let mut md = String::from(
            "\ndsm from Python (the `diffusion_score_matching` bindings, same data and arguments; value equal to 1e-12):\n\n| workload | n | d | Rust (s) | Python (s) | overhead | rel. diff |\n|---|---|---|---|---|---|---|\n",
        );
        for w in rows {
            let py = w.python_s.unwrap_or(f64::NAN);
            md += &format!(
                "| {} | {} | {} | {:.4} | {:.4} | {:+.1}% | {} |\n",
                w.name,
                w.n,
                w.d,
                w.dsm_s,
                py,
                100.0 * (py / w.dsm_s - 1.0),
                w.python_rel_diff.map_or("–".into(), |v| format!("{v:.1e}")),
            );
        }
        md
    }

    /// `compare.md`.
    pub fn markdown(&self) -> String {
        let (threads, repeats, d) = (self.machine.threads, self.repeats, self.d);
        let mut md = String::from("# dsm against numpy, JAX and PyTorch\n\n");
        md += &format!(
            "Machine: {:?} ({threads} threads). Medians of {repeats} runs after a warm-up; identical seeded data; float64.\n\n",
            self.machine.cpu
        );
        md += "| workload | n | d | dsm (s) | numpy (s) | JAX (s) | PyTorch (s) | numpy / dsm | JAX / dsm | fastest reference / dsm | dsm speed-up (1 → all threads) | max rel. diff | agrees (tolerance) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
        let show = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
        let ratio =
            |v: Option<f64>, dsm: f64| v.map_or("–".to_string(), |v| format!("{:.1}×", v / dsm));
        for w in &self.workloads {
            let best = Peer::ALL
                .into_iter()
                .filter_map(|p| w.seconds(p))
                .fold(f64::INFINITY, f64::min);
            let tolerances: Vec<String> = w
                .agreements
                .iter()
                .map(|a| format!("{} {:.0e}", a.peer.label(), a.tolerance))
                .collect();
            md += &format!(
                "| {} | {} | {} | {:.4} | {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) |\n",
                w.name,
                w.n,
                w.d,
                w.dsm_s,
                show(w.numpy_s),
                show(w.jax_s),
                show(w.torch_s),
                ratio(w.numpy_s, w.dsm_s),
                ratio(w.jax_s, w.dsm_s),
                if best.is_finite() {
                    format!("{:.1}×", best / w.dsm_s)
                } else {
                    "–".into()
                },
                w.dsm_sequential_s
                    .map_or("–".into(), |s| format!("{:.2}", s / w.dsm_s)),
                w.max_rel_diff.map_or("–".into(), |v| format!("{v:.1e}")),
                match w.verdict {
                    Verdict::Agrees => "yes",
                    Verdict::Disagrees => "**NO**",
                    Verdict::NoReference => "–",
                },
                if tolerances.is_empty() {
                    "–".into()
                } else {
                    tolerances.join(", ")
                },
            );
        }
        md += &self.python_markdown();
        let (n, seq, par) = (self.ksd_n, self.ksd_sequential_s, self.ksd_parallel_s);
        md += &format!(
            "\nKSD n = {n}, d = {d}: sequential {seq:.3} s, parallel {par:.3} s, speed-up {:.2} on {threads} threads; \
             {:.2} GFLOP/s ({:.0} flops per pair) against a measured peak of {:.2} GFLOP/s per core \
             (the larger of a mul-add loop, {:.2}, and a 768³ faer matrix product, {:.2}): {:.0}% of {threads}-core peak.\n",
            self.parallel_speedup,
            self.ksd_achieved_gflops,
            crate::ksd_flops_per_pair(d),
            self.peak_gflops_per_core,
            self.muladd_loop_gflops_per_core,
            self.gemm_gflops_per_core,
            100.0 * self.flops_fraction_of_peak
        );
        md += &format!(
            "Floor counting the divider: the products at the GEMM peak plus one division and one square root per pair \
             ({:.2} ns per element, vectorised) = {:.3} s on {threads} threads; dsm takes {:.2}× that.\n",
            self.sqrt_div_ns_per_element, self.ksd_floor_s, self.ksd_time_over_floor
        );
        md += &format!(
            "SM n = {}, d = {d}: reading the samples once on {threads} threads takes {:.4} s (the memory floor).\n",
            self.sm_n, self.sm_read_floor_s
        );
        if let Some(f) = &self.fitting {
            md += &f.markdown();
        }
        if let Some(t) = &self.tests {
            md += &t.markdown();
        }
        md += &format!(
            "\nPeak RSS of the KSD statistic at n = 1e6, d = 10: {}.\n",
            self.ksd_1e6_peak_rss_mb
                .map_or("not measured (run with --with-1e6)".into(), |v| format!(
                    "{v:.0} MB"
                ))
        );
        if let Some(r) = &self.ksd_peak_rss_at_n {
            let mb = r
                .peak_rss_mb
                .map_or("unknown".to_string(), |v| format!("{v:.1} MB"));
            md += &format!(
                "Peak RSS of the KSD statistic at n = {}, d = {}: {mb}.\n",
                r.n, r.d
            );
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(numpy: f64, jax: Option<f64>) -> ReferenceOutput {
        ReferenceOutput {
            numpy_s: Some(0.5),
            numpy_value: Some(numpy),
            jax_s: jax.map(|_| 0.25),
            jax_value: jax,
            torch_s: None,
            torch_value: None,
            python_s: None,
            python_value: None,
        }
    }

    #[test]
    fn a_python_binding_value_that_differs_from_rust_is_a_disagreement() {
        let mut r = reference(2.0, None);
        r.python_s = Some(0.6);
        r.python_value = Some(2.0);
        let row = WorkloadRow::new("w", (10, 2), (0.5, 2.0), &r, 1e-10);
        assert_eq!(row.verdict, Verdict::Agrees);
        assert_eq!(row.python_rel_diff, Some(0.0));
        r.python_value = Some(2.0 * (1.0 + 1e-9));
        let row = WorkloadRow::new("w", (10, 2), (0.5, 2.0), &r, 1e-10);
        assert_eq!(row.verdict, Verdict::Disagrees);
        r.python_value = Some(f64::NAN);
        let row = WorkloadRow::new("w", (10, 2), (0.5, 2.0), &r, 1e-10);
        assert_eq!(row.verdict, Verdict::Disagrees);
    }

    #[test]
    fn the_script_output_parses_with_missing_references() {
        let line = r#"{"numpy_s": 0.1, "numpy_value": 2.5, "jax_s": null, "jax_value": null, "torch_s": null, "torch_value": null}"#;
        let r: ReferenceOutput = serde_json::from_str(line).unwrap();
        assert_eq!(r.of(Peer::Numpy), (Some(0.1), Some(2.5)));
        assert_eq!(r.of(Peer::Jax), (None, None));
    }

    #[test]
    fn a_row_agrees_within_the_tolerance() {
        let row = WorkloadRow::new(
            "ksd_v_imq",
            (1000, 10),
            (0.01, 1.0),
            &reference(1.0 + 1e-14, Some(1.0 - 1e-15)),
            REL_TOLERANCE,
        );
        assert_eq!(row.verdict, Verdict::Agrees);
        assert_eq!(row.agreements.len(), 2);
        assert!(row.max_rel_diff.unwrap() < 2e-14);
    }

    #[test]
    fn a_row_that_disagrees_is_flagged() {
        let row = WorkloadRow::new(
            "sm_gaussian",
            (100, 10),
            (0.01, -10.0),
            &reference(-10.0, Some(-10.0 * (1.0 + 1e-6))),
            REL_TOLERANCE,
        );
        assert_eq!(row.verdict, Verdict::Disagrees);
        assert!(row.agreements[0].agrees && !row.agreements[1].agrees);
        assert!(row.disagreement().contains("JAX rel. diff 1.0e-6"));
        // A NaN from a peer never agrees.
        let nan = WorkloadRow::new(
            "x",
            (1, 1),
            (0.0, 1.0),
            &reference(f64::NAN, None),
            REL_TOLERANCE,
        );
        assert_eq!(nan.verdict, Verdict::Disagrees);
    }

    #[test]
    fn a_peer_can_be_held_to_its_own_tolerance() {
        let row = WorkloadRow::new(
            "dsm_gaussian_flow",
            (100, 1),
            (0.01, 2.0),
            &reference(2.0, Some(2.0 * (1.0 + 1e-8))),
            REL_TOLERANCE,
        );
        assert_eq!(row.verdict, Verdict::Disagrees);
        let row = row.with_tolerance(Peer::Jax, 1e-6);
        assert_eq!(row.verdict, Verdict::Agrees);
        assert_eq!(row.agreements[1].tolerance, 1e-6);
        assert_eq!(row.agreements[0].tolerance, REL_TOLERANCE);
        let loose_numpy = WorkloadRow::new(
            "x",
            (1, 1),
            (0.0, 1.0),
            &reference(1.0 + 1e-8, Some(1.0)),
            REL_TOLERANCE,
        )
        .with_tolerance(Peer::Jax, 1e-6);
        assert_eq!(loose_numpy.verdict, Verdict::Disagrees);
    }

    #[test]
    fn a_row_without_references_is_unchecked() {
        let row = WorkloadRow::new(
            "ksd_v_imq",
            (1000, 10),
            (0.01, 1.0),
            &ReferenceOutput::default(),
            REL_TOLERANCE,
        );
        assert_eq!(row.verdict, Verdict::NoReference);
        assert_eq!(row.max_rel_diff, None);
    }

    #[test]
    fn the_summary_round_trips_and_reports_disagreements() {
        let good = WorkloadRow::new(
            "ksd_v_imq",
            (1000, 10),
            (0.01, 1.0),
            &reference(1.0, None),
            REL_TOLERANCE,
        );
        let bad = WorkloadRow::new(
            "sm_gaussian",
            (100, 10),
            (0.01, 1.0),
            &reference(1.25, None), // exact in binary: serde_json round-trips it
            REL_TOLERANCE,
        );
        let summary = CompareSummary {
            machine: Machine::this(),
            repeats: 3,
            d: 10,
            workloads: vec![good, bad],
            ksd_1e6_peak_rss_mb: None,
            ksd_peak_rss_at_n: Some(RssAtN {
                n: 5000,
                d: 10,
                peak_rss_mb: Some(12.5),
            }),
            ksd_n: 1000,
            sm_n: 100,
            parallel_speedup: 1.8,
            flops_fraction_of_peak: 0.3,
            peak_gflops_per_core: 80.0,
            muladd_loop_gflops_per_core: 10.0,
            gemm_gflops_per_core: 80.0,
            ksd_achieved_gflops: 50.0,
            sqrt_div_ns_per_element: 1.3,
            sm_read_floor_s: 0.004,
            ksd_floor_s: 0.05,
            ksd_time_over_floor: 1.7,
            ksd_sequential_s: 0.2,
            ksd_parallel_s: 0.1,
            fitting: None,
            tests: Some(TestCost {
                n: 1000,
                replicates: 1000,
                dsm_s: 0.02,
                floor_s: 0.015,
                linear_n: 10_000,
                linear_s: 0.05,
            }),
            quick: true,
        };
        let json = serde_json::to_string_pretty(&summary).unwrap();
        let back: CompareSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(back, summary);
        assert!(json.contains(r#""verdict": "disagrees""#));
        let bad: Vec<&str> = summary
            .disagreements()
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        assert_eq!(bad, ["sm_gaussian"]);
        let md = summary.markdown();
        assert!(
            md.contains(
                "| ksd_v_imq | 1000 | 10 | 0.0100 | 0.5000 | – | – | 50.0× | – | 50.0× | – | 0.0e0 | yes (numpy 1e-10) |"
            )
        );
        assert!(md.contains("| **NO** (numpy 1e-10) |"));
        assert!(md.contains("Peak RSS of the KSD statistic at n = 5000, d = 10: 12.5 MB."));
    }

    #[test]
    fn the_child_report_round_trips() {
        let c = ChildReport {
            peak_rss_mb: None,
            value: 0.25,
        };
        let back: ChildReport = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
