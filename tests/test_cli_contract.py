"""The CLI contract every subcommand relies on (issue 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest

from hetfit.cli import main as cli_main
from hetfit.cli.commands import COMMANDS
from hetfit.errors import HetfitError, ParameterError

HEAVY = ("torch", "sbi", "allensdk", "matplotlib", "dask", "pynwb", "efel", "pyabf")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_hetfit_is_light():
    r = _run(
        "import sys, hetfit\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(heavy)\n"
        "assert not heavy, heavy\n"
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_building_the_parser_imports_no_heavy_library():
    # `hetfit --help` imports every command module: they must import heavy libraries lazily.
    r = _run(
        "import sys\n"
        "from hetfit.cli.main import build_parser\n"
        "build_parser()\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_help_and_version():
    r = subprocess.run(
        [sys.executable, "-m", "hetfit", "--help"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout
    r = subprocess.run(
        [sys.executable, "-m", "hetfit", "--version"], capture_output=True, text=True, timeout=120
    )
    from hetfit import __version__

    assert r.returncode == 0 and r.stdout.strip() == f"hetfit {__version__}"


def _fake(run, render=None):
    mod = types.SimpleNamespace(HELP="fake", add_arguments=lambda p: None, run=run)
    if render is not None:
        mod.render = render
    return mod


@pytest.fixture
def fake_demo(monkeypatch):
    real = cli_main._command_module

    def install(mod):
        monkeypatch.setattr(
            cli_main, "_command_module", lambda name: mod if name == "demo" else real(name)
        )

    return install


def test_hetfit_error_becomes_one_line_and_exit_2(fake_demo, capsys):
    def run(args):
        raise ParameterError("width must be >= 0, got -1", hint="use a positive width")

    fake_demo(_fake(run))
    code = cli_main.main(["demo"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert lines == ["hetfit demo: error: width must be >= 0, got -1 (use a positive width)"]
    assert "Traceback" not in err


def test_debug_shows_traceback(fake_demo, capsys):
    def run(args):
        raise HetfitError("bad thing")

    fake_demo(_fake(run))
    assert cli_main.main(["demo", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().endswith("hetfit demo: error: bad thing")


def test_unexpected_exception_is_exit_1_one_line(fake_demo, capsys):
    def run(args):
        raise ZeroDivisionError("division by zero")

    fake_demo(_fake(run))
    assert cli_main.main(["demo"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ZeroDivisionError" in err[0]


def test_json_output_is_one_document_even_if_run_prints(fake_demo, capsys):
    def run(args):
        print("chatty library output")  # must be diverted to stderr
        return {"value": float("nan"), "n": 3}

    fake_demo(_fake(run))
    assert cli_main.main(["demo", "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert doc["n"] == 3 and doc["value"] is None and doc["command"] == "demo"
    assert "chatty library output" in err


def test_bad_arguments_are_one_line_exit_2():
    r = subprocess.run(
        [sys.executable, "-m", "hetfit", "demo", "--no-such-option"],
        capture_output=True, text=True, timeout=120,
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "--no-such-option" in r.stderr


def test_quiet_does_not_outlive_the_command(capsys):
    from hetfit import console
    from hetfit.cli.main import main

    assert not console.is_quiet()
    assert main(["params", "--quiet", "--list-presets"]) == 0
    assert not console.is_quiet()  # in-process callers are not left silenced
    capsys.readouterr()
