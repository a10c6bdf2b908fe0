"""
=============================================
Ranking anomalies with ``score_samples``
=============================================

:meth:`~sklearn_mae.MaskedAutoencoder.score_samples` gives each sample minus the mean
squared error with which the model predicts its hidden entries from the visible ones
(under a fixed 50% mask, whatever the training mask). A sample unlike the training data
is predicted badly and scores low, so ``-score_samples`` ranks samples from most to
least unusual, as scikit-learn's outlier detectors do.
"""

# %%
# Normal digits and corrupted ones
# --------------------------------
# The model learns from the training digits (about 5 s on two CPU cores). To the 450 test
# digits we add 30 "anomalies": test digits whose pixels have been shuffled, so they keep
# their brightness but lose their strokes.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sklearn_mae import MaskedAutoencoder
from sklearn_mae.evaluation import digits_split

X_train, X_test, y_train, y_test = digits_split()
mae = MaskedAutoencoder(random_state=0).fit(X_train)

rng = np.random.default_rng(0)
shuffled = rng.permuted(X_test[:30], axis=1)
X = np.vstack([X_test, shuffled])
is_anomaly = np.r_[np.zeros(len(X_test), bool), np.ones(len(shuffled), bool)]

# %%
# Scores
# ------
scores = mae.score_samples(X)
print(f"ROC AUC of -score_samples: {roc_auc_score(is_anomaly, -scores):.3f}")

fig, ax = plt.subplots(figsize=(5.5, 3), layout="constrained")
bins = np.linspace(scores.min(), scores.max(), 40)
ax.hist(scores[~is_anomaly], bins=bins, label="test digits")
ax.hist(scores[is_anomaly], bins=bins, label="shuffled pixels")
ax.set_xlabel("score_samples (minus hidden-pixel MSE; higher is more typical)")
ax.set_ylabel("samples")
ax.legend()
plt.show()

# %%
# The most unusual real digits
# ----------------------------
# Among the real test digits, the lowest scores pick out badly written or unusual
# ones; the highest, the most typical.
order = np.argsort(scores[~is_anomaly])
fig, axes = plt.subplots(2, 8, figsize=(8, 2.6), layout="constrained")
for ax, i in zip(axes[0], order[:8], strict=True):
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{y_test[i]}: {scores[i]:.3f}", fontsize=8)
for ax, i in zip(axes[1], order[-8:], strict=True):
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{y_test[i]}: {scores[i]:.3f}", fontsize=8)
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].text(-0.5, 0.5, "least typical", transform=axes[0, 0].transAxes, rotation=90,
                ha="right", va="center", fontsize=9)
axes[1, 0].text(-0.5, 0.5, "most typical", transform=axes[1, 0].transAxes, rotation=90,
                ha="right", va="center", fontsize=9)
plt.show()

# %%
# ``score_samples`` never uses labels and works on tables too (the MLP model). To flag
# outliers rather than rank them, threshold the scores, for example at a low percentile
# of the training samples' scores:
threshold = np.percentile(mae.score_samples(X_train), 1)
print(f"flagged: {np.mean(scores[is_anomaly] < threshold):.0%} of the shuffled images, "
      f"{np.mean(scores[~is_anomaly] < threshold):.1%} of the real test digits")
