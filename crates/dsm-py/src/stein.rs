//! Stein kernels chosen at run time: the base kernel (IMQ or RBF) and the diffusion (none,
//! tilted, constant, or a flow's m = (∇T)⁻¹), and the discrepancies `ksd`, `dksd`.

use dsm_core::{
    ConstantDiffusion, Imq, Rbf, Samples, ScoredSamples, SteinKernel as _, TiltedDiffusion,
};
use dsm_flows::{Chain, FlowDiffusion, Layer};
use numpy::prelude::*;
use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::convert::{error, estimator, flat, par, scored, value_error};
use crate::flows::Flow;
use crate::losses::Estimate;
use crate::models::Model;

/// The tilted diffusion m(x) = (1 + ‖x − centre‖²)^{γ/2} I; `centre=None` is the sample mean
/// of the draws it is used with.
#[pyclass(frozen, module = "diffusion_score_matching")]
#[derive(Clone)]
pub struct Tilted {
    gamma: f64,
    centre: Option<Vec<f64>>,
}

#[pymethods]
impl Tilted {
    #[new]
    #[pyo3(signature = (gamma=1.0, centre=None))]
    fn new(gamma: f64, centre: Option<Vec<f64>>) -> PyResult<Self> {
        // Validated now (with a placeholder centre when none is given).
        let c = centre.clone().unwrap_or_else(|| vec![0.0]);
        TiltedDiffusion::new(c, gamma).map_err(error)?;
        Ok(Tilted { gamma, centre })
    }

    fn __repr__(&self) -> String {
        format!(
            "TiltedDiffusion(gamma={}, centre={:?})",
            self.gamma, self.centre
        )
    }
}

/// A constant diffusion matrix m (d × d, invertible).
#[pyclass(frozen, module = "diffusion_score_matching")]
#[derive(Clone)]
pub struct Constant {
    m: ConstantDiffusion,
}

#[pymethods]
impl Constant {
    #[new]
    fn new(m: PyReadonlyArray2<'_, f64>) -> PyResult<Self> {
        let d = m.shape()[0];
        crate::convert::expect_shape("m", m.shape(), &[d, d])?;
        Ok(Constant {
            m: ConstantDiffusion::new(d, flat(&m)).map_err(error)?,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "ConstantDiffusion(dim={})",
            dsm_core::Diffusion::dim(&self.m)
        )
    }
}

/// The diffusion argument: None, a `TiltedDiffusion`, a `ConstantDiffusion` or a `Flow`.
#[derive(Clone)]
pub enum DiffusionSpec {
    Identity,
    Tilted(Tilted),
    Constant(ConstantDiffusion),
    Flow(Chain<Layer>),
}

impl DiffusionSpec {
    pub fn extract(value: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(v) = value else {
            return Ok(DiffusionSpec::Identity);
        };
        if v.is_none() {
            Ok(DiffusionSpec::Identity)
        } else if let Ok(t) = v.downcast::<Tilted>() {
            Ok(DiffusionSpec::Tilted(t.get().clone()))
        } else if let Ok(c) = v.downcast::<Constant>() {
            Ok(DiffusionSpec::Constant(c.get().m.clone()))
        } else if let Ok(f) = v.downcast::<Flow>() {
            Ok(DiffusionSpec::Flow(f.get().chain.clone()))
        } else {
            Err(pyo3::exceptions::PyTypeError::new_err(
                "diffusion must be None, a TiltedDiffusion, a ConstantDiffusion or a Flow",
            ))
        }
    }
}

/// The diffusion, resolved against the draws it is used with.
pub enum ResolvedDiffusion {
    Identity,
    Tilted(TiltedDiffusion),
    Constant(ConstantDiffusion),
    Flow(FlowDiffusion<Chain<Layer>>),
}

impl DiffusionSpec {
    pub fn resolve(&self, samples: &Samples) -> PyResult<ResolvedDiffusion> {
        self.resolve_plain(samples).map_err(error)
    }

