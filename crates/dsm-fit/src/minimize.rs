//! Minimising an objective over θ with L-BFGS (the argmin crate), from exact gradients.

use std::sync::Mutex;

use argmin::core::{
    CostFunction, Executor, Gradient, Solver, State, TerminationReason, TerminationStatus,
};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

use crate::model::ParametricModel;
use crate::objective::{FlowHeldAt, Objective};
use crate::objective_gradient::ObjectiveGradient;
use crate::parametric_flow::ParametricFlow;
use dsm_core::mc::Par;
use dsm_core::{Error, Estimate, Result, Samples};

/// Settings of [`Objective::minimize`]: L-BFGS with a Moré–Thuente line search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinimizeOptions {
    /// Iteration limit.
    pub max_iters: u64,
    /// Stop when ‖∇L‖₂ falls below this.
    pub gradient_tolerance: f64,
    /// Also stop when ‖∇L‖₂ falls below this multiple of the Monte Carlo standard error of
    /// ∇L ([`ObjectiveGradient::gradient_std_err`]): θ̂ is then within about this fraction of
    /// its own standard error of the exact minimiser of the sample objective, and the
    /// objective's rounding (about 1e-16 of its size) can no longer guide a line search.
    /// 0 turns the rule off.
    pub noise_tolerance: f64,
    /// Number of correction pairs L-BFGS keeps.
    pub memory: usize,
}

impl Default for MinimizeOptions {
    /// 200 iterations, ‖∇L‖ ≤ 1e-9 or ≤ 1e-6 × its standard error, memory 10.
    fn default() -> Self {
        Self {
            max_iters: 200,
            gradient_tolerance: 1e-9,
            noise_tolerance: 1e-6,
            memory: 10,
        }
    }
}

impl MinimizeOptions {
    /// Whether an evaluation meets either stopping rule.
    fn is_met(&self, at: &ObjectiveGradient, samples: &Samples) -> bool {
        let norm = at.gradient_norm();
        norm <= self.gradient_tolerance
            || (self.noise_tolerance > 0.0
                && norm <= self.noise_tolerance * at.gradient_std_err(samples))
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
    /// Sandwich standard errors of θ̂ (docs/math.md eq. 11.4, H the Gauss–Newton Hessian of
    /// eq. 11.9); `None` when that Hessian is singular at θ̂.
    pub std_err: Option<Vec<f64>>,
    /// The sandwich covariance (row-major p × p); `None` as for the standard errors.
    pub covariance: Option<Vec<f64>>,
}

impl Minimum {
    /// The result at θ̂ from the evaluation there.
    fn new(
        theta: Vec<f64>,
        at: &ObjectiveGradient,
        samples: &Samples,
        iterations: u64,
        converged: bool,
        evaluations: usize,
    ) -> Result<Self> {
        let covariance = at.sandwich(samples).ok();
        let p = theta.len();
        let std_err = covariance
            .as_ref()
            .map(|c| (0..p).map(|k| c[k * p + k].sqrt()).collect());
        Ok(Self {
            theta,
            objective: at.value,
            gradient_norm: at.gradient_norm(),
            iterations,
            converged,
            evaluations,
            std_err,
            covariance,
        })
    }
}

impl std::fmt::Display for Minimum {
    /// One line per parameter, `θ[k] = value ± std_err`, then the objective and the run.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, t) in self.theta.iter().enumerate() {
            match &self.std_err {
                Some(se) => writeln!(f, "θ[{k}] = {t:.6} ± {:.2e}", se[k])?,
                None => writeln!(f, "θ[{k}] = {t:.6} (no standard error: singular Hessian)")?,
            }
        }
        write!(
            f,
            "objective {}; |∇L| = {:.1e} after {} iterations, {} evaluations ({})",
            self.objective,
            self.gradient_norm,
            self.iterations,
            self.evaluations,
            if self.converged {
                "converged"
            } else {
                "not converged"
            }
        )
    }
}

