"""Real fine-tuning data a user already has, as a typed spec (the paper's ImageNet / COCO /
ADE20K subsets, App. C.2).

A study or ``syn2real finetune`` names it as ``{kind: imagefolder | coco | ade20k, path,
split, test_split}``; the bundled sets stay plain names (``mnist``, ``fashion-mnist``,
``digits``). Layouts:

``imagefolder``  ImageNet style: ``<path>/<split>/<class>/<image>`` and
                 ``<path>/<test_split>/<class>/<image>`` (default splits ``train`` / ``val``);
                 a folder without those splits is ``<path>/<class>/<image>``, split 70/30
                 per class with a fixed seed. Task: ``sinclass``.
``coco``         COCO 2017: ``<path>/annotations/instances_<split>.json`` with the images in
                 ``<path>/<split>/`` (defaults ``train2017`` / ``val2017``); a Roboflow
                 export (``<path>/<split>/_annotations.coco.json``, splits ``train`` /
                 ``valid``); or any COCO json, ``split`` / ``test_split`` naming the file
                 (detectron2's ``register_coco_instances`` json + image root: ``images`` /
                 ``test_images``, else found beside the json). Tasks: ``objdet`` (boxes) and
                 ``semseg`` (instance masks through pycocotools, painted in annotation
                 order; 0 = background).
``ade20k``       ADEChallengeData2016: ``<path>/images/<split>/*.jpg`` +
                 ``<path>/annotations/<split>/*.png`` (defaults ``training`` /
                 ``validation``; pixel value = class, 0 = other). Task: ``semseg``.
``hf``           Hugging Face ``datasets``: a ``save_to_disk`` folder (a ``DatasetDict``
                 with the splits) or parquet files (``<path>/<split>*.parquet`` or the Hub's
                 ``<path>/data/<split>-*.parquet``); the image and label columns are the
                 first ``Image`` and ``ClassLabel`` features (or ``image_column`` /
                 ``label_column``); defaults ``train`` / ``test``. Task: ``sinclass``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

REAL_KINDS = ("imagefolder", "coco", "ade20k", "hf")
DEFAULT_SPLITS = {"imagefolder": ("train", "val"), "coco": ("train2017", "val2017"),
                  "ade20k": ("training", "validation"), "hf": ("train", "test")}


def tasks_of(kind: str) -> tuple[str, ...]:
    """The fine-tuning tasks whose ground truth a real layout holds (each registered task
    names its layouts: :attr:`syn2real.registry.TaskInfo.real_layouts`)."""
    from ..registry import task_info, task_names

    return tuple(t for t in task_names(finetune=True) if kind in task_info(t).real_layouts)


class RealDataSpec(BaseModel):
    """A real data set on disk in one of the layouts above."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal[REAL_KINDS]  # type: ignore[valid-type]
    path: str
    split: str | None = None
    test_split: str | None = None
    name: str | None = None
    image_column: str | None = None
    label_column: str | None = None
    images: str | None = None
    test_images: str | None = None

    @property
    def splits(self) -> tuple[str, str]:
        """(train split, test split) with the layout's defaults."""
        tr, te = DEFAULT_SPLITS[self.kind]
        return self.split or tr, self.test_split or te

    @property
    def label(self) -> str:
        """How results name it (``name``, else ``kind:folder``)."""
        from pathlib import Path

        return self.name or f"{self.kind}:{Path(self.path).name}"


def parse_real(text: str) -> str | RealDataSpec:
    """``mnist`` stays a name; ``coco:/data/coco`` (``KIND:PATH``) becomes a spec."""
    kind, sep, path = text.partition(":")
    if sep and kind in REAL_KINDS:
        return RealDataSpec(kind=kind, path=path)
    return text


def dataset_label(dataset: str | RealDataSpec | dict) -> str:
    """The name results carry for a data set (a spec's ``label``; a stored dict too)."""
    if isinstance(dataset, RealDataSpec):
        return dataset.label
    if isinstance(dataset, dict):
        return RealDataSpec(**dataset).label
    return str(dataset)


def _dataset(v: Any) -> str | RealDataSpec:
    from ..registry import REAL_DATASETS

    if isinstance(v, RealDataSpec):
        return v
    if isinstance(v, dict):
        try:
            return RealDataSpec(**v)
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(x) for x in e["loc"])
            raise ValueError(f"{where}: {e['msg']} (real data: {{kind: "
                             f"{' | '.join(REAL_KINDS)}, path, split, test_split, name, "
                             "image_column, label_column, images, test_images}})") \
                from None
    if isinstance(v, str) and v in REAL_DATASETS:
        return v
    raise ValueError(f"got {v!r}; allowed: {', '.join(repr(x) for x in REAL_DATASETS)} or "
                     f"real data on disk {{kind: {' | '.join(REAL_KINDS)}, path: ...}}")


#: A fine-tuning data set: a bundled set's name or a :class:`RealDataSpec`.
DatasetChoice = Annotated[str | RealDataSpec, BeforeValidator(_dataset)]
