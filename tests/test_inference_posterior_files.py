"""Posterior files (issue 19): the default format loads without unpickling for every
estimator hetfit trains; crafted files run no code; files from before the change still load
(through their numpy sidecar, or with the explicit legacy flag) or say how to migrate."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sbi")

from cli_helpers import run_cli  # noqa: E402

from hetfit.errors import IncompatibleArtifactError, InputFileError  # noqa: E402
from hetfit.inference import mdn_numpy  # noqa: E402
from hetfit.inference.artifacts import (  # noqa: E402
    convert_posterior,
    load_posterior,
    read_metadata,
    save_posterior,
    sidecar_path,
)
from hetfit.inference.estimators import EstimatorConfig, train_posterior  # noqa: E402
from hetfit.inference.priors import ParameterPrior, Prior  # noqa: E402
from hetfit.inference.toy_models import GaussianToy  # noqa: E402
from hetfit.seeding import child_seeds  # noqa: E402

PRIOR = Prior((ParameterPrior("a", 0.1, 1.0, scale="log"), ParameterPrior("b", 0.0, 1.0)))
TOY = GaussianToy(sigma=0.1)
FAST = dict(training_batch_size=128, learning_rate=1e-3, stop_after_epochs=3, max_num_epochs=6,
            hidden_features=16, num_transforms=2, mcmc_chains=4, mcmc_warmup=20)


@pytest.fixture(scope="module")
def data():
    theta = PRIOR.sample(600, seed=1)
    return theta, TOY.simulate(theta, child_seeds(2, 600))


def _train(data, **kw):
    theta, batch = data
    post, _ = train_posterior(theta, batch.x, PRIOR, batch.status, seed=0, n_threads=1,
                              config=EstimatorConfig(**{**FAST, **kw}),
                              metadata={"note": "test posterior"})
    return post


@pytest.fixture(scope="module")
def mdn(data):
    return _train(data)


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


@pytest.mark.parametrize("kw", [
    {"density_estimator": "nsf"},
    {"embedding": "fc"},
    {"method": "nle"},
    {"method": "nre"},
], ids=["npe-nsf", "npe-mdn-fc-embedding", "nle", "nre"])
def test_every_estimator_round_trips_through_plain_arrays(data, tmp_path, kw):
    post = _train(data, **kw)
    assert post.numpy_mdn is None  # these need the torch network rebuilt from the weights
    path = save_posterior(post, tmp_path / "posterior.npz")
    assert all(n.endswith(".npy") for n in _members(path))
    with np.load(path, allow_pickle=False) as z:  # loads with pickling disabled
        assert "header" in z.files
    again = load_posterior(path, n_threads=1)
    x = data[1].x[5]
    np.testing.assert_array_equal(again.sample(x, 40, seed=3), post.sample(x, 40, seed=3))
    assert again.method == post.method and again.space == post.space
    assert read_metadata(path)["note"] == "test posterior"
    assert json.loads(sidecar_path(path).read_text())["metadata"]["note"] == "test posterior"


def test_mixture_density_posterior_saves_both_forms(mdn, tmp_path):
    path = save_posterior(mdn, tmp_path / "p.npz")
    names = set(_members(path))
    assert any(n.startswith("mdn_") for n in names) and any(n.startswith("state_") for n in names)
    x = np.array([0.5, 0.4])
    np.testing.assert_array_equal(load_posterior(path).sample(x, 100, seed=2),
                                  mdn.sample(x, 100, seed=2))


# -- crafted files ---------------------------------------------------------------------
class _Payload:
    """Unpickling this creates a file: stands in for arbitrary code in a shared posterior."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def _legacy_payload(post, extra=None):
    """What hetfit wrote before format 2: one torch.save pickle of the sbi posterior (with
    the estimator settings in the metadata, as WidthFitter recorded them)."""
    post.metadata.setdefault("training", {"config": post.config})
    payload = {"format": "hetfit-posterior", "format_version": 1, "metadata": post.metadata,
               "prior": post.prior.to_dict(), "summary_names": list(post.summary_names),
               "method": post.method, "estimator": post.estimator,
               "reference_x": post.reference_x, "space": post.space,
               "numpy_mdn": None if post.numpy_mdn is None else post.numpy_mdn.to_arrays()}
    if extra is not None:
        payload["extra"] = extra
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def _write_legacy(post, pt, sidecar=True, extra=None):
    data = _legacy_payload(post, extra)
    pt.write_bytes(data)
    sidecar_path(pt).write_text(json.dumps({"format": "hetfit-posterior", "format_version": 1,
                                            "method": post.method,
                                            "metadata": post.metadata}))
    if sidecar and post.numpy_mdn is not None:
        header = {"pt_sha256": hashlib.sha256(data).hexdigest(), "metadata": post.metadata,
                  "prior": post.prior.to_dict(), "summary_names": list(post.summary_names),
                  "method": post.method, "space": post.space}
        pt.with_suffix(".npz").write_bytes(mdn_numpy.pack(post.numpy_mdn, header,
                                                          post.reference_x))
    return pt


