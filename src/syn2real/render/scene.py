"""Sampling of one scene from a spec: room, objects on the floor, lights, camera views.

Everything is drawn from the generator passed in (the shard's), in a fixed order, so a scene
is a pure function of (spec, shard seed, scene index within the shard).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .objects import Mesh, get_library
from .spec import DatasetSpec
from .textures import random_texture, texture

Array = np.ndarray
ROOM_HALF = 3.0     # floor is [-3, 3]^2
ROOM_HEIGHT = 3.0
FOV_DEG = 60.0


@dataclass
class SceneObject:
    class_id: int
    mesh: Mesh
    key: str
    scale: float
    position: Array   # (3,) on the floor
    yaw: float
    color: Array      # (3,) albedo in [0, 1]
    tex: Array | None  # (T, T, 3) uint8 or None

    def model_matrix(self) -> Array:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        m = np.eye(4)
        m[:3, :3] = self.scale * np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        m[:3, 3] = self.position
        return m


@dataclass
class Light:
    position: Array
    color: Array
    strength: float


@dataclass
class Scene:
    objects: list[SceneObject]
    background: Array          # (T, T, 3) uint8 floor/wall texture
    point: Light
    area: list[Light]          # sample points of the ceiling light
    cameras: list[tuple[Array, Array]] = field(default_factory=list)  # (view 4x4, eye)


def _look_at(eye: Array, target: Array, roll: float) -> Array:
    f = target - eye
    f /= np.linalg.norm(f)
    up = np.array([0.0, 0.0, 1.0])
    if abs(f @ up) > 0.999:
        up = np.array([0.0, 1.0, 0.0])
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    cr, sr = np.cos(roll), np.sin(roll)
    r, u = cr * r + sr * u, -sr * r + cr * u
    v = np.eye(4)
    v[0, :3], v[1, :3], v[2, :3] = r, u, -f
    v[:3, 3] = -v[:3, :3] @ eye
    return v


def projection(near: float = 0.05, far: float = 20.0, fov_deg: float = FOV_DEG) -> Array:
    """OpenGL perspective matrix (square images)."""
    f = 1.0 / np.tan(np.radians(fov_deg) / 2)
    p = np.zeros((4, 4))
    p[0, 0] = p[1, 1] = f
    p[2, 2] = (far + near) / (near - far)
    p[2, 3] = 2 * far * near / (near - far)
    p[3, 2] = -1.0
    return p


def _fixed_background(spec: DatasetSpec) -> Array:
    return texture("bricks", 1_000_003 + spec.seed)


def sample_scene(spec: DatasetSpec, rng: np.random.Generator, tex_size: int | None = None
                 ) -> Scene:
    """Draw one scene (objects, lights, ``spec.views`` cameras) from ``rng``.

    Textures are 32 px for images up to 64 px (objects span a few dozen pixels) and 64 px
    above.
    """
    if tex_size is None:
        tex_size = 32 if spec.size <= 64 else 64
    k = spec.objects_per_scene
    lib = get_library(spec.mesh_dir)
    class_ids = spec.class_ids
    n_classes = len(class_ids)
    objs: list[SceneObject] = []
    tries = 0
    while len(objs) < k and tries < 500:
        tries += 1
        scale = rng.uniform(0.3, 0.55) if k > 1 else rng.uniform(0.5, 0.8)
        pos = np.array([*rng.uniform(-2.2, 2.2, 2), 0.0]) if k > 1 else np.zeros(3)
        if any(np.linalg.norm(pos[:2] - o.position[:2]) < scale + o.scale for o in objs):
            continue
        cls = int(rng.integers(n_classes))
        yaw = rng.uniform(0, 2 * np.pi)
        color = rng.uniform(0.15, 0.95, 3)
        tex = (random_texture(rng, tex_size, spec.texture_dir)
               if spec.object_texture == "with" else None)
        lib_id = class_ids[cls]
        objs.append(SceneObject(cls, lib.mesh(lib_id), lib.key(lib_id), scale, pos, yaw, color,
                                tex))
    background = (random_texture(rng, tex_size, spec.texture_dir)
                  if spec.background == "random" else _fixed_background(spec))
    if spec.light == "random":
        point = Light(np.array([*rng.uniform(-2.5, 2.5, 2), rng.uniform(1.2, 2.9)]),
                      rng.uniform(0.6, 1.0, 3), rng.uniform(3.0, 9.0))
        area_c = rng.uniform(0.6, 1.0, 3)
        area_s = rng.uniform(0.3, 1.2)
        area_h = rng.uniform(2.6, 2.95)
    else:
        point = Light(np.array([1.5, -1.0, 2.5]), np.ones(3), 6.0)
        area_c, area_s, area_h = np.ones(3), 0.8, 2.9
    area = [Light(np.array([x, y, area_h]), area_c, area_s / 4)
            for x in (-0.8, 0.8) for y in (-0.8, 0.8)]
    scene = Scene(objs, background, point, area)
    cam = spec.camera
    for _ in range(spec.views):
        target_obj = objs[int(rng.integers(len(objs)))]
        target = target_obj.position + np.array([0, 0, target_obj.scale * 0.8])
        elev = np.radians(rng.uniform(*cam.elevation))
        if cam.azimuth is None:
            azim = rng.uniform(0, 2 * np.pi)
        else:  # from the object's front: its -y axis, rotated by its yaw
            azim = target_obj.yaw - np.pi / 2 + np.radians(rng.uniform(*cam.azimuth))
        dist = rng.uniform(*cam.distance) * (1.0 if k > 1 else 0.8)
        d = np.array([np.cos(elev) * np.cos(azim), np.cos(elev) * np.sin(azim), np.sin(elev)])
        eye = target + dist * d
        eye[:2] = np.clip(eye[:2], -ROOM_HALF + 0.1, ROOM_HALF - 0.1)
        eye[2] = np.clip(eye[2], 0.15, ROOM_HEIGHT - 0.1)
        roll = np.radians(rng.uniform(-cam.roll, cam.roll))
        scene.cameras.append((_look_at(eye, target, roll), eye))
    return scene
