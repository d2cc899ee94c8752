//! Stein tools for MCMC output: `stein_thin` and `stein_weights`.

#[allow(unused_imports)]
use dsm_core::SteinKernel as _;
use dsm_core::mcmc::{Preconditioner, SteinThinning, stein_importance_weights};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::convert::{error, par, scored, value_error};
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
            let name = match preconditioner {
                None => "id".to_string(),
                Some(v) => match v.extract::<f64>() {
                    Ok(v) => v.to_string(),
                    Err(_) => v.extract::<String>()?,
                },
            };
            let p = {
                match name.as_str() {
                    "id" => Preconditioner::Identity,
                    "med" => Preconditioner::Median,
                    "sclmed" => Preconditioner::ScaledMedian,
                    "smpcov" => Preconditioner::SampleCovariance,
                    other => Preconditioner::Scale(other.parse::<f64>().map_err(|_| {
                        value_error(format!(
                            "preconditioner must be 'id', 'med', 'sclmed', 'smpcov' or a number, got {other:?}"
                        ))
                    })?),
                }
            };
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
