//! The objectives a parametric model can be fitted by, behind one trait.

use dsm_core::mc::Par;
use dsm_core::{Diffusion, DiffusionKsd, IdentityDiffusion, Kernel, Ksd, Result, Samples};

use crate::minimize::{MinimizeOptions, Minimum, frozen_fixed_point, lbfgs};
use crate::model::ParametricModel;
use crate::moving_diffusion_gradient::{Surrogate, gradient_with_flow_at};
use crate::objective_gradient::ObjectiveGradient;
use crate::parametric_flow::ParametricFlow;
use crate::stein_gradient::{SteinParts, stein_gradient};

/// An objective L(θ) of a [`ParametricModel`] on a sample set, with its exact θ-gradient:
/// [`ScoreMatching`], [`DiffusionScoreMatching`] (a fixed diffusion),
/// [`MovingDiffusionScoreMatching`] (a flow diffusion that moves with θ, total or frozen),
/// and dsm-core's [`Ksd`] and [`DiffusionKsd`] (U or V). Each can be evaluated and minimised.
///
/// # Examples
/// The Student-t location and log-scale by each of the four objectives, in a few lines:
/// ```
/// use dsm_core::{Estimator, Imq, Ksd, DiffusionKsd, Par, Sampler, StudentT};
/// use dsm_fit::{DiffusionScoreMatching, MinimizeOptions, Objective, ScoreMatching, StudentTFamily};
/// use dsm_flows::{FlowDiffusion, GaussianFlow};
///
/// let xs = StudentT::new(1.0, 2.0, 5.0)?.sample_n(400, 9, Par::Seq)?;
/// let family = StudentTFamily::new(5.0)?;
/// let m = FlowDiffusion::new(GaussianFlow::new(0.0, 1.0, 5.0)?);
/// let (start, opts) = ([0.0, 0.0], MinimizeOptions::default());
/// let sm = ScoreMatching.minimize(&family, &start, &xs, Par::rayon(2), opts)?;
/// let dsm = DiffusionScoreMatching(&m).minimize(&family, &start, &xs, Par::rayon(2), opts)?;
/// let ksd = Ksd::new(Imq::default(), Estimator::U).minimize(&family, &start, &xs, Par::rayon(2), opts)?;
/// let dksd = DiffusionKsd::new(Imq::default(), &m, Estimator::V)?.minimize(&family, &start, &xs, Par::rayon(2), opts)?;
/// for fit in [&sm, &dsm, &ksd, &dksd] {
///     assert!(fit.converged);
///     let se = fit.std_err.as_ref().unwrap();
///     assert!((fit.theta[0] - 1.0).abs() < 4.0 * se[0]);
/// }
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub trait Objective: Sync {
    /// A short name for reports ("SM", "DSM", "KSD", …).
    fn name(&self) -> &'static str;

    /// The objective at θ with its exact θ-gradient, per-sample gradients and Gauss–Newton
    /// Hessian. Bit-identical for any `par`.
    ///
    /// # Errors
    /// Those of the objective's gradient function (bad θ, samples of another dimension, a
    /// non-finite value naming the sample, …).
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient>;

    /// The objective and its exact θ-gradient with per-sample gradients, without the
    /// Hessian where that costs extra (its `hessian` is then empty): what a line search and a
    /// stochastic optimiser need. The default is [`Objective::evaluate`].
    ///
    /// # Errors
    /// As [`Objective::evaluate`].
    fn value_and_gradient<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        self.evaluate(model, theta, samples, par)
    }

    /// Whether the objective is quadratic in the model's score (true for all but the moving
    /// diffusion), so that an exponential family's minimum is one Newton step
    /// ([`ExponentialFamily::fit`](crate::ExponentialFamily::fit)).
    fn is_quadratic_in_the_score(&self) -> bool {
        true
    }

    /// Minimises the objective from `start` by L-BFGS on the exact gradients (argmin's
    /// `LBFGS`, Moré–Thuente line search), with sandwich standard errors at the minimum.
    /// Deterministic for any `par`. Constrained parameters must be given unconstrained (the
    /// built-in families take scales and degrees of freedom on the log scale), so the line
    /// search cannot leave the domain.
    ///
    /// # Errors
    /// Those of [`Objective::evaluate`] at the start; [`dsm_core::Error::InvalidParameter`] for options
    /// that are not finite and positive. A failure at a later trial point ends the run at
    /// the best point evaluated, with [`Minimum::converged`] false unless its gradient meets
    /// the tolerance.
    fn minimize<M: ParametricModel>(
        &self,
        model: &M,
        start: &[f64],
        samples: &Samples,
        par: Par,
        options: MinimizeOptions,
    ) -> Result<Minimum>
    where
        Self: Sized,
    {
        lbfgs(self, model, start, samples, par, options)
    }

    /// [`Objective::minimize`] from each of `starts`, the starts in parallel over `par`'s
    /// threads (each run sequential over the samples); one result per start, in order (a
    /// bad start is an error for that start only). Bit-identical for any `par`: every
    /// evaluation is.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Par, Sampler, StudentT};
    /// use dsm_fit::{MinimizeOptions, Objective, ScoreMatching, StudentTFamily};
    /// let xs = StudentT::new(1.0, 2.0, 5.0)?.sample_n(2000, 3, Par::Seq)?;
    /// let starts = [vec![-3.0, 0.0], vec![0.0, 1.0], vec![4.0, -0.5]];
    /// let minima = ScoreMatching.minimize_many(&StudentTFamily::new(5.0)?, &starts, &xs, Par::rayon(2), MinimizeOptions::default());
    /// assert_eq!(minima.len(), 3);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    fn minimize_many<M: ParametricModel>(
        &self,
        model: &M,
        starts: &[Vec<f64>],
        samples: &Samples,
        par: Par,
        options: MinimizeOptions,
    ) -> Vec<Result<Minimum>>
    where
        Self: Sized,
    {
        let run = |start: &Vec<f64>| self.minimize(model, start, samples, Par::Seq, options);
        match par {
            Par::Seq => starts.iter().map(run).collect(),
            Par::Rayon(_) => match par.install(|| {
                use rayon::prelude::*;
                starts.par_iter().map(run).collect::<Vec<_>>()
            }) {
                Ok(results) => results,
                Err(e) => starts.iter().map(|_| Err(e.clone())).collect(),
            },
        }
    }
}

