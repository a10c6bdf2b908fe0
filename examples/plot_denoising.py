"""
======================
Denoising digit images
======================

Trained on a corrupted copy of each image against the clean one, a masked autoencoder
learns to correct what it sees wrongly as well as to predict what it cannot see.
``noise`` and ``noise_level`` choose the corruption;
:meth:`~sklearn_mae.MaskedAutoencoder.denoise` returns the reconstruction and
:func:`~sklearn_mae.plotting.plot_denoising` draws it.
"""

# %%
# Noisy test digits
# -----------------
# Gaussian noise of standard deviation 0.2 on pixels in [0, 1], clipped.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_mae import MaskedAutoencoder
from sklearn_mae.evaluation import digits_split
from sklearn_mae.plotting import plot_denoising

X_train, X_test, y_train, y_test = digits_split(np.float32)
rng = np.random.default_rng(0)
noisy = np.clip(X_test + rng.normal(0, 0.2, X_test.shape), 0, 1).astype(np.float32)

# %%
# Train for the noise
# -------------------
# About 10 s on two CPU cores. Each training image gets its own noise level, drawn up
# to ``noise_level``, so milder noise (and clean images) are covered too.
mae = MaskedAutoencoder(noise="gaussian", noise_level=0.2, random_state=0).fit(X_train)
denoised = mae.denoise(noisy)

fig = plot_denoising(mae, noisy, X_test, n=10)
fig.suptitle("Gaussian noise, std 0.2")
plt.show()

# %%
# Mean squared error against the clean test digits:
print(f"noisy input: {np.mean((noisy - X_test) ** 2):.4f}")
print(f"denoised:    {np.mean((denoised - X_test) ** 2):.4f}")

# %%
# Features of noisy images
# ------------------------
# A model trained with noise encodes noisy images close to their clean versions, so a
# classifier trained on clean features still reads noisy ones. The default image model
# trains with milder noise of two kinds (``noise="mixed"``) for this reason.
clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
clf.fit(mae.transform(X_train), y_train)
print(f"accuracy on clean test features: {clf.score(mae.transform(X_test), y_test):.3f}")
print(f"accuracy on noisy test features: {clf.score(mae.transform(noisy), y_test):.3f}")
