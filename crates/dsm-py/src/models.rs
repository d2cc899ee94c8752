//! The built-in models: `Gaussian`, `StudentT`, `MultivariateStudentT`, `Gamma` and
//! `GaussBernoulliRbm`, each a subclass of `Model` (log density, score, Laplacian, sampling).

use dsm_core::{
    GammaDist, GaussBernoulliRbm as Rbm, Gaussian as GaussianModel, Hessian, LogDensity,
    MultivariateStudentT as MvtModel, Sampler, Samples, Score, StudentT as StudentTModel, mc,
};
use numpy::prelude::*;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::convert::{error, par, samples};

/// One of the built-in models.
#[derive(Clone)]
pub enum ModelKind {
    Gaussian(GaussianModel),
    StudentT(StudentTModel),
    MultivariateStudentT(MvtModel),
    Gamma(GammaDist),
    Rbm(Rbm),
}

/// Evaluates `$body` with `$p` bound to the concrete model.
macro_rules! with_model {
    ($kind:expr, |$p:ident| $body:expr) => {
        match $kind {
            $crate::models::ModelKind::Gaussian($p) => $body,
            $crate::models::ModelKind::StudentT($p) => $body,
            $crate::models::ModelKind::MultivariateStudentT($p) => $body,
            $crate::models::ModelKind::Gamma($p) => $body,
            $crate::models::ModelKind::Rbm($p) => $body,
        }
    };
}
pub(crate) use with_model;

/// A model with exact scores and Hessians: the base class of the built-in models.
#[pyclass(subclass, frozen, module = "diffusion_score_matching")]
pub struct Model {
    pub kind: ModelKind,
    name: String,
}

impl Model {
    fn dim(&self) -> usize {
        with_model!(&self.kind, |p| p.dim())
    }

    /// Per-row values `f(model, x, out)` of width `width` on the rows of `x`.
    fn rows(
        &self,
        py: Python<'_>,
        x: &PyReadonlyArray2<'_, f64>,
        width: usize,
        threads: Option<usize>,
        (quantity, allow_minus_inf): (&'static str, bool),
        f: impl Fn(&ModelKind, &[f64], &mut [f64]) + Sync,
    ) -> PyResult<Vec<f64>> {
        let xs = samples(x, None)?;
        dsm_core::validate::same_dim(
            "dimension of x",
            xs.dim(),
            "dimension of the model",
            self.dim(),
        )
        .map_err(error)?;
        let kind = &self.kind;
        py.allow_threads(|| {
            mc::map_rows(
                &xs,
                width,
                par(threads),
                || (),
                |_, i, x, out| {
                    f(kind, x, out);
                    // A log density may round to −∞ far out (the log of an underflowed
                    // density); anything else not finite is an error naming the sample.
                    let ok =
                        |v: &f64| v.is_finite() || (allow_minus_inf && *v == f64::NEG_INFINITY);
                    if out.iter().all(ok) {
                        Ok(())
                    } else {
                        Err(dsm_core::Error::NonFiniteValue { quantity, index: i })
                    }
                },
            )
        })
        .map_err(error)
    }
}

#[pymethods]
impl Model {
    /// The dimension d.
    #[getter(dim)]
    fn py_dim(&self) -> usize {
        self.dim()
    }

    /// log p(x) for each row of x (n × d), up to the model's normalising constant where it
    /// has none in closed form (the RBM).
    #[pyo3(signature = (x, threads=None))]
    fn log_density<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let v = self.rows(py, &x, 1, threads, ("log density", true), |k, x, out| {
            out[0] = with_model!(k, |p| p.log_density(x))
        })?;
        Ok(v.into_pyarray(py))
    }

    /// The score ∇ log p(x) for each row of x: n × d.
    #[pyo3(signature = (x, threads=None))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let d = self.dim();
        let v = self.rows(py, &x, d, threads, ("score", false), |k, x, out| {
            with_model!(k, |p| p.score_into(x, out))
        })?;
        to_matrix(py, v, d)
    }

    /// The Laplacian Δ log p(x) = tr ∇² log p(x) for each row of x.
    #[pyo3(signature = (x, threads=None))]
    fn laplacian<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let d = self.dim();
        let v = self.rows(py, &x, 1, threads, ("Laplacian", false), |k, x, out| {
            let mut h = vec![0.0; d * d];
            out[0] = with_model!(k, |p| p.laplacian(x, &mut h))
        })?;
        Ok(v.into_pyarray(py))
    }

    /// n draws (n × d) from the stream `seed` (the same draws for any `threads`).
    #[pyo3(signature = (n, seed=0, threads=None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let kind = &self.kind;
        let xs: Samples = py
            .allow_threads(|| with_model!(kind, |p| p.sample_n(n, seed, par(threads))))
            .map_err(error)?;
        let d = xs.dim();
        to_matrix(py, xs.into_vec(), d)
    }

    fn __repr__(&self) -> String {
        self.name.clone()
    }
}

