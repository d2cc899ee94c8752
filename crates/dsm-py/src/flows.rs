//! Flows with exact Jacobians and inverses: `Flow` (a chain of layers) and its layer
//! subclasses `GaussianFlow`, `ManualFlow`, `SinhArcsinh`, `Affine`, `Planar`, `Radial`;
//! `chain` composes them. Every flow is also a diffusion m = (∇T)⁻¹ for `dksd`, `dsm_loss`
//! and the tests.

use dsm_core::mc;
use dsm_flows::{
    Affine as AffineLayer, Chain, Elementwise, Flow as _, GaussianFlow as GaussianMap, Layer,
    ManualFlow as ManualMap, Planar as PlanarLayer, Radial as RadialLayer,
    SinhArcsinh as SinhArcsinhMap,
};
use numpy::prelude::*;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::convert::{error, flat, par, samples, value_error};
use crate::models::to_matrix;

/// Mapped points and the log-determinants of the map's Jacobian.
type Mapped<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray1<f64>>);

/// A normalising flow T: ℝᵈ → ℝᵈ, the composition of its layers (applied first to last).
#[pyclass(subclass, frozen, module = "diffusion_score_matching")]
pub struct Flow {
    pub chain: Chain<Layer>,
    name: String,
}

impl Flow {
    fn of(layers: Vec<Layer>, name: String) -> PyResult<Self> {
        Ok(Flow {
            chain: Chain::new(layers).map_err(error)?,
            name,
        })
    }

    fn check(&self, x: &PyReadonlyArray2<'_, f64>) -> PyResult<dsm_core::Samples> {
        let xs = samples(x, None)?;
        dsm_core::validate::same_dim(
            "dimension of x",
            xs.dim(),
            "dimension of the flow",
            self.chain.dim(),
        )
        .map_err(error)?;
        Ok(xs)
    }
}

#[pymethods]
impl Flow {
    /// The dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.chain.dim()
    }

    /// Number of layers.
    #[getter]
    fn n_layers(&self) -> usize {
        self.chain.layer_count()
    }

    /// T(x) and log|det ∇T(x)| for each row of x: (n × d, n).
    #[pyo3(signature = (x, threads=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Mapped<'py>> {
        let xs = self.check(&x)?;
        let (ys, log_det) = py
            .allow_threads(|| self.chain.forward_batch(&xs, par(threads)))
            .map_err(error)?;
        let d = ys.dim();
        Ok((to_matrix(py, ys.into_vec(), d)?, log_det.into_pyarray(py)))
    }

    /// T⁻¹(y) and log|det ∇T⁻¹(y)| for each row of y: (n × d, n).
    #[pyo3(signature = (y, threads=None))]
    fn inverse<'py>(
        &self,
        py: Python<'py>,
        y: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Mapped<'py>> {
        let ys = self.check(&y)?;
        let (xs, log_det) = py
            .allow_threads(|| self.chain.inverse_batch(&ys, par(threads)))
            .map_err(error)?;
        let d = xs.dim();
        Ok((to_matrix(py, xs.into_vec(), d)?, log_det.into_pyarray(py)))
    }

    /// log|det ∇T(x)| for each row of x.
    #[pyo3(signature = (x, threads=None))]
    fn log_abs_det_jacobian<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let xs = self.check(&x)?;
        let v = py
            .allow_threads(|| {
                mc::map_samples(
                    &xs,
                    par(threads),
                    || (),
                    |_, i, x| {
                        self.chain
                            .log_abs_det_jacobian(x)
                            .map_err(|e| e.at_sample(i))
                    },
                )
            })
            .map_err(error)?;
        Ok(v.into_pyarray(py))
    }

    /// The Jacobian ∇T(x), J[i, j, k] = ∂T_j/∂x_k at row i: n × d × d.
    #[pyo3(signature = (x, threads=None))]
    fn jacobian<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray3<f64>>> {
        let xs = self.check(&x)?;
        let d = xs.dim();
        let v = py
            .allow_threads(|| {
                mc::map_rows(
                    &xs,
                    d * d,
                    par(threads),
                    || (),
                    |_, i, x, jac| {
                        self.chain.jacobian_into(x, jac);
                        if jac.iter().all(|v| v.is_finite()) {
                            Ok(())
                        } else {
                            Err(dsm_core::Error::NonFiniteValue {
                                quantity: "Jacobian of the flow",
                                index: i,
                            })
                        }
                    },
                )
            })
            .map_err(error)?;
        let n = xs.n();
        v.into_pyarray(py)
            .reshape([n, d, d])
            .map_err(|e| value_error(e.to_string()))
    }

    /// This flow followed by `other`.
    fn then(&self, other: &Bound<'_, Flow>) -> PyResult<Flow> {
        chain_of(&[self, other.get()])
    }

    fn __repr__(&self) -> String {
        self.name.clone()
    }
}

