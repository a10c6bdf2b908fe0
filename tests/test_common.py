"""scikit-learn's estimator checks on small, fast instances of every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_mae import MaskedAutoencoder, MaskedAutoencoderImputer

FAST = dict(latent_dim=4, width=2, max_epochs=2, batch_size=16, random_state=0)

FLOAT32_BATCHING = (
    "the network computes in float32 and BLAS picks different kernels for different batch "
    "sizes, so a row's output may differ in the last bit (~1e-7 relative) between a subset "
    "and the full batch; the check demands 1e-7"
)

EXPECTED_FAILED_CHECKS = {
    "check_methods_subset_invariance": FLOAT32_BATCHING,
    # rows at the edge of BLAS's blocks take another kernel: the mlp's outputs of permuted
    # rows differ by up to ~5e-7 (float32 rounding), where the check demands 1e-7
    "check_methods_sample_order_invariance": FLOAT32_BATCHING,
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(
    [MaskedAutoencoder(**FAST), MaskedAutoencoderImputer(**FAST)],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
