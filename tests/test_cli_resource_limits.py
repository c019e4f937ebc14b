"""Sizes refused up front (issue 19, case 5).

Sizes this machine cannot hold (``--n 1e9``, ``--duration 1e9``, ``--dt 1e-9``, ``--budget
1e12``, ``n_e=1e9``, ``--samples 1e9``, ``--n-boot 1e9``, a dense ``--connection-p`` over
200,000 neurons) used to end in ``MemoryError`` (exit 1) or grow to GBs first;
``fit --predictive -1`` ran ``samples - 2`` simulations.  Each is now refused before anything
is allocated: exit 2, one line naming the size, the estimate, the limit and a fix.

The machine's limit is pinned with ``HETFIT_MEMORY_LIMIT_BYTES`` so that no test depends on
this machine's RAM, and no test allocates more than a few MB.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hetfit.cli.main import main
from hetfit.errors import HetfitError, ParameterError, ResourceError
from hetfit.resources import (
    MEMORY_LIMIT_ENV,
    Estimate,
    bootstrap_estimate,
    check_fit_sizes,
    check_replicates,
    check_work,
    expected_edges,
    memory_limit,
    permutation_estimate,
    posterior_samples_estimate,
    random_graph_estimate,
    require_memory,
    simulation_estimate,
    spike_buffer_length,
    training_set_estimate,
)

LIMIT = "4e9"  # bytes: what the tests pretend this machine has

TABLE = "cell_id,donor_id,cell_type,v_threshold_mV,tau_m_ms\n"


@pytest.fixture(autouse=True)
def _pinned_limit(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, LIMIT)
    monkeypatch.delenv("HETFIT_MAX_NEURON_STEPS", raising=False)


def _recording(path: Path) -> str:
    rng = np.random.default_rng(0)
    rows = [(f"{pop}{u}", float(t)) for pop in "EI" for u in range(20)
            for t in np.sort(rng.uniform(0, 1000, 15))]
    rows.sort(key=lambda r: r[1])
    path.write_text("unit,time_ms\n" + "".join(f"{u},{t:.3f}\n" for u, t in rows))
    return str(path)


def _table(path: Path, prefix: str, shift: float) -> str:
    path.write_text(TABLE + "".join(
        f"{prefix}{i},{prefix}d{i % 4},pyr,{-45 + shift + (i % 7) * 0.8:.2f},"
        f"{15 + (i % 5) * 2.0:.1f}\n" for i in range(30)))
    return str(path)


def _refused(argv, capsys, *words):
    """Run the CLI in-process: exit 2, one stderr line holding ``words``, no stdout; fast."""
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, (code, err)
    assert out == ""
    assert len(lines) == 1, err
    line = lines[0]
    assert "error:" in line and "Traceback" not in line
    for w in words:
        assert w in line, (w, line)
    assert elapsed < 1.5, f"refusal took {elapsed:.2f} s: something ran before the check"
    return line


# ---------------------------------------------------------------------------------------
# hetfit simulate
# ---------------------------------------------------------------------------------------
def test_simulate_huge_n_is_refused(capsys):
    line = _refused(["simulate", "--n", "1000000000", "--duration", "10"], capsys,
                    "1,000,000,000 neurons", "GiB of memory", "3.73 GiB available",
                    MEMORY_LIMIT_ENV, "--n")
    assert "per-neuron parameters" in line


def test_simulate_huge_duration_is_refused(capsys):
    _refused(["simulate", "--duration", "1000000000"], capsys,
             "20,000,000,000 time steps", "rates", "--bin", "--duration")


def test_simulate_tiny_dt_is_refused(capsys):
    _refused(["simulate", "--dt", "0.000000001", "--duration", "10"], capsys,
             "10,000,000,000 time steps", "spike calendar", "a larger --dt")


def test_simulate_dense_sparse_graph_is_refused_before_it_grows(capsys):
    # p * N^2 = 2e10 synapses: this grew to 5.8 GB before the MemoryError
    _refused(["simulate", "--n", "200000", "--connection-p", "0.5", "--duration", "10"],
             capsys, "200,000 neurons", "synapses", "TiB", "--connection-p")


def test_simulate_spike_buffers_count_as_reserved_and_suggest_no_spikes(capsys, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1e9")
    line = _refused(["simulate", "--n", "200000", "--duration", "10000"], capsys,
                    "reserves at least", "spike buffers", "--no-spikes")
    assert line.index("--no-spikes") < line.index("a smaller --n")


def test_simulate_that_would_run_for_days_is_refused(capsys):
    # fits in memory (--no-spikes, 100 s bins) but 2e14 neuron-steps is ~2 days on one core
    _refused(["simulate", "--n", "1000", "--duration", "10000000000", "--bin", "100000",
              "--no-spikes"], capsys, "neuron-steps", "hours", "HETFIT_MAX_NEURON_STEPS",
             "--duration")


def test_simulate_of_a_reasonable_size_is_not_refused(capsys, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "2e8")
    code = main(["simulate", "--n", "100", "--duration", "50", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert '"n_neurons": 100' in out


# ---------------------------------------------------------------------------------------
# hetfit fit
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, words", [
    (["--budget", "1000000000000"], ["1,000,000,000,000", "TiB", "--budget"]),
    (["--model", "gast2023_ei:n_e=1e9"], ["1,000,000,500 neurons", "--model", "--scheduler"]),
    (["--samples", "1000000000"], ["1,000,000,000 posterior samples", "--samples"]),
    (["--predictive", "4000"], ["posterior predictive check of 4,000", "--predictive"]),
    (["--predictive", "1000000000", "--samples", "1000000000"], ["--predictive"]),
    (["--predictive", "-1"], ["--predictive", "got -1"]),
    (["--predictive", "5000"], ["--predictive", "--samples = 4000", "got 5000"]),
], ids=["budget", "n_e", "samples", "predictive-memory", "predictive-huge",
        "predictive-negative", "predictive-above-samples"])
def test_fit_sizes_are_refused_before_any_work(extra, words, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "2e9")
    out = tmp_path / "fit"
    _refused(["fit", "--recording", _recording(tmp_path / "rec.csv"), "--out", str(out),
              *extra], capsys, *words)
    assert not out.exists()


def test_fit_default_sizes_are_not_refused_and_chunks_are_checked(monkeypatch):
    """The default problem passes at 2 GB; at 100 MB its 256-simulation chunks (311 MiB of
    spike buffers) do not."""
    from hetfit.inference.problems import ei_width_problem

    sim, prior = ei_width_problem()
    check_fit_sizes(sim, prior, budget=10_000, limit_bytes=2 * 10**9)
    with pytest.raises(ResourceError, match="one chunk of simulations.*spike buffers"):
        check_fit_sizes(sim, prior, budget=10_000, limit_bytes=10**8)
    # a remote Dask cluster simulates the chunks: only the local arrays are checked here
    check_fit_sizes(sim, prior, budget=10_000, scheduler="tcp://10.0.0.5:8786",
                    limit_bytes=10**8)


def test_width_fitter_refuses_a_huge_budget_before_simulating(tmp_path):
    from hetfit.inference.fit import WidthFitter
    from hetfit.inference.priors import ParameterPrior, Prior
    from hetfit.inference.toy_models import GaussianToy

    log = tmp_path / "executed.txt"
    prior = Prior((ParameterPrior("a", 0.0, 1.0), ParameterPrior("b", 0.0, 1.0)))
    fitter = WidthFitter(GaussianToy(log_path=str(log)), prior, budget=10**12,
                         store=tmp_path / "store")
    with pytest.raises(ResourceError, match="budget of 1,000,000,000,000"):
        fitter.fit()
    assert not log.exists() and not (tmp_path / "store").exists()


def test_predictive_check_refuses_a_negative_count_instead_of_slicing():
    """``samples[:-1][:-1]`` ran 48 of 50 samples for n_simulations=-1."""
    from hetfit.inference.diagnostics import posterior_predictive_check
    from hetfit.inference.toy_models import GaussianToy

    toy = GaussianToy()
    samples = np.random.default_rng(0).uniform(0, 1, (50, 2))
    with pytest.raises(ParameterError, match="n_simulations must be a whole number >= 1"):
        posterior_predictive_check(None, toy, np.array([0.5, 0.5]), -1, samples=samples)
    res = posterior_predictive_check(None, toy, np.array([0.5, 0.5]), 20, samples=samples)
    assert res.n_simulations + res.n_excluded == 20


# ---------------------------------------------------------------------------------------
# hetfit estimate / compare / params
# ---------------------------------------------------------------------------------------
def test_estimate_n_boot_is_refused(tmp_path, capsys):
    _refused(["estimate", "--source", "table", _table(tmp_path / "a.csv", "a", 0),
              "--n-boot", "1000000000"], capsys, "--n-boot 1,000,000,000", "GiB",
             "use a smaller --n-boot")


def test_estimate_n_gof_is_refused(tmp_path, capsys):
    _refused(["estimate", "--source", "table", _table(tmp_path / "a.csv", "a", 0),
              "--n-gof", "1000000000"], capsys, "goodness-of-fit", "--n-gof")


def test_estimate_replicates_that_fit_but_would_run_for_hours_are_refused(tmp_path, capsys,
                                                                          monkeypatch):
    # 1e8 replicates fit in 1 TB but took ~3 hours (0.1 ms each on 30 cells)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1e12")
    _refused(["estimate", "--source", "table", _table(tmp_path / "a.csv", "a", 0),
              "--n-gof", "100000000"], capsys, "--n-gof 100,000,000", "10,000,000")


@pytest.mark.parametrize("flag", ["--n-boot", "--n-perm"])
def test_compare_replicates_are_refused(flag, tmp_path, capsys):
    out = tmp_path / "cmp"
    _refused(["compare", "--healthy", _table(tmp_path / "h.csv", "h", 0), "--disease",
              _table(tmp_path / "d.csv", "d", 1.0), flag, "1000000000", "--out", str(out)],
             capsys, f"{flag} 1,000,000,000", "GiB", f"use a smaller {flag}")
    assert not out.exists()


def test_params_huge_n_is_refused(tmp_path, capsys):
    out = tmp_path / "p.json"
    _refused(["params", "--preset", "allen_human:epilepsy-spiny", "--n", "1000000000",
              "--out", str(out)], capsys, "1,000,000,000 neurons", "--n")
    assert not out.exists()


# ---------------------------------------------------------------------------------------
# library paths: Python users get the same refusals
# ---------------------------------------------------------------------------------------
def test_random_connectivity_refuses_a_dense_graph_of_200000_neurons():
    from hetfit.models.connectivity import Connectivity, random_connectivity

    t0 = time.perf_counter()
    with pytest.raises(ResourceError, match=r"200,000 x 200,000 neurons .* TiB"):
        random_connectivity(200_000, 200_000, 0.5, seed=0)
    with pytest.raises(ResourceError, match="all-to-all connectivity"):
        Connectivity.dense(100_000, 100_000, 1.0)
    assert time.perf_counter() - t0 < 1.0
    c = random_connectivity(50, 40, 0.2, seed=0)  # small graphs are built as before
    assert 0 < c.n_edges < 50 * 40


def test_simulate_batch_refuses_before_allocating():
    from hetfit.models.batch import simulate_batch
    from hetfit.models.presets import single_population

    with pytest.raises(ResourceError, match="1,000,000,000 neurons"):
        simulate_batch(single_population(n=10**9), None, 10.0, 0.1, n_sets=1)


def test_bootstrap_and_permutation_refuse_with_the_real_sizes(monkeypatch):
    from hetfit.distributions.bootstrap import bootstrap_ci
    from hetfit.distributions.compare import permutation_spread_test

    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1e8")
    x = np.linspace(0, 1, 40)
    donors = np.arange(40) % 8
    # 10^6 replicates x 40 cells of weights is 320 MB
    with pytest.raises(ResourceError, match="bootstrap of 1,000,000 replicates of 40 cells"):
        bootstrap_ci(x, donors, ["sd"], n_boot=10**6, seed=0)
    with pytest.raises(ResourceError, match="1,000,000 permutations of 40 cells"):
        permutation_spread_test(x[:20], x[20:], donors[:20], donors[20:] + 8, n_perm=10**6)
    assert bootstrap_ci(x, donors, ["sd"], n_boot=200, seed=0).n_boot == 200


# ---------------------------------------------------------------------------------------
# the estimator against hand-computed byte counts
# ---------------------------------------------------------------------------------------
def test_simulation_estimate_hand_computed():
    # 10 neurons, 10 ms at 0.5 ms: 20 steps, 1 ms bins -> 10 bins; ring ceil(20/0.5)+3 = 43
    est = simulation_estimate((10,), 10.0, 0.5, 1.0, n_sets=2, chunk_size=2)
    assert est.committed == {
        "rates": 2 * 8 * 2 * 1 * 10,                          # rate counts + rates
        "spike counts and ISI sums": 3 * 8 * 2 * 10 + 8 * 6 * 2,
        "per-neuron parameters": (208 + 112) * 2 * 10,
        "synapses": 0,
        "kernel state": 80 * 10 + 8 * 2,                      # + spike flags, 8-byte words
        "spike calendar (20 ms / dt slots)": 43 * (16 + 8 * 1),
    }
    assert spike_buffer_length(10, 10.0) == 6 + 4096             # 60 Hz for 10 ms + slack
    assert est.reserved == {"spike buffers": 16 * 2 * 4102}
    assert est.total_bytes == 9144 + 131264


def test_simulation_estimate_is_a_lower_bound_of_the_real_arrays():
    """The arrays simulate_batch allocates in numpy (traced) are at least the estimate
    without the kernel's own buffers (numba allocates those outside tracemalloc)."""
    import tracemalloc

    from hetfit.models.batch import simulate_batch
    from hetfit.models.presets import gast2023_ei

    net = gast2023_ei(n_e=300, n_i=300, connection_p=0.2, sampling="random")
    simulate_batch(net, None, 20.0, 0.1, n_sets=1, record_spikes=True)  # compile first
    est = simulation_estimate(net.sizes, 100.0, 0.1, None, n_sets=3, chunk_size=2,
                              n_edges=expected_edges(net), sparse=True)
    tracemalloc.start()
    try:
        simulate_batch(net, None, 100.0, 0.1, n_sets=3, chunk_size=2, record_spikes=True,
                       seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    numpy_part = est.total_bytes - est.committed["kernel state"] - est.committed[
        "spike calendar (20 ms / dt slots)"]
    assert numpy_part <= peak <= 3 * numpy_part


def test_expected_edges_per_block():
    from hetfit.models.presets import gast2023_ei, single_population

    assert expected_edges(single_population(n=10)) == 0                   # all-to-all
    assert expected_edges(single_population(n=10, connection_p=0.5)) == 0.5 * 10 * 9
    # EE 0.5*10*9, EI 0.5*10*20, IE 0.5*20*10, II 0.5*20*19
    assert expected_edges(gast2023_ei(n_e=10, n_i=20, connection_p=0.5)) == 435.0
    assert expected_edges(single_population(n=10, J=0.0, connection_p=0.5)) == 0


def test_other_estimates_hand_computed():
    assert bootstrap_estimate(1000, 4, 30, 2).total_bytes == 16 * 1000 * 4 + 8 * 1000 * 30 \
        + 16 * 1000 * 2
    assert permutation_estimate(99, 6, 20).total_bytes == 16 * 100 * 6 + 16 * 100 * 20
    assert training_set_estimate(1000, 3, 12).total_bytes == 2 * 1000 * (24 + 96 + 9) \
        + 4 * 1000 * 15
    assert posterior_samples_estimate(4000, 3).total_bytes == 16 * 4000 * 3
    g = random_graph_estimate(100, 200, 0.1)
    assert g.committed == {"synapses": 56 * 2000, "random blocks": 9 * 20000}
    assert random_graph_estimate(100, 200, 0.1, fixed_indegree=True).total_bytes == 40 * 2000


def test_bootstrap_estimate_covers_the_arrays_bootstrap_ci_draws():
    from hetfit.distributions.bootstrap import (
        draw_cluster_counts,
        make_clusters,
        replicate_weights,
    )

    cl = make_clusters(30, np.arange(30) % 6)
    counts = draw_cluster_counts(cl.n_clusters, 500, np.random.default_rng(0))
    weights = replicate_weights(cl, counts)
    est = bootstrap_estimate(500, cl.n_clusters, 30, 1)
    # the int64 draws and their float64 copy, then the weights
    assert est.total_bytes >= 2 * counts.nbytes + weights.nbytes


# ---------------------------------------------------------------------------------------
# limits
# ---------------------------------------------------------------------------------------
def test_memory_limit_override_and_machine(monkeypatch):
    assert memory_limit().committed == 4 * 10**9
    assert memory_limit(12345).address_space == 12345
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    lim = memory_limit()
    assert lim.committed is None or lim.committed > 0
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ParameterError, match=MEMORY_LIMIT_ENV):
        memory_limit()


