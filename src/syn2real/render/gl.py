"""Headless OpenGL renderer (moderngl, EGL; Mesa llvmpipe on CPUs).

One pass writes three targets: colour (RGBA8), camera-frame normal + depth (RGBA32F) and
the instance id (R32I). Lighting: ambient + one point light + the ceiling (area) light
sampled at four points, Lambert with a small Blinn-Phong highlight. No anti-aliasing, so the
masks are exact.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from .objects import Mesh
from .scene import ROOM_HALF, ROOM_HEIGHT, Scene, projection

Array = np.ndarray
ROOM_UV_SCALE = 4.0  # the floor/wall texture repeats 4 times per side

_VS = """
#version 330
uniform mat4 model; uniform mat4 view; uniform mat4 proj; uniform mat3 nmat;
in vec3 in_pos; in vec3 in_nrm; in vec2 in_uv;
out vec3 w_pos; out vec3 w_nrm; out vec2 uv; out vec3 v_pos;
void main() {
  vec4 wp = model * vec4(in_pos, 1.0);
  w_pos = wp.xyz; w_nrm = nmat * in_nrm; uv = in_uv;
  vec4 vp = view * wp; v_pos = vp.xyz;
  gl_Position = proj * vp;
}
"""

_SHADOW_VS = """
#version 330
uniform mat4 model; uniform mat4 light_vp;
in vec3 in_pos;
void main() { gl_Position = light_vp * model * vec4(in_pos, 1.0); }
"""

_SHADOW_FS = """
#version 330
void main() {}
"""

_FS = """
#version 330
uniform sampler2D tex; uniform int use_tex; uniform vec3 albedo; uniform float uv_scale;
uniform sampler2D shadow_map; uniform int use_shadow; uniform mat4 light_vp;
uniform int inst; uniform mat4 view; uniform vec3 eye;
uniform vec3 lpos[5]; uniform vec3 lcol[5];
in vec3 w_pos; in vec3 w_nrm; in vec2 uv; in vec3 v_pos;
layout(location = 0) out vec4 color;
layout(location = 1) out vec4 nd;
layout(location = 2) out int id;
void main() {
  vec3 n = normalize(w_nrm);
  vec3 vdir = normalize(eye - w_pos);
  if (dot(n, vdir) < 0.0) n = -n;
  vec3 base = use_tex == 1 ? texture(tex, uv * uv_scale).rgb : albedo;
  vec3 c = 0.18 * base;
  float lit0 = 1.0;
  if (use_shadow == 1) {  // shadow map of the point light (light 0)
    vec4 lp = light_vp * vec4(w_pos, 1.0);
    vec3 q = lp.xyz / lp.w * 0.5 + 0.5;
    if (lp.w > 0.0 && all(greaterThan(q.xy, vec2(0.0))) && all(lessThan(q.xy, vec2(1.0)))) {
      float bias = 0.0015;
      lit0 = q.z - bias > texture(shadow_map, q.xy).r ? 0.0 : 1.0;
    }
  }
  for (int i = 0; i < 5; i++) {
    vec3 d = lpos[i] - w_pos; float r2 = dot(d, d); vec3 l = d / sqrt(r2);
    float lam = max(dot(n, l), 0.0);
    float spec = pow(max(dot(n, normalize(l + vdir)), 0.0), 32.0);
    float vis = i == 0 ? lit0 : 1.0;
    c += vis * lcol[i] * (base * lam + 0.15 * spec) / (1.0 + r2);
  }
  color = vec4(clamp(c, 0.0, 1.0), 1.0);
  nd = vec4(normalize(mat3(view) * n), -v_pos.z);
  id = inst + 1;  // 0 stays for pixels that hit nothing
}
"""


def _room_mesh() -> Mesh:
    h, s = ROOM_HALF, ROOM_HEIGHT
    quads = [  # inward-facing floor, walls and ceiling (normals point into the room)
        ([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0]], [0, 0, 1]),
        ([[-h, -h, 0], [-h, h, 0], [-h, h, s], [-h, -h, s]], [1, 0, 0]),
        ([[h, -h, 0], [h, -h, s], [h, h, s], [h, h, 0]], [-1, 0, 0]),
        ([[-h, -h, 0], [-h, -h, s], [h, -h, s], [h, -h, 0]], [0, 1, 0]),
        ([[-h, h, 0], [h, h, 0], [h, h, s], [-h, h, s]], [0, -1, 0]),
        ([[-h, -h, s], [-h, h, s], [h, h, s], [h, -h, s]], [0, 0, -1]),  # ceiling
    ]
    V, N, UV, F = [], [], [], []
    for i, (q, n) in enumerate(quads):
        V += q
        N += [n] * 4
        UV += [[0, 0], [1, 0], [1, 1], [0, 1]]
        F += [[4 * i, 4 * i + 1, 4 * i + 2], [4 * i, 4 * i + 2, 4 * i + 3]]
    return Mesh(np.array(V, float), np.array(N, float), np.array(UV, float), np.array(F))


@dataclass
class Frame:
    """One rendered view: ``rgb`` (H, W, 3) uint8, ``normal`` (H, W, 3) float32 in the camera
    frame, ``depth`` (H, W) float32 (distance along the optical axis), ``instance`` (H, W)
    int32 (0: room, i: i-th object of the scene, -1: nothing hit; normal and depth are
    valid where ``instance >= 0``)."""

    rgb: Array
    normal: Array
    depth: Array
    instance: Array


def _load_triton_first() -> None:
    """Triton (which torch._dynamo and torchvision.ops import) bundles its own LLVM; loaded
    after Mesa's llvmpipe has created a context, it crashes the process (measured: a
    segmentation fault on ``import torchvision`` after rendering). Loaded first, both work:
    so a process that renders and then trains does not die."""
    import importlib.util

    if importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


class Renderer:
    """Renders scenes of one image size; reuse it for many scenes (GL objects are cached)."""

    def __init__(self, size: int, shadows: bool = False, shadow_size: int = 1024) -> None:
        import moderngl

        _load_triton_first()

        os.environ.setdefault("LP_NUM_THREADS", "1")
        try:
            self.ctx = moderngl.create_standalone_context(backend="egl", require=330)
        except Exception as exc:  # no EGL / no Mesa: say how to fix it
            raise UserError(
                "cannot create a headless OpenGL context (EGL). Install Debian's libegl1 "
                "libegl-mesa0 libgl1-mesa-dri (make render-deps) and moderngl. Cause: "
                f"{exc}") from None
        self.size = size
        ctx = self.ctx
        self.prog = ctx.program(vertex_shader=_VS, fragment_shader=_FS)
        self.color = ctx.texture((size, size), 4, dtype="f1")
        self.nd = ctx.texture((size, size), 4, dtype="f4")
        self.ids = ctx.texture((size, size), 1, dtype="i4")
        self.depth = ctx.depth_renderbuffer((size, size))
        self.fbo = ctx.framebuffer([self.color, self.nd, self.ids], self.depth)
        self._vaos: dict[str, object] = {}
        self.prog["proj"].write(projection().T.astype("f4").tobytes())
        self.shadows = shadows
        self.prog["use_shadow"].value = int(shadows)
        if shadows:
            self.shadow_prog = ctx.program(vertex_shader=_SHADOW_VS, fragment_shader=_SHADOW_FS)
            self.shadow_tex = ctx.depth_texture((shadow_size, shadow_size))
            self.shadow_tex.compare_func = ""
            self.shadow_fbo = ctx.framebuffer(depth_attachment=self.shadow_tex)
            self.prog["shadow_map"].value = 1
            self._shadow_vaos: dict[str, object] = {}
        self._meshes: dict[str, Mesh] = {}
        self._room = self._vao("room", _room_mesh())

    def _vao(self, key: str, mesh: Mesh):
        self._meshes[key] = mesh
        if key not in self._vaos:
            data = np.hstack([mesh.vertices, mesh.normals, mesh.uv]).astype("f4")
            vbo = self.ctx.buffer(data.tobytes())
            ibo = self.ctx.buffer(mesh.faces.astype("i4").tobytes())
            vao = self.ctx.vertex_array(
                self.prog, [(vbo, "3f 3f 2f", "in_pos", "in_nrm", "in_uv")], ibo)
            vao._vbo, vao._ibo = vbo, ibo
            self._vaos[key] = vao
        return self._vaos[key]

    def _shadow_pass(self, scene: Scene, draws: list) -> None:
        """Depth from the point light looking down (120 degree frustum) into the shadow map."""
        from .scene import _look_at

        lp = scene.point.position
        lview = _look_at(lp, lp - np.array([0.0, 0.0, 1.0]), 0.0)
        light_vp = projection(near=0.05, far=10.0, fov_deg=120.0) @ lview
        vp_bytes = light_vp.T.astype("f4").tobytes()
        self.prog["light_vp"].write(vp_bytes)
        self.shadow_prog["light_vp"].write(vp_bytes)
        self.shadow_fbo.use()
        self.shadow_fbo.clear(depth=1.0)
        for key, model in draws:
            if key not in self._shadow_vaos:
                vao = self._vaos[key]
                self._shadow_vaos[key] = self.ctx.vertex_array(
                    self.shadow_prog, [(vao._vbo, "3f 3x4 2x4", "in_pos")], vao._ibo)
            self.shadow_prog["model"].write(model.T.astype("f4").tobytes())
            self._shadow_vaos[key].render()
        self.shadow_tex.use(1)

    def _texture(self, img: Array):
        t = self.ctx.texture((img.shape[1], img.shape[0]), 3, np.ascontiguousarray(img).tobytes())
        t.repeat_x = t.repeat_y = True
        return t

    def render(self, scene: Scene) -> list[Frame]:
        """Render every camera view of a scene."""
        # several renderers may live in one process: make this one's context current
        with self.ctx:
            return self._render(scene)

    def _render(self, scene: Scene) -> list[Frame]:
        ctx, prog = self.ctx, self.prog
        lights = [scene.point, *scene.area]
        prog["lpos"].write(np.array([li.position for li in lights], "f4").tobytes())
        prog["lcol"].write(np.array([li.color * li.strength for li in lights], "f4").tobytes())
        bg = self._texture(scene.background)
        texs = [self._texture(o.tex) if o.tex is not None else None for o in scene.objects]
        draws = [(self._room, np.eye(4), 0, bg, np.ones(3), ROOM_UV_SCALE)]
        for i, o in enumerate(scene.objects):
            draws.append((self._vao(o.key, o.mesh), o.model_matrix(),
                          i + 1, texs[i], o.color, 1.0))
        # per-object uniforms are the same for every view: pack them once
        packed = []
        for vao, model, inst, tex, albedo, uv_scale in draws:
            nmat = np.linalg.inv(model[:3, :3]).T
            packed.append((vao, model.T.astype("f4").tobytes(), nmat.T.astype("f4").tobytes(),
                           inst, tex, tuple(albedo), uv_scale))
        frames = []
        ctx.enable(ctx.DEPTH_TEST)
        if self.shadows:
            self._shadow_pass(scene, [("room", np.eye(4))] + [
                (o.key, o.model_matrix()) for o in scene.objects])
        self.fbo.use()
        u_model, u_nmat, u_inst = prog["model"], prog["nmat"], prog["inst"]
        u_albedo, u_uv, u_tex = prog["albedo"], prog["uv_scale"], prog["use_tex"]
        for view, eye in scene.cameras:
            self.fbo.clear(0.0, 0.0, 0.0, 1.0, depth=1.0)
            prog["view"].write(view.T.astype("f4").tobytes())
            prog["eye"].value = tuple(eye)
            for vao, model_b, nmat_b, inst, tex, albedo, uv_scale in packed:
                u_model.write(model_b)
                u_nmat.write(nmat_b)
                u_inst.value = inst
                u_albedo.value = albedo
                u_uv.value = uv_scale
                if tex is not None:
                    tex.use(0)
                    u_tex.value = 1
                else:
                    u_tex.value = 0
                vao.render()
            frames.append(self._read())
        bg.release()
        for t in texs:
            if t is not None:
                t.release()
        return frames

    def _read(self) -> Frame:
        n = self.size
        rgba = np.frombuffer(self.color.read(), np.uint8).reshape(n, n, 4)[::-1, :, :3]
        nd = np.frombuffer(self.nd.read(), np.float32).reshape(n, n, 4)[::-1]
        ids = np.frombuffer(self.ids.read(), np.int32).reshape(n, n)[::-1] - 1
        return Frame(np.ascontiguousarray(rgba), np.ascontiguousarray(nd[..., :3]),
                     np.ascontiguousarray(nd[..., 3]), np.ascontiguousarray(ids))

    def release(self) -> None:
        self.ctx.release()
