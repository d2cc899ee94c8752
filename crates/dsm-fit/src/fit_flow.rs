//! Fitting a trainable flow by maximum likelihood: the learned diffusion m = (∇T̂)⁻¹ of the
//! paper's open question (docs/math.md §12).

use std::sync::Mutex;
use std::time::Instant;

use num_dual::HyperDual64;
use rand::seq::SliceRandom;

use crate::duals::with_duals;
use crate::minimize::{MinimizeOptions, run_lbfgs};
use crate::objective_gradient::{ObjectiveGradient, assemble_rows};
use dsm_core::mc::{self, Par, RandomPurpose};

/// The random-stream tag of the held-out split (ASCII "fit/splt").
const SPLIT_TAG: u64 = 0x6669_742f_7370_6c74;
use dsm_core::{Error, Result, Samples};
use dsm_flows::Trainable;

/// The optimiser of [`fit_flow`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlowOptimizer {
    /// L-BFGS on the full-batch exact gradient, with [`FlowFitOptions::minimize`]: for small
    /// flows.
    Lbfgs,
    /// Adam (Kingma & Ba 2015; β₁ = 0.9, β₂ = 0.999, ε = 1e-8) on minibatches of the exact
    /// gradient, the training samples reshuffled every epoch from a seeded stream: for flows
    /// with many parameters. Early stopping is checked after every epoch.
    Adam {
        /// Step size.
        learning_rate: f64,
        /// Samples per minibatch.
        batch_size: usize,
        /// Passes over the training samples.
        epochs: u64,
    },
}

/// Settings of [`fit_flow`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowFitOptions {
    /// Which optimiser.
    pub optimizer: FlowOptimizer,
    /// The L-BFGS settings (L-BFGS on the exact gradient).
    pub minimize: MinimizeOptions,
    /// Fraction of the samples held out for early stopping (0 for none), drawn by a seeded
    /// shuffle.
    pub held_out_fraction: f64,
    /// Stop when the held-out log-likelihood has not improved for this many iterations, and
    /// return the parameters where it was best.
    pub patience: u64,
    /// Seed of the shuffle that splits the samples.
    pub seed: u64,
}

impl Default for FlowFitOptions {
    /// L-BFGS with its defaults, 20% held out, patience 10, seed 0.
    fn default() -> Self {
        Self {
            optimizer: FlowOptimizer::Lbfgs,
            minimize: MinimizeOptions::default(),
            held_out_fraction: 0.2,
            patience: 10,
            seed: 0,
        }
    }
}

/// A fitted flow and how the fit went.
///
/// `Display` prints the log-likelihoods, the iterations and the time.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowFit<F> {
    /// The fitted flow: a `Flow` for `FlowDiffusion::new` (the learned diffusion) or
    /// `Pushforward`.
    pub flow: F,
    /// Mean log-likelihood log N(T(x); 0, I) + log |det J(x)| on the training samples.
    pub train_log_likelihood: f64,
    /// The same on the held-out samples (`None` without a split).
    pub held_out_log_likelihood: Option<f64>,
    /// L-BFGS iterations, or Adam epochs.
    pub iterations: u64,
    /// Likelihood-and-gradient evaluations.
    pub evaluations: usize,
    /// Whether a stopping rule was met or the held-out likelihood stopped improving.
    pub converged: bool,
    /// Wall time of the fit in seconds.
    pub seconds: f64,
}

impl<F> std::fmt::Display for FlowFit<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "flow fit: train log-likelihood {:.6}",
            self.train_log_likelihood
        )?;
        if let Some(h) = self.held_out_log_likelihood {
            write!(f, ", held out {h:.6}")?;
        }
        write!(
            f,
            "; {} iterations, {} evaluations, {:.3} s ({})",
            self.iterations,
            self.evaluations,
            self.seconds,
            if self.converged {
                "converged"
            } else {
                "not converged"
            }
        )
    }
}

