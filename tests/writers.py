"""Fixtures in other generators' exact layouts, written from syn2real renders (so the truth is
known), following each writer's own code and documentation:

* BlenderProc ``bproc.writer.write_hdf5`` (blenderproc/python/writer/WriterUtility.py,
  DLR-RM/BlenderProc): one ``<frame>.hdf5`` per frame, gzip-compressed datasets, JSON lists
  as ``np.bytes_``; the normal pass stores ``0.5 n_cam + 0.5``
  (RendererUtility.enable_normals_output);
* Omniverse Replicator ``BasicWriter`` (omni.replicator.core writers/basic.py): file names
  ``rgb_<k>.png``, ``semantic_segmentation_<k>.png`` + ``_labels_<k>.json`` keyed by
  ``"(r, g, b, a)"``, ``instance_segmentation_<k>.png`` + ``_mapping_<k>.json`` +
  ``_semantics_mapping_<k>.json``, ``normals_<k>.npy`` (world frame, 4 channels),
  ``camera_params_<k>.json`` (``cameraViewTransform``, row-vector world-to-camera),
  ``distance_to_image_plane_<k>.npy``;
* the paper's renderer (pfnet-research/cg-transfer rendering/renderer/render.py
  ``split_images``): ``<idx>/<file_name>``, ``annotations.json`` (COCO, one image, id 0),
  ``normal.npy``.

BlenderProc and Replicator themselves need Blender / Omniverse (not installable here); h5py,
Pillow and pycocotools are the libraries those writers use for the bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BG = (0, 0, 0, 0)


def _png(path: Path, a: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(a).save(path)


def _colour(j: int) -> tuple[int, int, int, int]:
    return (40 + 37 * j % 200, 90 + 53 * j % 160, 10 + 71 * j % 240, 255)


def write_blenderproc(ds, out: Path, n: int, scene_folders: bool = True,
                      instances: bool = True) -> Path:
    """BlenderProc HDF5 frames of the first ``n`` images (``scene_<k>/<frame>.hdf5``);
    ``instances=False``: ``enable_segmentation_output(map_by=["category_id"])``, the category
    map only."""
    import h5py

    out.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        s = ds[i]
        folder = out / (f"scene_{int(ds.scene_id(i)):03d}" if scene_folders else ".")
        folder.mkdir(exist_ok=True)
        inst = np.asarray(s["instance"]).astype(np.int64)
        sem = np.asarray(s["semantic"]).astype(np.int64)
        # BlenderProc instance ids: every object, background (world) included; category 0
        raw = np.where(inst >= 1, inst + 1, 0)  # 0: world / nothing, k+1: object k
        attrs = [{"idx": 0, "category_id": 0, "name": "world"}]
        for k in sorted(set(inst[inst >= 1].tolist())):
            c = int(np.bincount(sem[inst == k]).argmax())
            attrs.append({"idx": k + 1, "category_id": c, "name": f"obj_{k:06d}"})
        valid = inst >= 0
        nrm = np.where(valid[..., None], np.asarray(s["normal"], np.float32), 0.0)
        with h5py.File(folder / f"{i}.hdf5", "w") as f:
            f.create_dataset("colors", data=np.asarray(s["rgb"]), compression="gzip")
            f.create_dataset("normals", data=(0.5 * nrm + 0.5).astype(np.float32),
                             compression="gzip")
            f.create_dataset("depth", data=np.where(valid, np.asarray(s["depth"], np.float32),
                                                    1e10), compression="gzip")
            f.create_dataset("category_id_segmaps", data=sem.astype(np.int64),
                             compression="gzip")
            if not instances:
                continue
            f.create_dataset("instance_segmaps", data=raw, compression="gzip")
            js = np.bytes_(json.dumps(attrs))
            f.create_dataset("instance_attribute_maps", data=js, dtype=js.dtype)
    return out


def write_replicator(ds, out: Path, n: int, class_names: list[str], seed: int = 0,
                     instances: bool = True, boxes: bool = False) -> Path:
    """Replicator BasicWriter frames (colourised segmentation, world-frame normals);
    ``instances=False``: without the instance annotator; ``boxes``: the
    ``bounding_box_2d_tight`` annotator's structured array (``semanticId, x_min, y_min,
    x_max, y_max, occlusionRatio``, the max the last covered pixel) and its labels json."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        s = ds[i]
        k = f"{i:04d}"
        rgb = np.asarray(s["rgb"])
        h, w = rgb.shape[:2]
        _png(out / f"rgb_{k}.png", np.dstack([rgb, np.full((h, w), 255, np.uint8)]))
        sem = np.asarray(s["semantic"])
        inst = np.asarray(s["instance"])
        sem_img = np.zeros((h, w, 4), np.uint8)
        labels = {str(BG): {"class": "BACKGROUND"}}
        for c in sorted(set(sem[sem > 0].tolist())):
            col = _colour(c)
            sem_img[sem == c] = col
            labels[str(col)] = {"class": class_names[c - 1]}
        _png(out / f"semantic_segmentation_{k}.png", sem_img)
        (out / f"semantic_segmentation_labels_{k}.json").write_text(json.dumps(labels))
        ins_img = np.zeros((h, w, 4), np.uint8)
        mapping = {str(BG): "BACKGROUND"}
        semantics = {str(BG): {"class": "BACKGROUND"}}
        for j in sorted(set(inst[inst >= 1].tolist())):
            col = _colour(100 + j)
            ins_img[inst == j] = col
            mapping[str(col)] = f"/World/obj_{j:04d}"
            c = int(np.bincount(sem[inst == j]).argmax())
            semantics[str(col)] = {"class": class_names[c - 1]}
        if instances:
            _png(out / f"instance_segmentation_{k}.png", ins_img)
            (out / f"instance_segmentation_mapping_{k}.json").write_text(json.dumps(mapping))
            (out / f"instance_segmentation_semantics_mapping_{k}.json").write_text(
                json.dumps(semantics))
        if boxes:
            dt = np.dtype([("semanticId", "<u4"), ("x_min", "<i4"), ("y_min", "<i4"),
                           ("x_max", "<i4"), ("y_max", "<i4"), ("occlusionRatio", "<f4")])
            rows, ids = [], {}
            for j in sorted(set(inst[inst >= 1].tolist())):
                ys, xs = np.nonzero(inst == j)
                c = int(np.bincount(sem[inst == j]).argmax())
                sid = ids.setdefault(class_names[c - 1], len(ids))
                rows.append((sid, xs.min(), ys.min(), xs.max(), ys.max(), 0.0))
            np.save(out / f"bounding_box_2d_tight_{k}.npy", np.array(rows, dtype=dt))
            (out / f"bounding_box_2d_tight_labels_{k}.json").write_text(json.dumps(
                {str(v): {"class": name} for name, v in ids.items()}))
        # a random camera rotation: world normals n_w with n_cam = n_w @ R
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        R = q * np.sign(np.linalg.det(q))
        view = np.eye(4)
        view[:3, :3] = R
        view[3, :3] = rng.normal(size=3)
        valid = inst >= 0
        n_cam = np.where(valid[..., None], np.asarray(s["normal"], np.float64), 0.0)
        n_w = n_cam @ R.T
        np.save(out / f"normals_{k}.npy",
                np.dstack([n_w, np.zeros((h, w))]).astype(np.float32))
        (out / f"camera_params_{k}.json").write_text(json.dumps(
            {"cameraViewTransform": view.ravel().tolist(), "cameraFocalLength": 24.0}))
        np.save(out / f"distance_to_image_plane_{k}.npy",
                np.where(valid, np.asarray(s["depth"], np.float32), np.inf).astype(np.float32))
    return out


