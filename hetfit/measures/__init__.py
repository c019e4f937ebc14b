"""Activity measures: rates, variability, synchrony, spectra and network bursts.

Plain functions of plain data (Elephant-like).  Every spike-train measure takes the same
arguments ``(times_ms, units, n_units=None, t_start_ms=None, t_stop_ms=None, ...)`` (see
:mod:`hetfit.measures.spiketrains`) and returns a float, an array per unit or a small frozen
dataclass of floats.  :func:`spike_arrays` turns a ``SpikeResult`` (one population or all) or
a ``Recording`` into those arguments, so computing every measure of a simulation is::

    from hetfit import measures as m
    kw = m.spike_arrays(result, "E")
    rates = m.rate_spread(**kw)
    cv = m.mean_cv_isi(**kw)
    chi = m.spike_train_chi(**kw, tau_ms=10.0)
    spec = m.rate_spectrum(**kw, bin_ms=1.0)

Conventions (consistent across the package):

* units: times and durations in ms, rates in Hz, frequencies in Hz, PSD in Hz^2/Hz;
* the analysis window is ``[t_start_ms, t_stop_ms)``; spikes outside it are ignored;
* too few units or spikes for a meaningful value -> NaN (documented per function), never an
  exception, because inference evaluates thousands of simulations and flags NaN summaries;
* invalid arguments (NaN times, unit index out of range, empty window, non-positive bin) ->
  :class:`hetfit.errors.ParameterError`; a diverged simulation ->
  :class:`hetfit.errors.SimulationError`;
* random sub-sampling (pairs for correlations) takes a ``seed`` whose default (0) makes every
  measure a deterministic function of the data.
"""

from hetfit.measures.bursts import NetworkBursts, network_bursts
from hetfit.measures.rates import RateSpread, firing_rates, population_rate, rate_spread, smooth
from hetfit.measures.spectrum import Spectrum, power_spectrum, rate_spectrum
from hetfit.measures.spiketrains import (
    SpikeData,
    bin_spikes,
    flatten_trains,
    prepare_spikes,
    spike_arrays,
    split_by_unit,
)
from hetfit.measures.synchrony import (
    KuramotoTrace,
    PairwiseCorrelations,
    golomb_chi,
    kuramoto_chance_level,
    kuramoto_order,
    kuramoto_trace,
    mean_pairwise_correlation,
    pairwise_correlations,
    spike_train_chi,
)
from hetfit.measures.variability import (
    cv_isi,
    fano_factor,
    mean_cv_isi,
    mean_fano_factor,
    pooled_cv_isi,
    population_fano_factor,
)

__all__ = [
    "KuramotoTrace",
    "NetworkBursts",
    "PairwiseCorrelations",
    "RateSpread",
    "SpikeData",
    "Spectrum",
    "bin_spikes",
    "cv_isi",
    "fano_factor",
    "firing_rates",
    "flatten_trains",
    "golomb_chi",
    "kuramoto_chance_level",
    "kuramoto_order",
    "kuramoto_trace",
    "mean_cv_isi",
    "mean_fano_factor",
    "mean_pairwise_correlation",
    "network_bursts",
    "pairwise_correlations",
    "population_fano_factor",
    "population_rate",
    "power_spectrum",
    "pooled_cv_isi",
    "prepare_spikes",
    "rate_spectrum",
    "rate_spread",
    "smooth",
    "spike_arrays",
    "spike_train_chi",
    "split_by_unit",
]
