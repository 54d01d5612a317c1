"""syn2real: scaling laws for synthetic-to-real transfer.

Fit the paper's laws (:mod:`syn2real.law`), turn them into decisions
(:mod:`syn2real.advise`) and report them (:mod:`syn2real.report`).

Importing syn2real pins the CPU kernels of PyTorch, oneDNN and MKL to the AVX2 instruction set
(:func:`pin_cpu_kernels`) unless ``SYN2REAL_NATIVE_ISA=1``. What that promises: the same config
and seed give bit-identical numbers on one machine and library version (tested); on another
x86 CPU or library build the numbers can differ, by about the spread between pre-training
seeds. Training on a few hundred images is chaotic: other rounding moves a pre-training as
much as another seed does (measured on an AVX-512 AMD EPYC with torch 2.14.1: the native
kernels turned an earlier quickstart's transfer margin of +0.051 into -0.019). A study with two
or more pre-training seeds measures that spread and counts it in every standard error, interval
and verdict (:mod:`syn2real.curves.replicates`); the README's quickstart reports its verdicts
under both kernels and another seed. The pin must happen before torch is imported: import
syn2real first.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

#: Environment defaults that make CPU results reproducible across x86 machines.
REPRODUCIBLE_CPU_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",       # PyTorch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",        # oneDNN (convolutions)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",   # MKL (GEMM)
    "MKL_CBWR": "AVX2",                  # MKL conditional bitwise reproducibility
}


def pin_cpu_kernels() -> dict[str, str]:
    """Set :data:`REPRODUCIBLE_CPU_ENV` where not already set; returns what is in force.

    Skipped when ``SYN2REAL_NATIVE_ISA=1`` (faster on AVX-512 machines, numbers then differ
    from other CPUs). Processes started later (sweep workers) inherit the settings.
    """
    if os.environ.get("SYN2REAL_NATIVE_ISA", "") == "1":
        return {}
    for k, v in REPRODUCIBLE_CPU_ENV.items():
        os.environ.setdefault(k, v)
    return {k: os.environ[k] for k in REPRODUCIBLE_CPU_ENV}


pin_cpu_kernels()
