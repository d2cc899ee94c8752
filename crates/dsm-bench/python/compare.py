"""Reference implementations for `cargo xtask bench-compare` (dsm-bench).

Usage: python compare.py WORKLOAD DATA N D REPEATS
  WORKLOAD  ksd_v_imq | ksd_test_imq | stein_thin | sm_gaussian | dsm_gaussian_flow | dksd_gaussian_flow | fit_dsm_gaussian_flow
  DATA      raw little-endian float64, row-major N x D (written by the Rust harness)
Prints one JSON object: {"numpy_s", "numpy_value", "jax_s", "jax_value", "torch_s", "torch_value"}
with null where a reference is not installed (JAX and PyTorch are optional; a message on stderr
says which are missing). Times are medians of REPEATS runs after a warm-up.

The KSD references are written the way a careful numpy user would: Gram-matrix products in row
blocks (no n x n temporaries beyond one block), float64 throughout.

The flow workloads (the paper's main path): the model is the multivariate t with location
FLOW_LOCATION * 1, identity scale and nu = FLOW_DOF (in 1-D the Student-t), the diffusion is
m = 1/T' with T = Phi^-1 o F_nu the Gaussian flow of St(FLOW_LOCATION, 1, FLOW_DOF) on each
coordinate. numpy uses scipy's stdtr / ndtri and the closed forms T' = p/phi(T),
T'' = T'(s + T T'); JAX is written as a JAX user would: T from betainc and ndtri on the far-side
tail, and T', A' = (1/T'^2)', the score and the Hessian diagonal by jax.grad / jax.hessian, under
jit and vmap.

The fit workload (JAX only: numpy has no derivatives): the location of St(mu, 1, FLOW_DOF) on
1-D Student-t data by DSM with the Gaussian flow moving with mu, from mu = FIT_START, with
jax.value_and_grad of the same objective (under jit) and scipy's L-BFGS-B; its value is the
objective at the minimum, and the number of evaluations goes to stderr. (JAX's betainc is a float64 continued fraction; far in the tails its relative error
grows, which the value agreement of the row would show.)
"""
import json
import os
import sys
import time

import numpy as np

BLOCK = 1024


def median_time(f, repeats):
    f()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def ksd_v_imq_numpy(x):
    """V-statistic of the Langevin Stein kernel, IMQ c = 1, beta = -1/2, model N(0, I): s = -x."""
    n, d = x.shape
    s = -x
    xx = np.einsum("ij,ij->i", x, x)
    xs = np.einsum("ij,ij->i", x, s)
    total = 0.0
    for a in range(0, n, BLOCK):
        xb, sb = x[a:a + BLOCK], s[a:a + BLOCK]
        sq = xx[a:a + BLOCK, None] + xx[None, :] - 2.0 * (xb @ x.T)
        np.maximum(sq, 0.0, out=sq)
        u = 1.0 + sq
        phi = 1.0 / np.sqrt(u)
        d1 = -0.5 * phi / u
        d2 = -1.5 * d1 / u
        dot = sb @ s.T
        # r.(s_y - s_x) with r = x - y: x.s_y - x.s_x - y.s_y + y.s_x
        dr = xb @ s.T - xs[a:a + BLOCK, None] - xs[None, :] + sb @ x.T
        total += np.sum(phi * dot + 2.0 * d1 * dr - 2.0 * d * d1 - 4.0 * d2 * sq)
    return total / (n * n)


