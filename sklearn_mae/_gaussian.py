"""A multivariate Gaussian of the scaled table, fitted with missing entries, and the
conditional mean of hidden entries given the visible ones.

Tables are often close to jointly Gaussian (breast cancer's radius, perimeter and area).
For those, the best prediction of a hidden entry is linear in the visible ones, with
coefficients that depend on *which* entries are visible: ``mu_h + S_hv S_vv^-1 (x_v -
mu_v)``. A network that sees a zero-filled row and a mask must learn that pattern-dependent
map from a few hundred steps; the expectation-maximisation fit below gets it from the data
directly, as the EM algorithm of Dempster, Laird and Rubin (1977) for normal data with
missing values. The mlp reads this conditional mean instead of zeros, and blends it with its
own prediction (``MLPAutoencoder``).

Every row may hide a different set of entries, so the conditional is computed for a batch
at once through one linear system per row, in the precision ``L = S^-1``: with ``Q =
diag(hidden)``, ``M = Q L Q + I - Q`` has ``M^-1 = L_hh^-1`` on the hidden block (the
conditional covariance, by the Schur complement) and the identity elsewhere, and the
conditional mean is ``mu_h - L_hh^-1 L_hv (x_v - mu_v)``. One Cholesky factor of ``M`` gives
both; that is ``O(d^3)`` per row, so it is used for tables of up to :data:`MAX_FEATURES`
columns.
"""

from __future__ import annotations

import torch

MAX_FEATURES = 64  # columns; above this the mlp reads zero-filled rows as before
EM_ITERATIONS = 30  # at most
EM_TOL = 1e-3  # largest change of a covariance entry (of unit variances) to stop at
RIDGE = 1e-2  # added to the covariance's diagonal (the table is standardised)
_CHUNK = 512  # rows per batched solve in the fit


def precision(cov: torch.Tensor) -> torch.Tensor:
    """``S^-1`` of a covariance (symmetric positive definite: it holds the ridge), without
    ``cholesky``'s check, which would wait for the device."""
    return torch.cholesky_inverse(torch.linalg.cholesky_ex(cov)[0])


def _conditional(x: torch.Tensor, visible: torch.Tensor, mean: torch.Tensor,
                 prec: torch.Tensor, covariance: bool = False):
    """``(filled, hidden_cov)``: rows ``x`` with hidden entries set to their conditional
    mean given the visible ones under ``N(mean, prec^-1)``, and (``covariance=True``) each
    row's conditional covariance of its hidden entries, zero elsewhere (else None).

    ``M`` is symmetric positive definite, so it is solved through its Cholesky factor;
    ``cholesky_ex`` without its check, which would read a flag back from the device every
    training step. For the covariance, inverting ``M`` through the factor took EM's step
    1.6x faster than solving ``P S P + I - P`` for ``S P`` (breast cancer, 512 rows)."""
    hidden = (~visible).to(x.dtype)
    centred = torch.where(visible, x - mean, torch.zeros((), dtype=x.dtype, device=x.device))
    outside = torch.diag_embed(1 - hidden)  # I - Q
    factor = torch.linalg.cholesky_ex(hidden[:, :, None] * prec * hidden[:, None, :] + outside)[0]
    pull = (hidden * (centred @ prec))[:, :, None]  # L_hv (x_v - mu_v), on the hidden rows
    if not covariance:
        shift = torch.cholesky_solve(pull, factor)[:, :, 0]
        return torch.where(visible, x, mean - shift), None
    inverse = torch.cholesky_inverse(factor)
    shift = (inverse @ pull)[:, :, 0]
    return torch.where(visible, x, mean - shift), inverse - outside


def conditional_mean(x: torch.Tensor, visible: torch.Tensor, mean: torch.Tensor,
                     cov: torch.Tensor) -> torch.Tensor:
    """Rows ``x`` ``(n, d)`` with every hidden entry replaced by its conditional mean given
    the row's ``visible`` entries (left as they are), under ``N(mean, cov)``."""
    return _conditional(x, visible.expand_as(x), mean, precision(cov))[0]


def fit_gaussian(x: torch.Tensor, n_iter: int = EM_ITERATIONS, ridge: float = RIDGE,
                 tol: float = EM_TOL) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, cov)`` of rows ``x`` ``(n, d)`` with NaN for missing entries, by EM.

    Starts from the observed means and the covariance of mean-filled rows. Each iteration
    fills every row with its conditional mean and adds the conditional covariance of its
    missing entries to the scatter, until no entry of the covariance moves by ``tol`` or
    more (or ``n_iter`` iterations). ``ridge`` on the diagonal keeps every ``S_vv``
    invertible. Computed in float32, as the network is: with the ridge on a standardised
    table the condition number stays below ``1 + MAX_FEATURES / ridge``, well inside float32,
    and at 30 columns each iteration is a third cheaper than in float64.
    """
    x = x.to(torch.float32)
    observed = ~torch.isnan(x)
    n, d = x.shape
    mean = torch.where(observed, x, 0.0).sum(0) / observed.sum(0).clamp_min(1)
    filled = torch.where(observed, x, mean)
    eye = torch.eye(d, dtype=x.dtype)
    cov = torch.cov(filled.T, correction=0).reshape(d, d) + ridge * eye
    if bool(observed.all()):
        return mean, cov
    for _ in range(n_iter):
        scatter = torch.zeros(d, d, dtype=x.dtype)
        prec = precision(cov)
        for start in range(0, n, _CHUNK):
            rows, seen = x[start:start + _CHUNK], observed[start:start + _CHUNK]
            filled[start:start + _CHUNK], hidden_cov = _conditional(
                rows, seen, mean, prec, covariance=True)
            scatter += hidden_cov.sum(0)
        mean = filled.mean(0)
        centred = filled - mean
        previous, cov = cov, (centred.T @ centred + scatter) / n + ridge * eye
        if float((cov - previous).abs().max()) < tol:
            break
    return mean, cov
