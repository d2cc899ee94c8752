//! The goodness-of-fit tests: `ksd_test` (Rademacher, Markov-chain or parametric bootstrap),
//! `linear_ksd_test` and `aggregated_ksd_test`, with result objects that print well.

#[allow(unused_imports)]
use dsm_core::SteinKernel as _;
use dsm_core::{AggregatedKsdTest, Bootstrap, KsdTest, LinearKsdTest, ParametricKsdTest};
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::convert::{error, par, value_error};
use crate::models::{Model, with_model};
use crate::stein::{SteinKernel, scored_from, with_stein};

/// The outcome of `ksd_test` and `linear_ksd_test`.
#[pyclass(frozen, get_all, module = "diffusion_score_matching")]
pub struct KsdTestResult {
    statistic: f64,
    p_value: f64,
    critical_value: f64,
    reject: bool,
    level: f64,
    replicates: usize,
    n: usize,
    time: f64,
    report: String,
}

#[pymethods]
impl KsdTestResult {
    fn __repr__(&self) -> String {
        format!("KsdTestResult({})", self.report)
    }

    /// (statistic, p_value, reject), the first release's return value.
    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = (self.statistic, self.p_value, self.reject).into_pyobject(py)?;
        Ok(t.try_iter()?.into_any().unbind())
    }
}

/// The Python result from a core test result (`KsdTestResult` or `LinearKsdTestResult`,
/// which share these fields).
macro_rules! test_result {
    ($r:expr) => {
        KsdTestResult {
            statistic: $r.statistic,
            p_value: $r.p_value,
            critical_value: $r.critical_value,
            reject: $r.reject,
            level: $r.level,
            replicates: $r.replicates,
            n: $r.n,
            time: $r.elapsed.as_secs_f64(),
            report: $r.to_string(),
        }
    };
}

fn bootstrap(law: &str, flip_probability: Option<f64>) -> PyResult<Option<Bootstrap>> {
    match (law, flip_probability) {
        ("rademacher", None) => Ok(Some(Bootstrap::Rademacher)),
        ("markov", None) => Ok(Some(Bootstrap::MarkovChainAuto)),
        ("markov", Some(a)) => Ok(Some(Bootstrap::MarkovChain {
            flip_probability: a,
        })),
        ("parametric", None) => Ok(None),
        (other, _) => Err(value_error(format!(
            "bootstrap must be 'rademacher', 'markov' or 'parametric' (flip_probability only with 'markov'), got {other:?}"
        ))),
    }
}

/// The KSD test of H₀: the draws come from the model (docs/math.md §8, §14). bootstrap:
/// "rademacher" (i.i.d. draws), "markov" (MCMC output; the flip probability from the
/// chain's autocorrelation time unless `flip_probability` is given) or "parametric" (null
/// statistics from the `model`'s own draws; needs `model`). Scores from `scores` or
/// `model`; the kernel from `stein` or the IMQ keywords.
#[pyfunction]
#[pyo3(signature = (samples, scores=None, *, model=None, stein=None, seed=0, replicates=1000, level=0.05, bootstrap="rademacher", flip_probability=None, estimator="v", c=1.0, beta=-0.5, weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn ksd_test(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    model: Option<Bound<'_, Model>>,
    stein: Option<Bound<'_, SteinKernel>>,
    seed: u64,
    replicates: usize,
    level: f64,
    bootstrap: &str,
    flip_probability: Option<f64>,
    estimator: &str,
    c: f64,
    beta: f64,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<KsdTestResult> {
    let spec = SteinKernel::or_imq(stein.as_ref(), c, beta, estimator)?;
    let law = self::bootstrap(bootstrap, flip_probability)?;
    let p = par(threads);
    let r = match law {
        Some(law) => {
            let run = scored_from(
                py,
                &samples,
                scores.as_ref(),
                model.as_ref(),
                weights.as_ref(),
                threads,
            )?;
            let test = KsdTest::new(law, seed)
                .and_then(|t| t.with_replicates(replicates))
                .and_then(|t| t.with_level(level))
                .map_err(error)?;
            with_stein!(&spec, run.samples(), |s| py
                .allow_threads(|| test.run_scored(&s, &run, p))
                .map_err(error))?
        }
        None => {
            let Some(model) = model else {
                return Err(value_error(
                    "the parametric bootstrap needs `model` (it draws from it)",
                ));
            };
            if scores.is_some() {
                return Err(value_error(
                    "the parametric bootstrap takes its scores from `model`: leave `scores` out",
                ));
            }
            let xs = crate::convert::samples(&samples, weights.as_ref())?;
            let test = ParametricKsdTest::new(seed)
                .with_replicates(replicates)
                .and_then(|t| t.with_level(level))
                .map_err(error)?;
            let kind = &model.get().kind;
            with_stein!(&spec, &xs, |s| py
                .allow_threads(|| with_model!(kind, |m| test.run(&s, m, &xs, p)))
                .map_err(error))?
        }
    };
    Ok(test_result!(r))
}

