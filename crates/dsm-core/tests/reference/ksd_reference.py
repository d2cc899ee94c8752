"""Reference values of KSD and DKSD for crates/dsm-core/tests/stein.rs.

Run from this folder: python3 ksd_reference.py
Writes ksd_data.csv (n = 200 points in d = 3, seeded) and ksd_reference.csv (name,value).
The Rust test reads both committed files; it never runs Python.

Everything here is written independently of the Rust code: the Stein kernels use the
general (non-radial) formulas with explicit gradient and cross-derivative matrices of the
base kernel (docs/math.md section 7), summed over the full n x n matrix with numpy.
"""
import numpy as np

rng = np.random.default_rng(20210721)
n, d = 200, 3
x = 0.1 + 0.8 * rng.standard_t(5, size=(n, d))
np.savetxt("ksd_data.csv", x, delimiter=",", fmt="%.17g")
x = np.loadtxt("ksd_data.csv", delimiter=",")  # exactly what Rust reads

mu = np.array([0.1, -0.2, 0.3])
sigma = np.array([[1.2, 0.3, 0.0], [0.3, 0.8, -0.1], [0.0, -0.1, 1.5]])
scores = -(x - mu) @ np.linalg.inv(sigma)  # symmetric precision: rows are -P (x - mu)

C = np.array([[0.0, 1.0, -0.5], [0.3, 0.0, 0.2], [-0.4, 0.6, 0.0]])


def diffusion(xi):
    """m_jk = delta_jk sqrt(1 + x_j^2/5) + 0.1 C_jk and its column divergence."""
    m = np.diag(np.sqrt(1.0 + xi**2 / 5.0)) + 0.1 * C
    div = xi / (5.0 * np.sqrt(1.0 + xi**2 / 5.0))  # (div m)_k = d_k m_kk
    return m, div


def imq(c, beta):
    def k(xv, yv):
        r = xv - yv
        u = c * c + r @ r
        val = u**beta
        gx = 2 * beta * u ** (beta - 1) * r
        gy = -gx
        cross = -2 * beta * u ** (beta - 1) * np.eye(d) - 4 * beta * (beta - 1) * u ** (beta - 2) * np.outer(r, r)
        return val, gx, gy, cross
    return k


def rbf(h):
    def k(xv, yv):
        r = xv - yv
        val = np.exp(-(r @ r) / (2 * h * h))
        gx = -val * r / h**2
        gy = -gx
        cross = val * (np.eye(d) / h**2 - np.outer(r, r) / h**4)
        return val, gx, gy, cross
    return k


def langevin_gram(kernel):
    g = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            k, gx, gy, cross = kernel(x[i], x[j])
            sx, sy = scores[i], scores[j]
            g[i, j] = k * sx @ sy + sx @ gy + gx @ sy + np.trace(cross)
    return g


def diffusion_gram(kernel):
    ms, bs = [], []
    for i in range(n):
        m, div = diffusion(x[i])
        ms.append(m)
        bs.append(m.T @ scores[i] + div)
    g = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            k, gx, gy, cross = kernel(x[i], x[j])
            mx, my, bx, by = ms[i], ms[j], bs[i], bs[j]
            g[i, j] = k * bx @ by + by @ mx.T @ gx + bx @ my.T @ gy + np.trace(mx.T @ cross @ my)
    return g


def u_stat(g):
    return (g.sum() - np.trace(g)) / (n * (n - 1))


def v_stat(g):
    return g.sum() / n**2


sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
iu = np.triu_indices(n, 1)
h_median = np.sqrt(np.median(sq[iu][sq[iu] > 0]))

rows = []
for name, kern in [
    ("imq_c1_b-0.5", imq(1.0, -0.5)),
    ("imq_c2_b-0.3", imq(2.0, -0.3)),
    ("rbf_h1.3", rbf(1.3)),
    ("rbf_median", rbf(h_median)),
]:
    g = langevin_gram(kern)
    rows += [(f"ksd_u_{name}", u_stat(g)), (f"ksd_v_{name}", v_stat(g))]
for name, kern in [("imq_c1_b-0.5", imq(1.0, -0.5)), ("rbf_h1.3", rbf(1.3))]:
    g = diffusion_gram(kern)
    rows += [(f"dksd_u_{name}", u_stat(g)), (f"dksd_v_{name}", v_stat(g))]
rows.append(("rbf_median_bandwidth", h_median))

with open("ksd_reference.csv", "w") as f:
    f.write("name,value\n")
    for name, value in rows:
        f.write(f"{name},{float(value)!r}\n")
print(open("ksd_reference.csv").read())
