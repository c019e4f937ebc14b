"""Local processes, threads and a Dask LocalCluster give the same simulations for the same
seeds (one code path: a concurrent.futures executor)."""

from __future__ import annotations

import numpy as np
import pytest

from hetfit.errors import ParameterError
from hetfit.inference.parallel import SimulationExecutor
from hetfit.inference.priors import Prior
from hetfit.inference.store import SimulationStore
from hetfit.inference.toy_models import GaussianToy

PRIOR = Prior.from_bounds({"a": (0.0, 1.0), "b": (0.0, 1.0)})
SIM = GaussianToy(fail_prob=0.1, n_noise=1)


def _reference(tmp_path):
    store = SimulationStore(tmp_path / "serial", SIM, PRIOR, seed=11, chunk_size=25)
    rep = store.run(200)
    assert rep.executor == "in-process"
    return store.load()


def _assert_same(a, b):
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.seeds, b.seeds)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.x, b.x)  # NaN in the same places, values bit-identical


@pytest.mark.slow  # starts two worker processes (~10 s on 2 busy cores)
def test_dask_local_cluster_gives_the_same_simulations(tmp_path):
    pytest.importorskip("dask.distributed")
    ref = _reference(tmp_path)
    with SimulationExecutor(scheduler="local:2") as ex:
        assert ex.description.startswith("dask scheduler tcp://")
        store = SimulationStore(tmp_path / "dask", SIM, PRIOR, seed=11, chunk_size=25)
        rep = store.run(200, executor=ex)
    assert rep.n_simulated == 200
    _assert_same(store.load(), ref)


def test_dask_client_and_address_are_accepted(tmp_path):
    """Same results through a Dask Client and a scheduler address (in-process workers, so
    this fast test runs in every CI job; the multi-process cluster test is marked slow)."""
    distributed = pytest.importorskip("dask.distributed")
    ref = _reference(tmp_path)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            with SimulationExecutor(scheduler=client) as ex:
                s1 = SimulationStore(tmp_path / "client", SIM, PRIOR, seed=11, chunk_size=25)
                s1.run(200, executor=ex)
        with SimulationExecutor(scheduler=cluster.scheduler_address) as ex:
            s2 = SimulationStore(tmp_path / "addr", SIM, PRIOR, seed=11, chunk_size=25)
            s2.run(200, executor=ex)
    _assert_same(s1.load(), ref)
    _assert_same(s2.load(), ref)


def test_local_processes_and_threads_give_the_same_simulations(tmp_path):
    ref = _reference(tmp_path)
    for backend in ("processes", "threads"):
        with SimulationExecutor(workers=2, backend=backend) as ex:
            store = SimulationStore(tmp_path / backend, SIM, PRIOR, seed=11, chunk_size=25)
            store.run(200, executor=ex)
        _assert_same(store.load(), ref)


def test_bad_executor_arguments():
    with pytest.raises(ParameterError, match="workers"):
        SimulationExecutor(workers=0)
    with pytest.raises(ParameterError, match="backend"):
        SimulationExecutor(workers=2, backend="gpu")
    with pytest.raises(ParameterError, match="scheduler"):
        with SimulationExecutor(scheduler=3.5):
            pass
    with pytest.raises(ParameterError, match="local:4"):
        with SimulationExecutor(scheduler="local:x"):
            pass
