"""Data: the data-source protocol and its readers (syn2real shards, other generators'
output), offline real datasets, class-balanced subsets and composed detection/segmentation
boards (the torch-side readers of the training engine build on these)."""

from .boards import Boards, compose_boards
from .folders import DetectionSet, SegmentationSet, load_ade20k, load_coco, load_image_folder
from .real import DatasetUnavailable, ImageSet, balanced_subset, load_real, stratified_split
from .shards import ShardDataset
from .sources import DataSource, Sample, detect_layout, layouts, open_source

__all__ = [
    "Boards",
    "DataSource",
    "DatasetUnavailable",
    "DetectionSet",
    "ImageSet",
    "Sample",
    "SegmentationSet",
    "ShardDataset",
    "balanced_subset",
    "compose_boards",
    "detect_layout",
    "layouts",
    "load_ade20k",
    "load_coco",
    "load_image_folder",
    "load_real",
    "open_source",
    "stratified_split",
]
