"""Learning-curve tables: reading, validation and the bundled example."""

from .example import example_path, make_example
from .read import (
                   CG_COLUMNS,
                   CG_GROUPS,
                   DATASET_SIZES,
                   CurveSet,
                   CurveTableError,
                   DataError,
                   baseline_error,
                   curve_arrays,
                   curve_label,
                   curve_labels,
                   curves_from_frame,
                   model_name,
                   read_curves,
)

__all__ = ["CG_COLUMNS", "CG_GROUPS", "DATASET_SIZES", "CurveSet", "CurveTableError",
           "DataError",
           "baseline_error", "curve_arrays",
           "curve_label", "curve_labels", "curves_from_frame", "example_path", "make_example",
           "model_name", "read_curves"]
