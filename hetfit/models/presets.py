"""Named Izhikevich network presets.

``single_population``
    One population with the typical parameters of DESIGN.md (Gast, Solla & Kennedy line of
    work): C = 100 pF, k = 0.7 nS/mV, v_r = -60 mV, v_theta = -40 mV (Lorentzian, width
    Delta_v), b = -2 nS, kappa = 100 pA, tau_u = 1/a = 33.3 ms, g = 15 nS, E_r = 0 mV,
    tau_s = 6 ms, J = 1, v_peak = 1000 mV, v_reset = -1000 mV.

``gast2023_ei``
    The E/I circuit of regular-spiking (RS, excitatory) and fast-spiking (FS, inhibitory)
    Izhikevich neurons with Lorentzian spike thresholds of Gast, Solla & Kennedy,
    "Macroscopic dynamics of neural networks with heterogeneous spiking thresholds",
    Phys. Rev. E 107, 024306 (2023), arXiv:2206.08813.  Parameter values are those of the
    authors' model definitions (repository Richert/DynamicalSystems, files
    ``Izhikevich/config/eic_corrected.f90`` and ``Izhikevich/clustersim_eic_rnn.py``):

    ==========  ============  ============
    parameter   RS (E)        FS (I)
    ==========  ============  ============
    C           100 pF        20 pF
    k           0.7 nS/mV     1.0 nS/mV
    v_r         -60 mV        -55 mV
    v_theta     -40 mV        -40 mV
    b           -2 nS         0.025 nS
    a = 1/tau_u 0.03 /ms      0.2 /ms
    d = kappa   20 pA         0 pA
    synapse     AMPA: E=0 mV, tau=6 ms   GABA_A: E=-65 mV, tau=8 ms
    ==========  ============  ============

    g_AMPA = g_GABA = 1 nS; couplings J_EE = 16, J_EI (I onto E) = 16, J_IE (E onto I) = 4,
    J_II = 4; v_peak = -v_reset = 1000 mV; thresholds truncated to
    ``[v_r, 2 v_theta - v_r]`` as in the authors' sampler.  Their network simulations used a
    common drive to RS of 50 pA and a slowly varied drive to FS (10 to 80 pA), with
    populations of equal size.
"""

from __future__ import annotations

from hetfit.errors import ParameterError
from hetfit.models.heterogeneity import Heterogeneity
from hetfit.models.inputs import CurrentLike
from hetfit.models.izhikevich import IzhikevichNetwork, IzhikevichPopulation


def lorentzian_thresholds(v_theta: float, delta_v: float, v_r: float,
                          sampling: str = "quantiles") -> Heterogeneity | float:
    """Lorentzian thresholds truncated to ``[v_r, 2 v_theta - v_r]`` (symmetric around
    ``v_theta``); a plain number when ``delta_v == 0``."""
    if delta_v < 0:
        raise ParameterError(f"threshold width Delta_v must be >= 0 mV, got {delta_v}")
    if delta_v == 0:
        return float(v_theta)
    if not v_theta > v_r:
        raise ParameterError(f"v_theta ({v_theta} mV) must exceed v_r ({v_r} mV)")
    return Heterogeneity(center=v_theta, width=delta_v, family="lorentzian", low=v_r,
                         high=2.0 * v_theta - v_r, sampling=sampling)


def single_population(
    n: int = 1000,
    delta_v: float = 1.0,
    I_ext: CurrentLike = 50.0,
    *,
    J: float = 1.0,
    g: float = 15.0,
    kappa: float = 100.0,
    v_theta: float = -40.0,
    sampling: str = "quantiles",
    connection_p: float | None = None,
    noise_sigma: float = 0.0,
    name: str = "E",
) -> IzhikevichNetwork:
    """One recurrently coupled population with Lorentzian thresholds (DESIGN.md values).

    ``delta_v`` (mV) is the Lorentzian half-width of the thresholds, ``I_ext`` the common
    drive (pA), ``J`` the coupling, ``g`` (nS) the synaptic conductance scale.
    """
    pop = IzhikevichPopulation(
        name=name, n=n, C=100.0, k=0.7, v_r=-60.0,
        v_theta=lorentzian_thresholds(v_theta, delta_v, -60.0, sampling),
        g=g, b=-2.0, tau_u=1.0 / 0.03, kappa=kappa, v_peak=1000.0, v_reset=-1000.0,
        tau_s=6.0, E_syn=0.0, I_ext=I_ext, noise_sigma=noise_sigma,
    )
    return IzhikevichNetwork.single(pop, J=J, connection_p=connection_p)


def gast2023_ei(
    n_e: int = 1000,
    n_i: int = 1000,
    delta_v_e: float = 1.0,
    delta_v_i: float = 1.0,
    I_e: CurrentLike = 50.0,
    I_i: CurrentLike = 10.0,
    *,
    J_ee: float = 16.0,
    J_ei: float = 16.0,
    J_ie: float = 4.0,
    J_ii: float = 4.0,
    sampling: str = "quantiles",
    connection_p: float | None = None,
) -> IzhikevichNetwork:
    """E/I (RS/FS) network of Gast, Solla & Kennedy (2023); see the module docstring.

    Parameters
    ----------
    n_e, n_i:
        Population sizes (the authors used equal sizes).
    delta_v_e, delta_v_i:
        Lorentzian half-widths (mV) of the RS and FS spike thresholds.
    I_e, I_i:
        Drives (pA): numbers or StepCurrents (e.g. a ramp to trace hysteresis).
    J_ee, J_ei, J_ie, J_ii:
        Couplings ``J[post][pre]``: J_ei is I -> E, J_ie is E -> I.
    connection_p:
        ``None`` for all-to-all coupling (as in the paper), or a connection probability.
    """
    exc = IzhikevichPopulation(
        name="E", n=n_e, C=100.0, k=0.7, v_r=-60.0,
        v_theta=lorentzian_thresholds(-40.0, delta_v_e, -60.0, sampling),
        g=1.0, b=-2.0, tau_u=1.0 / 0.03, kappa=20.0, v_peak=1000.0, v_reset=-1000.0,
        tau_s=6.0, E_syn=0.0, I_ext=I_e,
    )
    inh = IzhikevichPopulation(
        name="I", n=n_i, C=20.0, k=1.0, v_r=-55.0,
        v_theta=lorentzian_thresholds(-40.0, delta_v_i, -55.0, sampling),
        g=1.0, b=0.025, tau_u=1.0 / 0.2, kappa=0.0, v_peak=1000.0, v_reset=-1000.0,
        tau_s=8.0, E_syn=-65.0, I_ext=I_i,
    )
    J = {("E", "E"): J_ee, ("E", "I"): J_ei, ("I", "E"): J_ie, ("I", "I"): J_ii}
    return IzhikevichNetwork((exc, inh), J=J, connection_p=connection_p)


PRESETS = {"single": single_population, "gast2023_ei": gast2023_ei}
