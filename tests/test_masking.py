"""The masking functions: exact ratios, patch structure, reproducibility."""

import pytest
import torch

from sklearn_mae._masking import (
    complementary_masks,
    n_hidden,
    patch_grid,
    random_mask,
    random_patch_mask,
    random_token_mask,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.75, 0.9])
def test_token_mask_hides_exact_count_per_sample(ratio):
    mask = random_token_mask(16, 49, ratio, gen())
    assert mask.dtype == torch.bool and mask.shape == (16, 49)
    assert (mask.sum(1) == n_hidden(49, ratio)).all()
    assert len({tuple(row.tolist()) for row in mask}) == 16  # differs per sample


def test_ratio_zero_hides_nothing_and_one_token_is_hidden_alone():
    assert not random_token_mask(4, 10, 0.0, gen()).any()
    assert random_token_mask(4, 1, 0.5, gen()).all()
    assert n_hidden(10, 0.99) == 9  # one entry always stays visible


def test_masks_are_reproducible_from_the_generator():
    a = random_mask(8, (1, 8, 8), ratio=0.5, mask_type="pixel", patch_size=1, generator=gen(3))
    b = random_mask(8, (1, 8, 8), ratio=0.5, mask_type="pixel", patch_size=1, generator=gen(3))
    c = random_mask(8, (1, 8, 8), ratio=0.5, mask_type="pixel", patch_size=1, generator=gen(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_patch_mask_hides_whole_patches():
    mask = random_patch_mask(5, (8, 12), 4, 0.5, gen())
    assert mask.shape == (5, 1, 8, 12)
    blocks = mask.view(5, 2, 4, 3, 4).permute(0, 1, 3, 2, 4).reshape(5, 6, 16)
    assert ((blocks.sum(-1) == 0) | (blocks.sum(-1) == 16)).all()
    assert (blocks.all(-1).sum(1) == 3).all()


def test_tabular_mask_is_per_entry():
    mask = random_mask(6, (10,), ratio=0.3, mask_type="patch", patch_size=4, generator=gen())
    assert mask.shape == (6, 10) and (mask.sum(1) == 3).all()


def test_patch_grid_rejects_sizes_that_do_not_tile():
    assert patch_grid((28, 28), 4) == (7, 7)
    with pytest.raises(ValueError, match="does not tile"):
        patch_grid((28, 28), 5)


def test_complementary_masks_cover_every_entry_once():
    masks = complementary_masks((3, 6, 6))
    assert masks.shape == (2, 1, 6, 6)
    assert (masks[0] ^ masks[1]).all()
    assert torch.equal(masks, complementary_masks((3, 6, 6)))
