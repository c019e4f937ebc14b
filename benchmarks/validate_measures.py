"""Validate hetfit.measures against analytic expectations at full size (beyond the unit tests).

Run: /work/venv/bin/python benchmarks/validate_measures.py [--reps 20] [--seed 0]

Prints Markdown tables (mean +- SD over repetitions) for:
* Golomb chi of independent Poisson trains vs 1/sqrt(N);
* Kuramoto order of independent Poisson trains vs the chance level sqrt(pi/(4N)) (common span);
* CV of ISI of gamma trains vs 1/sqrt(k), and Fano factor (1 s windows) vs 1/k;
* mean pairwise correlation of the shared-input model vs c, and chi vs sqrt(c + (1-c)/N);
* spectral peak of a rate oscillating at f Hz.
"""

from __future__ import annotations

import argparse
import math
import sys

import numpy as np

from hetfit import measures as m
from hetfit.measures.surrogates import (
    correlated_poisson_trains,
    gamma_trains,
    modulated_poisson_trains,
    poisson_trains,
)
from hetfit.seeding import child_seeds


def _fmt(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.4f} +- {v.std():.4f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    seeds = iter(child_seeds(args.seed, 10_000))
    T = 10_000.0

    print("#### Synchrony of independent Poisson trains (10 Hz, 10 s)\n")
    print("| N | chi | 1/sqrt(N) | Kuramoto R | chance sqrt(pi/4N) | mean pairwise r (10 ms) |")
    print("|---|---|---|---|---|---|")
    for n in (10, 30, 100, 300, 1000):
        chi, kur, cor = [], [], []
        for _ in range(args.reps):
            t, u = poisson_trains(n, 10.0, T, seed=int(next(seeds)))
            kw = dict(n_units=n, t_stop_ms=T)
            chi.append(m.spike_train_chi(t, u, **kw))
            kur.append(m.kuramoto_order(t, u, **kw))
            cor.append(m.mean_pairwise_correlation(t, u, **kw))
        print(f"| {n} | {_fmt(chi)} | {1 / math.sqrt(n):.4f} | {_fmt(kur)} | "
              f"{m.kuramoto_chance_level(n):.4f} | {_fmt(cor)} |")

    print("\n#### Gamma renewal trains (40 units, 20 Hz, 50 s)\n")
    print("| shape k | mean CV ISI | 1/sqrt(k) | mean Fano (1 s windows) | 1/k |")
    print("|---|---|---|---|---|")
    for k in (0.5, 1.0, 2.0, 4.0, 8.0):
        cv, fano = [], []
        for _ in range(args.reps):
            t, u = gamma_trains(40, 20.0, k, 50_000.0, seed=int(next(seeds)))
            kw = dict(n_units=40, t_stop_ms=50_000.0)
            cv.append(m.mean_cv_isi(t, u, **kw))
            fano.append(m.mean_fano_factor(t, u, **kw, window_ms=1_000.0))
        print(f"| {k} | {_fmt(cv)} | {1 / math.sqrt(k):.4f} | {_fmt(fano)} | {1 / k:.4f} |")

    print("\n#### Shared-input Poisson model (30 units, 20 Hz, 50 s; 50 ms bins)\n")
    print("| c | mean pairwise r | expected c | chi | sqrt(c + (1-c)/N) |")
    print("|---|---|---|---|---|")
    for c in (0.0, 0.05, 0.1, 0.25, 0.5, 1.0):
        cor, chi = [], []
        for _ in range(args.reps):
            t, u = correlated_poisson_trains(30, 20.0, c, 50_000.0, seed=int(next(seeds)))
            kw = dict(n_units=30, t_stop_ms=50_000.0)
            cor.append(m.mean_pairwise_correlation(t, u, **kw, bin_ms=50.0))
            chi.append(m.spike_train_chi(t, u, **kw))
        print(f"| {c} | {_fmt(cor)} | {c} | {_fmt(chi)} | {math.sqrt(c + (1 - c) / 30):.4f} |")

    print("\n#### Oscillating population rate (200 units, 10 Hz mean, depth 0.5, 5 s)\n")
    print("| f (Hz) | peak frequency (Hz) | peak / mean PSD |")
    print("|---|---|---|")
    for f in (4.0, 10.0, 23.5, 40.0, 80.0):
        pk, ratio = [], []
        for _ in range(args.reps):
            t, u = modulated_poisson_trains(200, 10.0, f, 0.5, 5_000.0, seed=int(next(seeds)))
            s = m.rate_spectrum(t, u, n_units=200, t_stop_ms=5_000.0, bin_ms=1.0)
            pk.append(s.peak_frequency_hz)
            ratio.append(s.peak_to_mean)
        print(f"| {f} | {_fmt(pk)} | {np.mean(ratio):.1f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