def ksd_test_imq_numpy(x, replicates=1000, seed=1):
    """The wild-bootstrap KSD test of N(0, I) as a careful numpy user batches it: the Stein Gram
    matrix H in row blocks (IMQ c = 1, beta = -1/2, s = -x), then all B Rademacher replicates in
    one matrix product, T*_b = w_b^T H w_b / n. Returns the statistic n V = sum(H) / n (the
    replicates' signs differ from dsm's, so the p-values are not compared)."""
    n, d = x.shape
    s = -x
    xx = np.einsum("ij,ij->i", x, x)
    xs = np.einsum("ij,ij->i", x, s)
    h = np.empty((n, n))
    for a in range(0, n, BLOCK):
        xb, sb = x[a:a + BLOCK], s[a:a + BLOCK]
        sq = xx[a:a + BLOCK, None] + xx[None, :] - 2.0 * (xb @ x.T)
        np.maximum(sq, 0.0, out=sq)
        u = 1.0 + sq
        phi = 1.0 / np.sqrt(u)
        d1 = -0.5 * phi / u
        d2 = -1.5 * d1 / u
        dr = xb @ s.T - xs[a:a + BLOCK, None] - xs[None, :] + sb @ x.T
        h[a:a + BLOCK] = phi * (sb @ s.T) + 2.0 * d1 * dr - 2.0 * d * d1 - 4.0 * d2 * sq
    w = np.random.default_rng(seed).choice([-1.0, 1.0], size=(replicates, n))
    reps = np.einsum("bi,bi->b", w @ h, w) / n
    statistic = h.sum() / n
    _p_value = (1 + np.count_nonzero(reps >= statistic)) / (1 + replicates)
    return statistic


def stein_thin_reference(x):
    """Stein thinning with the reference package stein_thinning (0.2, PyPI stein-thinning): N(0, I)
    draws with scores -x, 100 points, its defaults (standardize=True, preconditioner='id'). Returns
    the checksum sum_t (t + 1) * index_t, or None when the package is not installed."""
    try:
        from stein_thinning.thinning import thin
    except ImportError:
        return None
    idx = thin(x, -x, 100)
    return float(sum((t + 1) * int(i) for t, i in enumerate(idx)))


def sm_gaussian_numpy(x):
    """Score-matching loss of a full-covariance Gaussian (here N(0, I), computed in the general
    form dsm computes): s = -(x - mu) P, loss = mean(|s|^2) + 2 tr(-P) (einsum form)."""
    n, d = x.shape
    mu, prec = np.zeros(d), np.eye(d)
    s = -(x - mu) @ prec
    return float(np.mean(np.einsum("ij,ij->i", s, s)) - 2.0 * np.trace(prec))


FLOW_DOF = 10.0
FLOW_LOCATION = 0.3
# Start of the fit workload, in units of the scale (data St(0, 1, FLOW_DOF)).
FIT_START = 20.0


def flow_parts_numpy(x):
    """Per coordinate: m = 1/T', m' = -T''/T'^2, A = m^2, A' = 2 m m'; and the model's score s and
    Hessian diagonal (multivariate t, identity scale)."""
    from scipy import special
    nu, mu = FLOW_DOF, FLOW_LOCATION
    n, d = x.shape
    z = x - mu
    az = np.abs(z)
    tail = special.stdtr(nu, -az)  # far-side tail sf(|z|)
    t = np.sign(z) * -special.ndtri(tail)
    log_t_pdf = (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
                 - (nu + 1) / 2 * np.log1p(z * z / nu))
    log_phi = -0.5 * t * t - 0.5 * np.log(2 * np.pi)
    t1 = np.exp(log_t_pdf - log_phi)
    s1 = -(nu + 1) * z / (nu + z * z)  # score of the 1-D flow's Student-t
    t2 = t1 * (s1 + t * t1)
    m = 1.0 / t1
    dm = -t2 / (t1 * t1)
    r2 = np.einsum("ij,ij->i", z, z)
    c = (nu + d) / (nu + r2)
    s = -c[:, None] * z
    h_diag = -c[:, None] + 2.0 * (c * c / (nu + d))[:, None] * z * z
    return m, dm, s, h_diag


def dsm_gaussian_flow_numpy(x):
    m, dm, s, h = flow_parts_numpy(x)
    a, da = m * m, 2.0 * m * dm
    return float(np.mean(np.sum(a * s * s + 2.0 * (da * s + a * h), axis=1)))


def dksd_blocks(xp, x, m, b, block, k0_block):
    n = x.shape[0]
    total = 0.0
    for lo in range(0, n, block):
        total += k0_block(x[lo:lo + block], x, m[lo:lo + block], m, b[lo:lo + block], b)
    return total / (n * n)