/// The negative mean log-likelihood of N(0, I) pulled back through T(·; φ) and its exact
/// φ-gradient (docs/math.md eq. 12.1):
///
/// ```text
/// −ℓ(x; φ) = ½‖T(x)‖² + (d/2) log 2π − log |det ∇ₓT(x)|
/// ∂φₖ(−ℓ) = T(x)ᵀ∂φₖT(x) − tr(J⁻¹ ∂φₖJ),   J = ∇ₓT
/// ```
/// J and ∂φₖJ come from hyper-dual evaluations of T with the directions (xⱼ, φₖ): d·p per
/// sample; log |det J| from the flow's closed form. The value is an [`ObjectiveGradient`]
/// (its Hessian is empty). Bit-identical for any `par`.
///
/// # Errors
/// [`Error::DimensionMismatch`] for samples of another dimension or φ of another length;
/// [`Error::InvalidParameter`] for a non-finite φ; [`Error::TooFewSamples`] for no samples;
/// [`Error::SingularJacobian`] or [`Error::NonFiniteValue`] naming the sample.
pub fn flow_log_likelihood_gradient<F: Trainable>(
    flow: &F,
    params: &[f64],
    samples: &Samples,
    par: Par,
) -> Result<ObjectiveGradient> {
    let fitted = flow.with_params(params)?;
    let (d, p) = (flow.dim(), flow.n_params());
    dsm_core::validate::same_dim(
        "dimension of the flow",
        d,
        "dimension of the samples",
        samples.dim(),
    )?;
    if samples.n() == 0 {
        return Err(Error::TooFewSamples { needed: 1, got: 0 });
    }
    let half_log_two_pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    // Rows [value, gradient (p)]: the likelihood fit has no use for a Gauss–Newton term.
    let rows = mc::map_rows(
        samples,
        1 + p,
        par,
        || {
            (
                vec![0.0; d * d],
                vec![0.0; p * d * d],
                vec![0.0; d],
                vec![0.0; p * d],
                vec![0.0; d * d],
                vec![0.0; dsm_core::linalg::inverse_scratch_len(d)],
                prepared_directions(flow, params),
            )
        },
        |(jac, djac, y, dy, inv, work, prepared), n, x, row| {
            let log_det = fitted.log_abs_det_jacobian(x).map_err(|e| e.at_sample(n))?;
            with_duals(&[], x, HyperDual64::from, |_, xs| {
                for j in 0..d {
                    xs[j].eps1 = 1.0;
                    for (k, prep) in prepared.iter().enumerate() {
                        with_duals(&[], x, HyperDual64::from, |_, ys| {
                            flow.transform_prepared(prep, xs, ys);
                            for (i, yi) in ys.iter().enumerate() {
                                y[i] = yi.re;
                                jac[i * d + j] = yi.eps1;
                                dy[k * d + i] = yi.eps2;
                                djac[(k * d + i) * d + j] = yi.eps1eps2;
                            }
                        });
                    }
                    xs[j].eps1 = 0.0;
                }
            });
            dsm_core::linalg::invert_in_scratch(jac, d, inv, work).map_err(|e| e.at_sample(n))?;
            let (value, grad) = row.split_at_mut(1);
            value[0] =
                0.5 * y.iter().map(|v| v * v).sum::<f64>() + d as f64 * half_log_two_pi - log_det;
            for (k, g) in grad.iter_mut().enumerate() {
                let quad: f64 = (0..d).map(|i| y[i] * dy[k * d + i]).sum();
                // tr(J⁻¹ ∂J) = Σ_ij (J⁻¹)_ji (∂J)_ij
                let trace: f64 = (0..d)
                    .map(|i| {
                        (0..d)
                            .map(|j| inv[j * d + i] * djac[(k * d + i) * d + j])
                            .sum::<f64>()
                    })
                    .sum();
                *g = quad - trace;
            }
            if row.iter().all(|v| v.is_finite()) {
                Ok(())
            } else {
                Err(Error::NonFiniteValue {
                    quantity: "flow log-likelihood or its gradient",
                    index: n,
                })
            }
        },
    )?;
    assemble_rows(&rows, p, 1 + p, samples, par)
}

/// The flow's prepared parameters (`Trainable::prepare`) once per direction φₖ (eps2 = 1 on
/// φₖ), so that the per-point passes of the likelihood gradient skip the work that depends on
/// φ alone.
fn prepared_directions<F: Trainable>(flow: &F, params: &[f64]) -> Vec<Vec<HyperDual64>> {
    let mut ph: Vec<HyperDual64> = params.iter().map(|v| HyperDual64::from(*v)).collect();
    (0..params.len())
        .map(|k| {
            ph[k].eps2 = 1.0;
            let prepared = flow.prepare(&ph);
            ph[k].eps2 = 0.0;
            prepared
        })
        .collect()
}

