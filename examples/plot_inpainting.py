"""
=======================
Inpainting digit images
=======================

A masked autoencoder is trained to predict hidden pixels from visible ones, so it can
fill holes: :meth:`~sklearn_mae.MaskedAutoencoder.inpaint` replaces the entries marked in
a boolean ``mask`` (and any NaN) with the model's reconstruction, and returns every other
entry unchanged. :mod:`sklearn_mae.plotting` draws the pictures.
"""

# %%
# Train on the training digits
# ----------------------------
# About 5 s on two CPU cores with the default settings.
import matplotlib.pyplot as plt
import numpy as np

from sklearn_mae import MaskedAutoencoder
from sklearn_mae.evaluation import digits_split, hidden_mse, inpainting_mask
from sklearn_mae.plotting import plot_inpainting, plot_reconstructions

X_train, X_test, y_train, y_test = digits_split()
mae = MaskedAutoencoder(random_state=0).fit(X_train)

# %%
# Half of the pixels hidden at random
# -----------------------------------
# Rows: the test image, the input with hidden pixels in red, and the inpainted image
# (visible pixels kept, hidden ones predicted).
fig = plot_reconstructions(mae, X_test, n=10)
fig.suptitle("50% of the pixels hidden at random")
plt.show()

# %%
# How good is the filling? The mean squared error on the hidden pixels, against filling
# each pixel with its mean over the training images:
hidden = inpainting_mask(X_test.shape, ratio=0.5)
filled = mae.inpaint(X_test, mask=hidden)
means = np.broadcast_to(X_train.mean(axis=0), X_test.shape)
print(f"MaskedAutoencoder.inpaint: {hidden_mse(filled, X_test, hidden):.4f}")
print(f"training pixel means:      {hidden_mse(means, X_test, hidden):.4f}")
assert np.array_equal(filled[~hidden], X_test[~hidden])  # visible pixels untouched

# %%
# A whole block hidden
# --------------------
# Any boolean mask works: here the right half of every image. A block is harder than
# scattered pixels, since no neighbour of a hidden pixel is visible.
block = np.zeros((8, 8), dtype=bool)
block[:, 4:] = True
block_mask = np.broadcast_to(block.ravel(), X_test.shape)
fig = plot_reconstructions(mae, X_test, n=10, mask=block_mask)
fig.suptitle("right half hidden")
plt.show()

# %%
# Missing values (NaN)
# --------------------
# NaN entries are always filled. :func:`~sklearn_mae.plotting.plot_inpainting` shows the
# samples with holes first, holes in red, above their filled versions.
X_holes = X_test[:10].copy()
X_holes[:, 24:40] = np.nan  # two rows of pixels through the middle
fig = plot_inpainting(mae, X_holes, n=10)
plt.show()

# %%
# To fill data that is missing in training too, use
# :class:`~sklearn_mae.MaskedAutoencoderImputer`, which never sees the missing entries
# and keeps the observed ones bit for bit (see :ref:`imputation`).