def dksd_k0_block_numpy(xi, xj, mi, mj, bi, bj):
    r = xi[:, None, :] - xj[None, :, :]
    u = np.sum(r * r, axis=2)
    q = 1.0 + u
    phi = 1.0 / np.sqrt(q)
    d1 = -0.5 * phi / q
    d2 = -1.5 * d1 / q
    vx = mi[:, None, :] * r
    vy = mj[None, :, :] * r
    dot = bi @ bj.T
    cross = np.sum(bj[None, :, :] * vx, axis=2) - np.sum(bi[:, None, :] * vy, axis=2)
    frob = mi @ mj.T
    vv = np.sum(vx * vy, axis=2)
    return float(np.sum(phi * dot + 2.0 * d1 * cross - 2.0 * d1 * frob - 4.0 * d2 * vv))


def dksd_gaussian_flow_numpy(x):
    m, dm, s, _ = flow_parts_numpy(x)
    b = m * s + dm  # b = m^T s + div m, m diagonal
    return dksd_blocks(np, x, m, b, 256, dksd_k0_block_numpy)


def jax_refs():
    try:
        import jax
        import jax.numpy as jnp
    except Exception:
        return None
    jax.config.update("jax_enable_x64", True)

    def ksd_block(xb, sb, x, s, xx_b, xx, xs_b, xs):
        d = x.shape[1]
        sq = jnp.maximum(xx_b[:, None] + xx[None, :] - 2.0 * (xb @ x.T), 0.0)
        u = 1.0 + sq
        phi = 1.0 / jnp.sqrt(u)
        d1 = -0.5 * phi / u
        d2 = -1.5 * d1 / u
        dot = sb @ s.T
        dr = xb @ s.T - xs_b[:, None] - xs[None, :] + sb @ x.T
        return jnp.sum(phi * dot + 2.0 * d1 * dr - 2.0 * d * d1 - 4.0 * d2 * sq)

    block = jax.jit(ksd_block)

    def ksd(x):
        x = jnp.asarray(x)
        s = -x
        xx, xs = jnp.sum(x * x, 1), jnp.sum(x * s, 1)
        n = x.shape[0]
        total = 0.0
        for a in range(0, n, BLOCK):
            total = total + block(x[a:a + BLOCK], s[a:a + BLOCK], x, s, xx[a:a + BLOCK], xx, xs[a:a + BLOCK], xs)
        return float(jax.block_until_ready(total)) / (n * n)

    def sm_general(x):
        prec = jnp.eye(x.shape[1])
        s = -(x @ prec)
        return jnp.mean(jnp.sum(s * s, 1)) - 2.0 * jnp.trace(prec)

    sm_jit = jax.jit(sm_general)

    def sm(x):
        return float(jax.block_until_ready(sm_jit(jnp.asarray(x))))

    from jax.scipy.special import betainc, ndtri

    nu, mu = FLOW_DOF, FLOW_LOCATION

    def flow_t(xk):
        z = xk - mu
        tail = 0.5 * betainc(nu / 2, 0.5, nu / (nu + z * z))  # sf(|z|), the far-side tail
        return jnp.sign(z) * -ndtri(tail)

    def m_of(xk):
        return 1.0 / jax.grad(flow_t)(xk)

    def a_of(xk):
        return m_of(xk) ** 2

    def log_p(x):
        d = x.shape[0]
        z = x - mu
        return -(nu + d) / 2 * jnp.log1p(jnp.dot(z, z) / nu)

    def dsm_point(x):
        a = jax.vmap(a_of)(x)
        da = jax.vmap(jax.grad(a_of))(x)
        s = jax.grad(log_p)(x)
        h = jnp.diag(jax.hessian(log_p)(x))
        return jnp.sum(a * s * s + 2.0 * (da * s + a * h))

    dsm_jit = jax.jit(lambda x: jnp.mean(jax.vmap(dsm_point)(x)))

    def dsm_flow(x):
        return float(jax.block_until_ready(dsm_jit(jnp.asarray(x))))

    def point_table(x):
        m = jax.vmap(jax.vmap(m_of))(x)
        dm = jax.vmap(jax.vmap(jax.grad(m_of)))(x)
        s = jax.vmap(jax.grad(log_p))(x)
        return m, m * s + dm

    table_jit = jax.jit(point_table)

    def k0_block(xi, xj, mi, mj, bi, bj):
        r = xi[:, None, :] - xj[None, :, :]
        u = jnp.sum(r * r, axis=2)
        q = 1.0 + u
        phi = 1.0 / jnp.sqrt(q)
        d1 = -0.5 * phi / q
        d2 = -1.5 * d1 / q
        vx = mi[:, None, :] * r
        vy = mj[None, :, :] * r
        dot = bi @ bj.T
        cross = jnp.sum(bj[None, :, :] * vx, axis=2) - jnp.sum(bi[:, None, :] * vy, axis=2)
        frob = mi @ mj.T
        vv = jnp.sum(vx * vy, axis=2)
        return jnp.sum(phi * dot + 2.0 * d1 * cross - 2.0 * d1 * frob - 4.0 * d2 * vv)

    k0_jit = jax.jit(k0_block)

    def dksd_flow(x):
        x = jnp.asarray(x)
        m, b = table_jit(x)
        n = x.shape[0]
        total = 0.0
        block = 256
        for lo in range(0, n, block):
            total = total + k0_jit(x[lo:lo + block], x, m[lo:lo + block], m, b[lo:lo + block], b)
        return float(jax.block_until_ready(total)) / (n * n)

    # The fit: the Student-t location by DSM with the Gaussian flow moving with mu (total
    # derivative, jax.grad through the flow), L-BFGS-B from scipy on the jitted value and grad.
    def flow_t_at(xk, loc):
        z = xk - loc
        tail = 0.5 * betainc(nu / 2, 0.5, nu / (nu + z * z))
        return jnp.sign(z) * -ndtri(tail)

    def a_at(xk, loc):
        return (1.0 / jax.grad(flow_t_at)(xk, loc)) ** 2

    def log_p1(xk, loc):
        z = xk - loc
        return -(nu + 1) / 2 * jnp.log1p(z * z / nu)

    def dsm_point_at(xk, loc):
        a = a_at(xk, loc)
        da = jax.grad(a_at)(xk, loc)
        s = jax.grad(log_p1)(xk, loc)
        h = jax.grad(jax.grad(log_p1))(xk, loc)
        return a * s * s + 2.0 * (da * s + a * h)

    def fit_loss(loc, x1):
        return jnp.mean(jax.vmap(dsm_point_at, (0, None))(x1, loc))

    value_and_grad = jax.jit(jax.value_and_grad(fit_loss))

    def fit_dsm(x):
        from scipy.optimize import minimize
        x1 = jnp.asarray(x[:, 0])
        evaluations = [0]

        def f(m):
            evaluations[0] += 1
            v, g = value_and_grad(m[0], x1)
            return float(v), np.array([float(g)])

        res = minimize(f, np.array([FIT_START]), jac=True, method="L-BFGS-B",
                       options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 200})
        value = float(value_and_grad(res.x[0], x1)[0])
        print(f"JAX fit: mu = {res.x[0]:.10f} after {evaluations[0]} evaluations, objective {value}",
              file=sys.stderr)
        # JSON has no NaN: a non-finite objective at JAX's end point is reported as missing.
        return value if np.isfinite(value) else None

    return {"ksd_v_imq": ksd, "sm_gaussian": sm, "dsm_gaussian_flow": dsm_flow,
            "dksd_gaussian_flow": dksd_flow, "fit_dsm_gaussian_flow": fit_dsm}


