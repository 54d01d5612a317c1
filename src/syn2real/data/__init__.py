"""Data: offline real datasets, class-balanced subsets and composed detection/segmentation
boards (the torch-side readers of the training engine build on these)."""

from .boards import Boards, compose_boards
from .folders import DetectionSet, SegmentationSet, load_ade20k, load_coco, load_image_folder
from .real import DatasetUnavailable, ImageSet, balanced_subset, load_real, stratified_split
from .shards import ShardDataset

__all__ = [
                      "Boards",
                      "DatasetUnavailable",
                      "DetectionSet",
                      "ImageSet",
                      "SegmentationSet",
                      "ShardDataset",
                      "balanced_subset",
                      "compose_boards",
                      "load_ade20k",
                      "load_coco",
                      "load_image_folder",
                      "load_real",
                      "stratified_split",
]
