"""The ``sklearn-mae`` command: a demo, and fit / transform / inpaint / denoise on data files.

Every sub-command is one ``run_*`` function taking the parsed arguments. Errors a
user can fix (a missing file, a bad parameter, data of the wrong shape) are printed
as one line, ``sklearn-mae: error: ...``, with exit status 2.

Models are saved with :mod:`sklearn_mae.persistence` (safetensors and JSON, read without
running code). A pickle or joblib model file is unpickled only with ``--allow-pickle``.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import joblib
import numpy as np

from . import __version__, evaluation, persistence
from ._estimator import _BaseMaskedAutoencoder
from ._imputer import MaskedAutoencoderImputer
from ._masked_autoencoder import MaskedAutoencoder
from .datasets import load_array

PROG = "sklearn-mae"
USAGE_ERROR = 2
N_SHOWN = 8  # images per figure


class CommandError(Exception):
    """An error the user can fix; shown as one line without a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise CommandError(f"{message} (see '{self.prog} --help')")


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.run(args)
    except SystemExit as exc:  # --help and --version exit through argparse
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError, TypeError, FloatingPointError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return USAGE_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Masked autoencoders as scikit-learn transformers: features, "
        "inpainting and imputation.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", required=True
    )

    demo = commands.add_parser(
        "demo",
        help="fit on a bundled data set and report feature and inpainting quality",
        description="Fit MaskedAutoencoder(random_state=0) on scikit-learn's digits (or MNIST) "
        "and print a table: linear-probe accuracy and KMeans NMI of its features against "
        "raw pixels, inpainting error with half the pixels hidden, and the fit time. Writes "
        "reconstructions.png and loss_curve.png to --out.",
    )
    demo.add_argument("--out", default="sklearn-mae-demo", type=Path, metavar="DIR",
                      help="folder for the figures (default: %(default)s)")
    demo.add_argument("--mnist-dir", type=Path, metavar="PATH",
                      help="use MNIST (8,000 train / 2,000 test) from the IDX files "
                      "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in PATH "
                      "instead of the digits; much slower on a CPU")
    _add_common(demo, params=True)
    demo.set_defaults(run=run_demo)

    fit = commands.add_parser(
        "fit",
        help="fit a model on a data file and save it",
        description="Fit a MaskedAutoencoder on DATA and save it as a safetensors file: the "
        "weights as tensors and the settings as JSON, so that reading it runs no code. "
        + _DATA_HELP,
    )
    fit.add_argument("data", type=Path, metavar="DATA", help="training data")
    fit.add_argument("--out", required=True, type=Path, metavar="MODEL",
                     help="where to save the fitted model (e.g. model.safetensors)")
    _add_common(fit, params=True, key=True)
    fit.set_defaults(run=run_fit)

    transform = commands.add_parser(
        "transform",
        help="write the latent features of a data file",
        description="Write the latent features of DATA, one row per sample, to a .npy file. "
        + _DATA_HELP + _MODEL_HELP,
    )
    transform.add_argument("model", type=Path, metavar="MODEL",
                           help="a model saved by 'sklearn-mae fit'")
    transform.add_argument("data", type=Path, metavar="DATA", help="data shaped like the "
                           "training data")
    transform.add_argument("--out", required=True, type=Path, metavar="FEATURES.npy",
                           help="where to write the features")
    _add_allow_pickle(transform)
    _add_common(transform, key=True)
    transform.set_defaults(run=run_transform)

    inpaint = commands.add_parser(
        "inpaint",
        help="fill the missing values (NaN) of a data file",
        description="Fill the missing values (NaN) of DATA with the model's reconstruction "
        "and write the result to a .npy file; the other values are kept unchanged. "
        + _DATA_HELP + _MODEL_HELP,
    )
    _add_model_io(inpaint, "data with NaN for holes, shaped like the training data",
                  "FILLED.npy", "where to write the filled data",
                  png=f"also draw {N_SHOWN} samples, with holes in red and filled")
    inpaint.set_defaults(run=run_inpaint)

    denoise = commands.add_parser(
        "denoise",
        help="write the model's reconstruction of a noisy data file",
        description="Write the model's reconstruction of every value of DATA (missing values "
        "included) to a .npy file: noise the model was trained for is removed. Train for "
        "your noise with 'sklearn-mae fit --set noise=gaussian --set noise_level=0.2' "
        "(levels in units of the image range, or of each column's standard deviation). "
        + _DATA_HELP + _MODEL_HELP,
    )
    _add_model_io(denoise, "noisy data shaped like the training data", "DENOISED.npy",
                  "where to write the denoised data",
                  png=f"also draw {N_SHOWN} samples, noisy above denoised")
    denoise.set_defaults(run=run_denoise)
    return parser


