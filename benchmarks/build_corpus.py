"""Assemble further development learning curves from public repositories (data only).

The decision engine is developed on ``../shared/data/dev-curves`` and cg-transfer; this script
widens that corpus with curve kinds those sources lack, read from the files the authors
committed (no code of theirs is used or copied):

=================  =========================================================================
source             what x / y are
=================  =========================================================================
pythia-ckpt        training step (checkpoints of **one** run, cosine LR decay) -> zero-shot
                   error (1 - acc) or LAMBADA perplexity of the 16 Pythia models, v0 and v1
                   (EleutherAI/pythia ``evals/pythia-v*/*/zero-shot/*.json``); Apache-2.0
pythia-size        parameters (nominal, from the model name) -> the same metrics at the last
                   checkpoint, one curve per (suite, dedup, metric); Apache-2.0
nanogpt-speedrun   training step (checkpoints of one run, LR cool-down at the end) -> GPT-2
                   validation loss of the modded-nanogpt speedrun records, the logs of one
                   record averaged (KellerJordan/modded-nanogpt ``records/**/*.txt|log``); MIT
timm-size          parameters -> ImageNet top-1 error on 8 test sets of one timm model family
                   trained with one recipe (same pretrained tag), e.g. ``regnety_*.pycls_in1k``
                   (huggingface/pytorch-image-models ``results/results-*.csv``); Apache-2.0
mlperf-<bench>     training progress (samples or epochs at each evaluation, checkpoints of one
                   run: warm-up, then a decaying learning rate; every run stops when it meets
                   the benchmark's quality target) -> the quality metric as an error, from the
                   MLPerf Training submissions' compliance logs (``:::MLLOG`` lines of
                   ``<org>/results/<system>/<bench>/result_<i>.txt``, rounds v0.7-v2.0 of
                   mlcommons/training_results_v*), one curve per run whose ``run_stop`` says
                   ``success`` (the runs of one submission are seeds of one system and code).
                   One source per benchmark, each its own model, data and metric:
                   ``bert`` (1 - masked-LM accuracy, by samples), ``rnnt`` (word error rate),
                   ``unet3d`` (1 - mean Dice), ``dlrm`` (1 - AUC), ``resnet`` (1 - top-1),
                   ``ssd`` (1 - mAP); Apache-2.0
=================  =========================================================================

Every repository is read at a pinned commit with ``git show``, from a local clone given with
``--repo owner/name=PATH`` (a bare or a working clone) or, without one, cloned from GitHub
into ``--cache``. The output (``--out``, default ``data/corpus``, not part of the repository)
is the dev-curves layout — ``source, curve, x, y, metric, x_means, kind`` — beside
``PROVENANCE.md`` (repository, commit, paths, licence per source) and each licence text.
``benchmarks/decide_cases.py`` reads it when it exists (``SYN2REAL_CORPUS`` names another
folder).

Left out on purpose, so that the engine's external check stays external: the "Revisiting
Neural Scaling Laws" benchmark files, mlfoundations/scaling, LAION-AI's scaling-law
repositories, ethancaballero/broken_neural_scaling_laws, epoch-research/analyzing-chinchilla,
ryoungj/ObsScaling.

Usage::

    python benchmarks/build_corpus.py --out data/corpus \\
        --repo EleutherAI/pythia=/path/to/pythia.git
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Repo:
    """A public repository read at one commit."""

    name: str      # owner/name
    commit: str
    licence: str   # SPDX id
    licence_file: str = "LICENSE"


PYTHIA = Repo("EleutherAI/pythia", "a19eecb807ec2c79a39ebf18108816e6ffffc1d5", "Apache-2.0")
NANOGPT = Repo("KellerJordan/modded-nanogpt", "f411b3d346aa52d3504324ca93c230fd84c6c07f", "MIT")
TIMM = Repo("huggingface/pytorch-image-models", "aa4b5850c1543fa488abf260f18390eda46cf85d",
            "Apache-2.0")
#: MLPerf Training results, one repository per round.
MLPERF = (Repo("mlcommons/training_results_v0.7", "0a8a85a209c8e45b661596c382cc20f4e32fd2fe",
               "Apache-2.0", "LICENSE.md"),
          Repo("mlcommons/training_results_v1.0", "50619b5df63f1d646715a82c1fb8c35f271e25fa",
               "Apache-2.0", "LICENSE.md"),
          Repo("mlcommons/training_results_v1.1", "ebe92f81f7a69255a3b0a907595d8be623d75ec6",
               "Apache-2.0", "LICENSE.md"),
          Repo("mlcommons/training_results_v2.0", "8437fbb78349aa3c3054aeccb1d47d2a315a80e7",
               "Apache-2.0", "LICENSE.md"))
REPOS = (PYTHIA, NANOGPT, TIMM, *MLPERF)
#: MLPerf benchmarks read, and how their ``eval_accuracy`` becomes an error (lower is better):
#: ``1 - value`` for accuracies, Dice, AUC and mAP, the value itself for a word error rate.
#: Left out: minigo (win rate against a reference player, not a learning curve towards a
#: floor), maskrcnn (two metrics in one value), gnmt / transformer (BLEU is no error rate).
MLPERF_BENCHES = {"bert": "one_minus", "rnnt": "as_is", "unet3d": "one_minus",
                  "dlrm": "one_minus", "resnet": "one_minus", "ssd": "one_minus"}
_MLLOG = ":::MLLOG "
_RESULT = re.compile(r"^(?:.*/)?results/([^/]+)/([^/]+)/result_(\d+)\.txt$")

#: Zero-shot tasks of the Pythia evaluations that move with training (MMLU stays at chance).
PYTHIA_TASKS = ("lambada_openai", "piqa", "arc_easy", "arc_challenge", "sciq", "winogrande",
                "logiqa")
#: Test sets of timm's results folder.
TIMM_SETS = ("imagenet", "imagenet-real", "imagenetv2-matched-frequency", "sketch",
             "imagenet-r", "imagenet-a", "imagenet-r-clean", "imagenet-a-clean")
#: Size words of timm model names: a family is a name with its size word replaced.
_SIZE = re.compile(r"(?<![a-z0-9])(atto|femto|pico|nano|tiny|small|medium|base|large|xlarge|"
                   r"xxlarge|huge|giant|gigantic|[blms]\d|\d{2,4}[a-z]?)(?![a-z0-9])")


class Git:
    """``git show`` / ``git ls-tree`` on one repository at one commit."""

    def __init__(self, path: Path, commit: str) -> None:
        self.path, self.commit = path, commit

    def _run(self, *args: str, missing_ok: bool = False) -> str | None:
        r = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True)
        if r.returncode != 0 and missing_ok and "bad object" in r.stderr:
            return None  # listed in the tree, blob absent from a partial clone
        if r.returncode != 0:
            raise SystemExit(f"git {' '.join(args[:2])} in {self.path}: {r.stderr.strip()} "
                             f"(is commit {self.commit[:10]} in that clone? fetch it)")
        return r.stdout

    def files(self, prefix: str) -> list[str]:
        spec = ("--", prefix) if prefix else ()
        return self._run("ls-tree", "-r", "--name-only", self.commit, *spec).split("\n")[:-1]

    def show(self, path: str, missing_ok: bool = False) -> str | None:
        return self._run("show", f"{self.commit}:{path}", missing_ok=missing_ok)

    def show_many(self, paths: list[str]) -> Iterator[tuple[str, str | None]]:
        """(path, text) of many files in one ``git cat-file --batch`` (``None``: a blob
        absent from a partial clone)."""
        r = subprocess.run(["git", "-C", str(self.path), "cat-file", "--batch"],
                           input="".join(f"{self.commit}:{p}\n" for p in paths).encode(),
                           capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"git cat-file in {self.path}: {r.stderr.decode().strip()}")
        out, pos = r.stdout, 0
        for path in paths:
            nl = out.index(b"\n", pos)
            head = out[pos:nl].split()
            if head[-1] == b"missing":
                pos = nl + 1
                yield path, None
                continue
            size = int(head[2])
            yield path, out[nl + 1:nl + 1 + size].decode("utf-8", "replace")
            pos = nl + 1 + size + 1


def open_repo(repo: Repo, given: dict[str, Path], cache: Path) -> Git:
    """The repository as given on the command line, or a clone of it in ``cache``."""
    if repo.name in given:
        return Git(given[repo.name], repo.commit)
    dest = cache / repo.name.replace("/", "+")
    if not dest.exists():
        print(f"cloning {repo.name} into {dest} ...", file=sys.stderr)
        r = subprocess.run(["git", "clone", "--bare", "--filter=blob:none",
                            f"https://github.com/{repo.name}.git", str(dest)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"could not clone {repo.name} ({r.stderr.strip()[:200]}); give a "
                             f"local clone with --repo {repo.name}=PATH")
    return Git(dest, repo.commit)


# ----------------------------------------------------------------------------------- sources
_STEP = re.compile(r"step_?(\d+)")
_PARAMS = re.compile(r"pythia-(\d+(?:\.\d+)?)([mb])")


def pythia_points(git: Git) -> pd.DataFrame:
    """One row per (suite, model, step, metric) of the zero-shot evaluations."""
    rows = []
    for path in git.files("evals"):
        parts = path.split("/")
        if len(parts) != 5 or parts[3] != "zero-shot" or not path.endswith(".json") \
                or not parts[1].startswith("pythia-v"):
            continue
        suite, model = parts[1], parts[2]
        m, p = _STEP.search(parts[4]), _PARAMS.match(model)
        if m is None or p is None:
            continue
        res = json.loads(git.show(path)).get("results", {})
        params = float(p.group(1)) * (1e6 if p.group(2) == "m" else 1e9)
        for task in PYTHIA_TASKS:
            r = res.get(task)
            if not r or "acc" not in r:
                continue
            rows.append((suite, model, params, int(m.group(1)), f"{task}:error",
                         1.0 - float(r["acc"])))
            if task == "lambada_openai" and "ppl" in r:
                rows.append((suite, model, params, int(m.group(1)), "lambada_openai:ppl",
                             float(r["ppl"])))
    return pd.DataFrame(rows, columns=["suite", "model", "params", "step", "metric", "y"])


def pythia_curves(pts: pd.DataFrame) -> Iterator[tuple[str, str, str, np.ndarray, np.ndarray]]:
    """(source, curve, metric, x, y): checkpoints per model, and sizes at the last step."""
    for (suite, model, metric), g in pts.groupby(["suite", "model", "metric"], sort=True):
        g = g[g["step"] > 0].groupby("step")["y"].mean()
        yield "pythia-ckpt", f"{suite}/{model}/{metric}", metric, \
            g.index.to_numpy(float), g.to_numpy(float)
    pts = pts.assign(dedup=pts["model"].str.contains("deduped"),
                     plain=~pts["model"].str.contains(r"BS|bf16|-\d+M?tok", regex=True))
    pts = pts[pts["plain"] | pts["model"].str.endswith("bf16")]
    last = pts.loc[pts.groupby(["suite", "model", "metric"])["step"].transform("max")
                   == pts["step"]]
    for (suite, dedup, metric), g in last.groupby(["suite", "dedup", "metric"], sort=True):
        h = g.groupby("params")["y"].mean()
        yield "pythia-size", f"{suite}/{'deduped' if dedup else 'standard'}/{metric}", metric, \
            h.index.to_numpy(float), h.to_numpy(float)


_VAL = re.compile(r"^step:(\d+)/(\d+) val_loss:([0-9.]+)", re.M)


def nanogpt_curves(git: Git) -> Iterator[tuple[str, str, str, np.ndarray, np.ndarray]]:
    """One curve per (record folder, run length): its logs' validation losses averaged."""
    logs: dict[tuple[str, int], list[dict[int, float]]] = {}
    absent = 0
    for path in git.files("records"):
        if not path.endswith((".txt", ".log")):
            continue
        text = git.show(path, missing_ok=True)
        if text is None:
            absent += 1
            continue
        found = _VAL.findall(text)
        if not found:
            continue
        total = int(found[-1][1])
        run = {int(s): float(v) for s, t, v in found if int(t) == total and int(s) > 0}
        if len(run) >= 5 and all(np.isfinite(list(run.values()))):
            logs.setdefault((path.rsplit("/", 1)[0], total), []).append(run)
    if absent:
        print(f"modded-nanogpt: {absent} log(s) listed but not in this clone, left out",
              file=sys.stderr)
    for (folder, total), runs in sorted(logs.items()):
        steps = sorted(set.intersection(*(set(r) for r in runs)))
        if len(steps) < 5:
            continue
        y = np.array([np.mean([r[s] for r in runs]) for s in steps])
        yield "nanogpt-speedrun", f"{folder}@{total}", "val_loss", np.array(steps, float), y


