"""Prints the sweep results (RESULTS.jsonl of scripts/tables/sweep.py) as a
Markdown table: one row per table, one column per option set (held-out −log p
± its standard error, nats per point on the test rows), beside the baselines.
Labels ending in `-s<seed>` (the same options under other `--seed`s; seed 0
may be recorded under the bare label) are one column: the mean over the
seeds, the spread (max − min) of the seeds' values and their count.

    python scripts/tables/table.py RESULTS.jsonl [LABEL ...]
"""

import json
import re
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if "error" not in r]
for r in rows:
    r["group"] = re.sub(r"-s\d+$", "", r["label"])
labels = sys.argv[2:] or list(dict.fromkeys(r["group"] for r in rows))
tables = list(dict.fromkeys(r["table"] for r in rows))
runs = {}
for r in rows:
    runs.setdefault((r["table"], r["group"]), {})[r["label"]] = r  # the last run of each label
print("| table | " + " | ".join(labels) + " | one Gaussian | GMM |")
print("|---|" + "---|" * (len(labels) + 2))
for t in tables:
    cells = []
    base = None
    for l in labels:
        got = list(runs.get((t, l), {}).values())
        if not got:
            cells.append("–")
            continue
        base = got[0]
        seconds = max(r["train_seconds"] for r in got)
        if len(got) == 1:
            r = got[0]
            cells.append(f"{r['nll']:.2f} ± {r['nll_se']:.2f} ({seconds:.0f} s)")
        else:
            values = [r["nll"] for r in got]
            mean = sum(values) / len(values)
            cells.append(f"{mean:.2f} (spread {max(values) - min(values):.2f}, {len(values)} seeds; ≤ {seconds:.0f} s)")
    if base is None:
        continue
    print(f"| {t} | " + " | ".join(cells) + f" | {base['gaussian']:.2f} | {base['gmm']:.2f} |")
