"""Data complexity of a rendered dataset: features from a backbone trained on real data,
then the negative entropy of their fitted Gaussian (paper Sec. 4.3, Fig. 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .entropy import negative_entropy


def load_backbone(checkpoint: str | Path):
    """A torchvision ResNet with the weights of a syn2real backbone checkpoint (eval mode)."""
    import torch

    from ..tasks.models import build_backbone
    from ..train.checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint)
    stem = ck.get("stem", ck.get("small_stem", True))
    net = build_backbone(ck["arch"], stem)
    missing, unexpected = net.load_state_dict(ck["backbone"], strict=False)
    if unexpected or any(not k.startswith("fc.") for k in missing):
        raise ValueError(f"{checkpoint}: backbone weights do not match {ck['arch']}")
    net.fc = torch.nn.Identity()  # global-pooled last activations
    return net.eval(), ck


def extract_features(net, images, batch: int = 128) -> np.ndarray:
    """Global-pooled last activations for uint8 images (N, H, W[, 3])."""
    import torch

    from ..tasks.datasets import to_tensor

    feats = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.stack([to_tensor(np.asarray(im)) for im in images[i:i + batch]])
            feats.append(net(x).double().numpy())
    return np.concatenate(feats)


def dataset_complexity(data: str | Path, checkpoint: str | Path, n: int = 1000,
                       estimator: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """Negative entropy of a rendered dataset's features (its first ``n`` images).

    Returns a JSON-ready dict: ``negative_entropy``, ``logdet``, ``d``, ``n``, ``estimator``,
    ``shrinkage``, ``note``, the dataset's ``spec_hash`` and the backbone's provenance.
    """
    import torch

    from ..data.shards import ShardDataset

    if threads:
        torch.set_num_threads(threads)
    ds = ShardDataset(data)
    if n < 2 or n > len(ds):
        raise ValueError(f"{data} has {len(ds)} images; n = {n} must be in [2, {len(ds)}]")
    net, ck = load_backbone(checkpoint)
    images = [ds[i]["rgb"] for i in range(n)]
    ent = negative_entropy(extract_features(net, images), estimator)
    return {**ent.to_dict(), "data": str(data), "spec_hash": ds.manifest["spec_hash"],
            "backbone": str(checkpoint), "backbone_arch": ck["arch"],
            "backbone_trained_on": (ck.get("config") or {}).get("dataset")
            or (ck.get("config") or {}).get("data")}
