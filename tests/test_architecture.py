"""The package's structure and its extension points: imports that run one way, one place
for every "auto" setting, architectures as data, and user-supplied modules."""

import ast
import inspect
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from sklearn_mae import (
    Architecture,
    MaskedAutoencoder,
    MaskedAutoencoderImputer,
    MaskedAutoencoderModule,
)
from sklearn_mae._architectures import ARCHITECTURES
from sklearn_mae._modules import ConvAutoencoder
from sklearn_mae._net import warmup_cosine

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_mae"
FAST = dict(latent_dim=4, width=2, max_epochs=2, batch_size=32, random_state=0)


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:100] / 16.0


def package_imports() -> dict[str, set[str]]:
    """``module -> modules of the package it imports`` from the source, at any depth."""
    graph = {}
    for path in PACKAGE.glob("*.py"):
        name = path.stem
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "sklearn_mae."):
                found.add(node.module.split(".")[1])
        graph[name] = found - {name}
    return graph


def test_imports_inside_the_package_run_one_way():
    graph = package_imports()
    done, active = set(), []

    def visit(module):
        if module in active:
            cycle = active[active.index(module):] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done or module not in graph:
            return
        active.append(module)
        for imported in graph[module]:
            visit(imported)
        active.pop()
        done.add(module)

    for module in graph:
        visit(module)
    assert "_vit" not in graph["_modules"] and "_architectures" in graph["_estimator"]


def test_no_import_is_exempted_from_the_top_of_its_file():
    for path in PACKAGE.glob("*.py"):
        assert "E402" not in path.read_text(), path.name


def test_the_two_estimators_take_the_same_parameters():
    """The imputer repeats the transformer's signature (scikit-learn wants it explicit)."""
    shared = inspect.signature(MaskedAutoencoder).parameters
    imputer = dict(inspect.signature(MaskedAutoencoderImputer).parameters)
    assert list(imputer)[:2] == ["missing_values", "add_indicator"]
    del imputer["missing_values"], imputer["add_indicator"]
    assert list(imputer) == list(shared)
    differ = {k for k in shared if imputer[k].default != shared[k].default}
    # the imputer trains on reconstruction alone, without noise
    assert differ == {"consistency", "noise"}
    assert MaskedAutoencoderImputer._parameter_constraints.keys() - {
        "missing_values", "add_indicator"} == MaskedAutoencoder._parameter_constraints.keys()


def test_training_params_hold_every_setting_as_used(X):
    mae = MaskedAutoencoder(latent_dim=4, width=2, random_state=0).fit(X)  # all "auto"
    params = mae.training_params_
    assert params == {"latent_dim": 4, "mask_ratio": 0.5, "mask_type": "pixel", "patch_size": 4,
                      "lr": 3e-3,
                      "batch_size": 128, "max_epochs": 500, "consistency": 0.04,
                      "max_shift": 0, "device": "cpu", "precision": "float32",
                      "lr_schedule": "warmup-cosine", "epoch_steps": 1,
                      "visible_weight": 0.0, "noise": "mixed", "noise_level": 0.2,
                      "max_rotation": 25.0, "max_zoom": 0.15}
    net = mae.net_
    assert (net.max_epochs, net.batch_size, net.lr, net.mask_ratio, net.max_shift) == (
        params["max_epochs"], params["batch_size"], params["lr"], params["mask_ratio"],
        params["max_shift"])
    assert len(mae.loss_curve_) == params["max_epochs"]


def test_auto_epochs_aim_at_500_steps():
    big = np.zeros((8000, 784))
    small = MaskedAutoencoder()._resolve_training(ARCHITECTURES["conv"], _layout(big), 8000)
    assert small["max_epochs"] == 20  # 63 batches a pass: 20 passes are ~1,260 steps
    tiny = MaskedAutoencoder()._resolve_training(ARCHITECTURES["mlp"], _layout(big[:, :5]), 300)
    assert tiny["max_epochs"] == 6  # epochs of 25 steps: 150 steps, 75 passes of 2 batches
    table = MaskedAutoencoder()._resolve_training(ARCHITECTURES["mlp"], _layout(big[:, :5]),
                                                  8000)
    assert table["max_epochs"] == 20  # 32 batches a pass: at least 20 passes