def write_cg_transfer(ds, out: Path, n: int, class_names: list[str]) -> Path:
    """The paper's renderer layout: ``<idx>/{rgb_0000.png, annotations.json, normal.npy}``."""
    from pycocotools import mask as mask_utils

    out.mkdir(parents=True, exist_ok=True)
    cats = [{"id": c + 1, "name": name, "supercategory": "bop"}
            for c, name in enumerate(class_names)]
    for i in range(n):
        s = ds[i]
        d = out / str(i)
        d.mkdir(exist_ok=True)
        rgb = np.asarray(s["rgb"])
        h, w = rgb.shape[:2]
        name = f"rgb_{i:04d}.png"
        _png(d / name, rgb)
        inst, sem = np.asarray(s["instance"]), np.asarray(s["semantic"])
        anns = []
        for j in sorted(set(inst[inst >= 1].tolist())):
            m = inst == j
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            rle["counts"] = rle["counts"].decode("ascii")
            x, y, bw, bh = mask_utils.toBbox(rle).tolist()
            anns.append({"id": len(anns) + 1, "image_id": 0, "iscrowd": 0,
                         "category_id": int(np.bincount(sem[m]).argmax()),
                         "segmentation": rle, "bbox": [x, y, bw, bh],
                         "area": int(m.sum())})
        ann = {"info": {"description": "coco_annotations"}, "licenses": [],
               "categories": cats,
               "images": [{"id": 0, "file_name": name, "width": w, "height": h}],
               "annotations": anns}
        (d / "annotations.json").write_text(json.dumps(ann))
        valid = inst >= 0
        nrm = np.where(valid[..., None], np.asarray(s["normal"], np.float32), 0.0)
        np.save(d / "normal.npy", (0.5 * nrm + 0.5).astype(np.float32))
    return out


