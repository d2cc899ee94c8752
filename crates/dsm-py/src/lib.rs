//! Python bindings of dsm (module `diffusion_score_matching`): kernel Stein discrepancies
//! and goodness-of-fit tests, Stein thinning and weights, score-matching losses with
//! partial states that merge exactly across shards, the built-in models, flows with exact
//! Jacobians, and fitting, from numpy arrays.
//!
//! Arrays are float64 (another dtype is a `TypeError`); each is copied once into the
//! engine's row-major layout (a memcpy when it is C-contiguous, numpy's element order
//! otherwise). The GIL is released during compute; `threads` (default: all cores) never
//! changes a result. dsm errors are `ValueError`s carrying the Rust message, which names
//! the parameter, sample or layer at fault.

mod convert;
mod fit;
mod flows;
mod losses;
mod mcmc;
mod models;
mod stein;
mod tests;

use pyo3::prelude::*;

/// The module.
#[pymodule]
fn diffusion_score_matching(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(stein::ksd, module)?)?;
    module.add_function(wrap_pyfunction!(stein::dksd, module)?)?;
    module.add_function(wrap_pyfunction!(stein::dksd_tilted, module)?)?;
    module.add_function(wrap_pyfunction!(tests::ksd_test, module)?)?;
    module.add_function(wrap_pyfunction!(tests::linear_ksd_test, module)?)?;
    module.add_function(wrap_pyfunction!(tests::aggregated_ksd_test, module)?)?;
    module.add_function(wrap_pyfunction!(mcmc::stein_thin, module)?)?;
    module.add_function(wrap_pyfunction!(mcmc::stein_weights, module)?)?;
    module.add_function(wrap_pyfunction!(mcmc::stein_thin_regularized, module)?)?;
    module.add_function(wrap_pyfunction!(mcmc::cumulative_ksd, module)?)?;
    module.add_function(wrap_pyfunction!(mcmc::diagnose_chains, module)?)?;
    module.add_function(wrap_pyfunction!(losses::score_matching_loss, module)?)?;
    module.add_function(wrap_pyfunction!(losses::score_matching_partial, module)?)?;
    module.add_function(wrap_pyfunction!(losses::dsm_loss, module)?)?;
    module.add_function(wrap_pyfunction!(losses::dsm_partial, module)?)?;
    module.add_function(wrap_pyfunction!(flows::chain, module)?)?;
    module.add_function(wrap_pyfunction!(fit::fit, module)?)?;
    module.add_class::<losses::Estimate>()?;
    module.add_class::<losses::PartialEstimate>()?;
    module.add_class::<tests::KsdTestResult>()?;
    module.add_class::<tests::AggregatedTestResult>()?;
    module.add_class::<fit::FitResult>()?;
    module.add_class::<stein::SteinKernel>()?;
    module.add("TiltedDiffusion", module.py().get_type::<stein::Tilted>())?;
    module.add(
        "ConstantDiffusion",
        module.py().get_type::<stein::Constant>(),
    )?;
    module.add_class::<models::Model>()?;
    module.add_class::<models::Gaussian>()?;
    module.add_class::<models::StudentT>()?;
    module.add_class::<models::MultivariateStudentT>()?;
    module.add_class::<models::Gamma>()?;
    module.add_class::<models::GaussBernoulliRbm>()?;
    module.add_class::<flows::Flow>()?;
    module.add_class::<flows::GaussianFlow>()?;
    module.add_class::<flows::ManualFlow>()?;
    module.add_class::<flows::SinhArcsinh>()?;
    module.add_class::<flows::Affine>()?;
    module.add_class::<flows::Planar>()?;
    module.add_class::<flows::Radial>()?;
    module.add_class::<flows::AffineCoupling>()?;
    Ok(())
}
