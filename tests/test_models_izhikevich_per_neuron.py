"""Per-neuron C, k, v_r, b, tau_u, kappa reach the kernel (issue 12).

Reference: one neuron at a time, the same Izhikevich equations integrated by
``scipy.integrate.solve_ivp`` (DOP853, tight tolerances) with a terminal event at
``v = v_peak`` followed by the reset ``v <- v_reset``, ``u <- u + kappa``.  The network is
uncoupled (J = 0, g = 0) with a constant drive, so each neuron must fire exactly like its
own reference; the closed-form excursions of ``method="exact"`` use each neuron's own
constants, so a kernel that still used population values would miss these counts.
"""

from __future__ import annotations

import json

import izhikevich_reference
import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.models.batch import simulate_batch, simulate_izhikevich
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.izhikevich import IzhikevichNetwork, IzhikevichPopulation
from hetfit.models.meanfield import meanfield_from_network

V_PEAK, V_RESET = 1000.0, -1000.0  # mV (the DESIGN.md values)
V_THETA = -40.0  # mV
DRIVE = 200.0  # pA
T_MS = 1000.0
DT_MS = 0.02

# eight neurons differing in every membrane parameter (pF, nS/mV, mV, nS, ms, pA)
BASE = dict(
    C=np.array([100.0, 60.0, 150.0, 100.0, 100.0, 100.0, 80.0, 120.0]),
    k=np.array([0.7, 0.7, 0.7, 1.0, 0.5, 0.7, 0.9, 0.6]),
    v_r=np.array([-60.0, -60.0, -60.0, -60.0, -65.0, -55.0, -62.0, -58.0]),
    b=np.array([-2.0, -2.0, -2.0, -2.0, 0.5, -2.0, 0.2, -1.0]),
    tau_u=np.array([33.3, 33.3, 33.3, 20.0, 33.3, 60.0, 40.0, 100.0]),
    kappa=np.array([100.0, 100.0, 100.0, 50.0, 200.0, 100.0, 20.0, 150.0]),
)


def reference_count(C, k, v_r, b, tau_u, kappa, I=DRIVE, T=T_MS) -> int:
    """Spikes of one neuron in [0, T) ms from v(0) = v_r, u(0) = 0 (solve_ivp + events)."""
    return izhikevich_reference.reference_count(C, k, v_r, V_THETA, b, tau_u, kappa, I=I, T=T,
                                                v_peak=V_PEAK, v_reset=V_RESET)


def population(**over) -> IzhikevichPopulation:
    params = {k: v.copy() for k, v in BASE.items()}
    params.update(over)
    return IzhikevichPopulation(name="X", n=8, v_theta=V_THETA, eta=DRIVE, g=0.0,
                                v_peak=V_PEAK, v_reset=V_RESET, **params)


def kernel_counts(pop: IzhikevichPopulation) -> np.ndarray:
    res = simulate_izhikevich(IzhikevichNetwork((pop,), J=0.0), T_MS, DT_MS, seed=0)
    assert not res.diverged
    return np.asarray(res.meta["spike_counts"])


def reference_counts(params: dict[str, np.ndarray]) -> np.ndarray:
    return np.array([reference_count(*(params[k][i] for k in BASE)) for i in range(8)])


def test_each_neuron_fires_like_its_own_single_neuron_reference():
    ref = reference_counts(BASE)
    got = kernel_counts(population())
    assert np.all(ref >= 5), ref  # every neuron fires: the comparison has something to see
    assert len(set(ref.tolist())) >= 5  # and the parameters really matter
    np.testing.assert_allclose(got, ref, atol=1)
    # the population medians would not do: a homogeneous population fires differently
    med = {k: float(np.median(v)) for k, v in BASE.items()}
    homo = kernel_counts(IzhikevichPopulation(name="X", n=8, v_theta=V_THETA, eta=DRIVE,
                                              g=0.0, v_peak=V_PEAK, v_reset=V_RESET, **med))
    assert np.max(np.abs(homo - ref)) > 1


@pytest.mark.parametrize("name, j, factor", [("C", 1, 0.7), ("tau_u", 3, 4.0)])
def test_perturbing_one_neuron_changes_only_that_neuron(name, j, factor):
    before = kernel_counts(population())
    changed = BASE[name].copy()
    changed[j] *= factor
    after = kernel_counts(population(**{name: changed}))
    params = dict(BASE, **{name: changed})
    ref_j = reference_count(*(params[k][j] for k in BASE))
    ref_before_j = reference_count(*(BASE[k][j] for k in BASE))
    assert abs(ref_j - ref_before_j) >= 3  # the perturbation is visible in the reference
    assert abs(after[j] - ref_j) <= 1
    assert np.sign(after[j] - before[j]) == np.sign(ref_j - ref_before_j)
    others = np.arange(8) != j
    np.testing.assert_array_equal(after[others], before[others])


