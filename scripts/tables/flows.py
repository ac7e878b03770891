"""Normalising-flow baselines on the prepared tables (scripts/tables/prepare.py):
zuko's masked autoregressive flow (MAF) and neural spline flow (NSF), trained
on the training rows with early stopping on a 10 % validation split of them
(the issue's protocol: the same split as the GMM's choice of k), the best
validation state kept, then scored exactly on the test rows (nats per point).

Adds `maf_nll`, `nsf_nll` (with `_se` and `_per_point`) and the settings to
each DIR/NAME/baselines.json. Runs in the benchmark virtual environment
(`scripts/compare-peers` makes `.venv-peers` with torch; then
`.venv-peers/bin/pip install zuko scikit-learn statsmodels` for these scripts).

    python scripts/tables/flows.py TABLES_DIR [NAME ...]
"""

import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import zuko

from bench import validation_split

SETTINGS = {"transforms": 5, "hidden_features": [128, 128], "lr": 1e-3, "batch": 128, "max_epochs": 1000,
            "patience": 30, "weight_decay": 1e-5}


def fit(kind, train, val, seed):
    torch.manual_seed(seed)
    d = train.shape[1]
    s = SETTINGS
    flow = (zuko.flows.MAF if kind == "maf" else zuko.flows.NSF)(
        d, transforms=s["transforms"], hidden_features=s["hidden_features"]).double()
    opt = torch.optim.AdamW(flow.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
    xt, xv = torch.tensor(train), torch.tensor(val)
    best, best_state, stale, epochs = float("inf"), copy.deepcopy(flow.state_dict()), 0, 0
    g = torch.Generator().manual_seed(seed)
    for epoch in range(s["max_epochs"]):
        flow.train()
        for idx in torch.randperm(len(xt), generator=g).split(s["batch"]):
            loss = -flow().log_prob(xt[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        flow.eval()
        with torch.no_grad():
            v = -flow().log_prob(xv).mean().item()
        epochs = epoch + 1
        if np.isfinite(v) and v < best:
            best, best_state, stale = v, copy.deepcopy(flow.state_dict()), 0
        else:
            stale += 1
            if stale >= s["patience"]:
                break
    flow.load_state_dict(best_state)
    flow.eval()
    return flow, best, epochs


def main():
    root = Path(sys.argv[1])
    names = sys.argv[2:] or ["digits", "breast-cancer", "wine", "macrodata", "diabetes", "iris"]
    torch.set_num_threads(2)
    for name in names:
        d = root / name
        info = json.loads((d / "baselines.json").read_text())
        train, test = np.load(d / "train.npy"), np.load(d / "test.npy")
        val, fit_rows = validation_split(train)
        for kind in ["maf", "nsf"]:
            t0 = time.time()
            flow, best, epochs = fit(kind, fit_rows, val, seed=0)
            with torch.no_grad():
                nll = -flow().log_prob(torch.tensor(test)).numpy()
            info[f"{kind}_nll"] = float(nll.mean())
            info[f"{kind}_nll_se"] = float(nll.std(ddof=1) / np.sqrt(len(nll)))
            info[f"{kind}_per_point"] = nll.tolist()
            info[f"{kind}_epochs"] = epochs
            info[f"{kind}_seconds"] = time.time() - t0
            print(f"{name} {kind}: {nll.mean():.2f} ± {info[f'{kind}_nll_se']:.2f} (validation {best:.2f}, "
                  f"{epochs} epochs, {info[f'{kind}_seconds']:.0f} s)", flush=True)
        info["flow_settings"] = SETTINGS
        (d / "baselines.json").write_text(json.dumps(info))


if __name__ == "__main__":
    main()
