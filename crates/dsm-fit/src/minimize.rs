//! Minimising an objective over θ with L-BFGS (the argmin crate), from exact gradients.

use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::model::ParametricModel;
use crate::score_matching_gradient::{ObjectiveGradient, score_matching_gradient};
use dsm_core::mc::Par;
use dsm_core::{Diffusion, Error, Estimate, Result, Samples};

/// Settings of [`Objective::minimize`]: L-BFGS with a Moré–Thuente line search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinimizeOptions {
    /// Iteration limit.
    pub max_iters: u64,
    /// Stop when ‖∇L‖₂ falls below this.
    pub gradient_tolerance: f64,
    /// Number of correction pairs L-BFGS keeps.
    pub memory: usize,
}

impl Default for MinimizeOptions {
    /// 200 iterations, ‖∇L‖ ≤ 1e-9, memory 10.
    fn default() -> Self {
        Self {
            max_iters: 200,
            gradient_tolerance: 1e-9,
            memory: 10,
        }
    }
}

/// The result of a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// The minimiser θ̂.
    pub theta: Vec<f64>,
    /// The objective at θ̂ with its standard error.
    pub objective: Estimate,
    /// ‖∇L(θ̂)‖₂.
    pub gradient_norm: f64,
    /// L-BFGS iterations taken.
    pub iterations: u64,
    /// Whether the gradient tolerance was reached, or argmin's L-BFGS declared convergence
    /// (no further decrease of the objective); [`Minimum::gradient_norm`] tells which.
    pub converged: bool,
    /// Objective-and-gradient evaluations made.
    pub evaluations: usize,
}

/// An objective of a parametric model on a sample set: SM, or DSM with a diffusion fixed in θ.
#[derive(Debug, Clone, Copy)]
pub enum Objective<'a, A> {
    /// The score-matching loss (docs/math.md eq. 2).
    ScoreMatching,
    /// The DSM loss with this diffusion (eq. 6), which does not move with θ.
    DiffusionScoreMatching(&'a A),
}

impl<A: Diffusion> Objective<'_, A> {
    /// The objective and its exact θ-gradient at θ.
    ///
    /// # Errors
    /// Those of [`score_matching_gradient`] or
    /// [`diffusion_score_matching_gradient`](crate::diffusion_score_matching_gradient).
    pub fn evaluate<M: ParametricModel>(
        &self,
        model: &M,
        theta: &[f64],
        samples: &Samples,
        par: Par,
    ) -> Result<ObjectiveGradient> {
        match self {
            Objective::ScoreMatching => score_matching_gradient(model, theta, samples, par),
            Objective::DiffusionScoreMatching(m) => {
                crate::diffusion_score_matching_gradient(model, *m, theta, samples, par)
            }
        }
    }

    /// Minimises the objective over θ from `start` by L-BFGS on the exact gradients
    /// (argmin's `LBFGS` with a Moré–Thuente line search). Deterministic for any `par`: each
    /// evaluation is bit-identical for any thread count, and the optimiser is sequential.
    /// Constrained parameters must be given unconstrained (the built-in families take scales
    /// and degrees of freedom on the log scale), so the line search cannot leave the domain.
    ///
    /// # Errors
    /// Those of [`Objective::evaluate`] at the start; an [`Error::InvalidParameter`] for
    /// options that are not finite and positive. A failure at a later trial point (the model
    /// overflowing far from the start, say) ends the run at the best point evaluated, with
    /// [`Minimum::converged`] false unless its gradient meets the tolerance.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{IdentityDiffusion, Par, Sampler, StudentT};
    /// use dsm_fit::{MinimizeOptions, Objective, StudentTFamily};
    /// let xs = StudentT::new(1.0, 2.0, 5.0)?.sample_n(4000, 3, Par::Seq)?;
    /// let sm = Objective::<IdentityDiffusion>::ScoreMatching;
    /// let fit = sm.minimize(&StudentTFamily::new(5.0)?, &[0.0, 0.0], &xs, Par::rayon(2), MinimizeOptions::default())?;
    /// assert!(fit.converged);
    /// assert!((fit.theta[0] - 1.0).abs() < 0.15 && (fit.theta[1] - 2f64.ln()).abs() < 0.1);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn minimize<M: ParametricModel>(
        &self,
        model: &M,
        start: &[f64],
        samples: &Samples,
        par: Par,
        options: MinimizeOptions,
    ) -> Result<Minimum> {
        if !(options.gradient_tolerance > 0.0 && options.gradient_tolerance.is_finite())
            || options.memory == 0
            || options.max_iters == 0
        {
            return Err(Error::InvalidParameter {
                owner: "MinimizeOptions",
                name: "gradient_tolerance, memory or max_iters",
                value: options.gradient_tolerance,
                constraint: "a finite, positive tolerance and memory, max_iters >= 1",
            });
        }
        // Fails here, with the library's error, on a bad start.
        let first = self.evaluate(model, start, samples, par)?;
        let cache = Mutex::new(Cache {
            theta: start.to_vec(),
            best: (start.to_vec(), first.value.value),
            result: first,
            evaluations: 1,
            error: None,
        });
        let problem = Problem {
            objective: self,
            model,
            samples,
            par,
            cache: &cache,
        };
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), options.memory)
            .with_tolerance_grad(options.gradient_tolerance)
            .and_then(|s| s.with_tolerance_cost(0.0))
            .map_err(|_| Error::InvalidParameter {
                owner: "MinimizeOptions",
                name: "gradient_tolerance",
                value: options.gradient_tolerance,
                constraint: "finite and > 0",
            })?;
        let run = Executor::new(problem, solver)
            .configure(|state| state.param(start.to_vec()).max_iters(options.max_iters))
            .run();
        // The state alone: the result's problem (which borrows the cache) is dropped here.
        let outcome = run.map(|res| res.state);
        let cache = cache.into_inner().unwrap_or_else(|e| e.into_inner());
        // A model that fails at a trial point, or a search direction that breaks down, ends
        // the run at the best point evaluated; `converged` then depends on its gradient.
        let (theta, iterations, solver_converged) = match &outcome {
            Ok(state) => (
                state
                    .get_best_param()
                    .cloned()
                    .unwrap_or_else(|| cache.best.0.clone()),
                state.get_iter(),
                matches!(
                    state.get_termination_status(),
                    TerminationStatus::Terminated(TerminationReason::SolverConverged)
                ),
            ),
            Err(_) => (cache.best.0.clone(), 0, false),
        };
        let stopped_by_error = cache.error.is_some() || outcome.is_err();
        let at = self.evaluate(model, &theta, samples, par)?;
        let gradient_norm = at.gradient.iter().map(|g| g * g).sum::<f64>().sqrt();
        let converged =
            gradient_norm <= options.gradient_tolerance || (solver_converged && !stopped_by_error);
        Ok(Minimum {
            theta,
            objective: at.value,
            gradient_norm,
            iterations,
            converged,
            evaluations: cache.evaluations + 1,
        })
    }
}

