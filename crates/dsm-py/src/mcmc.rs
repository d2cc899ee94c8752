//! Stein tools for MCMC output: `stein_thin` and `stein_weights`.

#[allow(unused_imports)]
use dsm_core::SteinKernel as _;
use dsm_core::mcmc::{Preconditioner, Regularization, SteinThinning, stein_importance_weights};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{error, flat, par, scored, value_error};
use crate::models::{Model, with_model};
use crate::stein::{SteinKernel, with_stein};

/// Stein thinning (Riabiz et al. 2022) with the conventions of the `stein_thinning` package:
/// the indices (0-based, in the order chosen, repeats allowed) of m representative draws.
/// preconditioner: "id", "med", "sclmed", "smpcov" or a number (as a string or a float).
/// With `stein` (any `SteinKernel`, a diffusion one included) the greedy search runs on that
/// kernel instead, on the draws as given.
#[pyfunction]
#[pyo3(signature = (samples, scores, m, standardize=true, preconditioner=None, *, stein=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn stein_thin<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray2<'py, f64>,
    scores: PyReadonlyArray2<'py, f64>,
    m: usize,
    standardize: bool,
    preconditioner: Option<&Bound<'py, PyAny>>,
    stein: Option<Bound<'py, SteinKernel>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let run = scored(&samples, &scores, None)?;
    let thinned = match stein {
        Some(stein) => with_stein!(stein.get(), run.samples(), |s| py
            .allow_threads(|| SteinThinning::thin_with(&s, &run, m, par(threads)))
            .map_err(error))?,
        None => {
            let p = preconditioner_of(preconditioner)?;
            let thinning = SteinThinning::new()
                .with_standardize(standardize)
                .with_preconditioner(p);
            py.allow_threads(|| thinning.thin(&run, m, par(threads)))
                .map_err(error)?
        }
    };
    let indices: Vec<u64> = thinned.indices.iter().map(|&i| i as u64).collect();
    Ok(indices.into_pyarray(py))
}

/// Stein importance weights (Liu & Lee 2017; docs/math.md eq. 15.2): w ≥ 0, Σw = 1
/// minimising the V-statistic wᵀHw. Returns (weights, weighted KSD², uniform KSD²).
#[pyfunction]
#[pyo3(signature = (samples, scores, *, stein=None, c=1.0, beta=-0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn stein_weights<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray2<'py, f64>,
    scores: PyReadonlyArray2<'py, f64>,
    stein: Option<Bound<'py, SteinKernel>>,
    c: f64,
    beta: f64,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, f64, f64)> {
    let run = scored(&samples, &scores, None)?;
    let spec = SteinKernel::or_imq(stein.as_ref(), c, beta, "v")?;
    let w = with_stein!(&spec, run.samples(), |s| py
        .allow_threads(|| stein_importance_weights(&s, &run, par(threads)))
        .map_err(error))?;
    Ok((
        w.weights.into_pyarray(py),
        w.ksd_squared,
        w.uniform_ksd_squared,
    ))
}

/// The preconditioner argument: None ("id"), a name, or a number (as a float or a string).
fn preconditioner_of(value: Option<&Bound<'_, PyAny>>) -> PyResult<Preconditioner> {
    let name = match value {
        None => "id".to_string(),
        Some(v) => match v.extract::<f64>() {
            Ok(v) => v.to_string(),
            Err(_) => v.extract::<String>()?,
        },
    };
    Ok(match name.as_str() {
        "id" => Preconditioner::Identity,
        "med" => Preconditioner::Median,
        "sclmed" => Preconditioner::ScaledMedian,
        "smpcov" => Preconditioner::SampleCovariance,
        other => Preconditioner::Scale(other.parse::<f64>().map_err(|_| {
            value_error(format!(
                "preconditioner must be 'id', 'med', 'sclmed', 'smpcov' or a number, got {other:?}"
            ))
        })?),
    })
}

