"""scikit-learn's estimator checks over every public estimator, discovered.

Numeric estimators run the full ``parametrize_with_checks`` suite.  Image
estimators take images, not 2-D numeric X, and declare it
(``input_tags.two_d_array = False``), so scikit-learn skips its data checks
for them; the API checks that need no data run here on them too, and the
data-dependent contract (clone, pickle, fit_transform, set_output, input
containers, path vs array) lives in ``test_image_transformer_contract.py``.
"""

import pytest
from sklearn.utils import estimator_checks as ec
from sklearn.utils.estimator_checks import parametrize_with_checks

from ._instances import (
    EXPECTED_FAILED_CHECKS,
    TWO_TARGET,
    all_estimators,
    is_image_estimator,
    make_instance,
)

ESTIMATORS = all_estimators()
NUMERIC = [make_instance(c) for c in ESTIMATORS
           if not is_image_estimator(c) and c.__name__ not in TWO_TARGET]
IMAGE = [make_instance(c) for c in ESTIMATORS if is_image_estimator(c)]
TWO = [make_instance(c) for c in ESTIMATORS if c.__name__ in TWO_TARGET]


def test_discovery_finds_the_public_estimators():
    names = {c.__name__ for c in ESTIMATORS}
    assert {"ColorFeatures", "GISTFeatures", "LBPFeatures", "PooledLayerFeatures",
            "AffectModel"} <= {c.__name__ for c in ESTIMATORS if is_image_estimator(c)}
    # the numeric estimators run the full check suite: an empty list would
    # silently skip it
    assert {type(e).__name__ for e in NUMERIC} == {"FFNNRegressor", "PerTargetSVR", "SkipNaNRows"}
    assert {type(e).__name__ for e in TWO} == {"AffectHead"}
    assert names == {type(e).__name__ for e in NUMERIC + IMAGE + TWO}


@parametrize_with_checks(
    NUMERIC,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


DATA_FREE_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_mixin_order,
    ec.check_parameters_default_constructible,
    ec.check_get_params_invariance,
    ec.check_set_params,
]


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", IMAGE + TWO, ids=lambda e: type(e).__name__)
def test_image_estimator_api_checks(estimator, check):
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", IMAGE, ids=lambda e: type(e).__name__)
def test_image_estimator_tags_are_honest(estimator):
    from sklearn.utils import get_tags

    tags = get_tags(estimator)
    assert not tags.input_tags.two_d_array
    assert tags.input_tags.string  # paths