fn chain_of(flows: &[&Flow]) -> PyResult<Flow> {
    let layers: Vec<Layer> = flows
        .iter()
        .flat_map(|f| f.chain.layers().iter().cloned())
        .collect();
    let names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
    Flow::of(layers, format!("chain([{}])", names.join(", ")))
}

/// The composition of flows, first to last.
#[pyfunction]
pub fn chain(flows: Vec<Bound<'_, Flow>>) -> PyResult<Flow> {
    let refs: Vec<&Flow> = flows.iter().map(|f| f.get()).collect();
    if refs.is_empty() {
        return Err(value_error("chain needs at least one flow"));
    }
    chain_of(&refs)
}

/// The Gaussian flow Φ⁻¹∘F of St(loc, scale, df) on each of `dim` coordinates: maps that
/// Student-t to N(0, 1), in log space in the tails.
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct GaussianFlow;

#[pymethods]
impl GaussianFlow {
    #[new]
    #[pyo3(signature = (loc=0.0, scale=1.0, df=1.0, dim=1))]
    fn new(loc: f64, scale: f64, df: f64, dim: usize) -> PyResult<(Self, Flow)> {
        let map = GaussianMap::new(loc, scale, df).map_err(error)?;
        let layer = Layer::Gaussian(Elementwise::uniform(map, dim).map_err(error)?);
        let name = format!("GaussianFlow(loc={loc}, scale={scale}, df={df}, dim={dim})");
        Ok((GaussianFlow, Flow::of(vec![layer], name)?))
    }
}

/// The paper's manual flow of St(loc, scale, df) on each of `dim` coordinates.
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct ManualFlow;

#[pymethods]
impl ManualFlow {
    #[new]
    #[pyo3(signature = (loc=0.0, scale=1.0, df=1.0, dim=1))]
    fn new(loc: f64, scale: f64, df: f64, dim: usize) -> PyResult<(Self, Flow)> {
        let map = ManualMap::new(loc, scale, df).map_err(error)?;
        let layer = Layer::Manual(Elementwise::uniform(map, dim).map_err(error)?);
        let name = format!("ManualFlow(loc={loc}, scale={scale}, df={df}, dim={dim})");
        Ok((ManualFlow, Flow::of(vec![layer], name)?))
    }
}

/// The sinh–arcsinh map sinh(tail·asinh(x) − skew) on each of `dim` coordinates.
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct SinhArcsinh;

#[pymethods]
impl SinhArcsinh {
    #[new]
    #[pyo3(signature = (skew=0.0, tail=1.0, dim=1))]
    fn new(skew: f64, tail: f64, dim: usize) -> PyResult<(Self, Flow)> {
        let map = SinhArcsinhMap::new(skew, tail).map_err(error)?;
        let layer = Layer::SinhArcsinh(Elementwise::uniform(map, dim).map_err(error)?);
        let name = format!("SinhArcsinh(skew={skew}, tail={tail}, dim={dim})");
        Ok((SinhArcsinh, Flow::of(vec![layer], name)?))
    }
}

/// The affine map x ↦ A x + shift (A d × d, invertible).
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct Affine;

