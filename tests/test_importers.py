"""Other generators' output as data sources: every importer on a fixture in its exact layout
(written from syn2real renders, so the ground truth is known), the layout detection, bad
input, and pre-training on imported frames end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("moderngl")
h5py = pytest.importorskip("h5py")

from syn2real.data import DataSource, ShardDataset, detect_layout, open_source  # noqa: E402
from syn2real.data.importers import ImportedDataError  # noqa: E402
from syn2real.data.sources import UnknownLayout  # noqa: E402
from syn2real.errors import UserError  # noqa: E402
from syn2real.render import DatasetSpec, render_dataset  # noqa: E402
from writers import (  # noqa: E402
    write_blenderproc,
    write_bop,
    write_cg_transfer,
    write_kubric,
    write_replicator,
    write_solo,
)

N = 12


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("src")
    spec = DatasetSpec(size=32, shard_size=20, views=4, seed=3)
    render_dataset(spec, root, 20)
    return ShardDataset(root), spec


def _compact(inst):
    inst = np.asarray(inst)
    out = inst.astype(np.int64).copy()
    obj = inst >= 1
    out[obj] = np.unique(inst[obj], return_inverse=True)[1] + 1
    return out


def _same_ground_truth(ds, imp, n, class_of, normal_atol=2e-3):
    """Imported frames equal the rendered ones (normals within float16 rounding)."""
    for i in range(n):
        a, b = ds[i], imp[i]
        np.testing.assert_array_equal(b["rgb"], a["rgb"])
        # objects keep their order; the importer numbers the visible ones 1..k
        np.testing.assert_array_equal(_compact(b["instance"]), _compact(a["instance"]))
        # classes are renumbered by the importer: map back by name / category id
        back = np.array([0] + [class_of(k) for k in range(len(imp.class_names))])
        np.testing.assert_array_equal(back[b["semantic"]], a["semantic"])
        v = a["instance"] >= 0
        np.testing.assert_allclose(np.asarray(b["normal"], np.float32)[v],
                                   np.asarray(a["normal"], np.float32)[v], atol=normal_atol)
        present = np.zeros(len(ds.class_names), np.uint8)
        present[[class_of(k) - 1 for k in np.flatnonzero(b["labels"])]] = 1
        np.testing.assert_array_equal(present, a["labels"])


def test_blenderproc_hdf5_round_trip_and_scenes(rendered, tmp_path):
    ds, _ = rendered
    out = write_blenderproc(ds, tmp_path / "bp", N)
    assert detect_layout(out) == "blenderproc"
    imp = open_source(out)
    assert isinstance(imp, DataSource) and len(imp) == N and imp.image_size == 32
    # class names follow the category ids (1-based class index + 1 of the render)
    _same_ground_truth(ds, imp, N, lambda k: imp.categories[k])
    v = ds[0]["instance"] >= 0
    np.testing.assert_allclose(np.asarray(imp[0]["depth"], np.float32)[v],
                               np.asarray(ds[0]["depth"], np.float32)[v], rtol=1e-3)
    # scene folders: views of one scene share a scene id, and the hash is stable
    assert imp.scene_id(0) == imp.scene_id(3) != imp.scene_id(4)
    assert imp.content_hash() == open_source(out).content_hash()
    (out / "scene_000" / "0.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(UserError, match=r"0\.hdf5: not a readable HDF5"):
        open_source(out)


def test_replicator_basic_writer_round_trip_with_world_normals(rendered, tmp_path):
    ds, _ = rendered
    names = list(ds.class_names)
    out = write_replicator(ds, tmp_path / "rep", N, names)
    assert detect_layout(out) == "replicator"
    imp = open_source(out)
    assert len(imp) == N and imp.scene_id(0) != imp.scene_id(1)
    _same_ground_truth(ds, imp, N, lambda k: names.index(imp.class_names[k]) + 1)
    # a colour in the mask that the labels file does not name: one line, the file named
    lab = out / "semantic_segmentation_labels_0002.json"
    d = json.loads(lab.read_text())
    d.pop(next(k for k, v in d.items() if v["class"] != "BACKGROUND"))
    lab.write_text(json.dumps(d))
    with pytest.raises(ImportedDataError, match=r"semantic_segmentation_0002\.png: 1 colour"):
        open_source(out)[2]  # label maps are read once, when the folder is opened
    (out / "camera_params_0003.json").unlink()
    with pytest.raises(ImportedDataError, match=r"camera_params_0003\.json: missing"):
        imp[3]


def test_cg_transfer_layout_round_trip_and_bad_annotations(rendered, tmp_path):
    ds, _ = rendered
    names = list(ds.class_names)
    out = write_cg_transfer(ds, tmp_path / "cg", N, names)
    assert detect_layout(out) == "cg-transfer"
    imp = open_source(out, scene_size=4)
    assert imp.class_names == names and imp.scene_id(3) == "0" and imp.scene_id(4) == "1"
    _same_ground_truth(ds, imp, N, lambda k: k + 1)
    ann_p = out / "5" / "annotations.json"
    ann = json.loads(ann_p.read_text())
    ann["annotations"][0]["category_id"] = 999
    ann_p.write_text(json.dumps(ann))
    with pytest.raises(ImportedDataError, match=r"5/annotations.json: annotation 1 has "
                                           "category_id 999"):
        imp[5]
    (out / "7" / "rgb_0007.png").unlink()
    with pytest.raises(ImportedDataError, match=r"rgb_0007\.png: missing"):
        imp[7]


def test_bop_format_round_trip_depth_in_metres_and_no_normals(rendered, tmp_path):
    ds, _ = rendered
    out = write_bop(ds, tmp_path / "bop", N)
    assert detect_layout(out) == "bop"
    imp = open_source(out)
    assert len(imp) == N and imp.has_normals is False
    assert imp.scene_id(0) == imp.scene_id(3) == "train_pbr/000000" != imp.scene_id(4)
    for i in range(N):
        a, b = ds[i], imp[i]
        np.testing.assert_array_equal(b["rgb"], a["rgb"])
        np.testing.assert_array_equal(_compact(b["instance"]),
                                      _compact(np.maximum(a["instance"], 0)))
        back = np.array([0] + list(imp.obj_ids))  # obj_id = the render's class + 1
        np.testing.assert_array_equal(back[b["semantic"]], a["semantic"])
        v = np.asarray(a["instance"]) >= 0
        np.testing.assert_allclose(np.asarray(b["depth"], np.float32)[v],
                                   np.asarray(a["depth"], np.float32)[v], atol=2e-3, rtol=2e-3)
    pytest.importorskip("torch")
    from syn2real.train.api import pretrain

    with pytest.raises(UserError, match=r"bop data has no surface normals \(in some or all "
                                        r"frames\)\. Fix: pre-train on mulclass, semseg or "
                                        "objdet, or render normals"):
        pretrain(out, 4, "normal", out=tmp_path / "ck", iters=1, batch=2, val_images=2)
    # the check reads the task's registered needs: a new task needing normals is refused too
    from syn2real import registry
    from syn2real.data.sources import check_source_for_task

    registry.register_task(registry.TaskInfo("relight", "x:Y", pretrain=True,
                                             needs=("normals",)))
    try:
        with pytest.raises(UserError, match=r"no surface normals \(in some or all frames\)\. "
                                            "Fix: pre-train on mulclass, semseg or objdet"):
            check_source_for_task(imp, "relight", out)
        check_source_for_task(ds, "relight", out)  # syn2real's renders have normals
    finally:
        registry._TASKS.pop("relight")
    (out / "train_pbr" / "000001" / "mask_visib" / "000002_000000.png").unlink()
    with pytest.raises(ImportedDataError, match=r"000002_000000\.png: missing.*calc_mask_info"):
        imp[6]


def test_kubric_round_trip_world_normals_and_ray_depth(rendered, tmp_path):
    pytest.importorskip("png")
    pytest.importorskip("imageio")
    ds, _ = rendered
    names = list(ds.class_names)
    out = write_kubric(ds, tmp_path / "kub", N, names)
    assert detect_layout(out) == "kubric"
    imp = open_source(out)
    assert len(imp) == N and imp.scene_id(0) == imp.scene_id(3) == "scene_000"
    _same_ground_truth(ds, imp, N, lambda k: names.index(imp.class_names[k]) + 1,
                       normal_atol=1e-3)
    for i in (0, 5):
        v = np.asarray(ds[i]["instance"]) >= 0
        np.testing.assert_allclose(np.asarray(imp[i]["depth"], np.float32)[v],
                                   np.asarray(ds[i]["depth"], np.float32)[v], rtol=2e-3)
    meta = json.loads((out / "scene_001" / "metadata.json").read_text())
    meta["instances"] = meta["instances"][:1]
    (out / "scene_001" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ImportedDataError, match=r"but metadata\.json lists 1 instances"):
        open_source(out)[4]


def test_unity_solo_round_trip_with_exr_depth_and_normals(rendered, tmp_path):
    pytest.importorskip("OpenEXR")
    ds, _ = rendered
    names = list(ds.class_names)
    out = write_solo(ds, tmp_path / "solo", N, names)
    assert detect_layout(out) == "solo"
    imp = open_source(out)
    assert len(imp) == N and imp.has_normals and imp.scene_id(0) == "sequence.0"
    _same_ground_truth(ds, imp, N, lambda k: names.index(imp.class_names[k]) + 1)
    v = np.asarray(ds[2]["instance"]) >= 0
    np.testing.assert_allclose(np.asarray(imp[2]["depth"], np.float32)[v],
                               np.asarray(ds[2]["depth"], np.float32)[v], rtol=1e-3)
    # a sequence folder renamed by hand is read as a scene, in natural order, not a crash
    (out / "sequence.2").rename(out / "sequence.2-copy")
    renamed = open_source(out)
    assert len(renamed) == N and renamed.scene_id(N - 1) == "sequence.2-copy"
    np.testing.assert_array_equal(renamed[N - 1]["rgb"], ds[N - 1]["rgb"])
    (out / "sequence.2-copy").rename(out / "sequence.2")
    fd = out / "sequence.1" / "step1.frame_data.json"
    frame = json.loads(fd.read_text())
    frame["captures"][0]["annotations"] = frame["captures"][0]["annotations"][1:]
    fd.write_text(json.dumps(frame))
    with pytest.raises(ImportedDataError, match="no instance segmentation"):
        open_source(out)


def test_coco_writer_output_and_our_own_export_read_back(rendered, tmp_path):
    from syn2real.data.export import export_data

    ds, _ = rendered
    out = tmp_path / "coco_data"
    export_data(ds, out, "coco", range(N))
    assert detect_layout(out) == "coco"  # syn2real's own export reads back
    (out / "annotations.json").rename(out / "coco_annotations.json")  # BlenderProc's name
    imp = open_source(tmp_path)  # [coco_data/]coco_annotations.json
    assert imp.format == "coco" and len(imp) == N and imp.has_normals is False
    names = list(ds.class_names)
    for i in range(N):
        a, b = ds[i], imp[i]
        np.testing.assert_array_equal(b["rgb"], a["rgb"])
        np.testing.assert_array_equal(_compact(b["instance"]),
                                      _compact(np.maximum(a["instance"], 0)))
        back = np.array([0] + [names.index(c) + 1 for c in imp.class_names])
        np.testing.assert_array_equal(back[b["semantic"]], a["semantic"])
    raw = json.loads((out / "coco_annotations.json").read_text())
    # BlenderProc's writer, appending runs (append_to_existing_output), adds one category
    # entry per new {id, name} pair: the same ids again under object names (issue 25.5)
    dup = dict(raw, categories=raw["categories"] + [
        {**c, "name": f"{c['name']}_{k}", "supercategory": "coco_annotations"}
        for k in range(3) for c in raw["categories"]])
    (out / "coco_annotations.json").write_text(json.dumps(dup))
    again = open_source(tmp_path)
    assert again.class_names == imp.class_names and again.categories == imp.categories
    assert len(dup["categories"]) == 4 * len(imp.categories)
    np.testing.assert_array_equal(again[1]["semantic"], imp[1]["semantic"])
    raw["annotations"][0]["image_id"] = 4242
    (out / "coco_annotations.json").write_text(json.dumps(raw))
    with pytest.raises(ImportedDataError, match="points to image_id 4242"):
        open_source(tmp_path)


def test_unknown_layout_names_what_is_supported(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(UnknownLayout) as e:
        detect_layout(tmp_path)
    msg = str(e.value)
    assert "blenderproc" in msg and "replicator" in msg and "cg-transfer" in msg
    assert "\n" not in msg
    assert "<function" not in msg and "manifest.json + shard-00000" in msg  # issue 25.12
    with pytest.raises(UserError, match="unknown data format 'kubrik'"):
        open_source(tmp_path, "kubrik")


def test_pretraining_on_blenderproc_and_replicator_frames(rendered, tmp_path):
    pytest.importorskip("torch")
    from syn2real.train.api import pretrain

    ds, _ = rendered
    for name, out in (("blenderproc", write_blenderproc(ds, tmp_path / "bp", 16)),
                      ("replicator", write_replicator(ds, tmp_path / "rep", 16,
                                                      list(ds.class_names)))):
        for task in ("mulclass", "normal"):
            row = pretrain(out, 8, task, out=tmp_path / f"ck-{name}-{task}", iters=3,
                           batch=4, val_images=8, seed=0, threads=1)
            assert row["config"]["data_format"] == name
            assert np.isfinite(row["metrics"]["val_error_best"])
            assert (tmp_path / f"ck-{name}-{task}" / "backbone.pt").stat().st_size > 1e5
    # a broken frame stops the run before training, naming the file
    (tmp_path / "rep" / "instance_segmentation_mapping_0005.json").unlink()
    with pytest.raises(UserError, match=r"instance_segmentation_mapping_0005\.json: missing"):
        pretrain(tmp_path / "rep", 8, "mulclass", out=tmp_path / "ck-bad", iters=3,
                 batch=4, val_images=8, threads=1)


def test_blenderproc_float_colours_missing_and_nan_normals(rendered, tmp_path):
    """Float colours in [0, 1] are scaled (not cast to black); a frame without normals or
    with NaN ones keeps its objects, and the normal task's mask leaves those pixels out."""
    from syn2real.tasks.task import get_task

    ds, _ = rendered
    out = write_blenderproc(ds, tmp_path / "bp", 2, scene_folders=False)
    frames = sorted(out.glob("*.hdf5"))
    with h5py.File(frames[0], "r+") as f:
        rgb = np.array(f["colors"])
        del f["colors"]
        f.create_dataset("colors", data=rgb.astype(np.float32) / 255.0)
        nrm = np.array(f["normals"])
        del f["normals"]
        f.create_dataset("normals", data=np.full_like(nrm, np.nan))
    with h5py.File(frames[1], "r+") as f:
        del f["normals"]
    imp = open_source(out)
    a, b = imp[0], ds[0]
    np.testing.assert_array_equal(a["rgb"], b["rgb"])  # 8-bit again, not black
    task = get_task("normal")
    for i, ref in enumerate((ds[0], ds[1])):
        got = imp[i]
        assert (_compact(got["instance"]) > 0).sum() == (_compact(np.maximum(
            ref["instance"], 0)) > 0).sum()  # the objects are all still there
        _, valid = task.synthetic_target(got)
        assert not bool(valid.any())  # no normal known: nothing to train the normal task on
    # a frame without normals: the source says so, and the normal task is refused up front
    assert imp.has_normals is False and open_source(write_blenderproc(
        ds, tmp_path / "bp2", 2, scene_folders=False)).has_normals is True
    with h5py.File(frames[0], "r+") as f:
        del f["colors"]
        f.create_dataset("colors", data=np.full((32, 32, 3), 7.5, np.float32))
    with pytest.raises(ImportedDataError, match="floats outside"):
        open_source(out)[0]


