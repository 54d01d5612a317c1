"""Learning curves from the run folders other trainers write: one run per synthetic size n.

Recognised layouts (each documented by its tool; the tests build each one):

* **Ultralytics** (YOLOv8+): ``results.csv`` (one row per epoch; column names padded with
  spaces, e.g. ``metrics/mAP50-95(B)``) and ``args.yaml``;
* **timm** (``train.py``): ``summary.csv`` (``epoch, train_loss, eval_loss, eval_top1, ...``,
  top-k in percent) and ``args.yaml``;
* **detectron2**: ``metrics.json``, JSON lines with ``iteration`` and the scalars (COCO AP in
  percent, e.g. ``bbox/AP``), and ``config.yaml``;
* **mmengine** (mmdet, mmseg, ...): ``<timestamp>/vis_data/scalars.json``, JSON lines with
  ``step`` (``coco/bbox_mAP`` in [0, 1]);
* **Hugging Face Trainer**: ``trainer_state.json`` (``log_history``: dicts with ``step`` and
  ``eval_*`` metrics), with ``config.json`` beside it;
* **TensorBoard**: ``events.out.tfevents.*`` files, read with tensorboard's event reader.

The size n of a run comes from its configuration (``config:KEY``, a dotted key looked up in
the YAML/JSON files of the run folder) or from its path (``regex:PATTERN``, the first group).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from .read import CurveTableError

#: metric names that are errors or losses (lower is better); anything else is a score
LOWER_IS_BETTER = re.compile(r"(loss|error|err\b|wer|cer|perplexity|ppl)", re.IGNORECASE)
#: Scores a tool logs in percent by its own convention (layout: metric-name pattern):
#: detectron2's COCO evaluator (``bbox/AP``, ``segm/AP50``, ...), timm's ``eval_top1/5``.
PERCENT_METRICS = {"detectron2": re.compile(r"^(bbox|segm|keypoints)/AP"),
                   "timm": re.compile(r"top\d")}
#: Losses and perplexities: lower is better, but not rates bounded by 1.
LOSS_LIKE = re.compile(r"(loss|perplexity|ppl)", re.IGNORECASE)
#: Error rates (bounded by 1 as fractions; losses and perplexities are not rates).
RATE_METRICS = re.compile(r"(error|err\b|wer|cer)", re.IGNORECASE)
#: A rate series whose largest value exceeds this is in percent: a word error rate can pass
#: 1 as a fraction (insertions), not 1.5 over a whole run; a percent series stays below 1.5
#: only for a model that is excellent at its first evaluation.
RATE_PERCENT_ABOVE = 1.5
CONFIG_FILES = ("args.yaml", "config.yaml", "hparams.yaml", "config.json", "args.json",
                "opt.yaml")


@dataclass
class Run:
    """One training run: its metrics over steps and its configuration."""

    path: Path
    layout: str
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    state: dict[str, Any] | None = None  # hf-trainer: the trainer_state.json read

    @cached_property
    def config(self) -> dict[str, Any]:
        """The run folder's configuration files, merged (read once)."""
        return _config(self.path)

    def metrics(self) -> list[str]:
        return sorted(self.series)

    def progress(self) -> tuple[float, float, str] | None:
        """(done, planned, unit) from the trainer's own records, or None where it keeps none.

        Ultralytics: the epochs in ``results.csv`` (1-based) against ``args.yaml``'s
        ``epochs``; timm: those of ``summary.csv`` (0-based) against ``args.yaml``'s
        ``epochs``; the Hugging Face Trainer: ``global_step`` against ``max_steps`` in
        ``trainer_state.json``.
        """
        if self.layout in ("ultralytics", "timm"):
            planned = _num(self.config.get("epochs"))
            steps = [st for pts in self.series.values() for st, _ in pts]
            if planned is None or not steps:
                return None
            done = max(steps) + (1.0 if self.layout == "timm" else 0.0)
            return done, planned, "epochs"
        if self.layout == "hf-trainer":
            state = self.state or {}
            done, planned = _num(state.get("global_step")), _num(state.get("max_steps"))
            if done is None or planned is None or planned <= 0:
                return None
            return done, planned, "steps"
        return None


def _num(v: Any) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if x == x else None


