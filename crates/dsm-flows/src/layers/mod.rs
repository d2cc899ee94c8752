//! The flow layers.

mod affine;
mod chain;
mod compose;
mod coupling;
pub(crate) mod elementwise;
mod gaussian;
mod manual;
mod planar;
mod power_tail;
mod radial;
mod radial_gaussian;
mod sinh_arcsinh;

pub use affine::Affine;
pub use chain::{Chain, Layer};
pub use compose::Compose;
pub use coupling::{AffineCoupling, CouplingWeights};
pub use elementwise::{Elementwise, ScalarMap};
pub use gaussian::GaussianFlow;
pub use manual::ManualFlow;
pub use planar::Planar;
pub use power_tail::PowerTail;
pub(crate) use power_tail::power_tail_value;
pub use radial::Radial;
pub use radial_gaussian::RadialGaussianFlow;
pub use sinh_arcsinh::SinhArcsinh;