def test_bop_from_an_older_write_bop_with_four_digit_names(rendered, tmp_path):
    ds, _ = rendered
    six = open_source(write_bop(ds, tmp_path / "six", N))
    out = write_bop(ds, tmp_path / "four", N, digits=4)
    assert (out / "train_pbr" / "000000" / "rgb" / "0001.png").exists()
    four = open_source(out)
    assert len(four) == N and four.class_names == six.class_names
    for i in range(N):
        for k in ("rgb", "instance", "semantic", "depth"):
            np.testing.assert_array_equal(np.asarray(four[i][k]), np.asarray(six[i][k]))
    # the same image twice under two paddings is refused, not read as one of them
    (out / "train_pbr" / "000000" / "rgb" / "000001.png").write_bytes(
        (out / "train_pbr" / "000000" / "rgb" / "0001.png").read_bytes())
    with pytest.raises(ImportedDataError, match=r"rgb/0+1\.png: the same image number as 0+1\.png"):
        open_source(out)[1]


def test_bop_scene_without_ground_truth_is_named_not_dropped(rendered, tmp_path):
    ds, _ = rendered
    out = write_bop(ds, tmp_path / "bop", N)
    (out / "train_pbr" / "000001" / "scene_gt.json").unlink()
    with pytest.raises(ImportedDataError, match=r"000001: a BOP scene folder .* without "
                       r"scene_gt\.json"):
        open_source(out)


