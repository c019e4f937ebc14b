"""No command deletes or replaces what it did not create (issue 19, cases 1, 3 and the output
errors of case 4): user files in an output folder, ``--out .``, symbolic links, device nodes
and pipes, read-only or full disks, and a full standard output."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from hetfit.errors import InputFileError
from hetfit.io import OUTPUT_MARKER, staged_directory


def _tables(folder: Path) -> tuple[str, str]:
    rng = np.random.default_rng(0)
    paths = []
    for name, sd in (("healthy", 1.0), ("disease", 0.6)):
        rows = ["cell_id,donor_id,cell_type,v_threshold_mV,tau_m_ms"]
        rows += [f"{name}{i},d{name}{i % 5},pyr,{-45 + sd * rng.normal():.3f},"
                 f"{15 + 2 * rng.normal():.2f}" for i in range(40)]
        path = folder / f"{name}.csv"
        path.write_text("\n".join(rows) + "\n")
        paths.append(str(path))
    return paths[0], paths[1]


def _compare(folder: Path, out: str, *extra: str) -> list[str]:
    h, d = _tables(folder)
    return ["compare", "--quiet", "--healthy", h, "--disease", d, "--no-network", "--quick",
            "--out", out, *extra]


def _one_line_refusal(code, out, err):
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2, err
    assert out == "" and len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}


# -- case 1: a folder holding the user's files ------------------------------------------
def test_compare_refuses_a_folder_with_user_files_and_keeps_them(tmp_path, capsys):
    out = tmp_path / "mydir"
    out.mkdir()
    (out / "notes.txt").write_text("my lab notes")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("1,2,3")
    before = _snapshot(out)
    line = _one_line_refusal(*run_cli(capsys, _compare(tmp_path, str(out))))
    assert "notes.txt" in line and "--force" in line
    assert _snapshot(out) == before and sorted(os.listdir(out)) == ["notes.txt", "sub"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


def test_force_adds_hetfit_files_next_to_the_users_and_replaces_only_its_own(tmp_path, capsys):
    out = tmp_path / "mydir"
    out.mkdir()
    (out / "notes.txt").write_text("my lab notes")
    code, _, err = run_cli(capsys, _compare(tmp_path, str(out), "--force"))
    assert code == 0, err
    assert (out / "notes.txt").read_text() == "my lab notes"
    assert (out / "report.html").is_file() and (out / OUTPUT_MARKER).is_file()
    marker = json.loads((out / OUTPUT_MARKER).read_text())
    assert "notes.txt" not in marker["entries"] and "report.html" in marker["entries"]
    # a rerun replaces hetfit's files; the user's file is still refused without --force
    line = _one_line_refusal(*run_cli(capsys, _compare(tmp_path, str(out))))
    assert "notes.txt" in line
    code, _, err = run_cli(capsys, _compare(tmp_path, str(out), "--force", "--seed", "1"))
    assert code == 0, err
    assert json.loads((out / "results.json").read_text())  # replaced, readable
    assert (out / "notes.txt").read_text() == "my lab notes"


def test_force_never_replaces_a_user_file_of_the_same_name(tmp_path, capsys):
    out = tmp_path / "mydir"
    out.mkdir()
    (out / "report.html").write_text("<p>my own report</p>")
    line = _one_line_refusal(*run_cli(capsys, _compare(tmp_path, str(out), "--force")))
    assert "report.html" in line
    assert sorted(os.listdir(out)) == ["report.html"]
    assert (out / "report.html").read_text() == "<p>my own report</p>"


def test_rerun_into_its_own_output_replaces_it(tmp_path, capsys):
    out = tmp_path / "rep"
    assert run_cli(capsys, _compare(tmp_path, str(out)))[0] == 0
    first = json.loads((out / OUTPUT_MARKER).read_text())["entries"]
    (out / "figures" / "stale.png").write_bytes(b"old")  # inside hetfit's own entry
    assert run_cli(capsys, _compare(tmp_path, str(out), "--seed", "2"))[0] == 0
    assert json.loads((out / OUTPUT_MARKER).read_text())["entries"] == first
    assert not (out / "figures" / "stale.png").exists()
    assert not [p for p in out.iterdir() if p.name.startswith((".hetfit-stage", ".hetfit-old"))]


def test_out_dot_in_a_folder_with_files_is_refused_and_in_an_empty_one_works(
        tmp_path, capsys, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    argv = _compare(tmp_path, ".")
    monkeypatch.chdir(work)
    _one_line_refusal(*run_cli(capsys, argv))
    assert sorted(os.listdir(work)) == ["keep.txt"] and sorted(os.listdir(tmp_path)) == [
        "disease.csv", "healthy.csv", "work"]
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    code, _, err = run_cli(capsys, argv)
    assert code == 0, err
    names = set(os.listdir(empty))
    assert {"report.html", "results.json", OUTPUT_MARKER} <= names
    assert not [n for n in names if n.startswith((".hetfit-stage", ".hetfit-old"))
                or n.endswith(".partial")]


def test_other_commands_output_is_not_the_same_commands(tmp_path):
    out = tmp_path / "o"
    with staged_directory(out, "demo") as stage:
        (stage / "report.html").write_text("demo")
    with pytest.raises(InputFileError, match="did not write"):
        with staged_directory(out, "compare"):
            pass
    assert (out / "report.html").read_text() == "demo"


def test_failure_inside_the_block_leaves_the_old_output(tmp_path):
    out = tmp_path / "o"
    with staged_directory(out, "compare") as stage:
        (stage / "a.txt").write_text("1")
    with pytest.raises(RuntimeError):
        with staged_directory(out, "compare") as stage:
            (stage / "a.txt").write_text("2")
            raise RuntimeError("boom")
    assert (out / "a.txt").read_text() == "1"
    assert not [p for p in out.iterdir() if p.name.startswith(".hetfit-stage")]


def test_fit_refuses_an_out_or_store_holding_other_files_before_any_work(tmp_path, capsys):
    rec = tmp_path / "r.csv"
    rec.write_text("unit,time_ms\nE0,1\nE1,2\n")
    out = tmp_path / "fitdir"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    line = _one_line_refusal(*run_cli(capsys, ["fit", "--quiet", "--recording", str(rec),
                                            "--out", str(out)]))
    assert "thesis.docx" in line
    assert os.listdir(out) == ["thesis.docx"]
    store = tmp_path / "store"
    store.mkdir()
    (store / "x.npz").write_bytes(b"mine")
    line = _one_line_refusal(*run_cli(capsys, ["fit", "--quiet", "--recording", str(rec),
                                            "--store", str(store),
                                            "--out", str(tmp_path / "new")]))
    assert "--store" in line and os.listdir(store) == ["x.npz"]
    a_file = tmp_path / "afile"
    a_file.write_text("mine")
    line = _one_line_refusal(*run_cli(capsys, ["fit", "--quiet", "--recording", str(rec),
                                            "--store", str(a_file),
                                            "--out", str(tmp_path / "new")]))
    assert "not a folder" in line and a_file.read_text() == "mine"
    assert not (tmp_path / "new").exists()


# -- single output files ----------------------------------------------------------------
GOOD_TABLE = "cell_id,donor_id,cell_type,v_threshold_mV\n" + "".join(
    f"c{i},d{i % 4},pyr,{-45 + (i % 7) * 0.8:.2f}\n" for i in range(30))


def _estimate(tmp_path: Path, out: str) -> list[str]:
    table = tmp_path / "cells.csv"
    table.write_text(GOOD_TABLE)
    return ["estimate", "--quiet", "--source", "table", str(table), "--n-boot", "100",
            "--n-gof", "0", "--out", out]


def test_single_file_outputs_never_replace_a_users_file(tmp_path, capsys):
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "data"}')
    _one_line_refusal(*run_cli(capsys, _estimate(tmp_path, str(mine))))
    assert mine.read_text() == '{"my": "data"}'
    _one_line_refusal(*run_cli(capsys, ["params", "--quiet", "--preset",
                                     "allen_human:epilepsy-spiny", "--n", "10",
                                     "--out", str(mine)]))
    assert mine.read_text() == '{"my": "data"}'
    run = tmp_path / "run.npz"
    np.savez(run, mine=np.arange(3))
    before = run.read_bytes()
    _one_line_refusal(*run_cli(capsys, ["simulate", "--quiet", "--n", "20", "--duration", "20",
                                     "--out", str(run)]))
    assert run.read_bytes() == before
    # hetfit's own earlier output is replaced
    fresh = tmp_path / "fresh.npz"
    assert run_cli(capsys, ["simulate", "--quiet", "--n", "20", "--duration", "20",
                         "--out", str(fresh)])[0] == 0
    assert run_cli(capsys, ["simulate", "--quiet", "--n", "20", "--duration", "20", "--seed", "1",
                         "--out", str(fresh)])[0] == 0
    est = tmp_path / "est.json"
    assert run_cli(capsys, _estimate(tmp_path, str(est)))[0] == 0
    assert run_cli(capsys, _estimate(tmp_path, str(est)))[0] == 0


# -- case 3: links and special files --------------------------------------------------
def test_symlinks_are_neither_replaced_nor_followed(tmp_path, capsys):
    target = tmp_path / "target.json"
    target.write_text('{"keep": 1}')
    link = tmp_path / "link.json"
    link.symlink_to(target)
    line = _one_line_refusal(*run_cli(capsys, _estimate(tmp_path, str(link))))
    assert "symbolic link" in line
    assert link.is_symlink() and target.read_text() == '{"keep": 1}'
    real = tmp_path / "realdir"
    real.mkdir()
    (real / "x.txt").write_text("x")
    linkdir = tmp_path / "linkdir"
    linkdir.symlink_to(real, target_is_directory=True)
    line = _one_line_refusal(*run_cli(capsys, _compare(tmp_path, str(linkdir))))
    assert "symbolic link" in line and linkdir.is_symlink() and os.listdir(real) == ["x.txt"]


def test_a_link_inside_an_earlier_output_is_not_hetfits(tmp_path, capsys):
    out = tmp_path / "rep"
    assert run_cli(capsys, _compare(tmp_path, str(out)))[0] == 0
    elsewhere = tmp_path / "precious.html"
    elsewhere.write_text("precious")
    (out / "report.html").unlink()
    (out / "report.html").symlink_to(elsewhere)
    line = _one_line_refusal(*run_cli(capsys, _compare(tmp_path, str(out))))
    assert "report.html" in line
    assert elsewhere.read_text() == "precious" and (out / "report.html").is_symlink()


def test_device_nodes_and_pipes_are_refused(tmp_path, capsys):
    null_before = os.stat("/dev/null")
    line = _one_line_refusal(*run_cli(capsys, _estimate(tmp_path, "/dev/null")))
    assert "not a regular file" in line
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == null_before.st_rdev
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    _one_line_refusal(*run_cli(capsys, ["simulate", "--quiet", "--n", "20", "--duration", "20",
                                     "--out", str(fifo)]))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# -- case 4: read-only folders, full disks, full stdout --------------------------------
@pytest.mark.parametrize("err", [errno.EACCES, errno.ENOSPC, errno.EROFS])
def test_write_errors_are_one_line_exit_2(tmp_path, capsys, monkeypatch, err):
    import tempfile

    real = tempfile.mkstemp

    def failing(*a, **k):
        if k.get("suffix") == ".tmp":  # the atomic writer's temporary file
            raise OSError(err, os.strerror(err), str(k.get("dir")))
        return real(*a, **k)

    monkeypatch.setattr(tempfile, "mkstemp", failing)
    out = tmp_path / "est.json"
    line = _one_line_refusal(*run_cli(capsys, _estimate(tmp_path, str(out))))
    assert os.strerror(err) in line and str(out) in line
    assert not out.exists()


def test_read_only_folder_for_a_staged_output(tmp_path, capsys, monkeypatch):
    import tempfile

    def failing(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(k.get("dir")))

    monkeypatch.setattr(tempfile, "mkdtemp", failing)
    line = _one_line_refusal(*run_cli(capsys, _compare(tmp_path, str(tmp_path / "rep"))))
    assert "Permission denied" in line and "permissions" in line


def test_full_standard_output_is_one_line_exit_2():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "hetfit", "params", "--list-presets",
                               "--json"], stdout=full, stderr=subprocess.PIPE, text=True)
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "No space left on device" in lines[0], proc.stderr


def test_demo_refuses_a_folder_with_user_files_before_any_work(tmp_path, capsys):
    import time

    out = _user_dir_with_notes(tmp_path / "demo")
    t0 = time.perf_counter()
    line = _one_line_refusal(*run_cli(capsys, ["demo", "--quiet", "--quick", "--out", str(out)]))
    assert "notes.txt" in line and time.perf_counter() - t0 < 5  # nothing was simulated
    assert os.listdir(out) == ["notes.txt"]


def _user_dir_with_notes(path: Path) -> Path:
    path.mkdir()
    (path / "notes.txt").write_text("mine")
    return path
