//! The score-matching losses (docs/math.md eqs. 2, 6) from a built-in model or from
//! per-sample arrays, as an `Estimate`, or as a `PartialEstimate` that merges exactly across
//! shards of the samples (docs/math.md eq. 16.1).

use dsm_core::{
    ChunkSums, Estimate as CoreEstimate, PartialEstimate as CorePartial, Samples,
    diffusion_score_matching_integrand, diffusion_score_matching_integrand_precomputed,
    score_matching_integrand, score_matching_integrand_precomputed,
};
use numpy::prelude::*;
use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::prelude::*;

use crate::convert::{error, expect_shape, flat, par, samples, value_error};
use crate::models::{Model, with_model};
use crate::stein::{DiffusionSpec, with_diffusion};

/// A Monte Carlo estimate: `value`, its standard error `std_err` and the sample size `n`.
/// Unpacks as (value, std_err); `float(e)` is the value.
#[pyclass(frozen, get_all, eq, module = "diffusion_score_matching")]
#[derive(Clone, Copy, PartialEq)]
pub struct Estimate {
    value: f64,
    std_err: f64,
    n: usize,
}

impl From<CoreEstimate> for Estimate {
    fn from(e: CoreEstimate) -> Self {
        Estimate {
            value: e.value,
            std_err: e.std_err,
            n: e.n,
        }
    }
}

impl From<dsm_core::KsdEstimate> for Estimate {
    fn from(e: dsm_core::KsdEstimate) -> Self {
        Estimate {
            value: e.value,
            std_err: e.std_err,
            n: e.n,
        }
    }
}

#[pymethods]
impl Estimate {
    /// An estimate from its parts (what pickling stores).
    #[new]
    fn new(value: f64, std_err: f64, n: usize) -> Self {
        Estimate { value, std_err, n }
    }

    fn __getnewargs__(&self) -> (f64, f64, usize) {
        (self.value, self.std_err, self.n)
    }

    fn __repr__(&self) -> String {
        let e = CoreEstimate {
            value: self.value,
            std_err: self.std_err,
            n: self.n,
        };
        format!("Estimate({e})")
    }

    fn __float__(&self) -> f64 {
        self.value
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let pair = (self.value, self.std_err).into_pyobject(py)?;
        Ok(pair.try_iter()?.into_any().unbind())
    }

    fn __len__(&self) -> usize {
        2
    }

    fn __getitem__(&self, index: isize) -> PyResult<f64> {
        match index {
            0 | -2 => Ok(self.value),
            1 | -1 => Ok(self.std_err),
            _ => Err(pyo3::exceptions::PyIndexError::new_err(
                "Estimate has 2 entries",
            )),
        }
    }
}

/// The partial state of an estimate over a shard of the samples that starts at sample
/// `first` (a multiple of 256): its chunk sums in order. `merge` shards given in sample
/// order and `finish` for the estimate the single process gives, bit for bit. Picklable
/// (for multiprocessing and Dask); `chunks` is the k × 6 array (count, Σw, Σw², Σwh,
/// Σw²(h − m_c)², Σw²(h − m_c)).
#[pyclass(frozen, module = "diffusion_score_matching")]
#[derive(Clone)]
pub struct PartialEstimate {
    inner: CorePartial,
}

#[pymethods]
impl PartialEstimate {
    /// The partial state of per-sample values (an integrand you computed) of the shard
    /// starting at sample `first`.
    #[staticmethod]
    #[pyo3(signature = (values, first=0, weights=None, threads=None))]
    fn from_values(
        py: Python<'_>,
        values: PyReadonlyArray1<'_, f64>,
        first: usize,
        weights: Option<PyReadonlyArray1<'_, f64>>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let (h, w) = (flat(&values), weights.as_ref().map(flat));
        partial(py, &h, w.as_deref(), first, threads)
    }

    /// A partial state from `first` and its k × 6 chunk array (as `chunks` returns).
    #[staticmethod]
    fn from_chunks(first: usize, chunks: PyReadonlyArray2<'_, f64>) -> PyResult<Self> {
        let k = chunks.shape()[0];
        expect_shape("chunks", chunks.shape(), &[k, 6])?;
        let rows = flat(&chunks);
        let mut out = Vec::with_capacity(k);
        for (i, r) in rows.chunks_exact(6).enumerate() {
            if !(r[0].is_finite() && r[0] >= 1.0 && r[0] <= 256.0 && r[0].fract() == 0.0) {
                return Err(value_error(format!(
                    "chunk {i}: the count {} is not a whole number from 1 to 256",
                    r[0]
                )));
            }
            out.push(ChunkSums {
                count: r[0] as usize,
                weight: r[1],
                weight_sq: r[2],
                weighted_sum: r[3],
                centred_sq: r[4],
                centred: r[5],
            });
        }
        let inner = CorePartial::from_chunks(first, out).map_err(error)?;
        Ok(PartialEstimate { inner })
    }