_DATA_HELP = (
    "DATA is a .npy file, a .npz file (its first array, or --key NAME), a .csv file of "
    "numbers (one sample a row, header row optional, empty cells are missing) or an IDX "
    "file such as t10k-images-idx3-ubyte[.gz] (bytes read as floats in [0, 1]). "
)
_MODEL_HELP = (
    "MODEL is read as a safetensors file, which runs no code. A pickle or joblib model file "
    "(from joblib.dump or an earlier 'sklearn-mae fit') is refused unless --allow-pickle "
    "is given, as unpickling can run any code the file holds."
)


def _add_model_io(parser, data_help: str, out_metavar: str, out_help: str, png: str) -> None:
    """MODEL, DATA, --out, --png and the common options of a command that writes data."""
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a model saved by 'sklearn-mae fit'")
    parser.add_argument("data", type=Path, metavar="DATA", help=data_help)
    parser.add_argument("--out", required=True, type=Path, metavar=out_metavar, help=out_help)
    parser.add_argument("--png", type=Path, metavar="FILE",
                        help=png + " (image models only; needs matplotlib)")
    _add_allow_pickle(parser)
    _add_common(parser, key=True)


def _add_allow_pickle(parser) -> None:
    parser.add_argument(
        "--allow-pickle", action="store_true",
        help="also load MODEL if it is a pickle or joblib file; unpickling runs any code the "
        "file holds, so use this only for files you trust",
    )


def _add_common(parser, *, params: bool = False, key: bool = False) -> None:
    if key:
        parser.add_argument("--key", metavar="NAME", help="array to read from a .npz DATA file")
    if params:
        parser.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE", dest="params",
            help="a MaskedAutoencoder parameter, value read as a Python literal where possible, "
            "e.g. --set mask_ratio=0.6 --set max_epochs=20 --set image_shape='(28, 28)'; "
            "repeat for several",
        )
    parser.add_argument("--verbose", action="store_true",
                        help="show progress even when the output is not a terminal")


# ------------------------------------------------------------------ commands
def run_demo(args) -> int:
    name, (X_train, X_test, y_train, y_test) = _demo_data(args.mnist_dir)
    estimator = MaskedAutoencoder(**{"random_state": 0, **_estimator_params(args)})
    print(f"{PROG} demo: {name}, {len(X_train)} train / {len(X_test)} test images, "
          f"{X_train.shape[1]} pixels each\n", flush=True)
    start = time.perf_counter()
    estimator.fit(X_train)
    fit_seconds = time.perf_counter() - start
    print(_demo_table(estimator, X_train, X_test, y_train, y_test, fit_seconds) + "\n")
    _write_demo_figures(estimator, X_test, args.out)
    return 0


def run_fit(args) -> int:
    estimator = MaskedAutoencoder(**_estimator_params(args))
    X = _read_data(args.data, args.key)
    _prepare(args.out)  # fail on an unwritable folder before, not after, the training
    start = time.perf_counter()
    estimator.fit(X)
    seconds = time.perf_counter() - start
    persistence.save(estimator, args.out)
    if _show_progress(args):
        kind = ("images of " + "x".join(map(str, estimator.image_shape_))
                if estimator.image_shape_ else f"rows of {estimator.n_features_in_} features")
        print(f"fitted on {len(X)} {kind} in {seconds:.1f} s (final loss "
              f"{estimator.loss_curve_[-1]:.4g}); saved to {args.out}")
    return 0


