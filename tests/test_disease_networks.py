"""Networks built from each condition's measured widths (synthetic conditions with known
widths, so the direction of every effect is known in advance)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hetfit.data_adapters.celltable import CellTable
from hetfit.disease.conditions import NetworkMapping
from hetfit.disease.networks import compare_networks
from hetfit.errors import InsufficientDataError, ParameterError

MAPPING = NetworkMapping("gast2023_ei", {"E": {"dendrite_type": "spiny"},
                                         "I": {"dendrite_type": "aspiny"}},
                         "v_threshold_mV", "hwhm_iqr")


def _condition(name: str, hwhm_e: float, hwhm_i: float, n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        spiny = i % 2 == 0
        sd = (hwhm_e if spiny else hwhm_i) / 0.6745  # Gaussian: HWHM(IQR/2) = 0.6745 sigma
        rows.append({"cell_id": f"{name}{i}", "donor_id": f"{name}-{i % 12}",
                     "dendrite_type": "spiny" if spiny else "aspiny",
                     "v_threshold_mV": -40.0 + sd * rng.standard_normal()})
    return CellTable(pd.DataFrame(rows))


@pytest.mark.slow  # network simulations (numba compilation when the cache is cold)
def test_low_heterogeneity_condition_gives_a_more_synchronous_network():
    healthy = _condition("h", 2.0, 3.0, seed=1)
    disease = _condition("d", 0.3, 0.15, seed=2)
    nc = compare_networks(healthy, disease, MAPPING, names=("healthy", "epileptic"),
                          quick=True, n_replicates=3, n_seeds=2, seed=3)
    w = nc.widths
    assert w["healthy"].point["E"] == pytest.approx(2.0, rel=0.3)
    assert w["epileptic"].point["I"] == pytest.approx(0.15, rel=0.3)
    chi = nc.measures["chi_I"]
    # less threshold heterogeneity in the inhibitory population: more synchrony (seed 000)
    assert chi.point[1] > chi.point[0] + 0.1
    assert chi.difference_interval[0] > 0
    # less heterogeneity in E: wider bistable range of E drive (mean field; seed 000 Fig. 2D)
    bist = nc.measures["mf_bistable_range_pA"]
    assert bist.point[1] > bist.point[0]
    assert nc.engines["chi_I"] == "network" and nc.engines["mf_bistable_range_pA"] == "mean field"
    assert any("engines" in n for n in nc.notes)
    frame = nc.to_frame()
    assert set(frame["engine"]) == {"network", "mean field"}
    d = nc.to_dict()
    assert d["widths"]["healthy"]["resampling_unit"] == "donor"


def test_network_inputs_are_checked():
    healthy = _condition("h", 2.0, 3.0)
    only_spiny = CellTable(healthy.data[healthy.data["dendrite_type"] == "spiny"])
    with pytest.raises(InsufficientDataError, match="population 'I'"):
        compare_networks(healthy, only_spiny, MAPPING, n_replicates=2)
    with pytest.raises(ParameterError, match="no network model"):
        compare_networks(healthy, healthy, NetworkMapping("hodgkin", MAPPING.populations,
                                                          "v_threshold_mV", "sd"))
    with pytest.raises(ParameterError, match="width statistic"):
        compare_networks(healthy, healthy, NetworkMapping("gast2023_ei", MAPPING.populations,
                                                          "v_threshold_mV", "range"),
                         network=False)


def test_rich2022_networks_from_both_widths(shared_data):
    # acceptance: the networks built from the epileptogenic (low) and non-epileptogenic
    # (high) spreads of distance to threshold; the low-heterogeneity network is pushed into
    # synchrony more easily by the same sudden input step (Rich et al. 2022)
    from hetfit.disease.conditions import run_comparison
    from hetfit.disease.presets import rich2022_preset

    preset = rich2022_preset(folder=shared_data("rich2022_human_l5"))
    res = run_comparison(preset, quick=True, seed=0, features=["distance_to_threshold_mV"],
                         n_replicates=4)
    nc = res.networks
    assert nc.model == "rich2022" and set(nc.engines.values()) == {"network"}
    w_h = nc.widths[preset.healthy.name].point["E"]
    w_d = nc.widths[preset.disease.name].point["E"]
    assert (w_h, w_d) == (pytest.approx(7.868, abs=1e-3), pytest.approx(4.404, abs=1e-3))
    assert nc.widths[preset.healthy.name].resampling_unit == "cell"
    step = nc.measures["step_delta_chi_E"]
    assert step.point[1] > step.point[0] + 0.05
    assert step.difference_interval[0] > 0.0
    assert any("cells resampled" in n for n in nc.notes)


@pytest.mark.slow  # CUBA network simulations (~1 s each)
def test_timescale_heterogeneity_network_gets_the_measured_cv():
    rng = np.random.default_rng(4)
    rows = []
    for cond, cv in (("h", 0.1), ("d", 0.6)):
        for i in range(80):
            tau = 20.0 * rng.lognormal(-0.5 * np.log1p(cv**2), np.sqrt(np.log1p(cv**2)))
            rows.append({"cell_id": f"{cond}{i}", "donor_id": f"{cond}-{i % 10}",
                         "disease_state": cond, "dendrite_type": "spiny" if i % 2 else "aspiny",
                         "tau_m_ms": tau})
    t = CellTable(pd.DataFrame(rows))
    m = NetworkMapping("lif_cuba", MAPPING.populations, "tau_m_ms", "cv")
    nc = compare_networks(t.select(disease_state="h"), t.select(disease_state="d"), m,
                          n_replicates=2, n_seeds=1, quick=True, seed=1)
    for cond, cv in (("healthy", 0.1), ("disease", 0.6)):
        x = t.select(disease_state=cond[0], dendrite_type="spiny").values("tau_m_ms")
        assert nc.widths[cond].point["E"] == pytest.approx(np.std(x, ddof=1) / np.mean(x))
        assert nc.widths[cond].point["E"] == pytest.approx(cv, rel=0.35)
    assert set(nc.engines.values()) == {"network"}
    # more timescale heterogeneity, higher rate in the CUBA network (checked in the benchmark
    # for CV 0 -> 0.5: 5.6 -> 6.8 Hz)
    assert nc.measures["rate_E"].point[1] > nc.measures["rate_E"].point[0]
