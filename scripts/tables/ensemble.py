"""The equal-weight mixture of several trained runs on one prepared table
(docs/TRAINING.md §5.2): each run's checkpoint evaluated on the test rows
with `nsde-bench evaluate --per-point-out` (importance weighting, 1000 paths
per point), then per test row `−log((1/M) Σ_m p̂_m(y))` — a stochastic upper
bound on the mixture's −log p, as each p̂_m is — beside the members' means
and the baselines of scripts/tables/prepare.py, paired.

    python scripts/tables/ensemble.py TABLES_DIR NAME RUN [RUN ...]

RUN is a directory under TABLES_DIR/runs (as scripts/tables/sweep.py writes
them, e.g. `macrodata-whiten-s0`).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.special import logsumexp

from bench import evaluate_command


def per_point(tables, name, run, out):
    subprocess.run(
        evaluate_command(tables / "runs" / run / "checkpoint.safetensors", tables / name, "--per-point-out", str(out)),
        check=True, capture_output=True)
    return np.load(out)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tables, name, runs = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    base = json.loads((tables / name / "baselines.json").read_text())
    with tempfile.TemporaryDirectory() as scratch:
        members = np.array([per_point(tables, name, r, Path(scratch) / f"{i}.npy") for i, r in enumerate(runs)])
    # −log of the mean density: −logsumexp(−nll) + log M over the members.
    mixture = np.log(len(runs)) - logsumexp(-members, axis=0)
    print(f"{name}: members {', '.join(f'{m:.2f}' for m in members.mean(axis=1))}; "
          f"mixture of {len(runs)} {mixture.mean():.2f} ± {mixture.std(ddof=1) / np.sqrt(len(mixture)):.2f}")
    for key, label in [("gaussian", "one Gaussian"), ("gmm", "GMM")]:
        d = mixture - np.array(base[f"{key}_per_point"])
        print(f"  − {label} ({base[f'{key}_nll']:.2f}): {d.mean():+.2f} ± {d.std(ddof=1) / np.sqrt(len(d)):.2f}")


if __name__ == "__main__":
    main()
