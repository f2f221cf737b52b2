"""The phase diagram's predicted exponents and its slopes with their intervals (condense_lib.studies.regimes)."""
import numpy as np
import pytest
from scipy import stats

import condense_lib as cl


def test_change_exponent_is_the_output_estimate_on_each_side_of_gamma_eps_1():
    g = np.array([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5])
    # by hand: r ~ max(1, sqrt(M) eps^2) / (M eps^2) on the lazy side, (M eps^2)^(-1/2) on the condensed
    by_hand = [-0.5, -0.5, -0.25, 0.0, 0.125, 0.25, 0.5, 0.75]
    assert np.allclose(cl.change_exponent(g), by_hand)
    # the two sides meet at the critical line gamma_eps = 1: the exponent is continuous there
    assert np.isclose(cl.change_exponent(1 - 1e-9), 0, atol=1e-8) and np.isclose(cl.change_exponent(1 + 1e-9), 0,
                                                                                 atol=1e-8)


def _synthetic(exponents, widths, seeds, noise, rng):
    """A Regimes whose relative change at the stop is M^exponent times log-normal noise."""
    G, K, S, T = len(exponents), len(widths), seeds, 3
    widths = np.asarray(widths)
    r = widths[None, :, None] ** np.asarray(exponents)[:, None, None] * np.exp(noise * rng.standard_normal((G, K, S)))
    change = np.zeros((G, K, S, T))
    change[..., 1] = r
    change[..., 2] = 10 * r
    align = np.full((G, K, S, T), 0.3)
    align[..., 1] = 0.3 + 0.1 * np.log(widths)[None, :, None]
    stop = np.ones((G, K, S), dtype=np.int64)
    z = np.zeros((G, K))
    return cl.Regimes(scale="fast", gammas_eps=np.asarray(exponents, float), widths=widths, seeds=np.arange(S), eps=z,
                      reference="start", level=0.5, lr=z, loss=np.ones((G, K, S, T)), change=change, align=align,
                      lambda_t=np.zeros((G, K, S, T)), stop=stop, aligned=np.zeros((G, K, S)))


def test_slope_intervals_equal_scipys_regression_over_every_run():
    rng = np.random.default_rng(0)
    widths = [16, 64, 256]
    d = _synthetic([-0.5, 0.0, 0.5], widths, 8, 0.1, rng)
    intervals = d.slope_intervals("change")
    for i, ci in enumerate(intervals):
        x = np.log(np.repeat(widths, 8))
        y = np.log(d.change[i, :, :, 1].ravel())
        fit = stats.linregress(x, y)
        half = stats.t.ppf(0.975, x.size - 2) * fit.stderr
        assert ci.n == 24 and np.isclose(ci.estimate, fit.slope)
        assert np.isclose(ci.low, fit.slope - half) and np.isclose(ci.high, fit.slope + half)
    # the estimates recover the true exponents (within two half-widths), and the intervals tell the rows apart
    assert all(abs(ci.estimate - e) < 2 * ci.half_width for ci, e in zip(intervals, [-0.5, 0.0, 0.5]))
    assert intervals[0].high < intervals[1].low and intervals[1].high < intervals[2].low
    # log=False: the slope of the value itself (the alignment grows by 0.1 per unit of log M here)
    assert all(np.isclose(ci.estimate, 0.1) for ci in d.slope_intervals("align", log=False))


def test_phase_diagram_grids_have_eight_seeds_and_three_widths():
    for scale, grid in cl.PHASE_DIAGRAM.items():
        assert grid["seeds"] >= 8 and len(grid["widths"]) >= 3, scale
        assert min(grid["gammas_eps"]) < 1 < max(grid["gammas_eps"]) and 1.0 in grid["gammas_eps"], scale


def test_slope_intervals_need_the_stop():
    d = _synthetic([0.5], [16, 64], 2, 0.1, np.random.default_rng(1))
    d.stop[0, 0, 0] = -1  # a run that never met the rule: NaN, no interval
    with pytest.raises(ValueError, match="NaN"):
        d.slope_intervals("change")