def test_semantics_without_the_instance_annotator(rendered, tmp_path):
    """Replicator without instance_segmentation and BlenderProc with map_by=["category_id"]
    serve mulclass / semseg; detection uses Replicator's tight boxes, or is refused."""
    pytest.importorskip("torch")
    from syn2real.tasks.task import get_task
    from syn2real.train.api import pretrain

    ds, _ = rendered
    names = list(ds.class_names)
    full = open_source(write_replicator(ds, tmp_path / "full", N, names))
    sem_only = open_source(write_replicator(ds, tmp_path / "sem", N, names, instances=False))
    boxed = open_source(write_replicator(ds, tmp_path / "box", N, names, instances=False,
                                         boxes=True))
    bp = open_source(write_blenderproc(ds, tmp_path / "bp", N, instances=False))
    assert not sem_only.has_instances and not sem_only.has_boxes
    assert not boxed.has_instances and boxed.has_boxes and full.has_boxes
    assert not bp.has_instances and not bp.has_boxes
    det = get_task("objdet")
    for i in range(N):
        a = full[i]
        for other in (sem_only[i], boxed[i]):
            np.testing.assert_array_equal(other["semantic"], a["semantic"])
            np.testing.assert_array_equal(other["labels"], a["labels"])
            assert other["instance"].max() <= 0  # no objects told apart
        # the writer's boxes give the targets the instance masks give
        want, got = det.synthetic_target(a), det.synthetic_target(boxed[i])
        order_w = np.lexsort(want["boxes"].numpy().T[::-1])
        order_g = np.lexsort(got["boxes"].numpy().T[::-1])
        np.testing.assert_array_equal(got["boxes"].numpy()[order_g],
                                      want["boxes"].numpy()[order_w])
        np.testing.assert_array_equal(got["labels"].numpy()[order_g],
                                      want["labels"].numpy()[order_w])
        np.testing.assert_array_equal(bp[i]["semantic"] > 0, ds[i]["semantic"] > 0)
    back = np.array([0] + list(bp.categories))
    np.testing.assert_array_equal(back[bp[0]["semantic"]], ds[0]["semantic"])
    row = pretrain(tmp_path / "sem", 8, "mulclass", out=tmp_path / "ck-m", iters=2, batch=4,
                   val_images=4, threads=1)
    assert np.isfinite(row["metrics"]["val_error_best"])
    row = pretrain(tmp_path / "box", 8, "objdet", out=tmp_path / "ck-d", iters=1, batch=2,
                   val_images=2, threads=1)
    assert np.isfinite(row["metrics"]["val_error_best"])
    for where in ("sem", "bp"):
        with pytest.raises(UserError, match=r"no instance masks or boxes.*mulclass, semseg or "
                                            "normal"):
            pretrain(tmp_path / where, 8, "objdet", out=tmp_path / f"ck-x{where}", iters=1,
                     batch=2, val_images=2, threads=1)


