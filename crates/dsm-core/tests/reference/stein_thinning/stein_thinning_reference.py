"""Reference selections of the Python package `stein_thinning` (PyPI stein-thinning 0.2.0,
Riabiz et al. 2022), for crates/dsm-core/tests/mcmc.rs (SteinThinning agrees index for index).

Run from this folder with the package installed:

    python3 -m venv /tmp/st && /tmp/st/bin/pip install stein-thinning==0.2.0 numpy
    /tmp/st/bin/python stein_thinning_reference.py

Inputs (committed; the Rust tests read them):
  toy10.csv      10 x 2 draws, numpy default_rng(0).standard_normal((10, 2)) (written here);
                 scores s = -x.
  X1009.csv      1009 x 3 draws (default_rng(1) normals times an upper-triangular matrix),
                 scores s = -x: exercises the median over 1000 evenly spaced rows.
  demo_smp.csv, demo_scr.csv   the package's own demo chain (500 x 2, a Gaussian mixture
                 sampled by MCMC, with its scores), copied from stein_thinning/demo/data.
Output:
  stein_thinning_reference.csv   case,indices (indices ';'-separated, 0-based, in the order chosen)
with case = <data>/<preconditioner>/<standardize>/<m>.
"""
from pathlib import Path

import numpy as np
import stein_thinning
from stein_thinning.thinning import thin

HERE = Path(__file__).resolve().parent
assert stein_thinning.__version__ == "0.2.0", stein_thinning.__version__

toy = np.random.default_rng(0).standard_normal((10, 2))
np.savetxt(HERE / "toy10.csv", toy, delimiter=",", fmt="%.17g")
toy = np.loadtxt(HERE / "toy10.csv", delimiter=",")
big = np.loadtxt(HERE / "X1009.csv", delimiter=",")
smp = np.loadtxt(HERE / "demo_smp.csv", delimiter=",")
scr = np.loadtxt(HERE / "demo_scr.csv", delimiter=",")

cases = []
for pre in ["id", "med", "sclmed", "smpcov", "0.5", "2"]:
    for std in [True, False]:
        cases.append(("toy10", pre, std, 15, toy, -toy))
for pre in ["id", "med", "sclmed", "smpcov"]:
    cases.append(("X1009", pre, True, 10, big, -big))
    cases.append(("demo", pre, True, 40, smp, scr))
cases.append(("demo", "id", False, 40, smp, scr))

with open(HERE / "stein_thinning_reference.csv", "w") as f:
    f.write("case,indices\n")
    for name, pre, std, m, x, s in cases:
        idx = thin(x, s, m, standardize=std, preconditioner=pre)
        f.write(f"{name}/{pre}/{int(std)}/{m}," + ";".join(str(int(i)) for i in idx) + "\n")
print(open(HERE / "stein_thinning_reference.csv").read())
