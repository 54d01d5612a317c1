"""Issue 12: one typed path from study to report (registry, task objects, job specs, curves
in memory, each curve fitted once)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from syn2real.curves import curves_from_frame, read_curves
from syn2real.errors import UserError
from syn2real.jobspecs import FinetuneJob, PretrainJob
from syn2real.law import PowerLaw, TransferLaw, fit_estimators
from syn2real.registry import MODELS, task_names
from syn2real.sweep.config import parse_config
from syn2real.sweep.plan import build_plan


def test_registry_parameter_counts_are_torchvisions():
    tvm = pytest.importorskip("torchvision.models")
    for name, count in MODELS.items():
        net = getattr(tvm, name)(weights=None)
        assert count == sum(p.numel() for k, p in net.named_parameters()
                            if not k.startswith("fc."))


def test_every_registered_task_has_an_object_and_unknown_names_are_errors():
    pytest.importorskip("torch")
    from syn2real.tasks.task import get_task

    assert {get_task(t).name for t in task_names()} == set(task_names())
    assert get_task("semseg").num_classes(10) == 11 and get_task("mulclass").num_classes(10) == 10
    assert get_task("normal").flips is False and get_task("semseg").decay == "poly"
    with pytest.raises(ValueError, match="unknown task 'depth'"):
        get_task("depth")
    with pytest.raises(ValueError, match="unknown task 'sinclass'"):
        get_task("sinclass", ("mulclass", "objdet"))


def test_job_specs_validate_once_with_one_line_and_derive_paths(tmp_path):
    job = PretrainJob(data="d", n=10, out=str(tmp_path / "pt"))
    assert job.checkpoint == tmp_path / "pt" / "backbone.pt"
    assert "out" not in job.identity() and "data" not in job.identity()
    with pytest.raises(UserError) as exc:
        PretrainJob.make(data="d", n=10, out="o", task="depth")
    assert "\n" not in str(exc.value) and "'task'" in str(exc.value)
    with pytest.raises(UserError, match="not both"):
        FinetuneJob.make(fraction=0.1, count=10)
    ft = FinetuneJob(iters=100, evals=4)
    assert ft.val_every == 25 and ft.checkpoint is None


def test_plan_jobs_carry_typed_specs_and_keys_ignore_the_run_folder(tmp_path):
    cfg = parse_config({"render": {"presets": ["lv0"]}, "pretrain": {"n": [10, 20, 40]},
                        "finetune": [{"counts": [30]}]})
    a, b = build_plan(cfg, tmp_path / "a"), build_plan(cfg, tmp_path / "elsewhere" / "b")
    assert list(a.jobs) == list(b.jobs)  # content keys: the folder is not part of them
    for job in a.by_kind("pretrain"):
        assert isinstance(job.spec, PretrainJob)
        assert job.spec.out == str(tmp_path / "a" / "pretrain" / job.key)
    for job in a.by_kind("finetune"):
        assert isinstance(job.spec, FinetuneJob) and job.spec.count == 30
        if job.deps:
            assert job.spec.backbone == str(a.jobs[job.deps[0]].spec.checkpoint)


def test_batch_estimators_equal_one_by_one_fits():
    rng = np.random.default_rng(0)
    curves = []
    for i in range(6):
        n = np.array([1e3, 2e3, 4e3, 8e3, 16e3, 32e3][: 4 + i % 3])
        err = 0.5 * n ** -0.3 + 0.1 + rng.normal(0, 0.002, n.size)
        curves.append({"n": n, "err": err, "weights": np.ones(n.size) * (1 + i % 2)})
    for template in (TransferLaw(), TransferLaw(D=0.48), PowerLaw(loss="log")):
        many = fit_estimators(template, curves)
        for c, est in zip(curves, many, strict=True):
            one = template.clone().fit(c["n"], c["err"], weights=c["weights"])
            for k, v in one.params_.items():
                assert est.params_[k] == pytest.approx(v, rel=1e-6, abs=1e-9)
            assert est.conf_int(0.9).keys() == one.conf_int(0.9).keys()
            assert est.predict(5e4) == pytest.approx(one.predict(5e4), rel=1e-6)


def test_curves_in_memory_equal_the_csv_reader(tmp_path):
    rows = [{"n_eval": 100, "value": v, "pretrain.data": n, "pscale": "8k", "ptask": "mulclass",
             "fdata": "mnist", "fratio": 2.0, "ftask": "sinclass", "model": "r18",
             "nparam": 11.18, "pdata": "lv0", "s": 100, "seed": f"{seed}/{seed}"}
            for n, v in [(0, 0.7), (1000, 0.75), (2000, 0.781), (4000, 0.8)]
            for seed in (0, 1)]
    df = pd.DataFrame(rows)
    df.loc[1, "value"] = 0.7 + 1e-13  # exact values survive (no rounding through text)
    path = tmp_path / "r.csv"
    df.to_csv(path, index=False)
    mem, disk = curves_from_frame(df, source="mem"), read_curves(path)
    pd.testing.assert_frame_equal(mem.data, disk.data)
    pd.testing.assert_frame_equal(mem.baseline, disk.baseline)
    assert mem.groups == disk.groups and mem.notes == disk.notes


def test_cli_tells_our_input_checks_from_internal_errors():
    import numpy as np
    import typer
    from typer.testing import CliRunner

    from syn2real.cli.common import friendly
    from syn2real.law import TransferLaw

    app = typer.Typer()

    @app.command()
    @friendly
    def cmd(which: str) -> None:
        if which == "ours":  # syn2real's own input check: the user's to fix
            TransferLaw().fit([1, 2, 3], [0.5, 0.4])
        np.zeros(3).reshape(2, 2)  # a ValueError from numpy underneath: internal

    ours = CliRunner().invoke(app, ["ours"])
    assert ours.exit_code == 2 and "error:" in ours.output and "internal" not in ours.output
    deep = CliRunner().invoke(app, ["deep"])
    assert deep.exit_code == 1 and "internal error (ValueError" in deep.output
