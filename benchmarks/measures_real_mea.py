"""Activity measures on every real MEA recording in ../shared/data, summarised by condition.

Run: /work/venv/bin/python benchmarks/measures_real_mea.py

Datasets (see their PROVENANCE.md): the retinal-wave repository (Hennig2011 one P5 retina
through control / bicuculline / washout plus a P9 control; Kirkby2013 11 wild-type and 11
beta2-nAChR knockout retinas, paired by number) and Cotterill et al. 2016 hiPSC-derived
networks (133 recordings, 12-167 days in vitro).

Settings (fixed, chosen for seconds-long retinal waves and culture network bursts, not tuned
to any outcome): chi with tau = 100 ms; pairwise count correlation in 1 s bins; Kuramoto
order over the span where units have phases ("any", units with >= 10 spikes); rate-threshold
network bursts (50 ms bins, 100 ms Gaussian smoothing, 3 x mean rate, >= 5 spikes from >= 2
channels).  Comparisons are reported with their test and p-value whichever way they go.

Data quirk: the Kirkby2013 spike times are stored with 5 significant digits, i.e. a 10 ms
resolution between 100 and 1000 s and 100 ms beyond 1000 s (many equal times per channel).
The knockout recordings are longer (~1,000-2,200 s) than the wild-type ones (~1,000-1,800 s),
so the full recordings differ in time resolution; the paired comparison is therefore also
made on the first 950 s of every recording (10 ms resolution in both groups).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from hetfit import measures as m
from hetfit.data_adapters.activity import read_mea_hdf5

SHARED = Path(os.environ.get("HETFIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
COLUMNS = ["rate_hz", "cv_isi", "corr_1s", "chi_100ms", "kuramoto", "bursts_per_min",
           "frac_in_bursts", "participation"]


def measure(path: Path, t_stop_ms: float | None = None) -> dict:
    rec = read_mea_hdf5(path)
    if t_stop_ms is not None:
        rec = rec.select(0.0, t_stop_ms)
    kw = rec.spike_arrays()
    b = m.network_bursts(**kw, bin_ms=50.0, smooth_ms=100.0)
    return {
        "file": path.name,
        "n_channels": rec.n_units,
        "duration_s": rec.duration_ms / 1e3,
        "n_spikes": rec.n_spikes,
        "rate_hz": m.rate_spread(**kw).mean_hz,
        "cv_isi": m.mean_cv_isi(**kw),
        "corr_1s": m.mean_pairwise_correlation(**kw, bin_ms=1000.0),
        "chi_100ms": m.spike_train_chi(**kw, tau_ms=100.0),
        "kuramoto": m.kuramoto_order(**kw, dt_ms=100.0, span="any", min_spikes=10),
        "bursts_per_min": b.rate_hz * 60.0,
        "frac_in_bursts": b.fraction_spikes_in_bursts,
        "participation": b.mean_participation,
    }


def _table(df: pd.DataFrame, label: str) -> str:
    cols = [label, "n", *COLUMNS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, g in df.groupby(label, sort=False):
        cells = [str(key), str(len(g))]
        for c in COLUMNS:
            v = g[c].to_numpy(dtype=float)
            cells.append(f"{np.nanmedian(v):.3g}" if len(g) > 1 else f"{v[0]:.3g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _paired(k: pd.DataFrame) -> None:
    wt = k[k["group"] == "WT"].set_index("pair")
    ko = k[k["group"] == "B2KO"].set_index("pair")
    for col in COLUMNS:
        d = (ko[col] - wt.loc[ko.index, col]).dropna()
        p = stats.wilcoxon(d).pvalue if len(d) >= 5 and np.any(d != 0) else math.nan
        print(f"| {col} | {d.median():.3g} | {int((d > 0).sum())}/{len(d)} | {p:.3g} |")


def main() -> None:
    t0 = time.perf_counter()
    retina = SHARED / "retinal_waves_mea"
    culture = SHARED / "cotterill2016_hipsc_mea"
    r_index = pd.read_csv(retina / "index.csv")
    c_index = pd.read_csv(culture / "index.csv")
    r = pd.DataFrame([measure(retina / f) for f in r_index["file"]]).merge(r_index, on="file")
    c = pd.DataFrame([measure(culture / f) for f in c_index["file"]]).merge(c_index, on="file")
    elapsed = time.perf_counter() - t0
    print(f"{len(r) + len(c)} recordings, {int(r['n_spikes'].sum() + c['n_spikes'].sum())} spikes, "
          f"read and measured in {elapsed:.1f} s\n")

    print("#### Hennig2011: one retina through a pharmacology series (single recordings)\n")
    h = r[r["source"] == "Hennig2011"].copy()
    h["recording"] = [f"P{a} {cond}" for a, cond in zip(h["age_postnatal_day"], h["condition"])]
    print(_table(h, "recording"))

    print("\n#### Kirkby2013: wild type vs beta2-nAChR knockout (medians; 11 retinas each)\n")
    k = r[r["source"] == "Kirkby2013"].copy()
    k["pair"] = k["file"].str.extract(r"Kirkby2013_(\d+)_")[0]
    k["group"] = np.where(k["file"].str.contains("_WT_"), "WT", "B2KO")
    print(_table(k, "group"))
    print("\nPaired by retina number (Wilcoxon signed-rank, two-sided; KO - WT):\n")
    print("| measure | median KO - WT | pairs KO > WT | p |")
    print("|---|---|---|---|")
    _paired(k)
    k950 = pd.DataFrame([measure(retina / f, t_stop_ms=950_000.0) for f in k["file"]])
    k950["pair"], k950["group"] = k["pair"].to_numpy(), k["group"].to_numpy()
    print("\nSame, first 950 s of every recording (equal 10 ms time resolution):\n")
    print("| measure | median KO - WT | pairs KO > WT | p |")
    print("|---|---|---|---|")
    _paired(k950)

    print("\n#### Cotterill2016 hiPSC networks: measures vs days in vitro\n")
    c["age"] = pd.cut(c["days_in_vitro"], [0, 21, 35, 60, 200],
                      labels=["<=21 d", "22-35 d", "36-60 d", ">60 d"])
    print(_table(c, "age"))
    print("\nSpearman correlation with days in vitro over all 133 recordings (several per culture,"
          " so recordings are not independent; p is indicative only):\n")
    print("| measure | rho | p |")
    print("|---|---|---|")
    for col in COLUMNS:
        ok = c[col].notna()
        res = stats.spearmanr(c.loc[ok, "days_in_vitro"], c.loc[ok, col])
        print(f"| {col} | {res.statistic:.3f} | {res.pvalue:.3g} |")
    n_nan = {col: int(pd.concat([r[col], c[col]]).isna().sum()) for col in COLUMNS}
    print(f"\nNaN values (no bursts -> NaN participation; too few units with spikes): {n_nan}")


if __name__ == "__main__":
    main()