def test_the_imputers_conv_aims_at_750_small_steps():
    """The imputer's own "auto" settings for images: more, smaller steps, a smaller latent
    and no floor of 20 passes; its tables train as the feature model's."""
    big = np.zeros((8000, 784))
    imputer = MaskedAutoencoderImputer()
    architecture = imputer._resolve_architecture(_layout(big))
    assert architecture.name == "conv"
    images = imputer._resolve_training(architecture, _layout(big), 8000)
    assert (images["batch_size"], images["latent_dim"], images["max_epochs"]) == (32, 128, 3)
    digits = imputer._resolve_training(architecture, _layout(big[:, :64]), 1347)
    assert digits["max_epochs"] == 18  # 43 batches a pass: 774 steps
    huge = imputer._resolve_training(architecture, _layout(big), 10**6)
    assert huge["max_epochs"] == 1  # at least one pass
    table = imputer._resolve_training(imputer._resolve_architecture(_layout(big[:, :5])),
                                      _layout(big[:, :5]), 300)
    assert table == MaskedAutoencoder(consistency=0.0, noise=None)._resolve_training(
        ARCHITECTURES["mlp"], _layout(big[:, :5]), 300)
    assert MaskedAutoencoder()._resolve_training(
        ARCHITECTURES["conv"], _layout(big), 8000)["batch_size"] == 128


def test_an_epoch_of_a_small_table_is_counted_in_steps():
    """The mlp's epochs are at least 25 optimiser steps, drawn from reshuffled passes; the
    learning-rate schedule spans them all; partial_fit still makes one pass a call."""
    X = np.random.default_rng(0).normal(size=(100, 6))
    mae = MaskedAutoencoder(max_epochs=2, batch_size=32, random_state=0).fit(X)
    assert [len(epoch["batches"]) for epoch in mae.net_.history] == [25, 25]
    assert [b["train_batch_size"] for b in mae.net_.history[0]["batches"][:5]] == [32, 32,
                                                                                  32, 4, 32]
    lrs = [b["event_lr"] for epoch in mae.net_.history for b in epoch["batches"]]
    np.testing.assert_allclose(lrs, [1e-2 * warmup_cosine(s, 50) for s in range(50)])
    partial = MaskedAutoencoder(batch_size=32, random_state=0).partial_fit(X)
    assert len(partial.net_.history[-1]["batches"]) == 4


def _layout(X):
    from sklearn_mae._inputs import resolve_layout

    return resolve_layout(X.shape[1:], "auto")


def test_learning_rate_warms_up_then_decays_and_is_recorded(X):
    mae = MaskedAutoencoder(**{**FAST, "max_epochs": 4}).fit(X)
    lrs = [lr for epoch in mae.net_.history for lr in
           [batch["event_lr"] for batch in epoch["batches"]]]
    steps = 4 * math.ceil(len(X) / FAST["batch_size"])
    assert len(lrs) == steps
    expected = [3e-3 * warmup_cosine(step, steps) for step in range(steps)]
    np.testing.assert_allclose(lrs, expected)
    assert max(lrs) == pytest.approx(3e-3) and lrs[-1] < 1e-4


class TinyDense(MaskedAutoencoderModule):
    """A user's own architecture: the interface only, nothing of the package's modules."""

    def __init__(self, sample_shape, latent_dim, width, *, hidden=8):
        super().__init__(sample_shape, latent_dim, width)
        n = math.prod(sample_shape)
        self.encoder = nn.Sequential(nn.Linear(2 * n, hidden), nn.ReLU(),
                                     nn.Linear(hidden, latent_dim))
        self.decoder = nn.Linear(latent_dim, n)

    def encode(self, x, visible):
        visible = visible.expand_as(x).to(x.dtype)
        return self.encoder(torch.cat([(x * visible).flatten(1), visible.flatten(1)], 1))

    def decode(self, z):
        return self.decoder(z).view(-1, *self.sample_shape)


def test_a_module_class_of_your_own_trains_with_the_default_loss(X):
    mae = MaskedAutoencoder(architecture=TinyDense, module_params={"hidden": 6}, **FAST).fit(X)
    assert mae.architecture_ == "TinyDense"
    assert mae.net_.module_.encoder[0].out_features == 6
    assert mae.training_params_["lr"] == 3e-3  # the defaults of an Architecture
    assert mae.transform(X).shape == (len(X), 4)
    assert mae.inpaint(X).shape == X.shape
    assert mae.loss_curve_[-1] < mae.loss_curve_[0]


def test_an_architecture_sets_what_auto_becomes(X):
    spec = Architecture(TinyDense, mask_ratio=0.2, lr=1e-2, batch_size=25)
    mae = MaskedAutoencoder(architecture=spec, **{**FAST, "batch_size": "auto"}).fit(X)
    assert (mae.training_params_["mask_ratio"], mae.training_params_["lr"],
            mae.training_params_["batch_size"]) == (0.2, 1e-2, 25)


def test_module_params_are_checked_against_the_signature_before_building(X):
    with pytest.raises(ValueError, match=r"\['depth'\] are not accepted by ConvAutoencoder"):
        MaskedAutoencoder(module_params={"depth": 3}, **FAST).fit(X)
    with pytest.raises(ValueError, match="latent_dim"):
        MaskedAutoencoder(architecture="vit", module_params={"latent_dim": 3}, **FAST).fit(X)


