"""The synthetic scene generator, with the real headless renderer (moderngl + Mesa EGL)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from .conftest import ap_of_ground_truth_as_detections

pytest.importorskip("moderngl")
pytest.importorskip("pycocotools")

from syn2real.render import (
    CLASS_NAMES,
    PRESETS,
    DatasetSpec,
    ShardDataset,
    class_mesh,
    preset,
    render_dataset,
)
from syn2real.render.shards import boxes_from_instances
from syn2real.render.textures import KINDS, texture

SMALL = {"size": 32, "shard_size": 20, "views": 10}


def test_presets_follow_cg_transfer_levels():
    assert sorted(PRESETS) == [f"lv{i}" for i in range(8)]
    lv7, lv0 = preset("lv7"), preset("lv0")
    assert (lv7.appearance, lv7.light, lv7.background, lv7.object_texture) == (
        "multiple", "random", "random", "with")
    assert (lv0.objects_per_scene, lv0.light, lv0.object_texture) == (1, "fixed", "without")
    assert preset("lv6").object_texture == "without" and preset("lv6").background == "random"
    assert preset("lv7").spec_hash() == preset("lv7").spec_hash() != preset("lv6").spec_hash()
    with pytest.raises(ValueError, match="multiple of views"):
        DatasetSpec(shard_size=25, views=10)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("lv9")


def test_object_library_has_56_stable_normalised_classes():
    assert len(CLASS_NAMES) == 56 and len(set(CLASS_NAMES)) == 56
    for c in (0, 2, 10, 25, 30, 55):
        m = class_mesh(c)
        assert abs(m.vertices[:, 2].min()) < 1e-9  # rests on the floor
        r = np.linalg.norm(m.vertices - [0, 0, m.vertices[:, 2].max() / 2], axis=1)
        assert r.max() == pytest.approx(1.0, abs=1e-6)
        assert np.allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-6)
        assert m.faces.max() < len(m.vertices)


def test_textures_are_deterministic_and_distinct():
    for kind in KINDS:
        a, b = texture(kind, 5), texture(kind, 5)
        assert np.array_equal(a, b) and a.std() > 5
        assert not np.array_equal(a, texture(kind, 6))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("lv7")
    spec = preset("lv7", **SMALL)
    render_dataset(spec, root, 40)
    return spec, root


def test_ground_truth_is_consistent(small):
    _spec, root = small
    ds = ShardDataset(root)
    assert len(ds) == 40
    for i in (0, 13, 39):
        it = ds[i]
        inst, sem = np.asarray(it["instance"]), np.asarray(it["semantic"])
        assert it["rgb"].shape == (32, 32, 3) and it["rgb"].dtype == np.uint8
        # class mask = class of the instance; background where the room is (or nothing)
        assert np.array_equal(sem == 0, inst <= 0)
        assert inst.min() >= 0  # the room is closed: every ray hits a surface
        present = np.unique(sem[sem > 0]) - 1
        assert np.array_equal(np.nonzero(it["labels"])[0], present)
        n = np.asarray(it["normal"], np.float32)
        assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=5e-3)
        d = np.asarray(it["depth"], np.float32)
        assert d.min() > 0.04 and d.max() < 20
        # normals face the camera: n . ray < 0 for the pixel's viewing ray (camera frame)
        f = 1 / np.tan(np.radians(30))
        c = (np.arange(32) + 0.5) / 32 * 2 - 1
        ray = np.stack(np.broadcast_arrays(c[None, :] / f, -c[:, None] / f, -1.0), -1)
        assert np.mean(np.sum(n * ray, axis=-1) < 1e-2) > 0.99


def test_coco_annotations_load_and_evaluate(small):
    from pycocotools.coco import COCO

    _spec, root = small
    ds = ShardDataset(root)
    coco = COCO(str(ds.coco_path(1)))
    assert len(coco.getImgIds()) == 20 and len(coco.getCatIds()) == 56
    ann = coco.dataset["annotations"][0]
    img_index = ann["image_id"] - 20
    inst = np.asarray(ds[20 + img_index]["instance"])
    mask = coco.annToMask(ann)
    assert np.array_equal(mask.astype(bool), inst == ann["instance"])
    x, y, w, h, area = boxes_from_instances(inst, 40)[ann["instance"]]
    assert ann["bbox"] == [x, y, w, h] and ann["area"] == area
    assert ap_of_ground_truth_as_detections(coco) == pytest.approx(1.0)


def test_the_reader_takes_its_header_from_the_manifest_and_names_a_bad_field(small, tmp_path):
    """The reader needs no render package: image side, views, shard size and classes come
    from the manifest; a broken field is one line naming the file and the field."""
    from syn2real.data.verify import DataFolderError

    spec, root = small
    ds = ShardDataset(root)
    assert (ds.image_size, ds.header.views, ds.header.shard_size) == \
        (spec.size, spec.views, spec.shard_size)
    assert tuple(ds.class_names) == spec.class_names and ds.scene_id(spec.views) == "1"
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["spec"]["views"] = 0
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DataFolderError, match=r"manifest\.json: spec\.views is 0, not a "
                                              r"positive integer\. Fix: render the data again"):
        ShardDataset(copy)
    m["spec"]["views"] = spec.views
    del m["classes"]
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DataFolderError, match=r"no list of class names"):
        ShardDataset(copy)


def test_same_spec_gives_identical_bytes_with_any_worker_count(small, tmp_path):
    spec, root = small
    render_dataset(spec, tmp_path / "two", 40, workers=2)
    a = json.loads((root / "manifest.json").read_text())["shards"]
    b = json.loads((tmp_path / "two" / "manifest.json").read_text())["shards"]
    assert a == b


def test_render_more_appends_and_prefixes_are_datasets(small, tmp_path):
    spec, root = small
    part = tmp_path / "part"
    render_dataset(spec, part, 20)
    first = json.loads((part / "manifest.json").read_text())["shards"]["0"]
    render_dataset(spec, part, 40)
    full = json.loads((part / "manifest.json").read_text())["shards"]
    assert full["0"] == first
    assert full == json.loads((root / "manifest.json").read_text())["shards"]
    assert len(ShardDataset(part, n=20)) == 20


def test_any_image_count_short_last_shard_grows_byte_identically(small, tmp_path):
    spec, root = small
    part = tmp_path / "short"
    m = render_dataset(spec, part, 25)
    assert m["images"] == 25 and m["shards"]["1"]["images"] == 5
    ds, full = ShardDataset(part), ShardDataset(root)
    assert len(ds) == 25
    for i in (0, 19, 20, 24):  # the short shard holds the full shard's first images
        for k in ("rgb", "instance", "normal", "labels"):
            np.testing.assert_array_equal(ds[i][k], full[i][k])
    with pytest.raises(ValueError, match="25 contiguous images, 26 asked"):
        ShardDataset(part, n=26)
    first = json.loads((part / "manifest.json").read_text())["shards"]["0"]
    m = render_dataset(spec, part, 40)  # the short shard grows; shard 0 is not touched
    shards = json.loads((part / "manifest.json").read_text())["shards"]
    ref = json.loads((root / "manifest.json").read_text())["shards"]
    assert shards["0"] == first and shards["1"]["sha256"] == ref["1"]["sha256"]
    assert m["images"] == 40 and not list(part.glob(".shard-*"))
    assert render_dataset(spec, part, 30)["images"] == 40  # asking for fewer keeps all


def test_interrupted_run_resumes_without_half_written_shards(small, tmp_path):
    spec, root = small
    run = tmp_path / "run"
    shutil.copytree(root, run)
    # a kill after shard 1 was renamed but before the manifest listed it, plus leftovers
    m = json.loads((run / "manifest.json").read_text())
    del m["shards"]["1"]
    (run / "manifest.json").write_text(json.dumps(m))
    (run / ".shard-00002.tmpxyz").mkdir()
    (run / ".shard-00002.tmpxyz" / "rgb.npy").write_bytes(b"partial")
    render_dataset(spec, run, 60)
    m2 = json.loads((run / "manifest.json").read_text())
    assert sorted(m2["shards"], key=int) == ["0", "1", "2"] and m2["images"] == 60
    assert not list(run.glob(".shard-*"))
    with pytest.raises(ValueError, match="another spec"):
        render_dataset(preset("lv6", **SMALL), run, 20)


def test_cli_render_writes_contact_sheet_and_rejects_bad_specs(tmp_path):
    from typer.testing import CliRunner

    from syn2real.cli.app import app

    runner = CliRunner()
    # a newcomer's first render: any count works (one short shard of 20)
    res = runner.invoke(app, ["render", "--preset", "lv0", "--n", "20", "--size", "32",
                              "--out", str(tmp_path / "first"), "--no-sheet"])
    assert res.exit_code == 0, res.output
    assert len(ShardDataset(tmp_path / "first")) == 20
    spec = tmp_path / "s.yaml"
    spec.write_text("preset: lv0\nsize: 32\nshard_size: 20\n")
    res = runner.invoke(app, ["render", "--spec", str(spec), "--n", "20", "--out",
                              str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "d" / "contact_sheet.png").stat().st_size > 1000
    spec.write_text("preset: lv0\nlight: dim\n")
    res = runner.invoke(app, ["render", "--spec", str(spec), "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "'light'" in res.output


def test_mitsuba_backend_agrees_with_opengl():
    pytest.importorskip("mitsuba")
    from syn2real.render.gl import Renderer
    from syn2real.render.mitsuba_backend import render_views
    from syn2real.render.scene import sample_scene

    spec = preset("lv7", size=48, views=2)
    scene = sample_scene(spec, np.random.default_rng(11))
    gl = Renderer(48).render(scene)
    for v, mi in enumerate(render_views(scene, 48, spp=4)):
        assert np.mean(mi.instance == gl[v].instance) >= 0.99
        ok = (mi.instance >= 0) & (mi.instance == gl[v].instance)
        cos = np.clip(np.sum(mi.normal[ok] * gl[v].normal[ok], axis=-1), -1, 1)
        assert np.degrees(np.median(np.arccos(cos))) < 1.0
        rel = np.abs(mi.depth[ok] - gl[v].depth[ok]) / gl[v].depth[ok]
        assert np.median(rel) < 1e-3
        assert mi.rgb.shape == (48, 48, 3) and mi.rgb.std() > 1


def test_user_meshes_and_textures_from_folders(tmp_path):
    import trimesh
    from PIL import Image

    meshes = tmp_path / "models"
    meshes.mkdir()
    trimesh.creation.box((1, 2, 0.5)).export(meshes / "obj_000001.ply")
    trimesh.creation.icosphere(2).export(meshes / "obj_000002.obj")
    trimesh.creation.cone(0.5, 1.0).export(meshes / "obj_000003.glb")
    textures = tmp_path / "tex"
    textures.mkdir()
    Image.fromarray(np.full((8, 8, 3), (200, 30, 30), np.uint8)).save(textures / "red.png")
    spec = DatasetSpec(mesh_dir=str(meshes), texture_dir=str(textures), **SMALL)
    assert spec.n_classes == 3
    m = render_dataset(spec, tmp_path / "out", 20)
    assert m["classes"] == ["obj_000001", "obj_000002", "obj_000003"]
    ds = ShardDataset(tmp_path / "out")
    assert ds[0]["labels"].shape == (3,)
    assert np.asarray(ds[3]["semantic"]).max() <= 3
    coco = json.loads(ds.coco_path(0).read_text())
    assert [c["name"] for c in coco["categories"]] == m["classes"]
    h = spec.spec_hash()
    trimesh.creation.icosphere(1).export(meshes / "obj_000002.obj")  # asset changed
    assert DatasetSpec(mesh_dir=str(meshes), texture_dir=str(textures), **SMALL).spec_hash() != h
    with pytest.raises(ValueError, match="not a folder"):
        _ = DatasetSpec(mesh_dir=str(tmp_path / "nope"), **SMALL).n_classes


def test_kill_during_render_then_resume(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    spec = tmp_path / "s.yaml"
    spec.write_text("preset: lv7\nsize: 32\nshard_size: 100\n")
    cmd = [sys.executable, "-m", "syn2real.cli.app", "render", "--spec", str(spec), "--n",
           "600", "--out", str(out), "--no-sheet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "shard-00001").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in out.glob("shard-*"))
    assert 1 <= len(done) < 6
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    m = json.loads((out / "manifest.json").read_text())
    assert sorted(m["shards"], key=int) == [str(k) for k in range(6)] and m["images"] == 600
    assert not list(out.glob(".shard-*"))
    ref = render_dataset(preset("lv7", size=32, shard_size=100), tmp_path / "clean", 600)
    assert ref["shards"] == m["shards"]  # byte-identical to an uninterrupted run


def test_shadows_darken_without_changing_ground_truth():
    from syn2real.render.gl import Renderer
    from syn2real.render.scene import sample_scene

    spec = preset("lv4", size=64, views=2)
    scene = sample_scene(spec, np.random.default_rng(5))
    plain = Renderer(64).render(scene)
    shaded = Renderer(64, shadows=True).render(scene)
    for a, b in zip(plain, shaded, strict=True):
        assert np.array_equal(a.instance, b.instance)
        assert np.allclose(a.normal, b.normal)
        assert np.all(b.rgb.astype(int) <= a.rgb.astype(int) + 1)  # light only removed
        assert b.rgb.mean() < a.rgb.mean()
    assert preset("lv7", shadows=True).spec_hash() != preset("lv7").spec_hash()


def test_class_selection_by_name_patterns_labels_in_list_order(tmp_path):
    spec = DatasetSpec(classes=["glyph_[0-9]"], **SMALL)
    assert spec.n_classes == 10 and spec.class_names[0] == "glyph_0"
    assert spec.class_names[-1] == "glyph_9"
    m = render_dataset(spec, tmp_path / "digits", 20)
    assert m["classes"] == [f"glyph_{d}" for d in range(10)]
    coco = json.loads(ShardDataset(tmp_path / "digits").coco_path(0).read_text())
    assert {a["category_id"] for a in coco["annotations"]} <= set(range(1, 11))
    assert DatasetSpec(classes=3, **SMALL).class_ids == (0, 1, 2)
    with pytest.raises(ValueError, match="matches no class"):
        _ = DatasetSpec(classes=["glyph_Z"], **SMALL).class_ids
    with pytest.raises(ValueError, match="need at least 2"):
        DatasetSpec(classes=1, **SMALL)


def test_camera_ranges_change_views_and_default_keeps_the_hash():
    from syn2real.render.scene import sample_scene
    from syn2real.render.spec import CameraSpec

    base = DatasetSpec(**SMALL)
    assert DatasetSpec(camera=CameraSpec(), **SMALL).spec_hash() == base.spec_hash()
    front = DatasetSpec(camera={"elevation": [10, 20], "azimuth": [-5, 5], "roll": 0},
                        appearance="single", **{k: v for k, v in SMALL.items()
                                                if k != "appearance"})
    assert front.spec_hash() != base.spec_hash()
    scene = sample_scene(front, np.random.default_rng(0))
    obj = scene.objects[0]
    front_dir = np.array([np.sin(obj.yaw), -np.cos(obj.yaw)])  # the object's -y axis
    for view, eye in scene.cameras:
        d = eye - (obj.position + np.array([0, 0, obj.scale * 0.8]))
        elev = np.degrees(np.arcsin(d[2] / np.linalg.norm(d)))
        assert 9.9 <= elev <= 20.1
        cos_az = d[:2] @ front_dir / np.linalg.norm(d[:2])
        assert cos_az > np.cos(np.radians(5.1))
        assert abs(view[0, 2]) < 1e-9  # no roll: the camera's x axis stays horizontal
    with pytest.raises(ValueError, match="elevation"):
        DatasetSpec(camera={"elevation": [50, 10]}, **SMALL)


def test_compressed_tar_shards_decode_to_the_render_and_are_deterministic(small, tmp_path):
    spec, root = small
    a = tmp_path / "tar1"
    render_dataset(spec, a, 40, storage="tar")
    render_dataset(spec, tmp_path / "tar2", 40, storage="tar", workers=2)
    m1 = json.loads((a / "manifest.json").read_text())
    m2 = json.loads((tmp_path / "tar2" / "manifest.json").read_text())
    assert m1["format"] == "syn2real-tar/1" and m1["shards"] == m2["shards"]  # same bytes
    raw, tar = ShardDataset(root), ShardDataset(a)
    for i in (0, 13, 39):
        x, y = raw[i], tar[i]
        for k in ("rgb", "instance", "semantic", "depth", "labels"):
            np.testing.assert_array_equal(y[k], np.asarray(x[k]))
        v = np.asarray(x["instance"]) >= 0
        np.testing.assert_allclose(y["normal"].astype(np.float32)[v],
                                   np.asarray(x["normal"], np.float32)[v], atol=0.01)
    raw_bytes = sum(p.stat().st_size for p in root.glob("shard-*/*.npy"))
    tar_bytes = sum(p.stat().st_size for p in a.glob("shard-*/samples.tar"))
    assert tar_bytes < 0.7 * raw_bytes  # at 32 px; ~1/4 at 64 px, ~1/9 at 224 px (bench_data)
    with pytest.raises(ValueError, match="holds syn2real-tar/1 shards"):
        render_dataset(spec, a, 40)  # the other storage into the same folder
    # WebDataset reads the shards as they are
    wds = pytest.importorskip("webdataset")
    first = next(iter(wds.WebDataset(str(a / "shard-00000" / "samples.tar"), shardshuffle=False)))
    assert {"rgb.png", "instance.png", "normal.png", "depth.png", "labels.json"} <= set(first)
    # a damaged tar is found and rendered again, byte-identically
    p = a / "shard-00001" / "samples.tar"
    data = bytearray(p.read_bytes())
    data[5000] ^= 0xFF
    p.write_bytes(bytes(data))
    from syn2real.data.verify import check_shards

    assert [str(x) for x in check_shards(a, full=True)] == ["shard-00001/samples.tar: checksum"]
    render_dataset(spec, a, 40, storage="tar")
    assert json.loads((a / "manifest.json").read_text())["shards"] == m1["shards"]


def test_shard_folders_follow_the_umask_not_mkdtemp(small, tmp_path):
    """Collaborators on shared storage read the renders: a shard folder gets the umask's
    permissions (0755 under 022, 0775 under 002), not mkdtemp's 0700 (issue 29 item 7)."""
    import os
    import stat

    spec, _ = small
    for mask, want in ((0o022, 0o755), (0o002, 0o775)):
        old = os.umask(mask)
        try:
            out = tmp_path / f"m{mask:o}"
            render_dataset(spec, out, 20)
        finally:
            os.umask(old)
        shard = next(out.glob("shard-*"))
        assert stat.S_IMODE(shard.stat().st_mode) == want


