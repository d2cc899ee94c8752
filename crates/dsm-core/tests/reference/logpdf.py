"""Reference log-densities for crates/dsm-core/tests/derivatives.rs.

Run: python3 crates/dsm-core/tests/reference/logpdf.py
The printed values are pasted, with their provenance, into the test; the test never runs Python.
"""
import scipy
from scipy import stats

print("scipy", scipy.__version__)
print("T_LOGPDF", repr(float(stats.t.logpdf(0.7, df=3, loc=0.2, scale=1.5))))
print("MVN_LOGPDF", repr(float(stats.multivariate_normal.logpdf([1, -1], mean=[0, 0.5], cov=[[2, 0.3], [0.3, 1]]))))
print("MVT_LOGPDF", repr(float(stats.multivariate_t.logpdf([1, -1], loc=[0, 0.5], shape=[[2, 0.3], [0.3, 1]], df=4))))
