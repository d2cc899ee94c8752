//! Built-in models with normalised log-densities, closed-form scores and Hessians, and
//! seeded samplers.

mod gamma;
mod gauss_bernoulli_rbm;
mod gaussian;
mod multivariate_student_t;
mod spd;
mod student_t;

pub use gamma::GammaDist;
pub use gauss_bernoulli_rbm::GaussBernoulliRbm;
pub use gaussian::Gaussian;
pub use multivariate_student_t::MultivariateStudentT;
pub use student_t::StudentT;

/// The χ²_ν law used by the Student-t samplers (ν already validated as positive).
fn chi_squared(owner: &'static str, dof: f64) -> crate::Result<rand_distr::ChiSquared<f64>> {
    rand_distr::ChiSquared::new(dof).map_err(|_| crate::Error::InvalidParameter {
        owner,
        name: "dof",
        value: dof,
        constraint: "finite and > 0",
    })
}
