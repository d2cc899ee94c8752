//! Python bindings of dsm (module `diffusion_score_matching`): kernel Stein discrepancies, the
//! wild-bootstrap goodness-of-fit test and Stein thinning, from numpy arrays of draws and
//! scores (the output of an MCMC run). Arrays are read as float64 in C order (converted once
//! by numpy when they are not); the GIL is released during compute; `threads` (default: all
//! cores) never changes a result.

use dsm_core::mcmc::{Preconditioner, SteinThinning};
use dsm_core::{
    Bootstrap, DiffusionKsd, Estimator, Imq, Ksd, KsdTest, LinearKsdTest, Par, Samples,
    ScoredSamples, SteinKernel, TiltedDiffusion,
};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A dsm error as a Python `ValueError` carrying the Rust message.
fn error(e: dsm_core::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The thread setting: `None` for all cores.
fn par(threads: Option<usize>) -> Par {
    Par::rayon(threads.unwrap_or(0))
}

/// Draws and scores (n × d each) as validated `ScoredSamples`.
fn scored(
    samples: &PyReadonlyArray2<'_, f64>,
    scores: &PyReadonlyArray2<'_, f64>,
) -> PyResult<ScoredSamples> {
    let shape = samples.as_array().shape().to_vec();
    let score_shape = scores.as_array().shape().to_vec();
    if score_shape != shape {
        return Err(PyValueError::new_err(format!(
            "scores have shape {score_shape:?}, samples {shape:?}: they must match"
        )));
    }
    let x = samples.as_array().iter().copied().collect::<Vec<f64>>();
    let s = scores.as_array().iter().copied().collect::<Vec<f64>>();
    let xs = Samples::new(x, shape[1]).map_err(error)?;
    ScoredSamples::new(xs, s).map_err(error)
}

fn estimator(name: &str) -> PyResult<Estimator> {
    match name {
        "v" | "V" => Ok(Estimator::V),
        "u" | "U" => Ok(Estimator::U),
        other => Err(PyValueError::new_err(format!(
            "estimator must be 'u' or 'v', got {other:?}"
        ))),
    }
}

/// KSD² of the draws with their scores (Langevin Stein kernel, IMQ (c² + r²)^β):
/// returns (value, std_err).
#[pyfunction]
#[pyo3(signature = (samples, scores, c=1.0, beta=-0.5, estimator="v", threads=None))]
fn ksd(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: PyReadonlyArray2<'_, f64>,
    c: f64,
    beta: f64,
    estimator: &str,
    threads: Option<usize>,
) -> PyResult<(f64, f64)> {
    let run = scored(&samples, &scores)?;
    let stein = Ksd::new(
        Imq::new(c, beta).map_err(error)?,
        self::estimator(estimator)?,
    );
    let e = py
        .allow_threads(|| stein.estimate_scored(&run, par(threads)))
        .map_err(error)?;
    Ok((e.value, e.std_err))
}

/// The diffusion KSD² with the tilted diffusion m(x) = (1 + ‖x − centre‖²)^{γ/2} I (the
/// sample mean when `centre` is None) and the IMQ kernel: returns (value, std_err).
#[pyfunction]
#[pyo3(signature = (samples, scores, gamma=1.0, centre=None, c=1.0, beta=-0.5, estimator="v", threads=None))]
#[allow(clippy::too_many_arguments)]
fn dksd_tilted(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: PyReadonlyArray2<'_, f64>,
    gamma: f64,
    centre: Option<Vec<f64>>,
    c: f64,
    beta: f64,
    estimator: &str,
    threads: Option<usize>,
) -> PyResult<(f64, f64)> {
    let run = scored(&samples, &scores)?;
    let diffusion = match centre {
        Some(centre) => TiltedDiffusion::new(centre, gamma),
        None => TiltedDiffusion::centred_on(run.samples(), gamma),
    }
    .map_err(error)?;
    let stein = DiffusionKsd::new(
        Imq::new(c, beta).map_err(error)?,
        diffusion,
        self::estimator(estimator)?,
    )
    .map_err(error)?;
    let e = py
        .allow_threads(|| stein.estimate_scored(&run, par(threads)))
        .map_err(error)?;
    Ok((e.value, e.std_err))
}

/// The linear-time test (incomplete U-statistic over the pairs (i, i + ℓ), ℓ ≤ offsets, with
/// its wild bootstrap; i.i.d. draws only): returns (statistic, p_value, reject).
#[pyfunction]
#[pyo3(signature = (samples, scores, seed=0, offsets=10, replicates=1000, level=0.05, c=1.0, beta=-0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
fn linear_ksd_test(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: PyReadonlyArray2<'_, f64>,
    seed: u64,
    offsets: usize,
    replicates: usize,
    level: f64,
    c: f64,
    beta: f64,
    threads: Option<usize>,
) -> PyResult<(f64, f64, bool)> {
    let run = scored(&samples, &scores)?;
    let test = LinearKsdTest::new(offsets, seed)
        .and_then(|t| t.with_replicates(replicates))
        .and_then(|t| t.with_level(level))
        .map_err(error)?;
    let stein = Ksd::new(Imq::new(c, beta).map_err(error)?, Estimator::U);
    let r = py
        .allow_threads(|| test.run_scored(&stein, &run, par(threads)))
        .map_err(error)?;
    Ok((r.statistic, r.p_value, r.reject))
}

/// The outcome of `ksd_test`.
#[pyclass(frozen, get_all)]
struct KsdTestResult {
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
}

/// The wild-bootstrap KSD test of H₀: the draws come from the model whose scores they carry.
/// bootstrap: "rademacher" (i.i.d. draws), "markov" (MCMC output; flip probability from the
/// chain's autocorrelation time unless `flip_probability` is given).
#[pyfunction]
#[pyo3(signature = (samples, scores, seed=0, replicates=1000, level=0.05, bootstrap="rademacher", flip_probability=None, estimator="v", c=1.0, beta=-0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
fn ksd_test(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: PyReadonlyArray2<'_, f64>,
    seed: u64,
    replicates: usize,
    level: f64,
    bootstrap: &str,
    flip_probability: Option<f64>,
    estimator: &str,
    c: f64,
    beta: f64,
    threads: Option<usize>,
) -> PyResult<KsdTestResult> {
    let run = scored(&samples, &scores)?;
    let law = match (bootstrap, flip_probability) {
        ("rademacher", None) => Bootstrap::Rademacher,
        ("markov", None) => Bootstrap::MarkovChainAuto,
        ("markov", Some(a)) => Bootstrap::MarkovChain {
            flip_probability: a,
        },
        (other, _) => {
            return Err(PyValueError::new_err(format!(
                "bootstrap must be 'rademacher' or 'markov' (flip_probability only with 'markov'), got {other:?}"
            )));
        }
    };
    let test = KsdTest::new(law, seed)
        .and_then(|t| t.with_replicates(replicates))
        .and_then(|t| t.with_level(level))
        .map_err(error)?;
    let stein = Ksd::new(
        Imq::new(c, beta).map_err(error)?,
        self::estimator(estimator)?,
    );
    let r = py
        .allow_threads(|| test.run_scored(&stein, &run, par(threads)))
        .map_err(error)?;
    Ok(KsdTestResult {
        statistic: r.statistic,
        p_value: r.p_value,
        critical_value: r.critical_value,
        reject: r.reject,
        level: r.level,
        replicates: r.replicates,
        n: r.n,
        time: r.elapsed.as_secs_f64(),
        report: r.to_string(),
    })
}

/// Stein thinning (Riabiz et al. 2022) with the conventions of the `stein_thinning` package:
/// the indices (0-based, in the order chosen, repeats allowed) of m representative draws.
/// preconditioner: "id", "med", "sclmed", "smpcov" or a number (as a string or a float).
#[pyfunction]
#[pyo3(signature = (samples, scores, m, standardize=true, preconditioner="id", threads=None))]
fn stein_thin<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray2<'py, f64>,
    scores: PyReadonlyArray2<'py, f64>,
    m: usize,
    standardize: bool,
    preconditioner: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let run = scored(&samples, &scores)?;
    let p = match preconditioner {
        "id" => Preconditioner::Identity,
        "med" => Preconditioner::Median,
        "sclmed" => Preconditioner::ScaledMedian,
        "smpcov" => Preconditioner::SampleCovariance,
        other => Preconditioner::Scale(other.parse::<f64>().map_err(|_| {
            PyValueError::new_err(format!(
                "preconditioner must be 'id', 'med', 'sclmed', 'smpcov' or a number, got {other:?}"
            ))
        })?),
    };
    let thinning = SteinThinning::new()
        .with_standardize(standardize)
        .with_preconditioner(p);
    let thinned = py
        .allow_threads(|| thinning.thin(&run, m, par(threads)))
        .map_err(error)?;
    let indices: Vec<u64> = thinned.indices.iter().map(|&i| i as u64).collect();
    Ok(indices.into_pyarray(py))
}

/// The module.
#[pymodule]
fn diffusion_score_matching(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(ksd, module)?)?;
    module.add_function(wrap_pyfunction!(ksd_test, module)?)?;
    module.add_function(wrap_pyfunction!(stein_thin, module)?)?;
    module.add_function(wrap_pyfunction!(dksd_tilted, module)?)?;
    module.add_function(wrap_pyfunction!(linear_ksd_test, module)?)?;
    module.add_class::<KsdTestResult>()?;
    Ok(())
}