/// The score-matching loss (docs/math.md eqs. 2, 11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreMatching;

impl Objective for ScoreMatching {
    fn name(&self) -> &'static str {
        "SM"
    }
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        crate::score_matching_gradient(model, theta, samples, par)
    }
}

/// The DSM loss with a diffusion that does not move with θ (docs/math.md eqs. 6, 11.5).
#[derive(Debug, Clone, Copy)]
pub struct DiffusionScoreMatching<'a, A>(pub &'a A);

impl<A: Diffusion> Objective for DiffusionScoreMatching<'_, A> {
    fn name(&self) -> &'static str {
        "DSM"
    }
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        crate::diffusion_score_matching_gradient(model, self.0, theta, samples, par)
    }
}

/// The DSM loss with the diffusion of a flow that moves with θ (the paper's §2.2;
/// docs/math.md eqs. 11.6–11.7), by its total or its frozen-m gradient.
///
/// Minimising the [`Surrogate::Frozen`] gradient follows the paper's reading, a different
/// loss after each step: at θₜ the diffusion is frozen, one Gauss–Newton step with a
/// backtracking line search decreases the frozen loss, and the diffusion is refrozen at
/// θₜ₊₁, until the frozen gradient meets the tolerance (at most `max_iters` steps). Fully
/// minimising each frozen loss instead can diverge: a fixed diffusion has walls of its own.
#[derive(Debug, Clone, Copy)]
pub struct MovingDiffusionScoreMatching<'a, F> {
    /// The flow T(x; θ) whose diffusion is m = (∇ₓT)⁻¹.
    pub flow: &'a F,
    /// Which derivative to follow.
    pub surrogate: Surrogate,
}

impl<'a, F: ParametricFlow> MovingDiffusionScoreMatching<'a, F> {
    /// The objective with the flow `flow` and the derivative `surrogate`.
    pub fn new(flow: &'a F, surrogate: Surrogate) -> Self {
        Self { flow, surrogate }
    }