class Broken(TinyDense):
    def __init__(self, sample_shape, latent_dim, width):
        raise TypeError("a bug inside the module")


def test_a_bug_inside_a_module_is_not_relabelled_as_a_user_error(X):
    with pytest.raises(TypeError, match="a bug inside the module"):
        MaskedAutoencoder(architecture=Broken, **FAST).fit(X)


def test_architecture_must_be_a_module_class():
    with pytest.raises(TypeError, match="MaskedAutoencoderModule"):
        MaskedAutoencoder(architecture=nn.Linear, **FAST).fit(np.zeros((4, 3)))


def test_visible_weighted_loss_averages_each_group():
    from sklearn_mae._base import masked_mse
    from sklearn_mae._net import visible_weighted

    pred, target = torch.zeros(2, 4), torch.tensor([[1.0, 2.0, 0.0, 3.0], [0.0, 1.0, 1.0, 0.0]])
    hidden = torch.tensor([[True, False, False, False], [False, True, False, False]])
    visible = torch.tensor([[False, True, True, True], [True, False, True, True]])
    loss = masked_mse(pred, target, visible_weighted(hidden, visible, 0.5))
    mse_hidden, mse_visible = (1 + 1) / 2, (4 + 0 + 9 + 0 + 1 + 0) / 6
    assert float(loss) == pytest.approx((mse_hidden + 0.5 * mse_visible) / 1.5)


def test_the_conv_latent_is_a_sparse_code_that_the_decoder_reads():
    module = ConvAutoencoder((1, 16, 16), latent_dim=32, width=4).eval()
    x = torch.rand(6, 1, 16, 16)
    visible = torch.ones_like(x, dtype=torch.bool)
    code = module.encode(x, visible)
    assert code.shape == (6, 32) and bool((code >= 0).all())
    assert torch.allclose(code.norm(dim=1), torch.full((6,), math.sqrt(32)))
    assert module.decode(code).shape == x.shape
    # the two-view loss compares a linear projection of the code, not the code itself
    _, compared = module.train().training_loss(x, visible, ~visible)
    assert compared.shape == (6, 32)
    assert torch.allclose(compared, module.projector(module.encode(x, visible)))
    # sparse_code=False: the normalised linear bottleneck is the latent, compared as it is
    plain = ConvAutoencoder((1, 16, 16), latent_dim=32, width=4, sparse_code=False)
    assert plain.code is None and plain.projector is None
    z = plain.encode(x, visible)
    assert torch.allclose(z.norm(dim=1), torch.full((6,), math.sqrt(32)))


def test_the_conv_model_reconstructs_the_first_of_two_views_only():
    torch.manual_seed(0)
    module = ConvAutoencoder((1, 16, 16), latent_dim=32, width=4).train()
    x = torch.rand(8, 1, 16, 16)  # two views of 4 samples, stacked
    visible = torch.rand(8, 1, 16, 16) > 0.5
    clean = torch.rand(8, 1, 16, 16)

    def loss(target, views):
        torch.manual_seed(1)
        with torch.no_grad():
            return module.training_loss(x, visible, ~visible, clean=target, views=views)

    other = clean.clone()
    other[4:] = 0  # a second view's target: not reconstructed
    (first, z), (same, z_same) = loss(clean, 2), loss(other, 2)
    assert float(first) == float(same)
    assert z.shape == (8, 32) and torch.equal(z, z_same)  # both views are compared
    other[:4] = 0  # the first view's: it is
    assert float(loss(other, 2)[0]) != float(first)
    assert float(loss(other, 1)[0]) != float(loss(clean, 1)[0])  # one view: all of it


class ViewsRecorder(TinyDense):
    """Records the ``views`` hint its ``training_loss`` is given."""

    seen: list = []

    def training_loss(self, x, visible, scored, mask=None, clean=None, views=1):
        ViewsRecorder.seen.append(views)
        return super().training_loss(x, visible, scored, mask=mask, clean=clean)


def test_a_module_is_told_when_its_batch_holds_two_views():
    X = np.kron(load_digits().data[:64].reshape(-1, 8, 8) / 16, np.ones((2, 2)))  # 16x16
    ViewsRecorder.seen = []
    MaskedAutoencoder(architecture=ViewsRecorder, **{**FAST, "max_epochs": 1}).fit(X)
    assert ViewsRecorder.seen and set(ViewsRecorder.seen) == {2}
    ViewsRecorder.seen = []
    MaskedAutoencoder(architecture=ViewsRecorder, consistency=0, **FAST).fit(X)
    assert set(ViewsRecorder.seen) == {1}