    /// The merge of contiguous shards given in sample order.
    #[staticmethod]
    fn merge(parts: Vec<PyRef<'_, PartialEstimate>>) -> PyResult<Self> {
        let parts: Vec<CorePartial> = parts.iter().map(|p| p.inner.clone()).collect();
        let inner = CorePartial::merge(&parts).map_err(error)?;
        Ok(PartialEstimate { inner })
    }

    /// The estimate over the samples covered.
    fn finish(&self) -> PyResult<Estimate> {
        Ok(self.inner.finish().map_err(error)?.into())
    }

    /// Index of the first sample covered.
    #[getter]
    fn first(&self) -> usize {
        self.inner.first()
    }

    /// Number of samples covered.
    #[getter]
    fn n(&self) -> usize {
        self.inner.n()
    }

    /// The chunk sums, k × 6.
    #[getter]
    fn chunks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let rows: Vec<f64> = self
            .inner
            .chunks()
            .iter()
            .flat_map(|c| {
                [
                    c.count as f64,
                    c.weight,
                    c.weight_sq,
                    c.weighted_sum,
                    c.centred_sq,
                    c.centred,
                ]
            })
            .collect();
        crate::models::to_matrix(py, rows, 6)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let cls = py.get_type::<PartialEstimate>();
        let rebuild = cls.getattr("from_chunks")?;
        let me = slf.get();
        (rebuild, (me.inner.first(), me.chunks(py)?))
            .into_pyobject(py)
            .map(|t| t.into_any())
    }

    fn __repr__(&self) -> String {
        format!(
            "PartialEstimate(first={}, n={}, chunks={})",
            self.inner.first(),
            self.inner.n(),
            self.inner.chunks().len()
        )
    }
}

fn partial(
    py: Python<'_>,
    h: &[f64],
    w: Option<&[f64]>,
    first: usize,
    threads: Option<usize>,
) -> PyResult<PartialEstimate> {
    let inner = py
        .allow_threads(|| CorePartial::from_values(h, w, first, par(threads)))
        .map_err(error)?;
    Ok(PartialEstimate { inner })
}

