"""Write a Brian2 script that runs the same network as a hetfit simulation.

"The same network" means the same neurons and the same synapses, not the same kind of
network: hetfit draws every per-neuron value and the graph of a simulation from its seed, and
the export stores exactly those draws (``<script>.npz``) for the script to load.  Only the
integration differs: Brian2 uses forward Euler (``method='euler'``) at the ``dt`` chosen at
export, hetfit's default is its exact-excursion method (``hetfit simulate --method euler``
is Brian2's scheme).  Noise, if any, comes from Brian2's own generator, so noisy networks
agree in distribution, not spike by spike.

Model (:mod:`hetfit.models.izhikevich`), neuron i of population p::

    C_i dv/dt = k_i (v - v_r,i)(v - v_theta,i) - u + eta_i + I_p(t) + g_i sum_q s_q (E_q - v)
    tau_u,i du/dt = b_i (v - v_r,i) - u
    v >= v_peak:  v <- v_reset + theta_i (v_peak - v_reset),  u <- u + kappa_i

with gates ``s_q`` that decay with the presynaptic population's ``tau_s`` and jump by
``J_pq / N_q`` for every spike of population q (all-to-all: one gate per population pair,
read by every neuron through a linked variable, the O(N) scheme hetfit uses) or by the edge
weight (graphs: one gate per neuron and presynaptic population).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from hetfit._version import __version__
from hetfit.errors import ParameterError
from hetfit.io import atomic_write_bytes, atomic_write_text
from hetfit.models.izhikevich import IzhikevichNetwork, draw_network
from hetfit.seeding import SeedLike

MARKER = "# hetfit-export brian2"


def realize(net: IzhikevichNetwork, seed: SeedLike) -> tuple[dict[str, dict[str, np.ndarray]],
                                                            Any]:
    """The per-neuron values and the graph a hetfit simulation with ``seed`` uses
    (:func:`~hetfit.models.izhikevich.draw_network`)."""
    samples, graph, _ = draw_network(net, seed)
    return samples, graph


def _input_code(pid: str, pop, dt_ms: float, t_max_ms: float
                ) -> tuple[str, np.ndarray | None]:
    c = pop.I_ext
    if len(c.times_ms) == 1 and c.times_ms[0] == 0.0:
        return repr(float(c.values_pA[0])), None
    grid = np.arange(int(round(t_max_ms / dt_ms)) + 1) * dt_ms
    return f"I_{pid}(t)", np.asarray(c.value_at(grid), dtype=np.float64)


def write_brian2(net: IzhikevichNetwork, path: str | os.PathLike, *, seed: SeedLike,
                 t_max_ms: float, dt_ms: float = 0.01, name: str = "network") -> Path:
    """Write ``path`` (a Python script) and ``path.npz`` (the network's draws for ``seed``).

    Run it with ``python script.py`` where Brian2 (>= 2.5) is installed; it prints one JSON
    line with each population's spike count and mean rate (Hz) over ``t_max_ms``.
    """
    path = Path(path)
    if path.suffix != ".py":
        raise ParameterError(f"the Brian2 script must end in .py, got {path.name}")
    values, graph = realize(net, seed)
    names = [f"p{i}" for i in range(len(net.populations))]  # Brian2 identifiers
    starts = np.concatenate([[0], np.cumsum(net.sizes)])
    arrays: dict[str, np.ndarray] = {}
    lines = [
        f"{MARKER}: network {name!r}, seed {seed}, written by hetfit {__version__}",
        "# populations: " + ", ".join(f"p{i} = {pop.name!r} (n = {pop.n})"
                                      for i, pop in enumerate(net.populations)),
        "# The same neurons and synapses as `hetfit simulate ... --seed` with this seed: hetfit's",
        "# draws (per-neuron values, graph) are in the .npz next to this script.",
        "# Usage: python THIS_SCRIPT.py [--device runtime|cpp_standalone]",
        "import json, sys, os",
        "import numpy as np",
        "from brian2 import *",
        "DATA = np.load(os.path.splitext(os.path.abspath(__file__))[0] + '.npz')",
        "if '--device' in sys.argv and sys.argv[sys.argv.index('--device') + 1] == "
        "'cpp_standalone':",
        "    set_device('cpp_standalone', directory=os.path.splitext(os.path.abspath(__file__))[0]"
        " + '_build')",
        f"defaultclock.dt = {dt_ms!r} * ms",
        f"T_MAX_MS = {t_max_ms!r}",
    ]
    pre_of = {p: [q for q in range(len(names)) if net.J[p][q] != 0.0] for p in range(len(names))}
    if graph is not None:  # which presynaptic populations reach each population at all
        src_pop = np.searchsorted(starts, np.arange(net.n_neurons), side="right") - 1
        pre_counts = np.diff(graph.indptr)
        tgt_pop = np.searchsorted(starts, graph.targets, side="right") - 1
        edge_src = np.repeat(np.arange(net.n_neurons), pre_counts)
        pre_of = {p: sorted(set(src_pop[edge_src[tgt_pop == p]].tolist()))
                  for p in range(len(names))}
    for p, pop in enumerate(net.populations):
        vals, pid = values[pop.name], names[p]
        for key, arr in vals.items():  # every per-neuron value the simulation drew
            arrays[f"{pid}__{key}"] = arr
        i_code, i_arr = _input_code(pid, pop, dt_ms, t_max_ms)
        if i_arr is not None:
            arrays[f"{pid}__I"] = i_arr
            lines.append(f"I_{pid} = TimedArray(DATA['{pid}__I'], dt=defaultclock.dt)")
        syn = " + ".join(f"s_{names[q]}*({net.populations[q].E_syn!r} - v)" for q in pre_of[p])
        noise = ""
        if pop.noise_sigma > 0:
            noise = f" + {pop.noise_sigma!r}/C*xi*ms**0.5/ms"
        eqs = [f"dv/dt = (k*(v - v_r)*(v - v_theta) - u + eta + {i_code}"
               + (f" + g*({syn})" if syn else "") + f")/(C*ms){noise} : 1",
               "du/dt = (b*(v - v_r) - u)/(tau_u*ms) : 1"]
        eqs += [f"{key} : 1 (constant)" for key in ("C", "k", "v_r", "v_theta", "b", "tau_u",
                                                   "kappa", "eta", "g", "theta_reset")]
        for q in pre_of[p]:
            pre, qid = net.populations[q], names[q]
            eqs.append(f"ds_{qid}/dt = -s_{qid}/({pre.tau_s!r}*ms) : 1" if graph
                       is not None else f"s_{qid} : 1 (linked)")
        lines.append(f'eqs_{pid} = """\n' + "\n".join(eqs) + '\n"""')
        vres = f"{pop.v_reset!r} + theta_reset*({pop.v_peak!r} - {pop.v_reset!r})"
        lines.append(f"P_{pid} = NeuronGroup({pop.n}, eqs_{pid}, threshold='v >= "
                     f"{pop.v_peak!r}', reset='v = {vres}; u += kappa', method='euler', "
                     f"name='P_{pid}')")
        for key in ("C", "k", "v_r", "v_theta", "b", "tau_u", "kappa", "eta", "g",
                    "theta_reset"):
            lines.append(f"P_{pid}.{key} = DATA['{pid}__{key}']")
        lines.append(f"P_{pid}.v = DATA['{pid}__v_init']")
        lines.append(f"P_{pid}.u = DATA['{pid}__u_init']")
    if graph is None:
        for p, post in enumerate(net.populations):
            for q in pre_of[p]:
                pre, pid, qid = net.populations[q], names[p], names[q]
                gate = f"G_{pid}_{qid}"
                lines += [
                    f"{gate} = NeuronGroup(1, 'ds/dt = -s/({pre.tau_s!r}*ms) : 1', "
                    f"method='exact', name='{gate}')",
                    f"P_{pid}.s_{qid} = linked_var({gate}, 's', "
                    f"index=np.zeros({post.n}, dtype=int))",
                    f"S_{gate} = Synapses(P_{qid}, {gate}, on_pre='s_post += "
                    f"{net.J[p][q] / pre.n!r}', name='S_{gate}')",
                    f"S_{gate}.connect()",
                ]
    else:
        src = np.repeat(np.arange(net.n_neurons, dtype=np.int64), np.diff(graph.indptr))
        tgt = graph.targets
        for p in range(len(net.populations)):
            for q in pre_of[p]:
                pid, qid = names[p], names[q]
                sel = ((src >= starts[q]) & (src < starts[q + 1])
                       & (tgt >= starts[p]) & (tgt < starts[p + 1]))
                key = f"E_{qid}_{pid}"
                arrays[f"{key}__i"] = src[sel] - starts[q]
                arrays[f"{key}__j"] = tgt[sel] - starts[p]
                arrays[f"{key}__w"] = graph.weights[sel]
                lines += [
                    f"S_{key} = Synapses(P_{qid}, P_{pid}, 'w : 1', "
                    f"on_pre='s_{qid}_post += w', name='S_{key}')",
                    f"S_{key}.connect(i=DATA['{key}__i'], j=DATA['{key}__j'])",
                    f"S_{key}.w = DATA['{key}__w']",
                ]
    lines += [f"M_{pid} = SpikeMonitor(P_{pid}, record=False)" for pid in names]
    lines += [
        "run(T_MAX_MS * ms)",
        "out = {" + ", ".join(
            f"{pop.name!r}: {{'n': {pop.n}, 'spikes': int(M_{pid}.num_spikes), "
            f"'rate_hz': float(M_{pid}.num_spikes) / {pop.n} / (T_MAX_MS / 1000.0)}}"
            for pid, pop in zip(names, net.populations)) + "}",
        "print(json.dumps(out))",
    ]
    arrays["hetfit_export"] = np.frombuffer(
        f'{{"format": "hetfit-export-brian2", "hetfit_version": "{__version__}"}}'.encode(),
        dtype=np.uint8)  # lets a rerun recognise this file as hetfit's to replace
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(path.with_suffix(".npz"), buf.getvalue())
    return atomic_write_text(path, "\n".join(lines) + "\n")