def _from_rows(rows: list[dict[str, Any]], step_key: str) -> dict[str, list[tuple[float, float]]]:
    series: dict[str, list[tuple[float, float]]] = {}
    for i, row in enumerate(rows):
        step = _num(row.get(step_key, i))
        for k, v in row.items():
            x = _num(v)
            if k == step_key or x is None or step is None:
                continue
            series.setdefault(k, []).append((step, x))
    return series


def _unreadable(path: Path, exc: Exception) -> CurveTableError:
    return CurveTableError(f"{path}: not readable as this trainer writes it "
                           f"({type(exc).__name__}: {exc}). Fix: a run killed while writing "
                           "leaves such a file: rerun that run, or move its folder out of the "
                           "runs folder")


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except UnicodeDecodeError as exc:
        raise _unreadable(path, exc) from None


def _load_json(path: Path) -> Any:
    try:
        return json.loads(_text(path))
    except ValueError as exc:
        raise _unreadable(path, exc) from None


def _csv(path: Path, step_key: str) -> dict[str, list[tuple[float, float]]]:
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None
    df.columns = [str(c).strip() for c in df.columns]
    return _from_rows(df.to_dict("records"), step_key)


def _json_lines(path: Path, step_key: str) -> dict[str, list[tuple[float, float]]]:
    rows = []
    for i, line in enumerate(_text(path).splitlines(), start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise CurveTableError(f"{path}, line {i}: not a JSON line. Fix: check the file "
                                      "(a run killed while writing leaves a partial last line; "
                                      "delete that line)") from None
    return _from_rows(rows, step_key)


def _tensorboard(folder: Path) -> dict[str, list[tuple[float, float]]]:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise CurveTableError(f"{folder}: TensorBoard event files need tensorboard: pip install "
                              "tensorboard") from None
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(float(e.step), float(e.value)) for e in acc.Scalars(tag)]
            for tag in acc.Tags().get("scalars", [])}


def detect(folder: Path) -> Run | None:
    """The run stored in ``folder`` (None: no recognised layout there)."""
    if (folder / "results.csv").is_file() and (folder / "args.yaml").is_file():
        return Run(folder, "ultralytics", _csv(folder / "results.csv", "epoch"))
    if (folder / "summary.csv").is_file():
        return Run(folder, "timm", _csv(folder / "summary.csv", "epoch"))
    if (folder / "metrics.json").is_file():
        return Run(folder, "detectron2", _json_lines(folder / "metrics.json", "iteration"))
    scalars = sorted(folder.glob("*/vis_data/scalars.json"))
    if scalars:
        series: dict[str, list[tuple[float, float]]] = {}
        for f in scalars:  # one timestamped folder per (re)start of the run
            for k, v in _json_lines(f, "step").items():
                series.setdefault(k, []).extend(v)
        return Run(folder, "mmengine", series)
    if (folder / "trainer_state.json").is_file():
        state = _load_json(folder / "trainer_state.json")
        return Run(folder, "hf-trainer", _from_rows(state.get("log_history", []), "step"),
                   state=state)
    if any(folder.glob("events.out.tfevents.*")):
        return Run(folder, "tensorboard", _tensorboard(folder))
    return None


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
#: Folders that hold copies of runs, not runs: MLflow's local store (Ultralytics' MLflow
#: callback copies results.csv and args.yaml under mlruns/*/*/artifacts).
NOT_RUNS = ("mlruns",)


def _hf_checkpoints(d: Path) -> Run | None:
    """An output_dir holding only ``checkpoint-<step>`` folders: one run, its latest
    checkpoint's ``trainer_state.json`` (the log history up to that step)."""
    ck = sorted(((int(m.group(1)), p) for p in d.iterdir() if p.is_dir()
                 and (m := _CHECKPOINT.match(p.name)) and (p / "trainer_state.json").is_file()),
                key=lambda t: t[0])
    if not ck:
        return None
    last = ck[-1][1]
    state = _load_json(last / "trainer_state.json")
    return Run(d, "hf-trainer", _from_rows(state.get("log_history", []), "step"), state=state)