/// Regularised Stein thinning (Bénard et al. 2023; docs/mcmc.md): the greedy objective plus
/// Δ⁺log p and the entropic term −λ t log p, from a built-in `model` or from your per-draw
/// `log_density` and positive-part Laplacian `laplacian` arrays; λ = 1/m by default.
#[pyfunction]
#[pyo3(signature = (samples, scores, m, *, model=None, log_density=None, laplacian=None, lam=None, standardize=true, preconditioner=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn stein_thin_regularized<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray2<'py, f64>,
    scores: PyReadonlyArray2<'py, f64>,
    m: usize,
    model: Option<Bound<'py, Model>>,
    log_density: Option<PyReadonlyArray1<'py, f64>>,
    laplacian: Option<PyReadonlyArray1<'py, f64>>,
    lam: Option<f64>,
    standardize: bool,
    preconditioner: Option<&Bound<'py, PyAny>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let run = scored(&samples, &scores, None)?;
    let mut regularization = match (model, log_density, laplacian) {
        (Some(p), None, None) => {
            let kind = &p.get().kind;
            with_model!(kind, |q| Regularization::from_model(q, run.samples())).map_err(error)?
        }
        (None, Some(l), Some(d)) => Regularization {
            log_density: flat(&l),
            laplacian: flat(&d),
            lambda: None,
        },
        _ => {
            return Err(value_error(
                "give either `model`, or both `log_density` and `laplacian` (one value per draw)",
            ));
        }
    };
    regularization.lambda = lam;
    let thinning = SteinThinning::new()
        .with_standardize(standardize)
        .with_preconditioner(preconditioner_of(preconditioner)?);
    let thinned = py
        .allow_threads(|| thinning.thin_regularized(&run, &regularization, m, par(threads)))
        .map_err(error)?;
    let indices: Vec<u64> = thinned.indices.iter().map(|&i| i as u64).collect();
    Ok(indices.into_pyarray(py))
}

/// KSD² of the first k draws at each checkpoint k (strictly increasing), in one pass
/// (docs/math.md eq. 15.3): the convergence trace of an MCMC run.
#[pyfunction]
#[pyo3(signature = (samples, scores, checkpoints, *, stein=None, c=1.0, beta=-0.5, estimator="v", threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn cumulative_ksd<'py>(
    py: Python<'py>,
    samples: PyReadonlyArray2<'py, f64>,
    scores: PyReadonlyArray2<'py, f64>,
    checkpoints: Vec<usize>,
    stein: Option<Bound<'py, SteinKernel>>,
    c: f64,
    beta: f64,
    estimator: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let run = scored(&samples, &scores, None)?;
    let spec = SteinKernel::or_imq(stein.as_ref(), c, beta, estimator)?;
    let path = with_stein!(&spec, run.samples(), |s| py
        .allow_threads(|| dsm_core::mcmc::cumulative_ksd(&s, &run, &checkpoints, par(threads)))
        .map_err(error))?;
    let values: Vec<f64> = path.iter().map(|p| p.value).collect();
    Ok(values.into_pyarray(py))
}

/// KSD² and the Markov-chain test of each chain and of all chains pooled (docs/math.md eq.
/// 15.4). `chains` is a list of (draws, scores) pairs. Returns a dict: "chains" (one dict per
/// chain: n, ksd, std_err, statistic, p_value, reject), "pooled" (the same for all draws) and
/// "report" (a printable summary).
#[pyfunction]
#[pyo3(signature = (chains, *, stein=None, seed=0, replicates=1000, level=0.05, c=1.0, beta=-0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn diagnose_chains<'py>(
    py: Python<'py>,
    chains: Vec<(PyReadonlyArray2<'py, f64>, PyReadonlyArray2<'py, f64>)>,
    stein: Option<Bound<'py, SteinKernel>>,
    seed: u64,
    replicates: usize,
    level: f64,
    c: f64,
    beta: f64,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let runs = chains
        .iter()
        .map(|(x, s)| scored(x, s, None))
        .collect::<PyResult<Vec<_>>>()?;
    let Some(first) = runs.first() else {
        return Err(value_error("give at least one chain"));
    };
    let spec = SteinKernel::or_imq(stein.as_ref(), c, beta, "v")?;
    let test = dsm_core::KsdTest::new(dsm_core::Bootstrap::MarkovChainAuto, seed)
        .and_then(|t| t.with_replicates(replicates))
        .and_then(|t| t.with_level(level))
        .map_err(error)?;
    let report = with_stein!(&spec, first.samples(), |s| py
        .allow_threads(|| dsm_core::mcmc::diagnose_chains(&s, &runs, test, par(threads)))
        .map_err(error))?;
    let summary = |n: usize, ksd: &dsm_core::KsdEstimate, t: &dsm_core::KsdTestResult| {
        let d = PyDict::new(py);
        d.set_item("n", n)?;
        d.set_item("ksd", ksd.value)?;
        d.set_item("std_err", ksd.std_err)?;
        d.set_item("statistic", t.statistic)?;
        d.set_item("p_value", t.p_value)?;
        d.set_item("reject", t.reject)?;
        Ok::<_, PyErr>(d)
    };
    let out = PyDict::new(py);
    let per_chain = report
        .chains
        .iter()
        .map(|c| summary(c.n, &c.ksd, &c.test))
        .collect::<PyResult<Vec<_>>>()?;
    out.set_item("chains", per_chain)?;
    let total = runs.iter().map(|r| r.samples().n()).sum();
    out.set_item(
        "pooled",
        summary(total, &report.pooled, &report.pooled_test)?,
    )?;
    out.set_item("report", report.to_string())?;
    Ok(out)
}
