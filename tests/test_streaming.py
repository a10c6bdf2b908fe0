"""Data bigger than memory: X is read a chunk or a batch at a time, never copied whole;
``partial_fit`` trains block by block; outputs are written into one preallocated array."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer, _estimator, _sources
from sklearn_mae._inputs import resolve_layout
from sklearn_mae._net import warmup_constant
from sklearn_mae._sources import ArraySource, scaling_statistics

T = dict(max_epochs=2, latent_dim=4, width=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def images():
    return (load_digits().data[:300] * 255 / 16).astype(np.uint8)  # 8x8 uint8 images


class OnDisk:
    """An h5py-like dataset: shape, dtype and slicing only; records every read."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    def __len__(self):
        return len(self.array)

    def __getitem__(self, key):
        self.reads.append(key)
        if not isinstance(key, slice):
            raise TypeError("this dataset reads contiguous slices only")
        return self.array[key]


# ----------------------------------------------------------------- statistics
@pytest.mark.parametrize("is_image", [True, False])
def test_streaming_statistics_match_numpy(monkeypatch, is_image):
    monkeypatch.setattr(_sources, "CHUNK_BYTES", 8 * 64 * 7)  # 7 rows a chunk
    X = np.random.default_rng(0).normal(3, 2, (100, 64)) * 1e4
    X[np.random.default_rng(1).random(X.shape) < 0.3] = np.nan
    X[:50, 5] = np.nan  # missing in the first chunks only
    layout = resolve_layout((64,), "auto" if is_image else None)
    offset, span = scaling_statistics(ArraySource(X, layout))
    if is_image:
        np.testing.assert_array_equal(offset.ravel(), [np.nanmin(X)])
        np.testing.assert_array_equal(span.ravel(), [np.nanmax(X) - np.nanmin(X)])
    else:
        np.testing.assert_allclose(offset, np.nanmean(X, axis=0), rtol=1e-12)
        np.testing.assert_allclose(span, np.nanstd(X, axis=0), rtol=1e-10)


# ----------------------------------------------------------------- fit
def test_uint8_images_stay_uint8_and_train_as_their_float_copy(images):
    before = images.copy()
    small = MaskedAutoencoder(**T).fit(images)
    exact = MaskedAutoencoder(**T).fit(images.astype(np.float64))
    np.testing.assert_array_equal(images, before)
    assert small.loss_curve_ == exact.loss_curve_
    np.testing.assert_array_equal(small.transform(images), exact.transform(images.astype(float)))


def test_read_only_memmap_is_read_in_chunks(images, tmp_path):
    path = tmp_path / "images.u8"
    images.tofile(path)
    X = np.memmap(path, dtype=np.uint8, mode="r", shape=images.shape)
    mae = MaskedAutoencoder(**T).fit(X)
    Z = mae.transform(X)
    assert type(Z) is np.ndarray and Z.shape == (300, 4)
    mask = np.zeros(X.shape, dtype=bool)
    mask[:, :8] = True
    filled = mae.inpaint(X, mask=mask)
    assert type(filled) is np.ndarray and filled.dtype == np.float64
    np.testing.assert_array_equal(filled[:, 8:], images[:, 8:])
    np.testing.assert_array_equal(np.fromfile(path, dtype=np.uint8).reshape(300, 64), images)


def test_on_disk_arrays_are_read_as_contiguous_chunks_in_random_order(images):
    X = OnDisk(images)
    mae = MaskedAutoencoder(**{**T, "max_epochs": 1, "batch_size": 8}).fit(X)
    assert all(isinstance(key, slice) for key in X.reads)
    X.reads.clear()
    mae.fit(X)  # the chunk order comes from random_state
    train = [key.start for key in X.reads if key.stop - key.start == 32]  # 4-batch chunks
    assert sorted(train) == list(range(0, 288, 32)) and train != sorted(train)
    assert mae.transform(X).shape == (300, 4)


