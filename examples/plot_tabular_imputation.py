"""
=========================================================
Imputing a table: against KNNImputer and IterativeImputer
=========================================================

:class:`~sklearn_mae.MaskedAutoencoderImputer` is a drop-in scikit-learn imputer. On
tabular rows it first fits a multivariate Gaussian to the table (by EM, missing entries
and all), then trains a small MLP on top of it: the missing entries are hidden from the
network and never enter the loss, and during training a random 20% of the *observed*
entries are hidden as well, so the network learns to predict what it cannot see (as in
ReMasker). A hidden entry is predicted as a learnt blend of the network's value and the
Gaussian's conditional mean given the visible entries of its row.

We hide 20% of the entries of two scikit-learn tables completely at random and compare
the root mean squared error on the hidden entries, in standardised units, with
scikit-learn's imputers.
"""

# %%
# The protocol of ``benchmarks/inpainting.py``
# --------------------------------------------
# Each table is standardised, 20% of its entries are hidden with a seeded random mask,
# and every imputer fills the same table. ``IterativeImputer`` gets 30 rounds instead of
# its default 10, which on wine stop before its convergence criterion is met (it would
# warn). The whole comparison takes about 10 s on two CPU cores.
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.preprocessing import StandardScaler

from sklearn_mae import MaskedAutoencoderImputer

imputers = {
    "SimpleImputer(mean)": lambda: SimpleImputer(),
    "KNNImputer(5)": lambda: KNNImputer(),
    "IterativeImputer": lambda: IterativeImputer(max_iter=30, random_state=0),
    "MaskedAutoencoderImputer": lambda: MaskedAutoencoderImputer(random_state=0),
}

rows = []
for loader in (load_wine, load_breast_cancer):
    X = StandardScaler().fit_transform(loader().data)
    hidden = np.random.default_rng(0).random(X.shape) < 0.2
    X_missing = np.where(hidden, np.nan, X)
    for name, make in imputers.items():
        start = time.perf_counter()
        filled = make().fit_transform(X_missing)
        seconds = time.perf_counter() - start
        rmse = np.sqrt(np.mean((filled[hidden] - X[hidden]) ** 2))
        rows.append({"data": loader.__name__[5:], "imputer": name, "RMSE": rmse,
                     "seconds": seconds})
        if name == "MaskedAutoencoderImputer":  # observed entries are returned unchanged
            assert np.array_equal(filled[~hidden], X[~hidden])

results = pd.DataFrame(rows)
print(results.pivot(index="imputer", columns="data", values="RMSE").round(3))
print(results.pivot(index="imputer", columns="data", values="seconds").round(1))

# %%
# RMSE on the hidden entries
# --------------------------
table = results.pivot(index="imputer", columns="data", values="RMSE").loc[list(imputers)]
ax = table.plot.barh(figsize=(6.5, 3.5), width=0.75)
ax.set_xlabel("RMSE on hidden entries (standardised units; lower is better)")
ax.set_ylabel("")
ax.invert_yaxis()
ax.legend(title="20% missing", loc="lower right")
plt.gcf().set_layout_engine("constrained")
plt.show()

# %%
# The masked autoencoder fills both tables best: on wine it is ahead of ``KNNImputer``,
# and on breast cancer, whose 30 features are strongly correlated, the Gaussian under
# it gives the exact linear predictions that make ``IterativeImputer``'s regressions
# strong there, and the network adds to them. Across the 18 table settings of the
# benchmark (MCAR, MAR and MNAR) it averages an RMSE of 0.741 against 0.821 for
# ``IterativeImputer``, 0.818 for a MissForest-style imputer and 0.904 for
# ``KNNImputer``, and is at or below the best of them in every setting; on images it is
# far ahead (see :ref:`benchmarks`). It costs a few tenths of a second of training where
# ``IterativeImputer`` may take a tenth. ``add_indicator=True`` appends the missing-value
# indicator, as for scikit-learn's imputers.
