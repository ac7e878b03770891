"""The multivariate Student t baseline on the prepared tables
(scripts/tables/prepare.py): the heavy-tailed one-component model a
statistician fits after the Gaussian, by EM (location, full scale matrix, the
degrees of freedom ν chosen on a 10 % validation split of the training rows
from 1, 2, 3, 5, 10, 30, 100 — the flows' split — then refitted on all of
them), scored exactly on the test rows (nats per point).

Adds `student_t_nll` (with `_se`, `_per_point` and `student_t_df`) to each
DIR/NAME/baselines.json. Needs NumPy and SciPy (the benchmark environment).

    python scripts/tables/student_t.py TABLES_DIR [NAME ...]
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.special import gammaln

from bench import validation_split

DFS = [1, 2, 3, 5, 10, 30, 100]


def fit(x, nu, iterations=500, tol=1e-10):
    """EM for the location μ and scale Σ at fixed ν (each row's weight
    E[w | x] = (ν + D)/(ν + r), r its squared Mahalanobis distance)."""
    n, dims = x.shape
    mu, cov = x.mean(0), np.cov(x, rowvar=False) + 1e-6 * np.eye(dims)
    previous = -np.inf
    for _ in range(iterations):
        r = mahalanobis(x, mu, cov)
        w = (nu + dims) / (nu + r)
        mu = (w[:, None] * x).sum(0) / w.sum()
        xc = x - mu
        cov = (w[:, None] * xc).T @ xc / n + 1e-6 * np.eye(dims)
        ll = log_density(x, mu, cov, nu).mean()
        if ll - previous < tol:
            break
        previous = ll
    return mu, cov


def mahalanobis(x, mu, cov):
    z = np.linalg.solve(np.linalg.cholesky(cov), (x - mu).T)
    return (z ** 2).sum(0)


def log_density(x, mu, cov, nu):
    dims = x.shape[1]
    logdet = 2 * np.log(np.diag(np.linalg.cholesky(cov))).sum()
    r = mahalanobis(x, mu, cov)
    return (gammaln((nu + dims) / 2) - gammaln(nu / 2) - dims / 2 * np.log(nu * np.pi) - logdet / 2
            - (nu + dims) / 2 * np.log1p(r / nu))


def main():
    root = Path(sys.argv[1])
    names = sys.argv[2:] or ["digits", "breast-cancer", "wine", "macrodata", "diabetes", "iris"]
    for name in names:
        d = root / name
        train, test = np.load(d / "train.npy"), np.load(d / "test.npy")
        val, fit_rows = validation_split(train)
        scores = {nu: -log_density(val, *fit(fit_rows, nu), nu).mean() for nu in DFS}
        nu = min(scores, key=scores.get)
        nll = -log_density(test, *fit(train, nu), nu)
        info = json.loads((d / "baselines.json").read_text())
        info.update({"student_t_nll": float(nll.mean()), "student_t_nll_se": float(nll.std(ddof=1) / np.sqrt(len(nll))),
                     "student_t_df": nu, "student_t_per_point": nll.tolist()})
        tmp = d / "baselines.json.tmp"
        tmp.write_text(json.dumps(info))
        tmp.replace(d / "baselines.json")
        print(f"{name}: Student t (ν = {nu}) {nll.mean():.2f} ± {nll.std(ddof=1) / np.sqrt(len(nll)):.2f}", flush=True)


if __name__ == "__main__":
    main()
