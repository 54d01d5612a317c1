"""Bring your own data end to end: fine-tuning on ImageFolder and COCO folders, nested real
subsets, bad real data in one line, and a study that pre-trains on BlenderProc and
Replicator folders (imported, not rendered) and fine-tunes on an ImageFolder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

pytest.importorskip("moderngl")
pytest.importorskip("h5py")
torch = pytest.importorskip("torch")  # before rendering (see render.gl)

from syn2real.cli.app import app  # noqa: E402
from syn2real.data import ShardDataset  # noqa: E402
from syn2real.data.export import coco_dict, export_data, read_notes  # noqa: E402
from syn2real.data.real import nested_prefix  # noqa: E402
from syn2real.data.realspec import RealDataSpec  # noqa: E402
from syn2real.errors import UserError  # noqa: E402
from syn2real.render import DatasetSpec, render_dataset  # noqa: E402
from syn2real.train.api import finetune  # noqa: E402
from writers import write_blenderproc, write_replicator  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """An ImageNet-layout folder and a COCO-2017-layout folder made from renders (3 classes:
    every image has objects, so every image has a class)."""
    tmp = tmp_path_factory.mktemp("real")
    spec = DatasetSpec(size=32, shard_size=40, views=4, seed=9, classes=3, n_objects=3)
    render_dataset(spec, tmp / "renders", 80)
    ds = ShardDataset(tmp / "renders")
    export_data(ds, tmp / "imagenet" / "train", "imagefolder", range(0, 56))
    export_data(ds, tmp / "imagenet" / "val", "imagefolder", range(56, 80))
    coco = tmp / "coco"
    for split, idx in (("train2017", range(0, 48)), ("val2017", range(48, 64))):
        export_data(ds, tmp / f"c-{split}", "coco", idx)
        (coco / split).mkdir(parents=True)
        for p in (tmp / f"c-{split}" / "images").iterdir():
            p.rename(coco / split / p.name)
        (coco / "annotations").mkdir(exist_ok=True)
        (coco / "annotations" / f"instances_{split}.json").write_text(
            json.dumps(coco_dict(ds, read_notes(ds, idx), list(idx), ".")))
    return tmp, ds


def test_finetune_on_imagefolder_coco_detection_and_segmentation(real, tmp_path):
    tmp, _ = real
    inet = RealDataSpec(kind="imagefolder", path=str(tmp / "imagenet"), name="inet")
    row = finetune(None, inet, "sinclass", fraction=0.5, arch="resnet18", iters=2, batch=8,
                   size=32, threads=1)
    assert row["config"]["dataset"] == "inet" and np.isfinite(row["metrics"]["error_last"])
    assert row["config"]["train_pool"] == len(list((tmp / "imagenet" / "train").rglob("*.png")))
    for task in ("objdet", "semseg"):
        res = runner.invoke(app, ["finetune", "--dataset", f"coco:{tmp / 'coco'}", "--task",
                                  task, "--count", "12", "--iters", "2", "--batch", "4",
                                  "--size", "32", "--model", "resnet18", "--threads", "1",
                                  "--json", str(tmp_path / f"{task}.json")])
        assert res.exit_code == 0, res.output
        r = json.loads((tmp_path / f"{task}.json").read_text())
        assert r["config"]["s"] == 12 and r["config"]["train_pool"] == 48
        assert 0 <= r["metrics"]["error_last"] <= 1
    # the ImageFolder is for classification only: one line, not a crash
    res = runner.invoke(app, ["finetune", "--dataset", f"imagefolder:{tmp / 'imagenet'}",
                              "--task", "objdet", "--count", "4", "--iters", "1"])
    assert res.exit_code == 2 and "imagefolder data serves sinclass" in res.output


def test_real_subsets_nest_and_are_seeded():
    small = nested_prefix(1000, fraction=0.01, seed=3)
    big = nested_prefix(1000, fraction=0.02, seed=3)
    assert len(small) == 10 and len(big) == 20 and set(small) <= set(big)
    assert not np.array_equal(nested_prefix(1000, count=10, seed=4), small)
    with pytest.raises(ValueError, match=r"1\.\.1000"):
        nested_prefix(1000, count=2000)


def test_bad_real_data_is_one_line_naming_file_item_and_fix(real, tmp_path):
    import shutil

    from syn2real.data.folders import load_user_split

    tmp, _ = real
    coco = tmp_path / "coco"
    shutil.copytree(tmp / "coco", coco)
    spec = RealDataSpec(kind="coco", path=str(coco))
    ann_p = coco / "annotations" / "instances_train2017.json"
    good = ann_p.read_text()
    ann = json.loads(good)
    ann["annotations"][0]["image_id"] = 99999
    ann_p.write_text(json.dumps(ann))
    with pytest.raises(UserError, match="points to image_id 99999, which is not in images"):
        load_user_split(spec, "objdet", 32)
    ann = json.loads(good)
    ann["annotations"][1]["category_id"] = 77
    ann_p.write_text(json.dumps(ann))
    with pytest.raises(UserError, match="category_id 77, absent from categories"):
        load_user_split(spec, "semseg", 32)
    ann = json.loads(good)
    ann_p.write_text(json.dumps({**ann, "images": [], "annotations": []}))
    with pytest.raises(UserError, match="no images \\(an empty split\\)"):
        load_user_split(spec, "objdet", 32)
    ann_p.write_text(good)
    victim = sorted((coco / "train2017").iterdir())[3]
    victim.unlink()
    with pytest.raises(UserError, match=f"{victim.name}: image .* is missing"):
        load_user_split(spec, "objdet", 32)
    # ADE20K layout with a mask of the wrong size
    from PIL import Image

    ade = tmp_path / "ade"
    for split in ("training", "validation"):
        (ade / "images" / split).mkdir(parents=True)
        (ade / "annotations" / split).mkdir(parents=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(ade / "images" / split / "a.jpg")
        Image.fromarray(np.ones((10, 20), np.uint8)).save(ade / "annotations" / split / "a.png")
    with pytest.raises(UserError, match=r"a\.png: mask of 20x10 px for an image of 20x20"):
        load_user_split(RealDataSpec(kind="ade20k", path=str(ade)), "semseg", 32)


def test_study_pretrains_on_blenderproc_and_replicator_and_finetunes_on_imagefolder(
        real, tmp_path):
    tmp, ds = real
    bp = write_blenderproc(ds, tmp_path / "bp", 50)
    rep = write_replicator(ds, tmp_path / "rep", 50, list(ds.class_names))
    study = {
        "name": "byod",
        "render": {"presets": [], "imported": {"bop": {"path": str(bp)},
                                               "omni": {"path": str(rep),
                                                        "format": "replicator"}}},
        "pretrain": {"n": [10, 20, 40], "iters": 2, "batch": 8, "stem": "imagenet",
                     "val_images": 10},
        "finetune": [{"task": "sinclass", "counts": [12], "iters": 2, "batch": 8,
                      "dataset": {"kind": "imagefolder", "path": str(tmp / "imagenet"),
                                  "name": "inet"}},
                     {"task": "objdet", "counts": [8], "iters": 1, "batch": 4,
                      "dataset": {"kind": "coco", "path": str(tmp / "coco"),
                                  "name": "coco"}}],
        "seeds": [0], "scratch": True,
        "executor": {"workers": 1, "threads": 2},
    }
    cfg = tmp_path / "study.yaml"
    cfg.write_text(yaml.safe_dump(study))
    res = runner.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "run"), "--no-report"])
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "run" / "results.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, r.split(","), strict=True)) for r in lines[1:]]
    assert {r["pdata"] for r in rows} == {"bop", "omni"}  # scratch rows copied into each
    assert any(r["pretrain.data"] == "0" for r in rows)
    assert {r["fdata"] for r in rows} == {"inet", "coco"}
    assert {r["ftask"] for r in rows if r["fdata"] == "coco"} == {"objdet"}
    for fdata in ("inet", "coco"):
        assert sorted({int(r["pretrain.data"]) for r in rows
                       if r["pdata"] == "bop" and r["fdata"] == fdata}) == [0, 10, 20, 40]
    # the data's content decides the keys: a changed folder reruns its pre-trainings only
    from syn2real.sweep.config import parse_config
    from syn2real.sweep.plan import build_plan

    def keys(cfg):
        return {
            s: {k for k, j in build_plan(parse_config(cfg), tmp_path / "run").jobs.items()
                if j.kind == "pretrain" and j.tags["setting"] == s} for s in ("bop", "omni")}

    study["pretrain"]["n"] = [10, 20, 30]
    before = keys(study)
    (bp / "scene_000" / "0.hdf5").unlink()
    after = keys(study)
    assert before["omni"] == after["omni"] and not before["bop"] & after["bop"]
    study["pretrain"]["n"] = [10, 20, 40]
    with pytest.raises(UserError, match="49 images; the largest n plus the validation"):
        build_plan(parse_config(study), tmp_path / "run")


def test_paper_example_is_a_valid_plan(tmp_path):
    res = runner.invoke(app, ["plan", "examples/paper.yaml", "--out", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    # the paper's grid: 396 pre-trainings, 1197 fine-tunes; each of the 3 settings rendered
    # in parts: between two distinct shard-rounded n + validation images, parts of at most
    # render.part_images (64,000) images, then one check of the whole folder
    from syn2real.sweep import load_config

    cfg = load_config("examples/paper.yaml")
    pc = cfg.pretrain
    chunks = 0
    for s in cfg.render.settings():
        ss = cfg.render.spec(s).shard_size
        needs = sorted({-(-(n + pc.val_images) // ss) * ss for n in pc.n})
        gaps = zip([0, *needs[:-1]], needs, strict=True)
        chunks += sum(-(-(b - a) // 64000) for a, b in gaps) + 1
    assert chunks == 3 * (11 + 1 + 3 + 7 + 1)  # 11 ranges; the last three in 2, 4, 8 parts
    total = chunks + 396 + 1197
    assert (f"{total} jobs ({chunks} render, 396 pretrain, 1197 finetune)"
            in res.output.replace("\n", " "))
    assert "finetune objdet/coco fraction=0.01" in res.output


def test_finetune_on_a_hugging_face_dataset_saved_to_disk_and_as_parquet(real, tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    from syn2real.data.folders import load_user_split

    _, ds = real
    names = ["circle", "square", "star"]

    def split(lo, hi):
        imgs = [Image.fromarray(np.asarray(ds[i]["rgb"])) for i in range(lo, hi)]
        return datasets.Dataset.from_dict(
            {"img": imgs, "label": [i % 3 for i in range(lo, hi)]},
            features=datasets.Features({"img": datasets.Image(),
                                        "label": datasets.ClassLabel(names=names)}))

    dd = datasets.DatasetDict({"train": split(0, 30), "test": split(30, 45)})
    dd.save_to_disk(str(tmp_path / "hf"))
    spec = RealDataSpec(kind="hf", path=str(tmp_path / "hf"))
    tr, te = load_user_split(spec, "sinclass", 32)
    assert tr.images.shape == (30, 32, 32, 3) and len(te) == 15 and tr.classes == tuple(names)
    np.testing.assert_array_equal(tr.images[3], np.asarray(ds[3]["rgb"]))
    row = finetune(None, spec, "sinclass", count=9, arch="resnet18", iters=2, batch=4,
                   size=32, threads=1)
    assert row["config"]["s"] == 9 and np.isfinite(row["metrics"]["error_last"])
    # the Hub's parquet layout (data/<split>-*.parquet)
    (tmp_path / "pq" / "data").mkdir(parents=True)
    dd["train"].to_parquet(str(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet"))
    dd["test"].to_parquet(str(tmp_path / "pq" / "data" / "test-00000-of-00001.parquet"))
    tr2, _ = load_user_split(RealDataSpec(kind="hf", path=str(tmp_path / "pq")), "sinclass", 32)
    np.testing.assert_array_equal(tr2.images, tr.images)
    with pytest.raises(UserError, match="no split 'validation'"):
        load_user_split(RealDataSpec(kind="hf", path=str(tmp_path / "hf"),
                                     test_split="validation"), "sinclass", 32)


def test_coco_from_a_roboflow_export_and_from_any_json_with_its_image_root(real, tmp_path):
    """Roboflow's COCO export (<split>/_annotations.coco.json beside its images, splits
    train / valid) and detectron2's register_coco_instances pair (any json, any image root)
    read as the COCO 2017 tree they were copied from."""
    import shutil

    from syn2real.data.folders import load_user_split

    tmp, _ = real
    coco = tmp / "coco"
    ref_tr, ref_te = load_user_split(RealDataSpec(kind="coco", path=str(coco)), "objdet", 32)
    rf = tmp_path / "roboflow"
    for src, dst in (("train2017", "train"), ("val2017", "valid")):
        shutil.copytree(coco / src, rf / dst)
        shutil.copy(coco / "annotations" / f"instances_{src}.json",
                    rf / dst / "_annotations.coco.json")
    d2 = tmp_path / "d2"
    (d2 / "labels").mkdir(parents=True)
    shutil.copytree(coco / "train2017", d2 / "pics" / "a")
    shutil.copytree(coco / "val2017", d2 / "pics" / "b")
    shutil.copy(coco / "annotations" / "instances_train2017.json", d2 / "labels" / "tr.json")
    shutil.copy(coco / "annotations" / "instances_val2017.json", d2 / "labels" / "te.json")
    for spec in (RealDataSpec(kind="coco", path=str(rf)),
                 RealDataSpec(kind="coco", path=str(d2), split="labels/tr.json",
                              test_split=str(d2 / "labels" / "te.json"), images="pics/a",
                              test_images=str(d2 / "pics" / "b"))):
        tr, te = load_user_split(spec, "objdet", 32)
        assert len(tr) == len(ref_tr) and len(te) == len(ref_te)
        np.testing.assert_array_equal(tr.images, ref_tr.images)
        np.testing.assert_array_equal(te.images, ref_te.images)
    res = runner.invoke(app, ["finetune", "--dataset", f"coco:{rf}", "--split", "train",
                              "--test-split", "valid", "--task", "objdet", "--count", "6",
                              "--iters", "1", "--batch", "2", "--size", "32", "--model",
                              "resnet18", "--threads", "1", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.json").read_text())["config"]["train_pool"] == len(ref_tr)
    bad = runner.invoke(app, ["finetune", "--dataset", "mnist", "--split", "x", "--iters", "1"])
    assert bad.exit_code == 2 and "not of a bundled set" in bad.output
    # no image root given: found where the json's first image is (here: none of them)
    with pytest.raises(UserError, match=r"image \d+ of .*tr\.json is missing"):
        load_user_split(RealDataSpec(kind="coco", path=str(d2), split="labels/tr.json",
                                     test_split="labels/te.json"), "objdet", 32)
    with pytest.raises(UserError, match=r"no annotations for split 'val'.*_annotations\.coco"):
        load_user_split(RealDataSpec(kind="coco", path=str(rf), split="train",
                                     test_split="val"), "objdet", 32)
