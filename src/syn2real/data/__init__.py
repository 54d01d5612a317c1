"""Data: offline real datasets, class-balanced subsets and composed detection/segmentation
boards (the torch-side readers of the training engine build on these)."""

from .boards import Boards, compose_boards
from .real import DatasetUnavailable, ImageSet, balanced_subset, load_real, stratified_split

__all__ = ["Boards", "DatasetUnavailable", "ImageSet", "balanced_subset", "compose_boards",
           "load_real", "stratified_split"]
