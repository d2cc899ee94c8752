"""Reference values of the integrated autocorrelation time (Geyer 1992, initial monotone
sequence) for crates/dsm-core/tests/autocorrelation.rs.

Run from this folder with numpy:  python3 autocorrelation_reference.py
Reads ksd_data.csv (n = 200, d = 3); writes autocorrelation_reference.csv with one line per
series: name,tau. Series: the three columns of ksd_data.csv ("col0".."col2"), their running
means over a window of 5 ("smooth0".."smooth2", strongly dependent), and the column-0
values multiplied by 1e300 ("col0_huge", scale invariance without overflow).

Independent of the Rust code: autocovariances from numpy.correlate over the full series,
c_k = (1/n) sum_t (y_t - ybar)(y_{t+k} - ybar); Gamma_m = c_{2m} + c_{2m+1} for m while
positive; running minimum; tau = (2 sum Gamma - c_0) / c_0.
"""
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def tau(y):
    y = np.asarray(y, dtype=np.float64)
    s = np.max(np.abs(y))
    y = y / s
    n = len(y)
    z = y - y.mean()
    c = np.correlate(z, z, mode="full")[n - 1 :] / n
    total, prev = 0.0, np.inf
    m = 0
    while 2 * m + 1 < n:
        g = c[2 * m] + c[2 * m + 1]
        if g <= 0:
            break
        prev = min(prev, g)
        total += prev
        m += 1
    return (2 * total - c[0]) / c[0]


x = np.loadtxt(HERE / "ksd_data.csv", delimiter=",")
rows = []
for k in range(3):
    rows.append((f"col{k}", tau(x[:, k])))
for k in range(3):
    sm = np.convolve(x[:, k], np.ones(5) / 5, mode="valid")
    rows.append((f"smooth{k}", tau(sm)))
rows.append(("col0_huge", tau(x[:, 0] * 1e300)))
with open(HERE / "autocorrelation_reference.csv", "w") as f:
    f.write("name,tau\n")
    for name, t in rows:
        f.write(f"{name},{float(t)!r}\n")
print(open(HERE / "autocorrelation_reference.csv").read())