def torch_refs():
    """PyTorch CPU references, float64, written like the numpy ones (row blocks of Gram products).
    None when torch is not installed."""
    try:
        import torch
    except Exception:
        return None
    torch.set_num_threads(max(1, torch.get_num_threads()))

    def ksd(x):
        with torch.no_grad():
            x = torch.from_numpy(x)
            s = -x
            n, d = x.shape
            xx, xs = (x * x).sum(1), (x * s).sum(1)
            total = torch.zeros((), dtype=torch.float64)
            for a in range(0, n, BLOCK):
                xb, sb = x[a:a + BLOCK], s[a:a + BLOCK]
                sq = torch.clamp(xx[a:a + BLOCK, None] + xx[None, :] - 2.0 * (xb @ x.T), min=0.0)
                u = 1.0 + sq
                phi = 1.0 / torch.sqrt(u)
                d1 = -0.5 * phi / u
                d2 = -1.5 * d1 / u
                dot = sb @ s.T
                dr = xb @ s.T - xs[a:a + BLOCK, None] - xs[None, :] + sb @ x.T
                total += torch.sum(phi * dot + 2.0 * d1 * dr - 2.0 * d * d1 - 4.0 * d2 * sq)
            return float(total) / (n * n)

    def sm(x):
        with torch.no_grad():
            x = torch.from_numpy(x)
            d = x.shape[1]
            mu, prec = torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64)
            s = -(x - mu) @ prec
            return float(torch.mean(torch.einsum("ij,ij->i", s, s)) - 2.0 * torch.trace(prec))

    return {"ksd_v_imq": ksd, "sm_gaussian": sm}


