from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from syn2real.assess import AssessSettings, assess
from syn2real.curves import example_path, read_curves
from syn2real.report import build_report
from syn2real.report.html import MAX_FIGURE_CURVES


def _report(cs, out, by=None, **settings):
    """What ``syn2real report`` does: assess the curves, then draw."""
    a = assess(cs, AssessSettings(backtest_curves=MAX_FIGURE_CURVES, full_law=True,
                                  **settings), by=by)
    return build_report(a, out)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    _report(read_curves(example_path()), out, D=0.48, target=0.28)
    return out


def test_report_writes_page_and_figures(report_dir):
    page = (report_dir / "index.html").read_text()
    for name in ("fig1_curves", "fig5_extrapolation", "fig8_params", "fig10_linearised",
                 "fig13_landscape"):
        png = report_dir / f"{name}.png"
        assert png.stat().st_size > 10_000
        assert (report_dir / f"{name}.svg").read_text().lstrip().startswith("<?xml")
        img = np.asarray(Image.open(png).convert("L"), float)
        assert img.std() > 10  # not blank
    assert page.count("data:image/png;base64,") == 5
    assert "preset=lv2" in page and "class='floor'>floor<" in page and "P(reach)" in page
    assert "Extrapolation back-test" in page
    # the page says first, one sentence per curve, what to do
    todo = page.index("What to do (target error 0.28)")
    assert todo < page.index("<h2>Fits</h2>") and todo < page.index("Advisor (target")
    assert "change the rendering (or the model)" in page


def test_todo_sentence_per_scenario():
    from syn2real.advise import advise, todo_sentence

    n = 1000 * 2.0 ** np.arange(7)
    err = 0.5 * n ** -0.3 + 0.05
    assert todo_sentence(advise((n, err), 0.2), 0.2).startswith("error 0.2 is already")
    base = {"p_reach": 0.5, "n_star": 64000.0, "next_run": None}
    cases = {"reachable": "render more: about n = 64,000", "floor": "change the rendering",
             "infeasible": "not within the budget", "undecided": "not settled yet (P(reach) 50%)"}
    for scenario, start in cases.items():
        assert todo_sentence({**base, "scenario": scenario}, 0.1).startswith(start), scenario
    und = {**base, "scenario": "undecided", "next_run": {"n": 2560.0, "p_decide": 0.62}}
    assert todo_sentence(und, 0.1).endswith("run n = 2,560 next, it decides with 62% "
                                            "probability.")
    hopeless = {**und, "next_run": {"n": 2560.0, "p_decide": 0.04}}
    assert "no single run up to the budget is likely to settle it" in \
        todo_sentence(hopeless, 0.1)


def test_report_has_full_law_section_when_s_is_known(tmp_path):
    rows = ["n,s,error"]
    for s in (1e5, 4e5, 1.6e6):
        for n in 1000 * 2 ** np.arange(6):
            rows.append(f"{n},{s},{40 * (0.5 + n ** -0.55) * s ** -0.32:.6f}")
    p = tmp_path / "full.csv"
    p.write_text("\n".join(rows) + "\n")
    out = _report(read_curves(p), tmp_path / "rep", by=[])
    page = out.read_text()
    assert "Full law L(n, s)" in page and (tmp_path / "rep" / "fig9_full_law_1.png").exists()


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed in CI (make browser installs it)")
        pytest.skip("Debian package chromium not installed (make browser)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    url = (report_dir / "index.html").as_uri()
    dom = subprocess.run([exe, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert 'data-images-ok="yes"' in dom.stdout, dom.stderr[-2000:]
    assert 'data-images="5"' in dom.stdout
    shot = tmp_path / "shot.png"
    subprocess.run([exe, *flags, f"--screenshot={shot}", "--window-size=1280,2400", url],
                   capture_output=True, text=True, timeout=120)
    img = np.asarray(Image.open(shot).convert("L"), float)
    assert img.shape[0] >= 2000 and img.std() > 20


def test_figures_on_real_curves_spanning_under_a_decade(tmp_path):
    """Issue 25 item 11, on the shape of real runs (n = 300 .. 2,400, a from-scratch row,
    a target already met): tick labels that do not overlap, a legend that hides no line,
    the landscape's star inside its panel, and no n* beside "reached"."""
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    from syn2real.law import TransferLaw
    from syn2real.report.figures import CurveFit, fig_curves, fig_landscape

    n = np.array([300.0, 600, 1200, 2400])
    err = np.array([0.248, 0.241, 0.235, 0.232])
    law = TransferLaw().fit(n, err)
    fit = CurveFit("real runs", {}, n, err, law, extra={"baseline": 0.222})
    fig = fig_curves([fit])
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()
              and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]
    boxes = [t.get_window_extent() for t in labels]
    assert len(boxes) >= 3, [t.get_text() for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    legend = fig.legends[0].get_window_extent()
    assert not legend.overlaps(ax.get_window_extent())  # below the panel, hiding nothing
    land = fig_landscape([CurveFit("far", {}, n, err, TransferLaw().fit(n * 1e4, err))])
    a2 = land.axes[0]
    star = a2.lines[0].get_xydata()[0]
    assert a2.get_xlim()[0] < star[0] < a2.get_xlim()[1]
    assert a2.get_ylim()[0] < star[1] < a2.get_ylim()[1]
    p = tmp_path / "real.csv"
    p.write_text("n,error\n0,0.222\n" + "\n".join(f"{a:g},{b}" for a, b in zip(n, err,
                                                                               strict=True)))
    page = _report(read_curves(p), tmp_path / "rep", target=0.24)
    text = page.read_text()
    assert "measured at 1,200" in text and "worse than none" in text
    exe = _chromium()  # and the page itself, in a real browser where there is one
    if exe is not None:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={tmp_path / 'prof'}",
                 "--virtual-time-budget=5000"]
        dom = subprocess.run([exe, *flags, "--dump-dom", page.as_uri()], capture_output=True,
                             text=True, timeout=120)
        assert 'data-images-ok="yes"' in dom.stdout, dom.stderr[-2000:]


def test_many_curves_get_wald_intervals_said_on_the_page(tmp_path, monkeypatch):
    import importlib

    assess_mod = importlib.import_module("syn2real.assess")
    cs = read_curves(example_path())
    k = len(cs.curves(cs.groups))
    assert k >= 2
    profile = _report(cs, tmp_path / "p", D=0.48).read_text()
    assert "profile-likelihood intervals" in profile and "Wald" not in profile
    monkeypatch.setattr(assess_mod, "PROFILE_CURVES_MAX", k - 1)  # "many" curves
    wald = _report(cs, tmp_path / "w", D=0.48, target=0.28).read_text()
    assert "90% Wald (estimate ± t·SE) intervals" in wald
    assert "Fig. 8: pre-training rate α and transfer gap C with Wald" in wald


def test_report_into_a_file_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from syn2real.cli.app import app

    (tmp_path / "afile").write_text("keep me")
    res = CliRunner().invoke(app, ["report", str(example_path()), "-o",
                                   str(tmp_path / "afile")])
    assert res.exit_code == 2, res.output
    assert "exists and is not a folder" in " ".join(res.output.split())
    assert (tmp_path / "afile").read_text() == "keep me"
