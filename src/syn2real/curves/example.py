"""The bundled example table: synthetic learning curves with known parameters.

It is generated, not measured: four rendering/pre-training settings following eq. 1 with
Gaussian noise of sd 0.002 (about the seed-to-seed spread of the paper's fine-tuning
errors), n = 1000 * 2^i for i = 0..6, plus a from-scratch row (n = 0) per setting.
``python -m syn2real.curves.example`` rewrites the shipped file; a test checks they agree.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

#: (preset, ptask) -> (D, alpha, C): true parameters of the example curves.
TRUE_PARAMS = {
    ("lv2", "mulclass"): (0.48, 0.62, 0.405),
    ("lv7", "mulclass"): (0.48, 0.36, 0.262),
    ("lv7", "objdet"): (0.48, 0.44, 0.318),
    ("lv7-notex", "mulclass"): (0.48, 0.18, 0.214),
}
SIZES = 1000 * 2 ** np.arange(7)
NOISE_SD = 0.002
SEED = 20221101


def make_example(seed: int = SEED) -> pd.DataFrame:
    """Generate the example table (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    rows = []
    for (preset, ptask), (D, a, C) in TRUE_PARAMS.items():
        scratch = C + D * 500.0 ** (-a) + 0.02
        rows.append({"preset": preset, "ptask": ptask, "n": 0,
                     "error": round(float(scratch + rng.normal(0, NOISE_SD)), 5)})
        for n in SIZES:
            err = C + D * float(n) ** (-a) + rng.normal(0, NOISE_SD)
            rows.append({"preset": preset, "ptask": ptask, "n": int(n), "error": round(err, 5)})
    return pd.DataFrame(rows)


def example_path() -> Path:
    """Path of the shipped example CSV."""
    return Path(str(resources.files("syn2real") / "examples" / "example_curves.csv"))


if __name__ == "__main__":
    out = example_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    make_example().to_csv(out, index=False)
    print(out)
