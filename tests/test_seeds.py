"""The seed study (chapter "One run or many?"): seed 0 against the OTHER seeds, intervals over seeds."""
import numpy as np
import pytest
from scipy import stats

import condense_lib as cl


def _spread(aligned):
    aligned = np.asarray(aligned, dtype=float)
    return cl.SeedSpread("fast", tuple(f"f{k}" for k in range(len(aligned))), np.arange(aligned.shape[1]),
                         np.full(len(aligned), 10), aligned, 1 + 0 * aligned)


def test_prediction_interval_against_the_student_t_formula():
    x = np.array([0.81, 0.9, 0.86, 0.95, 0.78, 0.88, 0.92])
    n, m, s = x.size, x.mean(), x.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * s * np.sqrt(1 + 1 / n)
    ci = cl.prediction_interval(x)
    assert (ci.estimate, ci.low, ci.high, ci.n) == pytest.approx((m, m - half, m + half, n))
    # wider than the mean's interval by sqrt(n + 1) exactly
    mi = cl.mean_interval(x)
    assert ci.half_width / mi.half_width == pytest.approx(np.sqrt(n + 1))


def test_seed_zero_is_left_out_of_its_own_reference():
    others = [0.9, 0.88, 0.92, 0.91, 0.89, 0.9, 0.9]
    spread = _spread([[0.5, *others], [0.9, *others]])
    refs = spread.reference()
    for r in refs:  # the reference is that of seeds 1..7 only
        assert r.n == 7 and r.estimate == pytest.approx(np.mean(others))
    # seed 0 = 0.5 is far outside the others' prediction interval, yet within 7/sqrt(8) std of a mean that contains it
    assert spread.typical().tolist() == [False, True]
    assert spread.inside(k=7 / np.sqrt(8)).tolist() == [True, True]
    # with seed 0 in the mean, |z| <= (S - 1)/sqrt(S) = 7/sqrt(8) ~ 2.47 for any seed 0 at all
    z = abs(spread.aligned[0, 0] - spread.mean()[0]) / spread.std()[0]
    assert z <= 7 / np.sqrt(8) + 1e-12
    # the mean over all seeds with its Student-t interval
    ci = spread.interval()[1]
    x = spread.aligned[1]
    assert (ci.estimate, ci.high - ci.estimate) == pytest.approx(
        (x.mean(), stats.t.ppf(0.975, 7) * x.std(ddof=1) / np.sqrt(8)))
    assert spread.typical("directions").all()  # no spread among the others: seed 0 equals their mean


def test_seed_errorbars_draws_the_intervals():
    import matplotlib

    matplotlib.use("Agg")
    spread = _spread([[0.9, 0.8, 1.0, 0.9], [0.5, 0.9, 0.9, 0.9]])
    ax = cl.seed_errorbars(spread)
    labels = ax.get_legend_handles_labels()[1]
    assert "mean, 95% interval" in labels and any("prediction" in label for label in labels)
    assert ax.figure.get_figwidth() <= 8