def find_runs(root: str | Path) -> list[Run]:
    """Every run folder under ``root`` (a run's own subfolders are not searched; the
    ``checkpoint-*`` folders of one Hugging Face run are that one run; MLflow's ``mlruns``
    copies are skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise CurveTableError(f"{root}: no such folder. Fix: give the folder that holds the runs")
    runs: list[Run] = []
    seen: set[Path] = set()

    def walk(d: Path) -> None:
        real = d.resolve()
        if real in seen:  # a symlink back up the tree, or a second link to one run
            return
        seen.add(real)
        run = detect(d) or _hf_checkpoints(d)
        if run is not None:
            runs.append(run)
            return
        # real folders before links to them, so a run is named by its own path
        for sub in sorted((p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")
                           and p.name not in NOT_RUNS), key=lambda p: (p.is_symlink(), p.name)):
            walk(sub)

    walk(root)
    return runs


def _python_configs(folder: Path) -> list[Path]:
    """mmengine's dumped configs: ``<work_dir>/<config>.py`` and the visualiser's
    ``<work_dir>/<timestamp>/vis_data/config.py`` (newest last)."""
    return sorted(folder.glob("*.py")) + sorted(folder.glob("*/vis_data/config.py"))


def _literal(node: Any, where: Path) -> Any:
    """The value of a config expression made of literals and ``dict(...)`` calls (what
    mmengine's ``Config.dump`` writes), without executing anything."""
    import ast

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "dict" and not node.args:
        return {k.arg: _literal(k.value, where) for k in node.keywords if k.arg is not None}
    if isinstance(node, ast.Dict):
        return {_literal(k, where): _literal(v, where) for k, v in zip(node.keys, node.values,
                                                                        strict=True)
                if k is not None}
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e, where) for e in node.elts]
    return ast.literal_eval(node)


def _python_config(p: Path) -> dict[str, Any]:
    import ast

    try:
        tree = ast.parse(_text(p), filename=str(p))
    except (SyntaxError, ValueError) as exc:
        raise CurveTableError(f"{p}: not a readable Python config ({exc})") from None
    out: dict[str, Any] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name):
            try:
                out[stmt.targets[0].id] = _literal(stmt.value, p)
            except (ValueError, TypeError, SyntaxError):
                continue  # an expression (a variable, arithmetic): not a value to read
    return out


def _config(folder: Path) -> dict[str, Any]:
    import yaml

    merged: dict[str, Any] = {}
    for name in CONFIG_FILES:
        p = folder / name
        if p.is_file():
            try:
                data = (json.loads(_text(p)) if p.suffix == ".json"
                        else yaml.safe_load(_text(p)))
            except (ValueError, yaml.YAMLError) as exc:
                raise CurveTableError(f"{p}: not readable ({exc})") from None
            if isinstance(data, dict):
                merged = {**data, **merged}
    py: dict[str, Any] = {}
    for p in _python_configs(folder):  # mmengine's dumps, the newest last: it wins
        py.update(_python_config(p))
    return {**py, **merged}  # the YAML / JSON files above them


def _search(pattern: str, text: str, flag: str) -> re.Match[str] | None:
    try:
        return re.search(pattern, text)
    except re.error as exc:
        raise CurveTableError(f"{flag}: '{pattern}' is not a valid regular expression "
                              f"({exc}). Fix: " r"e.g. 'n(\d+)' (quote it in the shell)") \
            from None


