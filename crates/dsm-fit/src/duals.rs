//! Dual-number copies of θ and x for one evaluation, on the stack for small sizes.

/// Largest θ or x length whose dual copies live on the stack; longer ones use the heap.
pub const STACK_LEN: usize = 16;

/// Runs `f(theta, x)` with both lifted to dual numbers by `lift`, on the stack when each
/// has at most [`STACK_LEN`] entries (so the per-sample paths allocate nothing).
#[inline]
pub(crate) fn with_duals<T: Copy, R>(
    theta: &[f64],
    x: &[f64],
    lift: impl Fn(f64) -> T,
    f: impl FnOnce(&mut [T], &mut [T]) -> R,
) -> R {
    let zero = lift(0.0);
    let (p, d) = (theta.len(), x.len());
    if p <= STACK_LEN && d <= STACK_LEN {
        let (mut tb, mut xb) = ([zero; STACK_LEN], [zero; STACK_LEN]);
        for (a, &v) in tb.iter_mut().zip(theta) {
            *a = lift(v);
        }
        for (a, &v) in xb.iter_mut().zip(x) {
            *a = lift(v);
        }
        f(&mut tb[..p], &mut xb[..d])
    } else {
        let mut tb: Vec<T> = theta.iter().map(|&v| lift(v)).collect();
        let mut xb: Vec<T> = x.iter().map(|&v| lift(v)).collect();
        f(&mut tb, &mut xb)
    }
}
