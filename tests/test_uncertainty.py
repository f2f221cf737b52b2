"""The intervals of studies.uncertainty against scipy's own and against simulation."""
import numpy as np
import pytest
from scipy import stats

import condense_lib as cl


def test_mean_interval_matches_scipy():
    x = np.array([0.81, 0.84, 0.79, 0.86, 0.83, 0.80, 0.85, 0.82])
    got = cl.mean_interval(x)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert got.n == 8 and np.isclose(got.estimate, x.mean())
    assert np.isclose(got.low, low) and np.isclose(got.high, high)


def test_paired_difference_is_the_mean_interval_of_differences_and_welch_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.8, 0.02, 8), rng.normal(0.79, 0.03, 8)
    assert cl.difference_interval(a, b) == cl.mean_interval(a - b)
    welch = cl.difference_interval(a, b, paired=False)
    res = stats.ttest_ind(a, b, equal_var=False)
    low, high = res.confidence_interval(0.95)
    assert np.isclose(welch.low, low) and np.isclose(welch.high, high)


def test_slope_interval_matches_linregress():
    rng = np.random.default_rng(1)
    x = np.log(np.repeat([64, 256, 1024, 4096], 8)).astype(float)
    y = 0.5 * x + rng.normal(0, 0.1, x.size)
    got = cl.slope_interval(x, y)
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, x.size - 2) * fit.stderr
    assert np.isclose(got.estimate, fit.slope) and np.isclose(got.half_width, half)
    assert got.low < 0.5 < got.high


def test_detectable_difference_has_its_power_by_simulation():
    """A true difference equal to the detectable one is found (interval excludes 0) ~80% of the time."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=8)
    x = (x - x.mean()) / x.std(ddof=1)  # eight paired differences with standard deviation 1
    delta = cl.detectable_difference(x)
    found = np.mean([cl.mean_interval(rng.normal(delta, 1.0, 8)).excludes(0.0) for _ in range(4000)])
    assert 0.74 < found < 0.86


@pytest.mark.parametrize("bad", [[1.0], [1.0, np.nan], []])
def test_bad_input_says_what_to_do(bad):
    with pytest.raises(ValueError, match="at least 2|NaN"):
        cl.mean_interval(bad)