    /// The two-stage estimate of docs/math.md eq. 12.6, whatever `surrogate` is: the total
    /// surrogate minimised from `start` (its landscape pulls from far away), then the frozen
    /// fixed point from where it stopped (consistent for any diffusion, where the total
    /// surrogate's minimiser is off μ* unless flow and data share a centre of symmetry). The
    /// result is the frozen stage's, with its standard errors; its `iterations` and
    /// `evaluations` count both stages.
    ///
    /// # Errors
    /// Those of [`Objective::minimize`] for either stage.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{Par, Sampler, StudentT};
    /// use dsm_fit::{MinimizeOptions, MovingDiffusionScoreMatching, StudentTFamily, Surrogate};
    /// let xs = StudentT::new(0.0, 1.0, 5.0)?.sample_n(500, 3, Par::Seq)?;
    /// let family = StudentTFamily::location(1.0, 5.0)?;
    /// let flow = family.gaussian_flow()?;
    /// let dsm = MovingDiffusionScoreMatching::new(&flow, Surrogate::Total);
    /// let est = dsm.minimize_two_stage(&family, &[40.0], &xs, Par::Seq, MinimizeOptions::default())?;
    /// assert!(est.theta[0].abs() < 3.0 * est.std_err.as_ref().unwrap()[0]);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn minimize_two_stage<M: ParametricModel>(
        &self,
        model: &M,
        start: &[f64],
        samples: &Samples,
        par: Par,
        options: crate::MinimizeOptions,
    ) -> Result<crate::Minimum> {
        let total = Self::new(self.flow, Surrogate::Total);
        let frozen = Self::new(self.flow, Surrogate::Frozen);
        let first = total.minimize(model, start, samples, par, options)?;
        let mut second = frozen.minimize(model, &first.theta, samples, par, options)?;
        second.iterations += first.iterations;
        second.evaluations += first.evaluations;
        Ok(second)
    }
}

impl<F: ParametricFlow> Objective for MovingDiffusionScoreMatching<'_, F> {
    fn name(&self) -> &'static str {
        match self.surrogate {
            Surrogate::Total => "DSM (moving m, total)",
            Surrogate::Frozen => "DSM (moving m, frozen)",
        }
    }
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        gradient_with_flow_at(
            model,
            self.flow,
            theta,
            theta,
            samples,
            self.surrogate,
            par,
            true,
        )
    }
    /// Without the total surrogate's curvature term (eq. 11.10), which costs one more flow
    /// evaluation per point and parameter pair.
    fn value_and_gradient<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        gradient_with_flow_at(
            model,
            self.flow,
            theta,
            theta,
            samples,
            self.surrogate,
            par,
            false,
        )
    }
    fn is_quadratic_in_the_score(&self) -> bool {
        false
    }
    fn minimize<M: ParametricModel>(
        &self,
        model: &M,
        start: &[f64],
        samples: &Samples,
        par: Par,
        options: MinimizeOptions,
    ) -> Result<Minimum> {
        match self.surrogate {
            Surrogate::Total => lbfgs(self, model, start, samples, par, options),
            Surrogate::Frozen => frozen_fixed_point(self.flow, model, start, samples, par, options),
        }
    }
}

/// The moving-diffusion DSM with the flow held at `at` (one round of the frozen iteration).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowHeldAt<'a, F> {
    pub(crate) flow: &'a F,
    pub(crate) at: &'a [f64],
}

impl<F: ParametricFlow> Objective for FlowHeldAt<'_, F> {
    fn name(&self) -> &'static str {
        "DSM (m held)"
    }
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        gradient_with_flow_at(
            model,
            self.flow,
            theta,
            self.at,
            samples,
            Surrogate::Frozen,
            par,
            true,
        )
    }
}

/// The Langevin KSD (U or V) as an objective: its θ-gradient is
/// ∇θKSD² = mean over pairs of ∂θsₓᵀ(s_y k + ∇_y k) + (x ↔ y) (docs/math.md eq. 11.8).
impl<K: Kernel> Objective for Ksd<K> {
    fn name(&self) -> &'static str {
        "KSD"
    }
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        let parts = SteinParts {
            owner: "Ksd",
            kernel: self.kernel(),
            diffusion: None::<&IdentityDiffusion>,
            estimator: self.estimator(),
        };
        stein_gradient(self, parts, model, theta, samples, par)
    }
}

/// The DKSD (U or V) with a diffusion fixed in θ as an objective (docs/math.md eq. 11.8).
impl<K: Kernel, A: Diffusion> Objective for DiffusionKsd<K, A> {
    fn name(&self) -> &'static str {
        "DKSD"
    }
    fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        let parts = SteinParts {
            owner: "DiffusionKsd",
            kernel: self.kernel(),
            diffusion: Some(self.diffusion()),
            estimator: self.estimator(),
        };
        stein_gradient(self, parts, model, theta, samples, par)
    }
}
