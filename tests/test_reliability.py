"""Issue 16's catalogue of adversarial inputs: each case failed on commit a633873.

(Started this round with the config and input cases; the rest of the catalogue follows.)
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from syn2real.advise import advise
from syn2real.cli.app import app
from syn2real.sweep.config import ConfigError, load_config, parse_config

BASE = {"finetune": [{"counts": [100]}]}


def test_duplicate_yaml_keys_are_refused_not_last_wins(tmp_path):
    p = tmp_path / "study.yaml"
    p.write_text("name: a\npretrain:\n  iters: 10\n  iters: 20\nfinetune:\n  - counts: [100]\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'iters' at line 4 \(first at line 3\)"):
        load_config(p)


@pytest.mark.parametrize("bad, where", [
    ({"pretrain": {"tasks": []}}, "pretrain.tasks"),
    ({"pretrain": {"models": []}}, "pretrain.models"),
    ({"pretrain": {"n": []}}, "pretrain.n"),
    ({"finetune": [{"counts": []}]}, "finetune.0.counts"),
    ({"pretrain": {"iters": True}}, "pretrain.iters"),        # not silently 1
    ({"pretrain": {"n": ["20"]}}, "pretrain.n.0"),            # no string-to-int coercion
    ({"name": "../../escape"}, "name"),                       # the run folder stays in runs/
    ({"name": "/tmp/x"}, "name"),
])
def test_configs_that_cannot_mean_what_they_say_are_refused(bad, where):
    with pytest.raises(ConfigError, match=f"'{where}'"):
        parse_config({**BASE, **bad})


def test_empty_spec_file_is_refused_not_rendered_as_defaults(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("")
    res = CliRunner().invoke(app, ["render", "--spec", str(spec), "--n", "10", "--out",
                                   str(tmp_path / "out")])
    assert res.exit_code == 2 and "the file is empty" in res.output
    assert not (tmp_path / "out").exists()
    empty = tmp_path / "empty.yaml"
    empty.write_text("  \n")
    with pytest.raises(ConfigError, match="the file is empty"):
        load_config(empty)


def test_three_points_say_too_few_to_decide():
    adv = advise(([1e3, 2e3, 4e3], [0.9, 0.87, 0.84]), 0.5, budget=1e6)
    assert adv.scenario == "undecided" and "too few points to decide" in adv.verdict
    assert "nan" not in adv.verdict.lower()


def test_hostile_group_names_are_shown_literally(tmp_path):
    import json

    import numpy as np

    rows = ["setting,n,error"]
    for name in ("[/]", "[link=http://x]y", r"$\x$"):
        for n in 1000 * 2 ** np.arange(6):
            rows.append(f"\"{name}\",{n},{0.5 * n ** -0.3 + 0.1:.6f}")
    p = tmp_path / "c.csv"
    p.write_text("\n".join(rows) + "\n")
    runner = CliRunner()
    res = runner.invoke(app, ["fit", str(p)])
    assert res.exit_code == 0, res.output
    assert "setting=[/]" in res.output and "[link=http://x]y" in res.output
    res = runner.invoke(app, ["advise", str(p), "--target", "0.2"])
    assert res.exit_code == 0 and "setting=[/]" in res.output
    res = runner.invoke(app, ["report", str(p), "--target", "0.2", "-o", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "fig1_curves.png").stat().st_size > 10_000
    # with --json - stdout holds only the JSON; the table went to stderr
    res = CliRunner().invoke(app, ["fit", str(p), "--json", "-"])
    assert res.exit_code == 0
    assert len(json.loads(res.stdout)) == 3


TINY_STUDY = {
    "name": "tiny",
    "render": {"presets": ["lv0"], "overrides": {"size": 32, "classes": 3, "shard_size": 30},
               "workers": 1},
    "pretrain": {"n": [20, 40, 60], "iters": 2, "batch": 10, "lr": 0.05, "stem": "imagenet",
                 "val_images": 20},
    "finetune": [{"task": "sinclass", "dataset": "digits", "counts": [30], "iters": 2,
                  "batch": 16}],
    "seeds": [0],
    "executor": {"workers": 1, "threads": 2},
    "fit": {"target": 0.5},
}


def _study(tmp_path, name="study.yaml", **finetune_changes):
    import copy

    import yaml

    raw = copy.deepcopy(TINY_STUDY)
    raw["finetune"][0].update(finetune_changes)
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


def test_a_moved_run_folder_keeps_its_cache_and_its_checkpoints(tmp_path, monkeypatch):
    """Item 1: pre-training folders were named by a hash of the data *path*."""
    import shutil

    from syn2real.sweep.store import Store

    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(app, ["run", str(_study(tmp_path)), "--out", "runs/a",
                                     "--no-report"])
    assert first.exit_code == 0, first.output
    shutil.move(tmp_path / "runs" / "a", tmp_path / "moved")
    changed = _study(tmp_path, "changed.yaml", lr=0.03)  # reruns only the fine-tunes
    res = CliRunner().invoke(app, ["run", str(changed), "--out", str(tmp_path / "moved"),
                                   "--no-report"])
    assert res.exit_code == 0, res.output
    assert "4 ran, 4 cached, 0 failed" in " ".join(res.output.split())
    store = Store(tmp_path / "moved" / "results.sqlite")
    assert not [r for r in store.rows(status="failed")]
