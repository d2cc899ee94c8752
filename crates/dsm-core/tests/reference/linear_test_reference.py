"""Reference values of the linear-time KSD test (LinearKsdTest, src/stein/linear_test.rs):
the incomplete U-statistic over the cyclic design and its wild-bootstrap replicates FOR GIVEN
SIGNS, for crates/dsm-core/tests/linear_test.rs.

Run from this folder with numpy:  python3 linear_test_reference.py
The Rust tests read the committed CSV files; they never run Python.

Inputs (read, never rewritten): ksd_data.csv of ksd_reference.py (n = 200, d = 3).
Outputs:
  linear_test_signs.csv       B = 30 lines of n = 200 signs (+1 / -1), seeded.
  linear_test_reference.csv   name,value with name = "<case>/<quantity>".
  linear_test_replicates.csv  case,b,value.

Model: Gaussian(mu = [0.1, -0.2, 0.3], Sigma = [[1.2, 0.3, 0], [0.3, 0.8, -0.1],
[0, -0.1, 1.5]]) (the model of ksd_reference.py). Cases "<stein>_L<offsets>":
  ksd   the Langevin Stein kernel with IMQ c = 1, beta = -1/2;
  dksd  the diffusion Stein kernel with m_jk = delta_jk sqrt(1 + x_j^2/5) + 0.1 C_jk.
Definitions (docs/math.md eq. 8.4), written independently of the Rust code (general,
non-radial formulas over all n x n pairs, then the design picked out of the matrix):
  D         = {(i, (i + l) mod n) : 0 <= i < n, 1 <= l <= L}
  statistic = mean_{(i,j) in D} H_ij
  T*_b      = mean_{(i,j) in D} e_bi e_bj H_ij
  p_value   = (1 + #{T*_b >= statistic}) / (1 + B)
  critical  = sorted(T*)[clamp(ceil(0.95 B), 1, B) - 1]
  scale     = mean_{(i,j) in D} |H_ij|: an absolute tolerance scale.
"""
import math
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
B, ALPHA = 30, 0.05
MU = np.array([0.1, -0.2, 0.3])
SIGMA = np.array([[1.2, 0.3, 0.0], [0.3, 0.8, -0.1], [0.0, -0.1, 1.5]])
C = np.array([[0.0, 1.0, -0.5], [0.3, 0.0, 0.2], [-0.4, 0.6, 0.0]])


def score(x):
    return -np.linalg.solve(SIGMA, (x - MU).T).T


def imq(x, c=1.0, beta=-0.5):
    r = x[:, None, :] - x[None, :, :]
    base = c * c + (r * r).sum(-1)
    val = base**beta
    gx = (2 * beta * base ** (beta - 1))[..., None] * r
    eye = np.eye(x.shape[1])
    cross = (-2 * beta * base ** (beta - 1))[..., None, None] * eye - (
        4 * beta * (beta - 1) * base ** (beta - 2)
    )[..., None, None] * np.einsum("ija,ijb->ijab", r, r)
    return val, gx, -gx, cross


def langevin_gram(x):
    s = score(x)
    k, gx, gy, cross = imq(x)
    return (
        k * (s @ s.T)
        + np.einsum("ia,ija->ij", s, gy)
        + np.einsum("ija,ja->ij", gx, s)
        + np.einsum("ijaa->ij", cross)
    )


def diffusion_gram(x):
    n, d = x.shape
    m = np.zeros((n, d, d))
    idx = np.arange(d)
    m[:, idx, idx] = np.sqrt(1.0 + x**2 / 5.0)
    m += 0.1 * C
    div = x / (5.0 * np.sqrt(1.0 + x**2 / 5.0))
    b = np.einsum("iak,ia->ik", m, score(x)) + div
    k, gx, gy, cross = imq(x)
    return (
        k * (b @ b.T)
        + np.einsum("ja,ica,ijc->ij", b, m, gx)
        + np.einsum("ia,jca,ijc->ij", b, m, gy)
        + np.einsum("iac,ijab,jbc->ij", m, cross, m)
    )


x = np.loadtxt(HERE / "ksd_data.csv", delimiter=",")
n = x.shape[0]
rng = np.random.default_rng(20261206)
signs = np.where(rng.random((B, n)) < 0.5, -1.0, 1.0)
with open(HERE / "linear_test_signs.csv", "w") as f:
    for row in signs:
        f.write(",".join(f"{v:.0f}" for v in row) + "\n")
signs = np.loadtxt(HERE / "linear_test_signs.csv", delimiter=",")

rows, reps_rows = [], []
for stein, gram in [("ksd", langevin_gram), ("dksd", diffusion_gram)]:
    h = gram(x)
    assert np.allclose(h, h.T, rtol=0, atol=1e-12 * np.abs(h).max())
    for L in [1, 4]:
        case = f"{stein}_L{L}"
        i = np.repeat(np.arange(n), L)
        j = (i + np.tile(np.arange(1, L + 1), n)) % n
        hd = h[i, j]
        statistic = hd.mean()
        reps = np.array([(e[i] * e[j] * hd).mean() for e in signs])
        exceed = int((reps >= statistic).sum())
        scale = np.abs(hd).mean()
        margin = np.abs(reps - statistic).min() / scale
        assert margin > 1e-9, (case, margin)
        q = math.ceil((1 - ALPHA) * B)
        rows += [
            (f"{case}/statistic", statistic),
            (f"{case}/exceed", exceed),
            (f"{case}/p_value", (1 + exceed) / (1 + B)),
            (f"{case}/critical_value", np.sort(reps)[min(max(q, 1), B) - 1]),
            (f"{case}/scale", scale),
        ]
        reps_rows += [(case, b, t) for b, t in enumerate(reps)]

with open(HERE / "linear_test_reference.csv", "w") as f:
    f.write("name,value\n")
    for name, value in rows:
        f.write(f"{name},{float(value)!r}\n")
with open(HERE / "linear_test_replicates.csv", "w") as f:
    f.write("case,b,value\n")
    for case, b, t in reps_rows:
        f.write(f"{case},{b},{float(t)!r}\n")
print(open(HERE / "linear_test_reference.csv").read())
