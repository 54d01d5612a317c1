"""Logging a study's finished jobs to MLflow (``tracking: {mlflow: URI}``) and TensorBoard
(``tracking: {tensorboard: DIR}``), and reading runs back from MLflow and W&B.

TensorBoard: one event folder per training job (``DIR/<kind>-<key>``) with its training
curve (``train/loss`` per recorded iteration, ``val/<metric>`` at each evaluation; the
job's row keeps up to 200 points of the curve) and its final metrics; written by the driver
once the job is recorded, never twice (an existing folder is left alone).

One MLflow run per finished job, named by its label: the job's parameters (spec fields and
the study's tags, flattened), its numeric metrics and seconds, tags ``syn2real.key`` and
``syn2real.kind``, and the job's JSON row as an artefact (``row.json``; a checkpoint is
logged by path, not copied). Only the driver logs, after the job is recorded in the store;
a job logged once is not logged again (its key is looked up first).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import UserError


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as ``a.b`` keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


class TensorBoardTracker:
    """Writes each finished training job's curve as TensorBoard event files."""

    def __init__(self, root: str | Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError("tracking.tensorboard needs tensorboard: pip install tensorboard"
                            ) from None
        self._writer = SummaryWriter
        self.root = Path(root)

    def log(self, job: Any, row: dict[str, Any], seconds: float) -> None:
        if job.kind not in ("pretrain", "finetune", "backbone"):
            return
        d = self.root / f"{job.kind}-{job.key}"
        if d.exists() and any(d.glob("events.out.tfevents.*")):
            return  # logged before
        w = self._writer(log_dir=str(d))
        try:
            for rec in row.get("history", []):
                step = int(rec["iter"])
                if "loss" in rec:
                    w.add_scalar("train/loss", float(rec["loss"]), step)
                for k, v in rec.items():
                    if k.startswith("val_") and isinstance(v, (int, float)):
                        w.add_scalar(f"val/{k[4:]}", float(v), step)
            last = max((int(r["iter"]) for r in row.get("history", [])), default=0)
            for k, v in flatten(row.get("metrics", {})).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    w.add_scalar(f"final/{k}", float(v), last)
            w.add_text("job", f"{job.label} ({job.key})", 0)
        finally:
            w.close()


def trackers_of(plan: Any) -> list[Any]:
    """The trackers a study asks for (``tracking`` in its config)."""
    tc = plan.config.tracking
    out: list[Any] = []
    if tc.mlflow:
        out.append(MlflowTracker(tc.mlflow, tc.experiment or plan.config.name))
    if tc.tensorboard:
        root = Path(tc.tensorboard)
        out.append(TensorBoardTracker(root if root.is_absolute() else plan.run_dir / root))
    return out


def _artifact_root(uri: str) -> str | None:
    """Artefacts of a new experiment in a SQLite store go beside the database
    (``<db folder>/mlartifacts``), not into ``./mlruns`` of whatever folder the run started in;
    servers keep their own artefact root (``None``)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "mlartifacts").resolve().as_uri()
    return None


class MlflowTracker:
    """Logs finished jobs to an MLflow tracking store."""

    def __init__(self, uri: str, experiment: str) -> None:
        try:
            import mlflow
            import mlflow.entities
        except ImportError:
            raise UserError("tracking.mlflow needs MLflow: pip install 'syn2real[tracking]'"
                            ) from None
        self._mlflow = mlflow
        self.client = mlflow.tracking.MlflowClient(tracking_uri=uri)
        try:
            exp = self.client.get_experiment_by_name(experiment)
            self.experiment_id = (exp.experiment_id if exp is not None
                                  else self.client.create_experiment(
                                      experiment, artifact_location=_artifact_root(uri)))
            self._logged = {r.data.tags.get("syn2real.key") for r in self.client.search_runs(
                [self.experiment_id], max_results=50_000)}
        except Exception as exc:  # an unreachable server, a bad URI
            raise UserError(f"MLflow tracking store {uri!r}: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:300]}. Fix: check tracking.mlflow "
                            "(is the server up?)") from None

    def log(self, job: Any, row: dict[str, Any], seconds: float) -> None:
        if job.key in self._logged:
            return
        c = self.client
        run = c.create_run(self.experiment_id, run_name=job.label[:250],
                           tags={"syn2real.key": job.key, "syn2real.kind": job.kind})
        rid = run.info.run_id
        params = {k: str(v)[:500] for k, v in flatten(job.params).items()}
        params.update({f"dep.{i}": d for i, d in enumerate(job.deps)})
        if row.get("checkpoint"):
            params["checkpoint"] = str(row["checkpoint"])
        metrics = {k: float(v) for k, v in flatten(row.get("metrics", {})).items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        metrics["seconds"] = float(seconds)
        Metric, Param = self._mlflow.entities.Metric, self._mlflow.entities.Param
        now = int(time.time() * 1000)
        items = list(params.items())
        for i in range(0, len(items), 100):  # MLflow's batch limit on params
            c.log_batch(rid, params=[Param(k, v) for k, v in items[i:i + 100]])
        c.log_batch(rid, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()])
        c.log_dict(rid, row, "row.json")
        c.set_terminated(rid)
        self._logged.add(job.key)


def mlflow_frame(experiment: str, *, n_param: str, metric: str,
                 tracking_uri: str | None = None, group_params: tuple[str, ...] = ()) -> Any:
    """Runs of an MLflow experiment as a table: ``n`` (the run parameter ``n_param``), the
    ``metric`` and the grouping parameters (``mlflow.search_runs``)."""
    try:
        import mlflow
    except ImportError:
        raise UserError("reading MLflow needs MLflow: pip install 'syn2real[tracking]'") from None
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    where = tracking_uri or mlflow.get_tracking_uri()
    try:
        df = mlflow.search_runs(experiment_names=[experiment])
    except Exception as exc:
        raise UserError(f"MLflow {where!r}: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:300]}. Fix: check --tracking-uri") from None
    if len(df) == 0:
        raise UserError(f"MLflow {where!r}: no runs in experiment {experiment!r}. Fix: check "
                        "the experiment's name")
    need = {f"params.{n_param}": "n", f"metrics.{metric}": metric,
            **{f"params.{g}": g for g in group_params}}
    for col in need:
        if col not in df.columns:
            kind, name = col.split(".", 1)
            have = sorted(c.split(".", 1)[1] for c in df.columns if c.startswith(kind + "."))
            raise UserError(f"MLflow experiment {experiment!r}: no {kind[:-1]} {name!r}. Fix: "
                            f"one of {', '.join(have[:30])}")
    out = df[list(need)].rename(columns=need).dropna()
    return out


def wandb_frame(project: str, *, n_param: str, metric: str,
                group_params: tuple[str, ...] = ()) -> Any:
    """Finished runs of a W&B project (``ENTITY/PROJECT``) as a table through
    ``wandb.Api().runs``: ``n`` (the config key ``n_param``), the summary ``metric`` and the
    grouping config keys. Needs ``pip install wandb`` and a reachable server (not tested
    offline; the runs-table CSV export is read by :func:`syn2real.curves.read_curves`)."""
    try:
        import wandb
    except ImportError:
        raise UserError("reading W&B runs needs wandb: pip install wandb (or export the runs "
                        "table as CSV and read that file)") from None
    import pandas as pd

    try:
        runs = list(wandb.Api().runs(project, filters={"state": "finished"}))
    except Exception as exc:
        raise UserError(f"W&B {project!r}: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0][:300]}. Fix: check ENTITY/PROJECT, "
                        "WANDB_API_KEY and WANDB_BASE_URL") from None
    if not runs:
        raise UserError(f"W&B {project!r}: no finished runs. Fix: check the project's name")
    rows = []
    for r in runs:
        cfg, summ = dict(r.config), dict(r.summary)
        if n_param not in cfg or metric not in summ:
            missing = n_param if n_param not in cfg else metric
            where = "config" if n_param not in cfg else "summary"
            have = sorted(cfg if where == "config" else summ)
            raise UserError(f"W&B run {r.name!r}: no {where} key {missing!r}. Fix: one of "
                            f"{', '.join(map(str, have[:30]))}")
        rows.append({"n": cfg[n_param], metric: summ[metric],
                     **{g: cfg.get(g) for g in group_params}})
    return pd.DataFrame(rows)
