"""What the table scripts share: the nsde-bench binary they run (NSDE_BENCH,
else the release build) and its held-out evaluation of a checkpoint on a
prepared table's test rows (the Gaussian baseline fitted on its training rows)."""

import os
from pathlib import Path

BENCH = os.environ.get("NSDE_BENCH", str(Path(__file__).resolve().parents[2] / ".build/release/nsde-bench"))


def evaluate_command(checkpoint, table, *options):
    """`nsde-bench evaluate --checkpoint CHECKPOINT` on TABLE/test.npy with
    TABLE/train.npy, JSON on standard output, then OPTIONS."""
    return [BENCH, "evaluate", "--checkpoint", str(checkpoint), "--data-file", str(Path(table) / "test.npy"),
            "--train-file", str(Path(table) / "train.npy"), "--json", *options]


def validation_split(train):
    """The baselines' 10 % validation split of a table's training rows (numpy
    seed 1): (validation rows, the rest)."""
    import numpy as np

    perm = np.random.default_rng(1).permutation(len(train))
    n_val = max(1, int(round(0.1 * len(train))))
    return train[perm[:n_val]], train[perm[n_val:]]
