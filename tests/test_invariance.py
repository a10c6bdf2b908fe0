"""The two-view augmentation and the VICReg loss."""

import torch

from sklearn_mae._invariance import random_affine, random_shift, vicreg_loss


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


def test_random_affine_moves_each_image_within_bounds():
    x = torch.zeros(64, 1, 15, 15)
    x[:, :, 7, 7] = 1.0
    moved = random_affine(x, 2, 15.0, 0.1, torch.Generator().manual_seed(0), complete=True)
    assert moved.shape == x.shape
    centre = (moved[:, 0] * torch.arange(15.0)[:, None]).sum((1, 2)) / moved[:, 0].sum((1, 2))
    assert (centre - 7).abs().max() <= 3.0  # a shift of 2 px, and a little for the zoom
    assert len(set(torch.round(centre, decimals=2).tolist())) > 20  # each image its own map
    # the mass is kept up to the zoom: a factor within 1 +- 0.1 on each axis
    assert torch.allclose(moved.sum((1, 2, 3)), torch.ones(64), atol=0.3)


def test_random_affine_is_the_identity_at_zero_and_keeps_channels_together():
    x = torch.rand(4, 3, 6, 6)
    same = random_affine(x, 0, 0.0, 0.0, torch.Generator().manual_seed(0), complete=True)
    torch.testing.assert_close(same, x)
    y = torch.rand(1, 1, 8, 8).expand(5, 3, 8, 8).clone()
    moved = random_affine(y, 1, 20.0, 0.1, torch.Generator().manual_seed(1), complete=True)
    assert torch.equal(moved[:, 0], moved[:, 1]) and torch.equal(moved[:, 0], moved[:, 2])


def test_random_affine_never_invents_values_from_missing_entries():
    x = torch.rand(16, 1, 10, 10)
    x[:, :, 3:5, 3:5] = float("nan")
    g = torch.Generator().manual_seed(0)
    moved = random_affine(x, 1, 10.0, 0.1, g)
    missing = torch.isnan(moved)
    assert missing.any() and (missing.sum((1, 2, 3)) >= 4).all()  # holes move, never vanish
    assert not torch.isnan(moved[:, :, 8:, 8:]).any()  # far from the hole, values stay


def test_vicreg_is_small_for_identical_spread_views_and_large_for_collapse():
    z = torch.randn(256, 16, generator=torch.Generator().manual_seed(0)) * 2
    good = vicreg_loss(z, z)
    collapsed = vicreg_loss(torch.zeros(256, 16), torch.zeros(256, 16))
    different = vicreg_loss(z, torch.randn(256, 16) * 2)
    assert good < 1.0 < collapsed
    assert different > good
