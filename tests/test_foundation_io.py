import json
import math

import numpy as np
import pytest

from hetfit.errors import InputFileError, ParameterError
from hetfit.io import atomic_write_json, dumps, existing_file, staged_directory, to_jsonable
from hetfit.seeding import as_generator, child_seeds


def test_to_jsonable_handles_numpy_and_nonfinite():
    doc = to_jsonable({"a": np.float32(1.5), "b": np.arange(3), "c": math.inf, "d": np.bool_(True)})
    assert doc == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": True}
    assert json.loads(dumps({"x": np.nan})) == {"x": None}


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "r.json"
    atomic_write_json(p, {"v": 1})
    atomic_write_json(p, {"v": 2})
    assert json.loads(p.read_text()) == {"v": 2}
    assert sorted(x.name for x in p.parent.iterdir()) == ["r.json"]


def test_staged_directory_keeps_old_output_on_failure(tmp_path):
    out = tmp_path / "report"
    with staged_directory(out, "test") as d:
        (d / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with staged_directory(out, "test") as d:
            (d / "a.txt").write_text("second, incomplete")
            raise RuntimeError("boom")
    assert (out / "a.txt").read_text() == "first"
    assert [x.name for x in tmp_path.iterdir()] == ["report"]  # no staging leftovers


def test_existing_file_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        existing_file(tmp_path / "missing.csv")
    with pytest.raises(InputFileError, match="directory"):
        existing_file(tmp_path)


def test_child_seeds_do_not_depend_on_batch_size():
    a = child_seeds(7, 10)
    b = child_seeds(7, 3)
    np.testing.assert_array_equal(a[:3], b)
    assert len(set(a.tolist())) == 10
    assert not np.array_equal(child_seeds(8, 3), b)
    assert as_generator(5).integers(1000) == as_generator(5).integers(1000)
    with pytest.raises(ParameterError):
        as_generator(-1)
    with pytest.raises(ParameterError):
        as_generator("abc")


def test_written_files_get_normal_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        p = atomic_write_json(tmp_path / "r.json", {"v": 1})
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        with staged_directory(tmp_path / "out", "test") as d:
            (d / "f.txt").write_text("x")
        assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    finally:
        os.umask(mask)