def test_a_study_asking_detection_of_masks_without_instances_is_refused_at_planning(
        rendered, tmp_path):
    from syn2real.sweep.config import parse_config
    from syn2real.sweep.plan import build_plan

    ds, _ = rendered
    rep = write_replicator(ds, tmp_path / "sem", N, list(ds.class_names), instances=False)
    study = {"name": "s", "render": {"presets": [], "imported": {"omni": {"path": str(rep)}}},
             "pretrain": {"tasks": ["objdet"], "n": [2, 4, 6], "val_images": 2},
             "finetune": [{"task": "sinclass", "dataset": "digits", "counts": [10]}]}
    with pytest.raises(UserError, match=r"sem: replicator data has no instance masks or boxes"):
        build_plan(parse_config(study), tmp_path / "run")
    study["pretrain"]["tasks"] = ["mulclass"]
    plan = build_plan(parse_config(study), tmp_path / "run")
    assert any(j.kind == "pretrain" for j in plan.jobs.values())


def test_damaged_frames_are_one_line_naming_the_file(rendered, tmp_path):
    """Issue 29 item 12: each of these was an internal error (KeyError, IndexError,
    ValueError) instead of one line naming the file."""
    import io
    import tarfile

    ds, _ = rendered
    names = list(ds.class_names)
    b = write_bop(ds, tmp_path / "bop", 8)
    g = b / "train_pbr" / "000000" / "scene_gt.json"
    gt = json.loads(g.read_text())
    gt["0"][0].pop("obj_id")
    g.write_text(json.dumps(gt))
    with pytest.raises(ImportedDataError, match=r"scene_gt\.json: image 0, entry 0 has no "
                                                r"integer obj_id"):
        open_source(b)
    k = write_kubric(ds, tmp_path / "kub", 8, names)
    t = sorted(k.rglob("depth_*.tiff"))[0]
    t.write_bytes(t.read_bytes()[:200])
    with pytest.raises(ImportedDataError, match=r"depth_00000\.tiff: not a readable TIFF"):
        open_source(k)[0]
    bp = write_blenderproc(ds, tmp_path / "bp", 8)
    f = sorted(bp.rglob("*.hdf5"))[0]
    with h5py.File(f, "a") as h:
        del h["instance_segmaps"]
        h.create_dataset("instance_segmaps", data=np.zeros((16, 16), np.int64))
    with pytest.raises(ImportedDataError, match=r"instance_segmaps of shape \(16, 16\) for "
                                                r"colors of 32x32"):
        open_source(bp)[0]
    cg = write_cg_transfer(ds, tmp_path / "cg", 8, names)
    np.save(cg / "0" / "normal.npy", np.zeros((5, 5)))
    with pytest.raises(ImportedDataError, match=r"normal\.npy: normals of shape \(5, 5\)"):
        open_source(cg, scene_size=4)[0]
    # a tar shard rewritten in place with a member renamed
    spec = DatasetSpec(size=32, shard_size=10, views=2, seed=4)
    render_dataset(spec, tmp_path / "tar", 10, storage="tar")
    tp = tmp_path / "tar" / "shard-00000" / "samples.tar"
    with tarfile.open(tp) as src:
        members = [(m, src.extractfile(m).read()) for m in src.getmembers()]
    with tarfile.open(tp, "w") as dst:
        for m, data in members:
            if m.name == "000003.rgb.png":
                m.name = "000003.rgb.old"
            dst.addfile(m, io.BytesIO(data))
    shards = ShardDataset(tmp_path / "tar")
    shards[2]  # the others still read
    with pytest.raises(UserError, match=r"samples\.tar: no member 000003\.rgb\.png: the shard "
                                        r"was changed after it was written.*syn2real verify"):
        shards[3]


