"""Resumable simulation store: nothing lost, nothing repeated, mismatches refused."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from hetfit.errors import IncompatibleArtifactError, InsufficientDataError, ParameterError
from hetfit.inference.priors import Prior
from hetfit.inference.store import SimulationStore
from hetfit.inference.toy_models import GaussianToy

PRIOR = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)})


def _executed(log) -> list[int]:
    return [int(v) for v in log.read_text().split()] if log.exists() else []


def test_plan_is_a_pure_function_of_seed_and_index(tmp_path):
    s1 = SimulationStore(tmp_path / "a", GaussianToy(), PRIOR, seed=5, chunk_size=16)
    s2 = SimulationStore(tmp_path / "b", GaussianToy(), PRIOR, seed=5, chunk_size=16)
    th, sd = s1.planned(0, 100)
    # any sub-range, computed separately, equals the same rows of the whole plan
    th2, sd2 = s2.planned(37, 71)
    np.testing.assert_array_equal(th[37:71], th2)
    np.testing.assert_array_equal(sd[37:71], sd2)
    assert len(set(sd.tolist())) == 100  # distinct simulation seeds
    assert PRIOR.contains(th).all()
    s3 = SimulationStore(tmp_path / "c", GaussianToy(), PRIOR, seed=6, chunk_size=16)
    assert not np.array_equal(s3.planned(0, 100)[0], th)


def test_run_stores_simulator_output_and_extends_budget(tmp_path):
    sim = GaussianToy(fail_prob=0.2, log_path=str(tmp_path / "log"))
    store = SimulationStore(tmp_path / "s", sim, PRIOR, seed=1, chunk_size=32)
    rep = store.run(100)
    assert (rep.n_requested, rep.n_reused, rep.n_simulated, rep.chunks_written) == (100, 0, 100, 4)
    data = store.load()
    th, seeds = store.planned(0, 100)
    direct = GaussianToy(fail_prob=0.2).simulate(th, seeds)
    np.testing.assert_array_equal(data.x, direct.x)  # NaN rows included, bit for bit
    np.testing.assert_array_equal(data.status, direct.status)
    assert rep.status_counts == data.status_counts()
    assert 0 < rep.status_counts["ok"] < 100
    # a larger budget simulates only the new indices
    rep2 = store.run(150)
    assert (rep2.n_reused, rep2.n_simulated) == (100, 50)
    assert sorted(_executed(tmp_path / "log")) == sorted(store.planned(0, 150)[1].tolist())
    with pytest.raises(InsufficientDataError, match="not complete"):
        store.load(151)


def test_exception_after_k_chunks_then_resume_loses_and_repeats_nothing(tmp_path):
    log = tmp_path / "log"
    sim = GaussianToy(fail_prob=0.1, log_path=str(log))
    store = SimulationStore(tmp_path / "s", sim, PRIOR, seed=2, chunk_size=10)

    def stop_after_3(report):
        if report.chunks_written == 3:
            raise KeyboardInterrupt("simulated interruption")

    with pytest.raises(KeyboardInterrupt):
        store.run(95, on_chunk=stop_after_3)
    assert store.n_stored == 30
    before = _executed(log)
    assert len(before) == 30
    resumed = SimulationStore(tmp_path / "s", sim, PRIOR, seed=2, chunk_size=10)
    rep = resumed.run(95)
    assert (rep.n_reused, rep.n_simulated) == (30, 65)
    after = _executed(log)[30:]
    assert set(after).isdisjoint(before)  # nothing repeated
    reference = SimulationStore(tmp_path / "ref", GaussianToy(fail_prob=0.1), PRIOR, seed=2,
                                chunk_size=10)
    reference.run(95)
    a, b = resumed.load(), reference.load()
    np.testing.assert_array_equal(a.x, b.x)  # nothing lost
    np.testing.assert_array_equal(a.seeds, b.seeds)
    np.testing.assert_array_equal(a.theta, b.theta)


def test_sigkill_mid_run_then_resume(tmp_path):
    """A run killed with SIGKILL keeps every finished chunk; the resumed run simulates only
    what is missing; the union equals an uninterrupted run."""
    log = tmp_path / "log"
    script = tmp_path / "fill.py"
    script.write_text(textwrap.dedent(f"""
        from hetfit.inference.priors import Prior
        from hetfit.inference.store import SimulationStore
        from hetfit.inference.toy_models import GaussianToy
        prior = Prior.from_bounds({{"a": (0.0, 1.0), "b": (0.0, 1.0)}})
        sim = GaussianToy(fail_prob=0.1, delay_s=0.01, log_path={str(log)!r})
        SimulationStore({str(tmp_path / 's')!r}, sim, prior, seed=4, chunk_size=10).run(200)
    """))
    env = dict(os.environ, HETFIT_QUIET="1")
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    chunks = tmp_path / "s" / "chunks"
    deadline = time.time() + 60
    while time.time() < deadline:
        if chunks.exists() and len(list(chunks.glob("c*.npz"))) >= 4:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "s" / ".lock").exists()  # the killed process could not clean up
    executed_before = _executed(log)
    sim = GaussianToy(fail_prob=0.1, log_path=str(log))
    store = SimulationStore(tmp_path / "s", sim, PRIOR, seed=4, chunk_size=10)
    stored_before = store.n_stored
    assert 40 <= stored_before < 200
    stored_seeds = set(store.load(stored_before).seeds.tolist())
    rep = store.run(200)  # stale lock of the dead process is taken over
    assert rep.n_reused == stored_before
    assert rep.n_simulated == 200 - stored_before
    resumed_seeds = _executed(log)[len(executed_before):]
    assert len(resumed_seeds) == 200 - stored_before
    assert stored_seeds.isdisjoint(resumed_seeds)  # nothing stored was simulated again
    # at most the one chunk in flight at the kill was executed twice
    assert len(executed_before) - stored_before <= 10
    ref = SimulationStore(tmp_path / "ref", GaussianToy(fail_prob=0.1), PRIOR, seed=4,
                          chunk_size=10)
    ref.run(200)
    np.testing.assert_array_equal(store.load().x, ref.load().x)
    assert not (tmp_path / "s" / ".lock").exists()


def test_orphan_chunk_written_before_manifest_is_adopted(tmp_path):
    log = tmp_path / "log"
    sim = GaussianToy(log_path=str(log))
    store = SimulationStore(tmp_path / "s", sim, PRIOR, seed=3, chunk_size=10)
    store.run(40)
    # simulate a crash between writing the last chunk and updating the manifest
    manifest = json.loads(store.manifest_path.read_text())
    manifest["chunks"] = manifest["chunks"][:-1]
    store.manifest_path.write_text(json.dumps(manifest))
    (store.chunk_dir / ".c000000040-000000050.npz.tmp").write_bytes(b"partial")
    reopened = SimulationStore(tmp_path / "s", sim, PRIOR, seed=3, chunk_size=10)
    assert reopened.n_stored == 40
    assert not list(store.chunk_dir.glob(".*.tmp"))  # leftover temp files removed
    rep = reopened.run(40)
    assert rep.n_simulated == 0
    assert len(_executed(log)) == 40


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"simulator": GaussianToy(fail_prob=0.3)}, "simulator_fingerprint"),
        ({"prior": Prior.from_bounds({"a": (0.0, 2.0), "b": (0.0, 1.0)})}, "prior"),
        ({"seed": 8}, "seed"),
        ({"chunk_size": 11}, "chunk_size"),
    ],
)
def test_mismatched_store_is_refused(tmp_path, change, fragment):
    args = {"simulator": GaussianToy(), "prior": PRIOR, "seed": 7, "chunk_size": 10}
    SimulationStore(tmp_path / "s", **args).run(20)
    with pytest.raises(IncompatibleArtifactError, match=fragment) as info:
        SimulationStore(tmp_path / "s", **{**args, **change})
    assert "another --store directory" in str(info.value)


def test_tampered_or_foreign_chunks_are_refused(tmp_path):
    store = SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10)
    store.run(20)
    f = sorted(store.chunk_dir.glob("c*.npz"))[0]
    f.write_bytes(f.read_bytes()[:-3] + b"xyz")
    with pytest.raises(IncompatibleArtifactError, match="checksum|unreadable|changed"):
        SimulationStore(tmp_path / "s", GaussianToy(), PRIOR, seed=1, chunk_size=10).load()
    other = SimulationStore(tmp_path / "o", GaussianToy(), PRIOR, seed=2, chunk_size=10)
    other.run(10)
    src = sorted(other.chunk_dir.glob("c*.npz"))[0]
    (tmp_path / "t" / "chunks").mkdir(parents=True)
    (tmp_path / "t" / "chunks" / src.name).write_bytes(src.read_bytes())
    with pytest.raises(IncompatibleArtifactError, match="does not belong"):
        SimulationStore(tmp_path / "t", GaussianToy(), PRIOR, seed=1, chunk_size=10)


def test_bad_arguments(tmp_path):
    (tmp_path / "notempty").mkdir()
    (tmp_path / "notempty" / "data.csv").write_text("x")
    with pytest.raises(IncompatibleArtifactError, match="not empty"):
        SimulationStore(tmp_path / "notempty", GaussianToy(), PRIOR, seed=1)
    with pytest.raises(ParameterError, match="seed"):
        SimulationStore(tmp_path / "x", GaussianToy(), PRIOR, seed=-1)
    with pytest.raises(ParameterError, match="do not match"):
        SimulationStore(tmp_path / "x", GaussianToy(param_names=("b", "a")), PRIOR, seed=1)
    store = SimulationStore(tmp_path / "y", GaussianToy(), PRIOR, seed=1)
    with pytest.raises(ParameterError, match="budget"):
        store.run(0)
    (tmp_path / "y" / ".lock").write_text(f"{os.getpid()}@{socket.gethostname()}")
    with pytest.raises(IncompatibleArtifactError, match="another process"):
        store.run(5)