def test_require_memory_committed_and_reserved():
    small = Estimate("x", {"a": 100}, {"b": 100})
    assert require_memory(small, "fix", limit_bytes=200) is small
    with pytest.raises(ResourceError, match=r"x needs at least 100 B .* 50 B available"):
        require_memory(small, "fix", limit_bytes=50)
    with pytest.raises(ResourceError, match=r"x reserves at least 200 B .*may reserve 150 B"):
        require_memory(small, "fix", limit_bytes=150)
    err = pytest.raises(ResourceError, require_memory, small, "do less", limit_bytes=50).value
    assert isinstance(err, HetfitError) and err.exit_code == 2 and "do less" in err.hint


def test_check_work_and_replicates(monkeypatch):
    assert check_work(1000, 20_000, 10, "fix") == 2e8
    with pytest.raises(ResourceError, match="neuron-steps"):
        check_work(10**6, 10**9, 1, "fix")
    check_work(10**6, 10**9, 1, "fix", parallel=16)  # 1e15 over 16 cores: allowed
    monkeypatch.setenv("HETFIT_MAX_NEURON_STEPS", "1e6")
    with pytest.raises(ResourceError):
        check_work(1000, 20_000, 1, "fix")
    check_replicates("--n-boot", 10**7)
    with pytest.raises(ResourceError, match="--n-boot 10,000,001"):
        check_replicates("--n-boot", 10**7 + 1)