def write_bop(ds, out: Path, n: int, views: int = 4, digits: int = 6) -> Path:
    """The BOP format as BlenderProc's ``write_bop`` and the BOP toolkit write it
    (thodan/bop_toolkit docs/bop_datasets_format.md): ``train_pbr/<scene:06d>/rgb/<im:06d>.png,
    depth/<im:06d>.png`` (uint16, ``depth_scale`` mm per unit), ``mask_visib/<im>_<gt>.png``
    (0/255), ``scene_gt.json`` (``obj_id``, pose) and ``scene_camera.json`` (``cam_K``,
    ``depth_scale``). ``digits=4``: the image names of older ``write_bop`` versions."""
    split = out / "train_pbr"
    for i in range(n):
        s = ds[i]
        scene = split / f"{i // views:06d}"
        for sub in ("rgb", "depth", "mask_visib"):
            (scene / sub).mkdir(parents=True, exist_ok=True)
        im = i % views
        name = f"{im:0{digits}d}"
        _png(scene / "rgb" / f"{name}.png", np.asarray(s["rgb"]))
        inst, sem = np.asarray(s["instance"]), np.asarray(s["semantic"])
        depth_mm = np.where(inst >= 0, np.asarray(s["depth"], np.float32) * 1000.0, 0.0)
        _png(scene / "depth" / f"{name}.png",
             np.clip(np.rint(depth_mm / 0.1), 0, 65535).astype(np.uint16))
        gts = []
        for j, k in enumerate(sorted(set(inst[inst >= 1].tolist()))):
            m = inst == k
            _png(scene / "mask_visib" / f"{name}_{j:0{digits}d}.png", (m * 255).astype(np.uint8))
            gts.append({"obj_id": int(np.bincount(sem[m]).argmax()),
                        "cam_R_m2c": [1, 0, 0, 0, 1, 0, 0, 0, 1], "cam_t_m2c": [0, 0, 500]})
        for name, entry in (("scene_gt.json", gts), ("scene_camera.json",
                            {"cam_K": [100, 0, 16, 0, 100, 16, 0, 0, 1], "depth_scale": 0.1})):
            p = scene / name
            d = json.loads(p.read_text()) if p.exists() else {}
            d[str(im)] = entry
            p.write_text(json.dumps(d))
    return out


