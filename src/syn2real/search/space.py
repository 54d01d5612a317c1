"""What a rendering search may change, and its settings: ``SEARCH.yaml``, validated.

A search file names a study (its pre-training, fine-tuning, seeds, executor and question are
the search's), the starting rendering, and the knobs to search over. A knob is a path into the
render spec (:class:`~syn2real.render.spec.DatasetSpec`): a field (``light``,
``n_objects``), a camera field (``camera.roll``) or one end of a range
(``camera.elevation.1``: the upper end of the elevation range). Example
(``examples/search.yaml``)::

    name: digits-search
    study: quickstart.yaml          # relative to this file
    base: front                     # a rendering setting of the study: the starting point
    space:
      camera.elevation.1: {low: 0, high: 89}
      camera.roll: {low: 0, high: 180, step: 15}
      background: {choices: [fixed, random]}
    search: {n_min: 80, n_max: 1280, candidates: 6, budget_seconds: 1200, seed: 0}

Folders another generator wrote (the study's ``render.imported`` settings) compete with the
renderer when listed under ``imported``: the space then has one more categorical knob,
``source`` (``render`` or one of those names); a candidate drawn with an imported source is that
folder as it is (the render knobs do not apply to it).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UserError, describe_validation
from ..sweep.config import distinct

__all__ = ["SOURCE", "Knob", "LoadedSearch", "SearchConfig", "SearchError", "SearchSettings",
           "apply_params", "describe", "imported_source", "knob_paths", "load_search",
           "parse_search"]

#: the knob choosing between the renderer and the imported folders (``render`` or a name)
SOURCE = "source"
RENDER = "render"


def imported_source(params: dict[str, Any]) -> str | None:
    """The imported folder a candidate is (its ``source``), or None for a rendering."""
    src = params.get(SOURCE, RENDER)
    return None if src == RENDER else str(src)


class SearchError(UserError):
    """A search file that cannot run: the message names the file, the key and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Knob(_Strict):
    """One searched knob: a float / int range (``low``, ``high``, optional ``step``; ``int:
    true`` for whole numbers; ``log: true`` for a log-uniform proposal) or ``choices``."""

    low: float | None = None
    high: float | None = None
    step: float | None = Field(None, gt=0)
    int: bool = False
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _kind(self) -> Knob:
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give choices or low/high, not both")
            if not self.choices:
                raise ValueError("choices = []: list at least two values")
            if len(self.choices) < 2:
                raise ValueError(f"choices {self.choices}: a search needs at least two values")
            if len({repr(c) for c in self.choices}) != len(self.choices):
                raise ValueError(f"choices {self.choices} repeat a value")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a range) or choices (a list)")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if not self.low < self.high:
            raise ValueError(f"empty range: low {self.low:g} >= high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        if self.int and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("int: true needs whole-number low and high")
        return self

    def distribution(self) -> Any:
        """The Optuna distribution of this knob."""
        from .halving import optuna_module

        od = optuna_module().distributions

        if self.choices is not None:
            return od.CategoricalDistribution(self.choices)
        assert self.low is not None and self.high is not None
        if self.int:
            return od.IntDistribution(int(self.low), int(self.high), log=self.log,
                                      step=int(self.step or 1))
        return od.FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def corners(self) -> list[Any]:
        """The extreme values (what the config check renders a spec with)."""
        if self.choices is not None:
            return list(self.choices)
        lo, hi = (int(self.low), int(self.high)) if self.int else (self.low, self.high)
        return [lo, hi]


class SearchSettings(_Strict):
    """How the search spends its compute.

    Sizes: every candidate is pre-trained at ``n_min, 2·n_min, 4·n_min`` (the three points
    a law needs), then one doubling per rung up to ``n_max / 2``; ``n_max`` itself is the
    size the search optimises for and is trained only for the final held-out check.
    """

    n_min: int = Field(..., ge=1, description="smallest pre-training size")
    n_max: int = Field(..., ge=1, description="the size the rendering is chosen for")
    candidates: int = Field(8, ge=2, le=256, description="renderings proposed per bracket")
    eta: float = Field(2.0, gt=1, description="at most 1/eta of a rung's candidates go on")
    threshold: float = Field(0.05, gt=0, lt=0.5, description="a candidate stops when P(its "
                             "error at n_max < the incumbent's) falls below this")
    budget_seconds: float = Field(..., gt=0, description="compute budget, in the built-in "
                                  "cost model's seconds (what `syn2real plan` estimates)")
    brackets: int | None = Field(None, ge=1, description="at most this many brackets "
                                 "(default: as many as the budget allows)")
    sampler: Literal["tpe", "random"] = Field("tpe", description="who proposes renderings: "
                                              "Optuna's TPE (learns from every candidate "
                                              "told) or uniform random draws")
    seed: int = Field(0, description="seeds Optuna's sampler")
    check: bool = Field(True, description="finally train the pick and one stopped candidate "
                        "at n_max, held out from every decision")
    race: int = Field(0, ge=0, le=64, description="at the end, train the best this many "
                      "finished candidates at n_max (seeds other than the final check's) and "
                      "pick by their curves with that point (0: off; its compute is kept "
                      "out of the brackets' budget)")

    @model_validator(mode="after")
    def _sizes(self) -> SearchSettings:
        if self.n_max < 8 * self.n_min:
            raise ValueError(f"n_max {self.n_max} < 8 x n_min {self.n_min}: the law needs "
                             "three sizes below n_max / 2 (n_min, 2 n_min, 4 n_min)")
        return self

    def ladder(self) -> list[int]:
        """The pre-training sizes candidates may get: n_min·2^k up to n_max / 2."""
        out, n = [], self.n_min
        while n <= self.n_max / 2:
            out.append(n)
            n *= 2
        return out


class SearchConfig(_Strict):
    """A whole search: the study it borrows its training from, the start, the space."""

    name: str = Field("search", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    study: str = Field(..., description="the study YAML (relative to the search file): "
                       "pre-training, fine-tuning, seeds, executor, fit target")
    study_overrides: dict[str, Any] = Field(default_factory=dict, description="keys of "
                                            "the study replaced for the search (merged "
                                            "into its mappings), e.g. {seeds: [0]}")
    base: str = Field(..., description="the study's rendering setting to start from and "
                      "compare against")
    references: list[str] = Field(default_factory=list, description="further rendering "
                                  "settings of the study measured at n_max in the final "
                                  "check, beside the pick and the start")
    imported: list[str] = Field(default_factory=list, description="imported folders of the "
                                "study (render.imported) that compete with the renderer: the "
                                "space's 'source' knob chooses render or one of them")
    space: dict[str, Knob] = Field(default_factory=dict)
    search: SearchSettings

    @field_validator("imported")
    @classmethod
    def _each_folder_once(cls, v: list[str]) -> list[str]:
        return distinct(v, "imported folder")  # type: ignore[return-value]

    @model_validator(mode="after")
    def _something_to_search(self) -> SearchConfig:
        if not self.space and not self.imported:
            raise ValueError("nothing to search: list knobs under space (and/or imported "
                             "folders under imported)")
        return self


def describe(params: dict[str, Any]) -> str:
    """A candidate in words: its knob values, or the imported folder it is."""
    folder = imported_source(params)
    if folder is not None:
        return f"imported folder {folder}"
    return ", ".join(f"{k} = {v:.3g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in sorted(params.items()) if k != SOURCE) \
        or "the starting rendering"


def knob_paths() -> list[str]:
    """Every knob a space may name (fields of the render spec, ``camera.*``, range ends)."""
    from ..render.spec import CameraSpec, DatasetSpec

    skip = {"camera", "seed", "shard_size", "size", "classes"}
    out = [f for f in DatasetSpec.model_fields if f not in skip]
    for f, info in CameraSpec.model_fields.items():
        out.append(f"camera.{f}")
        if "tuple" in str(info.annotation):
            out += [f"camera.{f}.0", f"camera.{f}.1"]
    return out


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The render spec mapping ``base`` with the knob values ``params`` set (a new dict)."""
    from ..render.spec import CameraSpec

    spec = copy.deepcopy(base)
    for path, value in sorted(params.items()):
        if path == SOURCE:  # which data, not a field of the rendering
            continue
        parts = path.split(".")
        if parts[0] != "camera":
            spec[parts[0]] = value
            continue
        cam = spec.setdefault("camera", {})
        field = parts[1]
        if len(parts) == 2:
            cam[field] = value
            continue
        cur = cam.get(field)
        if cur is None:
            cur = CameraSpec.model_fields[field].default or (0.0, 0.0)
        pair = list(cur)
        pair[int(parts[2])] = value
        cam[field] = pair
    return spec


def _merged(raw: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with ``over`` merged in (mappings recursively, anything else replaced)."""
    out = dict(raw)
    for k, v in over.items():
        out[k] = (_merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict)
                  else v)
    return out


def _fail(source: str, msg: str) -> SearchError:
    return SearchError(f"{source}: {msg}")


class LoadedSearch(NamedTuple):
    """A validated search file with its study and the starting rendering's spec mapping."""

    config: SearchConfig
    study: Any  # sweep.config.StudyConfig
    base: dict[str, Any]


def parse_search(raw: dict[str, Any], source: str = "search", root: Path | None = None
                 ) -> LoadedSearch:
    """Validate a search mapping; returns ``(config, study config, base spec mapping)``.

    Every error is one :class:`SearchError` line naming ``source`` and the key: an unknown
    knob, an empty range, a base that is not a setting of the study, a knob whose extreme
    values make an invalid rendering.
    """
    from ..render.spec import DatasetSpec
    from ..sweep.config import ConfigError, parse_config
    from ..yamlfile import load_yaml_mapping

    if not isinstance(raw, dict):
        raise _fail(source, f"expected a mapping of settings, got {type(raw).__name__}")
    try:
        cfg = SearchConfig(**raw)
    except ValidationError as exc:
        raise _fail(source, describe_validation(exc.errors(), "search",
                                                keys_hint="syn2real.search.space")) from None
    known = knob_paths()
    for path in cfg.space:
        if path not in known:
            raise _fail(source, f"space: unknown knob {path!r}. Knobs: {', '.join(known)}"
                        + (f" ({SOURCE!r} is added by 'imported')" if path == SOURCE else ""))
    study_path = Path(cfg.study)
    if not study_path.is_absolute() and root is not None:
        study_path = root / study_path
    try:
        study_raw = load_yaml_mapping(study_path)
        study = parse_config(_merged(study_raw, cfg.study_overrides), str(study_path))
    except (ConfigError, UserError) as exc:
        raise _fail(source, f"study: {exc}") from None
    rc = study.render
    for name in (cfg.base, *cfg.references):
        if name not in rc.settings():
            raise _fail(source, f"{'base' if name == cfg.base else 'references'}: {name!r} "
                        f"is not a rendering setting of {study_path} (settings: "
                        f"{', '.join(rc.settings()) or 'none'})")
    for name in cfg.imported:
        if name not in rc.imported:
            raise _fail(source, f"imported: {name!r} is not an imported folder of "
                        f"{study_path} (render.imported: {', '.join(rc.imported) or 'none'}). "
                        "Fix: add it there as {path, format}")
    base = rc.spec(cfg.base).model_dump(mode="json")
    if cfg.imported:  # the renderer or one of the folders
        cfg = cfg.model_copy(update={"space": {**cfg.space, SOURCE: Knob(
            choices=[RENDER, *cfg.imported])}})
    for path, knob in cfg.space.items():
        if path == SOURCE:
            continue
        for value in knob.corners():
            try:
                DatasetSpec(**apply_params(base, {path: value}))
            except (ValidationError, ValueError) as exc:
                msg = (describe_validation(exc.errors(), "render spec")
                       if isinstance(exc, ValidationError) else str(exc))
                raise _fail(source, f"space.{path} = {value!r} makes an invalid rendering "
                            f"({msg}). Fix: narrow its range") from None
    return LoadedSearch(cfg, study, base)


def reference_specs(cfg: SearchConfig, study: Any) -> dict[str, dict[str, Any]]:
    """The reference settings' render spec mappings (``references``)."""
    return {name: study.render.spec(name).model_dump(mode="json")
            for name in cfg.references}


def load_search(path: str | Path) -> LoadedSearch:
    """Read and validate a search YAML file (see :func:`parse_search`)."""
    from ..yamlfile import load_yaml_mapping

    p = Path(path)
    try:
        raw = load_yaml_mapping(p)
    except UserError as exc:
        raise SearchError(str(exc)) from None
    return parse_search(raw, str(p), p.parent)