def run_transform(args) -> int:
    estimator = _read_model(args.model, allow_pickle=args.allow_pickle)
    if isinstance(estimator, MaskedAutoencoderImputer):
        raise CommandError(
            f"{args.model} holds a MaskedAutoencoderImputer, which fills missing values and "
            f"has no latent features; fill with '{PROG} inpaint {args.model} DATA --out "
            "FILLED.npy', or fit a feature model with 'sklearn-mae fit'."
        )
    features = estimator.transform(_read_data(args.data, args.key))
    _write_npy(args.out, features)
    if _show_progress(args):
        print(f"wrote features of shape {features.shape} to {args.out}")
    return 0


def run_inpaint(args) -> int:
    estimator = _read_model(args.model, allow_pickle=args.allow_pickle)
    if args.png is not None and estimator.image_shape_ is None:
        raise CommandError(f"--png needs a model fitted on images; {args.model} was fitted on "
                           "tabular rows.")
    X = _read_data(args.data, args.key)
    filled = estimator.inpaint(X)
    _write_npy(args.out, filled)
    n_holes = int(np.isnan(np.asarray(X, dtype=float)).sum())
    if n_holes == 0:
        print(f"{PROG}: note: {args.data} has no missing values (NaN); {args.out} is a copy.",
              file=sys.stderr)
    elif _show_progress(args):
        print(f"filled {n_holes} missing values; wrote {args.out}")
    if args.png is not None:
        from .plotting import plot_inpainting

        _save_figure(lambda: plot_inpainting(estimator, X, n=N_SHOWN), args.png)
    return 0


def run_denoise(args) -> int:
    estimator = _read_model(args.model, allow_pickle=args.allow_pickle)
    if args.png is not None and estimator.image_shape_ is None:
        raise CommandError(f"--png needs a model fitted on images; {args.model} was fitted on "
                           "tabular rows.")
    X = _read_data(args.data, args.key)
    denoised = estimator.denoise(X)
    _write_npy(args.out, denoised)
    if _show_progress(args):
        print(f"denoised {len(X)} samples; wrote {args.out}")
    if args.png is not None:
        from .plotting import plot_denoising

        _save_figure(lambda: plot_denoising(estimator, X, n=N_SHOWN), args.png)
    return 0


# ------------------------------------------------------------------ demo
def _demo_data(mnist_dir: Path | None):
    """``(name, (X_train, X_test, y_train, y_test))``, pixels scaled to [0, 1]."""
    if mnist_dir is not None:
        return "MNIST", evaluation.mnist_split(mnist_dir)
    return "digits", evaluation.digits_split()


def _demo_table(estimator, X_train, X_test, y_train, y_test, fit_seconds: float) -> str:
    """Markdown table: the model's features and inpainting against simple baselines."""
    Z_train, Z_test = estimator.transform(X_train), estimator.transform(X_test)
    hidden = evaluation.inpainting_mask(X_test.shape)
    mse = evaluation.hidden_mse(estimator.inpaint(X_test, mask=hidden), X_test, hidden)
    means = np.broadcast_to(X_train.mean(axis=0), X_test.shape)
    raw = "(raw pixels)"
    probe = evaluation.linear_probe
    rows = [
        ("linear-probe accuracy", f"{probe(Z_train, Z_test, y_train, y_test):.3f}",
         f"{probe(X_train, X_test, y_train, y_test):.3f} {raw}"),
        ("KMeans NMI", f"{evaluation.clustering(Z_test, y_test)[0]:.3f}",
         f"{evaluation.clustering(X_test, y_test)[0]:.3f} {raw}"),
        ("inpainting MSE, 50% of pixels hidden", f"{mse:.4f}",
         f"{evaluation.hidden_mse(means, X_test, hidden):.4f} (train pixel means)"),
        ("fit seconds", f"{fit_seconds:.1f}", "-"),
    ]
    lines = ["| metric (test set) | masked autoencoder | baseline |", "|---|---:|---:|"]
    lines += [f"| {metric} | {value} | {baseline} |" for metric, value, baseline in rows]
    return "\n".join(lines)


