"""Issue 19: model specs, the simulation store and Dask clusters fail with one clear error.

- a model spec with a wrong key, type or range is refused up front, naming the key and the
  expected type (checked against the problem function's signature);
- a chunk file the manifest does not list and that cannot be read (a crash, a partial copy)
  is set aside, not trusted and not deleted, and its simulations are run again; a listed
  chunk that changed is refused when the store opens, not after the simulations;
- a Dask scheduler that dies, or a cluster left without workers, stops the run with one
  line (exit 2 from the CLI) that says how to resume, within a bounded time, keeping what is
  stored; distributed's own log lines do not reach stderr in quiet mode.

The clusters are in-process (``processes=False``) to keep each test to a few seconds.  Runs
that could hang on a regression are run in a thread with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from hetfit.errors import ClusterError, IncompatibleArtifactError, ParameterError, SchemaError
from hetfit.inference.parallel import SimulationExecutor
from hetfit.inference.priors import Prior
from hetfit.inference.problems import parse_model_spec, problem_from_spec
from hetfit.inference.store import SimulationStore
from hetfit.inference.toy_models import GaussianToy

PRIOR = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)})


def _within(seconds: float, fn):
    """Run ``fn()`` in a thread; return what it returned or raised, failing the test if it
    is still running after ``seconds`` (a hang must not stall the suite)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t0 = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s (hangs)"
    return box, time.monotonic() - t0


@contextlib.contextmanager
def _cluster(n_workers: int = 1):
    """An in-process LocalCluster, closed with a short timeout: closing one whose scheduler
    a test killed otherwise waits 30 s for it."""
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                       processes=False, dashboard_address=None)
    try:
        yield cluster
    finally:
        with contextlib.suppress(Exception):
            cluster.close(timeout=2)


# The CLI test swaps the task function; Dask pickles it (by reference, as a module-level
# function), so what it needs is found here rather than in a closure.
_KILL: dict = {}


def _task_that_closes_the_scheduler(*args):
    """The third task closes the scheduler: it starts only after the first chunk is stored
    (two tasks in flight on one worker thread), so the scheduler goes while work remains."""
    _KILL["calls"] += 1
    if _KILL["calls"] == 3:
        cluster = _KILL["cluster"]
        threading.Thread(target=cluster.sync, args=(cluster.scheduler.close,),
                         daemon=True).start()
        time.sleep(0.5)
    return _KILL["real"](*args)


# -- model specs --------------------------------------------------------------------------


@pytest.mark.parametrize("spec, error, fragments", [
    ('gast2023_ei:n_e="many"', ParameterError, ["'n_e'", "an integer >= 1", '"many"']),
    ("gast2023_ei:n_e=many", ParameterError, ["'n_e'", "an integer"]),
    ("gast2023_ei:n_e=NaN", ParameterError, ["'n_e'", "an integer"]),
    ("gast2023_ei:n_e=2.5", ParameterError, ["'n_e'", "an integer"]),
    ("gast2023_ei:n_e=true", ParameterError, ["'n_e'", "an integer"]),
    ("gast2023_ei:n_i=0", ParameterError, ["'n_i'", ">= 1"]),
    ("gast2023_ei:dt_ms=0", ParameterError, ["'dt_ms'", "> 0"]),
    ("gast2023_ei:duration_ms=Infinity", ParameterError, ["'duration_ms'", "finite"]),
    ("gast2023_ei:transient_ms=-1", ParameterError, ["'transient_ms'", ">= 0"]),
    ('gast2023_ei:pooled="true"', ParameterError, ["'pooled'", "true or false",
                                                   "without quotes"]),
    ("gast2023_ei:pooled=yes", ParameterError, ["'pooled'", "true or false"]),
    ("gast2023_ei:raw_traces=1", ParameterError, ["'raw_traces'", "true or false"]),
    ("gast2023_ei:delta_v_range=[2,1]", ParameterError, ["'delta_v_range'", "low < high"]),
    ("gast2023_ei:delta_v_range=5", ParameterError, ["'delta_v_range'", "[low, high]"]),
    ("gast2023_ei:delta_v_range=[1,2,3]", ParameterError, ["'delta_v_range'", "2 numbers"]),
    ('gast2023_ei:drive_i_range=[0,"a"]', ParameterError, ["'drive_i_range'", "or null"]),
    ("gast2023_ei:width_scale=cubic", ParameterError, ["'width_scale'", '"log", "linear"']),
    ("gast2023_ei:units_per_population=3", ParameterError, ["'units_per_population'"]),
    ("gast2023_ei:summaries=1", ParameterError, ["'summaries'", "SummarySpec"]),
    ("gast2023_ei:bogus=1", ParameterError, ["unknown option 'bogus'", "n_e"]),
    ("gast2023_ei:n_e=4,n_e=5", ParameterError, ["'n_e'", "twice"]),
    ({"problem": "gast2023_ei", "options": [1, 2]}, SchemaError, ['"options"', "object"]),
    ({"problem": "gast2023_ei", "option": {"n_e": 4}}, SchemaError, ["unknown key", "option"]),
    ({"options": {}}, SchemaError, ['"problem"']),
])
def test_bad_model_options_name_the_key_and_the_expected_type(spec, error, fragments):
    with pytest.raises(error) as info:
        parse_model_spec(spec)
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"


