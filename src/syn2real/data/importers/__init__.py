"""Data sources over what other generators write (see :mod:`syn2real.data.sources`), one
module per layout, each with its ``LAYOUT`` (detector, opener, description) that
:mod:`syn2real.data.sources` registers on first use (importing a module registers nothing).

Each reader turns one frame of the generator's own layout into a syn2real sample, with the
conversions named in its module's docstring (and tested on fixtures written exactly as the
writers write them):

* :mod:`.blenderproc` — BlenderProc's HDF5 writer (``write_hdf5``);
* :mod:`.replicator` — Omniverse Replicator's ``BasicWriter``;
* :mod:`.bop` — the BOP format (BlenderProc's ``write_bop``);
* :mod:`.kubric` — Kubric's per-frame files and ``metadata.json``;
* :mod:`.solo` — Unity Perception's SOLO datasets;
* :mod:`.coco` — BlenderProc's COCO writer or any COCO export (masks only);
* :mod:`.cg_transfer` — the paper's renderer (pfnet-research/cg-transfer);
* :mod:`.common` — what they share (frame lists, image readers, COCO masks, the frame check).
"""

from __future__ import annotations

from .common import ImportedDataError, check_frames

__all__ = ["ImportedDataError", "check_frames"]
