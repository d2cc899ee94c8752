//! The Student-t example of docs/math.md section 6: the three losses as functions of the model
//! location μ, on samples or on quadrature nodes (population), and their exact μ-derivatives
//! from dsm-fit (total and frozen; docs/math.md §11).

use anyhow::Result;
use dsm_core::quadrature::sinh_simpson;
use dsm_core::{
    Estimate, Par, Sampler, Samples, StudentT, diffusion_score_matching_integrand,
    score_matching_integrand,
};
use dsm_fit::{
    ObjectiveGradient, StudentTFamily, Surrogate, moving_diffusion_score_matching_gradient,
    score_matching_gradient,
};
use dsm_flows::{FlowDiffusion, GaussianFlow, ManualFlow};
use rayon::prelude::*;

/// The three objectives of Figure 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Score matching (eq. 2).
    Sm,
    /// DSM with the manual flow's diffusion m = sqrt(1 + (x − μ)²/(ν₀σ²)) (eq. 40).
    Manual,
    /// DSM with the Gaussian flow's diffusion m = 1/T′, T = Φ⁻¹∘F_t (eq. 12).
    Gaussian,
}

impl Loss {
    /// All three, in figure order.
    pub const ALL: [Loss; 3] = [Loss::Sm, Loss::Manual, Loss::Gaussian];

    /// Short name used in CSV columns and claims.
    pub fn name(self) -> &'static str {
        match self {
            Loss::Sm => "sm",
            Loss::Manual => "dsm_manual",
            Loss::Gaussian => "dsm_gaussian",
        }
    }

    /// Legend text.
    pub fn label(self) -> &'static str {
        match self {
            Loss::Sm => "score matching",
            Loss::Manual => "DSM, manual flow",
            Loss::Gaussian => "DSM, Gaussian flow",
        }
    }
}

/// The Student-t family of the example: data St(0, σ, ν), model St(μ, σ, ν), manual-flow
/// DoF ν₀.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Degrees of freedom of data and model.
    pub nu: f64,
    /// Degrees of freedom inside the manual diffusion.
    pub nu0: f64,
    /// Common scale.
    pub sigma: f64,
}

impl Family {
    /// The loss at model location `mu`, with the diffusion's location at `mu_m` (equal to `mu`
    /// for the plotted surrogate, fixed for the frozen-m variant): the weighted mean of
    /// [`Family::integrand`].
    pub fn loss(&self, loss: Loss, mu: f64, mu_m: f64, points: &Samples) -> Result<Estimate> {
        let values = self.integrand(loss, mu, mu_m, points)?;
        Ok(Estimate::from_values(&values, points.weights(), Par::Seq)?)
    }

    /// Per-sample values of the loss integrand (locations as in [`Family::loss`]).
    pub fn integrand(&self, loss: Loss, mu: f64, mu_m: f64, points: &Samples) -> Result<Vec<f64>> {
        let model = StudentT::new(mu, self.sigma, self.nu)?;
        Ok(match loss {
            Loss::Sm => score_matching_integrand(&model, points, Par::Seq)?,
            Loss::Manual => {
                let m = FlowDiffusion::new(ManualFlow::new(mu_m, self.sigma, self.nu0)?);
                diffusion_score_matching_integrand(&model, &m, points, Par::Seq)?
            }
            Loss::Gaussian => {
                let m = FlowDiffusion::new(GaussianFlow::new(mu_m, self.sigma, self.nu)?);
                diffusion_score_matching_integrand(&model, &m, points, Par::Seq)?
            }
        })
    }

    /// The data: N seeded draws of St(0, σ, ν).
    pub fn data(&self, n: usize, seed: u64) -> Result<Samples> {
        Ok(StudentT::new(0.0, self.sigma, self.nu)?.sample_n(n, seed, Par::rayon(0))?)
    }

    /// Quadrature nodes for population expectations under the data law.
    pub fn population(&self, intervals: usize) -> Result<Samples> {
        let q = StudentT::new(0.0, self.sigma, self.nu)?;
        Ok(sinh_simpson(&q, 0.0, self.sigma, 9.0, intervals)?)
    }

    /// The loss on a grid of μ (parallel over the grid; each value is computed sequentially,
    /// so the curve does not depend on the thread count).
    pub fn curve(&self, loss: Loss, grid: &[f64], points: &Samples) -> Result<Vec<Estimate>> {
        grid.par_iter()
            .map(|&mu| self.loss(loss, mu, mu, points))
            .collect()
    }

    /// dL/dμ on the grid from the library's exact gradient ([`Family::gradient`]): `total`
    /// moves the diffusion with the model (the plotted surrogate), otherwise m is frozen at μ.
    pub fn slope(
        &self,
        loss: Loss,
        grid: &[f64],
        points: &Samples,
        total: bool,
    ) -> Result<Vec<f64>> {
        grid.par_iter()
            .map(|&mu| Ok(self.gradient(loss, mu, points, total)?.gradient[0]))
            .collect()
    }

    /// The model St(μ, σ, ν) as a parametric family in θ = μ (dsm-fit).
    pub fn model(&self) -> Result<StudentTFamily> {
        Ok(StudentTFamily::location(self.sigma, self.nu)?)
    }

    /// The loss at μ with its exact μ-gradient and per-sample gradients (dsm-fit, docs/math.md
    /// eqs. 11.2 and 11.7): total (m moves with μ) or frozen (m held at μ). SM has no
    /// diffusion, so both are the same there. Sequential, so values do not depend on threads.
    pub fn gradient(
        &self,
        loss: Loss,
        mu: f64,
        points: &Samples,
        total: bool,
    ) -> Result<ObjectiveGradient> {
        let family = self.model()?;
        let surrogate = if total {
            Surrogate::Total
        } else {
            Surrogate::Frozen
        };
        Ok(match loss {
            Loss::Sm => score_matching_gradient(&family, &[mu], points, Par::Seq)?,
            Loss::Manual => moving_diffusion_score_matching_gradient(
                &family,
                &family.manual_flow(self.nu0)?,
                &[mu],
                points,
                surrogate,
                Par::Seq,
            )?,
            Loss::Gaussian => moving_diffusion_score_matching_gradient(
                &family,
                &family.gaussian_flow()?,
                &[mu],
                points,
                surrogate,
                Par::Seq,
            )?,
        })
    }
}

/// A symmetric grid −R … R with the given step (μ* = 0 on the grid).
pub fn grid(range: f64, step: f64) -> Vec<f64> {
    let half = (range / step).round() as i64;
    (-half..=half).map(|k| k as f64 * step).collect()
}