def test_a_layout_registered_from_its_own_module_works_end_to_end(rendered, tmp_path):
    """An importer in a module of its own, registered without editing any list: detected,
    listed, accepted by a study's ``format``, planned and trained on."""
    import importlib.util
    import shutil
    import textwrap

    from syn2real.data import sources
    from syn2real.sweep.config import parse_config
    from syn2real.sweep.plan import build_plan
    from syn2real.train.api import pretrain

    ds, _ = rendered
    folder = tmp_path / "toy"
    shutil.copytree(ds.root, folder / "frames")
    (folder / "TOY").write_text("toy generator output\n")
    mod = tmp_path / "toy_layout.py"
    mod.write_text(textwrap.dedent('''
        from syn2real.data.shards import ShardDataset
        from syn2real.data.sources import Layout, register_layout

        register_layout(Layout("toy", lambda p: (p / "TOY").is_file(),
                               lambda p, **kw: ShardDataset(p / "frames", **kw),
                               "TOY + frames/ (the toy generator)"))
    '''))
    spec = importlib.util.spec_from_file_location("toy_layout", mod)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    try:
        assert detect_layout(folder) == "toy" and "toy" in sources.layouts()
        assert len(open_source(folder)) == len(ds)
        study = {"name": "s", "render": {"presets": [], "imported": {
                     "t": {"path": str(folder), "format": "toy"}}},
                 "pretrain": {"n": [2, 4, 6], "val_images": 2, "iters": 1, "batch": 2},
                 "finetune": [{"task": "sinclass", "dataset": "digits", "counts": [10]}]}
        plan = build_plan(parse_config(study), tmp_path / "run")
        assert sum(j.kind == "pretrain" for j in plan.jobs.values()) == 3
        row = pretrain(folder, 6, "mulclass", out=tmp_path / "ck", iters=1, batch=2,
                       val_images=2, threads=1)
        assert np.isfinite(row["metrics"]["val_error_best"])
        study["render"]["imported"]["t"]["format"] = "toys"
        with pytest.raises(UserError, match=r"unknown data format 'toys'; choose .*toy"):
            parse_config(study)
    finally:
        sources._LAYOUTS.pop("toy", None)