/// A row-major buffer as an n × d numpy array.
pub fn to_matrix(py: Python<'_>, v: Vec<f64>, d: usize) -> PyResult<Bound<'_, PyArray2<f64>>> {
    let n = v.len().checked_div(d).unwrap_or(0);
    v.into_pyarray(py)
        .reshape([n, d])
        .map_err(|e| crate::convert::value_error(e.to_string()))
}

/// N(mean, cov).
#[pyclass(extends = Model, frozen, module = "diffusion_score_matching")]
pub struct Gaussian;

#[pymethods]
impl Gaussian {
    #[new]
    fn new(mean: Vec<f64>, cov: PyReadonlyArray2<'_, f64>) -> PyResult<(Self, Model)> {
        let m = GaussianModel::new(mean.clone(), &crate::convert::flat(&cov)).map_err(error)?;
        let name = format!("Gaussian(mean={mean:?})");
        Ok((
            Gaussian,
            Model {
                kind: ModelKind::Gaussian(m),
                name,
            },
        ))
    }
}

/// The Student-t St(loc, scale, df) in one dimension.
#[pyclass(extends = Model, frozen, module = "diffusion_score_matching")]
pub struct StudentT;

#[pymethods]
impl StudentT {
    #[new]
    #[pyo3(signature = (loc=0.0, scale=1.0, df=1.0))]
    fn new(loc: f64, scale: f64, df: f64) -> PyResult<(Self, Model)> {
        let m = StudentTModel::new(loc, scale, df).map_err(error)?;
        let name = format!("StudentT(loc={loc}, scale={scale}, df={df})");
        Ok((
            StudentT,
            Model {
                kind: ModelKind::StudentT(m),
                name,
            },
        ))
    }
}

/// The multivariate Student-t with location, scale matrix (d × d) and df.
#[pyclass(extends = Model, frozen, module = "diffusion_score_matching")]
pub struct MultivariateStudentT;

#[pymethods]
impl MultivariateStudentT {
    #[new]
    fn new(loc: Vec<f64>, scale: PyReadonlyArray2<'_, f64>, df: f64) -> PyResult<(Self, Model)> {
        let m = MvtModel::new(loc.clone(), &crate::convert::flat(&scale), df).map_err(error)?;
        let name = format!("MultivariateStudentT(loc={loc:?}, df={df})");
        Ok((
            MultivariateStudentT,
            Model {
                kind: ModelKind::MultivariateStudentT(m),
                name,
            },
        ))
    }
}

/// The Gamma distribution with shape k and scale θ (density ∝ x^{k−1} e^{−x/θ}), one
/// dimension.
#[pyclass(extends = Model, frozen, module = "diffusion_score_matching")]
pub struct Gamma;

#[pymethods]
impl Gamma {
    #[new]
    #[pyo3(signature = (shape, scale=1.0))]
    fn new(shape: f64, scale: f64) -> PyResult<(Self, Model)> {
        let m = GammaDist::new(shape, scale).map_err(error)?;
        let name = format!("Gamma(shape={shape}, scale={scale})");
        Ok((
            Gamma,
            Model {
                kind: ModelKind::Gamma(m),
                name,
            },
        ))
    }
}

/// The Gauss–Bernoulli RBM with weights B (visible × hidden), visible bias b and hidden
/// bias c (Liu et al. 2016's benchmark).
#[pyclass(extends = Model, frozen, module = "diffusion_score_matching")]
pub struct GaussBernoulliRbm;

#[pymethods]
impl GaussBernoulliRbm {
    #[new]
    fn new(
        weights: PyReadonlyArray2<'_, f64>,
        b: Vec<f64>,
        c: Vec<f64>,
    ) -> PyResult<(Self, Model)> {
        let shape = weights.shape();
        let (visible, hidden) = (shape[0], shape[1]);
        let m = Rbm::new(crate::convert::flat(&weights), visible, hidden, b, c).map_err(error)?;
        let name = format!("GaussBernoulliRbm(visible={visible}, hidden={hidden})");
        Ok((
            GaussBernoulliRbm,
            Model {
                kind: ModelKind::Rbm(m),
                name,
            },
        ))
    }
}