def test_model_spec_file_must_hold_an_object(tmp_path):
    f = tmp_path / "spec.json"
    f.write_text(json.dumps([{"problem": "gast2023_ei"}]))
    with pytest.raises(SchemaError, match="holds a JSON list, not an object"):
        parse_model_spec(str(f))


def test_good_options_are_converted_from_json():
    name, opts = parse_model_spec(
        "gast2023_ei:n_e=1e2,n_i=40.0,delta_v_range=[0.3,2],drive_e_range=null,"
        "pooled=true,width_scale=linear")
    assert name == "gast2023_ei"
    assert opts == {"n_e": 100, "n_i": 40, "delta_v_range": (0.3, 2.0), "drive_e_range": None,
                    "pooled": True, "width_scale": "linear"}
    assert type(opts["n_e"]) is int and type(opts["delta_v_range"][1]) is float
    sim, prior = problem_from_spec({"problem": "gast2023_ei", "options": opts})
    assert prior.names == ("delta_v_E", "delta_v_I")


# -- the simulation store -----------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "empty", "not-a-zip"])
def test_unreadable_chunk_missing_from_the_manifest_is_set_aside_and_simulated_again(
        tmp_path, damage, capsys):
    ref = SimulationStore(tmp_path / "ref", GaussianToy(), PRIOR, seed=3, chunk_size=10)
    ref.run(40)
    path = tmp_path / "s"
    store = SimulationStore(path, GaussianToy(), PRIOR, seed=3, chunk_size=10)
    store.run(30)
    # What a crash can leave: the chunk for [30, 40) on disk but not yet in the manifest.
    whole = (ref.chunk_dir / "c000000030-000000040.npz").read_bytes()
    bad = {"truncated": whole[: len(whole) // 2], "empty": b"", "not-a-zip": b"x" * 500}[damage]
    leftover = store.chunk_dir / "c000000030-000000040.npz"
    leftover.write_bytes(bad)
    capsys.readouterr()
    reopened = SimulationStore(path, GaussianToy(), PRIOR, seed=3, chunk_size=10)
    err = capsys.readouterr().err
    assert "was not finished" in err and "set aside" in err
    aside = store.chunk_dir / "c000000030-000000040.npz.unreadable"
    assert aside.read_bytes() == bad  # kept as it was, under a name the store ignores
    assert reopened.n_stored == 30
    report = reopened.run(40)
    assert (report.n_reused, report.n_simulated) == (30, 10)
    np.testing.assert_array_equal(reopened.load().x, ref.load().x)
    # Setting aside never replaces a file: an earlier one of the same name stays.
    earlier = store.chunk_dir / "c000000040-000000050.npz.unreadable"
    earlier.write_bytes(b"set aside before")
    (store.chunk_dir / "c000000040-000000050.npz").write_bytes(b"")
    SimulationStore(path, GaussianToy(), PRIOR, seed=3, chunk_size=10)
    assert earlier.read_bytes() == b"set aside before"
    assert (store.chunk_dir / "c000000040-000000050.npz.unreadable.1").read_bytes() == b""


def test_listed_chunk_that_changed_is_refused_when_the_store_opens(tmp_path):
    store = SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)
    store.run(20)
    f = store.chunk_dir / "c000000010-000000020.npz"
    damaged = f.read_bytes()[:100]
    f.write_bytes(damaged)
    # refused on opening, before any simulation of a larger budget is spent
    with pytest.raises(IncompatibleArtifactError, match="changed after it was written") as info:
        SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)
    assert str(f) in str(info.value) and "\n" not in str(info.value)
    assert f.read_bytes() == damaged  # a confirmed chunk is the user's to decide about


