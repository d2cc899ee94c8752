//! The affine coupling layer of RealNVP (Dinh et al. 2017) with a small dense conditioner.

use crate::flow::Flow;
use dsm_core::validate::same_dim;
use dsm_core::{Error, Result, Scalar};

/// An affine coupling layer: the coordinates split into a conditioning part A and a
/// transformed part B,
///
/// ```text
/// y_A = x_A,    y_B = x_B ⊙ exp(s(x_A)) + t(x_A)
/// h = tanh(W₁ x_A + b₁),   s = W_s h + b_s,   t = W_t h + b_t      (one hidden layer)
/// log |det J| = Σ s(x_A),   x_B = (y_B − t(y_A)) ⊙ exp(−s(y_A))
/// ```
/// A is the first ⌊d/2⌋ coordinates, or the last ⌈d/2⌉ ones with `condition_on_first =
/// false`, so that alternating layers in a [`Chain`](crate::Chain) transform every coordinate.
///
/// # Examples
/// ```
/// use dsm_flows::{AffineCoupling, Flow};
/// let t = AffineCoupling::seeded(4, 8, true, 0.5, 7)?;
/// let (mut y, mut x) = ([0.0; 4], [0.0; 4]);
/// t.transform(&[0.1, -0.3, 2.0, 0.5], &mut y);
/// t.inverse_into(&y, &mut x)?;
/// assert!((x[2] - 2.0).abs() < 1e-14);
/// # Ok::<(), dsm_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AffineCoupling {
    dim: usize,
    cond: Vec<usize>,
    out: Vec<usize>,
    hidden: usize,
    w1: Vec<f64>,
    b1: Vec<f64>,
    ws: Vec<f64>,
    bs: Vec<f64>,
    wt: Vec<f64>,
    bt: Vec<f64>,
}

/// The weights of an [`AffineCoupling`] conditioner (row-major matrices).
#[derive(Debug, Clone, PartialEq)]
pub struct CouplingWeights {
    /// W₁: hidden × |A|.
    pub w1: Vec<f64>,
    /// b₁: hidden.
    pub b1: Vec<f64>,
    /// W_s: |B| × hidden.
    pub ws: Vec<f64>,
    /// b_s: |B|.
    pub bs: Vec<f64>,
    /// W_t: |B| × hidden.
    pub wt: Vec<f64>,
    /// b_t: |B|.
    pub bt: Vec<f64>,
}

impl AffineCoupling {
    /// A coupling layer on ℝ^`dim` with `hidden` units and the given weights.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for d < 2, no hidden units or non-finite weights;
    /// [`Error::DimensionMismatch`] for weights of the wrong sizes.
    pub fn new(
        dim: usize,
        hidden: usize,
        condition_on_first: bool,
        w: CouplingWeights,
    ) -> Result<Self> {
        if dim < 2 {
            return Err(Error::InvalidParameter {
                owner: "AffineCoupling",
                name: "dim",
                value: dim as f64,
                constraint: ">= 2 for a coupling layer",
            });
        }
        if hidden == 0 {
            return Err(Error::InvalidParameter {
                owner: "AffineCoupling",
                name: "hidden",
                value: 0.0,
                constraint: ">= 1",
            });
        }
        let k = dim / 2;
        let (cond, out): (Vec<usize>, Vec<usize>) = if condition_on_first {
            ((0..k).collect(), (k..dim).collect())
        } else {
            ((dim - k..dim).collect(), (0..dim - k).collect())
        };
        let (na, nb) = (cond.len(), out.len());
        same_dim(
            "length of w1",
            w.w1.len(),
            "hidden × conditioning coordinates",
            hidden * na,
        )?;
        same_dim("length of b1", w.b1.len(), "hidden", hidden)?;
        same_dim(
            "length of ws",
            w.ws.len(),
            "transformed coordinates × hidden",
            nb * hidden,
        )?;
        same_dim("length of bs", w.bs.len(), "transformed coordinates", nb)?;
        same_dim(
            "length of wt",
            w.wt.len(),
            "transformed coordinates × hidden",
            nb * hidden,
        )?;
        same_dim("length of bt", w.bt.len(), "transformed coordinates", nb)?;
        for v in
            w.w1.iter()
                .chain(&w.b1)
                .chain(&w.ws)
                .chain(&w.bs)
                .chain(&w.wt)
                .chain(&w.bt)
        {
            dsm_core::validate::finite("AffineCoupling", "coupling weight", *v)?;
        }
        Ok(Self {
            dim,
            cond,
            out,
            hidden,
            w1: w.w1,
            b1: w.b1,
            ws: w.ws,
            bs: w.bs,
            wt: w.wt,
            bt: w.bt,
        })
    }

