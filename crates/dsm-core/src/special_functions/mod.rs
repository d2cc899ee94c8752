//! Special functions in log space, accurate for every parameter the constructors accept:
//! the standard normal ([`normal`]), the Student-t ([`StudentTFunctions`]) and the ratio of
//! gamma functions they need ([`gamma`]), and the incomplete beta and gamma functions with
//! the inverse of the latter ([`incomplete`]).
//!
//! Every iterative method here has a convergence check that returns
//! [`Error::NotConverged`](crate::Error::NotConverged), never a partial sum (docs/math.md
//! section 10).

pub mod gamma;
pub mod incomplete;
pub mod normal;
mod student_t;

pub use student_t::{StudentTFunctions, StudentTTail};