def _write_demo_figures(estimator, X_test, out: Path) -> None:
    from .plotting import plot_denoising, plot_loss_curve, plot_reconstructions

    rng = np.random.default_rng(0)  # Gaussian noise of std 0.2, clipped to the pixel range
    noisy = np.clip(X_test + rng.normal(0, 0.2, X_test.shape), 0, 1).astype(X_test.dtype)
    try:
        _save_figure(lambda: plot_reconstructions(estimator, X_test, n=N_SHOWN),
                     out / "reconstructions.png")
        _save_figure(lambda: plot_denoising(estimator, noisy, X_test, n=N_SHOWN),
                     out / "denoising.png")
        _save_figure(lambda: plot_loss_curve(estimator), out / "loss_curve.png")
    except CommandError as exc:  # the table is the demo's result; figures are a bonus
        print(f"{PROG}: note: figures skipped: {exc}", file=sys.stderr)
        return
    print(f"wrote {out / 'reconstructions.png'}, {out / 'denoising.png'} and "
          f"{out / 'loss_curve.png'}")


# ------------------------------------------------------------------ helpers
def _estimator_params(args) -> dict:
    """Parameters from ``--set key=value``; ``verbose`` follows the terminal unless set."""
    valid = MaskedAutoencoder().get_params()
    params = {"verbose": int(_show_progress(args))}
    for pair in args.params:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CommandError(f"--set expects KEY=VALUE, e.g. --set max_epochs=5; got {pair!r}")
        if key not in valid:
            raise CommandError(f"unknown parameter {key!r} for --set; MaskedAutoencoder takes "
                               f"{', '.join(sorted(valid))}")
        params[key] = _literal(raw.strip())
    return params


def _literal(raw: str):
    """``"0.6"`` -> 0.6, ``"(28, 28)"`` -> (28, 28), ``"None"`` -> None; else the text."""
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return raw


def _show_progress(args) -> bool:
    return bool(args.verbose) or sys.stdout.isatty()


def _read_data(path: Path, key: str | None) -> np.ndarray:
    try:
        return load_array(path, key=key)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from exc


def _read_model(path: Path, *, allow_pickle: bool) -> _BaseMaskedAutoencoder:
    """The fitted estimator in ``path``: a safe model file, or a pickle if allowed."""
    if not path.is_file():
        raise CommandError(f"model file not found: {path}")
    if persistence.has_safetensors_header(path):
        try:
            return persistence.load(path)
        except ValueError as exc:
            raise CommandError(_one_line(exc)) from exc
    if not allow_pickle:
        raise CommandError(
            f"cannot read model {path}: it is not a safetensors model file as written by "
            f"'{PROG} fit'. If it is a pickle or joblib file, note that unpickling can run "
            "any code the file holds; pass --allow-pickle to load it if you trust the file."
        )
    return _unpickle_model(path)


def _unpickle_model(path: Path) -> _BaseMaskedAutoencoder:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        estimator = joblib.load(path)
    except Exception as exc:  # unpickling a wrong file can fail in any way
        raise CommandError(f"cannot read model {path}: {_one_line(exc)}") from exc
    if not isinstance(estimator, _BaseMaskedAutoencoder):
        raise CommandError(f"{path} holds a {type(estimator).__name__}, not a MaskedAutoencoder "
                           f"saved by '{PROG} fit'.")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise CommandError(f"the model in {path} is not fitted.") from exc
    return estimator


def _prepare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def _write_npy(path: Path, array: np.ndarray) -> None:
    _prepare(path)
    with open(path, "wb") as f:  # np.save(path) would append .npy to other names
        np.save(f, array)


def _save_figure(make_figure, path: Path) -> None:
    """Draw with the file-only Agg backend, save as ``path`` and free the figure."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise CommandError(f"writing {path.name} needs matplotlib; install it with "
                           "pip install 'sklearn-mae[plot]'") from exc
    fig = make_figure()
    try:
        _prepare(path)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return " ".join(str(exc).split()) or type(exc).__name__
