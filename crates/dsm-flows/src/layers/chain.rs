//! Composition of flows, and an enum of the built-in layers so that any of them can be
//! chained.

use super::{
    Affine, AffineCoupling, Elementwise, GaussianFlow, ManualFlow, Planar, Radial, SinhArcsinh,
};
use crate::flow::{Flow, offset_layer};
use dsm_core::validate::same_dim;
use dsm_core::{Error, Result, Scalar};

/// T = T_K ∘ … ∘ T₁: J = J_K ⋯ J₁ and log |det J| = Σ log |det J_k| along the way; the
/// derivatives of J follow from evaluating the composition in dual numbers.
///
/// A chain holds layers of one type `F` (the enum [`Layer`] mixes the built-ins); to chain a
/// flow of your own beside them, compose: [`Chain::then`], [`Flow::then`] or
/// [`Compose`](crate::Compose).
///
/// # Examples
/// ```
/// use dsm_flows::{Affine, Chain, Flow, Layer, Planar, Radial};
/// let t = Chain::new(vec![
///     Layer::from(Affine::new(2, vec![1.0, 0.5, 0.0, 2.0], vec![0.0, 1.0])?),
///     Layer::from(Planar::new(vec![0.3, 0.2], vec![1.0, -1.0], 0.1)?),
///     Layer::from(Radial::new(vec![0.5, 0.5], 1.0, 0.7)?),
/// ])?;
/// let (mut y, mut x) = ([0.0; 2], [0.0; 2]);
/// let log_det = t.forward_into(&[0.3, -0.8], &mut y)?;
/// let back = t.inverse_into(&y, &mut x)?;
/// assert!((log_det + back).abs() < 1e-12 && (x[1] + 0.8).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Chain<F> {
    layers: Vec<F>,
}

impl<F: Flow> Chain<F> {
    /// The composition applying `layers[0]` first.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no layers; [`Error::DimensionMismatch`] when the layers
    /// differ in dimension.
    pub fn new(layers: Vec<F>) -> Result<Self> {
        let Some(first) = layers.first() else {
            return Err(Error::InvalidParameter {
                owner: "Chain",
                name: "layers",
                value: 0.0,
                constraint: "at least one layer",
            });
        };
        let d = first.dim();
        let mut offset = 0;
        for l in &layers {
            same_dim(
                "dimension of this layer",
                l.dim(),
                "dimension of the first layer",
                d,
            )
            .map_err(|e| crate::flow::offset_layer(e, offset))?;
            offset += l.layer_count();
        }
        Ok(Self { layers })
    }

    /// This chain followed by `next`, any flow (a user's own, another chain, an
    /// [`Invert`](crate::Invert)): [`Compose`](crate::Compose), whose layer indices in errors
    /// continue this chain's.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when `next` differs in dimension.
    pub fn then<G: Flow>(self, next: G) -> Result<crate::Compose<Self, G>> {
        crate::Compose::new(self, next)
    }

    /// The layers, first applied first.
    pub fn layers(&self) -> &[F] {
        &self.layers
    }
}

impl<F: Flow> Flow for Chain<F> {
    fn dim(&self) -> usize {
        self.layers[0].dim()
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        crate::flow::with_copy(x, |cur| {
            for layer in &self.layers {
                layer.transform(cur, y);
                cur.copy_from_slice(y);
            }
        })
    }

    /// Elementwise when every layer is.
    fn is_elementwise(&self) -> bool {
        self.layers.iter().all(Flow::is_elementwise)
    }

