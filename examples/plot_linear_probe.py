"""
=========================================
Features for a classifier: a linear probe
=========================================

A masked autoencoder learns features without labels. The standard way to judge them is a
*linear probe*: a linear classifier trained on the frozen features. Here
:class:`~sklearn_mae.MaskedAutoencoder` is one step of a scikit-learn
:class:`~sklearn.pipeline.Pipeline`, followed by a
:class:`~sklearn.preprocessing.StandardScaler` and a
:class:`~sklearn.linear_model.LogisticRegression`; the labels reach only the classifier.

The latent features are not standardised, so the scaler matters: without it
``LogisticRegression`` needs many more iterations and warns that it did not converge.
"""

# %%
# Data: scikit-learn's 8x8 digits
# -------------------------------
# 64 features that form a square are read as an 8x8 image, so the estimator picks its
# convolutional network. Pixels are scaled to [0, 1].
import time

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mae import MaskedAutoencoder

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.25, stratify=y, random_state=0
)


# %%
# Three pipelines, one classifier
# -------------------------------
# Raw pixels, PCA and the masked autoencoder feed the same standardised logistic
# regression. The autoencoder trains with its defaults (``max_epochs="auto"``: 46 passes
# over these 1,347 images, about 500 optimiser steps).
def probe(features):
    steps = [features] if features is not None else []
    return make_pipeline(*steps, StandardScaler(), LogisticRegression(max_iter=1000))


pipelines = {
    "raw pixels": probe(None),
    "PCA(32)": probe(PCA(32, random_state=0)),
    "MaskedAutoencoder": probe(MaskedAutoencoder(latent_dim=32, random_state=0)),
}
accuracy, seconds = {}, {}
for name, pipeline in pipelines.items():
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    seconds[name] = time.perf_counter() - start
    accuracy[name] = pipeline.score(X_test, y_test)
    print(f"{name:>18}: test accuracy {accuracy[name]:.3f}, fit {seconds[name]:.1f} s")

# %%
# The fitted autoencoder is the pipeline's first step; what it did is in its fitted
# attributes, with every ``"auto"`` setting resolved.
mae = pipelines["MaskedAutoencoder"][0]
print(mae.architecture_, mae.training_params_)

# %%
# Accuracy of the probe
# ---------------------
fig, ax = plt.subplots(figsize=(6, 2.5), layout="constrained")
names = list(accuracy)
bars = ax.barh(names, [accuracy[name] for name in names], color=["0.6", "0.6", "C0"])
ax.bar_label(bars, fmt="%.3f", padding=3)
ax.set_xlim(0.9, 1.0)
ax.set_xlabel("test accuracy of a standardised logistic regression")
ax.invert_yaxis()
plt.show()

# %%
# On digits the pixels are already good features and the autoencoder's 32 numbers match
# them. The gap opens on harder images: on MNIST the default model's probe reaches 0.979
# against 0.893 for raw pixels (see :ref:`benchmarks`).