def run_n(run: Run, n_from: str, root: Path, flag: str = "--n-from") -> float:
    """A size of a run (the synthetic n, or the real s with ``flag="--s-from"``), by
    ``config:KEY`` (a number, or ``config:KEY~PATTERN``: the number that PATTERN's group
    finds in the key's value, e.g. Ultralytics' ``config:data~_n(\\d+)`` for
    ``data: syn_n1000.yaml``) or ``regex:PATTERN`` on the run's path."""
    how, _, what = n_from.partition(":")
    if how == "config" and what:
        key, tilde, pattern = what.partition("~")
        cfg = run.config
        v: Any = cfg
        for part in key.split("."):
            if not isinstance(v, dict) or part not in v:
                files = [n for n in CONFIG_FILES if (run.path / n).is_file()] + [
                    str(p.relative_to(run.path)) for p in _python_configs(run.path)]
                raise CurveTableError(f"{run.path}: no key '{key}' in its configuration "
                                      f"({', '.join(files) or 'no config file'}). Fix: give "
                                      "the key that holds the size, or use "
                                      f"{flag} regex:PATTERN on the folder name")
            v = v[part]
        raw: Any = v
        if tilde:
            text = " ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
            m = _search(pattern, text, flag)
            if m is None or not m.groups():
                raise CurveTableError(f"{run.path}: {flag} pattern '{pattern}' finds no number in "
                                      f"{key} = {text!r}. Fix: a pattern with one group around the "
                                      r"number, e.g. '_n(\d+)'")
            raw = m.group(1)
    elif how == "regex" and what:
        rel = str(run.path.relative_to(root))
        m = _search(what, rel, flag)
        if m is None or not m.groups():
            raise CurveTableError(f"{run.path}: {flag} regex {what!r} does not match its path (or "
                                  "has no group). Fix: a pattern with one group around the number, "
                                  r"e.g. 'n(\d+)'")
        i = m.start()
        if i > 0 and rel[i].isalpha() and rel[i - 1].isalpha():
            word = re.search(r"[A-Za-z0-9]*$", rel[:i]).group(0) + m.group(0)
            raise CurveTableError(f"{run.path}: {flag} regex {what!r} matches {m.group(0)!r} "
                                  f"inside the word {word!r}, so the number is ambiguous (trainers "
                                  "number their default run folders: train, train2, ...). Fix: "
                                  r"anchor the pattern, e.g. '(?:^|[/_-])n(\d+)', or use "
                                  f"{flag} config:KEY")
        raw = m.group(1)
    else:
        raise CurveTableError(f"{flag} must be config:KEY[~PATTERN] or regex:PATTERN, got "
                              f"{n_from!r}")
    n = _num(raw)
    if n is None or n <= 0:
        raise CurveTableError(f"{run.path}: the size read by {flag} {n_from!r} is {raw!r}, not a "
                              "positive number")
    return n


def _unit(run: Run, metric: str, points: list[tuple[float, float]], lower: bool) -> float:
    """100 if this run logs ``metric`` in percent, else 1; impossible values are refused.

    A score is in percent when its tool says so (:data:`PERCENT_METRICS`) or when this run's
    own series exceeds 1; values outside [0, 100] (COCO's -1 "no ground truth" sentinel, a
    diverged run) are not scores at all. Losses and errors must be finite and >= 0.
    """
    vals = [v for _, v in points]
    bad = [v for v in vals if not (v == v and abs(v) != float("inf"))]
    if lower:
        bad += [v for v in vals if v < 0]
        if bad:
            raise CurveTableError(f"{run.path}: {metric} is {bad[0]!r} in this {run.layout} run, "
                                  "not a loss or error (they are finite and >= 0). Fix: drop or "
                                  "rerun that run, or choose another --metric")
        # an error rate in percent (Hugging Face's speech examples log eval_wer = 100·WER)
        if RATE_METRICS.search(metric) and not LOSS_LIKE.search(metric) and \
                max(vals) > RATE_PERCENT_ABOVE:
            if max(vals) > 100:
                raise CurveTableError(f"{run.path}: {metric} reaches {max(vals):g} in this "
                                      f"{run.layout} run, an error rate neither in [0, 1] nor in "
                                      "percent. Fix: check what the trainer logs, or pass "
                                      "--lower-is-better with a loss metric")
            return 100.0
        return 1.0
    bad += [v for v in vals if v < 0 or v > 100]
    if bad:
        raise CurveTableError(f"{run.path}: {metric} is {bad[0]!r} in this {run.layout} run, "
                              "not a score in [0, 1] or in percent (a sentinel such as COCO's -1 "
                              "for 'no ground truth', or a diverged run). Fix: drop or rerun that "
                              "run, or choose another --metric")
    rule = PERCENT_METRICS.get(run.layout)
    if rule is not None and rule.search(metric):
        return 100.0
    return 100.0 if max(vals) > 1 else 1.0