def test_infinity_in_a_chunk_names_its_row(images):
    X = images.astype(np.float32)
    X[123, 5] = np.inf
    with pytest.raises(ValueError, match="infinity .*row 123"):
        MaskedAutoencoder(**T).fit(X)
    mae = MaskedAutoencoder(**T).fit(images)
    with pytest.raises(ValueError, match="infinity .*row 123"):
        mae.transform(X)


# ----------------------------------------------------------------- outputs
def test_outputs_do_not_depend_on_the_chunk_size(images, monkeypatch):
    mae = MaskedAutoencoder(**T).fit(images)
    holes = images.astype(np.float32)
    holes[::3, 10:20] = np.nan
    whole = mae.transform(holes), mae.inpaint(holes), mae.score_samples(holes)
    monkeypatch.setattr(_estimator, "INFERENCE_BYTES", 4 * 64 * 7)  # 7 images a chunk
    chunked = mae.transform(holes), mae.inpaint(holes), mae.score_samples(holes)
    for a, b in zip(whole, chunked, strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- partial_fit
def test_partial_fit_trains_block_by_block(images):
    mae = MaskedAutoencoder(**T)
    mae.partial_fit(images[:150])
    scale = mae.scaler_.scale.copy()
    weights = [p.detach().clone() for p in mae.net_.module_.parameters()]
    mae.partial_fit(images[150:] // 2)  # another range: the first call's scaling stays
    np.testing.assert_array_equal(mae.scaler_.scale, scale)
    assert (mae.n_samples_seen_, mae.n_iter_, len(mae.loss_curve_)) == (300, 2, 2)
    assert any(not torch.equal(a, b) for a, b in zip(
        weights, mae.net_.module_.parameters(), strict=True))
    assert mae.training_params_["lr_schedule"] == "warmup-constant"
    lrs = [b["event_lr"] for epoch in mae.net_.history for b in epoch["batches"]]
    expected = [3e-3 * warmup_constant(step, 100) for step in range(len(lrs))]
    np.testing.assert_allclose(lrs, expected)  # the warm-up continues across calls
    assert mae.transform(images).shape == (300, 4)


def test_fit_after_partial_fit_starts_afresh(images):
    mae = MaskedAutoencoder(**T).partial_fit(images).partial_fit(images)
    mae.fit(images)
    assert (mae.n_samples_seen_, mae.n_iter_) == (300, 2)
    assert mae.training_params_["lr_schedule"] == "warmup-cosine"
    fresh = MaskedAutoencoder(**T).fit(images)
    np.testing.assert_array_equal(mae.transform(images), fresh.transform(images))


def test_partial_fit_names_mismatches(images):
    mae = MaskedAutoencoder(**T).partial_fit(images)
    with pytest.raises(ValueError, match="fitted on samples of shape"):
        mae.partial_fit(images.reshape(-1, 8, 8)[:, :4])
    mae.set_params(architecture="vit")
    with pytest.raises(ValueError, match="continues the 'conv' model"):
        mae.partial_fit(images)
    assert (mae.n_iter_, mae.n_samples_seen_) == (1, 300)  # left as it was


def test_partial_fit_after_fit_continues_on_the_partial_fit_schedule(images):
    mae = MaskedAutoencoder(**T).fit(images)  # 2 epochs of 10 steps
    mae.partial_fit(images)
    last = [b["event_lr"] for b in mae.net_.history[-1]["batches"]]
    assert last == pytest.approx([3e-3 * warmup_constant(step, 100) for step in range(20, 30)])
    assert mae.n_iter_ == 3


def test_imputer_indicator_grows_with_the_blocks():
    X = load_digits().data[:200]
    first, second = X[:100].copy(), X[100:].copy()
    first[:, 3] = np.nan
    second[:, 7] = np.nan
    imputer = MaskedAutoencoderImputer(**T, add_indicator=True)
    imputer.partial_fit(first)
    assert imputer.indicator_.features_.tolist() == [3]
    imputer.partial_fit(second)
    assert imputer.indicator_.features_.tolist() == [3, 7]
    out = imputer.transform(second)
    assert out.shape == (100, 66) and (out[:, -1] == 1).all() and (out[:, -2] == 0).all()