    /// `resolve` with the dsm error (for use without the GIL).
    pub fn resolve_plain(&self, samples: &Samples) -> dsm_core::Result<ResolvedDiffusion> {
        Ok(match self {
            DiffusionSpec::Identity => ResolvedDiffusion::Identity,
            DiffusionSpec::Tilted(t) => ResolvedDiffusion::Tilted(match &t.centre {
                Some(c) => TiltedDiffusion::new(c.clone(), t.gamma)?,
                None => TiltedDiffusion::centred_on(samples, t.gamma)?,
            }),
            DiffusionSpec::Constant(m) => ResolvedDiffusion::Constant(m.clone()),
            DiffusionSpec::Flow(f) => ResolvedDiffusion::Flow(FlowDiffusion::new(f.clone())),
        })
    }

    /// Whether the diffusion depends on the draws it is used with (a tilted diffusion
    /// centred on their mean), which a shard cannot know.
    pub fn depends_on_the_draws(&self) -> bool {
        matches!(self, DiffusionSpec::Tilted(Tilted { centre: None, .. }))
    }
}

/// The base kernel.
#[derive(Clone, Copy)]
pub enum KernelSpec {
    Imq(Imq),
    /// RBF with this bandwidth, or the median heuristic on the draws.
    Rbf(Option<f64>),
}

/// A Stein kernel: base kernel, diffusion and estimator.
#[pyclass(frozen, module = "diffusion_score_matching")]
#[derive(Clone)]
pub struct SteinKernel {
    pub kernel: KernelSpec,
    pub diffusion: DiffusionSpec,
    pub estimator: dsm_core::Estimator,
    pub label: String,
}

#[pymethods]
impl SteinKernel {
    /// kernel: "imq" ((c² + ‖x − y‖²)^β) or "rbf" (exp(−‖x − y‖²/(2 bandwidth²)), the median
    /// heuristic when bandwidth is None); diffusion: None (the Langevin KSD),
    /// `TiltedDiffusion`, `ConstantDiffusion` or a `Flow`; estimator "v" or "u".
    #[new]
    #[pyo3(signature = (kernel="imq", c=1.0, beta=-0.5, bandwidth=None, diffusion=None, estimator="v", label=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        kernel: &str,
        c: f64,
        beta: f64,
        bandwidth: Option<f64>,
        diffusion: Option<&Bound<'_, PyAny>>,
        estimator: &str,
        label: Option<String>,
    ) -> PyResult<Self> {
        let spec = match kernel {
            "imq" => KernelSpec::Imq(Imq::new(c, beta).map_err(error)?),
            "rbf" => {
                if let Some(h) = bandwidth {
                    Rbf::new(h).map_err(error)?;
                }
                KernelSpec::Rbf(bandwidth)
            }
            other => {
                return Err(value_error(format!(
                    "kernel must be 'imq' or 'rbf', got {other:?}"
                )));
            }
        };
        let diffusion_spec = DiffusionSpec::extract(diffusion)?;
        let label = label.unwrap_or_else(|| {
            let k = match spec {
                KernelSpec::Imq(_) => format!("IMQ c={c} beta={beta}"),
                KernelSpec::Rbf(Some(h)) => format!("RBF h={h}"),
                KernelSpec::Rbf(None) => "RBF median".to_string(),
            };
            match diffusion.filter(|d| !d.is_none()) {
                Some(d) => format!(
                    "{k}, {}",
                    d.repr().map(|r| r.to_string()).unwrap_or_default()
                ),
                None => k,
            }
        });
        Ok(SteinKernel {
            kernel: spec,
            diffusion: diffusion_spec,
            estimator: self::estimator(estimator)?,
            label,
        })
    }

    fn __repr__(&self) -> String {
        format!("SteinKernel({})", self.label)
    }
}

impl SteinKernel {
    /// The IMQ Langevin kernel with these settings.
    pub fn imq(c: f64, beta: f64, estimator: &str) -> PyResult<Self> {
        Ok(SteinKernel {
            kernel: KernelSpec::Imq(Imq::new(c, beta).map_err(error)?),
            diffusion: DiffusionSpec::Identity,
            estimator: self::estimator(estimator)?,
            label: format!("IMQ c={c} beta={beta}"),
        })
    }