    /// The layers' per-coordinate derivatives composed by the chain rule.
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        if !self.is_elementwise() {
            return false;
        }
        crate::layers::elementwise::compose_elementwise(
            x,
            out,
            self.layers.len(),
            |p, at, step| {
                self.layers[p].elementwise_derivatives_into(at, step);
            },
        );
        true
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        crate::flow::with_copy(y, |cur| {
            let mut offset = self.layer_count();
            for layer in self.layers.iter().rev() {
                offset -= layer.layer_count();
                layer
                    .try_inverse_into(cur, x)
                    .map_err(|e| offset_layer(e, offset))?;
                cur.copy_from_slice(x);
            }
            Ok(())
        })
    }

    fn layer_count(&self) -> usize {
        self.layers.iter().map(Flow::layer_count).sum()
    }

    /// Each layer checked in turn; an overflow names the layer that produced it (counted
    /// from 0 across nested chains, [`Flow::layer_count`]).
    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), x, y.len())?;
        crate::flow::with_copy(x, |cur| {
            let mut offset = 0;
            for layer in &self.layers {
                layer
                    .try_transform_into(cur, y)
                    .map_err(|e| offset_layer(e, offset))?;
                cur.copy_from_slice(y);
                offset += layer.layer_count();
            }
            Ok(())
        })
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        crate::flow::with_copy(x, |y| self.forward_into(x, y))
    }

    /// One pass: each layer's [`Flow::forward_into`], log-determinants summed.
    fn forward_into(&self, x: &[f64], y: &mut [f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, y.len())?;
        let total = crate::flow::with_copy(x, |cur| {
            let mut total = 0.0;
            let mut offset = 0;
            for layer in &self.layers {
                total += layer
                    .forward_into(cur, y)
                    .map_err(|e| offset_layer(e, offset))?;
                cur.copy_from_slice(y);
                offset += layer.layer_count();
            }
            Ok::<f64, dsm_core::Error>(total)
        })?;
        crate::layers::elementwise::finite_log_det(total)
    }

    /// One pass backwards: each layer's [`Flow::inverse_into`], log-determinants summed.
    fn inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        let total = crate::flow::with_copy(y, |cur| {
            let mut total = 0.0;
            let mut offset = self.layer_count();
            for layer in self.layers.iter().rev() {
                offset -= layer.layer_count();
                total += layer
                    .inverse_into(cur, x)
                    .map_err(|e| offset_layer(e, offset))?;
                cur.copy_from_slice(x);
            }
            Ok::<f64, dsm_core::Error>(total)
        })?;
        crate::layers::elementwise::finite_log_det(total)
    }
}

/// Any built-in layer, so that a [`Chain`] can mix them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Layer {
    /// [`Affine`].
    Affine(Affine),
    /// [`Planar`].
    Planar(Planar),
    /// [`Radial`].
    Radial(Radial),
    /// [`AffineCoupling`].
    Coupling(AffineCoupling),
    /// [`GaussianFlow`] on each coordinate.
    Gaussian(Elementwise<GaussianFlow>),
    /// [`ManualFlow`] on each coordinate.
    Manual(Elementwise<ManualFlow>),
    /// [`SinhArcsinh`] on each coordinate.
    SinhArcsinh(Elementwise<SinhArcsinh>),
}

macro_rules! dispatch {
    ($self:ident, $l:ident => $e:expr) => {
        match $self {
            Layer::Affine($l) => $e,
            Layer::Planar($l) => $e,
            Layer::Radial($l) => $e,
            Layer::Coupling($l) => $e,
            Layer::Gaussian($l) => $e,
            Layer::Manual($l) => $e,
            Layer::SinhArcsinh($l) => $e,
        }
    };
}

impl Flow for Layer {
    fn dim(&self) -> usize {
        dispatch!(self, l => l.dim())
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        dispatch!(self, l => l.transform(x, y))
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        dispatch!(self, l => l.inverse_unchecked_into(y, x))
    }
    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        dispatch!(self, l => l.try_transform_into(x, y))
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        dispatch!(self, l => l.log_abs_det_jacobian(x))
    }
    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        dispatch!(self, l => l.jacobian_into(x, jac))
    }
    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        dispatch!(self, l => l.jacobian_gradient_into(x, dj))
    }
    fn third_derivatives_into(&self, x: &[f64], t3: &mut [f64]) {
        dispatch!(self, l => l.third_derivatives_into(x, t3))
    }
    fn jacobian_and_gradient_into(&self, x: &[f64], jac: &mut [f64], dj: &mut [f64]) {
        dispatch!(self, l => l.jacobian_and_gradient_into(x, jac, dj))
    }
    fn is_elementwise(&self) -> bool {
        dispatch!(self, l => l.is_elementwise())
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        dispatch!(self, l => l.elementwise_derivatives_into(x, out))
    }
}

macro_rules! layer_from {
    ($variant:ident, $t:ty) => {
        impl From<$t> for Layer {
            fn from(l: $t) -> Self {
                Layer::$variant(l)
            }
        }
    };
}
layer_from!(Affine, Affine);
layer_from!(Planar, Planar);
layer_from!(Radial, Radial);
layer_from!(Coupling, AffineCoupling);
layer_from!(Gaussian, Elementwise<GaussianFlow>);
layer_from!(Manual, Elementwise<ManualFlow>);
layer_from!(SinhArcsinh, Elementwise<SinhArcsinh>);