def collect(root: str | Path, *, metric: str, n_from: str, select: str = "last",
            lower_is_better: bool | None = None, allow_repeats: bool = False,
            allow_incomplete: bool = False, s_from: str | None = None
            ) -> tuple[pd.DataFrame, list[str]]:
    """One row per run: ``n`` and ``error`` (plus ``layout``, ``run``; ``s`` with
    ``s_from``), and notes.

    ``n_from`` / ``s_from``: where a run's synthetic size n / real fine-tuning size s is
    (:func:`run_n`); with ``s_from`` one collect gathers an (n, s) grid.

    ``metric``: the metric's name in the runs; a score (higher is better, e.g. mAP or
    accuracy) becomes ``error = 1 - score``; a run whose score is in percent (its tool's
    convention, or its own values above 1) is divided by 100 first, run by run, and values no
    score can take are refused (:func:`_unit`). ``select``: the last evaluation of each run
    or its best. Runs sharing one n are refused unless ``allow_repeats`` (seeds: the reader
    averages them). Runs that stopped before the end their trainer planned
    (:meth:`Run.progress`: a crash, a time-out, or early stopping) are set aside and named in
    the notes unless ``allow_incomplete``.
    """
    root = Path(root)
    runs = find_runs(root)
    if not runs:
        raise CurveTableError(f"{root}: no run folder found. Fix: point at the folder holding the "
                              "runs (Ultralytics, timm, detectron2, mmengine, Hugging Face Trainer "
                              "or TensorBoard event files)")
    lower = (bool(LOWER_IS_BETTER.search(metric)) if lower_is_better is None
             else lower_is_better)
    rows, notes, percent, short = [], [], [], []
    for run in runs:
        prog = run.progress()
        if prog is not None and prog[0] < prog[1] and not allow_incomplete:
            short.append(f"{run.path.relative_to(root)} ({prog[0]:g} of {prog[1]:g} "
                         f"{prog[2]})")
            continue
        if metric not in run.series:
            raise CurveTableError(f"{run.path}: no metric {metric!r} in this {run.layout} "
                                  f"run. Fix: --metric one of "
                                  f"{', '.join(run.metrics()) or '(none)'}")
        points = run.series[metric]
        scale = _unit(run, metric, points, lower)
        if scale != 1.0:
            percent.append(str(run.path.relative_to(root)))
            points = [(st, v / scale) for st, v in points]
        if select == "last":
            step, value = max(points, key=lambda p: p[0])
        elif select == "best":
            step, value = (min if lower else max)(points, key=lambda p: p[1])
        else:
            raise CurveTableError(f"--select must be last or best, got {select!r}")
        row = {"n": run_n(run, n_from, root), "value": value, "step": step,
               "layout": run.layout, "run": str(run.path.relative_to(root))}
        if s_from is not None:
            row["s"] = run_n(run, s_from, root, flag="--s-from")
        rows.append(row)
    if short:
        notes.append(f"set aside {len(short)} incomplete run(s), by their trainer's own "
                     f"record: {'; '.join(short)}. Rerun them, or pass --allow-incomplete "
                     "if they ended early on purpose (early stopping)")
    if not rows:
        raise CurveTableError(f"{root}: every run is incomplete ({'; '.join(short[:3])}). Fix: "
                              "let them finish, or pass --allow-incomplete")
    df = pd.DataFrame(rows)
    if percent:
        notes.append(f"{metric} in percent in {len(percent)} of {len(df)} runs (divided by "
                     f"100): {', '.join(percent[:3])}{', ...' if len(percent) > 3 else ''}")
    if not lower:
        df["error"] = 1.0 - df["value"]
        notes.append(f"error = 1 - {metric} ({select} evaluation of each run)")
    else:
        df["error"] = df["value"]
        notes.append(f"error = {metric} ({select} evaluation of each run)")
    keys = ["n"] + (["s"] if s_from is not None else [])
    dup = df[df.duplicated(keys, keep=False)]
    if len(dup) and not allow_repeats:
        first = dup.sort_values(keys).iloc[:2]
        at = ", ".join(f"{k} = {first[k].iloc[0]:g}" for k in keys)
        raise CurveTableError(f"runs {first['run'].iloc[0]} and {first['run'].iloc[1]} both have "
                              f"{at}. Fix: check --n-from{' / --s-from' if s_from else ''}, "
                              "or pass --allow-repeats when they are repeats (seeds) to be "
                              "averaged")
    notes.insert(0, f"{len(df)} runs ({', '.join(sorted(set(df['layout'])))})")
    return df.sort_values(keys).reset_index(drop=True)[
        keys + ["error", "step", "layout", "run"]], notes
