"""``syn2real pretrain`` and ``syn2real finetune``: one JSON result row each."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..atomic import json_safe
from ..data.sources import LAYOUT_NAMES
from ..errors import UserError
from .common import friendly, out, progress, stderr, write_json

LAYOUT_HELP = " | ".join(LAYOUT_NAMES)


def _say_expected(kind: str, spec: object, image_size: int) -> None:
    """The built-in 2-core estimate, said before a run starts."""
    from ..sweep.plan import estimate_spec_seconds

    s = estimate_spec_seconds(kind, spec, image_size=image_size)
    if s >= 60:
        stderr.print(f"{kind}: {spec.iters:,} iterations, about {s / 60:.0f} min on 2 CPU cores "
                     "(built-in estimate; the bar below measures)", highlight=False)


@friendly
def pretrain(
    data: Path = typer.Option(..., help="Rendered data: syn2real shards or another "
                              "generator's output (layout detected; see --format)."),
    data_format: str | None = typer.Option(None, "--format", help=f"{LAYOUT_HELP} (default: "
                                           "detected)."),
    n: int = typer.Option(..., "--n", "-n", help="Synthetic images used for pre-training (a "
                          "prefix; -n under torchrun, whose parser takes --n for its own)."),
    task: str = typer.Option("mulclass", help="mulclass | objdet | semseg | normal."),
    model: str = typer.Option("resnet18", help="resnet18 | 34 | 50 | 101 | 152."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for backbone.pt."),
    iters: int = typer.Option(200, help="SGD iterations (a few minutes at 32-64 px on a "
                              "laptop with the default stem)."),
    batch: int = typer.Option(64, help="Batch size."),
    lr: float = typer.Option(0.05, help="Peak learning rate."),
    val_images: int = typer.Option(200, help="Held-out synthetic images after the prefix."),
    stem: str = typer.Option("imagenet", help="imagenet (7x7/2 + max-pool: the laptop "
                             "default) | small-pool (3x3/1 + max-pool, ~2x slower) | small "
                             "(3x3/1, no max-pool, ~6x slower)."),
    seed: int = typer.Option(0, help="Seed."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    bf16: bool = typer.Option(False, help="bf16 autocast."),
    fp16: bool = typer.Option(False, help="fp16 autocast with a gradient scaler (CUDA)."),
    data_workers: int = typer.Option(0, help="DataLoader worker processes (GPU: 4-8)."),
    channels_last: bool = typer.Option(False, help="channels_last memory format."),
    threads: int | None = typer.Option(None, help="torch threads (threads x processes <= "
                                       "cores)."),
    state_every: float = typer.Option(300.0, help="Seconds between resumable training "
                                      "states in --out (0: every iteration): the same "
                                      "command after a kill goes on from the last one."),
    accumulate: int = typer.Option(1, help="Micro-batches per step (gradient accumulation: "
                                   "--batch stays the batch of one step)."),
    json_out: str | None = typer.Option(None, "--json", help="Also write the row here."),
) -> None:
    """Pre-train a backbone on the first N rendered images; prints one JSON row.

    On several GPUs or nodes, start it with torchrun (``torchrun --nproc-per-node=8
    $(which syn2real) pretrain ...``): the processes share each batch of --batch images
    (DDP) and rank 0 writes --out and prints the row."""
    from ..data.sources import open_source
    from ..jobspecs import PretrainJob
    from ..tasks.models import stem_name
    from ..train.pretrain import run_pretrain

    job = PretrainJob.make(data=str(data), data_format=data_format, n=n, task=task,
                           model=model, out=str(out_dir), iters=iters, batch=batch, lr=lr,
                           val_images=val_images, stem=stem_name(stem), seed=seed, bf16=bf16,
                           fp16=fp16, data_workers=data_workers,
                           channels_last=channels_last, device=device,
                           state_every=state_every, accumulate=accumulate)
    from ..train.distributed import from_env

    dist = from_env()
    source = open_source(data, data_format)  # opened once: the estimate and the run
    if dist is not None and not dist.main:  # rank 0 shows the progress and the row
        run_pretrain(job, threads, source=source)
        return
    _say_expected("pretrain", job, source.image_size)
    with progress(job.iters, f"pretrain {task} {model} n={n:,}", "it") as tick:
        row = run_pretrain(job, threads, on_step=tick, source=source)
    out.print_json(json.dumps(json_safe(row)))
    if json_out:
        write_json(json_out, json_safe(row))


@friendly
def finetune(
    backbone: Path | None = typer.Option(None, help="backbone.pt (omit: from scratch)."),
    dataset: str = typer.Option("mnist", help="mnist | fashion-mnist | digits, or your data: "
                                "imagefolder:PATH (ImageNet layout), coco:PATH (COCO 2017), "
                                "ade20k:PATH (ADEChallengeData2016), hf:PATH (a Hugging Face "
                                "dataset saved with save_to_disk, image + label)."),
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
    resize: bool = typer.Option(False, help="Resize the real images to --size instead of "
                                "padding them (e.g. 28 px digits at 16 px)."),
    reg_lambda: float = typer.Option(0.0, help="lambda ||theta - theta0||^2."),
    seed: int = typer.Option(0, help="Training seed (head, batch order, flips)."),
    data_seed: int = typer.Option(0, help="Seed of the real subset (keep it fixed to "
                                  "compare backbones on the same images)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    bf16: bool = typer.Option(False, help="bf16 autocast."),
    fp16: bool = typer.Option(False, help="fp16 autocast with a gradient scaler (CUDA)."),
    data_workers: int = typer.Option(0, help="DataLoader worker processes (GPU: 4-8)."),
    threads: int | None = typer.Option(None, help="torch threads."),
    data_path: str | None = typer.Option(None, help="Folder of the fashion-mnist files."),
    allow_partial: bool = typer.Option(False, help="Accept a partial checkpoint (the best "
                                       "model of an interrupted pre-training)."),
    out_dir: Path | None = typer.Option(None, "--out", help="Also save the fine-tuned "
                                        "backbone here (backbone.pt)."),
    json_out: str | None = typer.Option(None, "--json", help="Also write the row here."),
    split: str | None = typer.Option(None, help="Training split of your data (a name, or for "
                                     "coco: a json file; default: the layout's)."),
    test_split: str | None = typer.Option(None, help="Test split (as --split)."),
) -> None:
    """Fine-tune on real data; prints one JSON row (error at the last iteration and best)."""
    from ..data.realspec import RealDataSpec, parse_real
    from ..train.api import finetune as run

    data = parse_real(dataset)
    if split is not None or test_split is not None:
        if not isinstance(data, RealDataSpec):
            raise UserError(f"--split / --test-split name splits of your own data "
                            f"(KIND:PATH), not of a bundled set ({dataset}). Fix: drop them, "
                            "or give --dataset KIND:PATH")
        data = data.model_copy(update={"split": split, "test_split": test_split})
    with progress(iters, f"finetune {task} on {dataset}", "it") as tick:
        row = run(backbone, data, task, fraction=fraction, count=count,
                  arch=model, stem=stem, iters=iters, batch=batch, lr=lr, size=size,
                  reg_lambda=reg_lambda, seed=seed, device=device, threads=threads,
                  data_path=data_path, out=out_dir, data_seed=data_seed,
                  allow_partial=allow_partial, on_step=tick, bf16=bf16, fp16=fp16,
                  data_workers=data_workers, resize=resize)
    out.print_json(json.dumps(json_safe(row)))
    if json_out:
        write_json(json_out, json_safe(row))