/// Fits a trainable flow by maximum likelihood of N(0, I) pulled back through it (the
/// Gaussianising flow of the data), by L-BFGS or Adam ([`FlowOptimizer`]) on the exact
/// gradient ([`flow_log_likelihood_gradient`]) from the flow's current parameters, with a
/// seeded held-out split and early stopping. `FlowDiffusion::new(fit.flow)` is then the learned
/// diffusion m = (∇T̂)⁻¹ (the paper's open question), and `Pushforward` takes it too.
/// Deterministic for any `par`.
///
/// # Errors
/// [`Error::InvalidParameter`] for a held-out fraction outside [0, 1) or bad optimiser
/// options; [`Error::TooFewSamples`] when the split leaves fewer than 2 samples on either
/// side; those of [`flow_log_likelihood_gradient`] at the start.
///
/// # Examples
/// ```
/// use dsm_core::{Par, Sampler, StudentT};
/// use dsm_fit::{FlowFitOptions, fit_flow};
/// use dsm_flows::{Flow, SinhArcsinhLayer};
/// let xs = StudentT::new(2.0, 1.5, 5.0)?.sample_n(4000, 1, Par::Seq)?;
/// let start = SinhArcsinhLayer::standardizing(&xs)?; // median and IQR: a sound start
/// let fit = fit_flow(&start, &xs, FlowFitOptions::default(), Par::rayon(2))?;
/// println!("{fit}");
/// // The learned map sends the median 2 to about 0.
/// let (y, _) = fit.flow.forward(&[2.0])?;
/// assert!(y[0].abs() < 0.1);
/// # Ok::<(), dsm_core::Error>(())
/// ```
pub fn fit_flow<F: Trainable>(
    flow: &F,
    samples: &Samples,
    options: FlowFitOptions,
    par: Par,
) -> Result<FlowFit<F>> {
    let clock = Instant::now();
    let fraction = options.held_out_fraction;
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::InvalidParameter {
            owner: "FlowFitOptions",
            name: "held_out_fraction",
            value: fraction,
            constraint: "in [0, 1)",
        });
    }
    dsm_core::validate::same_dim(
        "dimension of the flow",
        flow.dim(),
        "dimension of the samples",
        samples.dim(),
    )?;
    let (train, held_out) = split(samples, fraction, options.seed)?;
    let evaluate = |phi: &[f64]| flow_log_likelihood_gradient(flow, phi, &train, par);
    // Early stopping: the held-out negative log-likelihood after every iteration.
    let best = Mutex::new((f64::INFINITY, flow.params(), 0u64));
    let monitor = |phi: &[f64]| -> bool {
        let Some(held_out) = &held_out else {
            return false;
        };
        let Ok(value) = flow_log_likelihood_gradient(flow, phi, held_out, par) else {
            return false;
        };
        let mut best = best.lock().unwrap_or_else(|e| e.into_inner());
        if value.value.value < best.0 {
            *best = (value.value.value, phi.to_vec(), 0);
            false
        } else {
            best.2 += 1;
            best.2 >= options.patience
        }
    };
    let run = match options.optimizer {
        FlowOptimizer::Lbfgs => run_lbfgs(
            &evaluate,
            &flow.params(),
            &train,
            options.minimize,
            Some(&monitor),
        )?,
        FlowOptimizer::Adam {
            learning_rate,
            batch_size,
            epochs,
        } => adam(
            flow,
            &train,
            (learning_rate, batch_size, epochs),
            options.seed,
            par,
            &monitor,
        )?,
    };
    let (best_nll, best_params, since) = best.into_inner().unwrap_or_else(|e| e.into_inner());
    let stopped_early = held_out.is_some() && since >= options.patience;
    let params = if held_out.is_some() && best_nll.is_finite() {
        best_params
    } else {
        run.theta.clone()
    };
    let fitted = flow.with_params(&params)?;
    let train_nll = flow_log_likelihood_gradient(flow, &params, &train, par)?
        .value
        .value;
    let held_out_ll = match &held_out {
        Some(h) => Some(
            -flow_log_likelihood_gradient(flow, &params, h, par)?
                .value
                .value,
        ),
        None => None,
    };
    Ok(FlowFit {
        flow: fitted,
        train_log_likelihood: -train_nll,
        held_out_log_likelihood: held_out_ll,
        iterations: run.iterations,
        evaluations: run.evaluations,
        converged: run.converged || stopped_early,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

/// Adam on minibatches of the exact gradient; `monitor` after every epoch (true stops).
fn adam<F: Trainable>(
    flow: &F,
    train: &Samples,
    (learning_rate, batch_size, epochs): (f64, usize, u64),
    seed: u64,
    par: Par,
    monitor: &(dyn Fn(&[f64]) -> bool + Sync),
) -> Result<crate::minimize::LbfgsRun> {
    if !(learning_rate > 0.0 && learning_rate.is_finite()) || batch_size == 0 || epochs == 0 {
        return Err(Error::InvalidParameter {
            owner: "FlowOptimizer::Adam",
            name: "learning_rate, batch_size or epochs",
            value: learning_rate,
            constraint: "a finite, positive learning rate; batch_size, epochs >= 1",
        });
    }
    let (beta1, beta2, eps) = (0.9, 0.999, 1e-8);
    let mut phi = flow.params();
    let p = phi.len();
    let (mut m, mut v) = (vec![0.0; p], vec![0.0; p]);
    let (n, d) = (train.n(), train.dim());
    let mut step = 0i32;
    let mut evaluations = 0usize;
    let mut order: Vec<usize> = (0..n).collect();
    let mut batch = Vec::with_capacity(batch_size.min(n) * d);
    let mut completed = 0;
    for epoch in 0..epochs {
        order.shuffle(&mut mc::random_stream(
            seed,
            RandomPurpose::Other(ADAM_TAG),
            epoch,
        ));
        for chunk in order.chunks(batch_size) {
            batch.clear();
            for &i in chunk {
                batch.extend_from_slice(train.row(i));
            }
            let samples = Samples::new(batch.clone(), d)?;
            let g = flow_log_likelihood_gradient(flow, &phi, &samples, par)?;
            evaluations += 1;
            step += 1;
            for k in 0..p {
                m[k] = beta1 * m[k] + (1.0 - beta1) * g.gradient[k];
                v[k] = beta2 * v[k] + (1.0 - beta2) * g.gradient[k] * g.gradient[k];
                let m_hat = m[k] / (1.0 - beta1.powi(step));
                let v_hat = v[k] / (1.0 - beta2.powi(step));
                phi[k] -= learning_rate * m_hat / (v_hat.sqrt() + eps);
            }
        }
        completed = epoch + 1;
        if monitor(&phi) {
            break;
        }
    }
    Ok(crate::minimize::LbfgsRun {
        theta: phi,
        iterations: completed,
        converged: false,
        evaluations,
    })
}

/// The random-stream tag of Adam's minibatch shuffles (ASCII "fit/adam").
const ADAM_TAG: u64 = 0x6669_742f_6164_616d;

/// A seeded shuffle split into (train, held out); no split for fraction 0.
fn split(samples: &Samples, fraction: f64, seed: u64) -> Result<(Samples, Option<Samples>)> {
    let n = samples.n();
    let n_out = (fraction * n as f64).round() as usize;
    if n_out == 0 {
        if n < 2 {
            return Err(Error::TooFewSamples { needed: 2, got: n });
        }
        return Ok((samples.clone(), None));
    }
    if n - n_out < 2 || n_out < 2 {
        return Err(Error::TooFewSamples { needed: 4, got: n });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut mc::random_stream(
        seed,
        RandomPurpose::Other(SPLIT_TAG),
        0,
    ));
    let take = |idx: &[usize]| -> Result<Samples> {
        let mut data = Vec::with_capacity(idx.len() * samples.dim());
        for &i in idx {
            data.extend_from_slice(samples.row(i));
        }
        Samples::new(data, samples.dim())
    };
    let (out, keep) = order.split_at(n_out);
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    let mut out = out.to_vec();
    out.sort_unstable();
    Ok((take(&keep)?, Some(take(&out)?)))
}
