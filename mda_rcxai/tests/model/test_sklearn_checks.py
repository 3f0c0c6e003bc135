"""scikit-learn's estimator checks on the three committor estimators.

``CommittorModel``, ``CommittorModelCV`` and ``CommittorEnsemble`` store
their parameters in ``__init__`` and do nothing else, so ``get_params``,
``set_params``, ``clone`` and ``repr`` behave as scikit-learn requires, and
using one before ``fit`` raises scikit-learn's ``NotFittedError``. The checks
listed by :func:`not_applicable` do not apply, each for the reason given; the
xfail is strict, so a check on the list that starts to pass fails here and
must come off it.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from mda_rcxai.model import CommittorEnsemble, CommittorModel, CommittorModelCV

# tiny nets and one short L-BFGS block: the checks that run fit stay fast
TINY = dict(hidden_layers=(2,), max_epochs=1)

#: Checks that fit with one target array ``fit(X, y)``: the target here is two
#: arrays of shot counts, ``fit(X, n_A, n_B)`` (or ``p_B=``), so ``y`` lands in
#: ``n_A`` and ``fit`` asks for ``n_B``.
ONE_Y = "fits with one target y; the target is shot counts fit(X, n_A, n_B), not a label"
FIT_WITH_Y = (
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimators_dtypes", "check_estimators_fit_returns_self",
    "check_estimators_nan_inf", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_n_features_in", "check_n_features_in_after_fitting", "check_pipeline_consistency",
    "check_readonly_memmap_input", "check_positive_only_tag_during_fit",
)
SAMPLE_WEIGHT_WITH_Y = (
    "check_sample_weights_list", "check_sample_weights_not_an_array",
    "check_sample_weights_not_overwritten", "check_sample_weights_shape",
    "check_sample_weights_pandas_series", "check_sample_weight_equivalence_on_dense_data",
    "check_all_zero_sample_weights_error",
)
#: Checks that match scikit-learn's own wording of an input error; ours name the
#: argument in this package's words (configurations, not samples).
OWN_WORDS = {
    "check_fit2d_1sample": "one configuration is refused in our words, not 'n_samples=1'",
    "check_fit2d_1feature": "fits with one target y (see ONE_Y) before X's single column counts",
    "check_estimators_empty_data_messages": "empty X is refused in our words, not check_array's",
    "check_complex_data": "complex X is refused as a non-real array in our words",
    "check_estimator_sparse_tag": "sparse X is refused (dense features only) in our words",
    "check_estimator_sparse_matrix": "sparse X is refused (dense features only) in our words",
    "check_estimator_sparse_array": "sparse X is refused (dense features only) in our words",
}


def not_applicable(estimator):
    """``{check name: reason}`` of the checks that do not apply to ``estimator``."""
    out = {name: ONE_Y for name in FIT_WITH_Y}
    out.update(OWN_WORDS)
    if isinstance(estimator, CommittorModel):  # the only one whose fit takes sample_weight
        out.update({name: ONE_Y + " (with sample_weight)" for name in SAMPLE_WEIGHT_WITH_Y})
    return out



@parametrize_with_checks(
    [CommittorModel(seed=0, **TINY),
     CommittorModelCV(param_grid={"weight_decay": [1e-2]}, cv=2, **TINY),
     CommittorEnsemble(n_models=2, **TINY)],
    expected_failed_checks=not_applicable, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [CommittorModel, CommittorModelCV, CommittorEnsemble])
def test_the_checks_that_apply_are_the_parameter_and_unfitted_ones(cls):
    """The checks left after the list: what the issue asks these estimators to pass."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(cls(**TINY), expected_failed_checks=not_applicable(cls(**TINY)),
                              on_fail=None, on_skip=None)
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    for name in ("check_no_attributes_set_in_init",
                 "check_do_not_raise_errors_in_init_or_set_params", "check_estimator_cloneable",
                 "check_get_params_invariance", "check_set_params",
                 "check_parameters_default_constructible", "check_estimators_unfitted",
                 "check_estimator_repr"):
        assert name in passed, name
