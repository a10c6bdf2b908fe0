"""The vision-transformer architecture: token selection, shapes, and the estimator's promises."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback

from sklearn_mae import MaskedAutoencoder
from sklearn_mae._masking import random_mask
from sklearn_mae._vit import VisionTransformerAutoencoder, visible_token_index

TINY = dict(encoder_depth=1, decoder_depth=1, encoder_heads=2, decoder_heads=2)
FAST = dict(
    architecture="vit", latent_dim=4, width=2, max_epochs=2, batch_size=16, random_state=0,
    module_params=TINY,
)

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "MaskedAutoencoder": {
        "check_methods_subset_invariance": (
            "float32 matrix products round differently for one row than for a batch "
            "(about 1e-7 apart on these values) and the check allows 1e-7 absolute; a "
            "sample's features do not otherwise depend on its batch (see "
            "test_ragged_visible_counts_do_not_depend_on_the_batch)"
        ),
    },
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [MaskedAutoencoder(**FAST)], expected_failed_checks=expected_failed_checks
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def images(n=48, shape=(1, 8, 8), seed=0):
    """Smooth random images: a few blobs, so there is something to learn quickly."""
    rng = np.random.default_rng(seed)
    _, height, width = shape
    yy, xx = np.mgrid[:height, :width]
    centres = rng.uniform([0, 0], [height, width], size=(n, shape[0], 2))
    blobs = np.exp(-((yy - centres[..., :1, None]) ** 2 + (xx - centres[..., 1:, None]) ** 2) / 6)
    return blobs.astype(np.float32)


def vit(**params):
    module_params = {**TINY, "patch_size": 4, **params.pop("module_params", {})}
    params = {**FAST, "mask_type": "patch", "module_params": module_params, **params}
    return MaskedAutoencoder(**params)


def test_shapes_square_gray_and_rectangular_rgb():
    X = images(shape=(1, 8, 8)).reshape(48, -1)
    mae = vit().fit(X)
    assert mae.architecture_ == "vit"
    Z = mae.transform(X)
    assert Z.shape == (48, 4) and Z.dtype == np.float32
    assert mae.inverse_transform(Z).shape == (48, 64)

    rgb = images(shape=(3, 8, 12))
    mae = vit(latent_dim=5).fit(rgb)
    assert mae.transform(rgb).shape == (48, 5)
    assert mae.inverse_transform(mae.transform(rgb)).shape == (48, 3 * 8 * 12)
    assert mae.inpaint(rgb).shape == rgb.shape


def test_bad_patch_size_is_a_clear_error():
    with pytest.raises(ValueError, match="multiples of patch_size"):
        vit(module_params={"patch_size": 3}).fit(images())
    with pytest.raises(ValueError, match="must divide"):
        vit(module_params={"encoder_heads": 5}).fit(images())


def test_encoder_sees_only_the_visible_patches():
    module = VisionTransformerAutoencoder((1, 16, 16), 8, 2, patch_size=4, **TINY)
    lengths = []
    module.encoder[0].register_forward_pre_hook(lambda m, args: lengths.append(args[0].shape[1]))
    hidden = random_mask(5, (1, 16, 16), ratio=0.75, mask_type="patch", patch_size=4,
                         generator=torch.Generator().manual_seed(0))
    module(torch.rand(5, 1, 16, 16), ~hidden)
    module.encode(torch.rand(5, 1, 16, 16), torch.ones(5, 1, 16, 16, dtype=torch.bool))
    assert lengths == [1 + 4, 1 + 16]  # class token + visible patches of the 16


class RecordEncoderInputs(Callback):
    """Records the (sequences, length) entering the first encoder block at every call."""

    def __init__(self):
        self.shapes = []

    def on_train_begin(self, net, **kwargs):
        net.module_.encoder[0].register_forward_pre_hook(
            lambda block, args: self.shapes.append(tuple(args[0].shape[:2]))
        )


def test_training_runs_the_encoder_on_visible_tokens_only():
    record = RecordEncoderInputs()
    vit(mask_ratio=0.75, max_epochs=1, callbacks=[record]).fit(images(shape=(1, 8, 16)))
    lengths = {length for _, length in record.shapes}
    assert record.shapes and lengths == {1 + 2}  # class token + 2 of 8 patches


def test_ragged_visible_counts_do_not_depend_on_the_batch():
    """Pixel masks or NaN leave samples with different numbers of visible patches."""
    torch.manual_seed(0)
    module = VisionTransformerAutoencoder((2, 8, 8), 6, 2, patch_size=2, **TINY).eval()
    x = torch.rand(6, 2, 8, 8)
    visible = torch.rand(6, 1, 8, 8) < torch.linspace(0.02, 0.9, 6)[:, None, None, None]
    visible[0] = False  # nothing seen at all

    def run(xs, vs):
        return module(xs, vs), module.encode(xs, vs)

    with torch.no_grad():
        together = run(x, visible)
        singles = [run(x[i : i + 1], visible[i : i + 1]) for i in range(6)]
    for batch, *single in zip(together, *singles, strict=True):
        assert torch.isfinite(batch).all()
        single = torch.cat(single)
        torch.testing.assert_close(batch, single, atol=1e-5, rtol=1e-5)


def test_visible_token_index_keeps_order_and_marks_padding():
    keep = torch.tensor([[True, False, True, False], [False, False, False, True]])
    index, valid = visible_token_index(keep)
    assert index[0].tolist() == [0, 2] and index[1, 0].item() == 3
    assert valid.tolist() == [[True, True], [True, False]]
    assert visible_token_index(keep[:1])[1] is None


def test_fixed_random_state_gives_identical_fits():
    X = images(shape=(1, 8, 8))
    first = vit(mask_type="pixel").fit(X)
    second = vit(mask_type="pixel").fit(X)
    assert first.loss_curve_ == second.loss_curve_
    np.testing.assert_array_equal(first.transform(X), second.transform(X))


def test_pickle_round_trip():
    X = images()
    mae = vit().fit(X)
    clone = pickle.loads(pickle.dumps(mae))
    np.testing.assert_array_equal(clone.transform(X), mae.transform(X))
    np.testing.assert_array_equal(clone.inpaint(X[:4]), mae.inpaint(X[:4]))


def test_norm_pix_outputs_are_pixels():
    """Normalised predictions are turned back into pixels with the predicted statistics."""
    module = VisionTransformerAutoencoder((3, 8, 8), 4, 2, patch_size=4, norm_pix_loss=True, **TINY)
    x = torch.rand(2, 3, 8, 8) * 5 + 3
    patches = module.patchify(x)
    mean, std = patches.mean(2, keepdim=True), patches.std(2, keepdim=True, correction=0)
    out = torch.cat([(patches - mean) / std, mean, std], dim=2)
    torch.testing.assert_close(module.to_pixels(out), x)

    X = images(n=64) * 16  # digits-like units
    mae = vit(module_params={"norm_pix_loss": True}, max_epochs=4).fit(X)
    hidden = np.zeros_like(X, dtype=bool)
    hidden[:, :, :4] = True
    filled = mae.inpaint(X, mask=hidden)
    recon = mae.inverse_transform(mae.transform(X))
    for out in (filled[hidden], recon):
        assert np.isfinite(out).all() and out.min() > -8 and out.max() < 24


def test_sparse_code_is_a_non_negative_code_on_the_sphere():
    X = images(n=64)
    mae = vit(latent_dim=16, module_params={"sparse_code": True}).fit(X)
    Z = mae.transform(X)
    assert Z.shape == (64, 16) and Z.min() >= 0 and (Z == 0).any()
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 4.0, rtol=1e-5)  # sqrt(16)
    assert np.isfinite(mae.inverse_transform(Z)).all()
    default = vit(latent_dim=16).fit(X)
    assert default.net_.module_.code is None and default.transform(X).min() < 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_matches_shapes():
    X = images()
    mae = vit(device="cuda").fit(X)
    assert next(mae.net_.module_.parameters()).is_cuda
    assert mae.transform(X).shape == (48, 4)
    assert mae.inpaint(X).shape == X.shape


def test_auto_training_params_follow_the_architecture():
    X = images(shape=(1, 8, 8))
    conv = MaskedAutoencoder(max_epochs=1, random_state=0).fit(X)
    assert conv.transform(X[:3]).shape == (3, 512)
    assert conv.training_params_ == {"latent_dim": 512, "mask_ratio": 0.5, "mask_type": "pixel",
                                     "lr": 3e-3,
                                     "batch_size": 128, "consistency": 0.04, "patch_size": 4,
                                     "max_epochs": 1, "max_shift": 0, "device": "cpu",
                                     "precision": "float32", "lr_schedule": "warmup-cosine",
                                     "epoch_steps": 1, "visible_weight": 0.0,
                                     "noise": "mixed", "noise_level": 0.2,
                                     "max_rotation": 25.0, "max_zoom": 0.15}
    rows = MaskedAutoencoder(max_epochs=1, random_state=0).fit(X.reshape(len(X), -1)[:, :10])
    assert rows.architecture_ == "mlp" and rows.training_params_["mask_ratio"] == 0.2
    assert rows.training_params_["latent_dim"] == 128
    assert rows.training_params_["epoch_steps"] == 25
    assert rows.training_params_["visible_weight"] == 0.5
    mae = vit(mask_type="auto", batch_size="auto").fit(X)
    assert mae.training_params_ == {"latent_dim": 4, "mask_ratio": 0.75, "mask_type": "patch",
                                    "lr": 1e-3,
                                    "batch_size": 64, "consistency": 0.0, "patch_size": 4,
                                    "max_epochs": 2, "max_shift": 0, "device": "cpu",
                                     "precision": "float32", "lr_schedule": "warmup-cosine",
                                     "epoch_steps": 1, "visible_weight": 0.0,
                                     "noise": "mixed", "noise_level": 0.2,
                                     "max_rotation": 25.0, "max_zoom": 0.15}
    net = mae.net_
    assert (net.mask_ratio, net.mask_type, net.lr, net.batch_size, net.consistency) == (
        0.75, "patch", 1e-3, 64, 0.0)
    explicit = vit(mask_ratio=0.5, mask_type="pixel", lr=2e-3, consistency=0.1).fit(X)
    assert explicit.training_params_ == {"latent_dim": 4, "mask_ratio": 0.5, "mask_type": "pixel",
                                         "lr": 2e-3,
                                         "batch_size": 16, "consistency": 0.1, "patch_size": 4,
                                         "max_epochs": 2, "max_shift": 0, "device": "cpu",
                                     "precision": "float32", "lr_schedule": "warmup-cosine",
                                     "epoch_steps": 1, "visible_weight": 0.0,
                                     "noise": "mixed", "noise_level": 0.2,
                                     "max_rotation": 25.0, "max_zoom": 0.15}
    # the architecture's noise is for images: tabular rows train without it
    table = MaskedAutoencoder(**{**FAST, "max_epochs": 1}).fit(X.reshape(len(X), -1)[:, :10])
    assert table.architecture_ == "vit" and table.training_params_["noise"] is None


def test_tokens_take_the_estimator_patch_size_unless_module_params_set_one():
    X = images(shape=(1, 8, 8))
    mae = MaskedAutoencoder(**{**FAST, "module_params": TINY, "patch_size": 2}).fit(X)
    assert mae.net_.module_.patch_size == 2 and mae.net_.module_.n_tokens == 16
    own = vit(patch_size=2, mask_type="pixel", module_params={"patch_size": 4}).fit(X)
    assert own.net_.module_.patch_size == 4


@pytest.mark.parametrize("consistency, rows", [(0.0, 16), (0.1, 32)])
def test_two_shifted_views_train_the_transformer_too(consistency, rows):
    """With a possible shift and consistency > 0, each image is encoded as two views."""
    record = RecordEncoderInputs()
    vit(consistency=consistency, max_shift=0.125, max_epochs=1, batch_size=16,
        callbacks=[record]).fit(images(n=32, shape=(1, 16, 16)))
    assert [n for n, _ in record.shapes] == [rows, rows]
