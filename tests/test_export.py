"""Renders out: export-data and subsets, loaded back by the libraries that consume them
(pycocotools, Ultralytics, torchvision ImageFolder), and the external-trainer loop through
runs.csv and syn2real advise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("moderngl")
pytest.importorskip("pycocotools")
torchvision = pytest.importorskip("torchvision")  # before rendering (see render.gl)

from syn2real.cli.app import app  # noqa: E402
from syn2real.data import ShardDataset  # noqa: E402
from syn2real.data.export import subset_order  # noqa: E402
from syn2real.render import DatasetSpec, render_dataset  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp") / "d"
    render_dataset(DatasetSpec(size=32, shard_size=20, views=4, seed=5), root, 36)
    return root


def _objects(s):
    inst, sem = np.asarray(s["instance"]), np.asarray(s["semantic"])
    return [(int(np.bincount(sem[inst == j]).argmax()) - 1, inst == j)
            for j in np.unique(inst[inst >= 1])]


def test_coco_export_loads_in_pycocotools_with_the_rendered_masks(data, tmp_path):
    from pycocotools.coco import COCO

    res = runner.invoke(app, ["export-data", str(data), "--format", "coco", "-o",
                              str(tmp_path / "c"), "--n", "10", "--val", "0"])
    assert res.exit_code == 0, res.output
    assert "no validation split" in res.output
    coco = COCO(str(tmp_path / "c" / "annotations.json"))
    ds = ShardDataset(data)
    assert len(coco.getImgIds()) == 10
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(ds.class_names)
    from PIL import Image

    for i in (0, 7):
        img = coco.loadImgs(i + 1)[0]
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "c" / img["file_name"])),
                                      ds[i]["rgb"])
        anns = coco.loadAnns(coco.getAnnIds(imgIds=i + 1))
        want = _objects(ds[i])
        assert len(anns) == len(want)
        for a, (c, m) in zip(anns, want, strict=True):
            assert a["category_id"] == c + 1
            np.testing.assert_array_equal(coco.annToMask(a).astype(bool), m)


def test_subsets_are_nested_whole_scenes_and_load_in_ultralytics(data, tmp_path):
    pytest.importorskip("ultralytics")
    from ultralytics.data import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out = tmp_path / "y"
    res = runner.invoke(app, ["subsets", str(data), "--n", "8,16,32", "--format", "yolo",
                              "-o", str(out), "--seed", "1"])
    assert res.exit_code == 0, res.output
    lists = {n: (out / f"train_n{n}.txt").read_text().split() for n in (8, 16, 32)}
    assert lists[8] == lists[16][:8] and lists[16] == lists[32][:16]  # nested prefixes
    ds = ShardDataset(data)
    order = subset_order(ds, 1)
    # whole scenes: 8 images = 2 scenes of 4 views each, the same seed gives the same order
    assert len({ds.scene_id(int(i)) for i in order[:8]}) == 2
    np.testing.assert_array_equal(order, subset_order(ds, 1))
    assert not np.array_equal(order, subset_order(ds, 2))
    d = check_det_dataset(str(out / "data_n16.yaml"))
    yd = YOLODataset(img_path=d["train"], data=d, task="detect", imgsz=32, augment=False)
    assert len(yd.labels) == 16
    # issue 25.2: validation is a fixed split of scenes no subset contains, not the subset
    vd = YOLODataset(img_path=d["val"], data=d, task="detect", imgsz=32, augment=False)
    val = {lab["im_file"] for lab in vd.labels}
    assert len(val) == 3 and not val & set(lists[32])          # 10% of 32, disjoint
    scene = {str(out / "images" / f"{int(i):07d}.png"): ds.scene_id(int(i)) for i in order}
    assert not {scene[f] for f in val} & {scene[f] for f in lists[32]}
    assert check_det_dataset(str(out / "data_n8.yaml"))["val"] == d["val"]
    by_file = {lab["im_file"]: lab for lab in yd.labels}
    i = int(order[3])
    lab = by_file[str(out / "images" / f"{i:07d}.png")]
    want = _objects(ds[i])
    assert sorted(lab["cls"].ravel().astype(int).tolist()) == sorted(c for c, _ in want)
    _, m0 = want[0]
    _, xs = np.nonzero(m0)
    row = np.flatnonzero(np.isclose(lab["bboxes"][:, 0], (xs.min() + xs.max() + 1) / 64))
    assert row.size >= 1
    runs = (out / "runs.csv").read_text().splitlines()
    assert runs == ["n,error", "8,", "16,", "32,"]
    full = runner.invoke(app, ["subsets", str(data), "--n", "8,36", "--format", "yolo",
                               "-o", str(tmp_path / "full")])
    assert full.exit_code == 2 and "no room for a validation split" in full.output


def test_imagefolder_subsets_are_links_torchvision_loads(data, tmp_path):
    from torchvision.datasets import ImageFolder

    out = tmp_path / "f"
    res = runner.invoke(app, ["subsets", str(data), "--n", "12,24", "--format",
                              "imagefolder", "-o", str(out)])
    assert res.exit_code == 0, res.output
    # every class folder exists in every subset (same label indices): allow_empty=True
    small = ImageFolder(str(out / "n_12"), allow_empty=True)
    big = ImageFolder(str(out / "n_24"), allow_empty=True)
    assert len(small) <= 12 and len(big) <= 24 and len(big) > len(small)
    assert small.classes == big.classes and len(small.classes) == 56
    files = list((out / "n_24").rglob("*.png"))
    assert files and all(p.is_symlink() for p in files)  # no copies
    assert {p.resolve().parent for p in files} == {(out / "images").resolve()}
    x, y = big[0]
    assert x.size == (32, 32) and 0 <= y < 56


def test_external_trainer_loop_advise_on_runs_csv(data, tmp_path):
    out = tmp_path / "l"
    res = runner.invoke(app, ["subsets", str(data), "--n", "1,2,4,8,16,32", "--format",
                              "list", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "n_4.txt").read_text().split()[:1] == (out / "n_8.txt").read_text().split()[:1]
    # the user trained four of the six runs and wrote their errors in
    errs = {1: 0.50, 2: 0.44, 4: 0.40, 8: 0.37}
    lines = ["n,error"] + [f"{n},{errs.get(n, '')}" for n in (1, 2, 4, 8, 16, 32)]
    (out / "runs.csv").write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["advise", str(out / "runs.csv"), "--target", "0.33",
                              "--budget", "64", "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    assert "2 run(s) with an empty 'error' not measured yet" in res.output.replace("\n", " ")
    adv = json.loads((tmp_path / "a.json").read_text())[0]["advice"]
    assert adv["n_current"] == 8 and adv["scenario"] in ("undecided", "reachable",
                                                         "infeasible", "floor")
    # rerunning subsets keeps the errors written in
    runner.invoke(app, ["subsets", str(data), "--n", "1,2,4,8,16,32", "--format", "list",
                        "-o", str(out)])
    assert "4,0.4" in (out / "runs.csv").read_text()


def test_bad_subset_requests_are_one_line(data, tmp_path):
    res = runner.invoke(app, ["subsets", str(data), "--n", "8,100", "-o", str(tmp_path / "b")])
    assert res.exit_code == 2 and "exceeds the 36 images" in res.output
    res = runner.invoke(app, ["subsets", str(data), "--n", "8,x", "-o", str(tmp_path / "b")])
    assert res.exit_code == 2 and "comma-separated" in res.output
    res = runner.invoke(app, ["export-data", str(data), "--format", "voc", "-o",
                              str(tmp_path / "b")])
    assert res.exit_code == 2 and "coco, yolo, imagefolder" in res.output


def test_a_recut_never_keeps_errors_measured_on_other_subsets(data, tmp_path):
    """Issue 29.2: re-cutting subsets with another --seed into the same -o kept the errors
    measured on the old subsets in runs.csv (merged by n only). A same-seed rerun keeps them;
    another seed that changes a measured subset is refused before anything is written."""
    out = tmp_path / "s"
    args = ["subsets", str(data), "--n", "8,16", "--format", "list", "-o", str(out)]
    assert runner.invoke(app, args).exit_code == 0
    (out / "runs.csv").write_text("n,error\n8,0.31\n16,\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "8,0.31" in (out / "runs.csv").read_text()
    other = runner.invoke(app, [*args, "--seed", "7"])
    assert other.exit_code == 2
    assert "measured on the subsets n = 8" in other.output and "another -o" in other.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # nothing touched
    (out / "runs.csv").write_text("n,error\n8,\n16,\n")                # nothing measured yet
    assert runner.invoke(app, [*args, "--seed", "7"]).exit_code == 0


@pytest.mark.parametrize("fmt", ["yolo", "imagefolder"])
def test_export_into_a_used_folder_leaves_only_this_export(data, tmp_path, fmt):
    """Issue 29.3: exporting 5 images into a folder that held an export of 30 left the 30 (a
    trainer pointed at it trained on them); now only this export's files remain, and files
    that are not syn2real's own are left alone."""
    out = tmp_path / fmt
    assert runner.invoke(app, ["export-data", str(data), "--format", fmt, "-o", str(out),
                               "--n", "30"]).exit_code == 0
    mine = out / ("images" if fmt == "yolo" else "notes.txt")
    (out / "notes.txt").write_text("the user's own file")
    res = runner.invoke(app, ["export-data", str(data), "--format", fmt, "-o", str(out),
                              "--n", "5"])
    assert res.exit_code == 0 and "an earlier export left there" in " ".join(res.output.split())
    pngs = sorted(p.name for p in out.rglob("*.png"))
    assert len(pngs) <= 5 and all(int(p[:7]) < 5 for p in pngs)
    if fmt == "yolo":
        assert sorted(p.name for p in (out / "labels").iterdir()) == [
            f"{i:07d}.txt" for i in range(5)]
    assert (out / "notes.txt").read_text() == "the user's own file" and mine.exists()