    /// `stein` when given, otherwise the IMQ kernel from the keyword arguments.
    pub fn or_imq(
        stein: Option<&Bound<'_, SteinKernel>>,
        c: f64,
        beta: f64,
        estimator: &str,
    ) -> PyResult<Self> {
        match stein {
            Some(s) => Ok(s.get().clone()),
            None => Self::imq(c, beta, estimator),
        }
    }

    /// With another diffusion.
    pub fn with_diffusion(mut self, diffusion: DiffusionSpec) -> Self {
        self.diffusion = diffusion;
        self
    }
}

/// Evaluates `$body` with `$m` bound to the concrete diffusion of a `ResolvedDiffusion` in
/// dimension `$d` (the identity as `IdentityDiffusion`).
macro_rules! with_diffusion {
    ($resolved:expr, $d:expr, |$m:ident| $body:expr) => {
        match $resolved {
            $crate::stein::ResolvedDiffusion::Identity => {
                let $m = dsm_core::IdentityDiffusion::new($d);
                $body
            }
            $crate::stein::ResolvedDiffusion::Tilted($m) => $body,
            $crate::stein::ResolvedDiffusion::Constant($m) => $body,
            $crate::stein::ResolvedDiffusion::Flow($m) => $body,
        }
    };
}
pub(crate) use with_diffusion;

/// Evaluates `$body` with `$s` bound to the concrete Stein kernel of `$spec` on `$xs`;
/// `$body` must evaluate to a `PyResult`.
macro_rules! with_stein {
    ($spec:expr, $xs:expr, |$s:ident| $body:expr) => {{
        let spec: &$crate::stein::SteinKernel = $spec;
        match spec.kernel {
            $crate::stein::KernelSpec::Imq(k) => $crate::stein::with_stein!(@d spec, $xs, k, |$s| $body),
            $crate::stein::KernelSpec::Rbf(h) => {
                let k = match h {
                    Some(h) => dsm_core::Rbf::new(h),
                    None => dsm_core::Rbf::median_heuristic($xs),
                }
                .map_err($crate::convert::error)?;
                $crate::stein::with_stein!(@d spec, $xs, k, |$s| $body)
            }
        }
    }};
    (@d $spec:expr, $xs:expr, $k:expr, |$s:ident| $body:expr) => {
        match $spec.diffusion.resolve($xs)? {
            $crate::stein::ResolvedDiffusion::Identity => {
                let $s = dsm_core::Ksd::new($k, $spec.estimator);
                $body
            }
            $crate::stein::ResolvedDiffusion::Tilted(m) => {
                let $s = dsm_core::DiffusionKsd::new($k, m, $spec.estimator).map_err($crate::convert::error)?;
                $body
            }
            $crate::stein::ResolvedDiffusion::Constant(m) => {
                let $s = dsm_core::DiffusionKsd::new($k, m, $spec.estimator).map_err($crate::convert::error)?;
                $body
            }
            $crate::stein::ResolvedDiffusion::Flow(m) => {
                let $s = dsm_core::DiffusionKsd::new($k, m, $spec.estimator).map_err($crate::convert::error)?;
                $body
            }
        }
    };
}
pub(crate) use with_stein;

