"""``syn2real pretrain`` and ``syn2real finetune``: one JSON result row each."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .common import clean, friendly, out, write_json


@friendly
def pretrain(
    data: Path = typer.Option(..., help="Rendered data: syn2real shards, BlenderProc HDF5, "
                              "Replicator BasicWriter or cg-transfer output (detected)."),
    data_format: str | None = typer.Option(None, "--format", help="syn2real | blenderproc | "
                                           "replicator | cg-transfer (default: detected)."),
    n: int = typer.Option(..., help="Synthetic images used for pre-training (a prefix)."),
    task: str = typer.Option("mulclass", help="mulclass | objdet | semseg | normal."),
    model: str = typer.Option("resnet18", help="resnet18 | 34 | 50 | 101 | 152."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for backbone.pt."),
    iters: int = typer.Option(600, help="SGD iterations."),
    batch: int = typer.Option(64, help="Batch size."),
    lr: float = typer.Option(0.05, help="Peak learning rate."),
    val_images: int = typer.Option(1000, help="Held-out synthetic images after the prefix."),
    stem: str = typer.Option("small", help="small (3x3/1, no max-pool) | small-pool (3x3/1 "
                             "+ max-pool, ~4x cheaper) | imagenet (7x7/2 + max-pool)."),
    seed: int = typer.Option(0, help="Seed."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    bf16: bool = typer.Option(False, help="bf16 autocast."),
    channels_last: bool = typer.Option(False, help="channels_last memory format."),
    threads: int | None = typer.Option(None, help="torch threads (threads x processes <= "
                                       "cores)."),
    json_out: str | None = typer.Option(None, "--json", help="Also write the row here."),
) -> None:
    """Pre-train a backbone on the first N rendered images; prints one JSON row."""
    from ..train.api import pretrain as run

    row = run(data, n, task, model, out=out_dir, iters=iters, batch=batch, lr=lr,
              val_images=val_images, stem=stem, seed=seed, device=device,
              bf16=bf16, channels_last=channels_last, threads=threads,
              data_format=data_format)
    out.print_json(json.dumps(clean(row)))
    if json_out:
        write_json(json_out, clean(row))


@friendly
def finetune(
    backbone: Path | None = typer.Option(None, help="backbone.pt (omit: from scratch)."),
    dataset: str = typer.Option("mnist", help="mnist | fashion-mnist | digits, or your data: "
                                "imagefolder:PATH (ImageNet layout), coco:PATH (COCO 2017), "
                                "ade20k:PATH (ADEChallengeData2016)."),
    task: str = typer.Option("sinclass", help="sinclass | objdet | semseg (boards)."),
    fraction: float | None = typer.Option(None, help="Share of each class used (s)."),
    count: int | None = typer.Option(None, help="Real images used (class-balanced)."),
    model: str | None = typer.Option(None, help="Architecture when no backbone is given."),
    stem: str | None = typer.Option(None, help="Stem when no backbone is given (default "
                                    "small)."),
    iters: int = typer.Option(300, help="SGD iterations (all parameters)."),
    batch: int = typer.Option(64, help="Batch size."),
    lr: float = typer.Option(0.02, help="Peak learning rate."),
    size: int = typer.Option(32, help="Input size (images are padded)."),
    reg_lambda: float = typer.Option(0.0, help="lambda ||theta - theta0||^2."),
    seed: int = typer.Option(0, help="Training seed (head, batch order, flips)."),
    data_seed: int = typer.Option(0, help="Seed of the real subset (keep it fixed to "
                                  "compare backbones on the same images)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    threads: int | None = typer.Option(None, help="torch threads."),
    data_path: str | None = typer.Option(None, help="Folder of the fashion-mnist files."),
    allow_partial: bool = typer.Option(False, help="Accept a partial checkpoint (the best "
                                       "model of an interrupted pre-training)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Also save the fine-tuned "
                                        "backbone here (backbone.pt)."),
    json_out: str | None = typer.Option(None, "--json", help="Also write the row here."),
) -> None:
    """Fine-tune on real data; prints one JSON row (error at the last iteration and best)."""
    from ..data.realspec import parse_real
    from ..train.api import finetune as run

    row = run(backbone, parse_real(dataset), task, fraction=fraction, count=count, arch=model,
              stem=stem, iters=iters, batch=batch, lr=lr, size=size, reg_lambda=reg_lambda,
              seed=seed, device=device, threads=threads, data_path=data_path, out=out_dir,
              data_seed=data_seed, allow_partial=allow_partial)
    out.print_json(json.dumps(clean(row)))
    if json_out:
        write_json(json_out, clean(row))
