//! `fit`: the built-in families fitted by SM, DSM, KSD or DKSD, with sandwich standard errors
//! (docs/math.md §11).

use dsm_core::Samples;
#[allow(unused_imports)]
use dsm_core::SteinKernel as _;
use dsm_fit::{
    DiffusionScoreMatching, ExponentialFamily, GaussianMeanFamily, GaussianStatistic,
    MinimizeOptions, MultivariateStudentTFamily, Objective, ScoreMatching, StudentTFamily,
};
use numpy::{PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::{error, flat, par, value_error};
use crate::losses::Estimate;
use crate::stein::{DiffusionSpec, SteinKernel, with_diffusion, with_stein};

/// A fitted model: `theta` (the family's parameters), `std_err` and `covariance` (sandwich;
/// None when the Hessian is singular), the `objective` at θ̂, `converged`, `iterations`, and
/// `parameters`, θ̂ in the family's natural terms (for example location, scale, dof).
#[pyclass(frozen, get_all, module = "diffusion_score_matching")]
pub struct FitResult {
    theta: Vec<f64>,
    std_err: Option<Vec<f64>>,
    covariance: Option<Py<PyArray2<f64>>>,
    objective: Estimate,
    converged: bool,
    iterations: u64,
    parameters: Py<PyDict>,
    family: String,
    method: String,
}

#[pymethods]
impl FitResult {
    fn __repr__(&self) -> String {
        let se = |k: usize| {
            self.std_err
                .as_ref()
                .map_or("?".to_string(), |s| format!("{:.3e}", s[k]))
        };
        let theta: Vec<String> = (0..self.theta.len())
            .map(|k| format!("{:.6} ± {}", self.theta[k], se(k)))
            .collect();
        format!(
            "FitResult({} by {}: theta = [{}], converged = {})",
            self.family,
            self.method,
            theta.join(", "),
            self.converged
        )
    }
}

/// The family to fit.
enum Family {
    Gaussian(ExponentialFamily<GaussianStatistic>),
    GaussianMean(GaussianMeanFamily),
    StudentT(StudentTFamily, bool),
    MultivariateStudentT(MultivariateStudentTFamily),
}

/// What a fit returns before it becomes a Python object.
struct Fitted {
    theta: Vec<f64>,
    std_err: Option<Vec<f64>>,
    covariance: Option<Vec<f64>>,
    objective: dsm_core::Estimate,
    converged: bool,
    iterations: u64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Robust starting points: coordinate medians, and log(1.4826 MAD) for a log-scale.
fn default_start(family: &Family, xs: &Samples) -> Vec<f64> {
    let d = xs.dim();
    let column = |j: usize| xs.rows().map(|r| r[j]).collect::<Vec<f64>>();
    let medians: Vec<f64> = (0..d).map(|j| median(column(j))).collect();
    match family {
        Family::StudentT(_, free_dof) => {
            let m = medians[0];
            let mad = median(column(0).iter().map(|x| (x - m).abs()).collect());
            let mut start = vec![m, (1.4826 * mad).max(1e-12).ln()];
            if *free_dof {
                start.push(5f64.ln());
            }
            start
        }
        _ => medians,
    }
}

fn run<O: Objective>(
    objective: &O,
    family: &Family,
    start: &[f64],
    xs: &Samples,
    par: dsm_core::Par,
) -> dsm_core::Result<Fitted> {
    let minimum = |m: dsm_fit::Minimum| Fitted {
        theta: m.theta,
        std_err: m.std_err,
        covariance: m.covariance,
        objective: m.objective,
        converged: m.converged,
        iterations: m.iterations,
    };
    let options = MinimizeOptions::default();
    Ok(match family {
        Family::Gaussian(f) => {
            let fit = f.fit(objective, xs, par)?;
            Fitted {
                theta: fit.theta,
                std_err: Some(fit.std_err),
                covariance: Some(fit.covariance),
                objective: fit.objective,
                converged: true,
                iterations: 0,
            }
        }
        Family::GaussianMean(f) => minimum(objective.minimize(f, start, xs, par, options)?),
        Family::StudentT(f, _) => minimum(objective.minimize(f, start, xs, par, options)?),
        Family::MultivariateStudentT(f) => minimum(objective.minimize(f, start, xs, par, options)?),
    })
}

/// Fits a built-in family to the draws (n × d). family: "gaussian" (N(μ, Σ) as an
/// exponential family, solved in closed form), "gaussian_mean" (μ at a fixed `covariance`),
/// "student_t" (1-D location and log-scale at `df`, or also log-df when `df` is None),
/// "multivariate_student_t" (location at a fixed `scale` matrix and `df`). method: "sm",
/// "dsm" (with `diffusion`), "ksd" (with `stein`, default IMQ U-statistic). `start`
/// defaults to coordinate medians (and the log of 1.4826 × MAD for a scale).
#[pyfunction]
#[pyo3(signature = (samples, family, *, method="sm", df=None, covariance=None, scale=None, diffusion=None, stein=None, start=None, weights=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn fit(
    py: Python<'_>,
    samples: PyReadonlyArray2<'_, f64>,
    family: &str,
    method: &str,
    df: Option<f64>,
    covariance: Option<PyReadonlyArray2<'_, f64>>,
    scale: Option<PyReadonlyArray2<'_, f64>>,
    diffusion: Option<Bound<'_, PyAny>>,
    stein: Option<Bound<'_, SteinKernel>>,
    start: Option<Vec<f64>>,
    weights: Option<PyReadonlyArray1<'_, f64>>,
    threads: Option<usize>,
) -> PyResult<FitResult> {
    let xs = crate::convert::samples(&samples, weights.as_ref())?;
    let d = xs.dim();
    let needs = |what: &str| value_error(format!("family {family:?} needs `{what}`"));
    let fam = match family {
        "gaussian" => Family::Gaussian(ExponentialFamily::new(
            GaussianStatistic::new(d).map_err(error)?,
        )),
        "gaussian_mean" => {
            let cov = covariance.as_ref().ok_or_else(|| needs("covariance"))?;
            Family::GaussianMean(GaussianMeanFamily::new(d, &flat(cov)).map_err(error)?)
        }
        "student_t" => match df {
            Some(df) => Family::StudentT(StudentTFamily::new(df).map_err(error)?, false),
            None => Family::StudentT(StudentTFamily::with_free_dof(), true),
        },
        "multivariate_student_t" => {
            let s = scale.as_ref().ok_or_else(|| needs("scale"))?;
            let df = df.ok_or_else(|| needs("df"))?;
            Family::MultivariateStudentT(
                MultivariateStudentTFamily::new(d, &flat(s), df).map_err(error)?,
            )
        }
        other => {
            return Err(value_error(format!(
                "family must be 'gaussian', 'gaussian_mean', 'student_t' or 'multivariate_student_t', got {other:?}"
            )));
        }
    };
    let start = start.unwrap_or_else(|| default_start(&fam, &xs));
    let p = par(threads);
    let spec = DiffusionSpec::extract(diffusion.as_ref())?;
    let fitted = match method {
        "sm" => py.allow_threads(|| run(&ScoreMatching, &fam, &start, &xs, p)),
        "dsm" => py.allow_threads(|| {
            with_diffusion!(spec.resolve_plain(&xs)?, d, |m| {
                run(&DiffusionScoreMatching(&m), &fam, &start, &xs, p)
            })
        }),
        "ksd" => {
            let spec = match stein {
                Some(s) => s.get().clone(),
                None => SteinKernel::imq(1.0, -0.5, "u")?,
            };
            with_stein!(&spec, &xs, |s| Ok::<_, PyErr>(
                py.allow_threads(|| run(&s, &fam, &start, &xs, p))
            ))?
        }
        other => {
            return Err(value_error(format!(
                "method must be 'sm', 'dsm' or 'ksd', got {other:?}"
            )));
        }
    }
    .map_err(error)?;
    let parameters = PyDict::new(py);
    match &fam {
        Family::Gaussian(f) => {
            let (mean, precision) = f
                .statistic()
                .mean_and_precision(&fitted.theta)
                .map_err(error)?;
            parameters.set_item("mean", mean)?;
            parameters.set_item("precision", crate::models::to_matrix(py, precision, d)?)?;
        }
        Family::StudentT(_, free) => {
            parameters.set_item("location", fitted.theta[0])?;
            parameters.set_item("scale", fitted.theta[1].exp())?;
            parameters.set_item(
                "dof",
                if *free {
                    fitted.theta[2].exp()
                } else {
                    df.unwrap_or(f64::NAN)
                },
            )?;
        }
        Family::GaussianMean(_) | Family::MultivariateStudentT(_) => {
            parameters.set_item("location", fitted.theta.clone())?;
        }
    }
    let n_params = fitted.theta.len();
    let covariance = match fitted.covariance {
        Some(c) => Some(crate::models::to_matrix(py, c, n_params)?.unbind()),
        None => None,
    };
    Ok(FitResult {
        theta: fitted.theta,
        std_err: fitted.std_err,
        covariance,
        objective: fitted.objective.into(),
        converged: fitted.converged,
        iterations: fitted.iterations,
        parameters: parameters.unbind(),
        family: family.to_string(),
        method: method.to_string(),
    })
}
