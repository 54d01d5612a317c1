"""Data sources over what other generators write (see :mod:`syn2real.data.sources`), one
module per layout, each with its ``LAYOUT`` (detector, opener, description) that
:mod:`syn2real.data.sources` registers on first use (importing a module registers nothing).

Each reader turns one frame of the generator's own layout into a syn2real sample, with the
conversions named here (and tested on fixtures written exactly as the writers write them):

``blenderproc`` — BlenderProc's HDF5 writer (``bproc.writer.write_hdf5``): one
    ``<frame>.hdf5`` per image with the keys ``colors`` (H, W, 3[+1]) uint8, ``normals``
    (H, W, 3) float in [0, 1], ``depth`` (H, W) float (or ``distance``, the ray length),
    ``category_id_segmaps`` (H, W), ``instance_segmaps`` (H, W) and
    ``instance_attribute_maps`` (a JSON string: ``[{"idx", "category_id", "name"}, ...]``),
    gzip-compressed datasets. BlenderProc's normal pass stores ``0.5 n + 0.5`` of the normal
    in Blender's camera frame (x right, y up, z towards the camera; its compositor graph
    multiplies by the camera rotation and swaps G/B to undo Blender's Z-up), so ``n = 2v - 1``
    is already syn2real's frame. Category 0 is the background; classes are the other
    category ids, in increasing order. ``distance`` cannot become depth without the
    intrinsics: depth is then NaN. All frames in one folder are one scene (one BlenderProc
    run renders several camera poses of one scene).
``replicator`` — Omniverse Replicator's ``BasicWriter``: ``rgb_<k>.png`` (RGBA),
    ``semantic_segmentation_<k>.png`` (colourised RGBA) + ``semantic_segmentation_labels_<k>
    .json`` (``{"(r, g, b, a)": {"class": name}}``), ``instance_segmentation_<k>.png`` +
    ``instance_segmentation_mapping_<k>.json`` (colour → prim path), optional
    ``normals_<k>.npy`` (H, W, 4, world frame) with ``camera_params_<k>.json``
    (``cameraViewTransform``: the world-to-camera 4x4 in USD's row-vector convention, so
    ``n_cam = n_world @ M[:3, :3]``; USD cameras look down -z with y up, syn2real's frame) and
    optional ``distance_to_image_plane_<k>.npy`` (depth; inf where nothing is hit).
    ``BACKGROUND`` and ``UNLABELLED`` are the background. Each frame is its own scene
    (Replicator re-randomises the scene per frame).
``bop`` — the BOP format (:class:`BopSource`): RGB, visible masks, depth; no normals.
``kubric`` — Kubric's per-frame files and ``metadata.json`` (:class:`KubricSource`).
``solo`` — Unity Perception's SOLO datasets (:class:`SoloSource`).
``coco`` — BlenderProc's COCO writer or any COCO export (:class:`CocoSource`): masks only.
``cg-transfer`` — the paper's renderer (``rendering/renderer/render.py`` of
    pfnet-research/cg-transfer): ``<out>/<idx>/`` with the image named in
    ``annotations.json`` (COCO with one image; masks as RLE or polygons, read with
    pycocotools) and ``normal.npy`` (BlenderProc's normals, as above). ``scene_size``
    consecutive indices form a scene (the renderer's ``n_image_per_scene``; default 1).
"""

from __future__ import annotations

from .common import ImportedDataError, check_frames

__all__ = ["ImportedDataError", "check_frames"]