    /// A layer with weights drawn uniformly from [−`scale`, `scale`] by a seeded generator
    /// (SplitMix64): a reproducible initialisation.
    ///
    /// # Errors
    /// As [`AffineCoupling::new`], and [`Error::InvalidParameter`] for a non-finite scale.
    pub fn seeded(
        dim: usize,
        hidden: usize,
        condition_on_first: bool,
        scale: f64,
        seed: u64,
    ) -> Result<Self> {
        dsm_core::validate::finite("AffineCoupling::seeded", "scale", scale)?;
        let k = dim / 2;
        let (na, nb) = (k, dim - k);
        let mut state = seed;
        let mut draw = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|_| {
                    state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                    let mut z = state;
                    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                    z ^= z >> 31;
                    scale * (2.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 1.0)
                })
                .collect()
        };
        let w = CouplingWeights {
            w1: draw(hidden * na),
            b1: draw(hidden),
            ws: draw(nb * hidden),
            bs: draw(nb),
            wt: draw(nb * hidden),
            bt: draw(nb),
        };
        Self::new(dim, hidden, condition_on_first, w)
    }

    /// The weights as slices of f64.
    fn view(&self) -> WeightsView<'_, f64> {
        WeightsView {
            w1: &self.w1,
            b1: &self.b1,
            ws: &self.ws,
            bs: &self.bs,
            wt: &self.wt,
            bt: &self.bt,
        }
    }

    /// Flat parameters (W₁, b₁, W_s, b_s, W_t, b_t) cut into the conditioner's weights.
    fn split<'a, W>(&self, p: &'a [W]) -> WeightsView<'a, W> {
        let (na, nb, h) = (self.cond.len(), self.out.len(), self.hidden);
        let (w1, rest) = p.split_at(h * na);
        let (b1, rest) = rest.split_at(h);
        let (ws, rest) = rest.split_at(nb * h);
        let (bs, rest) = rest.split_at(nb);
        let (wt, bt) = rest.split_at(nb * h);
        WeightsView {
            w1,
            b1,
            ws,
            bs,
            wt,
            bt,
        }
    }

    /// s(x_A) and t(x_A) into the two buffers, for weights of type W (f64, or the scalar D
    /// itself when the weights are differentiated).
    fn conditioner<D, W>(
        &self,
        w: &WeightsView<'_, W>,
        x: &[D],
        s: &mut [D],
        t: &mut [D],
        h: &mut [D],
    ) where
        W: Copy,
        D: Scalar + From<W> + std::ops::Mul<W, Output = D>,
    {
        let na = self.cond.len();
        for (r, hr) in h.iter_mut().enumerate() {
            let mut acc = D::from(w.b1[r]);
            for (c, &i) in self.cond.iter().enumerate() {
                acc += x[i] * w.w1[r * na + c];
            }
            *hr = acc.tanh();
        }
        for o in 0..self.out.len() {
            let (mut sa, mut ta) = (D::from(w.bs[o]), D::from(w.bt[o]));
            for (r, hr) in h.iter().enumerate() {
                sa += *hr * w.ws[o * self.hidden + r];
                ta += *hr * w.wt[o * self.hidden + r];
            }
            s[o] = sa;
            t[o] = ta;
        }
    }

    /// y = T(x) with the given weights: y_A = x_A, y_B = x_B ⊙ exp(s) + t.
    fn apply<D, W>(&self, w: &WeightsView<'_, W>, x: &[D], y: &mut [D])
    where
        W: Copy,
        D: Scalar + From<W> + std::ops::Mul<W, Output = D>,
    {
        let nb = self.out.len();
        let zero = D::from(0.0);
        let (mut s, mut t, mut h) = (vec![zero; nb], vec![zero; nb], vec![zero; self.hidden]);
        self.conditioner(w, x, &mut s, &mut t, &mut h);
        for &i in &self.cond {
            y[i] = x[i];
        }
        for (o, &i) in self.out.iter().enumerate() {
            y[i] = x[i] * s[o].exp() + t[o];
        }
    }
}