def write_kubric(ds, out: Path, n: int, class_names: list[str], views: int = 4,
                 seed: int = 0) -> Path:
    """Kubric scene folders written as ``kb.write_image_dict`` writes them
    (google-research/kubric kubric/file_io.py: pypng for ``rgba_*.png``, the palette
    ``segmentation_*.png`` and the 16-bit ``normal_*.png`` of ``(n + 1) / 2``; imageio TIFF for
    ``depth_*.tiff``, the distance from the camera centre) and ``metadata.json`` (instances,
    camera with per-frame (w, x, y, z) quaternions, focal_length, sensor_width)."""
    import imageio
    import png

    rng = np.random.default_rng(seed)
    for start in range(0, n, views):
        scene = out / f"scene_{start // views:03d}"
        scene.mkdir(parents=True, exist_ok=True)
        frames = range(start, min(start + views, n))
        # the instance list of the scene: every object visible in one of its frames
        objs = sorted({(int(k), int(np.bincount(np.asarray(ds[i]["semantic"])[
            np.asarray(ds[i]["instance"]) == k]).argmax()))
            for i in frames for k in set(np.asarray(ds[i]["instance"]).ravel().tolist())
            if k >= 1})
        index = {k: j + 1 for j, (k, _) in enumerate(objs)}
        quats = []
        for f, i in enumerate(frames):
            s = ds[i]
            rgb = np.asarray(s["rgb"])
            h, w = rgb.shape[:2]
            rgba = np.dstack([rgb, np.full((h, w), 255, np.uint8)])
            with open(scene / f"rgba_{f:05d}.png", "wb") as fh:
                png.Writer(w, h, greyscale=False, bitdepth=8, alpha=True).write(
                    fh, rgba.reshape(h, -1))
            inst = np.asarray(s["instance"])
            seg = np.zeros((h, w), np.uint8)
            for k, j in index.items():
                seg[inst == k] = j
            palette = [(int(40 * j % 256), int(90 * j % 256), int(150 * j % 256))
                       for j in range(int(seg.max()) + 1)]
            with open(scene / f"segmentation_{f:05d}.png", "wb") as fh:
                png.Writer(w, h, palette=palette, bitdepth=8).write(fh, seg)
            q = rng.normal(size=4)
            q /= np.linalg.norm(q)
            quats.append(q.tolist())
            # an independent (w, x, y, z) convention: scipy's, not the importer's own code
            from scipy.spatial.transform import Rotation

            R = Rotation.from_quat(q, scalar_first=True).as_matrix()
            valid = inst >= 0
            n_cam = np.where(valid[..., None], np.asarray(s["normal"], np.float64), 0.0)
            n_world = n_cam @ R.T
            v = ((np.clip((n_world + 1) / 2, 0, 1)) * 65535).astype(np.uint16)
            with open(scene / f"normal_{f:05d}.png", "wb") as fh:
                png.Writer(w, h, greyscale=False, bitdepth=16).write(fh, v.reshape(h, -1))
            f_px = 35.0 / 32.0 * w
            u = (np.arange(w) + 0.5 - w / 2) / f_px
            vv = (np.arange(h) + 0.5 - h / 2) / f_px
            ray = np.asarray(s["depth"], np.float32) * np.sqrt(1 + u[None] ** 2 + vv[:, None] ** 2)
            ray = np.where(valid, ray, np.inf).astype(np.float32)
            (scene / f"depth_{f:05d}.tiff").write_bytes(
                imageio.imwrite("<bytes>", ray[..., None], format="tiff"))
        meta = {"metadata": {"num_frames": len(frames), "height": h, "width": w},
                "camera": {"focal_length": 35.0, "sensor_width": 32.0,
                           "field_of_view": 0.857, "quaternions": quats,
                           "positions": [[0.0, -10.0, 3.0]] * len(frames)},
                "instances": [{"asset_id": f"obj{j}", "shape_label": class_names[c - 1],
                               "mass": 1.0} for j, (_, c) in enumerate(objs)]}
        (scene / "metadata.json").write_text(json.dumps(meta, indent=4))
    return out


