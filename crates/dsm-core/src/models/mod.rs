//! Built-in models with normalised log-densities, closed-form scores and Hessians, and
//! seeded samplers.

mod gaussian;
mod multivariate_student_t;
mod spd;
mod student_t;

pub use gaussian::Gaussian;
pub use multivariate_student_t::MultivariateStudentT;
pub use student_t::StudentT;