def test_sources_without_normals_say_so_and_the_normal_task_is_refused_not_diverged(
        rendered, tmp_path):
    """Replicator, Kubric and cg-transfer write normals only when asked: a folder missing them
    in some frame says ``has_normals = False`` and pre-training ``normal`` on it is one line
    naming the data (it used to train on zero vectors and stop as a diverged loss)."""
    pytest.importorskip("torch")
    from syn2real.train.api import pretrain

    ds, _ = rendered
    names = list(ds.class_names)
    folders = {"replicator": (write_replicator(ds, tmp_path / "rep", N, names), "normals_*.npy"),
               "kubric": (write_kubric(ds, tmp_path / "kb", N, names), "*/normal_*.png"),
               "cg_transfer": (write_cg_transfer(ds, tmp_path / "cg", N, names),
                               "*/normal.npy")}
    for fmt, (out, pattern) in folders.items():
        assert open_source(out).has_normals is True, fmt
        victim = sorted(out.glob(pattern))[1]
        victim.unlink()
        assert open_source(out).has_normals is False, fmt
    with pytest.raises(UserError, match=r"rep: replicator data has no surface normals .*Fix: "
                                        r"pre-train on mulclass, semseg or objdet"):
        pretrain(folders["replicator"][0], 8, "normal", out=tmp_path / "ck", iters=1, batch=2,
                 val_images=2)
