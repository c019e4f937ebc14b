"""Saving and loading amortized posteriors with the metadata that produced them.

**Format (version 2, the default).**  A posterior file is one ``.npz`` archive written
atomically, holding plain arrays only:

- ``header`` — UTF-8 JSON (as bytes): ``format``, ``format_version``, the metadata
  (``simulator_spec`` and ``simulator_fingerprint`` of the model it was trained for,
  ``summary_names``, ``summary_version``, ``prior`` and its fingerprint, versions, the
  ``training`` budget and settings, calibration results), the prior, the method, the training
  space and a description of the network: its
  :class:`~hetfit.inference.estimators.EstimatorConfig`, input sizes and the name, shape and
  dtype of every weight;
- ``state_0000`` ... — the network's weights (its ``state_dict``), one array each;
- ``mdn_*`` — for NPE's mixture density network, the same weights laid out for
  :class:`~hetfit.inference.mdn_numpy.NumpyMDN`, so the posterior applies without torch;
- ``reference_x`` — prior-predictive summaries for the misspecification check.

Loading never unpickles: the archive is opened with ``allow_pickle=False`` (an archive that
holds a pickled object is refused), the header is read and the posterior is checked against
the requested model and prior *before* anything is built; then the network is rebuilt from
its configuration and the weights are copied in.  A JSON file next to it (``<name>.json``)
repeats the metadata for people.

**Legacy files (format version 1, hetfit before this format).**  They are ``torch.save``
pickles (``posterior.pt``), and unpickling runs whatever code the file names — a posterior
someone sends you could do anything.  :func:`load_posterior` therefore loads them only:

- through their numpy sidecar (``posterior.npz`` next to ``posterior.pt``, arrays only) when
  its SHA-256 matches the ``.pt`` — every NPE mixture-density posterior had one; or
- with ``trust_pickle=True`` (CLI ``--trust-pickle``), for files you made yourself or trust.

Otherwise it refuses with one line saying so; :func:`convert_posterior` re-saves a trusted
legacy file in the safe format.  A sidecar that does not match its ``.pt`` is never a reason
to fall back to unpickling.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from hetfit._version import __version__
from hetfit.errors import IncompatibleArtifactError, InputFileError
from hetfit.inference import mdn_numpy
from hetfit.inference.posterior import WidthPosterior
from hetfit.inference.priors import Prior
from hetfit.io import atomic_write_bytes, atomic_write_json, existing_file, to_jsonable

FORMAT = "hetfit-posterior"
FORMAT_VERSION = 2
LEGACY_PICKLE_VERSION = 1
_HEADER_KEYS = ("format", "format_version", "metadata", "prior", "summary_names", "method",
                "space", "network")
_LEGACY_HINT = ("if you made it yourself or trust its source, rerun with --trust-pickle "
                "(Python: trust_pickle=True) and re-save it with "
                "hetfit.inference.convert_posterior; otherwise train a new posterior")


def posterior_metadata(simulator: Any, prior: Prior, training: dict[str, Any] | None = None,
                       **extra: Any) -> dict[str, Any]:
    """Metadata describing what a posterior was trained on (JSON-able)."""
    import sbi
    import torch

    return to_jsonable({
        "simulator_spec": simulator.spec(),
        "simulator_fingerprint": simulator.fingerprint(),
        "param_names": list(simulator.param_names),
        "summary_names": list(simulator.summary_names),
        "summary_version": simulator.summary_version,
        "prior": prior.to_dict(),
        "prior_fingerprint": prior.fingerprint(),
        "hetfit_version": __version__,
        "sbi_version": sbi.__version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "training": dict(training or {}),
        **extra,
    })


def sidecar_path(path: str | os.PathLike) -> Path:
    """The human-readable JSON metadata next to a posterior file."""
    p = Path(path)
    return p.with_suffix(".json") if p.suffix in (".pt", ".npz") else p.with_name(
        p.name + ".json")


def numpy_sidecar_path(path: str | os.PathLike) -> Path:
    """Where a legacy ``.pt`` posterior kept its numpy sidecar."""
    p = Path(path)
    return p.with_name(p.name + ".npz") if p.suffix != ".pt" else p.with_suffix(".npz")


# -- saving ------------------------------------------------------------------------------
def _network_config(posterior: WidthPosterior) -> dict[str, Any] | None:
    if posterior.config is not None:
        return dict(posterior.config)
    cfg = (posterior.metadata.get("training") or {}).get("config")
    return dict(cfg) if isinstance(cfg, dict) else None


def _pack(posterior: WidthPosterior) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    network: dict[str, Any] = {"n_theta": posterior.prior.dim,
                               "n_x": len(posterior.summary_names), "state": [],
                               "config": _network_config(posterior),
                               "numpy_mdn": posterior.numpy_mdn is not None}
    if posterior.estimator is not None:
        import sbi
        import torch

        from hetfit.inference.estimators import trained_network

        if network["config"] is None:
            raise IncompatibleArtifactError(
                "this posterior does not record the network configuration it was trained "
                "with, so its weights could not be loaded again",
                hint="train it with hetfit.inference.train_posterior or WidthFitter")
        net = trained_network(posterior.estimator)
        network.update(sbi_version=sbi.__version__, torch_version=torch.__version__,
                       network_class=type(net).__name__)
        for i, (key, tensor) in enumerate(net.state_dict().items()):
            name = f"state_{i:04d}"  # keys hold dots; npz member names stay plain
            arr = tensor.detach().cpu().numpy().copy()
            arrays[name] = arr
            network["state"].append({"key": key, "array": name, "shape": list(arr.shape),
                                     "dtype": str(arr.dtype)})
    elif posterior.numpy_mdn is None:  # pragma: no cover - WidthPosterior forbids it
        raise IncompatibleArtifactError("the posterior has no network to save")
    if posterior.numpy_mdn is not None:
        arrays.update({f"mdn_{k}": v for k, v in posterior.numpy_mdn.to_arrays().items()})
    if posterior.reference_x is not None:
        arrays["reference_x"] = np.asarray(posterior.reference_x, dtype=np.float64)
    header = to_jsonable({
        "format": FORMAT, "format_version": FORMAT_VERSION, "metadata": posterior.metadata,
        "prior": posterior.prior.to_dict(), "summary_names": list(posterior.summary_names),
        "method": posterior.method, "space": posterior.space, "network": network,
        "hetfit_version": __version__,
    })
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def save_posterior(posterior: WidthPosterior, path: str | os.PathLike) -> Path:
    """Write ``posterior`` (with its metadata) to ``path`` in the safe format (version 2),
    atomically, and its JSON metadata next to it; returns the path.  ``.npz`` is the
    conventional suffix."""
    path = Path(path).expanduser()
    data = _pack(posterior)
    atomic_write_bytes(path, data)
    atomic_write_json(sidecar_path(path), {
        "format": FORMAT, "format_version": FORMAT_VERSION, "method": posterior.method,
        "sha256": hashlib.sha256(data).hexdigest(), "metadata": posterior.metadata})
    return path


# -- compatibility -----------------------------------------------------------------------
def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Paths where two JSON-like values differ (first few)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{prefix}{k}")
            else:
                out += _diff(a[k], b[k], f"{prefix}{k}.")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _diff(x, y, f"{prefix}{i}.")
        return out
    return [] if a == b else [prefix.rstrip(".") or "<value>"]


def check_compatible(metadata: dict[str, Any], simulator: Any = None,
                     prior: Prior | None = None, source: str = "posterior") -> None:
    """Raise :class:`IncompatibleArtifactError` if ``metadata`` was made for another model,
    summary set/version or prior."""
    if not isinstance(metadata, dict):
        raise IncompatibleArtifactError(f"{source} has no readable metadata",
                                        hint="the file is damaged; train a new posterior")
    problems = []
    if simulator is not None:
        if metadata.get("summary_version") != simulator.summary_version:
            problems.append(f"summary version {metadata.get('summary_version')!r} vs "
                            f"{simulator.summary_version!r}")
        if list(metadata.get("summary_names") or []) != list(simulator.summary_names):
            problems.append("summary statistics differ")
        if list(metadata.get("param_names") or []) != list(simulator.param_names):
            problems.append(f"parameters {metadata.get('param_names')} vs "
                            f"{list(simulator.param_names)}")
        if metadata.get("simulator_fingerprint") != simulator.fingerprint():
            where = _diff(metadata.get("simulator_spec"), to_jsonable(simulator.spec()))
            problems.append("model differs" + (f" in {', '.join(where[:6])}" if where else ""))
    if prior is not None and metadata.get("prior_fingerprint") != prior.fingerprint():
        problems.append("prior differs in " + ", ".join(
            _diff(metadata.get("prior"), to_jsonable(prior.to_dict()))[:6]))
    if problems:
        raise IncompatibleArtifactError(
            f"{source} was trained for a different model: {'; '.join(problems)}",
            hint="train a posterior for this model (hetfit fit without --posterior, or "
            "WidthFitter.fit) or pass the matching model spec",
        )


# -- loading -----------------------------------------------------------------------------
def _kind(p: Path) -> str:
    """``"npz"`` (arrays only), ``"pickle"`` (torch/pickle payload) or ``"other"``."""
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise InputFileError(f"posterior file {p} is damaged ({exc})",
                                 hint="copy it again or train a new posterior") from exc
        # torch.save archives hold a pickle (".../data.pkl"); numpy archives only .npy members
        return "pickle" if any(n.endswith(".pkl") for n in names) else "npz"
    if magic[:1] == b"\x80":  # pickle protocol 2+ (torch's pre-zip format too)
        return "pickle"
    return "other"


def _read_npz(p: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Header and arrays of an ``.npz`` archive, never unpickling."""
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputFileError(
                f"posterior file {p} holds a pickled object, which hetfit never writes and "
                "will not load (it could run code)",
                hint="use a posterior file written by hetfit, or train a new one") from exc
        raise InputFileError(f"cannot read posterior file {p}: {exc}",
                             hint="the file is damaged; copy it again or retrain") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(f"cannot read posterior file {p}: {exc}",
                             hint="the file is damaged; copy it again or retrain") from exc
    raw = arrays.pop("header", None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise IncompatibleArtifactError(f"{p} is not a hetfit posterior file (no header)",
                                        hint="pass a posterior written by hetfit fit")
    try:
        header = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise IncompatibleArtifactError(f"the header of posterior file {p} is damaged",
                                        hint="copy it again or retrain") from exc
    if not isinstance(header, dict):
        raise IncompatibleArtifactError(f"the header of posterior file {p} is not an object")
    return header, arrays


def _require_keys(header: dict[str, Any], keys: tuple[str, ...], p: Path) -> None:
    missing = [k for k in keys if k not in header]
    if missing:
        raise IncompatibleArtifactError(
            f"posterior file {p} lacks {', '.join(map(repr, missing))}: it is damaged or was "
            "not written by hetfit", hint="train a new posterior")


def _from_legacy_sidecar(head: dict[str, Any], arrays: dict[str, np.ndarray], p: Path,
                         n_threads: int | None) -> WidthPosterior:
    _require_keys(head, ("prior", "summary_names"), p)
    weights = {k[4:]: v for k, v in arrays.items() if k.startswith("mdn_")}
    return WidthPosterior(None, Prior.from_dict(head["prior"]), head["summary_names"],
                          method=head.get("method", "npe"),
                          metadata=dict(head.get("metadata") or {}),
                          reference_x=arrays.get("reference_x"), n_threads=n_threads,
                          space=head.get("space", "unbounded"),
                          numpy_mdn=mdn_numpy.NumpyMDN.from_arrays(weights))


def _rebuild_network(network: dict[str, Any], arrays: dict[str, np.ndarray], prior: Prior,
                     p: Path, n_threads: int | None) -> Any:
    """The ``sbi`` posterior with the saved weights: architecture from the configuration,
    weights from plain arrays (shapes checked by ``load_state_dict``)."""
    from hetfit.inference.estimators import (
        EstimatorConfig,
        build_sbi_posterior,
        make_trainer,
        network_builder,
    )
    from hetfit.inference.posterior import torch_context

    config = EstimatorConfig(**network["config"])
    n_theta, n_x = int(network["n_theta"]), int(network["n_x"])
    with torch_context(0, n_threads) as torch:
        builder = network_builder(config, n_x)
        # the batch only sizes the network and seeds its z-scoring, which the saved weights
        # (buffers included) then overwrite
        net = builder(torch.randn(64, n_theta), torch.randn(64, n_x))
        state = {}
        for item in network["state"]:
            arr = arrays.get(item["array"])
            if arr is None:
                raise IncompatibleArtifactError(
                    f"posterior file {p} lacks the weights {item['key']!r}",
                    hint="the file is damaged; copy it again or retrain")
            state[item["key"]] = torch.from_numpy(np.ascontiguousarray(arr))
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise IncompatibleArtifactError(
                f"the weights in {p} do not fit the network its header describes "
                f"({' '.join(str(exc).split())[:200]})",
                hint="the file is damaged or was written by an incompatible sbi version; "
                "retrain") from exc
        net.eval()
        trainer = make_trainer(config, prior, builder)
        return build_sbi_posterior(trainer, net, config)


def _load_safe(p: Path, header: dict[str, Any], arrays: dict[str, np.ndarray], simulator: Any,
               prior: Prior | None, n_threads: int | None) -> WidthPosterior:
    if header.get("format") == mdn_numpy.FORMAT:  # a legacy numpy sidecar given directly
        check_compatible(header.get("metadata"), simulator, prior, source=f"posterior {p.name}")
        return _from_legacy_sidecar(header, arrays, p, n_threads)
    if header.get("format") != FORMAT:
        raise IncompatibleArtifactError(f"{p} is not a hetfit posterior file",
                                        hint="pass a posterior written by hetfit fit")
    _require_keys(header, _HEADER_KEYS, p)
    version = header["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise IncompatibleArtifactError(
            f"{p} has posterior format version {version!r}, newer than this hetfit supports "
            f"({FORMAT_VERSION})", hint="upgrade hetfit")
    # what it was trained for is checked before anything is built from the file
    check_compatible(header["metadata"], simulator, prior, source=f"posterior {p.name}")
    network = header["network"]
    try:
        post_prior = Prior.from_dict(header["prior"])
        mdn_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("mdn_")}
        numpy_mdn = (mdn_numpy.NumpyMDN.from_arrays(mdn_arrays)
                     if network.get("numpy_mdn") else None)
        estimator = None
        if numpy_mdn is None:
            # flows and NLE/NRE sample through sbi; an MDN never needs torch to apply
            if not network.get("config") or not network.get("state"):
                raise IncompatibleArtifactError(f"posterior file {p} holds no network",
                                                hint="train a new posterior")
            estimator = _rebuild_network(network, arrays, post_prior, p, n_threads)
        return WidthPosterior(estimator, post_prior, header["summary_names"],
                              method=header["method"], metadata=dict(header["metadata"]),
                              reference_x=arrays.get("reference_x"), n_threads=n_threads,
                              space=header["space"], numpy_mdn=numpy_mdn,
                              config=network.get("config"))
    except IncompatibleArtifactError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IncompatibleArtifactError(
            f"posterior file {p} is damaged or not written by hetfit "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})",
            hint="train a new posterior") from exc