def test_uniform_arrays_take_the_population_fast_path_bit_identically():
    """Explicit arrays with one value (and zero-width Heterogeneities) give exactly the
    spikes of the scalar population: the kernel takes the homogeneous path for them."""
    scal = IzhikevichPopulation(name="E", n=300, v_theta=Heterogeneity(-40.0, 1.0, low=-60.0,
                                                                       high=-20.0),
                                eta=70.0, g=15.0)
    arr = IzhikevichPopulation(name="E", n=300, v_theta=scal.v_theta, eta=70.0, g=15.0,
                               C=np.full(300, 100.0), k=Heterogeneity(0.7, 0.0),
                               tau_u=np.full(300, 100.0 / 3.0), kappa=np.full(300, 100.0))
    a = simulate_izhikevich(IzhikevichNetwork.single(scal, J=1.0), 200.0, 0.05, seed=3)
    b = simulate_izhikevich(IzhikevichNetwork.single(arr, J=1.0), 200.0, 0.05, seed=3)
    assert a.spike_times_ms.size > 100
    np.testing.assert_array_equal(a.spike_times_ms, b.spike_times_ms)
    np.testing.assert_array_equal(a.spike_neurons, b.spike_neurons)


def test_new_parameters_draw_from_an_independent_spawn():
    """Making C heterogeneous leaves the threshold draws of the same seed unchanged."""
    vt = Heterogeneity(-40.0, 1.0, low=-60.0, high=-20.0, sampling="random")
    plain = IzhikevichPopulation(n=50, v_theta=vt)
    het = IzhikevichPopulation(n=50, v_theta=vt,
                               C=Heterogeneity(100.0, 10.0, "gaussian", 50.0, 150.0, "random"),
                               tau_u=Heterogeneity(30.0, 5.0, "gaussian", 10.0, 60.0, "random"))
    a, b = plain.sample(7), het.sample(7)
    np.testing.assert_array_equal(a["v_theta"], b["v_theta"])
    assert np.ptp(b["C"]) > 0 and np.ptp(b["tau_u"]) > 0
    assert not np.array_equal(b["C"] - 100.0, b["tau_u"] - 30.0)


@pytest.mark.parametrize("value, match", [
    (np.full(7, 100.0), r"explicit C must be a 1-D array of length n = 8"),
    (np.array([100.0] * 7 + [np.nan]), r"explicit C has 1 non-finite"),
    (np.array([100.0] * 7 + [0.0]), r"C must be > 0 pF"),
    (np.full((2, 4), 100.0), r"explicit C must be a 1-D array"),
])
def test_bad_explicit_arrays_are_one_line_parameter_errors(value, match):
    with pytest.raises(ParameterError, match=match) as exc:
        IzhikevichPopulation(name="X", n=8, C=value)
    msg = str(exc.value)
    assert "\n" not in msg and "'X'" in msg


def test_nonpositive_heterogeneity_and_bad_tau_u_are_refused():
    with pytest.raises(ParameterError, match="truncate it with low > 0"):
        IzhikevichPopulation(n=8, tau_u=Heterogeneity(30.0, 5.0, "gaussian"))
    with pytest.raises(ParameterError, match="tau_u must be > 0 ms"):
        IzhikevichPopulation(n=8, tau_u=np.array([30.0] * 7 + [-1.0]))


def test_to_dict_is_json_and_equality_compares_values():
    pop = population()
    d = json.loads(json.dumps(pop.to_dict()))
    assert d["C"] == BASE["C"].tolist() and d["v_theta"] == V_THETA
    again = population()  # fresh arrays with the same values
    assert again == pop and hash(again) == hash(pop)
    with pytest.raises(ValueError):  # stored read-only: the frozen spec cannot be edited
        pop.C[0] = 1.0
    assert population(C=BASE["C"] * 1.01) != pop


def test_meanfield_refuses_per_neuron_membrane_parameters():
    net = IzhikevichNetwork.single(population(), J=0.0)
    with pytest.raises(ParameterError, match="C, k, v_r, b, tau_u, kappa vary per neuron.*"
                       "exact mean-field reduction needs"):
        meanfield_from_network(net)
    one = IzhikevichPopulation(n=8, tau_u=Heterogeneity(30.0, 2.0, "lorentzian", 10.0, 60.0))
    with pytest.raises(ParameterError, match="'E': tau_u vary per neuron"):
        meanfield_from_network(IzhikevichNetwork.single(one))
    # uniform explicit arrays are homogeneous: accepted, with their value
    ok = IzhikevichPopulation(n=8, C=np.full(8, 120.0))
    assert meanfield_from_network(IzhikevichNetwork.single(ok)).populations[0].C == 120.0


def test_batch_overrides_of_per_neuron_membrane_parameters():
    pop = IzhikevichPopulation(name="E", n=100, eta=150.0,
                               tau_u=Heterogeneity(33.0, 3.0, "gaussian", 20.0, 50.0))
    res = simulate_batch(pop, {"E.C": [80.0, 120.0], "E.tau_u.width": [0.0, 6.0]}, 300.0,
                         0.05, seed=1, n_threads=1)
    rates = res.mean_rate_hz()[:, 0]
    assert rates[0] > rates[1] > 0  # smaller C charges faster
    arr = IzhikevichPopulation(name="E", n=100, C=np.linspace(90.0, 110.0, 100))
    with pytest.raises(ParameterError, match="explicit per-neuron array"):
        simulate_batch(arr, {"E.C": [80.0]}, 10.0, 0.05, seed=1)