def _recording(path):
    rng = np.random.default_rng(0)
    rows = sorted((f"{p}{k}", round(float(t), 3)) for k in range(3) for p in "EI"
                  for t in rng.uniform(0, 2000, 30))
    path.write_text("unit,time_ms\n" + "".join(f"{u},{t}\n" for u, t in
                                                sorted(rows, key=lambda r: r[1])))
    return path


def test_crafted_pt_runs_no_code_when_applied(mdn, tmp_path, capsys):
    marker = tmp_path / "pwned"
    crafted = _write_legacy(mdn, tmp_path / "posterior.pt", sidecar=False,
                            extra=_Payload(marker))
    # the crafted payload really does run code when unpickled (the danger is real) ...
    torch.load(io.BytesIO(crafted.read_bytes()), weights_only=False)
    assert marker.exists()
    marker.unlink()
    # ... but hetfit does not unpickle it, through the CLI or the API
    code, out, err = run_cli(capsys, ["fit", "--quiet", "--recording",
                                   str(_recording(tmp_path / "r.csv")),
                                   "--posterior", str(crafted), "--json"])
    assert code == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1 and "--trust-pickle" in err, err
    with pytest.raises(IncompatibleArtifactError, match="old pickle format"):
        load_posterior(crafted)
    assert not marker.exists()


def test_copied_sidecar_does_not_make_a_crafted_pt_load(mdn, data, tmp_path):
    marker = tmp_path / "pwned"
    other = _write_legacy(_train(data, parameter_space="box"), tmp_path / "other.pt")
    crafted = _write_legacy(mdn, tmp_path / "posterior.pt", sidecar=False,
                            extra=_Payload(marker))
    # a legitimate sidecar copied next to the crafted file: checksum mismatch, no fallback
    crafted.with_suffix(".npz").write_bytes(other.with_suffix(".npz").read_bytes())
    with pytest.raises(IncompatibleArtifactError, match="old pickle format"):
        load_posterior(crafted)
    assert not marker.exists()


def test_crafted_npz_with_a_pickled_object_is_refused(mdn, tmp_path):
    marker = tmp_path / "pwned"
    good = save_posterior(mdn, tmp_path / "good.npz")
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["state_0000"] = np.array([_Payload(marker)], dtype=object)
    crafted = tmp_path / "crafted.npz"
    np.savez(crafted, **arrays)
    with pytest.raises(InputFileError, match="pickled object"):
        load_posterior(crafted)
    assert not marker.exists()


def test_missing_header_keys_and_other_models_are_refused_before_building(mdn, data, tmp_path):
    nsf = save_posterior(_train(data, density_estimator="nsf"), tmp_path / "nsf.npz")
    with np.load(nsf, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays.pop("header")).decode())

    def write(name, head, arrs):
        path = tmp_path / name
        np.savez(path, header=np.frombuffer(json.dumps(head).encode(), np.uint8), **arrs)
        return path

    no_network = {k: v for k, v in header.items() if k != "network"}
    with pytest.raises(IncompatibleArtifactError, match="lacks 'network'") as info:
        load_posterior(write("a.npz", no_network, arrays))
    assert "\n" not in str(info.value)
    # trained for another model and stripped of its weights: the model check comes first,
    # so the error is about the model, not the missing weights
    head = dict(header, metadata=dict(header["metadata"], simulator_fingerprint="other",
                                      summary_version=TOY.summary_version,
                                      summary_names=list(TOY.summary_names),
                                      param_names=list(TOY.param_names)))
    no_weights = {k: v for k, v in arrays.items() if not k.startswith("state_")}
    with pytest.raises(IncompatibleArtifactError, match="different model"):
        load_posterior(write("b.npz", head, no_weights), simulator=TOY)
    with pytest.raises(IncompatibleArtifactError, match="lacks the weights"):
        load_posterior(write("c.npz", head, no_weights))
    newer = dict(header, format_version=99)
    with pytest.raises(IncompatibleArtifactError, match="upgrade hetfit"):
        load_posterior(write("d.npz", newer, arrays))


# -- files written before this format --------------------------------------------------
def test_legacy_posterior_with_its_sidecar_loads_without_unpickling(mdn, tmp_path,
                                                                     monkeypatch):
    pt = _write_legacy(mdn, tmp_path / "posterior.pt")

    def no_unpickling(*a, **k):
        raise AssertionError("torch.load must not be called")

    monkeypatch.setattr(torch, "load", no_unpickling)
    x = np.array([0.3, 0.7])
    np.testing.assert_array_equal(load_posterior(pt).sample(x, 200, seed=4),
                                  mdn.sample(x, 200, seed=4))


def test_legacy_pickle_needs_the_flag_and_converts(data, tmp_path, capsys):
    post = _train(data, density_estimator="nsf")  # no numpy sidecar for flows
    pt = _write_legacy(post, tmp_path / "old.pt")
    with pytest.raises(IncompatibleArtifactError, match="convert_posterior"):
        load_posterior(pt)
    trusted = load_posterior(pt, trust_pickle=True)
    x = np.array([0.3, 0.7])
    expected = post.sample(x, 50, seed=4)
    np.testing.assert_array_equal(trusted.sample(x, 50, seed=4), expected)
    new = convert_posterior(pt, tmp_path / "new.npz", trust_pickle=True)
    np.testing.assert_array_equal(load_posterior(new).sample(x, 50, seed=4), expected)
