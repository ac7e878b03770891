"""Prints the sweep results (RESULTS.jsonl of scripts/tables/sweep.py) as a
Markdown table: one row per table, one column per option set (held-out −log p
± its standard error, nats per point on the test rows), beside the baselines.

    python scripts/tables/table.py RESULTS.jsonl [LABEL ...]
"""

import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in rows if "error" not in r]
labels = sys.argv[2:] or list(dict.fromkeys(r["label"] for r in rows))
tables = list(dict.fromkeys(r["table"] for r in rows))
last = {(r["table"], r["label"]): r for r in rows}
print("| table | " + " | ".join(labels) + " | one Gaussian | GMM |")
print("|---|" + "---|" * (len(labels) + 2))
for t in tables:
    cells = []
    base = None
    for l in labels:
        r = last.get((t, l))
        if r is None:
            cells.append("–")
            continue
        base = r
        cells.append(f"{r['nll']:.2f} ± {r['nll_se']:.2f} ({r['train_seconds']:.0f} s)")
    if base is None:
        continue
    print(f"| {t} | " + " | ".join(cells) + f" | {base['gaussian']:.2f} | {base['gmm']:.2f} |")