/// L-BFGS on an objective's exact gradients ([`Objective::minimize`]).
pub(crate) fn lbfgs<O: Objective, M: ParametricModel>(
    objective: &O,
    model: &M,
    start: &[f64],
    samples: &Samples,
    par: Par,
    options: MinimizeOptions,
) -> Result<Minimum> {
    let evaluate = |theta: &[f64]| objective.value_and_gradient(model, theta, samples, par);
    let run = run_lbfgs(&evaluate, start, samples, options, None)?;
    // Once more in full, for the Hessian of the standard errors.
    let at = objective.evaluate(model, &run.theta, samples, par)?;
    let converged = run.converged || options.is_met(&at, samples);
    Minimum::new(
        run.theta,
        &at,
        samples,
        run.iterations,
        converged,
        run.evaluations + 1,
    )
}

/// L-BFGS (argmin's, Moré–Thuente line search) on a user's own objective: `evaluate(θ)` gives
/// the value, the exact gradient, the per-sample gradients (for the noise stopping rule and the
/// standard errors) and, when it can, the Gauss–Newton Hessian (the sandwich needs it; without
/// it the result has no standard errors). For objectives the [`Objective`] impls do not cover,
/// such as a closed form in a model's symmetry.
///
/// # Errors
/// [`Error::InvalidParameter`] for bad options; the errors of `evaluate` at the start and at
/// the end point.
pub fn minimize_with(
    evaluate: &(dyn Fn(&[f64]) -> Result<ObjectiveGradient> + Sync),
    start: &[f64],
    samples: &Samples,
    options: MinimizeOptions,
) -> Result<Minimum> {
    let run = run_lbfgs(evaluate, start, samples, options, None)?;
    let at = evaluate(&run.theta)?;
    let converged = run.converged || options.is_met(&at, samples);
    Minimum::new(
        run.theta,
        &at,
        samples,
        run.iterations,
        converged,
        run.evaluations + 1,
    )
}

/// Where [`run_lbfgs`] ended.
pub(crate) struct LbfgsRun {
    /// The point it returns: the first that met a stopping rule, else argmin's best.
    pub(crate) theta: Vec<f64>,
    pub(crate) iterations: u64,
    /// A stopping rule was met, or argmin's L-BFGS converged without an error.
    pub(crate) converged: bool,
    pub(crate) evaluations: usize,
}

/// A check after every L-BFGS iteration at the current point: `true` stops the run (early
/// stopping on a held-out set, say).
pub(crate) type Monitor<'a> = &'a (dyn Fn(&[f64]) -> bool + Sync);

