"""Corruption in training, the detail head, and ``denoise`` (estimator, CLI, plot)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer, MaskedAutoencoderModule
from sklearn_mae._corruption import corrupt, gaussian_noise, salt_and_pepper
from sklearn_mae._modules import ConvAutoencoder
from sklearn_mae.cli import main

FAST = {"max_epochs": 1, "latent_dim": 8, "width": 4, "random_state": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    return (load_digits().data / 16.0).astype(np.float32)


# ------------------------------------------------------------------ corruption
def test_gaussian_noise_levels_are_drawn_per_sample_up_to_the_level():
    x = torch.full((512, 1, 16, 16), 0.5)
    noisy = gaussian_noise(x, 0.2, torch.Generator().manual_seed(0), clip=True)
    spread = (noisy - x).flatten(1).std(1)
    assert spread.max() <= 0.2 * 1.15 and spread.min() < 0.02  # uniform in [0, 0.2]
    assert 0.08 < spread.mean() < 0.12
    assert noisy.min() >= 0 and noisy.max() <= 1
    rows = torch.zeros(64, 5)
    assert gaussian_noise(rows, 3.0, torch.Generator().manual_seed(0), clip=False).abs().max() > 1


def test_salt_and_pepper_sets_a_share_of_pixels_to_the_extremes_in_every_channel():
    x = torch.full((256, 3, 10, 10), 0.5)
    noisy = salt_and_pepper(x, 0.2, torch.Generator().manual_seed(0))
    hit = noisy != 0.5
    assert torch.equal(hit[:, 0], hit[:, 1]) and torch.equal(hit[:, 0], hit[:, 2])
    assert set(noisy[hit].unique().tolist()) == {0.0, 1.0}
    share = hit[:, 0].float().mean((1, 2))
    assert share.max() <= 0.32 and 0.07 < share.mean() < 0.13


def test_mixed_gives_each_image_one_kind_and_a_callable_is_used_as_it_is():
    x = torch.full((200, 1, 12, 12), 0.5)
    noisy = corrupt(x, "mixed", 0.3, torch.Generator().manual_seed(0), is_image=True)
    changed = noisy != 0.5
    extremes = ((noisy == 0) | (noisy == 1)) | ~changed
    pepper_only = extremes.flatten(1).all(1)
    assert 40 < int(pepper_only.sum()) < 160  # about half salt-and-pepper, half Gaussian
    seen = []
    out = corrupt(x, lambda batch, generator: seen.append(generator) or batch + 1, 0.0,
                  torch.Generator(), is_image=True)
    assert torch.equal(out, x + 1) and len(seen) == 1


# ------------------------------------------------------------------ the model
def test_the_detail_head_starts_from_what_is_seen_and_the_decoders_and_local_mean():
    module = ConvAutoencoder((3, 12, 12), latent_dim=8, width=4)
    x = torch.rand(5, 3, 12, 12)
    visible = torch.rand(5, 1, 12, 12) > 0.5
    seen = torch.where(visible, x, 0.0)
    sums = torch.nn.functional.avg_pool2d(seen, 3, stride=1, padding=1)
    counts = torch.nn.functional.avg_pool2d(visible.expand_as(x).float(), 3, stride=1, padding=1)
    local = sums / counts.clamp_min(1e-3)
    blend = (module.decode(module.encode(x, visible)) + local) / 2
    expected = torch.where(visible, x, blend)
    torch.testing.assert_close(module(x, visible), expected)
    plain = ConvAutoencoder((3, 12, 12), latent_dim=8, width=4, detail=False)
    plain.load_state_dict(module.state_dict(), strict=False)
    torch.testing.assert_close(plain(x, visible), plain.decode(plain.encode(x, visible)))


def test_training_noise_is_resolved_and_reported(digits):
    mae = MaskedAutoencoder(**FAST).fit(digits[:300])
    assert mae.training_params_["noise"] == "mixed"
    assert mae.training_params_["noise_level"] == 0.2
    assert mae.net_.noise == "mixed"
    off = MaskedAutoencoder(**FAST, noise=None).fit(digits[:300])
    assert off.net_.noise is None
    zero = MaskedAutoencoder(**FAST, noise="gaussian", noise_level=0).fit(digits[:300])
    assert zero.net_.noise is None
    table = MaskedAutoencoder(**FAST, image_shape=None).fit(load_digits().data[:100, :20])
    assert table.training_params_["noise"] is None  # tables: no noise by default
    imputer = MaskedAutoencoderImputer(**FAST).fit(digits[:300])
    assert imputer.training_params_["noise"] is None  # the imputer: none by default


def test_noise_kinds_for_images_are_refused_on_tables():
    X = np.random.default_rng(0).normal(size=(50, 6))
    with pytest.raises(ValueError, match="noise='salt_pepper' is for images.*gaussian"):
        MaskedAutoencoder(**FAST, noise="salt_pepper").fit(X)
    MaskedAutoencoder(**FAST, noise="gaussian").fit(X)  # in standard deviations: fine


def test_a_module_without_a_clean_target_cannot_train_with_noise(digits):
    class Plain(MaskedAutoencoderModule):
        def __init__(self, sample_shape, latent_dim, width):
            super().__init__(sample_shape, latent_dim, width)
            self.lin = torch.nn.Linear(2 * 64, latent_dim)
            self.out = torch.nn.Linear(latent_dim, 64)

        def encode(self, x, visible):
            v = visible.expand_as(x).float()
            return self.lin(torch.cat([(x * v).flatten(1), v.flatten(1)], 1))

        def decode(self, z):
            return self.out(z).view(-1, *self.sample_shape)

        def training_loss(self, x, visible, scored, mask=None):
            return super().training_loss(x, visible, scored, mask), self.encode(x, visible)

    mae = MaskedAutoencoder(**FAST, architecture=Plain, noise="gaussian")
    with pytest.raises(ValueError, match="clean target"):
        mae.fit(digits[:100])
    assert not hasattr(mae, "net_")


def test_a_model_trained_for_noise_removes_it(digits):
    rng = np.random.default_rng(0)
    clean = digits[1000:1300]
    noisy = np.clip(clean + rng.normal(0, 0.2, clean.shape), 0, 1).astype(np.float32)
    mae = MaskedAutoencoder(noise="gaussian", noise_level=0.2, random_state=0,
                            device="cpu").fit(digits[:1000])
    kept = noisy.copy()
    denoised = mae.denoise(noisy)
    np.testing.assert_array_equal(noisy, kept)  # the input is not modified
    assert denoised.shape == noisy.shape and denoised.dtype == np.float32
    # measured: 0.0126 against 0.0245 for the noisy input
    assert np.mean((denoised - clean) ** 2) < 0.8 * np.mean((noisy - clean) ** 2)


def test_denoise_fills_missing_entries_and_keeps_the_input_units(digits):
    X = digits[:200] * 16  # units of 0..16
    mae = MaskedAutoencoder(**FAST).fit(X)
    holes = X[:5].copy()
    holes[:, :10] = np.nan
    out = mae.denoise(holes)
    assert out.dtype == np.float32 and not np.isnan(out).any()
    assert out.min() >= -1e-3 and out.max() <= 16.001 and out.max() > 1.5
    assert mae.denoise(X[:3].astype(np.float64)).dtype == np.float64


# ------------------------------------------------------------------ CLI and plot
def test_cli_denoise_writes_the_reconstruction(tmp_path, digits):
    data, model, out = tmp_path / "d.npy", tmp_path / "m.safetensors", tmp_path / "o.npy"
    np.save(data, digits[:100])
    assert main(["fit", str(data), "--out", str(model), "--set", "max_epochs=1",
                 "--set", "width=4", "--set", "noise='gaussian'", "--set", "random_state=0"]) == 0
    png = tmp_path / "den.png"
    assert main(["denoise", str(model), str(data), "--out", str(out), "--png", str(png)]) == 0
    from sklearn_mae.persistence import load

    np.testing.assert_array_equal(np.load(out), load(model).denoise(digits[:100]))
    assert load(model).noise == "gaussian"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_plot_denoising_draws_noisy_denoised_and_clean_rows(digits):
    pytest.importorskip("matplotlib")
    from sklearn_mae.plotting import plot_denoising

    mae = MaskedAutoencoder(**FAST).fit(digits[:100])
    fig = plot_denoising(mae, digits[:4] + 0.1, digits[:4], n=4)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["noisy", "denoised", "clean"] and len(fig.axes) == 12
    with pytest.raises(ValueError, match="shaped like X_noisy"):
        plot_denoising(mae, digits[:4], digits[:3, :10])


def test_views_are_whole_pixel_shifts_unless_rotation_or_zoom_is_asked(monkeypatch):
    X = np.kron(load_digits().data[:64].reshape(-1, 8, 8) / 16, np.ones((2, 2)))
    calls = []
    import sklearn_mae._net as net_module

    for name in ("random_shift", "random_affine"):
        original = getattr(net_module, name)
        monkeypatch.setattr(net_module, name, lambda *a, _f=original, _n=name, **k:
                            calls.append(_n) or _f(*a, **k))
    MaskedAutoencoder(**FAST, max_rotation=0, max_zoom=0).fit(X)
    assert set(calls) == {"random_shift"}
    calls.clear()
    MaskedAutoencoder(**FAST, max_zoom=0).fit(X)  # rotation 25 by default
    assert set(calls) == {"random_affine"}
