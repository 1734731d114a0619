"""Adaptation's strategies and their selection against answers computed another way.

Each strategy of :mod:`sklearn_emotion._adapt` alone against a formula
written out or scikit-learn's ``Ridge`` (``refit``: a weighted ridge refitted
on the training images plus the new ones, with a Gram matrix whose tail is
*not* zero), and ``cv_select`` on planted cases whose answer is known.
"""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from sklearn_emotion._adapt import (
    context,
    cv_select,
    fit_strategy,
    gram_summary,
    predict_strategy,
)


def _ctx(k=40, p=5, seed=0, spread=1.5):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(k, p))
    base = np.c_[5 + spread * rng.normal(size=k), 4.5 + 0.8 * rng.normal(size=k)]
    return context(Z, base), rng


def test_keep_and_shift_by_hand():
    ctx, rng = _ctx()
    y = ctx["base"][:, 1] + 0.7 + 0.1 * rng.normal(size=40)
    np.testing.assert_array_equal(predict_strategy("keep", fit_strategy("keep", ctx, y, 1), ctx, 1),
                                  ctx["base"][:, 1])
    p = fit_strategy("shift", ctx, y, 1)
    shift = sum(y[i] - ctx["base"][i, 1] for i in range(40)) / 40
    assert float(p["intercept"]) == pytest.approx(shift, rel=1e-12)
    np.testing.assert_allclose(predict_strategy("shift", p, ctx, 1), ctx["base"][:, 1] + shift)


def test_scale_is_least_squares_with_its_slope_clamped_at_zero():
    ctx, rng = _ctx(seed=1)
    b = ctx["base"][:, 0]
    # raters who agree with the model's ranking on another scale: ordinary least squares
    y = 2.0 + 0.6 * b + 0.2 * rng.normal(size=40)
    slope, intercept = np.polyfit(b, y, 1)
    p = fit_strategy("scale", ctx, y, 0)
    assert float(p["slope"]) == pytest.approx(slope, rel=1e-10)
    assert float(p["intercept"]) == pytest.approx(intercept, rel=1e-10)
    # raters who reverse the scale: the unconstrained slope is negative, so the
    # best slope >= 0 is 0 (the squared error is convex in it), the mean rating
    y_rev = 10.0 - b + 0.2 * rng.normal(size=40)
    assert np.polyfit(b, y_rev, 1)[0] < -0.5
    p = fit_strategy("scale", ctx, y_rev, 0)
    assert float(p["slope"]) == 0.0
    np.testing.assert_allclose(predict_strategy("scale", p, ctx, 0), np.full(40, y_rev.mean()))


def _loo_ridge(X, y, alphas):
    """Ridge with its penalty by leave-one-out, brute force: each alpha's
    squared error over n fits without one image each; the smallest wins."""
    err = []
    for a in alphas:
        e = 0.0
        for i in range(len(y)):
            m = np.ones(len(y), bool)
            m[i] = False
            e += (Ridge(alpha=a).fit(X[m], y[m]).predict(X[i:i + 1])[0] - y[i]) ** 2
        err.append(e)
    best = alphas[int(np.argmin(err))]
    return Ridge(alpha=best).fit(X, y)


def test_outputs_is_a_leave_one_out_ridge_on_the_standardised_outputs():
    ctx, rng = _ctx(k=25, seed=2)
    O = ctx["outputs"]
    # another set's valence is partly this model's arousal
    y = 3 + 0.5 * O[:, 0] + 0.8 * O[:, 1] + 0.3 * rng.normal(size=25)
    Zo = (O - O.mean(axis=0)) / O.std(axis=0)
    ref = _loo_ridge(Zo, y, [float(a) for a in np.logspace(-3, 4, 15)])
    p = fit_strategy("outputs", ctx, y, 0)
    np.testing.assert_allclose(p["coef"], ref.coef_, rtol=1e-7, atol=1e-9)
    assert float(p["intercept"]) == pytest.approx(ref.intercept_, rel=1e-9)
    np.testing.assert_allclose(predict_strategy("outputs", p, ctx, 0), ref.predict(Zo), rtol=1e-9)


