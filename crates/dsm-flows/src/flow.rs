//! The `Flow` trait: an invertible map T on ℝᵈ, written once over the scalar type, with exact
//! Jacobians and derivatives from forward-mode automatic differentiation.

use num_dual::{Dual64, HyperDual64, HyperHyperDual64};

use dsm_core::{Error, Par, Result, Samples, Scalar};

/// An invertible map y = T(x) on ℝᵈ (docs/math.md section 1: J = ∂T/∂x, row i = component,
/// column j = input).
///
/// A layer implements three methods: [`Flow::dim`], [`Flow::transform`] once, generic over
/// [`Scalar`], and the raw inverse [`Flow::inverse_unchecked_into`] (usually also
/// [`Flow::log_abs_det_jacobian`] in closed form). Evaluating `transform` in dual numbers
/// gives the full Jacobian ([`Flow::jacobian_into`]), its derivatives
/// ([`Flow::jacobian_gradient_into`], the second derivatives of T that DSM's divergence term
/// needs) and third derivatives (for pushforward Hessians), all exact.
///
/// The two directions are named alike, as in zuko and flowjax: each returns the point and
/// the log-determinant of the Jacobian *of that direction*,
///
/// ```text
/// forward:  x ↦ (y, log |det J(x)|)          y = T(x)
/// inverse:  y ↦ (x, log |det J⁻¹(y)|)        x = T⁻¹(y),  log |det J⁻¹(y)| = −log |det J(x)|
/// ```
///
/// in three shapes: into caller buffers ([`Flow::forward_into`], [`Flow::inverse_into`]),
/// allocating ([`Flow::forward`], [`Flow::inverse`]) and over a whole [`Samples`]
/// ([`Flow::forward_batch`], [`Flow::inverse_batch`]). All of them check their input (d
/// finite entries) and output (finite).
///
/// Buffers follow the usual dsm contract: slices of the documented lengths (the raw methods
/// `transform`, `inverse_unchecked_into` and the derivative `_into` methods may panic
/// otherwise; the checked ones return [`Error::DimensionMismatch`]).
///
/// # Examples
/// ```
/// use dsm_flows::{Affine, Flow};
/// let t = Affine::new(2, vec![2.0, 0.0, 1.0, 3.0], vec![0.0, 1.0])?;
/// let (y, log_det) = t.forward(&[1.0, 1.0])?;
/// let (x, inv_log_det) = t.inverse(&y)?;
/// assert!((log_det - 6f64.ln()).abs() < 1e-12 && (inv_log_det + log_det).abs() < 1e-12);
/// assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub trait Flow: Sync {
    /// The dimension d.
    fn dim(&self) -> usize;

    /// y = T(x), in any scalar type (raw: lengths and finiteness unchecked).
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]);

    /// x = T⁻¹(y), the raw inverse a layer implements: no log-determinant, and the library
    /// calls it only through the checked [`Flow::try_inverse_into`] and [`Flow::inverse_into`].
    ///
    /// # Errors
    /// [`Error::InverseFailed`] when an iterative inverse does not converge;
    /// [`Error::SingularJacobian`] when T is not invertible at that point.
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()>;

    /// log |det J(x)|.
    ///
    /// The default factorises the full Jacobian (LU through faer); layers override it with
    /// their closed form, which is cheaper and accurate where J under- or overflows.
    ///
    /// # Errors
    /// [`Error::SingularJacobian`] for a singular Jacobian.
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        let d = self.dim();
        let mut j = vec![0.0; d * d];
        self.jacobian_into(x, &mut j);
        log_abs_det(&j, d)
    }

    /// The number of layers this flow counts as when it names a layer in
    /// [`Error::NonFiniteLayerOutput`]: 1 for a layer, the total of its parts for a
    /// [`Chain`](crate::Chain) or a [`Compose`](crate::Compose).
    fn layer_count(&self) -> usize {
        1
    }

    /// y = T(x) with its input and output checked: the library's own paths call this, never
    /// an unchecked [`Flow::transform`] on values.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when x or y has not d entries; [`Error::NonFiniteSample`]
    /// for a non-finite x; [`Error::NonFiniteLayerOutput`] when T(x) is not finite (a
    /// [`Chain`](crate::Chain) names the layer).
    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        check_point(self.dim(), x, y.len())?;
        self.transform(x, y);
        match y.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(coordinate) => Err(Error::NonFiniteLayerOutput {
                layer: 0,
                index: 0,
                coordinate,
            }),
        }
    }

    /// x = T⁻¹(y) with its input and output checked, without the log-determinant.
    ///
    /// # Errors
    /// As [`Flow::inverse_unchecked_into`]; [`Error::DimensionMismatch`],
    /// [`Error::NonFiniteSample`] for a non-finite y; [`Error::InverseFailed`] when the
    /// inverse is not finite.
    fn try_inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        check_point(self.dim(), y, x.len())?;
        self.inverse_unchecked_into(y, x)?;
        if x.iter().all(|v| v.is_finite()) {
            Ok(())
        } else {
            Err(Error::InverseFailed {
                index: 0,
                iterations: 0,
            })
        }
    }

    /// y = T(x) into `y`; returns log |det J(x)|.
    ///
    /// # Errors
    /// As [`Flow::try_transform_into`] and [`Flow::log_abs_det_jacobian`].
    fn forward_into(&self, x: &[f64], y: &mut [f64]) -> Result<f64> {
        self.try_transform_into(x, y)?;
        self.log_abs_det_jacobian(x)
    }

    /// x = T⁻¹(y) into `x`; returns log |det J⁻¹(y)| = −log |det J(x)|, the log-determinant of
    /// the inverse map.
    ///
    /// # Errors
    /// As [`Flow::try_inverse_into`] and [`Flow::log_abs_det_jacobian`].
    fn inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<f64> {
        self.try_inverse_into(y, x)?;
        Ok(-self.log_abs_det_jacobian(x)?)
    }

    /// (y, log |det J(x)|) with y = T(x), allocating.
    ///
    /// # Errors
    /// As [`Flow::forward_into`].
    fn forward(&self, x: &[f64]) -> Result<(Vec<f64>, f64)> {
        let mut y = vec![0.0; self.dim()];
        let log_det = self.forward_into(x, &mut y)?;
        Ok((y, log_det))
    }

    /// (x, log |det J⁻¹(y)|) with x = T⁻¹(y), allocating.
    ///
    /// # Errors
    /// As [`Flow::inverse_into`].
    fn inverse(&self, y: &[f64]) -> Result<(Vec<f64>, f64)> {
        let mut x = vec![0.0; self.dim()];
        let log_det = self.inverse_into(y, &mut x)?;
        Ok((x, log_det))
    }

    /// [`Flow::forward`] over every sample: (yᵢ = T(xᵢ), log |det J(xᵢ)|) for i = 1 … n, in
    /// parallel per `par` ([`dsm_core::mc::map_rows`]: the result is bit-identical for any
    /// thread count). The weights of `xs`, if any, are carried over to the ys.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when `xs` is not d-dimensional; the first error by sample
    /// index of [`Flow::forward_into`], naming that sample ([`Error::at_sample`]);
    /// [`Error::ThreadPool`].
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Par, Samples};
    /// use dsm_flows::{Affine, Flow};
    /// let t = Affine::new(1, vec![2.0], vec![1.0])?;
    /// let xs = Samples::from_scalars(vec![0.0, 1.0, 2.0])?;
    /// let (ys, log_det) = t.forward_batch(&xs, Par::rayon(2))?;
    /// assert_eq!(ys.as_slice(), &[1.0, 3.0, 5.0]);
    /// assert!(log_det.iter().all(|l| (l - 2f64.ln()).abs() < 1e-15));
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    fn forward_batch(&self, xs: &Samples, par: Par) -> Result<(Samples, Vec<f64>)> {
        batch(self.dim(), xs, par, |x, y| self.forward_into(x, y))
    }

    /// [`Flow::inverse`] over every sample: (xᵢ = T⁻¹(yᵢ), log |det J⁻¹(yᵢ)|), bit-identical
    /// for any thread count, weights carried over.
    ///
    /// # Errors
    /// As [`Flow::forward_batch`], with [`Flow::inverse_into`].
    fn inverse_batch(&self, ys: &Samples, par: Par) -> Result<(Samples, Vec<f64>)> {
        batch(self.dim(), ys, par, |y, x| self.inverse_into(y, x))
    }

    /// T₂ ∘ T₁ with T₁ = `self` applied first, T₂ = `next` (any two flows, built-in or a
    /// user's own): [`Compose::new`](crate::Compose::new).
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`] when the two differ in dimension.
    fn then<G: Flow>(self, next: G) -> Result<crate::Compose<Self, G>>
    where
        Self: Sized,
    {
        crate::Compose::new(self, next)
    }

    /// The Jacobian J_jk = ∂T_j/∂x_k, row-major (d²), by d [`Dual64`] passes (dual buffers
    /// on the stack for d ≤ [`STACK_DIM`]).
    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        let d = self.dim();
        with_dual_buffers(x, Dual64::from_re, |xs, ys| {
            for k in 0..d {
                xs[k].eps = 1.0;
                self.transform(xs, ys);
                xs[k].eps = 0.0;
                for j in 0..d {
                    jac[j * d + k] = ys[j].eps;
                }
            }
        });
    }

    /// The derivatives of the Jacobian, ∂_i J_jk = ∂_i∂_k T_j at `dj[(i·d + j)·d + k]` (d³),
    /// by d(d+1)/2 [`HyperDual64`] passes.
    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        let d = self.dim();
        with_dual_buffers(x, HyperDual64::from_re, |xs, ys| {
            for i in 0..d {
                for k in i..d {
                    xs[i].eps1 = 1.0;
                    xs[k].eps2 = 1.0;
                    self.transform(xs, ys);
                    xs[i].eps1 = 0.0;
                    xs[k].eps2 = 0.0;
                    for j in 0..d {
                        let v = ys[j].eps1eps2;
                        dj[(i * d + j) * d + k] = v;
                        dj[(k * d + j) * d + i] = v;
                    }
                }
            }
        });
    }

    /// J (d², as [`Flow::jacobian_into`]) and ∂J (d³, as [`Flow::jacobian_gradient_into`]) from
    /// one set of d(d+1)/2 [`HyperDual64`] passes: the first-order parts of pass (i, k) are
    /// the columns i and k of J. What a diffusion needs per point, computed once.
    fn jacobian_and_gradient_into(&self, x: &[f64], jac: &mut [f64], dj: &mut [f64]) {
        let d = self.dim();
        with_dual_buffers(x, HyperDual64::from_re, |xs, ys| {
            for i in 0..d {
                for k in i..d {
                    xs[i].eps1 = 1.0;
                    xs[k].eps2 = 1.0;
                    self.transform(xs, ys);
                    xs[i].eps1 = 0.0;
                    xs[k].eps2 = 0.0;
                    for j in 0..d {
                        let v = ys[j].eps1eps2;
                        dj[(i * d + j) * d + k] = v;
                        dj[(k * d + j) * d + i] = v;
                        if i == k {
                            jac[j * d + i] = ys[j].eps1;
                        }
                    }
                }
            }
        });
    }

    /// Whether T acts coordinate by coordinate, T(x)ᵢ = tᵢ(xᵢ) (J diagonal): then
    /// [`Flow::elementwise_derivatives_into`] gives everything the diffusion of T needs in
    /// O(d), with no d × d factorisation.
    fn is_elementwise(&self) -> bool {
        false
    }

    /// For an elementwise flow ([`Flow::is_elementwise`]), writes [tᵢ, tᵢ′, tᵢ″, tᵢ‴] at xᵢ for
    /// each coordinate and returns `true`; any other flow writes nothing and returns `false`.
    fn elementwise_derivatives_into(&self, _x: &[f64], _out: &mut [[f64; 4]]) -> bool {
        false
    }

    /// Third derivatives ∂_i∂_l J_jk = ∂_i∂_l∂_k T_j at `t3[((i·d + l)·d + j)·d + k]` (d⁴),
    /// by d(d+1)(d+2)/6 [`HyperHyperDual64`] passes.
    fn third_derivatives_into(&self, x: &[f64], t3: &mut [f64]) {
        let d = self.dim();
        with_dual_buffers(x, HyperHyperDual64::from_re, |xs, ys| {
            for i in 0..d {
                for l in i..d {
                    for k in l..d {
                        xs[i].eps1 = 1.0;
                        xs[l].eps2 = 1.0;
                        xs[k].eps3 = 1.0;
                        self.transform(xs, ys);
                        xs[i].eps1 = 0.0;
                        xs[l].eps2 = 0.0;
                        xs[k].eps3 = 0.0;
                        for j in 0..d {
                            let v = ys[j].eps1eps2eps3;
                            for (a, b, c) in [
                                (i, l, k),
                                (i, k, l),
                                (l, i, k),
                                (l, k, i),
                                (k, i, l),
                                (k, l, i),
                            ] {
                                t3[((a * d + b) * d + j) * d + c] = v;
                            }
                        }
                    }
                }
            }
        });
    }
}

/// Largest dimension whose dual-number buffers (input and output of one `transform` pass)
/// live on the stack; larger flows allocate them once per call.
pub const STACK_DIM: usize = 16;

/// Runs `f(xs, ys)` with xs = `lift`(x) and ys of the same length, on the stack when
/// d ≤ [`STACK_DIM`].
#[inline]
pub(crate) fn with_dual_buffers<T: Copy, R>(
    x: &[f64],
    lift: impl Fn(f64) -> T,
    f: impl FnOnce(&mut [T], &mut [T]) -> R,
) -> R {
    let d = x.len();
    let zero = lift(0.0);
    if d <= STACK_DIM {
        let mut xs = [zero; STACK_DIM];
        let mut ys = [zero; STACK_DIM];
        for (a, &v) in xs.iter_mut().zip(x) {
            *a = lift(v);
        }
        f(&mut xs[..d], &mut ys[..d])
    } else {
        let mut xs: Vec<T> = x.iter().map(|&v| lift(v)).collect();
        let mut ys = vec![zero; d];
        f(&mut xs, &mut ys)
    }
}

/// Runs `f(buf)` with a scratch copy of `x` in the same scalar type, on the stack when
/// d ≤ [`STACK_DIM`]: the intermediate point of a chain or composite.
#[inline]
pub(crate) fn with_copy<D: Scalar, R>(x: &[D], f: impl FnOnce(&mut [D]) -> R) -> R {
    let d = x.len();
    if d <= STACK_DIM && d > 0 {
        let mut buf = [x[0]; STACK_DIM];
        buf[..d].copy_from_slice(x);
        f(&mut buf[..d])
    } else {
        let mut buf = x.to_vec();
        f(&mut buf)
    }
}

thread_local! {
    /// Per-thread scratch of the per-point paths that need more than fits on the stack (a
    /// pushforward's score and Hessian, an inverted flow's derivatives): grown on first use
    /// and reused, so that they allocate nothing per point.
    static SCRATCH: std::cell::RefCell<Vec<f64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a scratch slice of `len` values: this thread's buffer, or a fresh one when it
/// is already in use (a pushforward whose base is itself a pushforward, say).
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Checks a point of a d-dimensional flow: d finite entries in, room for d out.
pub(crate) fn check_point(d: usize, input: &[f64], out_len: usize) -> Result<()> {
    dsm_core::validate::same_dim(
        "length of the input point",
        input.len(),
        "dimension of the flow",
        d,
    )?;
    dsm_core::validate::same_dim(
        "length of the output buffer",
        out_len,
        "dimension of the flow",
        d,
    )?;
    match input.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(coordinate) => Err(Error::NonFiniteSample {
            index: 0,
            coordinate,
        }),
    }
}

/// One direction of a flow over every sample: `f(input, output) -> log-det` per row, errors
/// re-indexed to their sample, outputs (finite, checked by `f`) as [`Samples`] with the
/// input's weights.
fn batch<F>(d: usize, input: &Samples, par: Par, f: F) -> Result<(Samples, Vec<f64>)>
where
    F: Fn(&[f64], &mut [f64]) -> Result<f64> + Sync,
{
    dsm_core::validate::same_dim(
        "dimension of the samples",
        input.dim(),
        "dimension of the flow",
        d,
    )?;
    let rows = dsm_core::mc::map_rows(
        input,
        d + 1,
        par,
        || (),
        |_, i, x, row| {
            let (out, log_det) = row.split_at_mut(d);
            log_det[0] = f(x, out).map_err(|e| e.at_sample(i))?;
            Ok(())
        },
    )?;
    let mut points = Vec::with_capacity(input.n() * d);
    let mut log_dets = Vec::with_capacity(input.n());
    for row in rows.chunks_exact(d + 1) {
        points.extend_from_slice(&row[..d]);
        log_dets.push(row[d]);
    }
    let mut out = Samples::new(points, d)?;
    if let Some(w) = input.weights() {
        out = out.with_weights(w.to_vec())?;
    }
    Ok((out, log_dets))
}

/// An error raised inside a part of a composite flow whose first layer has index `offset`:
/// a [`Error::NonFiniteLayerOutput`] or [`Error::InLayer`] names the layer counted across the
/// whole composite, and any other error is wrapped in [`Error::InLayer`] at `offset`.
pub(crate) fn offset_layer(e: Error, offset: usize) -> Error {
    match e {
        Error::NonFiniteLayerOutput {
            layer,
            index,
            coordinate,
        } => Error::NonFiniteLayerOutput {
            layer: layer + offset,
            index,
            coordinate,
        },
        Error::InLayer { layer, source } => Error::InLayer {
            layer: layer + offset,
            source,
        },
        other => Error::InLayer {
            layer: offset,
            source: Box::new(other),
        },
    }
}

/// The flow's reading of a linear-algebra error: a singular matrix is a singular Jacobian,
/// a non-finite one a non-finite Jacobian (both at sample 0, re-indexed by the engines).
pub(crate) fn jacobian_error(e: Error) -> Error {
    match e {
        Error::Singular { rcond, .. } => Error::SingularJacobian { index: 0, rcond },
        Error::NonFiniteMatrix { .. } => Error::NonFiniteValue {
            quantity: "Jacobian",
            index: 0,
        },
        other => other,
    }
}

/// log |det A| of a row-major d × d Jacobian ([`dsm_core::linalg::log_abs_det`]: equilibrated
/// LU, one conditioning rule).
///
/// # Errors
/// [`Error::SingularJacobian`] when A is singular to working precision (equilibrated rcond
/// below [`dsm_core::linalg::MIN_RCOND`]); [`Error::NonFiniteValue`] for non-finite entries;
/// [`Error::DimensionMismatch`] when `a` does not hold d² entries.
pub fn log_abs_det(a: &[f64], d: usize) -> Result<f64> {
    dsm_core::linalg::log_abs_det(a, d).map_err(jacobian_error)
}

/// A⁻¹ of a row-major d × d Jacobian into `inv` ([`dsm_core::linalg::invert_into`]).
///
/// # Errors
/// As [`log_abs_det`], and [`Error::DimensionMismatch`] when `inv` does not hold d² entries.
pub fn invert_into(a: &[f64], d: usize, inv: &mut [f64]) -> Result<()> {
    dsm_core::linalg::invert_into(a, d, inv)
        .map(|_| ())
        .map_err(jacobian_error)
}

impl<F: Flow> Flow for &F {
    fn dim(&self) -> usize {
        (**self).dim()
    }
    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        (**self).transform(x, y)
    }
    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        (**self).inverse_unchecked_into(y, x)
    }
    fn layer_count(&self) -> usize {
        (**self).layer_count()
    }
    fn forward_into(&self, x: &[f64], y: &mut [f64]) -> Result<f64> {
        (**self).forward_into(x, y)
    }
    fn inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<f64> {
        (**self).inverse_into(y, x)
    }
    fn try_transform_into(&self, x: &[f64], y: &mut [f64]) -> Result<()> {
        (**self).try_transform_into(x, y)
    }
    fn try_inverse_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        (**self).try_inverse_into(y, x)
    }
    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        (**self).log_abs_det_jacobian(x)
    }
    fn jacobian_into(&self, x: &[f64], jac: &mut [f64]) {
        (**self).jacobian_into(x, jac)
    }
    fn jacobian_gradient_into(&self, x: &[f64], dj: &mut [f64]) {
        (**self).jacobian_gradient_into(x, dj)
    }
    fn third_derivatives_into(&self, x: &[f64], t3: &mut [f64]) {
        (**self).third_derivatives_into(x, t3)
    }
    fn jacobian_and_gradient_into(&self, x: &[f64], jac: &mut [f64], dj: &mut [f64]) {
        (**self).jacobian_and_gradient_into(x, jac, dj)
    }
    fn is_elementwise(&self) -> bool {
        (**self).is_elementwise()
    }
    fn elementwise_derivatives_into(&self, x: &[f64], out: &mut [[f64; 4]]) -> bool {
        (**self).elementwise_derivatives_into(x, out)
    }
}