def _legacy_metadata(p: Path) -> dict[str, Any] | None:
    side = sidecar_path(p)
    try:
        return json.loads(side.read_text())["metadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load_legacy(p: Path, simulator: Any, prior: Prior | None, n_threads: int | None,
                 trust_pickle: bool) -> WidthPosterior:
    side = numpy_sidecar_path(p)
    if side.is_file() and _kind(side) == "npz":
        head, arrays = _read_npz(side)
        if (head.get("format") == mdn_numpy.FORMAT
                and head.get("pt_sha256") == hashlib.sha256(p.read_bytes()).hexdigest()):
            check_compatible(head.get("metadata"), simulator, prior, source=f"posterior {p.name}")
            return _from_legacy_sidecar(head, arrays, p, n_threads)
    if not trust_pickle:
        raise IncompatibleArtifactError(
            f"{p} is a posterior in hetfit's old pickle format, which can run any code when "
            "loaded, so it is not loaded by default", hint=_LEGACY_HINT)
    meta = _legacy_metadata(p)
    if meta is not None:  # refuse a mismatch before unpickling anything
        check_compatible(meta, simulator, prior, source=f"posterior {p.name}")
    import torch

    try:
        payload = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise InputFileError(
            f"cannot read posterior file {p}: {type(exc).__name__}: {exc}",
            hint="the file is not a hetfit posterior or is damaged; retrain it",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise IncompatibleArtifactError(f"{p} is not a hetfit posterior file")
    try:
        meta = dict(payload.get("metadata") or {})
        check_compatible(meta, simulator, prior, source=f"posterior {p.name}")
        arrays = payload.get("numpy_mdn")
        return WidthPosterior(payload["estimator"], Prior.from_dict(payload["prior"]),
                              payload["summary_names"], method=payload.get("method", "npe"),
                              metadata=meta, reference_x=payload.get("reference_x"),
                              n_threads=n_threads, space=payload.get("space", "unbounded"),
                              numpy_mdn=None if arrays is None else
                              mdn_numpy.NumpyMDN.from_arrays(arrays))
    except (KeyError, TypeError, ValueError) as exc:
        raise IncompatibleArtifactError(
            f"posterior file {p} lacks or has damaged {exc}", hint="train a new posterior"
        ) from exc


def load_posterior(path: str | os.PathLike, simulator: Any = None,
                   prior: Prior | None = None, n_threads: int | None = None,
                   trust_pickle: bool = False) -> WidthPosterior:
    """Load a posterior saved by :func:`save_posterior` (or a legacy one, see the module
    docstring).

    Parameters
    ----------
    path:
        The posterior file (``.npz``; legacy ``.pt``).
    simulator, prior:
        When given, the posterior must have been trained for exactly this simulator (model
        spec, summaries, summary version) and prior; otherwise
        :class:`~hetfit.errors.IncompatibleArtifactError` is raised, before any network is
        built from the file.
    n_threads:
        torch threads used when sampling.
    trust_pickle:
        Allow unpickling a legacy ``.pt`` file that has no matching numpy sidecar.  Unpickling
        can run any code: only for files you made or trust.
    """
    p = existing_file(path, "posterior file")
    if not p.is_file():
        raise InputFileError(f"posterior {p} is not a regular file",
                             hint="pass the posterior file written by hetfit fit")
    kind = _kind(p)
    if kind == "npz":
        header, arrays = _read_npz(p)
        return _load_safe(p, header, arrays, simulator, prior, n_threads)
    if kind == "pickle":
        return _load_legacy(p, simulator, prior, n_threads, trust_pickle)
    raise IncompatibleArtifactError(f"{p} is not a hetfit posterior file",
                                    hint="pass a posterior written by hetfit fit")


def convert_posterior(source: str | os.PathLike, target: str | os.PathLike,
                      trust_pickle: bool = False) -> Path:
    """Re-save a legacy posterior (``.pt``) in the safe format at ``target`` (``.npz``).

    Loading a legacy pickle needs ``trust_pickle=True`` unless its numpy sidecar matches.
    """
    post = load_posterior(source, trust_pickle=trust_pickle)
    return save_posterior(post, target)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Metadata of a posterior file, read without unpickling: from the file's own header
    (format 2), else from its JSON sidecar."""
    p = existing_file(path, "posterior file")
    if _kind(p) == "npz":
        header, _ = _read_npz(p)
        if isinstance(header.get("metadata"), dict):
            return header["metadata"]
    meta = _legacy_metadata(p)
    if meta is None:
        raise InputFileError(f"no readable metadata in {p} or next to it ({sidecar_path(p)})")
    return meta