/// L-BFGS (argmin's, Moré–Thuente line search) on `evaluate`'s value and gradient from
/// `start`, with the stopping rules of `options` (the noise rule reads `samples`) and an
/// optional `monitor`.
pub(crate) fn run_lbfgs(
    evaluate: &(dyn Fn(&[f64]) -> Result<ObjectiveGradient> + Sync),
    start: &[f64],
    samples: &Samples,
    options: MinimizeOptions,
    monitor: Option<Monitor<'_>>,
) -> Result<LbfgsRun> {
    check_options(options)?;
    // Fails here, with the library's error, on a bad start.
    let first = evaluate(start)?;
    let cache = Mutex::new(Cache {
        theta: start.to_vec(),
        best: (start.to_vec(), first.value.value),
        met: options.is_met(&first, samples).then(|| start.to_vec()),
        result: first,
        evaluations: 1,
        error: None,
    });
    let problem = Problem {
        evaluate,
        samples,
        options,
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
    let solver = StopWhenMet {
        inner: solver,
        cache: &cache,
        monitor,
    };
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
    // A point that met a stopping rule ends the run there.
    if let Some(met) = cache.met {
        return Ok(LbfgsRun {
            theta: met,
            iterations,
            converged: true,
            evaluations: cache.evaluations,
        });
    }
    let stopped_by_error = cache.error.is_some() || outcome.is_err();
    Ok(LbfgsRun {
        theta,
        iterations,
        converged: solver_converged && !stopped_by_error,
        evaluations: cache.evaluations,
    })
}

/// The frozen-m surrogate's fixed point by Gauss–Newton steps with the diffusion refrozen
/// after each step: at θₜ, the frozen gradient g and the Gauss–Newton Hessian H of the loss
/// with m held at θₜ give the direction −H⁻¹g (−g where H is singular or the direction does
/// not descend), and a backtracking (Armijo) line search on that same held loss gives the
/// step; stop when ‖g‖ meets the tolerance.
pub(crate) fn frozen_fixed_point<F: ParametricFlow, M: ParametricModel>(
    flow: &F,
    model: &M,
    start: &[f64],
    samples: &Samples,
    par: Par,
    options: MinimizeOptions,
) -> Result<Minimum> {
    frozen_fixed_point_with(
        |theta, frozen| FlowHeldAt { flow, at: frozen }.evaluate(model, theta, samples, par),
        start,
        samples,
        options,
    )
}

/// The frozen fixed point for any diffusion that moves with θ (docs/math.md eq. 12.6): at
/// θₜ the diffusion is frozen, one Gauss–Newton step with a backtracking line search decreases
/// the frozen loss, and the diffusion is refrozen at θₜ₊₁, until the frozen gradient meets the
/// tolerance. `evaluate_held(θ, θ_frozen)` is the objective at θ with the diffusion held at
/// θ_frozen, with its Gauss–Newton Hessian (for example
/// `DiffusionScoreMatching(&FlowDiffusion::new(flow_at(θ_frozen))).evaluate(model, θ, …)`):
/// the way to fit with a moving diffusion whose flow is not elementwise, such as
/// `RadialGaussianFlow`, which `MovingDiffusionScoreMatching` does not take.
///
/// # Errors
/// [`Error::InvalidParameter`] for bad options; the errors of `evaluate_held` at the start
/// and at each accepted iterate.
pub fn frozen_fixed_point_with(
    evaluate_held: impl Fn(&[f64], &[f64]) -> Result<ObjectiveGradient>,
    start: &[f64],
    samples: &Samples,
    options: MinimizeOptions,
) -> Result<Minimum> {
    check_options(options)?;
    let p = start.len();
    let mut theta = start.to_vec();
    let mut at = evaluate_held(&theta, &theta)?;
    let mut evaluations = 1usize;
    let mut h_inv = vec![0.0; p * p];
    for iteration in 0..options.max_iters {
        let g = at.gradient.clone();
        if options.is_met(&at, samples) {
            return Minimum::new(theta, &at, samples, iteration, true, evaluations);
        }
        let mut direction: Vec<f64> =
            match dsm_core::linalg::invert_into(&at.hessian, p, &mut h_inv) {
                Ok(_) => (0..p)
                    .map(|a| -(0..p).map(|c| h_inv[a * p + c] * g[c]).sum::<f64>())
                    .collect(),
                Err(_) => g.iter().map(|v| -v).collect(),
            };
        let mut slope: f64 = direction.iter().zip(&g).map(|(d, g)| d * g).sum();
        if !(slope < 0.0 && slope.is_finite()) {
            direction = g.iter().map(|v| -v).collect();
            slope = -g.iter().map(|v| v * v).sum::<f64>();
        }
        let mut step = 1.0;
        let mut next = None;
        for _ in 0..60 {
            let trial: Vec<f64> = theta
                .iter()
                .zip(&direction)
                .map(|(t, d)| t + step * d)
                .collect();
            evaluations += 1;
            if let Ok(r) = evaluate_held(&trial, &theta)
                && r.value.value <= at.value.value + 1e-4 * step * slope
            {
                next = Some(trial);
                break;
            }
            step *= 0.5;
        }
        let Some(next) = next else {
            // No decrease along the direction: a stationary point to rounding.
            let converged = options.is_met(&at, samples);
            return Minimum::new(theta, &at, samples, iteration, converged, evaluations);
        };
        theta = next;
        at = evaluate_held(&theta, &theta)?;
        evaluations += 1;
    }
    let converged = at.gradient_norm() <= options.gradient_tolerance;
    Minimum::new(
        theta,
        &at,
        samples,
        options.max_iters,
        converged,
        evaluations,
    )
}

fn check_options(options: MinimizeOptions) -> Result<()> {
    let tolerances_ok = options.gradient_tolerance > 0.0
        && options.gradient_tolerance.is_finite()
        && options.noise_tolerance >= 0.0
        && options.noise_tolerance.is_finite();
    if !tolerances_ok || options.memory == 0 || options.max_iters == 0 {
        return Err(Error::InvalidParameter {
            owner: "MinimizeOptions",
            name: "gradient_tolerance, noise_tolerance, memory or max_iters",
            value: options.gradient_tolerance,
            constraint: "a finite, positive gradient tolerance, a finite noise tolerance >= 0, and memory, max_iters >= 1",
        });
    }
    Ok(())
}

/// argmin's solver, stopped after the iteration in which an evaluation met a stopping rule
/// of [`MinimizeOptions`] (argmin's own rules know only an absolute gradient tolerance), or
/// in which the monitor asked to stop.
struct StopWhenMet<'c, S> {
    inner: S,
    cache: &'c Mutex<Cache>,
    monitor: Option<Monitor<'c>>,
}