/// The SM integrand per sample, from a model or from `scores` and `laplacians`.
fn sm_values(
    py: Python<'_>,
    xs: &Samples,
    model: Option<&Bound<'_, Model>>,
    scores: Option<&PyReadonlyArray2<'_, f64>>,
    laplacians: Option<&PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<Vec<f64>> {
    let (n, d) = (xs.n(), xs.dim());
    match (model, scores, laplacians) {
        (Some(m), None, None) => {
            let kind = &m.get().kind;
            py.allow_threads(|| {
                with_model!(kind, |p| score_matching_integrand(p, xs, par(threads)))
            })
            .map_err(error)
        }
        (None, Some(s), Some(l)) => {
            expect_shape("scores", s.shape(), &[n, d])?;
            expect_shape("laplacians", l.shape(), &[n])?;
            let (s, l) = (flat(s), flat(l));
            py.allow_threads(|| score_matching_integrand_precomputed(&s, &l, d, par(threads)))
                .map_err(error)
        }
        _ => Err(value_error(
            "give either `model`, or both `scores` (n × d) and `laplacians` (n)",
        )),
    }
}

/// The score-matching loss E[‖s_p‖² + 2 Δ log p] (docs/math.md eq. 2) over the draws:
/// from a built-in `model`, or from your per-sample `scores` (n × d) and Laplacians
/// Δ log p (n). Returns an `Estimate`.
#[pyfunction]
#[pyo3(signature = (samples, *, model=None, scores=None, laplacians=None, weights=None, threads=None))]
pub fn score_matching_loss(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    model: Option<Bound<'_, Model>>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    laplacians: Option<PyReadonlyArray1<'_, f64>>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<Estimate> {
    let xs = self::samples(&samples, weights.as_ref())?;
    let h = sm_values(
        py,
        &xs,
        model.as_ref(),
        scores.as_ref(),
        laplacians.as_ref(),
        threads,
    )?;
    let e = py
        .allow_threads(|| CoreEstimate::from_values(&h, xs.weights(), par(threads)))
        .map_err(error)?;
    Ok(e.into())
}

/// `score_matching_loss` on a shard of the samples starting at sample `first` (a multiple
/// of 256), as a `PartialEstimate` to merge with the other shards'.
#[pyfunction]
#[pyo3(signature = (samples, *, first=0, model=None, scores=None, laplacians=None, weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn score_matching_partial(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    first: usize,
    model: Option<Bound<'_, Model>>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    laplacians: Option<PyReadonlyArray1<'_, f64>>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<PartialEstimate> {
    let xs = self::samples(&samples, weights.as_ref())?;
    let h = sm_values(
        py,
        &xs,
        model.as_ref(),
        scores.as_ref(),
        laplacians.as_ref(),
        threads,
    )?;
    partial(py, &h, xs.weights(), first, threads)
}

/// The per-sample arrays of the DSM loss supplied by the caller.
struct DsmArrays<'a, 'py> {
    scores: Option<&'a PyReadonlyArray2<'py, f64>>,
    hessians: Option<&'a PyReadonlyArray3<'py, f64>>,
    diffusions: Option<&'a PyReadonlyArray3<'py, f64>>,
    divergences: Option<&'a PyReadonlyArray2<'py, f64>>,
}

fn dsm_values(
    py: Python<'_>,
    xs: &Samples,
    model: Option<&Bound<'_, Model>>,
    diffusion: &DiffusionSpec,
    arrays: DsmArrays<'_, '_>,
    threads: Option<usize>,
) -> PyResult<Vec<f64>> {
    let (n, d) = (xs.n(), xs.dim());
    let DsmArrays {
        scores,
        hessians,
        diffusions,
        divergences,
    } = arrays;
    match (model, scores, hessians, diffusions, divergences) {
        (Some(m), None, None, None, None) => {
            let kind = &m.get().kind;
            let p = par(threads);
            py.allow_threads(|| {
                with_diffusion!(diffusion.resolve_plain(xs)?, d, |m| {
                    with_model!(kind, |q| diffusion_score_matching_integrand(q, &m, xs, p))
                })
            })
            .map_err(error)
        }
        (None, Some(s), Some(h), Some(m), Some(div)) => {
            if !matches!(diffusion, DiffusionSpec::Identity) {
                return Err(value_error(
                    "give the diffusion either as `diffusion` (with `model`) or as the `diffusions` and `divergences` arrays, not both",
                ));
            }
            expect_shape("scores", s.shape(), &[n, d])?;
            expect_shape("hessians", h.shape(), &[n, d, d])?;
            expect_shape("diffusions", m.shape(), &[n, d, d])?;
            expect_shape("divergences", div.shape(), &[n, d])?;
            let (s, h, m, div) = (flat(s), flat(h), flat(m), flat(div));
            py.allow_threads(|| {
                diffusion_score_matching_integrand_precomputed(&s, &h, &m, &div, d, par(threads))
            })
            .map_err(error)
        }
        _ => Err(value_error(
            "give either `model` (and `diffusion`), or all of `scores` (n × d), `hessians` (n × d × d), `diffusions` m(x) (n × d × d) and `divergences` ∇·(m mᵀ) (n × d)",
        )),
    }
}

/// The diffusion score-matching loss E[‖mᵀ s_p‖² + 2 ∇·(m mᵀ s_p)] (docs/math.md eq. 6):
/// from a built-in `model` with a `diffusion` (`TiltedDiffusion`, `ConstantDiffusion`, a
/// `Flow` for m = (∇T)⁻¹, or None for m = I), or from your per-sample `scores` (n × d),
/// `hessians` of log p (n × d × d), `diffusions` m(xᵢ) (n × d × d) and `divergences`
/// ∇·(m mᵀ)(xᵢ) (n × d). Returns an `Estimate`.
#[pyfunction]
#[pyo3(signature = (samples, *, model=None, diffusion=None, scores=None, hessians=None, diffusions=None, divergences=None, weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn dsm_loss(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    model: Option<Bound<'_, Model>>,
    diffusion: Option<Bound<'_, PyAny>>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    hessians: Option<PyReadonlyArray3<'_, f64>>,
    diffusions: Option<PyReadonlyArray3<'_, f64>>,
    divergences: Option<PyReadonlyArray2<'_, f64>>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<Estimate> {
    let xs = self::samples(&samples, weights.as_ref())?;
    let spec = DiffusionSpec::extract(diffusion.as_ref())?;
    let arrays = DsmArrays {
        scores: scores.as_ref(),
        hessians: hessians.as_ref(),
        diffusions: diffusions.as_ref(),
        divergences: divergences.as_ref(),
    };
    let h = dsm_values(py, &xs, model.as_ref(), &spec, arrays, threads)?;
    let e = py
        .allow_threads(|| CoreEstimate::from_values(&h, xs.weights(), par(threads)))
        .map_err(error)?;
    Ok(e.into())
}

/// `dsm_loss` on a shard starting at sample `first` (a multiple of 256), as a
/// `PartialEstimate`.
#[pyfunction]
#[pyo3(signature = (samples, *, first=0, model=None, diffusion=None, scores=None, hessians=None, diffusions=None, divergences=None, weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn dsm_partial(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    first: usize,
    model: Option<Bound<'_, Model>>,
    diffusion: Option<Bound<'_, PyAny>>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    hessians: Option<PyReadonlyArray3<'_, f64>>,
    diffusions: Option<PyReadonlyArray3<'_, f64>>,
    divergences: Option<PyReadonlyArray2<'_, f64>>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<PartialEstimate> {
    let xs = self::samples(&samples, weights.as_ref())?;
    let spec = DiffusionSpec::extract(diffusion.as_ref())?;
    if spec.depends_on_the_draws() {
        return Err(value_error(
            "a TiltedDiffusion without a centre is centred on the draws' mean, which differs between shards: give its centre",
        ));
    }
    let arrays = DsmArrays {
        scores: scores.as_ref(),
        hessians: hessians.as_ref(),
        diffusions: diffusions.as_ref(),
        divergences: divergences.as_ref(),
    };
    let h = dsm_values(py, &xs, model.as_ref(), &spec, arrays, threads)?;
    partial(py, &h, xs.weights(), first, threads)
}