#[pymethods]
impl Affine {
    #[new]
    fn new(a: PyReadonlyArray2<'_, f64>, shift: Vec<f64>) -> PyResult<(Self, Flow)> {
        let d = a.shape()[0];
        crate::convert::expect_shape("a", a.shape(), &[d, d])?;
        let layer = Layer::Affine(AffineLayer::new(d, flat(&a), shift).map_err(error)?);
        Ok((Affine, Flow::of(vec![layer], format!("Affine(dim={d})"))?))
    }
}

/// The planar layer x ↦ x + u tanh(wᵀx + b) (Rezende & Mohamed 2015).
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct Planar;

#[pymethods]
impl Planar {
    #[new]
    fn new(u: Vec<f64>, w: Vec<f64>, b: f64) -> PyResult<(Self, Flow)> {
        let d = u.len();
        let layer = Layer::Planar(PlanarLayer::new(u, w, b).map_err(error)?);
        Ok((Planar, Flow::of(vec![layer], format!("Planar(dim={d})"))?))
    }
}

/// The radial layer x ↦ x + β (x − centre) / (α + ‖x − centre‖) (Rezende & Mohamed 2015).
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct Radial;

#[pymethods]
impl Radial {
    #[new]
    fn new(centre: Vec<f64>, alpha: f64, beta: f64) -> PyResult<(Self, Flow)> {
        let d = centre.len();
        let layer = Layer::Radial(RadialLayer::new(centre, alpha, beta).map_err(error)?);
        Ok((Radial, Flow::of(vec![layer], format!("Radial(dim={d})"))?))
    }
}

/// The affine coupling layer y_B = x_B ⊙ exp(s(x_A)) + t(x_A) with a one-hidden-layer tanh
/// conditioner; A is the first ⌊d/2⌋ coordinates (`condition_on_first`) or the last ⌈d/2⌉.
/// Weights as row-major arrays w1 (hidden × |A|), b1, ws (|B| × hidden), bs, wt, bt; or
/// `AffineCoupling.seeded(dim, hidden, condition_on_first, scale, seed)` for a reproducible
/// uniform initialisation.
#[pyclass(extends = Flow, frozen, module = "diffusion_score_matching")]
pub struct AffineCoupling;

#[pymethods]
impl AffineCoupling {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        dim: usize,
        hidden: usize,
        condition_on_first: bool,
        w1: PyReadonlyArray2<'_, f64>,
        b1: Vec<f64>,
        ws: PyReadonlyArray2<'_, f64>,
        bs: Vec<f64>,
        wt: PyReadonlyArray2<'_, f64>,
        bt: Vec<f64>,
    ) -> PyResult<(Self, Flow)> {
        let weights = dsm_flows::CouplingWeights {
            w1: flat(&w1),
            b1,
            ws: flat(&ws),
            bs,
            wt: flat(&wt),
            bt,
        };
        let layer = dsm_flows::AffineCoupling::new(dim, hidden, condition_on_first, weights)
            .map_err(error)?;
        let name = format!("AffineCoupling(dim={dim}, hidden={hidden})");
        Ok((
            AffineCoupling,
            Flow::of(vec![Layer::Coupling(layer)], name)?,
        ))
    }

    /// A layer with weights uniform on [−scale, scale] from a seeded generator.
    #[staticmethod]
    #[pyo3(signature = (dim, hidden, condition_on_first=true, scale=0.5, seed=0))]
    fn seeded(
        py: Python<'_>,
        dim: usize,
        hidden: usize,
        condition_on_first: bool,
        scale: f64,
        seed: u64,
    ) -> PyResult<Py<AffineCoupling>> {
        let layer = dsm_flows::AffineCoupling::seeded(dim, hidden, condition_on_first, scale, seed)
            .map_err(error)?;
        let name = format!("AffineCoupling.seeded(dim={dim}, hidden={hidden}, seed={seed})");
        let init = PyClassInitializer::from(Flow::of(vec![Layer::Coupling(layer)], name)?)
            .add_subclass(AffineCoupling);
        Py::new(py, init)
    }
}
