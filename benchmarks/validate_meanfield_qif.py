"""QIF network (deterministic Lorentzian quantiles) against the exact MPR mean field.

1. Steady-state rates on both branches of the bistable range (tau = 10 ms, Delta = 1, J = 15)
   for N = 10^3, 10^4, 10^5: relative error against the N -> inf mean field and against the
   self-consistent rate of the finite quantile sample (the finite-N prediction).
2. Hysteresis: eta_bar swept up and down in steps of 0.1 (hold 150 ms) at N = 10^4; the jump
   points against the analytic saddle-nodes, and the same protocol in the mean field.
3. A slow continuous ramp (MPR 2015, Fig. 2 style: eta_bar from -7 to -2 and back in 5 s
   each way) at N = 10^4, network and mean field.
4. Network cost: neuron updates per second.

    /work/venv/bin/python benchmarks/validate_meanfield_qif.py [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.optimize import brentq

from hetfit.io import atomic_write_json
from hetfit.models.heterogeneity import lorentzian_quantiles
from hetfit.models.meanfield import MPRMeanField, mpr_fixed_point_rates, mpr_saddle_nodes
from hetfit.models.qif import QIFParams, simulate_qif

TAU, DELTA, J = 10.0, 1.0, 15.0
DT = 0.01


def finite_n_rates_hz(eta_bar: float, n: int) -> np.ndarray:
    eta = lorentzian_quantiles(eta_bar, DELTA, n)

    def f(R: float) -> float:
        return float(np.mean(np.sqrt(np.maximum(eta + J * R, 0.0)))) / math.pi - R

    grid = np.geomspace(1e-3, 5.0, 500)
    vals = np.array([f(R) for R in grid])
    idx = np.nonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))[0]
    return np.array([brentq(f, grid[i], grid[i + 1], xtol=1e-12) for i in idx]) / TAU * 1e3


def stepped(n: int, etas: list[float], kick: bool, hold: float = 300.0) -> tuple[list[float], float]:
    seq = [etas[0] + (3.0 if kick else 0.0), *etas]
    dur = [50.0] + [hold] * len(etas)
    drive = np.concatenate([np.full(int(round(d / DT)), v) for v, d in zip(seq, dur)])
    p = QIFParams(tau_ms=TAU, eta_bar=0.0, delta_eta=DELTA, J=J)
    t0 = time.perf_counter()
    res = simulate_qif(p, n, drive.size * DT, DT, I_ext=drive, record_spikes=False)
    wall = time.perf_counter() - t0
    out = []
    for j in range(len(etas)):
        end = 50.0 + (j + 1) * hold
        m = (res.rate_t_ms > end - 150.0) & (res.rate_t_ms < end)
        out.append(float(res.rates_hz[0, m].mean()))
    return out, n * drive.size / wall


def steady_states(ns: list[int]) -> list[dict]:
    rows = []
    cases = [("high", [-2.0, -3.0, -4.0, -5.0, -5.5], True),
             ("low", [-8.0, -6.5, -5.0, -4.0, -3.4], False)]
    for n in ns:
        for branch, etas, kick in cases:
            rates, ups = stepped(n, etas, kick)
            for e, r in zip(etas, rates):
                mf = mpr_fixed_point_rates(e, DELTA, J, TAU)
                mf_r = mf[-1] if branch == "high" else mf[0]
                fin = finite_n_rates_hz(e, n)
                fin_r = fin[-1] if branch == "high" else fin[0]
                rows.append(dict(n=n, branch=branch, eta_bar=e, network_hz=r, meanfield_hz=mf_r,
                                 finite_n_hz=fin_r, err_mf=r / mf_r - 1, err_finite_n=r / fin_r - 1,
                                 updates_per_s=ups))
    return rows


def hysteresis(n: int, step: float, hold: float) -> dict:
    vals = np.round(np.arange(-7.0, -2.0 + 1e-9, step), 10)
    seq = np.concatenate([vals, vals[::-1]])
    drive = np.repeat(seq, int(round(hold / DT)))
    p = QIFParams(tau_ms=TAU, eta_bar=0.0, delta_eta=DELTA, J=J)
    res = simulate_qif(p, n, drive.size * DT, DT, I_ext=drive, record_spikes=False)
    t = res.rate_t_ms
    means = np.array([res.rates_hz[0, (t > (j + 1) * hold - 30) & (t < (j + 1) * hold)].mean()
                      for j in range(seq.size)])
    up, down = means[: vals.size], means[vals.size:][::-1]
    sweep = MPRMeanField(p).hysteresis_sweep("eta_bar", vals, t_settle_ms=hold - 30,
                                             t_measure_ms=30, dt_ms=DT)
    (lo, _), (hi, _) = mpr_saddle_nodes(DELTA, J)
    return dict(
        n=n, step=step, hold_ms=hold, fold_low=lo, fold_high=hi,
        net_jump_up=float(vals[up > 40].min()), net_jump_down=float(vals[down > 40].min()),
        mf_jump_up=float(vals[sweep.up_mean_hz > 40].min()),
        mf_jump_down=float(vals[sweep.down_mean_hz > 40].min()),
    )


def ramp(n: int, t_half_ms: float) -> dict:
    steps = int(round(t_half_ms / DT))
    drive = np.concatenate([np.linspace(-7.0, -2.0, steps), np.linspace(-2.0, -7.0, steps)])
    p = QIFParams(tau_ms=TAU, eta_bar=0.0, delta_eta=DELTA, J=J)
    res = simulate_qif(p, n, drive.size * DT, DT, I_ext=drive, record_spikes=False)
    mf = MPRMeanField(p).simulate(drive.size * DT, DT, I_ext=drive, record_dt_ms=1.0)
    eta_bins = np.interp(res.rate_t_ms, np.arange(drive.size) * DT, drive)
    eta_mf = np.interp(mf.t_ms, np.arange(drive.size) * DT, drive)

    def jumps(t, r, eta):
        half = t < t_half_ms
        up = eta[half][np.argmax(r[half] > 40)]
        down = eta[~half][np.argmax(r[~half] < 40)]
        return float(up), float(down)

    nu, nd = jumps(res.rate_t_ms, res.rates_hz[0], eta_bins)
    mu, md = jumps(mf.t_ms, mf.rates_hz[0], eta_mf)
    return dict(n=n, ramp_ms_each_way=t_half_ms, net_jump_up=nu, net_jump_down=nd,
                mf_jump_up=mu, mf_jump_down=md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 10^4 only, shorter ramps")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    ns = [10_000] if a.quick else [1_000, 10_000, 100_000]
    out: dict = {"params": dict(tau_ms=TAU, delta_eta=DELTA, J=J, dt_ms=DT)}
    (lo, _), (hi, _) = mpr_saddle_nodes(DELTA, J)
    print(f"analytic saddle-nodes: eta_bar = {lo:.5f}, {hi:.5f}")
    rows = steady_states(ns)
    out["steady_states"] = rows
    print("\n| N | branch | eta_bar | network (Hz) | mean field (Hz) | error vs MF | finite-N theory (Hz) | error vs finite-N |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']} | {r['branch']} | {r['eta_bar']} | {r['network_hz']:.3f} | "
              f"{r['meanfield_hz']:.3f} | {100 * r['err_mf']:+.2f}% | {r['finite_n_hz']:.3f} | "
              f"{100 * r['err_finite_n']:+.2f}% |")
    ups = [r["updates_per_s"] for r in rows if r["n"] == 10_000]
    print(f"\nnetwork cost at N=10^4: {np.median(ups):.3g} neuron updates/s (single thread)")
    h = hysteresis(10_000, 0.1, 150.0)
    out["hysteresis_steps"] = h
    print("\nstepwise hysteresis (N=10^4, step 0.1, hold 150 ms):", h)
    rp = ramp(10_000, 2000.0 if a.quick else 5000.0)
    out["hysteresis_ramp"] = rp
    print("continuous ramp:", rp)
    if a.json:
        atomic_write_json(a.json, out)


if __name__ == "__main__":
    main()