def test_damaged_manifest_entries_are_one_clear_error(tmp_path):
    store = SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)
    store.run(10)
    manifest = json.loads(store.manifest_path.read_text())
    manifest["chunks"] = [{"start": 0}]
    store.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleArtifactError, match="manifest .* is damaged"):
        SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)
    store.manifest_path.write_text("[1, 2]")
    with pytest.raises(IncompatibleArtifactError, match="not a hetfit simulation store"):
        SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)


# -- Dask: addresses, dead schedulers, missing workers ------------------------------------


@pytest.mark.parametrize("address", ["foo bar", "tcp://", "http://host:8786", "host:99999",
                                     "local:0", "local:-2", "local:x", ""])
def test_malformed_scheduler_is_refused_naming_the_accepted_forms(address):
    with pytest.raises(ParameterError, match="bad scheduler") as info:
        SimulationExecutor(scheduler=address)
    assert "local" in str(info.value)


def test_unreachable_scheduler_fails_fast_without_noise(capfd):
    pytest.importorskip("dask.distributed")
    import socket

    silent = socket.socket()  # accepts connections, never speaks Dask
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    try:
        for address, why in [("tcp://127.0.0.1:1", "connection refused"),
                             (f"tcp://127.0.0.1:{port}", "not a Dask scheduler")]:
            def connect(address=address):
                with SimulationExecutor(scheduler=address, connect_timeout=1):
                    pass
            box, seconds = _within(15, connect)
            assert isinstance(box.get("error"), ClusterError), box
            assert why in str(box["error"]) and seconds < 8
    finally:
        silent.close()
    import gc

    gc.collect()  # a half-made Client closing itself here would print a traceback
    assert capfd.readouterr().err == ""


def test_scheduler_dying_mid_run_is_a_cluster_error_and_a_rerun_resumes(tmp_path):
    sim = GaussianToy(delay_s=0.002)
    ref = SimulationStore(tmp_path / "ref", sim, PRIOR, seed=5, chunk_size=10)
    ref.run(300)
    store = SimulationStore(tmp_path / "s", sim, PRIOR, seed=5, chunk_size=10)
    with _cluster() as cluster:
        def run():
            with SimulationExecutor(scheduler=cluster.scheduler_address) as ex:
                def kill_after_two(report):
                    if report.chunks_written == 2:
                        cluster.sync(cluster.scheduler.close)
                store.run(300, executor=ex, on_chunk=kill_after_two)
        box, seconds = _within(30, run)
    err = box.get("error")
    assert isinstance(err, ClusterError), box
    text = str(err)
    assert "lost the Dask scheduler" in text and "resumes" in text and "\n" not in text
    stored = store.n_stored
    assert 20 <= stored < 300 and f"the {stored} of 300 simulations" in text
    again = SimulationStore(tmp_path / "s", sim, PRIOR, seed=5, chunk_size=10)
    report = again.run(300)  # in-process now: resumes what the cluster did not finish
    assert (report.n_reused, report.n_simulated) == (stored, 300 - stored)
    np.testing.assert_array_equal(again.load().x, ref.load().x)


def test_no_worker_stops_the_run_after_the_worker_timeout(tmp_path):
    store = SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)
    with _cluster(n_workers=0) as cluster:
        def run():
            with SimulationExecutor(scheduler=cluster.scheduler_address,
                                    worker_timeout=1) as ex:
                store.run(50, executor=ex)
        box, seconds = _within(20, run)
    assert isinstance(box.get("error"), ClusterError), box
    assert "no Dask worker has been available" in str(box["error"])
    assert "for 1 s" in str(box["error"]) and 1 <= seconds < 10
    assert store.n_stored == 0


