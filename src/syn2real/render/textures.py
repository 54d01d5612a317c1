"""Deterministic procedural textures (RGB uint8, square), one seed each."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Array = np.ndarray
KINDS = ("noise", "stripes", "checker", "bricks", "wood", "dots")


def _palette(rng: np.random.Generator) -> tuple[Array, Array]:
    a = rng.uniform(0.1, 0.9, 3)
    b = np.clip(a + rng.uniform(-0.5, 0.5, 3), 0.0, 1.0)
    return a, b


def _value_noise(rng: np.random.Generator, n: int, cells: int) -> Array:
    g = rng.uniform(0, 1, (cells + 1, cells + 1))
    x = np.linspace(0, cells, n, endpoint=False)
    i = x.astype(int)
    f = x - i
    f = f * f * (3 - 2 * f)
    a = g[i][:, i] * (1 - f)[None, :] + g[i][:, i + 1] * f[None, :]
    b = g[i + 1][:, i] * (1 - f)[None, :] + g[i + 1][:, i + 1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]


def _fbm(rng: np.random.Generator, n: int) -> Array:
    out = np.zeros((n, n))
    amp, total = 1.0, 0.0
    for cells in (4, 8, 16, 32):
        out += amp * _value_noise(rng, n, cells)
        total += amp
        amp *= 0.5
    return out / total


def texture(kind: str, seed: int, n: int = 64) -> Array:
    """A texture of the given kind, ``(n, n, 3)`` uint8, identical for the same seed."""
    rng = np.random.default_rng(seed)
    a, b = _palette(rng)
    y, x = np.mgrid[0:n, 0:n] / n
    makers: dict[str, Callable[[], Array]] = {
        "noise": lambda: _fbm(rng, n),
        "stripes": lambda: _stripes(rng, x, y),
        "checker": lambda: _checker(rng, x, y),
        "bricks": lambda: _bricks(rng, x, y),
        "wood": lambda: 0.5 + 0.5 * np.sin(2 * np.pi * (rng.integers(4, 12) *
                                                         np.hypot(x - 0.3, y - 1.2)
                                                         + 2 * _fbm(rng, n))),
        "dots": lambda: _dots(rng, x, y),
    }
    if kind not in makers:
        raise ValueError(f"unknown texture kind {kind!r}; choose one of {KINDS}")
    t = makers[kind]()
    t = np.clip(t, 0.0, 1.0)[..., None]
    img = a * (1 - t) + b * t
    img = img * (0.85 + 0.15 * _fbm(rng, n)[..., None])
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _stripes(rng: np.random.Generator, x: Array, y: Array) -> Array:
    th = rng.uniform(0, np.pi)
    k = rng.integers(2, 9)
    return (np.sin(2 * np.pi * k * (x * np.cos(th) + y * np.sin(th))) > 0).astype(float)


def _checker(rng: np.random.Generator, x: Array, y: Array) -> Array:
    k = rng.integers(2, 9)
    return ((np.floor(x * k) + np.floor(y * k)) % 2).astype(float)


def _dots(rng: np.random.Generator, x: Array, y: Array) -> Array:
    k = rng.integers(3, 9)
    r = rng.uniform(0.15, 0.4)
    return (np.hypot((x * k) % 1 - 0.5, (y * k) % 1 - 0.5) < r).astype(float)


def _bricks(rng: np.random.Generator, x: Array, y: Array) -> Array:
    rows = rng.integers(4, 10)
    yy = y * rows
    row = np.floor(yy)
    xx = x * rows / 2 + 0.5 * (row % 2)
    mortar = 0.08
    return ((yy % 1 > mortar) & (xx % 1 > mortar / 2)).astype(float)


def random_texture(rng: np.random.Generator, n: int = 64, folder: str | None = None
                   ) -> Array:
    """A texture of a random kind with a random seed drawn from ``rng`` (or a random image
    of ``folder`` when given)."""
    if folder is not None:
        bank = user_textures(folder, n)
        return bank[int(rng.integers(len(bank)))]
    kind = KINDS[int(rng.integers(len(KINDS)))]
    return texture(kind, int(rng.integers(2**31)), n)


_USER: dict[tuple[str, int], list[Array]] = {}


def user_textures(folder: str, n: int) -> list[Array]:
    """Images of a folder (PNG/JPG, sorted by name) resized to ``n`` x ``n`` RGB."""
    from pathlib import Path

    from PIL import Image

    key = (folder, n)
    if key not in _USER:
        files = sorted(p for p in Path(folder).rglob("*")
                       if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif"))
        if not files:
            raise ValueError(f"texture_dir {folder}: no PNG/JPG images found")
        _USER[key] = [np.asarray(Image.open(f).convert("RGB").resize((n, n))) for f in files]
    return _USER[key]
