"""Trains and evaluates NeuralSDE on the prepared tables (scripts/tables/prepare.py)
with given option sets, one run after another, and prints a table beside the
baselines (nats per point on the test rows; lower is better).

    python scripts/tables/sweep.py TABLES_DIR RESULTS.jsonl NAME[,NAME…] 'label=options' ['label=options' …]

Each run: `nsde-bench train --data-file train.npy OPTIONS --output-dir …` then
`nsde-bench evaluate --checkpoint … --data-file test.npy --train-file train.npy
--json` (importance weighting, 1000 paths per point unless the options of the
evaluation say otherwise after a ' | '). Results are appended to RESULTS.jsonl.
"""

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

from bench import BENCH, evaluate_command


def run(cmd):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return p, time.time() - t0


def main():
    tables, results, names = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
    for spec in sys.argv[4:]:
        label, _, options = spec.partition("=")
        train_opts, _, eval_opts = options.partition("|")
        for name in names:
            d = tables / name
            base = json.loads((d / "baselines.json").read_text())
            out = tables / "runs" / f"{name}-{label}"
            dim = base["dimension"]
            subst = {"{D}": dim, "{2D}": 2 * dim, "{4D}": 4 * dim, "{H}": max(64, 2 * dim), "{H4}": max(64, 4 * dim)}
            resolved = train_opts
            for k, v in subst.items():
                resolved = resolved.replace(k, str(v))
            try:
                p, seconds = run([BENCH, "train", "--data-file", str(d / "train.npy"), "--output-dir", str(out),
                                  "--json"] + shlex.split(resolved))
                trained = json.loads(p.stdout)
                notes = [l for l in p.stderr.splitlines() if "kept the parameters" in l]
                q, _ = run(evaluate_command(out / "checkpoint.safetensors", d, *shlex.split(eval_opts)))
                e = json.loads(q.stdout)["evaluation"]
                row = {"table": name, "label": label, "options": resolved.strip(), "train_seconds": seconds,
                       "steps": trained["steps"], "selection": notes[-1] if notes else None,
                       "nll": e["negative_log_likelihood"], "nll_se": e["negative_log_likelihood_standard_error"],
                       "free_energy": e["free_energy"], "gaussian": base["gaussian_nll"], "gmm": base["gmm_nll"],
                       "paths_per_point": e["paths_per_point"]}
            except RuntimeError as err:
                row = {"table": name, "label": label, "options": options.strip(), "error": str(err)[-500:]}
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            if "error" in row:
                print(f"{name:14s} {label:18s} ERROR {row['error'][-200:]}", flush=True)
            else:
                print(f"{name:14s} {label:18s} nll {row['nll']:8.3f} ± {row['nll_se']:.3f}  F {row['free_energy']:8.3f}  "
                      f"gauss {row['gaussian']:7.2f}  gmm {row['gmm']:7.2f}  {row['train_seconds']:5.0f}s  "
                      f"steps {row['steps']}  {row['selection'] or ''}", flush=True)


if __name__ == "__main__":
    main()
