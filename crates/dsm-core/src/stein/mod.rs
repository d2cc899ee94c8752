//! Kernel Stein discrepancies: the Langevin KSD (Liu et al. 2016; Chwialkowski et al. 2016)
//! and the diffusion KSD (Barp et al. 2019), their estimators, and a goodness-of-fit test.
//!
//! Both are means of a Stein kernel k⁰ over pairs of samples (docs/math.md section 7):
//!
//! ```text
//! KSD²  = E_{x,x'~q} k⁰(x, x')
//! U     = 1/(n(n−1)) Σ_{i≠j} k⁰(xᵢ, xⱼ)          V = 1/n² Σ_{i,j} k⁰(xᵢ, xⱼ)
//! ```
//! The engine computes per-point quantities (scores, m, b) once, sums k⁰ over the upper
//! triangle in row blocks (parallel per [`Par`](crate::Par), reduced in a fixed order, so the
//! result is bit-identical for any thread count) and keeps O(n) memory: no n × n matrix is
//! formed except by the bootstrap of [`KsdTest`], which states its memory need up front.

mod aggregated_test;
mod bootstrap;
mod decision;
mod diagonal_tiles;
mod estimate;
mod gram_tiles;
mod ksd;
mod ksd_test;
mod linear_test;
mod pairwise;
mod parametric_test;
mod points;
mod streaming;

pub use aggregated_test::{
    AggregatedKsdTest, AggregatedTestResult, AggregationCandidate, Candidate, CandidateOutcome,
};
pub use bootstrap::{Bootstrap, DEFAULT_MEMORY_CAP, KsdTest, KsdTestResult};
pub use decision::Decision;
pub use estimate::{Estimator, KsdEstimate};
pub use ksd::{DiffusionKsd, Ksd};
pub use ksd_test::ksd_test;
pub use linear_test::{LinearKsdTest, LinearKsdTestResult};
pub use parametric_test::{NullDistribution, ParametricKsdTest};
pub use points::{PairScratch, SteinKernel, SteinPoints};