/// The conditioner's weights, borrowed (f64 for the layer itself, the scalar type when they
/// are trained).
struct WeightsView<'a, W> {
    w1: &'a [W],
    b1: &'a [W],
    ws: &'a [W],
    bs: &'a [W],
    wt: &'a [W],
    bt: &'a [W],
}

/// The coupling layer is trainable: φ = (W₁, b₁, W_s, b_s, W_t, b_t), row-major.
impl crate::Trainable for AffineCoupling {
    fn n_params(&self) -> usize {
        self.w1.len()
            + self.b1.len()
            + self.ws.len()
            + self.bs.len()
            + self.wt.len()
            + self.bt.len()
    }
    fn params(&self) -> Vec<f64> {
        [&self.w1, &self.b1, &self.ws, &self.bs, &self.wt, &self.bt]
            .iter()
            .flat_map(|v| v.iter().copied())
            .collect()
    }
    fn with_params(&self, params: &[f64]) -> Result<Self> {
        same_dim(
            "number of parameters given",
            params.len(),
            "number of parameters of the flow",
            self.n_params(),
        )?;
        let w = self.split(params);
        AffineCoupling::new(
            self.dim,
            self.hidden,
            self.cond.first() == Some(&0),
            CouplingWeights {
                w1: w.w1.to_vec(),
                b1: w.b1.to_vec(),
                ws: w.ws.to_vec(),
                bs: w.bs.to_vec(),
                wt: w.wt.to_vec(),
                bt: w.bt.to_vec(),
            },
        )
    }
    fn transform_with<D: Scalar>(&self, params: &[D], x: &[D], y: &mut [D]) {
        self.apply(&self.split(params), x, y);
    }
}

impl Flow for AffineCoupling {
    fn dim(&self) -> usize {
        self.dim
    }

    fn transform<D: Scalar>(&self, x: &[D], y: &mut [D]) {
        self.apply(&self.view(), x, y);
    }

    fn inverse_unchecked_into(&self, y: &[f64], x: &mut [f64]) -> Result<()> {
        crate::flow::check_point(self.dim(), y, x.len())?;
        let nb = self.out.len();
        let (mut s, mut t, mut h) = (vec![0.0; nb], vec![0.0; nb], vec![0.0; self.hidden]);
        self.conditioner(&self.view(), y, &mut s, &mut t, &mut h); // y_A = x_A
        for &i in &self.cond {
            x[i] = y[i];
        }
        for (o, &i) in self.out.iter().enumerate() {
            x[i] = (y[i] - t[o]) * (-s[o]).exp();
        }
        Ok(())
    }

    fn log_abs_det_jacobian(&self, x: &[f64]) -> Result<f64> {
        crate::flow::check_point(self.dim(), x, self.dim())?;
        let nb = self.out.len();
        let (mut s, mut t, mut h) = (vec![0.0; nb], vec![0.0; nb], vec![0.0; self.hidden]);
        self.conditioner(&self.view(), x, &mut s, &mut t, &mut h);
        crate::layers::elementwise::finite_log_det(s.iter().sum())
    }
}
