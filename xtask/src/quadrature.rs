//! Population expectations by quadrature, expressed as weighted dsm samples.
//!
//! E_q[h] = ∫ q(x) h(x) dx with x = c + s·sinh(u), u on a uniform grid of [−U, U] with
//! composite Simpson weights: the sinh map reaches |x| ≈ s·e^U/2 with few nodes, which the
//! heavy (polynomial) Student-t tails need. The nodes become [`Samples`] whose weights are
//! q(x)·dx/du·(Simpson weight), so any dsm objective evaluated on them returns the population
//! value (weighted mean = Σ w h / Σ w, with Σ w ≈ 1).

use dsm_core::{LogDensity, Samples};

/// Quadrature nodes for E_q over ℝ, centred at `centre` with scale `scale`.
pub fn sinh_simpson<Q: LogDensity>(q: &Q, centre: f64, scale: f64, half_width: f64, intervals: usize) -> dsm_core::Result<Samples> {
    let intervals = intervals + intervals % 2; // Simpson needs an even count
    let du = 2.0 * half_width / intervals as f64;
    let mut nodes = Vec::with_capacity(intervals + 1);
    let mut weights = Vec::with_capacity(intervals + 1);
    for k in 0..=intervals {
        let u = -half_width + k as f64 * du;
        let x = centre + scale * u.sinh();
        let simpson = if k == 0 || k == intervals { 1.0 } else if k % 2 == 1 { 4.0 } else { 2.0 };
        nodes.push(x);
        weights.push(q.log_density(&[x]).exp() * scale * u.cosh() * simpson * du / 3.0);
    }
    Samples::from_scalars(nodes)?.with_weights(weights)
}
