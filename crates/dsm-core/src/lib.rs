//! # dsm-core
//!
//! Densities with exact derivatives, a deterministic parallel Monte Carlo engine, and the
//! Fisher-type objectives of score matching (SM) and diffusion score matching (DSM):
//!
//! | function | formula | docs/math.md |
//! |---|---|---|
//! | [`fisher_divergence`] | E_q ‖s_q − s_p‖² | eq. 1 |
//! | [`score_matching_loss`] | E_q[‖s_p‖² + 2 Δ log p] | eq. 2 |
//! | [`diffusion_fisher_divergence`] | E_q ‖mᵀ(s_q − s_p)‖² | eq. 5 |
//! | [`diffusion_score_matching_loss`] | E_q[‖mᵀ s_p‖² + 2 ∇·(m mᵀ s_p)] | eq. 6 |
//! | [`SteinKernel::estimate`] on [`Ksd`] | E_{x,x'~q} u_p(x, x') (Langevin kernel Stein discrepancy) | eq. 3, §7.1 |
//! | [`SteinKernel::estimate`] on [`DiffusionKsd`] | E_{x,x'~q} k⁰(x, x') (diffusion kernel Stein discrepancy) | eq. 7, §7.2 |
//! | [`KsdTest::run`] | wild-bootstrap goodness-of-fit test of q = p | §8 |
//! | [`ksd_test`] | the same test in one call, with documented defaults | §8 |
//!
//! Models implement the capability traits [`LogDensity`], [`Score`] and [`Hessian`]; the
//! built-ins ([`Gaussian`], [`StudentT`], [`MultivariateStudentT`]) use closed forms, and
//! [`AutoDiff`] derives exact scores and Hessians (num-dual) from a log-density written once
//! over the workspace's one scalar trait, [`Scalar`] (`f64` or a num-dual type). A
//! [`Diffusion`] is a matrix field m(x) with exact derivatives.
//! Every estimate is bit-identical for any [`Par`] thread count.
//!
//! ```
//! use dsm_core::*;
//!
//! // Data from a heavy-tailed Student-t, a model one unit to the right.
//! let q = StudentT::new(0.0, 1.0, 10.0)?;
//! let p = StudentT::new(1.0, 1.0, 10.0)?;
//! let xs = q.sample_n(1000, 42, Par::Seq)?;
//!
//! // Score matching, and DSM with the tail-growing diffusion m(x) = sqrt(1 + (x−μ)²/ν₀).
//! let sm = score_matching_loss(&p, &xs, Par::Seq)?;
//! let m = DiffusionFn::new(
//!     1,
//!     |x: &[f64], m: &mut [f64]| m[0] = (1.0 + (x[0] - 1.0).powi(2) / 10.0).sqrt(),
//!     |x: &[f64], dm: &mut [f64]| dm[0] = (x[0] - 1.0) / (10.0 * (1.0 + (x[0] - 1.0).powi(2) / 10.0).sqrt()),
//! );
//! let dsm = diffusion_score_matching_loss(&p, &m, &xs, Par::rayon(2))?;
//! assert!(sm.value.is_finite() && dsm.value.is_finite());
//! # Ok::<(), dsm_core::Error>(())
//! ```

pub mod autocorrelation;
mod autodiff;
pub mod density;
pub mod diffusion;
mod display;
mod error;
pub mod kernel;
pub mod linalg;
pub mod mc;
pub mod mcmc;
pub mod models;
pub mod objectives;
mod partial_estimate;
pub mod quadrature;
mod samples;
mod scalar;
mod scored_samples;
pub mod special_functions;
pub mod stein;
pub mod testing;

pub use autodiff::{AutoDiff, GenericDiffusion, GenericLogDensity};
pub use density::{Hessian, LogDensity, Sampler, Score};
pub use diffusion::{
    ConstantDiffusion, Diffusion, DiffusionFn, DiffusionWork, IdentityDiffusion, TiltedDiffusion,
};
pub use error::{Error, Result};

/// Parameter checks shared by the dsm crates (validated constructors).
pub mod validate {
    pub use crate::error::{MAX_REPLICATES, finite, level, positive, replicate_count, same_dim};
}
pub use kernel::{Imq, Kernel, Rbf};
pub use mc::{Estimate, Par};
pub use models::{GammaDist, GaussBernoulliRbm, Gaussian, MultivariateStudentT, StudentT};
pub use objectives::*;
pub use partial_estimate::{ChunkSums, PartialEstimate};
pub use samples::Samples;
pub use scalar::{Scalar, derivatives_of};
pub use scored_samples::ScoredSamples;
pub use stein::{
    AggregatedKsdTest, AggregatedTestResult, AggregationCandidate, Bootstrap, Candidate,
    CandidateOutcome, DiffusionKsd, Estimator, Ksd, KsdEstimate, KsdTest, KsdTestResult,
    LinearKsdTest, LinearKsdTestResult, NullDistribution, PairScratch, ParametricKsdTest,
    SteinKernel, SteinPoints, ksd_test,
};

/// Re-export of num-dual, so generic models need no direct dependency on it.
pub use num_dual;

/// Re-export of faer, whose types appear in public signatures here: [`Score::score_rows_into`]
/// writes into a [`faer::MatMut`], and [`Samples::from_faer`], [`Samples::as_faer`] and
/// [`Samples::to_faer`] convert to and from faer matrices. Implement or call those through
/// `dsm_core::faer` so that the faer version always matches this crate's.
pub use faer;

/// Re-export of rand, whose [`rand::Rng`] appears in [`Sampler::sample_into`]: implement a
/// sampler through `dsm_core::rand` so that the rand version always matches this crate's.
pub use rand;
