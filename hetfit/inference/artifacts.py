"""Saving and loading amortized posteriors with the metadata that produced them.

A posterior file (``.pt``) is one ``torch.save`` payload written atomically, holding the
``sbi`` posterior object, the prior, the summary names and a metadata dictionary:

- ``simulator_spec`` and ``simulator_fingerprint`` — the model (network spec, simulation
  settings, observation model) the posterior was trained for;
- ``summary_names``, ``summary_version``;
- ``prior`` (and its fingerprint);
- ``hetfit_version``, ``sbi_version``, ``torch_version``;
- ``training`` — budget (simulations requested, used, excluded by reason), epochs, time,
  method and estimator settings, and the seed.

A JSON sidecar (``<name>.json``) repeats the metadata for humans and tools that should not
unpickle anything.  For NPE's mixture density network a numpy sidecar (``<name>.npz``: the
network weights, prior, summary names, reference summaries, metadata and the SHA-256 of the
``.pt`` it belongs to) lets :func:`load_posterior` apply the posterior without importing
torch or sbi; a sidecar that does not match its ``.pt`` (edited, copied from another run) is
ignored and the ``.pt`` is used.  :func:`load_posterior` refuses a file made for a different model,
summary version or prior (:class:`~hetfit.errors.IncompatibleArtifactError`, naming what
differs), so a posterior is never applied to data it cannot describe.

Security: loading unpickles Python objects (as every ``sbi``/``torch`` model file does);
only load posterior files you or your collaborators made.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any

from hetfit._version import __version__
from hetfit.errors import IncompatibleArtifactError, InputFileError
from hetfit.inference import mdn_numpy
from hetfit.inference.posterior import WidthPosterior
from hetfit.inference.priors import Prior
from hetfit.io import atomic_write_bytes, atomic_write_json, existing_file, to_jsonable

FORMAT = "hetfit-posterior"
FORMAT_VERSION = 1


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
    p = Path(path)
    return p.with_name(p.name + ".json") if p.suffix != ".pt" else p.with_suffix(".json")


def numpy_sidecar_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    return p.with_name(p.name + ".npz") if p.suffix != ".pt" else p.with_suffix(".npz")


def save_posterior(posterior: WidthPosterior, path: str | os.PathLike) -> Path:
    """Write ``posterior`` (with its metadata) to ``path`` atomically; returns the path.

    Also writes the JSON sidecar next to it, and the numpy sidecar for mixture density
    networks.
    """
    import torch

    path = Path(path).expanduser()
    mdn = posterior.numpy_mdn
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "metadata": posterior.metadata,
        "prior": posterior.prior.to_dict(),
        "summary_names": list(posterior.summary_names),
        "method": posterior.method,
        "estimator": posterior.estimator,
        "reference_x": posterior.reference_x,
        "space": posterior.space,
        "numpy_mdn": None if mdn is None else mdn.to_arrays(),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())
    npz = numpy_sidecar_path(path)
    if mdn is not None:
        header = {"pt_sha256": hashlib.sha256(buf.getvalue()).hexdigest(),
                  "metadata": posterior.metadata, "prior": posterior.prior.to_dict(),
                  "summary_names": list(posterior.summary_names),
                  "method": posterior.method, "space": posterior.space}
        atomic_write_bytes(npz, mdn_numpy.pack(mdn, to_jsonable(header), posterior.reference_x))
    elif npz.exists():
        npz.unlink()  # a stale sidecar of an earlier posterior at this path
    atomic_write_json(sidecar_path(path), {"format": FORMAT, "format_version": FORMAT_VERSION,
                                           "method": posterior.method,
                                           "metadata": posterior.metadata})
    return path


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
    problems = []
    if simulator is not None:
        if metadata.get("summary_version") != simulator.summary_version:
            problems.append(f"summary version {metadata.get('summary_version')!r} vs "
                            f"{simulator.summary_version!r}")
        if list(metadata.get("summary_names", [])) != list(simulator.summary_names):
            problems.append("summary statistics differ")
        if list(metadata.get("param_names", [])) != list(simulator.param_names):
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


def load_posterior(path: str | os.PathLike, simulator: Any = None,
                   prior: Prior | None = None, n_threads: int | None = None) -> WidthPosterior:
    """Load a posterior saved by :func:`save_posterior`.

    Parameters
    ----------
    path:
        The ``.pt`` file.
    simulator, prior:
        When given, the posterior must have been trained for exactly this simulator (model
        spec, summaries, summary version) and prior; otherwise
        :class:`~hetfit.errors.IncompatibleArtifactError` is raised.
    n_threads:
        torch threads used when sampling.

    A mixture-density posterior with a matching numpy sidecar is loaded without torch.
    """
    p = existing_file(path, "posterior file")
    fast = _load_numpy(p, n_threads)
    if fast is not None:
        check_compatible(fast.metadata, simulator, prior, source=f"posterior {p.name}")
        return fast
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
    if int(payload.get("format_version", -1)) > FORMAT_VERSION:
        raise IncompatibleArtifactError(
            f"{p} has posterior format version {payload.get('format_version')}, newer than "
            f"this hetfit supports ({FORMAT_VERSION})", hint="upgrade hetfit")
    meta = dict(payload.get("metadata") or {})
    check_compatible(meta, simulator, prior, source=f"posterior {p.name}")
    post_prior = Prior.from_dict(payload["prior"])
    arrays = payload.get("numpy_mdn")
    return WidthPosterior(payload["estimator"], post_prior, payload["summary_names"],
                          method=payload.get("method", "npe"), metadata=meta,
                          reference_x=payload.get("reference_x"), n_threads=n_threads,
                          space=payload.get("space", "unbounded"),
                          numpy_mdn=None if arrays is None else
                          mdn_numpy.NumpyMDN.from_arrays(arrays))


def _load_numpy(pt: Path, n_threads: int | None) -> WidthPosterior | None:
    """The posterior from its numpy sidecar, or ``None`` (no sidecar, unreadable, or made
    for different ``.pt`` bytes)."""
    import numpy as np

    npz = numpy_sidecar_path(pt)
    if not npz.is_file():
        return None
    try:
        with np.load(npz, allow_pickle=False) as data:
            mdn, head, ref = mdn_numpy.unpack(data)
        if head.get("pt_sha256") != hashlib.sha256(pt.read_bytes()).hexdigest():
            return None
        return WidthPosterior(None, Prior.from_dict(head["prior"]), head["summary_names"],
                              method=head.get("method", "npe"),
                              metadata=dict(head.get("metadata") or {}), reference_x=ref,
                              n_threads=n_threads, space=head.get("space", "unbounded"),
                              numpy_mdn=mdn)
    except Exception:  # the .pt is authoritative: fall back to it
        return None


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Metadata of a posterior file from its JSON sidecar (no unpickling)."""
    side = sidecar_path(path)
    if not side.exists():
        raise InputFileError(f"no metadata sidecar {side} next to {path}")
    return json.loads(side.read_text())["metadata"]
