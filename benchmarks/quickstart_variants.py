"""The README's main job under perturbations that change only rounding or seeds.

Variants (each from scratch, in its own folder): ``default`` (the kernels pinned to AVX2, what
every run does), ``native ISA`` (``SYN2REAL_NATIVE_ISA=1``: the machine's own kernels, e.g.
AVX-512, so other rounding) and ``seed offset`` (``seed_offset: 100``: every pre-training and
fine-tuning seed moved, the renders and the real subset kept). A verdict is stable when every
variant gives each rendering the same one and every held-out check falls inside its interval.

Usage: python benchmarks/quickstart_variants.py [--out DIR] [--only NAME ...]
Prints the spread table the README reports (markdown) and writes DIR/variants.json. About
10 min per variant on 2 cores; run it alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "quickstart.yaml"
#: name -> (environment changes, seed offset)
VARIANTS: dict[str, tuple[dict[str, str], int]] = {
    "default": ({}, 0),
    "native ISA": ({"SYN2REAL_NATIVE_ISA": "1"}, 0),
    "seed offset": ({}, 100),
}


def run_variant(name: str, root: Path, config: Path = CONFIG, timeout: float = 2400
                ) -> dict[str, Any]:
    """Run the study of ``config`` as variant ``name`` in ``root / <name>``; returns the run's
    JSON summary with ``stdout``, ``stderr``, ``returncode`` and ``seconds`` added."""
    from syn2real import REPRODUCIBLE_CPU_ENV

    extra, offset = VARIANTS[name]
    folder = root / name.replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = config
    if offset:
        raw = yaml.safe_load(config.read_text())
        raw["seed_offset"] = offset
        cfg_path = folder / "study.yaml"
        cfg_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = dict(os.environ)
    if extra.get("SYN2REAL_NATIVE_ISA") == "1":  # the parent's pin would be inherited
        for k in REPRODUCIBLE_CPU_ENV:
            env.pop(k, None)
    env.update(extra)
    out = folder / "run"
    summary_path = folder / "summary.json"
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "syn2real.cli.app", "run", str(cfg_path),
                          "--out", str(out), "--json", str(summary_path)],
                         capture_output=True, text=True, timeout=timeout, env=env)
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {**summary, "variant": name, "run_dir": str(out), "stdout": res.stdout,
            "stderr": res.stderr, "returncode": res.returncode,
            "seconds": time.perf_counter() - t0}


def setting_of(label: str) -> str:
    """A curve's rendering: the part of its label before " · "."""
    return label.split(" · ")[0]


def spread_table(results: list[dict[str, Any]]) -> str:
    """Markdown: per rendering and variant, the mean error ± standard error at each size,
    the held-out check and the verdict."""
    sizes = sorted({p["n"] for r in results for p in r.get("points", [])})
    head = ("| rendering | variant | " + " | ".join(f"{n:,.0f}" for n in sizes)
            + " | held-out check | verdict |")
    lines = [head, "|" + "---|" * (len(sizes) + 4)]
    settings = sorted({setting_of(p["label"]) for r in results for p in r.get("points", [])})
    for s in settings:
        for r in results:
            pts = {p["n"]: p for p in r.get("points", []) if setting_of(p["label"]) == s}
            cells = [f"{pts[n]['mean']:.3f} ± {pts[n]['se']:.3f}" if n in pts else ""
                     for n in sizes]
            checks = [h for h in r.get("holdout", []) if setting_of(h["label"]) == s]
            check = "; ".join(f"{h['measured']:.3f} in [{h['interval'][0]:.3f}, "
                              f"{h['interval'][1]:.3f}]" + ("" if h["inside"] else " OUTSIDE")
                              for h in checks)
            adv = [a for a in r.get("advice", []) if setting_of(a["label"]) == s]
            verdict = "; ".join(f"{a['action']} (P {a['p_reach']:.0%})" for a in adv)
            lines.append(f"| {s} | {r['variant']} | " + " | ".join(cells)
                         + f" | {check} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "variants")
    ap.add_argument("--only", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    args = ap.parse_args()
    results = []
    for name in args.only:
        r = run_variant(name, args.out)
        print(f"{name}: exit {r['returncode']}, {r['seconds'] / 60:.1f} min", flush=True)
        if r["returncode"]:
            print(r["stderr"][-2000:], file=sys.stderr)
        results.append(r)
    keep = ("variant", "seconds", "returncode", "points", "holdout", "advice", "margins")
    (args.out / "variants.json").write_text(json.dumps(
        [{k: r.get(k) for k in keep} for r in results], indent=1, default=str))
    print(spread_table(results))


if __name__ == "__main__":
    main()
