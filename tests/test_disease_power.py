"""Power of spread comparisons: simulation vs closed forms, calibration, donor effects."""

from __future__ import annotations

import numpy as np
import pytest

from hetfit.disease.power import (
    SpreadStudyDesign,
    estimate_icc,
    f_test_power,
    minimum_sample_size,
    simulate_spread_study,
    spread_power,
)
from hetfit.errors import InsufficientDataError, ParameterError


def test_simulated_f_test_power_matches_closed_form():
    # independent Gaussian cells: the variance ratio is r^2 F(n_b - 1, n_a - 1)
    grid = [6, 12, 24]
    pc = spread_power(0.6, grid, cells_per_donor=1, tests=("f_test",), n_sim=400, seed=11)
    for i, n in enumerate(grid):
        exact = f_test_power(0.6, n, n)
        lo, hi = pc.interval["f_test"][i]
        # Wilson 95% interval of the simulated rate, widened by 0.02 for the 3 comparisons
        assert lo - 0.02 <= exact <= hi + 0.02, (n, exact, pc.power["f_test"][i])
    assert np.all(np.diff(pc.power["f_test"]) > 0)


def test_f_test_power_closed_form_limits():
    assert f_test_power(1.0, 10, 10, alpha=0.05) == pytest.approx(0.05, abs=1e-12)
    assert f_test_power(0.3, 200, 200) > 0.999
    with pytest.raises(ParameterError):
        f_test_power(0.5, 1, 10)


def test_type_one_error_without_and_with_donor_effects():
    tests = ("brown_forsythe", "fligner_killeen", "permutation")
    # independent cells: no test rejects more often than alpha (Fligner-Killeen is known to
    # be conservative in small samples; the others sit at alpha)
    pc0 = spread_power(1.0, [20], cells_per_donor=1, tests=tests, n_sim=300, n_perm=199,
                       seed=3)
    for t in tests:
        lo, hi = pc0.interval[t][0]
        assert lo <= 0.05, (t, pc0.power[t])
    for t in ("brown_forsythe", "permutation"):
        assert pc0.interval[t][0][1] >= 0.05 - 0.01, (t, pc0.power[t])
    # strong donor effects: the cell-level tests reject far too often, the donor-level
    # permutation test does not
    pc1 = spread_power(1.0, [6], cells_per_donor=8, icc=0.6, tests=tests, n_sim=300,
                       n_perm=199, seed=4)
    assert pc1.power["brown_forsythe"][0] > 0.10
    assert pc1.interval["permutation"][0][0] <= 0.05
    assert any("exceeds alpha" in n or "ignore donor" in n for n in pc1.notes)


def test_power_grows_with_donors_and_minimum_n_is_interpolated():
    pc = spread_power(0.5, [4, 8, 16], cells_per_donor=4, icc=0.2, tests=("permutation",),
                      n_sim=150, n_perm=199, seed=5)
    p = pc.power["permutation"]
    assert p[0] < p[1] < p[2]
    m = pc.minimum_donors["permutation"]
    if p[-1] >= 0.8:
        i = int(np.flatnonzero(p >= 0.8)[0])
        assert pc.n_donors[max(i - 1, 0), 0] <= m <= pc.n_donors[i, 0]
    else:
        assert m is None
    frame = pc.to_frame()
    assert list(frame["n_cells_healthy"]) == [16, 32, 64]


def test_minimum_sample_size_agrees_with_exact_f_test():
    from scipy.optimize import brentq

    # exact cells needed for 80% power at ratio 0.6 (F-test), continuous in n
    exact = brentq(lambda n: f_test_power(0.6, int(round(n)), int(round(n))) - 0.8, 5, 200)
    sim = minimum_sample_size(0.6, cells_per_donor=1, test="f_test", n_sim=300, seed=2)
    assert sim is not None
    assert abs(sim - exact) / exact < 0.25  # doubling grid + linear interpolation


def test_estimate_icc_recovers_the_generating_share():
    d = SpreadStudyDesign((300, 2), 8, 1.0, icc=0.35)
    x, donors, _, _ = simulate_spread_study(d, seed=0)
    assert estimate_icc(x, donors) == pytest.approx(0.35, abs=0.06)
    x0, d0, _, _ = simulate_spread_study(SpreadStudyDesign((300, 2), 8, 1.0, icc=0.0), seed=1)
    assert estimate_icc(x0, d0) < 0.05


def test_simulated_study_has_the_designed_widths():
    d = SpreadStudyDesign((400, 400), 10, 0.5, icc=0.3)
    xa, da, xb, db = simulate_spread_study(d, seed=7)
    assert xa.size == 4000 and len(set(da)) == 400 and len(set(db)) == 400
    assert np.std(xa, ddof=1) == pytest.approx(1.0, rel=0.05)
    assert np.std(xb, ddof=1) == pytest.approx(0.5, rel=0.05)
    # same seed, same study
    np.testing.assert_array_equal(simulate_spread_study(d, seed=7)[0], xa)


def test_bad_designs_are_rejected():
    with pytest.raises(ParameterError, match="donors"):
        SpreadStudyDesign((1, 5), 3, 0.5)
    with pytest.raises(ParameterError, match="width_ratio"):
        SpreadStudyDesign((5, 5), 3, -1.0)
    with pytest.raises(ParameterError, match="icc"):
        SpreadStudyDesign((5, 5), 3, 0.5, icc=1.0)
    with pytest.raises(ParameterError, match="unknown test"):
        spread_power(0.5, [5], tests=("t_test",))
    with pytest.raises(ParameterError, match="increasing"):
        spread_power(0.5, [8, 4])
    with pytest.raises(InsufficientDataError):
        estimate_icc([1.0, 2.0], ["a", "a"])


def test_plan_study_takes_donor_structure_from_the_data():
    from hetfit.disease.power import plan_study

    d = SpreadStudyDesign((60, 60), 6, 1.0, icc=0.4)
    xa, da, xb, db = simulate_spread_study(d, seed=3)
    plan = plan_study([xa + 5.0, xb - 3.0], [da, db], [0.6], n_donors=[4, 8], n_sim=40,
                      seed=1)
    # condition offsets are removed before estimating the donor share of variance
    assert plan.icc == pytest.approx(0.4, abs=0.12)
    assert plan.cells_per_donor == 6 and plan.has_donors
    pc = plan.curves["ratio 0.6"]
    assert pc.icc == plan.icc and pc.cells_per_donor == 6
    flat = plan_study([xa, xb], [None, None], [0.6], n_donors=[4, 8], n_sim=40, seed=1)
    assert flat.icc == 0.0 and flat.cells_per_donor == 1 and not flat.has_donors
    assert any("no donor ids" in n for n in flat.notes)