_PART = """
import sys
from syn2real.render import render_dataset
from syn2real.render.spec import DatasetSpec
render_dataset(DatasetSpec.model_validate_json(sys.argv[1]), sys.argv[2], 60, shards_from=3)
"""


def test_parts_of_one_folder_render_at_once_and_keep_each_others_shards(tmp_path):
    """Issue 28 item 4: a job rendering shards 3.. of a folder runs (another process) while
    a render of shards 0-2 holds the folder, between two of its shards; neither loses the
    other's manifest entries, the folder is the bytes of one render of all 60 images, and a
    check of the whole folder afterwards renders nothing. A second job on the same shards
    is refused in one line."""
    import subprocess
    import sys

    from syn2real.locking import FolderInUse, folder_lock
    from syn2real.render.shards import read_manifest

    spec = preset("lv0", size=32, classes=3, shard_size=10)
    root = tmp_path / "d"
    parts: list[int] = []

    def other_part_meanwhile(entry: dict) -> None:
        parts.append(entry["index"])
        if len(parts) == 1:
            subprocess.run([sys.executable, "-c", _PART, spec.model_dump_json(), str(root)],
                           check=True, capture_output=True)

    first = render_dataset(spec, root, 30, on_shard=other_part_meanwhile)
    assert parts == [0, 1, 2] and sorted(map(int, first["shards"])) == list(range(6))
    manifest = read_manifest(root)
    assert manifest["images"] == 60 and sorted(map(int, manifest["shards"])) == list(range(6))
    once = render_dataset(spec, tmp_path / "once", 60)
    assert ({k: v["sha256"] for k, v in manifest["shards"].items()}
            == {k: v["sha256"] for k, v in once["shards"].items()})
    stamps = {p: p.stat().st_mtime_ns for p in root.glob("shard-*/*")}
    rendered: list[dict] = []
    render_dataset(spec, root, 60, on_shard=rendered.append)  # the check of the whole
    assert rendered == [] and stamps == {p: p.stat().st_mtime_ns for p in root.glob("shard-*/*")}
    with folder_lock(root, "a part", name=".syn2real.shards-3-6.lock"):
        with pytest.raises(FolderInUse, match="in use by a part"):
            render_dataset(spec, root, 60, shards_from=3)
    with pytest.raises(ValueError, match="outside the 6 shard"):
        render_dataset(spec, root, 60, shards_from=6)