impl<A: Diffusion> Objective<'_, A> {
    /// [`Objective::minimize`] from each of `starts`, in order, with each evaluation
    /// parallel over the samples per `par`; one result per start (a bad start is an error
    /// for that start only). Deterministic for any `par`, like every single run.
    ///
    /// # Examples
    /// ```
    /// use dsm_core::{IdentityDiffusion, Par, Sampler, StudentT};
    /// use dsm_fit::{MinimizeOptions, Objective, StudentTFamily};
    /// let xs = StudentT::new(1.0, 2.0, 5.0)?.sample_n(2000, 3, Par::Seq)?;
    /// let starts = [vec![-3.0, 0.0], vec![0.0, 1.0], vec![4.0, -0.5]];
    /// let sm = Objective::<IdentityDiffusion>::ScoreMatching;
    /// let minima = sm.minimize_many(&StudentTFamily::new(5.0)?, &starts, &xs, Par::rayon(2), MinimizeOptions::default());
    /// assert_eq!(minima.len(), 3);
    /// # Ok::<(), dsm_core::Error>(())
    /// ```
    pub fn minimize_many<M: ParametricModel>(
        &self,
        model: &M,
        starts: &[Vec<f64>],
        samples: &Samples,
        par: Par,
        options: MinimizeOptions,
    ) -> Vec<Result<Minimum>> {
        starts
            .iter()
            .map(|start| self.minimize(model, start, samples, par, options))
            .collect()
    }
}

/// The last evaluation, shared by the cost and the gradient at the same θ (the line search
/// asks for both), and the first error met.
struct Cache {
    theta: Vec<f64>,
    result: ObjectiveGradient,
    evaluations: usize,
    error: Option<Error>,
    /// The point with the lowest objective evaluated so far.
    best: (Vec<f64>, f64),
}

struct Problem<'a, 'b, M, A> {
    objective: &'a Objective<'b, A>,
    model: &'a M,
    samples: &'a Samples,
    par: Par,
    cache: &'a Mutex<Cache>,
}

impl<M: ParametricModel, A: Diffusion> Problem<'_, '_, M, A> {
    /// (L, ∇L) at θ, from the cache when θ was the last point evaluated.
    fn at(&self, theta: &[f64]) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if theta.iter().any(|v| !v.is_finite()) {
            // The search direction broke down (at a minimum, 0/0): stop, keep the best point.
            return Err(argmin::core::Error::msg("non-finite trial point"));
        }
        if cache.theta != theta {
            match self
                .objective
                .evaluate(self.model, theta, self.samples, self.par)
            {
                Ok(r) => {
                    if r.value.value < cache.best.1 {
                        cache.best = (theta.to_vec(), r.value.value);
                    }
                    cache.theta = theta.to_vec();
                    cache.result = r;
                    cache.evaluations += 1;
                }
                Err(e) => {
                    let message = e.to_string();
                    cache.error.get_or_insert(e);
                    return Err(argmin::core::Error::msg(message));
                }
            }
        }
        Ok((cache.result.value.value, cache.result.gradient.clone()))
    }
}

impl<M: ParametricModel, A: Diffusion> CostFunction for Problem<'_, '_, M, A> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, theta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        self.at(theta).map(|(v, _)| v)
    }
}

impl<M: ParametricModel, A: Diffusion> Gradient for Problem<'_, '_, M, A> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, theta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        self.at(theta).map(|(_, g)| g)
    }
}