impl<O, I: State<Param = Vec<f64>>, S: Solver<O, I>> Solver<O, I> for StopWhenMet<'_, S> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn init(
        &mut self,
        problem: &mut argmin::core::Problem<O>,
        state: I,
    ) -> std::result::Result<(I, Option<argmin::core::KV>), argmin::core::Error> {
        self.inner.init(problem, state)
    }
    fn next_iter(
        &mut self,
        problem: &mut argmin::core::Problem<O>,
        state: I,
    ) -> std::result::Result<(I, Option<argmin::core::KV>), argmin::core::Error> {
        self.inner.next_iter(problem, state)
    }
    fn terminate(&mut self, state: &I) -> TerminationStatus {
        let met = self
            .cache
            .lock()
            .map(|c| c.met.is_some())
            .unwrap_or_else(|e| e.into_inner().met.is_some());
        if met {
            return TerminationStatus::Terminated(TerminationReason::SolverExit(
                "a stopping rule of MinimizeOptions is met".into(),
            ));
        }
        if let (Some(monitor), Some(param)) = (self.monitor, state.get_param())
            && monitor(param)
        {
            return TerminationStatus::Terminated(TerminationReason::SolverExit(
                "the monitor stopped the run".into(),
            ));
        }
        self.inner.terminate(state)
    }
}

/// The last evaluation, shared by the cost and the gradient at the same θ (the line search
/// asks for both), and the first error met.
struct Cache {
    /// The first point evaluated that met a stopping rule.
    met: Option<Vec<f64>>,
    theta: Vec<f64>,
    result: ObjectiveGradient,
    evaluations: usize,
    error: Option<Error>,
    /// The point with the lowest objective evaluated so far.
    best: (Vec<f64>, f64),
}

struct Problem<'a> {
    evaluate: &'a (dyn Fn(&[f64]) -> Result<ObjectiveGradient> + Sync),
    samples: &'a Samples,
    options: MinimizeOptions,
    cache: &'a Mutex<Cache>,
}

impl Problem<'_> {
    /// (L, ∇L) at θ, from the cache when θ was the last point evaluated.
    fn at(&self, theta: &[f64]) -> std::result::Result<(f64, Vec<f64>), argmin::core::Error> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if theta.iter().any(|v| !v.is_finite()) {
            // The search direction broke down (at a minimum, 0/0): stop, keep the best point.
            return Err(argmin::core::Error::msg("non-finite trial point"));
        }
        if cache.theta != theta {
            match (self.evaluate)(theta) {
                Ok(r) => {
                    if r.value.value < cache.best.1 {
                        cache.best = (theta.to_vec(), r.value.value);
                    }
                    if self.options.is_met(&r, self.samples) {
                        cache.met = Some(theta.to_vec());
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

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, theta: &Vec<f64>) -> std::result::Result<f64, argmin::core::Error> {
        self.at(theta).map(|(v, _)| v)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, theta: &Vec<f64>) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        self.at(theta).map(|(_, g)| g)
    }
}
