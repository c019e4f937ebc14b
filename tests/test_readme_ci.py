"""CI must install and test exactly as the README's Quickstart says (issue 2)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line.strip() for line in block.strip().splitlines() if line.strip()]


def test_quickstart_has_exactly_two_commands_and_ci_runs_them():
    install_and_demo, test_cmd = _quickstart_commands()
    assert install_and_demo.endswith("hetfit demo")
    install = install_and_demo.rsplit(" && ", 1)[0]
    assert "torch==2.13.0" in install.split(" && ")[1], "CPU torch must be installed before hetfit"
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci_lines, f"{install!r} not run by .ci/run"
    assert test_cmd in ci_lines, f"{test_cmd!r} not run by .ci/run"
    assert "venv" in install and "ruff check" in (ROOT / ".ci" / "run").read_text()


def test_readme_python_api_example_runs(shared_data, monkeypatch, capsys):
    folder = shared_data("allen_cell_types_ephys_full")
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API in five lines", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(folder)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "epilepsy-spiny" in out and "tumor-aspiny" in out
