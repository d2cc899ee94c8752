"""Reference implementations for `cargo xtask bench-compare` (dsm-bench).

Usage: python compare.py WORKLOAD DATA N D REPEATS
  WORKLOAD  ksd_v_imq | sm_gaussian
  DATA      raw little-endian float64, row-major N x D (written by the Rust harness)
Prints one JSON object: {"numpy_s", "numpy_value", "jax_s", "jax_value", "torch_s", "torch_value"}
with null where a reference is not installed (JAX and PyTorch are optional; a message on stderr
says which are missing). Times are medians of REPEATS runs after a warm-up.

The KSD references are written the way a careful numpy user would: Gram-matrix products in row
blocks (no n x n temporaries beyond one block), float64 throughout.
"""
import json
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


def sm_gaussian_numpy(x):
    """Score-matching loss of a full-covariance Gaussian (here N(0, I), computed in the general
    form dsm computes): s = -(x - mu) P, loss = mean(|s|^2) + 2 tr(-P) (einsum form)."""
    n, d = x.shape
    mu, prec = np.zeros(d), np.eye(d)
    s = -(x - mu) @ prec
    return float(np.mean(np.einsum("ij,ij->i", s, s)) - 2.0 * np.trace(prec))


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

    return {"ksd_v_imq": ksd, "sm_gaussian": sm}


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


def main():
    workload, path, n, d, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    x = np.fromfile(path, dtype="<f8").reshape(n, d)
    f = {"ksd_v_imq": ksd_v_imq_numpy, "sm_gaussian": sm_gaussian_numpy}[workload]
    out = {"numpy_s": median_time(lambda: f(x), repeats), "numpy_value": float(f(x)),
           "jax_s": None, "jax_value": None, "torch_s": None, "torch_value": None}
    optional = (
        ("jax", jax_refs, "JAX is not installed: no JAX column (cargo xtask bench-compare --setup installs it)"),
        ("torch", torch_refs, "PyTorch is not installed: no PyTorch column (pip install torch into the venv to add it)"),
    )
    for key, make_refs, missing in optional:
        refs = make_refs()
        if refs is None:
            print(missing, file=sys.stderr)
            continue
        g = refs[workload]
        out[key + "_s"] = median_time(lambda: g(x), repeats)
        out[key + "_value"] = g(x)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
