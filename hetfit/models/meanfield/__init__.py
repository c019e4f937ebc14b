"""Mean-field reductions of heterogeneous spiking networks.

* :class:`MPRMeanField` — exact mean field of QIF neurons with Lorentzian drives
  (Montbrió, Pazó & Roxin 2015); pairs with :func:`hetfit.models.qif.simulate_qif`.
* :class:`IzhikevichMeanField` — mean field of Izhikevich populations with Lorentzian spike
  thresholds (Gast, Solla & Kennedy 2023), one or several populations with conductance
  synapses; an approximation of the network (see its module notes and docs/meanfield.md).

All models share one API (see :mod:`hetfit.models.meanfield.base`): ``simulate``,
``simulate_batch``, ``fixed_points``, ``continuation``, ``scan_bistability``,
``hysteresis_sweep``, ``dominant_frequency``.
"""

from hetfit.models.meanfield.base import (
    FixedPoint,
    HysteresisSweep,
    MeanFieldBatch,
    MeanFieldModel,
    MeanFieldResult,
)
from hetfit.models.meanfield.continuation import BifurcationPoint, Branch
from hetfit.models.meanfield.izhikevich import (
    IzhikevichMeanField,
    IzhikevichMFPopulation,
    gast2023_ei_meanfield,
    meanfield_from_network,
    network_input_series,
)
from hetfit.models.meanfield.mpr import MPRMeanField, mpr_fixed_point_rates, mpr_saddle_nodes
from hetfit.models.meanfield.oscillations import dominant_frequency_hz, peak_frequency_hz

__all__ = [
    "BifurcationPoint",
    "Branch",
    "FixedPoint",
    "HysteresisSweep",
    "IzhikevichMFPopulation",
    "IzhikevichMeanField",
    "MPRMeanField",
    "MeanFieldBatch",
    "MeanFieldModel",
    "MeanFieldResult",
    "dominant_frequency_hz",
    "gast2023_ei_meanfield",
    "meanfield_from_network",
    "network_input_series",
    "mpr_fixed_point_rates",
    "mpr_saddle_nodes",
    "peak_frequency_hz",
]
