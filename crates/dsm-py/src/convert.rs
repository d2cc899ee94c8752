//! numpy arrays in, dsm types out: one copy into the engine's row-major layout (a memcpy when
//! the array is C-contiguous float64), shape checks with the argument named, dsm errors as
//! `ValueError` carrying the Rust message.

use dsm_core::{Par, Samples, ScoredSamples};
use numpy::ndarray::Dimension;
use numpy::prelude::*;
use numpy::{PyReadonlyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A dsm error as a Python `ValueError` carrying the Rust message.
pub fn error(e: dsm_core::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A `ValueError` with this message.
pub fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// The thread setting: `None` for all cores.
pub fn par(threads: Option<usize>) -> Par {
    Par::rayon(threads.unwrap_or(0))
}

/// The array's entries in C order: a copy of the buffer when it is C-contiguous, numpy's
/// element order otherwise.
pub fn flat<D: Dimension>(array: &PyReadonlyArray<'_, f64, D>) -> Vec<f64> {
    // `as_slice` also accepts Fortran-contiguous buffers, whose memory order is not C order.
    match array.as_slice() {
        Ok(slice) if array.is_c_contiguous() => slice.to_vec(),
        _ => array.as_array().iter().copied().collect(),
    }
}

/// An n × d array as `Samples` (with optional weights).
pub fn samples(
    array: &PyReadonlyArray2<'_, f64>,
    weights: Option<&PyReadonlyArray1<'_, f64>>,
) -> PyResult<Samples> {
    let d = array.shape()[1];
    let xs = Samples::new(flat(array), d).map_err(error)?;
    match weights {
        Some(w) => xs.with_weights(flat(w)).map_err(error),
        None => Ok(xs),
    }
}

/// Draws and scores (n × d each) as validated `ScoredSamples`.
pub fn scored(
    samples: &PyReadonlyArray2<'_, f64>,
    scores: &PyReadonlyArray2<'_, f64>,
    weights: Option<&PyReadonlyArray1<'_, f64>>,
) -> PyResult<ScoredSamples> {
    let (shape, score_shape) = (samples.shape(), scores.shape());
    if score_shape != shape {
        return Err(value_error(format!(
            "scores have shape {score_shape:?}, samples {shape:?}: they must match"
        )));
    }
    let xs = self::samples(samples, weights)?;
    ScoredSamples::new(xs, flat(scores)).map_err(error)
}

/// Checks that an array has the expected shape, naming the argument.
pub fn expect_shape(name: &str, got: &[usize], expected: &[usize]) -> PyResult<()> {
    if got == expected {
        Ok(())
    } else {
        Err(value_error(format!(
            "{name} has shape {got:?}, expected {expected:?}"
        )))
    }
}

/// "u"/"v" as the estimator.
pub fn estimator(name: &str) -> PyResult<dsm_core::Estimator> {
    match name {
        "v" | "V" => Ok(dsm_core::Estimator::V),
        "u" | "U" => Ok(dsm_core::Estimator::U),
        other => Err(value_error(format!(
            "estimator must be 'u' or 'v', got {other:?}"
        ))),
    }
}