def python_binding_refs():
    """dsm itself called from Python (the diffusion_score_matching bindings, installed by
    `cargo xtask bench-compare --setup`): the same workloads with the same arguments as the Rust
    rows, so the difference in time is the bindings' overhead (array conversion, argument
    parsing, the GIL released around the call)."""
    try:
        import diffusion_score_matching as dsm
    except Exception:
        return None

    def ksd(x):
        return dsm.ksd(x, model=dsm.Gaussian([0.0] * x.shape[1], np.eye(x.shape[1]))).value

    def ksd_test(x):
        model = dsm.Gaussian([0.0] * x.shape[1], np.eye(x.shape[1]))
        return dsm.ksd_test(x, model=model, seed=1, replicates=1000).statistic

    def thin(x):
        idx = dsm.stein_thin(x, -x, 100)
        return float(sum((t + 1) * int(i) for t, i in enumerate(idx)))

    def sm(x):
        return dsm.score_matching_loss(x, model=dsm.Gaussian([0.0] * x.shape[1], np.eye(x.shape[1]))).value

    return {"ksd_v_imq": ksd, "ksd_test_imq": ksd_test, "stein_thin": thin, "sm_gaussian": sm}


def measure_optional(out, workload, x, repeats, optional):
    """Times each installed optional reference on the workload into `out`."""
    for key, make_refs, missing in optional:
        refs = make_refs()
        if refs is None:
            print(missing, file=sys.stderr)
            continue
        g = refs.get(workload)
        if g is None:
            continue
        out[key + "_s"] = median_time(lambda: g(x), repeats)
        value = g(x)
        out[key + "_value"] = value if value is None or np.isfinite(value) else None


def main():
    workload, path, n, d, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    x = np.fromfile(path, dtype="<f8").reshape(n, d)
    f = {"ksd_v_imq": ksd_v_imq_numpy, "ksd_test_imq": ksd_test_imq_numpy, "sm_gaussian": sm_gaussian_numpy,
         "stein_thin": stein_thin_reference,
         "dsm_gaussian_flow": dsm_gaussian_flow_numpy,
         "dksd_gaussian_flow": dksd_gaussian_flow_numpy}.get(workload)
    out = {"numpy_s": None, "numpy_value": None,
           "jax_s": None, "jax_value": None, "torch_s": None, "torch_value": None,
           "python_s": None, "python_value": None}
    only_python = os.environ.get("DSM_BENCH_ONLY") == "python"
    # dsm's own bindings first: numpy's BLAS and JAX's runtime keep worker threads that spin
    # after their calls, and the bindings timed after them in this process lost 15-27% to
    # that contention on 2 cores (measured), which is not the bindings' overhead.
    measure_optional(out, workload, x, repeats, (("python", python_binding_refs,
        "the Python bindings are not installed: no dsm-from-Python column (cargo xtask bench-compare --setup installs them)"),))
    if f is not None and not only_python:  # the fit has no numpy reference: numpy has no derivatives
        first = f(x)
        if first is None:
            print("stein_thinning is not installed: no reference for stein_thin (pip install stein-thinning)",
                  file=sys.stderr)
        else:
            out["numpy_s"], out["numpy_value"] = median_time(lambda: f(x), repeats), float(first)
    optional = (
        ("jax", jax_refs, "JAX is not installed: no JAX column (cargo xtask bench-compare --setup installs it)"),
        ("torch", torch_refs, "PyTorch is not installed: no PyTorch column (pip install torch into the venv to add it)"),
    )
    if not only_python:
        measure_optional(out, workload, x, repeats, optional)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
