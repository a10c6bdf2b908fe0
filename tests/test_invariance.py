"""The two-view augmentation and the VICReg loss."""

import torch

from sklearn_mae._invariance import random_shift, vicreg_loss


def test_random_shift_translates_each_image_within_bounds():
    x = torch.zeros(64, 1, 9, 9)
    x[:, :, 4, 4] = 1.0
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    assert (shifted.sum((1, 2, 3)) == 1).all()  # the pixel is moved, never lost at +-2
    rows, cols = shifted[:, 0].flatten(1).argmax(1).div(9, rounding_mode="floor"), \
        shifted[:, 0].flatten(1).argmax(1) % 9
    assert rows.min() >= 2 and rows.max() <= 6 and cols.min() >= 2 and cols.max() <= 6
    assert len({(int(r), int(c)) for r, c in zip(rows, cols, strict=True)}) > 5


def test_random_shift_leaves_tabular_rows_and_zero_shift_alone():
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(8, 5)
    assert random_shift(rows, 2, g) is rows
    images = torch.randn(4, 3, 6, 6)
    assert random_shift(images, 0, g) is images


def test_vicreg_is_small_for_identical_spread_views_and_large_for_collapse():
    z = torch.randn(256, 16, generator=torch.Generator().manual_seed(0)) * 2
    good = vicreg_loss(z, z)
    collapsed = vicreg_loss(torch.zeros(256, 16), torch.zeros(256, 16))
    different = vicreg_loss(z, torch.randn(256, 16) * 2)
    assert good < 1.0 < collapsed
    assert different > good