def test_shrunk_is_a_leave_one_out_ridge_correction_of_the_residuals():
    ctx, rng = _ctx(k=25, p=4, seed=3)
    y = ctx["base"][:, 1] + 0.9 * ctx["Z"][:, 2] + 0.2 * rng.normal(size=25)
    resid = y - ctx["base"][:, 1]
    ref = _loo_ridge(ctx["Z"], resid, [float(a) for a in np.logspace(0, 7, 15)])
    p = fit_strategy("shrunk", ctx, y, 1)
    np.testing.assert_allclose(p["coef"], ref.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(predict_strategy("shrunk", p, ctx, 1),
                               ctx["base"][:, 1] + ref.predict(ctx["Z"]), rtol=1e-9)


def _training_set_with_a_flat_tail(n=60, p=9, m=4, tail=2.5, seed=4):
    """Centred training features whose Gram matrix has m distinct leading
    eigenvalues and a tail of p - m equal, non-zero ones: the summary that
    keeps m eigenpairs and the tail's mean is then exact."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(n, p)))
    U -= U.mean(axis=0)  # columns orthogonal to the ones vector: Z is centred
    U, _ = np.linalg.qr(U)
    V, _ = np.linalg.qr(rng.normal(size=(p, p)))
    s = np.r_[[12.0, 9.0, 6.0, 4.0][:m], np.full(p - m, tail)]
    return (U * s) @ V.T, s ** 2


def test_gram_summary_by_hand():
    Z, eig = _training_set_with_a_flat_tail()
    basis, lam, rest = gram_summary(Z, 4)
    np.testing.assert_allclose(lam, eig[:4], rtol=1e-10)
    assert rest == pytest.approx(2.5 ** 2, rel=1e-10)
    G = Z.T @ Z
    np.testing.assert_allclose(G @ basis, basis * lam, atol=1e-9)


@pytest.mark.parametrize("weight", [0.25, 2.0])
def test_refit_equals_a_weighted_ridge_on_training_and_new_images(weight):
    """``refit`` moves the head exactly as refitting the ridge on the training
    images plus the k new ones, weighted ``weight * n / k`` each, would;
    the stored summary keeps 4 of 9 eigenpairs, the rest is a tail of
    equal eigenvalues that the summary must not drop."""
    Z, _ = _training_set_with_a_flat_tail()
    n, k = len(Z), 12
    rng = np.random.default_rng(5)
    alpha = np.array([3.0, 7.0])
    Y = np.c_[Z @ rng.normal(size=9) + 5, Z @ rng.normal(size=9) + 4] + rng.normal(size=(n, 2))
    heads = [Ridge(alpha=alpha[j]).fit(Z, Y[:, j]) for j in range(2)]
    Zk = rng.normal(size=(k, 9)) * 1.5
    base = np.column_stack([h.predict(Zk) for h in heads])
    ctx = context(Zk, base)
    yk = base + np.c_[1.0 + Zk[:, 5], -0.5 + 0.7 * Zk[:, 8]]  # new raters differ in the tail
    basis, lam, rest = gram_summary(Z, 4)
    prior = {"basis": basis, "eigvals": lam, "rest": rest, "alpha": alpha, "n_train": n}
    c = weight * n / k
    for j in range(2):
        ref = Ridge(alpha=alpha[j]).fit(np.vstack([Z, Zk]), np.r_[Y[:, j], yk[:, j]],
                                        sample_weight=np.r_[np.ones(n), np.full(k, c)])
        p = fit_strategy("refit", ctx, yk[:, j], j, prior, weight)
        np.testing.assert_allclose(p["coef"], ref.coef_ - heads[j].coef_, rtol=1e-8, atol=1e-10)
        assert float(p["intercept"]) == pytest.approx(ref.intercept_ - heads[j].intercept_,
                                                      abs=1e-10)
        np.testing.assert_allclose(predict_strategy("refit", p, ctx, j), ref.predict(Zk),
                                   rtol=1e-9)


def test_cv_select_keeps_the_model_for_ratings_that_carry_nothing():
    ctx, rng = _ctx(k=40, seed=6)
    Y = rng.uniform(1, 9, size=(40, 2))
    out = cv_select(ctx, Y, strategies=("keep", "shift", "scale", "outputs", "shrunk"))
    assert [t["strategy"] for t in out] == ["keep", "keep"]


def test_cv_select_finds_planted_strategies_and_its_mses_by_hand():
    """Valence rated on a stretched scale (only ``scale`` recovers it),
    arousal one point higher (``shift`` is the best of keep and shift); the
    out-of-fold MSEs of ``keep`` and ``shift`` recomputed by hand on the
    returned folds."""
    ctx, rng = _ctx(k=40, seed=7)
    b = ctx["base"]
    Y = np.c_[np.clip(-5 + 2.0 * b[:, 0], 1, 9) + 0.05 * rng.normal(size=40),
              b[:, 1] + 1.0 + 0.3 * rng.normal(size=40)]
    vs = cv_select(ctx, Y, strategies=("keep", "shift", "scale"), n_repeats=1)[0]
    assert vs["strategy"] == "scale"
    ar = cv_select(ctx, Y, strategies=("keep", "shift"), n_repeats=1, cv=4)[1]
    assert ar["strategy"] == "shift"
    fold_of = ar["fold_of"]
    # the folds are KFold(4, shuffle) splits: every image held out once, sizes 10
    assert sorted(np.bincount(fold_of)) == [10, 10, 10, 10]
    keep = np.mean((np.clip(b[:, 1], 1, 9) - Y[:, 1]) ** 2)
    assert ar["cv_mse"]["keep"] == pytest.approx(keep, rel=1e-12)
    oof = np.empty(40)
    for f in range(4):
        held = fold_of == f
        oof[held] = b[held, 1] + np.mean(Y[~held, 1] - b[~held, 1])
    assert ar["cv_mse"]["shift"] == pytest.approx(np.mean((np.clip(oof, 1, 9) - Y[:, 1]) ** 2),
                                                  rel=1e-12)
    np.testing.assert_allclose(ar["residuals"], np.abs(Y[:, 1] - oof), rtol=1e-12)
    assert ar["cv_mse"]["shift"] < keep
    # the fitted strategy is the one on all k images
    assert float(ar["params"]["intercept"]) == pytest.approx(np.mean(Y[:, 1] - b[:, 1]))


def test_cv_select_folds_are_kfold_splits():
    ctx, rng = _ctx(k=23, seed=8)
    Y = ctx["base"] + 1
    out = cv_select(ctx, Y, strategies=("keep", "shift"), cv=5, n_repeats=1, random_state=3)
    fold_of = out[0]["fold_of"]
    seed = np.random.RandomState(3).randint(2 ** 31 - 1)
    for f, (_, te) in enumerate(KFold(5, shuffle=True, random_state=seed).split(Y)):
        np.testing.assert_array_equal(fold_of[te], f)


def test_adapt_merges_repeated_images_and_refuses_ratings_off_the_scale():
    """An image rated twice counts once, with its ratings averaged (by hand);
    ratings outside 1-9 are refused; above max_images a subsample is used."""
    import warnings

    from sklearn_emotion import AffectModel

    rng = np.random.default_rng(0)
    F = rng.normal(size=(120, 6))
    y = np.c_[5 + F[:, 0], 5 + 0.5 * F[:, 1]] + 0.2 * rng.normal(size=(120, 2))
    model = AffectModel(cv=5)._fit_features(None, F, np.clip(y, 1, 9))
    Fk = rng.normal(size=(20, 6))
    yk = np.clip(np.c_[6 + Fk[:, 0], 4 + 0.5 * Fk[:, 1]], 1, 9)
    twice = np.vstack([Fk, Fk[:5]])
    yk2 = np.vstack([yk, np.clip(yk[:5] + 1.0, 1, 9)])
    with pytest.warns(UserWarning, match=r"5 image\(s\) rated more than once \(25 rows for 20"):
        merged = model._adapt_features(twice, yk2, strategies=("keep", "shift"))
    by_hand = yk.copy()
    by_hand[:5] = (yk[:5] + yk2[20:]) / 2
    direct = model._adapt_features(Fk, by_hand, strategies=("keep", "shift"))
    for a, b in zip(merged.adaptation_["targets"], direct.adaptation_["targets"]):
        assert a["strategy"] == b["strategy"]
        np.testing.assert_allclose(a["residuals"], b["residuals"])
    with pytest.raises(ValueError, match=r"1 rating\(s\) outside the 1-9 scale"):
        model._adapt_features(Fk, np.where(np.arange(20)[:, None] == 3, 9.5, yk))
    with pytest.warns(UserWarning, match="adaptation uses a random 12 of them"):
        sub = model._adapt_features(Fk, yk, strategies=("keep", "shift"), max_images=12)
    assert sub.adaptation_["n_images"] == 12
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model._adapt_features(Fk, yk, strategies=("keep", "shift"))  # nothing to say


def test_gram_summary_centres_its_input_and_keeps_a_one_dimensional_tail():
    """The summary is of the centred Gram matrix (an offset changes nothing),
    and with one direction left out, its eigenvalue is the tail."""
    Z, eig = _training_set_with_a_flat_tail(p=5, m=4)
    shifted = Z + np.array([3.0, -2.0, 5.0, 0.5, 1.0])
    b1, l1, r1 = gram_summary(Z, 4)
    b2, l2, r2 = gram_summary(shifted, 4)
    np.testing.assert_allclose(l2, eig[:4], rtol=1e-9)
    assert r2 == pytest.approx(eig[4], rel=1e-9) and r1 == pytest.approx(eig[4], rel=1e-9)
    np.testing.assert_allclose(np.abs(b1.T @ b2), np.eye(4), atol=1e-8)


def test_outputs_ignores_a_constant_output():
    """A constant output (an emotion the model never varies) carries nothing:
    its column standardises to zeros, the rest is the ridge by hand."""
    ctx, rng = _ctx(k=25, seed=9)
    emotions = np.c_[rng.dirichlet(np.ones(3), size=25), np.full(25, 0.2)]
    ctx = context(ctx["Z"], ctx["base"], emotions)
    y = 3 + 0.6 * ctx["base"][:, 0] + 0.3 * rng.normal(size=25)
    p = fit_strategy("outputs", ctx, y, 0)
    O = ctx["outputs"][:, :-1]
    ref = _loo_ridge((O - O.mean(axis=0)) / O.std(axis=0), y,
                     [float(a) for a in np.logspace(-3, 4, 15)])
    pred = predict_strategy("outputs", p, ctx, 0)
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred, ref.predict((O - O.mean(axis=0)) / O.std(axis=0)),
                               rtol=1e-7)


def test_cv_r_is_pearsons_r_of_the_out_of_fold_predictions():
    """'keep' predicts the model's own outputs in every fold: its cv_r is
    Pearson's r of those and the ratings (here with spreads far below 1);
    a constant prediction has no correlation, 0."""
    ctx, rng = _ctx(k=30, seed=10, spread=0.01)
    base = ctx["base"].copy()
    base[:, 1] = 5.0  # the model says the same arousal for every image
    ctx = context(ctx["Z"], base)
    Y = np.c_[base[:, 0] + 0.004 * rng.normal(size=30), 5 + 0.01 * rng.normal(size=30)]
    out = cv_select(ctx, Y, strategies=("keep", "shift"), n_repeats=1)
    assert out[0]["cv_r"]["keep"] == pytest.approx(np.corrcoef(base[:, 0], Y[:, 0])[0, 1],
                                                   rel=1e-9)
    assert out[1]["cv_r"]["keep"] == 0.0


@pytest.mark.parametrize("n", [3, 4, 7, 30])
def test_the_significance_test_is_pearsons_one_sided_p_value(n):
    from scipy.stats import pearsonr

    from sklearn_emotion._adapt import _p_positive

    rng = np.random.default_rng(n)
    for _ in range(5):
        x, y = rng.normal(size=n), rng.normal(size=n)
        r = np.corrcoef(x, y)[0, 1]
        assert _p_positive(r, n) == pytest.approx(
            pearsonr(x, y, alternative="greater").pvalue, rel=1e-6)
    assert _p_positive(-1.0, 10) == pytest.approx(1.0)
    assert _p_positive(1.0, 10) == pytest.approx(0.0, abs=1e-12)
    assert _p_positive(0.9, 2) == 1.0  # two points: nothing can be shown


def test_cv_select_offers_refit_only_with_a_training_summary():
    Z, _ = _training_set_with_a_flat_tail()
    ctx, rng = _ctx(k=12, p=9, seed=11)
    Y = ctx["base"] + 0.5
    out = cv_select(ctx, Y, strategies=("keep", "shift", "refit"), prior=None)
    assert "refit" not in out[0]["cv_mse"] and "shift" in out[0]["cv_mse"]
    basis, lam, rest = gram_summary(Z, 4)
    prior = {"basis": basis, "eigvals": lam, "rest": rest, "alpha": np.array([1.0, 1.0]),
             "n_train": len(Z)}
    out = cv_select(ctx, Y, strategies=("keep", "shift", "refit"), prior=prior)
    assert "refit" in out[0]["cv_mse"]


def test_cv_select_needs_two_images_and_uses_as_many_folds_as_it_has():
    ctx, _ = _ctx(k=2, seed=12)
    out = cv_select(ctx, ctx["base"] + 1, strategies=("keep", "shift"), cv=5, n_repeats=1)
    assert sorted(out[0]["fold_of"]) == [0, 1]
    ctx1, _ = _ctx(k=1, seed=12)
    with pytest.raises(ValueError, match="at least 2 rated images, got 1"):
        cv_select(ctx1, ctx1["base"], strategies=("keep", "shift"))


def test_cv_scores_average_over_the_repeated_shufflings():
    """With three shufflings (the default), 'keep' predicts the same in every
    one: its cv_mse and cv_r are those of the model's own outputs, clipped
    to 1-9 for the MSE (here the model says more than 9 for some images)."""
    ctx, rng = _ctx(k=30, seed=13)
    base = ctx["base"].copy()
    base[:5, 0] = 9.8  # beyond the scale: scored as 9
    ctx = context(ctx["Z"], base)
    Y = np.clip(base + 0.4 * rng.normal(size=(30, 2)), 1, 9)
    out = cv_select(ctx, Y, strategies=("keep", "shift"))  # n_repeats=3
    for j in range(2):
        mse = np.mean((np.clip(base[:, j], 1, 9) - Y[:, j]) ** 2)
        assert out[j]["cv_mse"]["keep"] == pytest.approx(mse, rel=1e-12)
        assert out[j]["cv_r"]["keep"] == pytest.approx(np.corrcoef(base[:, j], Y[:, j])[0, 1],
                                                       rel=1e-9)
