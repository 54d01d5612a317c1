"""The built-in procedural object library: 56 classes with stable identities.

Classes 0-19 are geometric primitives, 20-29 superquadrics, 30-55 extruded glyphs (the
digits 0-9 and the letters A-P, voxelised from the DejaVu Sans outlines that matplotlib
ships). Every mesh is deterministic (no randomness), centred, rests on z = 0 and fits in a
unit bounding sphere; scenes scale and rotate them.

A mesh is ``(vertices (V, 3), normals (V, 3), uv (V, 2), faces (F, 3))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

Array = np.ndarray


@dataclass(frozen=True)
class Mesh:
    """Triangle mesh with per-vertex normals and texture coordinates."""

    vertices: Array
    normals: Array
    uv: Array
    faces: Array

    def normalised(self) -> Mesh:
        """Centre in x, y, rest on z = 0 and fit into the unit sphere around (0, 0, h/2)."""
        v = self.vertices
        lo, hi = v.min(axis=0), v.max(axis=0)
        c = (lo + hi) / 2
        c[2] = lo[2]
        v = v - c
        half_h = (hi[2] - lo[2]) / 2
        r = np.max(np.linalg.norm(v - np.array([0, 0, half_h]), axis=1))
        return Mesh(v / r, self.normals, self.uv, self.faces)


def _grid_surface(fn: Callable[[Array, Array], Array], nu: int, nv: int,
                  u_range: tuple[float, float], v_range: tuple[float, float],
                  wrap_u: bool = True) -> Mesh:
    """Parametric surface with smooth normals from finite differences."""
    u = np.linspace(*u_range, nu)
    v = np.linspace(*v_range, nv)
    U, V = np.meshgrid(u, v, indexing="ij")
    P = fn(U, V)  # (nu, nv, 3)
    du = np.gradient(P, axis=0)
    dv = np.gradient(P, axis=1)
    if wrap_u:
        du[0] = du[-1] = (P[1] - P[-2]) / 2
    n = np.cross(du, dv)
    ln = np.linalg.norm(n, axis=-1, keepdims=True)
    # poles: use the direction from the centre
    bad = ln[..., 0] < 1e-9
    n = np.where(bad[..., None], P - P.mean(axis=(0, 1)), n)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    idx = np.arange(nu * nv).reshape(nu, nv)
    a, b = idx[:-1, :-1].ravel(), idx[1:, :-1].ravel()
    c, d = idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    uv = np.stack([(U - u[0]) / (u[-1] - u[0]), (V - v[0]) / (v[-1] - v[0])], -1)
    mesh = Mesh(P.reshape(-1, 3), n.reshape(-1, 3), uv.reshape(-1, 2), faces)
    return _orient(mesh)


def _orient(m: Mesh) -> Mesh:
    """Make normals point away from the centroid (closed, star-shaped surfaces)."""
    c = m.vertices.mean(axis=0)
    flip = np.sum((m.vertices - c) * m.normals, axis=1) < 0
    if flip.mean() > 0.5:
        return Mesh(m.vertices, -m.normals, m.uv, m.faces)
    return m


def _spow(x: Array, e: float) -> Array:
    return np.sign(x) * np.abs(x) ** e


def superquadric(e1: float, e2: float, scale: tuple[float, float, float] = (1, 1, 1),
                 n: int = 24) -> Mesh:
    """Superquadric ``|x|^(2/e2) + |y|^(2/e2))^(e2/e1) + |z|^(2/e1) = 1``."""
    sx, sy, sz = scale

    def f(w: Array, eta: Array) -> Array:
        ce, se = np.cos(eta), np.sin(eta)
        cw, sw = np.cos(w), np.sin(w)
        return np.stack([sx * _spow(ce, e1) * _spow(cw, e2), sy * _spow(ce, e1) * _spow(sw, e2),
                         sz * _spow(se, e1)], -1)

    return _grid_surface(f, 2 * n, n, (-np.pi, np.pi), (-np.pi / 2, np.pi / 2))


def _flat(polys: list[Array]) -> Mesh:
    """Mesh of flat convex polygons (each (k, 3)), fan-triangulated, flat normals."""
    V, N, UV, F = [], [], [], []
    off = 0
    for p in polys:
        nrm = np.cross(p[1] - p[0], p[2] - p[0])
        nrm /= np.linalg.norm(nrm) + 1e-12
        k = len(p)
        V.append(p)
        N.append(np.repeat(nrm[None], k, 0))
        ax = p[1] - p[0]
        ax /= np.linalg.norm(ax) + 1e-12
        ay = np.cross(nrm, ax)
        UV.append(np.stack([(p - p[0]) @ ax, (p - p[0]) @ ay], 1))
        F.extend([[off, off + i, off + i + 1] for i in range(1, k - 1)])
        off += k
    m = Mesh(np.concatenate(V), np.concatenate(N), np.concatenate(UV), np.array(F))
    return m


def prism(polygon: Array, height: float) -> Mesh:
    """Extrude a counter-clockwise polygon (k, 2) along z (star-shaped caps)."""
    k = len(polygon)
    bot = np.column_stack([polygon, np.zeros(k)])
    top = np.column_stack([polygon, np.full(k, height)])
    polys = []
    for i in range(k):
        j = (i + 1) % k
        polys.append(np.array([bot[i], bot[j], top[j], top[i]]))
    c = polygon.mean(axis=0)
    for i in range(k):  # caps as triangles around the centre (star-shaped polygons)
        j = (i + 1) % k
        polys.append(np.array([[*c, height], top[i], top[j]]))
        polys.append(np.array([[*c, 0.0], bot[j], bot[i]]))
    return _flat(polys)


def _ngon(k: int, r: float = 1.0, phase: float = 0.0) -> Array:
    t = phase + 2 * np.pi * np.arange(k) / k
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


def _star(k: int, r1: float, r2: float) -> Array:
    t = np.pi * np.arange(2 * k) / k
    r = np.where(np.arange(2 * k) % 2 == 0, r1, r2)
    return np.column_stack([r * np.cos(t), r * np.sin(t)])


def _box(sx: float, sy: float, sz: float) -> Mesh:
    return prism(np.array([[-sx, -sy], [sx, -sy], [sx, sy], [-sx, sy]]), 2 * sz)


def _pyramid(k: int, r: float, h: float) -> Mesh:
    base = np.column_stack([_ngon(k, r, np.pi / k), np.zeros(k)])
    apex = np.array([0, 0, h])
    polys = [np.array([base[i], base[(i + 1) % k], apex]) for i in range(k)]
    polys.append(base[::-1].copy())
    return _flat(polys)


def _octahedron() -> Mesh:
    v = np.array([[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)
    top, bot = np.array([0, 0, 1.0]), np.array([0, 0, -1.0])
    polys = []
    for i in range(4):
        a, b = v[i], v[(i + 1) % 4]
        polys.append(np.array([a, b, top]))
        polys.append(np.array([b, a, bot]))
    return _flat(polys)


def _torus(R: float, r: float) -> Mesh:
    def f(u: Array, v: Array) -> Array:
        return np.stack([(R + r * np.cos(v)) * np.cos(u), (R + r * np.cos(v)) * np.sin(u),
                         r * np.sin(v)], -1)
    m = _grid_surface(f, 48, 16, (0, 2 * np.pi), (0, 2 * np.pi))
    # outward normals relative to the tube centre
    ang = np.arctan2(m.vertices[:, 1], m.vertices[:, 0])
    ring = np.column_stack([R * np.cos(ang), R * np.sin(ang), np.zeros_like(ang)])
    n = m.vertices - ring
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return Mesh(m.vertices, n, m.uv, m.faces)


def _revolve(profile: Array) -> Mesh:
    """Surface of revolution of a (r, z) profile (k, 2) about z."""
    pr = np.asarray(profile, float)

    def f(u: Array, v: Array) -> Array:
        idx = np.clip(v, 0, len(pr) - 1)
        i0 = np.floor(idx).astype(int)
        i1 = np.minimum(i0 + 1, len(pr) - 1)
        t = idx - i0
        r = pr[i0, 0] * (1 - t) + pr[i1, 0] * t
        z = pr[i0, 1] * (1 - t) + pr[i1, 1] * t
        return np.stack([r * np.cos(u), r * np.sin(u), z], -1)

    return _grid_surface(f, 40, 4 * (len(pr) - 1) + 1, (0, 2 * np.pi), (0, len(pr) - 1))


def _glyph_mask(ch: str, n: int = 12) -> Array:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    path = TextPath((0, 0), ch, size=1.0, prop=FontProperties(family="DejaVu Sans",
                                                               weight="bold"))
    v = path.vertices
    lo, hi = v.min(axis=0), v.max(axis=0)
    side = max(hi - lo)
    xs = lo[0] + (np.arange(n) + 0.5) / n * side
    ys = lo[1] + (np.arange(n) + 0.5) / n * side
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    inside = path.contains_points(np.column_stack([X.ravel(), Y.ravel()]))
    return inside.reshape(n, n)


def glyph(ch: str, depth: float = 0.35, n: int = 12) -> Mesh:
    """A character voxelised on an n x n grid and extruded (exposed faces only)."""
    mask = _glyph_mask(ch, n)
    polys = []
    s = 2.0 / n
    pad = np.pad(mask, 1)
    for i, j in zip(*np.nonzero(mask), strict=True):
        x0, x1 = -1 + i * s, -1 + (i + 1) * s
        # the glyph stands upright: its plane is x-z, extruded along y
        z0, z1 = j * s, (j + 1) * s
        y0, y1 = -depth / 2, depth / 2
        polys.append(np.array([[x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1]]))
        polys.append(np.array([[x0, y1, z0], [x0, y1, z1], [x1, y1, z1], [x1, y1, z0]]))
        if not pad[i, j + 1]:   # left neighbour (x - 1)
            polys.append(np.array([[x0, y0, z0], [x0, y0, z1], [x0, y1, z1], [x0, y1, z0]]))
        if not pad[i + 2, j + 1]:  # right neighbour
            polys.append(np.array([[x1, y0, z0], [x1, y1, z0], [x1, y1, z1], [x1, y0, z1]]))
        if not pad[i + 1, j]:   # below
            polys.append(np.array([[x0, y0, z0], [x0, y1, z0], [x1, y1, z0], [x1, y0, z0]]))
        if not pad[i + 1, j + 2]:  # above
            polys.append(np.array([[x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]]))
    return _flat(polys)


def _capsule() -> Mesh:
    ts = np.linspace(-np.pi / 2, np.pi / 2, 13)
    prof = [(0.5 * np.cos(t), (-0.5 if t < 0 else 0.5) + 0.5 * np.sin(t)) for t in ts]
    prof = [(0.0, -1.0), *prof, (0.0, 1.0)]
    return _revolve(np.array(prof))


def _primitives() -> list[tuple[str, Callable[[], Mesh]]]:
    return [
        ("sphere", lambda: superquadric(1, 1)),
        ("ellipsoid", lambda: superquadric(1, 1, (1.0, 0.6, 0.45))),
        ("cube", lambda: _box(1, 1, 1)),
        ("plate", lambda: _box(1, 0.8, 0.15)),
        ("tall_box", lambda: _box(0.4, 0.4, 1.2)),
        ("cylinder", lambda: _revolve(np.array([(0, 0), (1, 0), (1, 1.6), (0, 1.6)]))),
        ("rod", lambda: _revolve(np.array([(0, 0), (0.2, 0), (0.2, 2.0), (0, 2.0)]))),
        ("disk", lambda: _revolve(np.array([(0, 0), (1, 0), (1, 0.2), (0, 0.2)]))),
        ("cone", lambda: _revolve(np.array([(0, 0), (1, 0), (0, 1.8)]))),
        ("frustum", lambda: _revolve(np.array([(0, 0), (1, 0), (0.5, 1.2), (0, 1.2)]))),
        ("torus", lambda: _torus(1.0, 0.35)),
        ("ring", lambda: _torus(1.0, 0.12)),
        ("capsule", _capsule),
        ("pyramid", lambda: _pyramid(4, 1.0, 1.3)),
        ("tetrahedron", lambda: _pyramid(3, 1.0, 1.2)),
        ("octahedron", _octahedron),
        ("hex_prism", lambda: prism(_ngon(6), 1.2)),
        ("tri_prism", lambda: prism(_ngon(3), 1.0)),
        ("star_prism", lambda: prism(_star(5, 1.0, 0.45), 0.5)),
        ("vase", lambda: _revolve(np.array([(0, 0), (0.6, 0), (0.9, 0.5), (0.4, 1.3),
                                            (0.6, 1.8), (0, 1.8)]))),
    ]


def _superquadrics() -> list[tuple[str, Callable[[], Mesh]]]:
    out = []
    for e1, e2, sc in ((0.3, 0.3, (1, 1, 1)), (0.3, 1.0, (1, 1, 1)), (1.0, 0.3, (1, 1, 1)),
                       (2.0, 2.0, (1, 1, 1)), (2.0, 1.0, (1, 1, 1)), (1.0, 2.0, (1, 1, 0.7)),
                       (0.5, 0.5, (1, 0.6, 0.6)), (0.3, 0.3, (1, 0.5, 0.25)),
                       (1.5, 0.5, (0.7, 0.7, 1.2)), (0.6, 1.6, (1, 1, 0.5))):
        out.append((f"sq_{e1:g}_{e2:g}_{sc[0]:g}x{sc[1]:g}x{sc[2]:g}",
                    lambda e1=e1, e2=e2, sc=sc: superquadric(e1, e2, sc)))
    return out


def _glyphs() -> list[tuple[str, Callable[[], Mesh]]]:
    chars = "0123456789ABCDEFGHIJKLMNOP"
    return [(f"glyph_{c}", lambda c=c: glyph(c)) for c in chars]


CLASS_NAMES: tuple[str, ...] = tuple(n for n, _ in _primitives() + _superquadrics() + _glyphs())


@cache
def class_mesh(class_id: int) -> Mesh:
    """The mesh of a class (cached), normalised."""
    makers = _primitives() + _superquadrics() + _glyphs()
    if not 0 <= class_id < len(makers):
        raise ValueError(f"class id must be in 0..{len(makers) - 1}, got {class_id}")
    return makers[class_id][1]().normalised()


MESH_SUFFIXES = (".obj", ".ply", ".glb", ".gltf", ".stl", ".off")


def _uv_spherical(v: Array) -> Array:
    c = v - v.mean(axis=0)
    r = np.linalg.norm(c, axis=1) + 1e-12
    return np.column_stack([0.5 + np.arctan2(c[:, 1], c[:, 0]) / (2 * np.pi),
                            0.5 + np.arcsin(np.clip(c[:, 2] / r, -1, 1)) / np.pi])


def load_mesh(path: str | Path) -> Mesh:
    """A user mesh (OBJ, PLY, GLB, ... via trimesh), normalised like the built-in ones.

    Texture coordinates are taken from the file when present, else projected spherically.
    BOP ``models/obj_*.ply`` files (millimetres) load as they are: every mesh is rescaled.
    """
    import trimesh

    try:
        tm = trimesh.load(str(path), force="mesh", process=True)
    except Exception as exc:
        raise ValueError(f"{path}: cannot read the mesh ({exc})") from None
    if not isinstance(tm, trimesh.Trimesh) or len(tm.faces) == 0:
        raise ValueError(f"{path}: no triangles in the file")
    v = np.asarray(tm.vertices, float)
    uv = getattr(tm.visual, "uv", None)
    uv = np.asarray(uv, float) if uv is not None and len(uv) == len(v) else _uv_spherical(v)
    n = np.asarray(tm.vertex_normals, float)
    return Mesh(v, n, uv, np.asarray(tm.faces, np.int64)).normalised()


@dataclass(frozen=True)
class Library:
    """The classes a dataset draws from: the built-in set or the meshes of a folder."""

    names: tuple[str, ...]
    paths: tuple[Path, ...] = ()

    def mesh(self, class_id: int) -> Mesh:
        if not self.paths:
            return class_mesh(class_id)
        return _user_mesh(str(self.paths[class_id]))

    def key(self, class_id: int) -> str:
        return f"builtin:{class_id}" if not self.paths else str(self.paths[class_id])


@lru_cache(maxsize=4096)
def _user_mesh(path: str) -> Mesh:
    return load_mesh(path)


@lru_cache(maxsize=16)
def get_library(mesh_dir: str | None = None) -> Library:
    """The library of a spec: built-in (``mesh_dir=None``) or a folder's meshes, sorted by
    relative path (a BOP dataset's ``models/`` folder works as it is)."""
    if mesh_dir is None:
        return Library(CLASS_NAMES)
    root = Path(mesh_dir)
    if not root.is_dir():
        raise ValueError(f"mesh_dir {root} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES)
    if len(files) < 2:
        raise ValueError(f"{root}: found {len(files)} mesh file(s) ({', '.join(MESH_SUFFIXES)}); "
                         "need at least 2 classes")
    names = tuple(str(p.relative_to(root).with_suffix("")) for p in files)
    return Library(names, tuple(files))
