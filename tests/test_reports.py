import json
from html.parser import HTMLParser

import numpy as np
import pytest
from scipy import stats

from hetfit.distributions.families import fit_family
from hetfit.errors import InputFileError
from hetfit.reports.document import Report, check_report
from hetfit.reports.figures import (
    plot_condition_comparison,
    plot_distribution,
    plot_fitted_densities,
    plot_posterior_pairs,
    plot_raster,
    plot_sweep,
    save_figure,
)


def _png_size(path):
    # PNG IHDR: width and height as big-endian uint32 at bytes 16..24
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_report_with_every_figure_kind(tmp_path):
    rng = np.random.default_rng(0)
    figs = {
        "dist.png": plot_distribution(
            rng.normal(-45, 3, 200), feature="v_threshold_mV",
            fits={"gaussian": {"loc": -45, "scale": 3}, "lorentzian": {"loc": -45, "scale": 2},
                  "mixture (fitted)": fit_family(rng.normal(-45, 3, 200), "lorentzian_mix2",
                                                 n_gof=0, seed=0)},
            width_ci=(2.7, 3.3), title="L5 spiny"),
        "dens.png": plot_fitted_densities(
            {"a": stats.norm(-45, 3),
             "b": stats.cauchy(-40, 2)},
            feature="v_threshold_mV", x_range=(-60, -25)),
        "post.png": plot_posterior_pairs(rng.normal(size=(500, 2)), ["dv_E", "dv_I"],
                                         truth=[0.1, -0.2]),
        "sweep.png": plot_sweep([0, 0.5, 1], {"chi": ([0.9, 0.5, 0.2], [0.8, 0.4, 0.1],
                                                       [1.0, 0.6, 0.3])},
                                xlabel="width scale", ylabel="synchrony", markers={"tumor": 1.0}),
        "cmp.png": plot_condition_comparison(["A", "B"], [1.0, 0.6], [0.8, 0.4], [1.2, 0.8],
                                             ylabel="width ratio", reference=1.0),
        "raster.png": plot_raster(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 2]),
                                  rate_t_ms=np.arange(5.0), rates_hz=np.ones((2, 5)),
                                  names=["E", "I"]),
    }
    rep = Report("Test report", "subtitle <with> markup")
    sec = rep.section("Figures").text("Some text & symbols <b>not bold</b>")
    for name, fig in figs.items():
        save_figure(fig, tmp_path / name)
        sec.figure(name, caption=name)
    rep.section("Numbers").table([{"type": "L5", "width_mV": 3.14159, "n": 12},
                                  {"type": "L2/3", "width_mV": float("nan"), "n": 3}])
    out = rep.write(tmp_path, results={"width_mV": 3.14159})
    images = check_report(tmp_path)
    assert sorted(p.name for p in images) == sorted(figs)
    for p in images:
        w, h = _png_size(p)
        assert w > 100 and h > 100
    page = (tmp_path / "report.html").read_text()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page  # user text is escaped, not injected
    assert "<td>3.14</td>" in page and "<td>n/a</td>" in page
    HTMLParser().feed(page)
    md = (tmp_path / "report.md").read_text()
    assert "| L5 | 3.14 | 12 |" in md and "![dist.png](dist.png)" in md
    assert json.loads((tmp_path / "results.json").read_text()) == {"width_mV": 3.14159}
    assert out["figures"][0].endswith("dist.png")


def test_check_report_catches_missing_or_empty_images(tmp_path):
    rep = Report("r")
    rep.section("s").figure("missing.png")
    with pytest.raises(InputFileError, match="missing"):
        rep.write(tmp_path)
    (tmp_path / "missing.png").write_bytes(b"")
    with pytest.raises(InputFileError):
        check_report(tmp_path)
    (tmp_path / "missing.png").write_bytes(b"GIF89a not a png")
    with pytest.raises(InputFileError, match="not a PNG"):
        check_report(tmp_path)
