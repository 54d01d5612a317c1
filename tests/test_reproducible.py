"""CPU kernels are pinned to AVX2 so that numbers agree across x86 machines."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")

PROBE = ("import syn2real, torch; print(torch.backends.cpu.get_cpu_capability()); "
         "import os; print(os.environ.get('MKL_CBWR', ''))")


def _run(env: dict[str, str], probe: str = PROBE) -> list[str]:
    # this test process may have imported syn2real already: start from a clean environment
    full = {k: v for k, v in os.environ.items()
            if k not in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS",
                         "MKL_CBWR", "SYN2REAL_NATIVE_ISA")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env=full, check=True)
    return out.stdout.split()


def test_importing_syn2real_pins_avx2_unless_told_not_to():
    native = " ".join(_run({}, "import torch; print(torch.backends.cpu.get_cpu_capability())"))
    if native in ("DEFAULT", "NO AVX"):
        pytest.skip(f"this CPU has no AVX2 ({native})")
    assert _run({}) == ["AVX2", "AVX2"]
    assert _run({"SYN2REAL_NATIVE_ISA": "1"})[0] == native
    # a user's own choice is kept
    assert _run({"MKL_CBWR": "COMPATIBLE"})[1] == "COMPATIBLE"