def test_export_holds_out_whole_scenes_for_validation_in_each_format(data, tmp_path):
    """Issue 25 item 2: export-data wrote YOLO's val: as its training images and ImageFolder
    without a split; now 10% (whole scenes) is held out where each trainer looks for it."""
    from pycocotools.coco import COCO

    ds = ShardDataset(data)
    scene = {i: ds.scene_id(i) for i in range(20)}
    for fmt in ("coco", "yolo", "imagefolder"):
        out = tmp_path / fmt
        res = runner.invoke(app, ["export-data", str(data), "--format", fmt, "-o", str(out),
                                  "--n", "20"])
        assert res.exit_code == 0, res.output
        assert "for validation (whole scenes)" in res.output
        if fmt == "coco":
            tr = {im["id"] - 1 for im in COCO(str(out / "annotations.json")).dataset["images"]}
            va = {im["id"] - 1 for im in
                  COCO(str(out / "annotations_val.json")).dataset["images"]}
        elif fmt == "yolo":
            import yaml

            y = yaml.safe_load((out / "data.yaml").read_text())
            assert (y["train"], y["val"]) == ("train.txt", "val.txt")
            tr = {int(Path(p).stem) for p in (out / "train.txt").read_text().split()}
            va = {int(Path(p).stem) for p in (out / "val.txt").read_text().split()}
        else:
            from torchvision.datasets import ImageFolder

            tr, va = ({int(Path(p).stem) for p, _ in
                       ImageFolder(str(out / part), allow_empty=True).samples}
                      for part in ("train", "val"))
        assert tr and va and not tr & va, fmt
        assert len(tr | va) >= 18  # images without any object have no class folder
        assert not {scene[i] for i in tr} & {scene[i] for i in va}, fmt  # whole scenes
    pytest.importorskip("ultralytics")
    from ultralytics.data.utils import check_det_dataset

    d = check_det_dataset(str(tmp_path / "yolo" / "data.yaml"))
    assert d["train"] != d["val"]
