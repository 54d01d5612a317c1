"""Read learning-curve tables (the cg-transfer schema, a plain one, a W&B runs export) with
clear errors.

Three schemas are recognised from the header:

* **cg-transfer** (the paper authors' ``results_finetune.csv`` and ``syn2real export``):
  ``n_eval,value,pretrain.data,pscale,ptask,fdata,fratio,ftask,model,nparam,pdata``;
  ``value`` is a score in [0, 1] (accuracy, mAP, mIoU) and the error is ``1 - value``; several
  evaluations per run are reduced to the last one (``select="last"``) or the best.
* **plain**: ``n,error`` plus optionally ``s`` and any grouping columns (``err`` and
  ``loss`` are accepted names for the error column).
* **W&B runs export** (Project > Runs > Export CSV: ``Name``, ``State`` and bookkeeping
  columns beside the config and summary ones): finished runs only (the others named), the
  bookkeeping columns dropped, then read as a plain table with the mapped columns.

Rows with ``n = 0`` are from-scratch baselines: kept in :attr:`CurveSet.baseline`, never
fitted, and reported.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import UserError, read_input

CG_COLUMNS = ("n_eval", "value", "pretrain.data", "pscale", "ptask", "fdata", "fratio",
              "ftask", "model", "nparam", "pdata")
CG_GROUPS = ("pscale", "ptask", "fdata", "fratio", "ftask", "model", "pdata")
#: Training-set sizes used to turn ``fratio`` (percent) into a number of real images ``s``.
DATASET_SIZES = {"imagenet": 1_281_167, "coco": 118_287, "ade20k": 20_210}
ERROR_NAMES = ("error", "err", "loss")


class CurveTableError(UserError):
    """Bad learning-curve table: the message names the file, the row, the column and the
    fix."""


#: the earlier name of :class:`CurveTableError` (kept for code that catches it)
DataError = CurveTableError


@dataclass
class CurveSet:
    """Validated learning curves.

    Attributes
    ----------
    data : pandas.DataFrame
        One row per (group, n[, s]) with columns ``n``, ``err``, ``weight`` (number of rows
        averaged), optional ``s`` and the grouping columns; from a table with a ``seed``
        column also ``se`` (standard error of the point's mean, pre-training variance
        included where measured) and ``pretrains`` (distinct pre-trainings among its runs).
    groups : list of str
        Grouping columns present.
    baseline : pandas.DataFrame
        From-scratch rows (``n = 0``), same columns.
    schema : {"cg-transfer", "plain"}
    metric : {"error", "loss"}
    source : str
    notes : list of str
        Everything the reader changed or set aside (aggregations, baselines).
    runs : pandas.DataFrame or None
        From a table with a ``seed`` column: one row per run (the grouping columns, ``n``,
        ``s`` where known, ``seed`` and ``err``; from-scratch runs included), in the table's
        order — what the points' means and standard errors were computed from. None
        otherwise.
    """

    data: pd.DataFrame
    groups: list[str]
    baseline: pd.DataFrame
    schema: str
    metric: str
    source: str
    notes: list[str] = field(default_factory=list)
    runs: pd.DataFrame | None = None

    @property
    def has_s(self) -> bool:
        return "s" in self.data.columns and self.data["s"].notna().all()

    def curves(self, by: Sequence[str] | None = None) -> list[tuple[dict, pd.DataFrame]]:
        """Split into curves by ``by`` (default: all grouping columns)."""
        by = list(self.groups if by is None else by)
        if not by:
            return [({}, self.data)]
        return [(dict(zip(by, k if isinstance(k, tuple) else (k,), strict=True)), g)
                for k, g in self.data.groupby(by, sort=True, dropna=False)]


def baseline_error(cs: CurveSet, group: Mapping[str, Any]) -> float | None:
    """The from-scratch (``n = 0``) error of one curve of :meth:`CurveSet.curves`: the
    weighted mean of the baseline rows that match its group values (``None`` where there
    are none)."""
    base = cs.baseline
    if base is None or len(base) == 0:
        return None
    keep = np.ones(len(base), bool)
    for k, v in group.items():
        if k in base.columns:
            keep &= (base[k] == v).to_numpy()
    if not keep.any():
        return None
    return float(np.average(base.loc[keep, "err"], weights=base.loc[keep, "weight"]))


def curve_arrays(g: pd.DataFrame, s: bool = False) -> dict[str, np.ndarray]:
    """One curve of :meth:`CurveSet.curves` as the law engine and the advisor take it:
    ``n``, ``err`` and ``weights`` (and ``s``) as float arrays, and ``noise`` (the
    replicates' root-mean-square relative standard error of a point, see
    :mod:`~syn2real.curves.replicates`) where pre-training variance was measured."""
    out = {"n": g["n"].to_numpy(float), "err": g["err"].to_numpy(float),
           "weights": g["weight"].to_numpy(float)}
    if "se" in g.columns and len(g) and (g["pretrains"] >= 2).any():
        rel = (g["se"] / g["err"]).to_numpy(float)  # log-space sd of each point's mean
        if np.isfinite(rel).all():
            out["noise"] = float(np.sqrt(np.mean(rel**2)))
    if s:
        out["s"] = g["s"].to_numpy(float)
    return out


def _fail(path: str, msg: str, row: int | None = None, column: str | None = None,
          fix: str | None = None) -> CurveTableError:
    where = path
    if row is not None:
        where += f", row {row}"
    if column is not None:
        where += f", column '{column}'"
    text = f"{where}: {msg}"
    if fix:
        text += f". Fix: {fix}"
    return CurveTableError(text)


def _read_text(path: Path, encoding: str) -> str:
    raw = read_input(path, "CSV", CurveTableError)
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise CurveTableError(f"{path}, row {line}: cannot decode byte 0x{raw[exc.start]:02x} as "
                              f"{encoding}. Fix: save the file as UTF-8 or pass --encoding latin-1"
                              ) from None
    except LookupError:
        raise CurveTableError(f"unknown encoding {encoding!r}. Fix: use e.g. utf-8 or "
                              "latin-1") from None


def read_curves(path: str | Path | pd.DataFrame, *, sep: str = ",",
                encoding: str = "utf-8-sig", metric: str = "error", select: str = "last",
                where: Sequence[str] = (), n: str | None = None, error: str | None = None,
                score: str | None = None, s: str | None = None,
                group: Sequence[str] | None = None, step: str | None = None) -> CurveSet:
    """Read and validate a table of learning curves.

    Parameters
    ----------
    path : str, Path or pandas.DataFrame
        CSV file, or the table itself (same checks, see :func:`curves_from_frame`).
    sep : str
        Field delimiter.
    encoding : str
        Text encoding (UTF-8 with or without BOM by default).
    metric : {"error", "loss"}
        ``error``: values must lie in [0, 1]; ``loss``: any non-negative value.
    select : {"last", "best"}
        cg-transfer only: which evaluation of a run to keep.
    where : sequence of str
        Row filters ``col=v1|v2`` or ``col!=v``, applied before validation.
    n, error, score, s : str, optional
        Column names of a plain table when they are not ``n``, ``error``/``err``/``loss``
        and ``s``; ``score`` instead of ``error`` for a higher-is-better value in [0, 1]
        (accuracy, mAP): the error is ``1 - score``.
    group : sequence of str, optional
        The columns that tell curves apart (default: every other column).
    step : str, optional
        A column that varies within a run (step, epoch): each run keeps its last step
        (``select="last"``) or its best error (``"best"``). Without it, a column named like
        a step is refused as a grouping column (each epoch would become its own curve).

    Raises
    ------
    CurveTableError
        With file, row, column and fix, for every problem found.
    """
    cols = Columns(n=n, error=error, score=score, s=s,
                   group=None if group is None else tuple(group), step=step)
    if isinstance(path, pd.DataFrame):
        return curves_from_frame(path, metric=metric, select=select, where=where, cols=cols)
    p = Path(path)
    src = str(path)
    if metric not in ("error", "loss"):
        raise CurveTableError(f"unknown metric {metric!r}. Fix: use --metric error or "
                              "--metric loss")
    if select not in ("last", "best"):
        raise CurveTableError(f"unknown selection {select!r}. Fix: use --select last or best")
    text = _read_text(p, encoding)
    if not text.strip():
        raise _fail(src, "the file is empty", fix="write a header row 'n,error' (or the "
                    "cg-transfer columns) and one row per measurement")
    header = text.splitlines()[0]
    if sep not in header:
        try:
            guess = csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
        except csv.Error:
            guess = None
        if guess and guess != sep:
            shown = "\\t" if guess == "\t" else guess
            raise _fail(src, f"the header is not {sep!r}-separated but looks "
                        f"{shown!r}-separated", row=1, fix=f"pass --sep '{shown}'")
    names = [c.strip() for c in next(csv.reader([header], delimiter=sep))]
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:  # pandas would rename the second to 'n.1' and take it as a grouping column
        raise _fail(src, f"column {twice[0]!r} appears {names.count(twice[0])} times in the "
                    "header", row=1, fix="give every column its own name, or drop the copy")
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                         skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise _fail(src, f"not a valid CSV table ({exc})", fix="check the delimiter "
                    "(--sep) and that every row has as many fields as the header") from None
    return _from_table(df, src, metric, select, where, cols)


def curves_from_frame(df: pd.DataFrame, *, source: str = "DataFrame", metric: str = "error",
                      select: str = "last", where: Sequence[str] = (),
                      cols: Columns | None = None) -> CurveSet:
    """Validate an in-memory table of learning curves (either schema of :func:`read_curves`).

    The same checks, notes and errors as reading the table from a CSV file (rows are
    numbered as they would be in the file, header = row 1); the values are taken as they
    are (no text round trip of the numbers beyond their exact ``repr``).
    """
    if metric not in ("error", "loss"):
        raise CurveTableError(f"unknown metric {metric!r}. Fix: use metric='error' or 'loss'")
    if select not in ("last", "best"):
        raise CurveTableError(f"unknown selection {select!r}. Fix: use select='last' or 'best'")
    text = df.copy()
    text.columns = [str(c) for c in text.columns]
    for c in text.columns:  # the reader's input is text, as from a file; repr is exact
        text[c] = [("" if v is None or (isinstance(v, float) and v != v) else
                    repr(v) if isinstance(v, float) else str(v)) for v in text[c]]
    return _from_table(text, source, metric, select, where, cols)


def _from_table(df: pd.DataFrame, src: str, metric: str, select: str,
                where: Sequence[str], cols: Columns | None = None) -> CurveSet:
    df.columns = [c.strip() for c in df.columns]
    if len(df) == 0:
        raise _fail(src, "the table has a header but no rows", fix="add measurements")
    df.index = np.arange(2, len(df) + 2)  # file row numbers (header is row 1)
    for w in where:
        df = _apply_where(df, w, src)
    if (cols is None or not cols.given) and {"value", "pretrain.data"} <= set(df.columns):
        return _read_cg(df, src, metric, select)
    wandb_note = None
    if is_wandb_export(df):
        df, wandb_note = _from_wandb_export(df, src, cols)
    cs = _read_plain(df, src, metric, cols, select)
    if wandb_note:
        cs.notes.insert(0, wandb_note)
    return cs


#: Columns of Weights & Biases' runs-table CSV export that describe a run, not a setting.
WANDB_COLUMNS = ("Name", "State", "Notes", "User", "Tags", "Created", "Runtime", "Sweep",
                 "ID", "Hostname", "GPU Type", "GPU Count", "Group", "Job Type", "Commit",
                 "End Time", "Updated", "Heartbeat")


def is_wandb_export(df: pd.DataFrame) -> bool:
    """A W&B runs-table export (Project > Runs > Export CSV): ``Name``, ``State`` and its
    time columns beside the config and summary columns."""
    cols = set(df.columns)
    book = cols & {"Created", "Runtime", "User", "Sweep", "ID", "Hostname", "End Time",
                   "Updated", "Heartbeat"}
    # the State column can be hidden in the UI before exporting: then two bookkeeping
    # columns beside Name tell the export apart from a plain table
    return "Name" in cols and (("State" in cols and bool(book)) or len(book) >= 2)


def _from_wandb_export(df: pd.DataFrame, src: str, cols: Columns | None
                       ) -> tuple[pd.DataFrame, str]:
    """Finished runs only (the others named), W&B's bookkeeping columns dropped unless named
    as a group."""
    asked = set(cols.group or ()) if cols is not None else set()
    drop = [c for c in WANDB_COLUMNS if c in df.columns and c not in asked]
    if "State" not in df.columns:
        return df.drop(columns=drop), (
            "W&B export without its State column: every run kept, crashed or still running "
            "ones too (export with State to set them aside); bookkeeping columns "
            + ", ".join(drop) + " ignored")
    state = df["State"].str.strip().str.lower()
    keep = state == "finished"
    if not keep.any():
        raise _fail(src, "no finished run in this W&B export", column="State",
                    fix="export again once runs have finished")
    other = state[~keep].value_counts()
    note = "W&B export: bookkeeping columns " + ", ".join(drop) + " ignored"
    if len(other):
        note += "; runs not finished left out: " + ", ".join(f"{n} {s}" for s, n in
                                                               other.items())
    return df[keep].drop(columns=drop), note


def _apply_where(df: pd.DataFrame, expr: str, src: str) -> pd.DataFrame:
    neg = "!=" in expr
    key, _, val = expr.partition("!=" if neg else "=")
    key = key.strip()
    if not _ or key not in df.columns:
        raise _fail(src, f"bad filter {expr!r}", fix="use COLUMN=VALUE[|VALUE...] or "
                    f"COLUMN!=VALUE with a column of {list(df.columns)}")
    vals = [v.strip() for v in val.split("|")]
    col = df[key].str.strip()
    mask = col.isin(vals)
    kept = df[~mask] if neg else df[mask]
    if kept.empty and not df.empty:
        have = sorted(col.unique())
        shown = ", ".join(repr(v) for v in have[:10]) + (" ..." if len(have) > 10 else "")
        raise _fail(src, f"no row is left by the filter {expr!r}", column=key,
                    fix=f"the rows left by the filters before it have {key} = {shown}")
    return kept


def _numeric(df: pd.DataFrame, col: str, src: str) -> pd.Series:
    raw = df[col].str.strip()
    num = pd.to_numeric(raw, errors="coerce")
    bad = num.isna() & ~raw.str.lower().isin(["nan", "inf", "-inf", "infinity"])
    if bad.any():
        r = int(bad.idxmax())
        raise _fail(src, f"{raw[r]!r} is not a number", row=r, column=col,
                    fix="write a plain number (e.g. 0.25) in every cell of this column")
    nonfinite = ~np.isfinite(num.to_numpy(float))
    if nonfinite.any():
        r = int(df.index[nonfinite][0])
        raise _fail(src, f"{raw[r]!r} is not a finite number", row=r, column=col,
                    fix="remove the row or replace the value with a measurement")
    return num.astype(float)


def _missing(src: str, have: Sequence[str], need: str,
             alternatives: Sequence[str] = ()) -> CurveTableError:
    names = [need, *alternatives]
    close = difflib.get_close_matches(need, list(have), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return _fail(src, f"missing column '{need}'{hint}; found {list(have)}",
                 fix=f"name the column {' or '.join(repr(x) for x in names)}; a plain table "
                 "needs n,error[,s], the cg-transfer schema needs value,pretrain.data,...")


def _check_range(df: pd.DataFrame, col: str, src: str, metric: str, what: str,
                 shown: str | None = None) -> None:
    v = df[col]
    col = shown or col
    if metric == "error":
        bad = (v < 0) | (v > 1)
        if bad.any():
            r = int(bad.idxmax())
            raise _fail(src, f"{what} {v[r]:g} is outside [0, 1]", row=r, column=col,
                        fix="give errors as fractions (1 - accuracy; an error in percent "
                        "divided by 100), or pass --metric loss for unbounded losses")
    elif (v < 0).any():
        r = int((v < 0).idxmax())
        raise _fail(src, f"loss {v[r]:g} is negative", row=r, column=col,
                    fix="laws of this package describe non-negative losses")


def _read_cg(df: pd.DataFrame, src: str, metric: str, select: str) -> CurveSet:
    for c in ("n_eval", "value", "pretrain.data"):
        if c not in df.columns:
            raise _missing(src, df.columns, c)
    na = df["pretrain.data"].str.strip().isin(["NA", ""])
    notes = []
    if na.any():
        notes.append(f"{int(na.sum())} row(s) with pretrain.data = NA (no pre-training size, "
                     f"first at row {int(df.index[na][0])}) set aside, not fitted")
        df = df[~na]
    if "pdata" in df.columns:
        real = df["pdata"].str.strip().str.lower() == "imagenet"
        if real.any():
            notes.append(f"{int(real.sum())} row(s) pre-trained on real ImageNet (pdata = "
                         "imagenet) set aside as a reference, not fitted")
            df = df[~real]
    out = pd.DataFrame(index=df.index)
    out["n"] = _numeric(df, "pretrain.data", src)
    out["value"] = _numeric(df, "value", src)
    out["n_eval"] = _numeric(df, "n_eval", src)
    _check_range(out, "value", src, "error" if metric == "error" else "loss", "score")
    groups = [c for c in CG_GROUPS if c in df.columns]
    for c in groups:
        out[c] = df[c].str.strip()
    if "fratio" in out:
        out["fratio"] = _numeric(df, "fratio", src)
        if "s" in df.columns:  # syn2real export: the real image count itself
            out["s"] = _numeric(df, "s", src)
        elif "fdata" in out:
            size = out["fdata"].map(DATASET_SIZES)
            out["s"] = out["fratio"] / 100.0 * size
    if "seed" in df.columns:  # one run per seed (any label); seeds are averaged below
        out["seed"] = df["seed"].astype(str).str.strip()
    if "nparam" in df.columns:
        out["nparam"] = pd.to_numeric(df["nparam"], errors="coerce")
    _check_n(out, src, "pretrain.data")
    keys = groups + ["n"] + (["seed"] if "seed" in out else [])
    if select == "last":
        idx = out.groupby(keys, dropna=False)["n_eval"].idxmax()
    else:
        idx = out.groupby(keys, dropna=False)["value"].idxmax()
    sel = out.loc[idx.to_numpy()].copy()
    sel["err"] = 1.0 - sel["value"] if metric == "error" else sel["value"]
    sel["weight"] = 1.0
    notes.append(f"selected the {select} evaluation of each run ({len(out)} rows -> "
                 f"{len(sel)})")
    runs = sel if "seed" in sel else None
    sel = sel.drop(columns=["value", "n_eval"] + (["seed"] if "seed" in sel else []))
    cs = _finish(sel, groups, src, metric, "cg-transfer",
                 notes)
    if runs is not None:
        cs = _with_replicate_noise(cs, runs)
        cols = [*groups, "n", *(["s"] if "s" in runs else []), "seed", "err"]
        cs = dataclasses.replace(cs, runs=runs[cols].sort_index().reset_index(drop=True))
    return cs


def _with_replicate_noise(cs: CurveSet, runs: pd.DataFrame) -> CurveSet:
    """Add each point's ``se`` (standard error of its mean, counting pre-training and
    fine-tuning variance: :mod:`~syn2real.curves.replicates`) and ``pretrains`` (distinct
    pre-trainings among its runs) to ``cs.data`` and ``cs.baseline``; a note says when no point
    has two pre-trainings (then ``se`` counts fine-tuning seeds only)."""
    from .replicates import PointReplicates, pooled_noise

    keys = list(cs.groups) + ["n"] + (["s"] if "s" in cs.data.columns else [])

    def point(values: Any) -> tuple:  # NaN (e.g. an unknown s) matches NaN
        values = values if isinstance(values, tuple) else (values,)
        return tuple(None if isinstance(v, float) and v != v else v for v in values)

    reps = {point(k): PointReplicates.of(g["err"].to_numpy(), g["seed"].tolist())
            for k, g in runs.groupby(keys, dropna=False, sort=False)}
    measured = False
    out = []
    for frame in (cs.data, cs.baseline):
        frame = frame.copy()
        se = np.full(len(frame), np.nan)
        pre = np.zeros(len(frame), int)
        by = list(cs.groups)
        for _, g in (frame.groupby(by, dropna=False, sort=False) if by else [((), frame)]):
            pts = [reps.get(point(tuple(r[k] for k in keys))) for _, r in g.iterrows()]
            if any(p is None for p in pts):
                continue
            cn = pooled_noise(pts)
            measured |= cn.pretraining_measured and bool(g["n"].gt(0).all())
            pos = frame.index.get_indexer(g.index)
            se[pos] = cn.se
            pre[pos] = [p.pretrains for p in pts]
        frame["se"], frame["pretrains"] = se, pre
        out.append(frame)
    notes = list(cs.notes)
    if len(cs.data) and not measured:
        notes.append("one pre-training per size: the standard errors count fine-tuning seeds "
                     "only, not the spread between pre-trainings (another seed or machine); "
                     "measure it with two or more pre-training seeds")
    return dataclasses.replace(cs, data=out[0], baseline=out[1], notes=notes)


def _check_n(out: pd.DataFrame, src: str, col: str) -> None:
    neg = out["n"] < 0
    if neg.any():
        r = int(neg.idxmax())
        raise _fail(src, f"pre-training size {out['n'][r]:g} is negative", row=r, column=col,
                    fix="n counts synthetic images: use 0 for the from-scratch baseline")


@dataclass(frozen=True)
class Columns:
    """Which columns of a plain table mean what (``None``: the default names).

    ``error`` or ``score`` (error = 1 - score) names the measured value; ``group``: the
    columns that tell curves apart (default: every other column); ``step``: a column that
    varies within one run (step, epoch): each run is reduced to its last (or best) step.
    """

    n: str | None = None
    error: str | None = None
    score: str | None = None
    s: str | None = None
    group: tuple[str, ...] | None = None
    step: str | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.n, self.error, self.score, self.s, self.group,
                                           self.step))


#: column names that vary within a run: never grouping columns by default
STEP_NAMES = ("step", "steps", "epoch", "epochs", "iter", "iters", "iteration", "iterations",
              "global_step", "time", "wall_time", "timestamp", "n_eval")


def _col(df: pd.DataFrame, src: str, name: str, what: str) -> str:
    if name not in df.columns:
        raise _missing(src, df.columns, name) if what == "n" else _fail(
            src, f"no column '{name}' (given as the {what} column); found {list(df.columns)}",
            fix=f"name an existing column with --{what}-col")
    return name


def _read_plain(df: pd.DataFrame, src: str, metric: str, cols: Columns | None = None,
                select: str = "last") -> CurveSet:
    cols = cols or Columns()
    ncol = _col(df, src, cols.n, "n") if cols.n else "n"
    if ncol not in df.columns:
        raise _missing(src, df.columns, "n")
    score = False
    if cols.score:
        ecol, score = _col(df, src, cols.score, "score"), True
    elif cols.error:
        ecol = _col(df, src, cols.error, "error")
    else:
        ecol = next((c for c in ERROR_NAMES if c in df.columns), None)
    if ecol is None:
        raise _missing(src, df.columns, "error", ERROR_NAMES[1:])
    scol = _col(df, src, cols.s, "s") if cols.s else ("s" if "s" in df.columns else None)
    step = _col(df, src, cols.step, "step") if cols.step else None
    pending = df[ecol].str.strip() == ""
    pending_note = None
    if pending.any():  # runs listed but not measured yet (runs.csv of syn2real subsets)
        sizes = ", ".join(df.loc[pending, ncol].str.strip().tolist()[:8])
        pending_note = (f"{int(pending.sum())} run(s) with an empty '{ecol}' not measured "
                        f"yet, not fitted (n = {sizes})")
        df = df[~pending]
        if df.empty:
            raise _fail(src, f"no run has a measured '{ecol}' yet", column=ecol,
                        fix="train the first subsets and write their errors in this column")
    out = pd.DataFrame(index=df.index)
    out["n"] = _numeric(df, ncol, src)
    value = _numeric(df, ecol, src)
    percent_note = None
    if score and value.max() > 1 and value.min() >= 0 and value.max() <= 100:
        # a score in percent (detectron2's AP, timm's top-1): what collect also reads so
        value = value / 100.0
        percent_note = f"'{ecol}' in percent (up to {value.max() * 100:g}), divided by 100"
    if score:
        out["score"] = value
        _check_range(out, "score", src, "error", "score", shown=ecol)
        out["err"] = 1.0 - value
    else:
        out["err"] = value
        _check_range(out, "err", src, metric, "error", shown=ecol)
    _check_n(out, src, ncol)
    if scol is not None:
        out["s"] = _numeric(df, scol, src)
        bad = out["s"] <= 0
        if bad.any():
            r = int(bad.idxmax())
            raise _fail(src, f"fine-tuning size {out['s'][r]:g} must be > 0", row=r,
                        column=scol, fix="s counts real fine-tuning images")
    if "weight" in df.columns:
        out["weight"] = _numeric(df, "weight", src)
    else:
        out["weight"] = 1.0
    used = {ncol, ecol, scol, step, "weight"}
    if cols.group is not None:
        groups = [_col(df, src, g, "group") for g in cols.group]
    else:
        groups = [c for c in df.columns if c not in used]
        stepish = [c for c in groups if c.strip().lower() in STEP_NAMES]
        if stepish:
            raise _fail(src, f"column '{stepish[0]}' looks like a step within a run, not a "
                        "setting that tells curves apart", column=stepish[0],
                        fix=f"say which column is the step (--step-col {stepish[0]}; each "
                        "run keeps its last evaluation, or its best with --select best), or "
                        "list the grouping columns with --group-col")
    for c in groups:
        out[c] = df[c].str.strip()
    notes: list[str] = [x for x in (pending_note, percent_note) if x]
    if score:
        notes.append(f"error = 1 - {ecol}")
    if step is not None:
        out["_step"] = _numeric(df, step, src)
        keys = groups + ["n"] + (["s"] if "s" in out else [])
        pick = (out.groupby(keys, dropna=False)["_step"].idxmax() if select == "last"
                else out.groupby(keys, dropna=False)["err"].idxmin())
        before = len(out)
        out = out.loc[pick.to_numpy()].drop(columns=["_step"])
        notes.append(f"selected the {select} step ('{step}') of each run ({before} rows -> "
                     f"{len(out)})")
    out = out.drop(columns=["score"], errors="ignore")
    return _finish(out, groups, src, metric, "plain", notes, err_col=ecol)




def _finish(df: pd.DataFrame, groups: list[str], src: str, metric: str, schema: str,
            notes: list[str], err_col: str = "value") -> CurveSet:
    base = df[df["n"] == 0]
    data = df[df["n"] > 0]
    if len(base):
        notes.append(f"{len(base)} row(s) with n = 0 kept as the from-scratch baseline, "
                     "not fitted")
    if data.empty:
        raise _fail(src, "no row with n > 0", column="n",
                    fix="add measurements at positive pre-training sizes")
    keys = groups + ["n"] + (["s"] if "s" in data.columns else [])
    dup = data.duplicated(keys, keep=False)
    if dup.any():
        first = data[dup].iloc[0]
        where = ", ".join(f"{k}={first[k]}" for k in keys)
        notes.append(f"{int(dup.sum())} rows share a (group, size) with another row "
                     f"(first: {where}); averaged, each mean weighted by its row count")
        agg = {"err": "mean", "weight": "sum"}
        extra = {c: "first" for c in data.columns if c not in keys and c not in agg}
        data = data.groupby(keys, dropna=False, sort=False).agg({**agg, **extra}).reset_index()
        data = data[[c for c in df.columns if c in data.columns]]
    for key, g in (data.groupby(groups, dropna=False) if groups else [((), data)]):
        label = _label(groups, key)
        if g["n"].nunique() < 3:
            raise _fail(src, f"curve {label} has {g['n'].nunique()} distinct size(s) n",
                        column="n", fix="a law needs at least 3 distinct sizes per curve; "
                        "add sizes or drop the curve with --where")
        if np.ptp(g["err"].to_numpy()) == 0:
            raise _fail(src, f"curve {label} has the same error {g['err'].iloc[0]:g} at every "
                        "size: the law's parameters are not identifiable", column=err_col,
                        fix="check the measurements, or drop the curve with --where")
    return CurveSet(data.reset_index(drop=True), groups, base.reset_index(drop=True), schema,
                    metric, src, notes)


def _label(groups: Sequence[str], key: object) -> str:
    if not groups:
        return "(all rows)"
    key = key if isinstance(key, tuple) else (key,)
    return "(" + ", ".join(f"{g}={k}" for g, k in zip(groups, key, strict=True)) + ")"


def model_name(m: object) -> str:
    """A model as people write it: ``r18`` or ``resnet18`` -> ``ResNet-18``."""
    s = str(m)
    for prefix in ("resnet", "r"):
        if s.startswith(prefix) and s[len(prefix):].isdigit():
            return f"ResNet-{s[len(prefix):]}"
    return s


def curve_label(group: dict, *, detail: bool = False) -> str:
    """A curve's name as a person says it, e.g. ``front renders · ResNet-18 mulclass →
    mnist sinclass, 3.3% real`` (cg-transfer groups), else ``key=value`` pairs.

    ``detail``: also the pre-training pool (``pscale``) and the parameter count, which a
    single curve's name leaves out (:func:`curve_labels` keeps them where they tell curves
    apart).
    """
    if not group:
        return "all"
    if {"ptask", "ftask"} <= group.keys():
        g = dict(group)
        head = f"{g['pdata']} renders" if "pdata" in g else ""
        model = model_name(g["model"]) if "model" in g else ""
        pre = " ".join(x for x in (model, str(g["ptask"])) if x)
        real = " ".join(str(g[k]) for k in ("fdata", "ftask") if k in g)
        if "fratio" in g:
            try:
                real += f", {float(g['fratio']):.3g}% real"
            except ValueError:
                real += f", {g['fratio']}% real"
        skip = {"pdata", "model", "ptask", "fdata", "ftask", "fratio"}
        if not detail:
            skip |= {"pscale", "nparam"}
        rest = [f"{k} {v}" if k != "pscale" else f"pool {v}" for k, v in g.items()
                if k not in skip]
        body = f"{pre} → {real}" + (f" ({', '.join(rest)})" if rest else "")
        return " · ".join(x for x in (head, body) if x)
    return " ".join(f"{k}={v}" for k, v in group.items())


def curve_labels(groups: Sequence[dict]) -> list[str]:
    """Labels of several groups, leaving out the columns that are the same in all of them."""
    groups = list(groups)
    if len(groups) <= 1:
        return [curve_label(g) for g in groups]
    keys = [k for k in groups[0] if len({str(g.get(k)) for g in groups}) > 1]
    keep = set(keys) | {k for k in ("ptask", "ftask", "pdata", "model", "fdata")
                        if k in groups[0]}
    return [curve_label({k: v for k, v in g.items() if k in keep}, detail=True)
            for g in groups]
