"""``syn2real render``: render a synthetic dataset in shards (resumable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import UserError
from ..yamlfile import load_yaml_mapping
from .common import build_settings, friendly, out, progress, stderr


@friendly
def render(
    out_arg: str = typer.Option(..., "--out", help="Dataset folder (resumes if it exists)."),
    n: int = typer.Option(1000, help="Images to have (any count; asking for more later "
                          "appends)."),
    preset: str | None = typer.Option("lv7", help="lv0..lv7 (cg-transfer's levels)."),
    spec: Path | None = typer.Option(None, help="YAML DatasetSpec (overrides the preset)."),
    size: int | None = typer.Option(None, help="Image side in pixels."),
    seed: int | None = typer.Option(None, help="Seed."),
    workers: int = typer.Option(1, help="Local processes."),
    storage: str = typer.Option("npy", help="npy (raw arrays, fastest to read) | tar "
                                "(compressed PNG shards, ~5-10x smaller: paper scale)."),
    sheet: bool = typer.Option(True, help="Write contact_sheet.png."),
) -> None:
    """Render synthetic scenes with RGB, masks, normals, depth, boxes and labels."""
    if not out_arg.strip():
        raise UserError("--out is empty, which would render into the current folder. Fix: "
                        "name the dataset folder (--out . if the current folder is meant)")
    out_dir = Path(out_arg)
    from ..render import PRESETS, DatasetSpec, render_dataset
    from ..render.sheet import contact_sheet

    fields: dict[str, Any] = {}
    if spec is not None:
        loaded = load_yaml_mapping(spec)
        base = loaded.pop("preset", None)
        if base is not None and base not in PRESETS:
            raise ValueError(f"{spec}: unknown preset {base!r}; choose one of {sorted(PRESETS)}")
        fields = {**(PRESETS[base] if base else {}), **loaded}
    elif preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        fields = dict(PRESETS[preset])
    if size is not None:
        fields["size"] = size
    if seed is not None:
        fields["seed"] = seed
    ds_spec = build_settings(DatasetSpec, fields, spec or "spec")
    total = -(-n // ds_spec.shard_size) if n > 0 else 0
    with progress(total, f"rendering {ds_spec.spec_hash()} ({n:,} images)", "shards") as adv:
        manifest = render_dataset(ds_spec, out_dir, n, workers=workers,
                                  on_shard=lambda _: adv(1), storage=storage)
    out.print(f"{out_dir}: {manifest['images']} images in {len(manifest['shards'])} shards "
              f"(spec {manifest['spec_hash']})")
    if sheet:
        out.print(f"contact sheet: {contact_sheet(out_dir)}")


@friendly
def verify(
    data: Path = typer.Argument(..., help="Rendered dataset folder."),
    quick: bool = typer.Option(False, help="Check existence and sizes only (no checksums)."),
) -> None:
    """Check a rendered dataset against its manifest (checksums of every shard file)."""
    from ..data.verify import check_shards, read_manifest

    manifest = read_manifest(data)
    n_shards = len(manifest["shards"])
    problems = check_shards(data, full=not quick, manifest=manifest)
    what = "sizes" if quick else "checksums"
    if not problems:
        out.print(f"{data}: {n_shards} shards, {manifest.get('images', 0)} images: every file "
                  f"present, {what} match")
        return
    for p in problems:
        stderr.print(f"[red]bad[/] {data}/{p}", highlight=False)
    shards = len({p.shard for p in problems})
    stderr.print(f"{data}: {shards} of {n_shards} shards bad. Fix: rerun syn2real render with "
                 "the same spec and --out: it re-renders exactly those shards", highlight=False)
    raise typer.Exit(1)