/// The linear-time test (incomplete U-statistic over the pairs (i, i + ℓ), ℓ ≤ `offsets`,
/// with its Rademacher wild bootstrap; i.i.d. draws; docs/math.md eq. 14.2).
#[pyfunction]
#[pyo3(signature = (samples, scores=None, *, model=None, stein=None, seed=0, offsets=10, replicates=1000, level=0.05, c=1.0, beta=-0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn linear_ksd_test(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    model: Option<Bound<'_, Model>>,
    stein: Option<Bound<'_, SteinKernel>>,
    seed: u64,
    offsets: usize,
    replicates: usize,
    level: f64,
    c: f64,
    beta: f64,
    threads: Option<usize>,
) -> PyResult<KsdTestResult> {
    let spec = SteinKernel::or_imq(stein.as_ref(), c, beta, "u")?;
    let run = scored_from(py, &samples, scores.as_ref(), model.as_ref(), None, threads)?;
    let test = LinearKsdTest::new(offsets, seed)
        .and_then(|t| t.with_replicates(replicates))
        .and_then(|t| t.with_level(level))
        .map_err(error)?;
    let r = with_stein!(&spec, run.samples(), |s| py
        .allow_threads(|| test.run_scored(&s, &run, par(threads)))
        .map_err(error))?;
    Ok(test_result!(r))
}

/// The outcome of `aggregated_ksd_test`: `reject`, the corrected level `u_alpha`, and per
/// candidate (label, statistic, threshold, reject).
#[pyclass(frozen, get_all, module = "diffusion_score_matching")]
pub struct AggregatedTestResult {
    reject: bool,
    level: f64,
    u_alpha: f64,
    candidates: Vec<(String, f64, f64, bool)>,
    n: usize,
    time: f64,
    report: String,
}

#[pymethods]
impl AggregatedTestResult {
    fn __repr__(&self) -> String {
        format!("AggregatedTestResult({})", self.report)
    }
}

/// The aggregated test (KSDAgg, Schrab et al. 2022; docs/math.md eq. 14.5) over a list of
/// `SteinKernel`s (default: IMQ kernels with c = 0.25, 0.5, 1, 2, 4 times the median
/// distance between the draws).
#[pyfunction]
#[pyo3(signature = (samples, scores=None, *, model=None, kernels=None, seed=0, quantile_replicates=500, level_replicates=500, level=0.05, bootstrap="rademacher", flip_probability=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn aggregated_ksd_test(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    model: Option<Bound<'_, Model>>,
    kernels: Option<Vec<Bound<'_, SteinKernel>>>,
    seed: u64,
    quantile_replicates: usize,
    level_replicates: usize,
    level: f64,
    bootstrap: &str,
    flip_probability: Option<f64>,
    threads: Option<usize>,
) -> PyResult<AggregatedTestResult> {
    let Some(law) = self::bootstrap(bootstrap, flip_probability)? else {
        return Err(value_error(
            "the aggregated test takes 'rademacher' or 'markov'",
        ));
    };
    let run = scored_from(py, &samples, scores.as_ref(), model.as_ref(), None, threads)?;
    let specs: Vec<SteinKernel> = match kernels {
        Some(k) => k.iter().map(|k| k.get().clone()).collect(),
        None => {
            let med = dsm_core::Rbf::median_heuristic(run.samples())
                .map_err(error)?
                .bandwidth();
            [0.25, 0.5, 1.0, 2.0, 4.0]
                .iter()
                .map(|f| {
                    let mut s = SteinKernel::imq(f * med, -0.5, "v")?;
                    s.label = format!("IMQ c = {f}·med");
                    Ok(s)
                })
                .collect::<PyResult<_>>()?
        }
    };
    let test = AggregatedKsdTest::new(law, seed)
        .and_then(|t| t.with_replicates(quantile_replicates, level_replicates))
        .and_then(|t| t.with_level(level))
        .map_err(error)?;
    let boxed = specs
        .iter()
        .map(|spec| boxed_candidate(spec, run.samples()))
        .collect::<PyResult<Vec<_>>>()?;
    let candidates: Vec<dsm_core::Candidate<'_>> = boxed
        .iter()
        .zip(&specs)
        .map(|(b, spec)| dsm_core::Candidate::new(spec.label.clone(), b.as_ref()))
        .collect();
    let r = py
        .allow_threads(|| test.run_scored(&candidates, &run, par(threads)))
        .map_err(error)?;
    Ok(AggregatedTestResult {
        reject: r.reject,
        level: r.level,
        u_alpha: r.u_alpha,
        candidates: r
            .candidates
            .iter()
            .map(|c| (c.label.clone(), c.statistic, c.threshold, c.reject))
            .collect(),
        n: r.n,
        time: r.elapsed.as_secs_f64(),
        report: r.to_string(),
    })
}

type BoxedCandidate = Box<dyn dsm_core::AggregationCandidate + Send>;

fn boxed_candidate(spec: &SteinKernel, xs: &dsm_core::Samples) -> PyResult<BoxedCandidate> {
    with_stein!(spec, xs, |s| Ok(Box::new(s) as BoxedCandidate))
}
