"""``syn2real export-data`` and ``syn2real subsets``: renders out to other trainers."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import friendly, out, stderr


def _parse_sizes(text: str) -> list[int]:
    """Comma-separated image counts (``1000,2e3``); a fraction or a count below 1 is refused,
    not truncated."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        values = []
    if not values or any(v != int(v) or v < 1 for v in values):
        raise ValueError(f"--n must be comma-separated whole image counts >= 1 (e.g. "
                         f"1000,2000,4000), got {text!r}")
    return [int(v) for v in values]


@friendly
def export_data(
    data: Path = typer.Argument(..., help="Rendered data (syn2real shards or an imported "
                                "layout)."),
    fmt: str = typer.Option(..., "--format", help="coco | yolo | imagefolder."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder."),
    n: int | None = typer.Option(None, help="Only the first N images (default: all)."),
    data_format: str | None = typer.Option(None, "--data-format", help="Layout of DATA "
                                           "(default: detected)."),
    val: int | None = typer.Option(None, help="Images held out for validation, whole scenes "
                                   "(default: 10%); 0: none, the trainer then validates on "
                                   "its training images."),
) -> None:
    """Write renders as image files + annotations for detectron2 / mmdet / Ultralytics /
    torchvision ImageFolder, with a validation split held out by scene."""
    from ..data.export import export_data as run
    from ..data.export import scene_split
    from ..data.sources import open_source

    src = open_source(data, data_format)
    if n is not None and not 0 < n <= len(src):
        raise ValueError(f"--n must be in 1..{len(src)} (the images of {data}), got {n}")
    total = len(src) if n is None else n
    size = max(1, round(0.1 * total)) if val is None else val
    if size < 0:
        raise ValueError(f"--val must be >= 0 images, got {size}")
    if size == 0:
        stderr.print("note: --val 0: no validation split; a trainer pointed at this export "
                     "validates on its training images", highlight=False)
        res = run(src, output, fmt, range(total))
    else:
        train, held = scene_split(src, range(total), size)
        res = run(src, output, fmt, train, val=held)
    out.print(f"{output}: {res['images']:,} images as {fmt}"
              + (f" + {res['val_images']:,} for validation (whole scenes)"
                 if res.get("val_images") else "")
              + (f" ({res['skipped_no_object']} without any object skipped)"
                 if res.get("skipped_no_object") else "")
              + (f"; removed {res['removed_stale']} file(s) an earlier export left there"
                 if res.get("removed_stale") else ""), highlight=False)


@friendly
def subsets(
    data: Path = typer.Argument(..., help="Rendered data (syn2real shards or an imported "
                                "layout)."),
    n: str = typer.Option(..., help="Subset sizes, e.g. 1000,2000,4000,8000."),
    fmt: str = typer.Option("list", "--format", help="coco | yolo | imagefolder | list."),
    output: Path = typer.Option(..., "-o", "--output", help="Output folder."),
    seed: int = typer.Option(0, help="Order in which whole scenes enter the subsets."),
    val: int | None = typer.Option(None, help="Images of the fixed validation split, from "
                                   "scenes no subset contains (default: 10% of the largest "
                                   "subset)."),
    data_format: str | None = typer.Option(None, "--data-format", help="Layout of DATA "
                                           "(default: detected)."),
) -> None:
    """Nested n-prefix subsets (whole scenes, seeded) for your own trainer, a fixed validation
    split none of them contains, and runs.csv."""
    from ..data.export import write_subsets
    from ..data.sources import open_source

    src = open_source(data, data_format)
    rows = write_subsets(src, _parse_sizes(n), output, fmt, seed=seed, val=val)
    for r in rows:
        out.print(f"n = {r['n']:>9,}  {r['scenes']:>6,} scenes  {r['subset']}", highlight=False)
    out.print(f"validation (every subset): {output}/"
              f"{ {'coco': 'annotations_val.json', 'imagefolder': 'val/'}.get(fmt, 'val.txt')} "
              "— scenes no subset contains", highlight=False)
    out.print(f"Train one run per subset; write each test error into {output}/runs.csv; then "
              f"`syn2real advise {output}/runs.csv --target T --budget B` says whether to "
              "render more and which run to do next.", highlight=False)