def write_solo(ds, out: Path, n: int, class_names: list[str], views: int = 4) -> Path:
    """A Unity Perception SOLO dataset as its SoloEndpoint writes one (com.unity.perception
    SoloFormatTests / Documentation~/Schema/SoloSchema.md): ``sequence.<k>/step<j>.
    frame_data.json`` with the RGB capture (``step<j>.camera.png``) and its annotations
    (instance and semantic segmentation colour PNGs with their ``instances``; depth and
    normals as EXR, the normals encoded as the WorldToSensorNormals shader does:
    ``(n_unity + 1) / 2`` with z inverted)."""
    import OpenEXR

    hdr = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    for i in range(n):
        s = ds[i]
        seq = out / f"sequence.{i // views}"
        seq.mkdir(parents=True, exist_ok=True)
        step = i % views
        rgb = np.asarray(s["rgb"])
        h, w = rgb.shape[:2]
        _png(seq / f"step{step}.camera.png", np.dstack([rgb, np.full((h, w), 255, np.uint8)]))
        inst, sem = np.asarray(s["instance"]), np.asarray(s["semantic"])
        ins_img = np.zeros((h, w, 4), np.uint8)
        entries = []
        for k in sorted(set(inst[inst >= 1].tolist())):
            col = _colour(k)
            ins_img[inst == k] = col
            c = int(np.bincount(sem[inst == k]).argmax())
            entries.append({"instanceId": 1000 * (i // views) + k, "labelId": c,
                            "labelName": class_names[c - 1], "color": list(col)})
        _png(seq / f"step{step}.camera.instance segmentation.png", ins_img)
        sem_img = np.zeros((h, w, 4), np.uint8)
        sem_entries = []
        for c in sorted(set(sem[sem > 0].tolist())):
            col = _colour(200 + c)
            sem_img[sem == c] = col
            sem_entries.append({"labelName": class_names[c - 1], "pixelValue": list(col)})
        _png(seq / f"step{step}.camera.semantic segmentation.png", sem_img)
        valid = inst >= 0
        n_syn = np.asarray(s["normal"], np.float32)
        n_unity = n_syn * np.array([1, 1, -1], np.float32)  # Unity's camera looks along +z
        v = (n_unity + 1) / 2
        v[..., 2] = 1 - v[..., 2]  # the shader's "Invert Z direction"
        v[~valid] = 0
        OpenEXR.File(hdr, {"RGBA": np.dstack([v, np.ones((h, w), np.float32)])
                           .astype(np.float32)}).write(str(seq / f"step{step}.camera.Normal.exr"))
        z = np.where(valid, np.asarray(s["depth"], np.float32), 0).astype(np.float32)
        OpenEXR.File(hdr, {"R": z}).write(str(seq / f"step{step}.camera.Depth.exr"))
        frame = {"frame": i, "sequence": i // views, "step": step, "timestamp": 0.0,
                 "captures": [{
                     "@type": "type.unity.com/unity.solo.RGBCamera", "id": "camera",
                     "description": "", "position": [0, 0, 0], "rotation": [0, 0, 0, 1],
                     "velocity": [0, 0, 0], "acceleration": [0, 0, 0],
                     "filename": f"step{step}.camera.png", "imageFormat": "Png",
                     "dimension": [w, h], "projection": "Perspective",
                     "matrix": [1.7, 0, 0, 0, 1.7, 0, 0, 0, -1.0],
                     "annotations": [
                         {"@type": "type.unity.com/unity.solo.InstanceSegmentationAnnotation",
                          "id": "instance segmentation", "sensorId": "camera",
                          "description": "", "imageFormat": "Png", "dimension": [w, h],
                          "filename": f"step{step}.camera.instance segmentation.png",
                          "instances": entries},
                         {"@type": "type.unity.com/unity.solo.SemanticSegmentationAnnotation",
                          "id": "semantic segmentation", "sensorId": "camera",
                          "description": "", "imageFormat": "Png", "dimension": [w, h],
                          "filename": f"step{step}.camera.semantic segmentation.png",
                          "instances": sem_entries},
                         {"@type": "type.unity.com/unity.solo.NormalAnnotation",
                          "id": "Normal", "sensorId": "camera", "description": "",
                          "imageFormat": "Exr", "dimension": [w, h],
                          "filename": f"step{step}.camera.Normal.exr"},
                         {"@type": "type.unity.com/unity.solo.DepthAnnotation",
                          "id": "Depth", "sensorId": "camera", "description": "",
                          "measurementStrategy": "Depth", "imageFormat": "Exr",
                          "dimension": [w, h], "filename": f"step{step}.camera.Depth.exr"}]}],
                 "metrics": []}
        (seq / f"step{step}.frame_data.json").write_text(json.dumps(frame, indent=2))
    (out / "metadata.json").write_text(json.dumps({"unityVersion": "2022.3",
                                                   "perceptionVersion": "1.0.0"}))
    return out
