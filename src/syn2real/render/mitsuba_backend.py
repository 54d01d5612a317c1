"""Second backend: Mitsuba 3 (path traced), rendering the same :class:`Scene`.

Ground truth (instance ids, shading normals, depth) comes from Mitsuba's own ray
intersection through the pixel centres of the same pinhole camera as the OpenGL renderer,
so the two backends can be compared pixel by pixel; the RGB image is path traced
(``spp`` samples per pixel) with the point light and a rectangular ceiling emitter.

Variants: ``llvm_ad_rgb`` needs Debian's ``libllvm19``; ``scalar_rgb`` needs nothing and is
the default here. Install with ``pip install mitsuba``.

Mitsuba's Dr.Jit and Mesa's llvmpipe both load LLVM; in one process the OpenGL renderer can
abort after Mitsuba ran. :func:`render_views` therefore runs Mitsuba in a child process.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .gl import ROOM_UV_SCALE, Frame, _room_mesh
from .objects import Mesh
from .scene import FOV_DEG, Scene

Array = np.ndarray


def _load(variant: str):
    try:
        import mitsuba as mi
    except ImportError:
        raise UserError("the Mitsuba backend needs `pip install mitsuba`") from None
    mi.set_variant(variant)
    return mi


def _mi_mesh(mi, name: str, mesh: Mesh, model: Array, bsdf: dict):
    """A Mitsuba mesh from numpy buffers, placed by ``model`` and carrying ``bsdf``."""
    v = mesh.vertices @ model[:3, :3].T + model[:3, 3]
    n = mesh.normals @ np.linalg.inv(model[:3, :3])
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    props = mi.Properties()
    props["bsdf"] = mi.load_dict(bsdf)
    m = mi.Mesh(name, vertex_count=len(v), face_count=len(mesh.faces), props=props,
                has_vertex_normals=True, has_vertex_texcoords=True)
    params = mi.traverse(m)
    params["vertex_positions"] = np.ascontiguousarray(v, np.float32).ravel()
    params["vertex_normals"] = np.ascontiguousarray(n, np.float32).ravel()
    params["vertex_texcoords"] = np.ascontiguousarray(mesh.uv, np.float32).ravel()
    params["faces"] = np.ascontiguousarray(mesh.faces, np.uint32).ravel()
    params.update()
    return m


def _bsdf(mi, albedo: Array, tex: Array | None) -> dict:
    if tex is None:
        return {"type": "diffuse", "reflectance": {"type": "rgb", "value": albedo.tolist()}}
    bmp = mi.Bitmap(np.ascontiguousarray(tex[::-1], np.float32) / 255.0)
    return {"type": "diffuse", "reflectance": {"type": "bitmap", "bitmap": bmp,
                                               "raw": False}}


def build_scene(scene: Scene, view: Array, size: int, variant: str = "scalar_rgb"):
    """The Mitsuba scene of one camera view of ``scene``."""
    mi = _load(variant)
    cam_to_world = np.linalg.inv(view)
    eye = cam_to_world[:3, 3]
    fwd = -cam_to_world[:3, 2]
    up = cam_to_world[:3, 1]
    T = mi.ScalarTransform4f
    d: dict = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": 3},
        "sensor": {"type": "perspective", "fov": FOV_DEG, "fov_axis": "x",
                   "to_world": T().look_at(origin=eye.tolist(), target=(eye + fwd).tolist(),
                                           up=up.tolist()),
                   "film": {"type": "hdrfilm", "width": size, "height": size,
                            "pixel_format": "rgb", "rfilter": {"type": "box"}}},
        "point": {"type": "point", "position": scene.point.position.tolist(),
                  "intensity": {"type": "rgb",
                                "value": (scene.point.color * scene.point.strength).tolist()}},
    }
    area = scene.area
    c = np.mean([a.position for a in area], axis=0)
    radiance = area[0].color * sum(a.strength for a in area) / (1.6 * 1.6)
    d["ceiling"] = {"type": "rectangle",
                    "to_world": T().translate(c.tolist()) @ T().scale([0.8, 0.8, 1.0])
                    @ T().rotate([1, 0, 0], 180),
                    "emitter": {"type": "area", "radiance": {"type": "rgb",
                                                             "value": radiance.tolist()}}}
    d["room"] = _mi_mesh(mi, "room", _room_uv_scaled(), np.eye(4),
                         _bsdf(mi, np.ones(3), scene.background))
    for i, o in enumerate(scene.objects):
        d[f"obj{i + 1}"] = _mi_mesh(mi, f"obj{i + 1}", o.mesh,
                                    o.model_matrix(), _bsdf(mi, o.color, o.tex))
    return mi.load_dict(d)


def _room_uv_scaled() -> Mesh:
    m = _room_mesh()
    return Mesh(m.vertices, m.normals, m.uv * ROOM_UV_SCALE, m.faces)


def render_view(scene: Scene, view_index: int, size: int, spp: int = 16,
                variant: str = "scalar_rgb") -> Frame:
    """One view rendered by Mitsuba: path-traced RGB + ray-cast ground truth."""
    view, _eye = scene.cameras[view_index]
    mi = _load(variant)
    msc = build_scene(scene, view, size, variant)
    img = np.array(mi.render(msc, spp=spp))
    rgb = (np.clip(img, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
    cam_to_world = np.linalg.inv(view)
    R = cam_to_world[:3, :3]
    inst = np.zeros((size, size), np.int32)
    normal = np.zeros((size, size, 3), np.float32)
    depth = np.zeros((size, size), np.float32)
    # instance ids as in the OpenGL renderer: 0 room, i object i, -1 nothing (or the emitter)
    index_of = {"room": 0}
    index_of.update({f"obj{i + 1}": i + 1 for i in range(len(scene.objects))})
    inst[:] = -1
    sensor = msc.sensors()[0]
    for row in range(size):
        for col in range(size):
            # the sensor's own ray through the pixel centre: tests the camera model too
            ray, _ = sensor.sample_ray(0.0, 0.5, mi.Point2f((col + 0.5) / size,
                                                           (row + 0.5) / size),
                                       mi.Point2f(0.5, 0.5))
            dw = np.array([ray.d.x, ray.d.y, ray.d.z])
            si = msc.ray_intersect(mi.Ray3f(ray.o, ray.d))
            if si.is_valid() and si.shape.id() == "ceiling":
                # the emitter is a light, not scene geometry: look through it
                si = msc.ray_intersect(si.spawn_ray(ray.d))
            if not si.is_valid():
                continue
            inst[row, col] = index_of.get(si.shape.id(), -1)
            n = np.array([si.sh_frame.n.x, si.sh_frame.n.y, si.sh_frame.n.z])
            if n @ dw > 0:
                n = -n
            normal[row, col] = R.T @ n
            p = np.array([si.p.x, si.p.y, si.p.z]) - cam_to_world[:3, 3]
            depth[row, col] = -(R.T @ p)[2]  # along the optical axis (rays start at near clip)
    return Frame(rgb, normal, depth, inst)


def _views_job(args: tuple) -> list[Frame]:
    scene, views, size, spp, variant = args
    return [render_view(scene, v, size, spp, variant) for v in views]


def render_views(scene: Scene, size: int, views: list[int] | None = None, spp: int = 16,
                 variant: str = "scalar_rgb") -> list[Frame]:
    """Render views of ``scene`` with Mitsuba in a separate process (see module notes)."""
    import multiprocessing as mp

    views = list(range(len(scene.cameras))) if views is None else views
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_views_job, ((scene, views, size, spp, variant),))
