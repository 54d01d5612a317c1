"""What pre-training and fine-tuning share: device choice, seeding, version stamps, tasks."""

from __future__ import annotations

import platform

import torch

from .. import __version__

__all__ = ["device_for", "seed_all", "versions"]


def device_for(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_all(seed: int, threads: int | None) -> torch.Generator:
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def versions() -> dict[str, str]:
    import torchvision

    return {"syn2real": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "python": platform.python_version(),
            "cpu_kernels": torch.backends.cpu.get_cpu_capability()}
