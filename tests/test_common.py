"""scikit-learn's estimator checks on small, fast instances."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mae import MaskedAutoencoder

FAST = dict(latent_dim=4, width=2, max_epochs=2, batch_size=16, random_state=0)

EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [MaskedAutoencoder(**FAST)], expected_failed_checks=expected_failed_checks
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