def timm_curves(git: Git) -> Iterator[tuple[str, str, str, np.ndarray, np.ndarray]]:
    """Model-size curves: the models of one family and one pretrained tag, per test set."""
    for test_set in TIMM_SETS:
        d = pd.read_csv(StringIO(git.show(f"results/results-{test_set}.csv")), thousands=",")
        arch, _, tag = d["model"].str.partition(".").iloc[:, [0, 1, 2]].T.to_numpy()
        fam = [_SIZE.sub("#", a) for a in arch]
        d = d.assign(family=fam, tag=tag, sized=[f != a for f, a in zip(fam, arch, strict=True)])
        d = d[d["sized"] & (d["tag"] != "")]
        for (family, tag), g in d.groupby(["family", "tag"], sort=True):
            h = g.groupby("param_count")["top1_err"].min() / 100.0
            if len(h) < 5 or h.index.max() / h.index.min() < 8:
                continue
            yield "timm-size", f"{family}.{tag}/{test_set}", "top1_err", \
                h.index.to_numpy(float) * 1e6, h.to_numpy(float)


def mllog_run(text: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(progress, eval_accuracy) of one MLPerf compliance log, or ``None`` when the run did
    not end in success or its evaluations have no increasing progress (``samples_count``,
    else ``epoch_num``)."""
    evals, status = [], None
    for line in text.splitlines():
        i = line.find(_MLLOG)
        if i < 0:
            continue
        try:
            d = json.loads(line[i + len(_MLLOG):])
        except json.JSONDecodeError:
            continue
        if not isinstance(d, dict):
            continue
        md = d.get("metadata") if isinstance(d.get("metadata"), dict) else {}
        if d.get("key") == "eval_accuracy":
            evals.append((md.get("samples_count"), md.get("epoch_num"), d.get("value")))
        elif d.get("key") == "run_stop":
            status = md.get("status")
    if status != "success" or len(evals) < 5 or not all(_number(e[2]) for e in evals):
        return None
    y = np.array([e[2] for e in evals], float)
    for k in (0, 1):
        if all(_number(e[k]) for e in evals):
            x = np.array([e[k] for e in evals], float)
            if np.all(np.diff(x) > 0) and x[0] > 0:
                return x, y
    return None


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def mlperf_curves(gits: list[Git]) -> Iterator[tuple[str, str, str, np.ndarray, np.ndarray]]:
    """One curve per successful MLPerf run (each run stops when it meets the target, so the
    seeds of one submission end at different evaluations: they are kept as separate runs,
    not averaged over a common prefix that would cut most of them short)."""
    for git, repo in zip(gits, MLPERF, strict=True):
        rnd = repo.name.rsplit("_", 1)[1]
        bench = {p: m.group(2) for p in git.files("") if (m := _RESULT.match(p))
                 and m.group(2) in MLPERF_BENCHES}
        for path, text in git.show_many(list(bench)):
            run = mllog_run(text) if text is not None else None
            if run is None:
                continue
            x, y = run
            yield f"mlperf-{bench[path]}", f"{rnd}/{path}", "eval_accuracy", x, \
                1.0 - y if MLPERF_BENCHES[bench[path]] == "one_minus" else y


KIND = {"pythia-ckpt": "checkpoints", "nanogpt-speedrun": "checkpoints",
        "pythia-size": "runs", "timm-size": "runs",
        **{f"mlperf-{b}": "checkpoints" for b in MLPERF_BENCHES}}
#: Per source: the repositories it is read from (the first one's licence file is copied) and
#: which files.
ORIGIN = {
    "pythia-ckpt": ((PYTHIA,), "evals/pythia-v0 and -v1/<model>/zero-shot/*.json"),
    "pythia-size": ((PYTHIA,), "evals/pythia-v0 and -v1/<model>/zero-shot/*.json (last step)"),
    "nanogpt-speedrun": ((NANOGPT,), "records/**/*.txt, *.log (`step:S/T val_loss:V` lines)"),
    "timm-size": ((TIMM,), "results/results-<test set>.csv"),
    **{f"mlperf-{b}": (MLPERF, f"<org>/results/<system>/{b}/result_<i>.txt (`:::MLLOG` lines)")
       for b in MLPERF_BENCHES},
}


def build(git: dict[str, Git]) -> pd.DataFrame:
    """Every curve of every source, long format (``source, curve, x, y, metric, x_means, kind``)."""
    gens = [pythia_curves(pythia_points(git[PYTHIA.name])), nanogpt_curves(git[NANOGPT.name]),
            timm_curves(git[TIMM.name]), mlperf_curves([git[r.name] for r in MLPERF])]
    rows = []
    for gen in gens:
        for source, curve, metric, x, y in gen:
            keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
            for xi, yi in zip(x[keep], y[keep], strict=True):
                rows.append((source, curve, float(xi), float(yi), metric,
                             "steps" if KIND[source] == "checkpoints" else "size", KIND[source]))
    return pd.DataFrame(rows, columns=["source", "curve", "x", "y", "metric", "x_means", "kind"])


def write(corpus: pd.DataFrame, out: Path, git: dict[str, Git]) -> None:
    """The corpus, its provenance and the licences, each file written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "curves.csv.gz.tmp"
    corpus.to_csv(tmp, index=False, compression="gzip", float_format="%.6g")
    tmp.replace(out / "curves.csv.gz")
    n = corpus.groupby("source")["curve"].nunique()
    lines = ["# Development curves from public repositories", "",
             "Built by `benchmarks/build_corpus.py`; data only, read with `git show` at the "
             "commits below.", "",
             "| source | curves | kind | repository @ commit | files | licence |",
             "|---|---|---|---|---|---|"]
    for src, (repos, files) in ORIGIN.items():
        where = ", ".join(f"{r.name} @ {r.commit[:10]}" for r in repos)
        lines.append(f"| {src} | {int(n.get(src, 0))} | {KIND[src]} | {where} | {files} | "
                     f"{repos[0].licence} (`LICENSE-{src}.txt`) |")
        (out / f"LICENSE-{src}.txt").write_text(git[repos[0].name].show(repos[0].licence_file))
    (out / "PROVENANCE.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "corpus")
    ap.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=PATH",
                    help="a local clone to read instead of cloning from GitHub")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "syn2real" / "repos")
    a = ap.parse_args(argv)
    given = {}
    for spec in a.repo:
        name, sep, path = spec.partition("=")
        if not sep or name not in {r.name for r in REPOS}:
            raise SystemExit(f"--repo {spec!r}: expected OWNER/NAME=PATH with OWNER/NAME one of "
                             + ", ".join(r.name for r in REPOS))
        given[name] = Path(path)
    git = {r.name: open_repo(r, given, a.cache) for r in REPOS}
    corpus = build(git)
    write(corpus, a.out, git)
    per = corpus.groupby("source")["curve"].nunique()
    print(f"wrote {a.out / 'curves.csv.gz'}: {corpus['curve'].nunique()} curves, "
          + ", ".join(f"{s} {k}" for s, k in per.items()))


if __name__ == "__main__":
    main()
