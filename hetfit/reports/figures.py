"""Figures for reports.  Each function takes plain data and returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot global state, no GUI
backend), so they work headless, in threads and in notebooks.  :func:`save_figure` writes a
PNG atomically.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hetfit.io import atomic_write_bytes

_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _figure(width_in: float = 5.0, height_in: float = 3.6):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")


def save_figure(fig: Any, path: str | os.PathLike) -> Path:
    """Render ``fig`` to PNG and write it atomically; returns the path."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


def _pdf(family: str, params: Mapping[str, float], x: np.ndarray) -> np.ndarray:
    from scipy import stats

    if family == "gaussian":
        return stats.norm(params["loc"], params["scale"]).pdf(x)
    if family == "lorentzian":
        return stats.cauchy(params["loc"], params["scale"]).pdf(x)
    if family == "lognormal":
        return stats.lognorm(params["s"], loc=params.get("loc", 0.0), scale=params["scale"]).pdf(x)
    raise ValueError(f"no density for family {family!r}")


def plot_distribution(
    values: Sequence[float],
    *,
    feature: str,
    fits: Mapping[str, Any] | None = None,
    width_ci: tuple[float, float] | None = None,
    width_label: str = "width",
    title: str = "",
):
    """Histogram of one feature within one type, with fitted densities.

    ``fits`` maps a label to a fitted distribution (anything with ``.pdf``, e.g. a
    :class:`~hetfit.distributions.families.FamilyFit`, mixtures included) or to the
    parameters of a family named by the label (gaussian/lorentzian: ``loc``, ``scale``;
    lognormal: ``s``, ``scale``).  ``width_ci`` is shown in the legend.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    fig = _figure()
    ax = fig.add_subplot()
    ax.hist(v, bins=max(8, min(40, v.size // 4)), density=True, color="0.8", edgecolor="0.5",
            label=f"cells (n={v.size})")
    if v.size and fits:
        lo, hi = np.percentile(v, [0.5, 99.5])
        pad = 0.15 * (hi - lo + 1e-12)
        x = np.linspace(lo - pad, hi + pad, 400)
        for (family, fit), color in zip(fits.items(), _COLORS):
            dens = fit.pdf(x) if hasattr(fit, "pdf") else _pdf(family, fit, x)
            ax.plot(x, dens, color=color, lw=2, label=family)
    if width_ci is not None:
        ax.plot([], [], " ", label=f"{width_label} 95% CI [{width_ci[0]:.3g}, {width_ci[1]:.3g}]")
    ax.set_xlabel(feature)
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_fitted_densities(
    densities: Mapping[str, Any],
    *,
    feature: str,
    x_range: tuple[float, float],
    title: str = "",
):
    """Fitted densities of one feature for several types: ``densities[label]`` is a frozen
    scipy distribution (anything with ``.pdf``)."""
    fig = _figure()
    ax = fig.add_subplot()
    x = np.linspace(x_range[0], x_range[1], 500)
    styles = ("-", "--", "-.", ":")
    for k, ((label, dist), color) in enumerate(zip(densities.items(), _COLORS * 2)):
        ax.plot(x, dist.pdf(x), styles[(k // len(_COLORS)) % len(styles)], color=color, lw=2,
                label=label)
    ax.set_xlabel(feature)
    ax.set_ylabel("density")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_posterior_pairs(
    samples: np.ndarray,
    names: Sequence[str],
    *,
    truth: Sequence[float] | None = None,
    limits: Sequence[tuple[float, float]] | None = None,
    title: str = "",
):
    """Corner plot of posterior samples (n_samples, n_params) with the true values if known."""
    s = np.asarray(samples, dtype=float)
    d = s.shape[1]
    fig = _figure(2.2 * d + 0.6, 2.2 * d + 0.3)
    axes = fig.subplots(d, d, squeeze=False)
    for i in range(d):
        for j in range(d):
            ax = axes[i][j]
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                ax.hist(s[:, i], bins=40, color=_COLORS[0], alpha=0.7, density=True)
                if truth is not None:
                    ax.axvline(truth[i], color=_COLORS[1], lw=2)
                if limits is not None:
                    ax.set_xlim(limits[i])
                ax.set_yticks([])
            else:
                ax.hist2d(s[:, j], s[:, i], bins=40, cmap="Blues",
                          range=None if limits is None else [limits[j], limits[i]])
                if truth is not None:
                    ax.plot(truth[j], truth[i], "*", color=_COLORS[1], ms=12)
            if i == d - 1:
                ax.set_xlabel(names[j])
            if j == 0 and i > 0:
                ax.set_ylabel(names[i])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_sweep(
    x: Sequence[float],
    curves: Mapping[str, tuple[Sequence[float], Sequence[float] | None, Sequence[float] | None]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    markers: Mapping[str, float] | None = None,
    logy: bool = False,
):
    """Measures against a heterogeneity scale: ``curves[name] = (mean, lower, upper)``.

    ``lower``/``upper`` may be None (no band).  ``markers`` draws labelled vertical lines
    (e.g. measured widths of two conditions).  ``logy`` uses a logarithmic y axis.
    """
    fig = _figure()
    ax = fig.add_subplot()
    xs = np.asarray(x, dtype=float)
    for (name, (mean, lo, hi)), color in zip(curves.items(), _COLORS):
        ax.plot(xs, np.asarray(mean, dtype=float), "o-", color=color, ms=3, label=name)
        if lo is not None and hi is not None:
            ax.fill_between(xs, np.asarray(lo, float), np.asarray(hi, float), color=color,
                            alpha=0.2, lw=0)
    for (label, xv), color in zip((markers or {}).items(), _COLORS[2:]):
        ax.axvline(xv, color=color, ls="--", lw=1.2, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_condition_comparison(
    labels: Sequence[str],
    estimates: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    *,
    ylabel: str,
    title: str = "",
    reference: float | None = None,
):
    """Point estimates with confidence intervals, one per condition or contrast."""
    fig = _figure(max(3.5, 0.9 * len(labels) + 1.5), 3.4)
    ax = fig.add_subplot()
    est = np.asarray(estimates, dtype=float)
    err = np.vstack([est - np.asarray(lower, float), np.asarray(upper, float) - est])
    pos = np.arange(len(labels))
    ax.errorbar(pos, est, yerr=np.abs(err), fmt="o", color=_COLORS[0], capsize=4)
    if reference is not None:
        ax.axhline(reference, color="0.5", ls=":", lw=1)
    ax.set_xticks(pos)
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return fig


def plot_raster(
    spike_times_ms: np.ndarray,
    spike_neurons: np.ndarray,
    *,
    rate_t_ms: np.ndarray | None = None,
    rates_hz: np.ndarray | None = None,
    names: Sequence[str] = (),
    max_neurons: int = 200,
    title: str = "",
):
    """Spike raster of the first ``max_neurons`` neurons, with population rates below."""
    fig = _figure(6.0, 4.0)
    axes = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    keep = np.asarray(spike_neurons) < max_neurons
    axes[0].plot(np.asarray(spike_times_ms)[keep], np.asarray(spike_neurons)[keep], "|",
                 color="k", ms=2, alpha=0.6)
    axes[0].set_ylabel("neuron")
    axes[0].set_title(title, fontsize=10)
    if rate_t_ms is not None and rates_hz is not None:
        r = np.atleast_2d(rates_hz)
        for k, color in zip(range(r.shape[0]), _COLORS):
            label = names[k] if k < len(names) else f"pop {k}"
            axes[1].plot(rate_t_ms, r[k], color=color, lw=1, label=label)
        axes[1].legend(fontsize=7, frameon=False)
    axes[1].set_xlabel("time (ms)")
    axes[1].set_ylabel("rate (Hz)")
    return fig
