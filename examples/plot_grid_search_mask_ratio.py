"""
===========================================
Choosing ``mask_ratio`` with a grid search
===========================================

``MaskedAutoencoder.score`` is minus the mean squared error on hidden entries, measured
under one fixed protocol whatever the estimator's own ``mask_ratio``: each sample's
entries are split by a fixed random 50% mask and each half is predicted from the other.
Higher is better, so :class:`~sklearn.model_selection.GridSearchCV` can compare models
trained with different masks on equal terms, without labels.
"""

# %%
# A small grid search
# -------------------
# Five mask ratios, three folds, 600 digits and 20 epochs per fit (batches of 64, 140
# optimiser steps) keep this to about 15 s on two CPU cores; with the defaults (about
# 500 steps per fit) it takes a few times longer.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sklearn_mae import MaskedAutoencoder

X = load_digits().data[:600] / 16

search = GridSearchCV(
    MaskedAutoencoder(latent_dim=32, max_epochs=20, batch_size=64, random_state=0),
    {"mask_ratio": [0.1, 0.3, 0.5, 0.7, 0.9]},
    cv=3,
)
search.fit(X)
print("best:", search.best_params_, f"score {search.best_score_:.4f}")

results = pd.DataFrame(search.cv_results_)
print(results[["param_mask_ratio", "mean_test_score", "std_test_score", "mean_fit_time"]])

# %%
# Score against mask ratio
# ------------------------
# The score is in squared input units (pixels in [0, 1] here). Error bars are the
# standard deviation over the folds.
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ratios = results["param_mask_ratio"].astype(float)
ax.errorbar(ratios, results["mean_test_score"], yerr=results["std_test_score"],
            marker="o", capsize=3)
best = search.best_params_["mask_ratio"]
ax.axvline(best, color="0.7", linestyle="--", label=f"best: {best}")
ax.set_xlabel("mask_ratio used in training")
ax.set_ylabel("score (minus hidden-pixel MSE)")
ax.legend()
plt.show()

# %%
# Too little masking (0.1) teaches the network little about predicting what it cannot
# see; too much (0.9) leaves too little to predict from. The best ratio for
# reconstruction need not be the best for a downstream task: to choose it for a
# classifier, put the autoencoder in a pipeline and search ``mae__mask_ratio`` with the
# classifier's accuracy (see :ref:`model_selection`).
#
# The refitted best model is ready to use:
print(np.round(search.best_estimator_.score(X), 4))
