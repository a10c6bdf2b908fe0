"""
=================================================
Watching training: loss curve and reconstructions
=================================================

``fit`` records the training loss of every epoch in ``loss_curve_``, and the underlying
skorch net keeps its full history in ``net_.history`` (including the learning rate of
every batch). The ``callbacks`` parameter takes any skorch callback; here one keeps a copy
of the network's weights at a few epochs, so we can see how the reconstructions improve
during a single fit.
"""

# %%
# A callback that takes snapshots
# -------------------------------
# A skorch callback's ``on_epoch_end`` runs after every epoch with the net; the torch
# module is ``net.module_``.
import copy

import matplotlib.pyplot as plt
import numpy as np
from skorch.callbacks import Callback

from sklearn_mae import MaskedAutoencoder
from sklearn_mae.evaluation import digits_split, inpainting_mask
from sklearn_mae.plotting import plot_loss_curve


class Snapshots(Callback):
    """Keep a copy of the module's weights after the given epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def initialize(self):
        self.weights_ = {}
        return self

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch in self.epochs:
            self.weights_[epoch] = copy.deepcopy(net.module_.state_dict())


# %%
# Fit with the callback
# ---------------------
# The defaults train 46 epochs on these 1,347 images: about 5 s on two CPU cores.
X_train, X_test, y_train, y_test = digits_split()
snapshots = Snapshots(epochs=[1, 3, 10, 46])
mae = MaskedAutoencoder(random_state=0, callbacks=[snapshots]).fit(X_train)
print(f"{len(mae.loss_curve_)} epochs, final loss {mae.loss_curve_[-1]:.4f}")

# %%
# The loss curve
# --------------
# :func:`~sklearn_mae.plotting.plot_loss_curve` draws ``loss_curve_`` on a log scale.
fig = plot_loss_curve(mae)
plt.show()

# %%
# The learning rate warms up linearly over the first 10% of the steps, then decays
# along a cosine to zero; skorch records it for every batch as ``event_lr``.
lr = [batch["event_lr"] for epoch in mae.net_.history for batch in epoch["batches"]]
fig, ax = plt.subplots(figsize=(5, 2.5), layout="constrained")
ax.plot(lr)
ax.set_xlabel("optimiser step")
ax.set_ylabel("learning rate")
plt.show()

# %%
# Reconstructions over training
# -----------------------------
# Load each snapshot into the fitted network and fill the same hidden pixels (half of
# them, at random) of six test digits. Columns: the input with hidden pixels in red,
# then the filled images after 1, 3, 10 and 46 epochs.
X_show = X_test[:6]
hidden = inpainting_mask(X_show.shape, ratio=0.5)
final_weights = copy.deepcopy(mae.net_.module_.state_dict())
columns = {"input": np.where(hidden, np.nan, X_show)}
for epoch, weights in snapshots.weights_.items():
    mae.net_.module_.load_state_dict(weights)
    columns[f"epoch {epoch}"] = mae.inpaint(X_show, mask=hidden)
mae.net_.module_.load_state_dict(final_weights)  # back to the fitted model

fig, axes = plt.subplots(len(X_show), len(columns), figsize=(6, 6.5), layout="constrained")
cmap = plt.get_cmap("gray").with_extremes(bad="red")
for col, (title, images) in enumerate(columns.items()):
    axes[0, col].set_title(title, fontsize=9)
    for row, image in enumerate(images):
        axes[row, col].imshow(image.reshape(8, 8), cmap=cmap, vmin=0, vmax=1)
        axes[row, col].set_axis_off()
plt.show()

# %%
# After one epoch the model fills hidden pixels with a blur close to the average digit;
# by epoch 10 the strokes are in place and later epochs sharpen them.
