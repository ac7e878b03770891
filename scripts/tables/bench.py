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