/// Draws with scores from the `scores` array or the `model`.
pub fn scored_from(
    py: Python<'_>,
    samples: &PyReadonlyArray2<'_, f64>,
    scores: Option<&PyReadonlyArray2<'_, f64>>,
    model: Option<&Bound<'_, Model>>,
    weights: Option<&PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<ScoredSamples> {
    match (scores, model) {
        (Some(s), None) => scored(samples, s, weights),
        (None, Some(m)) => {
            let xs = crate::convert::samples(samples, weights)?;
            let kind = &m.get().kind;
            py.allow_threads(|| {
                crate::models::with_model!(kind, |p| ScoredSamples::from_model(
                    p,
                    &xs,
                    par(threads)
                ))
            })
            .map_err(error)
        }
        _ => Err(value_error(
            "give exactly one of `scores` (an n × d array) and `model`",
        )),
    }
}

/// The kernel Stein discrepancy KSD² of the draws (docs/math.md §7): by default the
/// Langevin Stein kernel of the IMQ kernel (c² + r²)^β, V-statistic; `stein` overrides the
/// kernel settings (any `SteinKernel`, including diffusion ones). Scores from the `scores`
/// array (n × d) or a built-in `model`. Returns an `Estimate` (value, std_err, n), which
/// also unpacks as (value, std_err).
#[pyfunction]
#[pyo3(signature = (samples, scores=None, *, model=None, stein=None, c=1.0, beta=-0.5, estimator="v", weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn ksd(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    model: Option<Bound<'_, Model>>,
    stein: Option<Bound<'_, SteinKernel>>,
    c: f64,
    beta: f64,
    estimator: &str,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<Estimate> {
    let spec = SteinKernel::or_imq(stein.as_ref(), c, beta, estimator)?;
    let run = scored_from(
        py,
        &samples,
        scores.as_ref(),
        model.as_ref(),
        weights.as_ref(),
        threads,
    )?;
    estimate(py, &spec, &run, threads)
}

/// The diffusion KSD² (docs/math.md §7) with diffusion m: a `TiltedDiffusion` (the
/// default, γ = 1 about the sample mean), a `ConstantDiffusion` or a `Flow` (m = (∇T)⁻¹).
#[pyfunction]
#[pyo3(signature = (samples, scores=None, *, model=None, diffusion=None, kernel="imq", c=1.0, beta=-0.5, bandwidth=None, estimator="v", weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn dksd(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: Option<PyReadonlyArray2<'_, f64>>,
    model: Option<Bound<'_, Model>>,
    diffusion: Option<Bound<'_, PyAny>>,
    kernel: &str,
    c: f64,
    beta: f64,
    bandwidth: Option<f64>,
    estimator: &str,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<Estimate> {
    let mut spec = SteinKernel::new(kernel, c, beta, bandwidth, None, estimator, None)?;
    spec.diffusion = match diffusion.as_ref().filter(|d| !d.is_none()) {
        Some(d) => DiffusionSpec::extract(Some(d))?,
        None => DiffusionSpec::Tilted(Tilted {
            gamma: 1.0,
            centre: None,
        }),
    };
    let run = scored_from(
        py,
        &samples,
        scores.as_ref(),
        model.as_ref(),
        weights.as_ref(),
        threads,
    )?;
    estimate(py, &spec, &run, threads)
}

/// The diffusion KSD² with the tilted diffusion (kept for the first release's callers; the
/// same as `dksd(..., diffusion=TiltedDiffusion(gamma, centre))`).
#[pyfunction]
#[pyo3(signature = (samples, scores, gamma=1.0, centre=None, c=1.0, beta=-0.5, estimator="v", threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn dksd_tilted(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    scores: PyReadonlyArray2<'_, f64>,
    gamma: f64,
    centre: Option<Vec<f64>>,
    c: f64,
    beta: f64,
    estimator: &str,
    threads: Option<usize>,
) -> PyResult<Estimate> {
    let spec = SteinKernel::imq(c, beta, estimator)?
        .with_diffusion(DiffusionSpec::Tilted(Tilted::new(gamma, centre)?));
    let run = scored(&samples, &scores, None)?;
    estimate(py, &spec, &run, threads)
}

fn estimate(
    py: Python<'_>,
    spec: &SteinKernel,
    run: &ScoredSamples,
    threads: Option<usize>,
) -> PyResult<Estimate> {
    let e = with_stein!(spec, run.samples(), |s| py
        .allow_threads(|| s.estimate_scored(run, par(threads)))
        .map_err(error))?;
    Ok(Estimate::from(e))
}
