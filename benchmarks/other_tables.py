"""Tabular imputation on tables the defaults were not chosen on, all systems in one run.

    python benchmarks/other_tables.py [--no-forest] [--quick]

The imputer's defaults were measured on wine, breast cancer and diabetes
(``inpainting.py``). This run checks them, unchanged, on six other tables: iris; linnerud
(20 rows, its 3 features and 3 targets); a swiss roll and an S curve (800 points, 3
coordinates: nonlinear manifolds); ``make_friedman1`` (500 rows, 8 features and the
target) and ``make_classification`` (600 rows, 20 features, 6 informative and 8
redundant). Each is standardised; 20% and 50% of its entries are hidden completely at
random by ``sklearn_mae.evaluation.missing_mask`` (seed 0); RMSE on the hidden entries of
KNNImputer, IterativeImputer, the MissForest-style imputer and
``MaskedAutoencoderImputer(random_state=0)`` with and without the Gaussian under its mlp
(``module_params={"gaussian": False}``).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import (
    load_iris,
    load_linnerud,
    make_classification,
    make_friedman1,
    make_s_curve,
    make_swiss_roll,
)
from sklearn.preprocessing import StandardScaler
from sklearn_mae import MaskedAutoencoderImputer
from sklearn_mae.evaluation import missing_mask

from common import add_common_args, markdown_table, print_row, write_results
from inpainting import (
    FOREST,
    OURS,
    add_table_args,
    hidden_mse,
    set_up_tables,
    tabular_systems,
    with_nan,
)

NO_GAUSSIAN = "ours, no Gaussian"


def tables(quick: bool) -> dict[str, np.ndarray]:
    """name -> table (not yet standardised)."""
    linnerud = load_linnerud()
    friedman, target = make_friedman1(n_samples=500, n_features=8, random_state=0)
    out = {
        "iris": load_iris().data,
        "linnerud": np.hstack([linnerud.data, linnerud.target]),
        "swiss roll": make_swiss_roll(800, noise=0.1, random_state=0)[0],
        "s curve": make_s_curve(800, noise=0.1, random_state=0)[0],
        "friedman1 (+y)": np.hstack([friedman, target[:, None]]),
        "classification": make_classification(
            600, 20, n_informative=6, n_redundant=8, random_state=0)[0],
    }
    return dict(list(out.items())[:2]) if quick else out


def rows(args) -> list[dict]:
    systems = tabular_systems(args)
    del systems["SimpleImputer(mean)"]
    systems[NO_GAUSSIAN] = lambda: MaskedAutoencoderImputer(
        random_state=0, module_params={"gaussian": False},
        **({"max_epochs": 2} if args.quick else {}))
    baselines = [n for n in systems if n not in (OURS, NO_GAUSSIAN)]
    out = []
    for name, table in tables(args.quick).items():
        X = StandardScaler().fit_transform(table)
        for rate in (0.2, 0.5):
            hidden = missing_mask(X, rate, "mcar", seed=0)
            row = {"table": f"{name} {rate:.0%}"}
            for system, make in systems.items():
                filled = make().fit_transform(with_nan(X, hidden))
                row[system] = float(np.sqrt(hidden_mse(filled, X, hidden)))
            row["ours / best"] = row[OURS] / min(row[n] for n in baselines)
            out.append(row)
            print_row(row)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_args(parser)
    add_table_args(parser)
    args = parser.parse_args(argv)
    set_up_tables(args)
    found = rows(args)
    names = [k for k in found[0] if k not in ("table", "ours / best")]
    wins = sum(r["ours / best"] <= 1 for r in found)
    command = "python benchmarks/other_tables.py" + (" --no-forest" if args.no_forest else "")
    text = (
        "### Tabular imputation on tables the defaults were not chosen on"
        + (" (quick)" if args.quick else "") + "\n\n"
        + f"`{command}`; MCAR, RMSE on the hidden entries (standardised units); "
        + f"{FOREST} as in `inpainting.py`. At or below the best baseline in {wins} of "
        + f"{len(found)}.\n\n"
        + markdown_table(found, [("table", "table, MCAR", "s"),
                                 *[(n, n, ".3f") for n in names],
                                 ("ours / best", "ours / best baseline", ".3f")])
    )
    print("\n" + text)
    write_results(args.out, "other-tables" + ("-quick" if args.quick else ""), text,
                  {"rows": found})


if __name__ == "__main__":
    main()