def test_workers_lost_mid_run_stop_the_run_and_keep_what_is_stored(tmp_path):
    store = SimulationStore(tmp_path / "s", GaussianToy(delay_s=0.002), PRIOR, seed=1,
                            chunk_size=10)
    with _cluster() as cluster:
        def run():
            with SimulationExecutor(scheduler=cluster.scheduler_address,
                                    worker_timeout=1) as ex:
                def kill_workers(report):
                    if report.chunks_written == 2:
                        for w in list(cluster.workers.values()):
                            cluster.sync(w.close)
                store.run(300, executor=ex, on_chunk=kill_workers)
        box, _ = _within(30, run)
    assert isinstance(box.get("error"), ClusterError), box
    assert "no Dask worker" in str(box["error"]) and store.n_stored >= 20
    assert f"the {store.n_stored} of 300 simulations" in str(box["error"])


# -- the same through the CLI: one line, exit 2 --------------------------------------------


def _recording(path: Path) -> str:
    rng = np.random.default_rng(0)
    rows = [(f"{pop}{u}", t) for pop in "EI" for u in range(4)
            for t in np.sort(rng.uniform(0, 200, 12))]
    path.write_text("unit,time_ms\n" + "".join(f"{u},{t:.3f}\n" for u, t in sorted(
        rows, key=lambda r: r[1])))
    return str(path)


def _fit_argv(tmp_path: Path, *extra: str) -> list[str]:
    return ["fit", "--quiet", "--recording", _recording(tmp_path / "rec.csv"),
            "--model", "gast2023_ei:n_e=10,n_i=10,transient_ms=20", "--budget", "1024",
            "--n-validation", "0", "--out", str(tmp_path / "fit"), *extra]


def _one_line_error(code, out, err) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}; stderr: {err}"
    assert out == "" and len(lines) == 1, f"stdout {out!r}, stderr {err!r}"
    assert lines[0].startswith("hetfit fit: error: ")
    return lines[0]


def test_cli_scheduler_dying_mid_run_is_one_line(tmp_path, capfd, monkeypatch):
    import hetfit.inference.parallel as parallel
    from hetfit.cli.main import main

    with _cluster() as cluster:
        _KILL.update(calls=0, cluster=cluster, real=parallel.run_simulation_task)
        monkeypatch.setattr(parallel, "run_simulation_task", _task_that_closes_the_scheduler)
        try:
            box, _ = _within(60, lambda: main(_fit_argv(
                tmp_path, "--scheduler", cluster.scheduler_address)))
        finally:
            _KILL.clear()
    out, err = capfd.readouterr()
    line = _one_line_error(box.get("value", box.get("error")), out, err)
    assert "lost the Dask scheduler" in line and "rerun the same command" in line
    assert "Traceback" not in err and "distributed" not in err
    chunks = list((tmp_path / "fit" / "simulations" / "train" / "chunks").glob("c*.npz"))
    assert chunks and f"the {256 * len(chunks)} of 1024 simulations" in line


def test_cli_without_workers_stops_after_worker_timeout(tmp_path, capfd):
    from hetfit.cli.main import main

    with _cluster(n_workers=0) as cluster:
        box, seconds = _within(30, lambda: main(_fit_argv(
            tmp_path, "--scheduler", cluster.scheduler_address, "--worker-timeout", "1")))
    out, err = capfd.readouterr()
    line = _one_line_error(box.get("value", box.get("error")), out, err)
    assert "no Dask worker has been available" in line and "--worker-timeout" in line
    assert seconds < 20


def test_cli_unreachable_scheduler_is_refused_quickly_before_any_output(tmp_path, capfd):
    from hetfit.cli.main import main

    box, seconds = _within(15, lambda: main(_fit_argv(
        tmp_path, "--scheduler", "tcp://127.0.0.1:1")))
    out, err = capfd.readouterr()
    line = _one_line_error(box.get("value", box.get("error")), out, err)
    assert "connection refused" in line and seconds < 5
    assert not (tmp_path / "fit").exists()


def _fails(x):
    raise ValueError(f"simulation {x} failed for its own reason")


def test_an_error_inside_an_in_process_task_is_not_masked():
    # the handler for dead worker processes named concurrent.futures.process without
    # importing it, which turned every in-process failure into an AttributeError
    from hetfit.inference.parallel import SimulationExecutor

    with SimulationExecutor(None, 1, None) as ex, pytest.raises(ValueError, match="own reason"):
        list(ex.map_unordered(_fails, [(0, (0,))]))
