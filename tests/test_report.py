from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from syn2real.curves import example_path, read_curves
from syn2real.report import build_report


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    build_report(read_curves(example_path()), out, D=0.48, target=0.28)
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
    from syn2real.advise import advise
    from syn2real.report.html import todo_sentence

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
    out = build_report(read_curves(p), tmp_path / "rep", by=[])
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
