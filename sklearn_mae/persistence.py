"""Model files that can be loaded without running code: safetensors plus JSON.

A pickle (``pickle``, ``joblib``) can run any code while it is being read, so a model
file from someone else is a program. :func:`save` writes a fitted estimator as one
`safetensors <https://huggingface.co/docs/safetensors>`_ file instead, and
:func:`load` reads it back, checking everything before it builds anything. Reading
such a file only parses JSON and copies numbers.

What the file holds
-------------------
Tensors
    ``module.<name>`` for every entry of the torch module's ``state_dict()``, and
    ``scaler.offset``, ``scaler.scale`` (the input scaling learnt in ``fit``).
Metadata
    One key, ``"sklearn_mae"``, whose value is a JSON document: ``format``
    (``"sklearn-mae-model"``), ``format_version``, ``sklearn_mae_version``,
    ``estimator`` (``"MaskedAutoencoder"`` or ``"MaskedAutoencoderImputer"``),
    ``params`` (``get_params()``) and ``fitted``: ``layout`` (``input_shape``,
    ``sample_shape``), ``architecture_``, ``training_params_``, ``image_shape_``,
    ``loss_curve_``, ``n_features_in_``, ``feature_names_in_`` when fitted on named
    columns, and for the imputer ``indicator_`` (``null``, or the
    :class:`~sklearn.impute.MissingIndicator`'s ``params``, ``features_`` and
    ``n_features_in_``).

``params``, ``training_params_`` and the indicator's ``params`` are JSON objects whose
values are tagged where plain JSON would lose the Python value: a tuple is
``{"tuple": [...]}``, a dict ``{"dict": {...}}`` and a NaN or infinite float
``{"float": "nan"}`` (``"inf"``, ``"-inf"``).

What cannot be saved this way is refused by :func:`save` with a ``ValueError``:
parameters that are code (``callbacks``, your own module class as ``architecture``)
or objects (a ``RandomState`` as ``random_state``). Save such models with pickle or
joblib, and load those files only if you trust them.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from safetensors import SafetensorError, safe_open
from sklearn.impute import MissingIndicator
from sklearn.utils.validation import check_is_fitted

from . import __version__
from ._estimator import _BaseMaskedAutoencoder
from ._imputer import MaskedAutoencoderImputer
from ._inputs import Layout, Scaler
from ._masked_autoencoder import MaskedAutoencoder
from ._training import resolve_device

__all__ = ["save", "load", "has_safetensors_header"]

FORMAT = "sklearn-mae-model"
FORMAT_VERSION = 1
METADATA_KEY = "sklearn_mae"
MODULE_PREFIX = "module."
SCALER_TENSORS = {"scaler.offset": "offset", "scaler.scale": "scale"}  # name: attribute
ESTIMATORS: dict[str, type] = {
    "MaskedAutoencoder": MaskedAutoencoder,
    "MaskedAutoencoderImputer": MaskedAutoencoderImputer,
}
FITTED_KEYS = ("layout", "architecture_", "training_params_", "image_shape_", "loss_curve_",
               "n_features_in_", "n_samples_seen_", "n_iter_")
PICKLE_ADVICE = ("save this model with pickle or joblib instead, and load such files only if "
                 "you trust them (unpickling can run code)")


# ------------------------------------------------------------------ public functions
def save(estimator: MaskedAutoencoder | MaskedAutoencoderImputer, path: str | os.PathLike) -> None:
    """Write a fitted estimator to ``path`` as a safetensors file that loads without code.

    The torch module's weights and the input scaling are stored as tensors, every
    parameter and fitted attribute as JSON in the file's metadata (the module docstring
    lists the keys). The file is written to a temporary name first and then renamed, so
    an existing ``path`` is either fully replaced or left as it was.

    Parameters
    ----------
    estimator : MaskedAutoencoder or MaskedAutoencoderImputer
        A fitted estimator of one of the package's two classes (not a subclass).
    path : str or path-like
        The file to write, e.g. ``"model.safetensors"``.

    Raises
    ------
    ValueError
        If a parameter cannot be written as data: ``callbacks`` that are not None, an
        ``architecture`` that is a module class or an ``Architecture``, or any other
        value that is not None, a bool, number, string, or a list, tuple or dict of those.
        Pickle or joblib can save such models.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_mae import MaskedAutoencoder
    >>> from sklearn_mae.persistence import load, save
    >>> X = load_digits().data[:100]
    >>> mae = MaskedAutoencoder(latent_dim=4, width=2, max_epochs=1, random_state=0).fit(X)
    >>> path = Path(tempfile.mkdtemp()) / "digits.safetensors"
    >>> save(mae, path)
    >>> loaded = load(path)
    >>> loaded.architecture_, loaded.latent_dim
    ('conv', 4)
    >>> bool(np.array_equal(loaded.transform(X), mae.transform(X)))
    True
    """
    _check_savable_class(estimator)
    check_is_fitted(estimator)
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_mae_version": __version__,
        "estimator": type(estimator).__name__,
        "params": _params_to_json(estimator),
        "fitted": _fitted_to_json(estimator),
    }
    metadata = {METADATA_KEY: json.dumps(document, sort_keys=True, allow_nan=False)}
    _write_atomically(_tensors_of(estimator), metadata, Path(path))


def load(path: str | os.PathLike, *, device: str = "cpu"
         ) -> MaskedAutoencoder | MaskedAutoencoderImputer:
    """Read a model written by :func:`save`; no code from the file is run.

    Everything is checked before the estimator is built: the format and its version,
    the class (only the package's two estimators), every parameter and fitted
    attribute, and the names, shapes and dtypes of the tensors against the module the
    parameters build. The module is then built exactly as in ``fit`` and its weights
    loaded strictly. Outputs (``transform``, ``inverse_transform``, ``inpaint``,
    ``score_samples``) equal those of the saved estimator bit for bit on the same device.

    The loaded ``net_`` is for inference: the training history, optimiser state and
    learning-rate schedule are not saved (``loss_curve_`` is). ``fit`` trains afresh.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save` (or by ``sklearn-mae fit``).
    device : str, default="cpu"
        Torch device for the loaded network, e.g. ``"cuda"``; ``"auto"`` picks CUDA
        when available. The estimator's ``device`` parameter is kept as saved.

    Returns
    -------
    estimator : MaskedAutoencoder or MaskedAutoencoderImputer
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not a safetensors file (e.g. a pickle), is damaged, was written
        in another format version, or its contents do not fit together. The message
        names the file and what is wrong.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_mae import MaskedAutoencoderImputer
    >>> from sklearn_mae.persistence import load, save
    >>> X = load_digits().data[:100]
    >>> imputer = MaskedAutoencoderImputer(max_epochs=1, latent_dim=4, width=2).fit(X)
    >>> path = Path(tempfile.mkdtemp()) / "imputer.safetensors"
    >>> save(imputer, path)
    >>> type(load(path)).__name__
    'MaskedAutoencoderImputer'
    """
    path = Path(path)
    device = resolve_device(device)
    metadata, tensors = _read_safetensors(path)
    document = _parse_document(path, metadata)
    try:
        estimator = _estimator_from(path, document)
        fitted = _decode_fitted(path, document["fitted"], estimator)
    except RecursionError as exc:  # JSON nested deeper than save() ever writes
        raise _invalid(path, "its metadata is nested too deeply.") from exc
    net = _build_net(path, estimator, fitted, device)
    state = _module_state(path, tensors, net.module)
    scaler = _scaler_from(path, tensors, fitted["layout"])
    net.initialize()
    net.module_.load_state_dict(state, strict=True)
    _set_fitted(estimator, fitted, net, scaler)
    return estimator


def has_safetensors_header(path: str | os.PathLike) -> bool:
    """Whether the file starts like a safetensors file (a header length, then ``{``).

    Only the first nine bytes are read: enough to tell a safe model file from a pickle or
    joblib file before anything is parsed (nothing is ever unpickled either way). It says
    nothing about the rest of the file, which :func:`load` checks.

    Parameters
    ----------
    path : str or path-like
        The file to look at.

    Returns
    -------
    bool
        True when the file can be a safetensors file.
    """
    with open(path, "rb") as f:
        start = f.read(9)
    return len(start) == 9 and int.from_bytes(start[:8], "little") > 1 and start[8:] == b"{"


# ------------------------------------------------------------------ saving
def _check_savable_class(estimator) -> None:
    # a subclass may hold state or behaviour this format knows nothing about
    if type(estimator) not in ESTIMATORS.values():
        raise ValueError(
            f"save() writes a MaskedAutoencoder or MaskedAutoencoderImputer; got "
            f"{type(estimator).__module__}.{type(estimator).__qualname__}. Save other "
            "objects with pickle or joblib, and load such files only if you trust them "
            "(unpickling can run code)."
        )


def _params_to_json(estimator: _BaseMaskedAutoencoder) -> dict:
    params = estimator.get_params(deep=False)
    if not isinstance(params["architecture"], str):
        raise ValueError(
            f"architecture={params['architecture']!r} is a module class or an "
            "Architecture: that is code, and a safe model file holds data only, so it can "
            f"name the built-in architectures ('auto', 'conv', 'mlp', 'vit') only; "
            f"{PICKLE_ADVICE}."
        )
    if params["callbacks"] is not None:
        raise ValueError(
            f"callbacks={params['callbacks']!r} cannot be written to a safe model file: "
            "skorch callbacks are code. Set callbacks=None before saving (they only act "
            f"during fit), or {PICKLE_ADVICE}."
        )
    return _dict_to_json(params, "")


def _fitted_to_json(estimator: _BaseMaskedAutoencoder) -> dict:
    fitted = {
        "layout": {"input_shape": list(estimator.layout_.input_shape),
                   "sample_shape": list(estimator.layout_.sample_shape)},
        "architecture_": estimator.architecture_,
        "training_params_": _dict_to_json(estimator.training_params_, "training_params_"),
        "image_shape_": None if estimator.image_shape_ is None else list(estimator.image_shape_),
        "loss_curve_": [_to_json(loss, "loss_curve_") for loss in estimator.loss_curve_],
        "n_features_in_": int(estimator.n_features_in_),
        "n_samples_seen_": int(estimator.n_samples_seen_),
        "n_iter_": int(estimator.n_iter_),
    }
    if hasattr(estimator, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(name) for name in estimator.feature_names_in_]
    if isinstance(estimator, MaskedAutoencoderImputer):
        fitted["indicator_"] = _indicator_to_json(estimator.indicator_)
    return fitted


def _indicator_to_json(indicator: MissingIndicator | None) -> dict | None:
    if indicator is None:
        return None
    if type(indicator) is not MissingIndicator:
        raise ValueError(f"indicator_ is a {type(indicator).__name__}, not a "
                         f"MissingIndicator; {PICKLE_ADVICE}.")
    return {
        "params": _dict_to_json(indicator.get_params(deep=False), "indicator_.params"),
        "features_": [int(i) for i in indicator.features_],
        "n_features_in_": int(indicator.n_features_in_),
    }


def _tensors_of(estimator: _BaseMaskedAutoencoder) -> dict[str, torch.Tensor]:
    # copies on the CPU: safetensors refuses tensors that share memory (tied weights)
    tensors = {MODULE_PREFIX + name: value.detach().to("cpu", copy=True).contiguous()
               for name, value in estimator.net_.module_.state_dict().items()}
    for name, attribute in SCALER_TENSORS.items():
        array = getattr(estimator.scaler_, attribute)
        tensors[name] = torch.from_numpy(np.array(array, copy=True, order="C"))
    return tensors


def _write_atomically(tensors: dict, metadata: dict, path: Path) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    # written with open(), not save_file or tempfile.mkstemp, whose files get mode 0600
    # instead of the user's usual permissions
    data = safetensors.torch.save(tensors, metadata=metadata)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _dict_to_json(values: dict, where: str) -> dict:
    """A JSON object of a dict whose keys are known to be strings (no tag needed)."""
    return {name: _to_json(value, f"{where}.{name}" if where else name)
            for name, value in values.items()}


def _to_json(value, where: str):
    """``value`` as JSON data, tagging what JSON would change (tuples, dicts, NaN)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        return number if math.isfinite(number) else {"float": repr(number)}
    if isinstance(value, tuple):
        return {"tuple": [_to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [_to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"dict": {key: _to_json(item, f"{where}[{key!r}]") for key, item in value.items()}}
    raise ValueError(
        f"{where}={value!r} cannot be written to a safe model file, which holds None, "
        "bools, numbers, strings, and lists, tuples and dicts (string keys) of those; "
        f"use such a value, or {PICKLE_ADVICE}."
    )


# ------------------------------------------------------------------ loading
def _invalid(path: Path, problem: str) -> ValueError:
    return ValueError(f"cannot load a model from {path}: {problem}")


def _read_safetensors(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The metadata and tensors of a safetensors file; a ValueError for anything else."""
    if not path.is_file():
        raise _invalid(path, "no such file.")
    if not has_safetensors_header(path):
        raise _invalid(
            path, "it is not a safetensors file, the format sklearn-mae saves models in. "
            "If it is a pickle or joblib file, load it with joblib.load only if you trust "
            "it: unpickling can run any code the file holds."
        )
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except SafetensorError as exc:
        raise _invalid(path, f"the file is damaged or truncated ({exc}).") from exc
    return metadata, tensors


def _parse_document(path: Path, metadata: dict) -> dict:
    """The JSON document in the metadata, after checking its format, version and class."""
    if METADATA_KEY not in metadata:
        raise _invalid(path, f"its metadata has no {METADATA_KEY!r} entry, so it was not "
                       "written by sklearn_mae.persistence.save or 'sklearn-mae fit'.")
    try:
        document = json.loads(metadata[METADATA_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _invalid(path, f"its {METADATA_KEY!r} metadata is not valid JSON ({exc}).") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else document
        raise _invalid(path, f"its metadata says format {found!r}; expected {FORMAT!r}.")
    version = document.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise _invalid(
            path, f"it is in format version {version!r} (written by sklearn-mae "
            f"{document.get('sklearn_mae_version', 'unknown')}), but sklearn-mae "
            f"{__version__} reads version {FORMAT_VERSION}; use the sklearn-mae version "
            "that wrote it, or refit the model."
        )
    name = document.get("estimator")
    if not isinstance(name, str) or name not in ESTIMATORS:
        raise _invalid(path, f"it holds an estimator of class {name!r}; only "
                       f"{' and '.join(ESTIMATORS)} can be loaded.")
    for key in ("params", "fitted"):
        if not isinstance(document.get(key), dict):
            raise _invalid(path, f"its metadata has no {key!r} object.")
    missing = [key for key in FITTED_KEYS if key not in document["fitted"]]
    if document["estimator"] == "MaskedAutoencoderImputer" and (
            "indicator_" not in document["fitted"]):
        missing.append("indicator_")
    if missing:
        raise _invalid(path, f"its fitted attributes lack {', '.join(missing)}.")
    return document


def _estimator_from(path: Path, document: dict) -> _BaseMaskedAutoencoder:
    """An unfitted estimator of the saved class with the saved, validated parameters."""
    cls = ESTIMATORS[document["estimator"]]
    params = _dict_from_json(path, document["params"], "params")
    expected = set(cls().get_params(deep=False))
    unknown, missing = sorted(set(params) - expected), sorted(expected - set(params))
    if unknown or missing:
        raise _invalid(
            path, f"its parameters do not match {cls.__name__} of sklearn-mae {__version__} "
            f"(unknown: {unknown or 'none'}; missing: {missing or 'none'}); it was written by "
            f"sklearn-mae {document.get('sklearn_mae_version', 'unknown')}."
        )
    estimator = cls().set_params(**params)
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as exc:
        raise _invalid(path, f"a saved parameter is not valid: {exc}") from exc
    return estimator


def _dict_from_json(path: Path, values, where: str) -> dict:
    """Undo :func:`_dict_to_json`."""
    if not isinstance(values, dict):
        raise _invalid(path, f"{where} is {values!r}; expected a JSON object.")
    return {name: _from_json(path, value, f"{where}.{name}") for name, value in values.items()}


def _from_json(path: Path, value, where: str):
    """Undo :func:`_to_json`; anything it cannot have written is a ValueError."""
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_from_json(path, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict) and len(value) == 1:
        (tag, content), = value.items()
        if tag == "tuple" and isinstance(content, list):
            return tuple(_from_json(path, item, f"{where}[{i}]")
                         for i, item in enumerate(content))
        if tag == "dict" and isinstance(content, dict):
            return {key: _from_json(path, item, f"{where}[{key!r}]")
                    for key, item in content.items()}
        if tag == "float" and content in ("nan", "inf", "-inf"):
            return float(content)
    raise _invalid(path, f"{where} holds {value!r}, which save() does not write.")


def _decode_fitted(path: Path, saved: dict, estimator: _BaseMaskedAutoencoder) -> dict:
    """The fitted attributes as Python values, each checked against the others."""
    layout = _decode_layout(path, saved["layout"])
    training = _dict_from_json(path, saved["training_params_"], "training_params_")
    image_shape = saved["image_shape_"]
    expected_image_shape = layout.sample_shape if layout.is_image else None
    if (tuple(image_shape) if isinstance(image_shape, list) else image_shape) != (
            expected_image_shape):
        raise _invalid(path, f"image_shape_ is {image_shape!r}, but the layout's sample "
                       f"shape {layout.sample_shape} means {expected_image_shape!r}.")
    fitted = {
        "layout": layout,
        "architecture": _decode_architecture(path, saved["architecture_"], estimator, layout),
        "training_params_": training,
        "image_shape_": expected_image_shape,
        "loss_curve_": _decode_loss_curve(path, saved["loss_curve_"]),
        "n_features_in_": _decode_n_features(path, saved["n_features_in_"], layout),
        "n_samples_seen_": _decode_count(path, saved["n_samples_seen_"], "n_samples_seen_"),
        "n_iter_": _decode_count(path, saved["n_iter_"], "n_iter_"),
    }
    if "feature_names_in_" in saved:
        fitted["feature_names_in_"] = _decode_feature_names(
            path, saved["feature_names_in_"], fitted["n_features_in_"])
    if isinstance(estimator, MaskedAutoencoderImputer):
        fitted["indicator_"] = _decode_indicator(path, saved["indicator_"], layout)
    return fitted


def _decode_layout(path: Path, saved) -> Layout:
    shapes = {}
    for key in ("input_shape", "sample_shape"):
        shape = saved.get(key) if isinstance(saved, dict) else None
        if not (isinstance(shape, list) and shape
                and all(type(size) is int and size >= 1 for size in shape)):
            raise _invalid(path, f"layout.{key} is {shape!r}; expected a list of positive "
                           "integers.")
        shapes[key] = tuple(shape)
    layout = Layout(shapes["input_shape"], shapes["sample_shape"])
    if math.prod(layout.input_shape) != layout.n_features or len(layout.sample_shape) not in (
            1, 3):
        raise _invalid(path, f"layout {layout.input_shape} -> {layout.sample_shape} is not a "
                       "reshape to (n_features,) or (C, H, W).")
    return layout


def _decode_architecture(path: Path, name, estimator: _BaseMaskedAutoencoder, layout: Layout):
    """The Architecture the saved parameters resolve to, which must be the saved one."""
    try:
        architecture = estimator._resolve_architecture(layout)
    except (ValueError, TypeError) as exc:
        raise _invalid(path, f"its architecture does not fit its layout: {exc}") from exc
    if architecture.name != name:
        raise _invalid(path, f"architecture_ is {name!r}, but the saved parameters give "
                       f"{architecture.name!r}.")
    return architecture


def _decode_loss_curve(path: Path, saved) -> list[float]:
    losses = _from_json(path, saved, "loss_curve_")
    if not (isinstance(losses, list)
            and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in losses)):
        raise _invalid(path, f"loss_curve_ is {saved!r}; expected a list of numbers.")
    return [float(x) for x in losses]


def _decode_n_features(path: Path, saved, layout: Layout) -> int:
    # validate_data sets n_features_in_ to X.shape[1], the first axis of a sample
    if type(saved) is not int or saved != layout.input_shape[0]:
        raise _invalid(path, f"n_features_in_ is {saved!r}; the layout's input shape "
                       f"{layout.input_shape} means {layout.input_shape[0]}.")
    return saved


def _decode_count(path: Path, saved, name: str) -> int:
    if type(saved) is not int or saved < 1:
        raise _invalid(path, f"{name} is {saved!r}; expected a positive whole number.")
    return saved


def _decode_feature_names(path: Path, saved, n_features: int) -> np.ndarray:
    if not (isinstance(saved, list) and len(saved) == n_features
            and all(isinstance(name, str) for name in saved)):
        raise _invalid(path, f"feature_names_in_ must be {n_features} strings; got {saved!r}.")
    return np.asarray(saved, dtype=object)  # as scikit-learn's validate_data stores them


def _decode_indicator(path: Path, saved, layout: Layout) -> MissingIndicator | None:
    """A MissingIndicator fitted on one synthetic row that is missing in ``features_``."""
    if saved is None:
        return None
    if not (isinstance(saved, dict) and {"params", "features_", "n_features_in_"} <= set(saved)):
        raise _invalid(path, f"indicator_ is {saved!r}; expected null or an object with "
                       "params, features_ and n_features_in_.")
    params = _dict_from_json(path, saved["params"], "indicator_.params")
    n_features, features = saved["n_features_in_"], saved["features_"]
    if n_features != layout.n_features or not (
            isinstance(features, list)
            and all(type(i) is int and 0 <= i < n_features for i in features)):
        raise _invalid(path, f"indicator_ has features_ {features!r} of n_features_in_ "
                       f"{n_features!r}; the model has {layout.n_features} features.")
    try:
        indicator = MissingIndicator().set_params(**params)
        placeholder = indicator.missing_values
        row = np.full((1, n_features), 1.0 if placeholder == 0 else 0.0)
        row[0, features] = placeholder
        indicator.fit(row)
    except (ValueError, TypeError) as exc:
        raise _invalid(path, f"indicator_ cannot be rebuilt: {exc}") from exc
    if indicator.features_.tolist() != features:
        raise _invalid(path, f"indicator_ rebuilt with features {indicator.features_.tolist()}"
                       f" instead of the saved {features}.")
    return indicator


def _build_net(path: Path, estimator: _BaseMaskedAutoencoder, fitted: dict, device: str):
    """The skorch net built as in ``fit`` (not initialised), on ``device``."""
    training = {**fitted["training_params_"], "device": device}
    try:
        # the schedule's length and the seed matter for training only: one batch, seed 0
        return estimator._build_net(fitted["architecture"], fitted["layout"], training,
                                    n_samples=training["batch_size"], seed=0)
    except KeyError as exc:
        raise _invalid(path, f"training_params_ lacks the setting {exc}.") from exc
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise _invalid(path, f"its module cannot be built from the saved settings: "
                       f"{exc}") from exc


def _module_state(path: Path, tensors: dict, module: torch.nn.Module) -> dict:
    """The saved ``state_dict``, after checking names, shapes and dtypes against ``module``."""
    expected = module.state_dict()
    saved = {name[len(MODULE_PREFIX):]: tensor for name, tensor in tensors.items()
             if name.startswith(MODULE_PREFIX)}
    others = sorted(set(tensors) - {MODULE_PREFIX + name for name in saved} - set(SCALER_TENSORS))
    missing = [MODULE_PREFIX + name for name in sorted(set(expected) - set(saved))]
    unexpected = [MODULE_PREFIX + name for name in sorted(set(saved) - set(expected))] + others
    if missing or unexpected:
        raise _invalid(
            path, f"its tensors do not match the {type(module).__name__} its settings build "
            f"(missing: {missing or 'none'}; unexpected: {unexpected or 'none'})."
        )
    for name, tensor in expected.items():
        if saved[name].shape != tensor.shape or saved[name].dtype != tensor.dtype:
            raise _invalid(
                path, f"tensor {MODULE_PREFIX + name} is {saved[name].dtype} of shape "
                f"{tuple(saved[name].shape)}; the module expects {tensor.dtype} of shape "
                f"{tuple(tensor.shape)}."
            )
    return saved


def _scaler_from(path: Path, tensors: dict, layout: Layout) -> Scaler:
    """The saved scaling, checked against the layout."""
    shape = (layout.sample_shape[0], 1, 1) if layout.is_image else layout.sample_shape
    arrays = {}
    for name, attribute in SCALER_TENSORS.items():
        if name not in tensors:
            raise _invalid(path, f"it has no {name} tensor.")
        array = tensors[name].numpy().copy()
        if array.shape != shape or array.dtype not in (np.float32, np.float64):
            raise _invalid(path, f"tensor {name} is {array.dtype} of shape {array.shape}; "
                           f"expected float32 or float64 of shape {shape}.")
        arrays[attribute] = array
    try:
        scaler = Scaler(arrays["offset"], arrays["scale"], layout.is_image)
    except ValueError as exc:
        raise _invalid(path, f"its scaling is unusable: {exc}") from exc
    if not np.array_equal(scaler.scale, arrays["scale"]):
        raise _invalid(path, "tensor scaler.scale holds values fit never gives (zero spread).")
    return scaler


def _set_fitted(estimator: _BaseMaskedAutoencoder, fitted: dict, net, scaler: Scaler) -> None:
    estimator.layout_ = fitted["layout"]
    estimator.scaler_ = scaler
    estimator.architecture_ = fitted["architecture"].name
    estimator.training_params_ = fitted["training_params_"]
    estimator.image_shape_ = fitted["image_shape_"]
    estimator.net_ = net
    estimator.loss_curve_ = fitted["loss_curve_"]
    estimator.n_features_in_ = fitted["n_features_in_"]
    estimator.n_samples_seen_ = fitted["n_samples_seen_"]
    estimator.n_iter_ = fitted["n_iter_"]
    if "feature_names_in_" in fitted:
        estimator.feature_names_in_ = fitted["feature_names_in_"]
    if "indicator_" in fitted:
        estimator.indicator_ = fitted["indicator_"]
