"""Real tables shipped inside scikit-learn and statsmodels, split and
standardised the same way for NeuralSDE and its baselines (issue protocol):

- a fixed 80/20 split (numpy seed 0), columns recorded on a grid dequantised
  with noise uniform over one grid cell (the rule of `nsde-bench train
  --dequantize`: integer-valued columns, step 1, and columns that repeat
  values on a decimal grid of step 10^-k, k ≤ 6), then every column
  standardised with the training rows' mean and standard deviation.
  Iris is recorded to 0.1 cm and macrodata's rates to 0.01 or 0.1 points: on
  such columns a density can put a near-point mass on a repeated value, so
  −log p is only comparable between models after dequantisation
  (docs/TRAINING.md §5.4);
- baselines fitted on the training rows and scored on the test rows (exact
  −log p, nats per point): a full-covariance Gaussian, and a Gaussian mixture
  (scikit-learn, full covariances) whose number of components k ∈ 1…10 is
  chosen on a 10 % validation split of the training rows, then refitted on all
  of them.

Writes DIR/NAME/{train,test}.npy and DIR/NAME/baselines.json (with per-point
−log p of the test rows) for NAME in digits, breast-cancer, wine, macrodata,
diabetes, iris.

    python scripts/tables/prepare.py OUTPUT_DIR [NAME ...]
"""

import json
import sys
from pathlib import Path

import numpy as np


def load(name):
    if name == "macrodata":
        from statsmodels.datasets import macrodata

        df = macrodata.load_pandas().data
        levels = ["realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "pop"]
        rates = ["tbilrate", "unemp", "infl", "realint"]
        x = np.column_stack([np.diff(np.log(df[c].to_numpy())) for c in levels] + [np.diff(df[c].to_numpy()) for c in rates])
        return x
    from sklearn import datasets

    loader = {
        "digits": datasets.load_digits,
        "breast-cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
        "diabetes": lambda: datasets.load_diabetes(scaled=False),
        "iris": datasets.load_iris,
    }[name]
    return loader().data.astype(np.float64)


def grid_step(column):
    """The step of the grid a column is recorded on, as `nsde-bench train
    --dequantize` finds it (Dequantization.gridStep): 1 for integers, else
    10^-k (k in 1…6, smallest) if the column repeats a value and every value is
    a multiple of it; None otherwise."""
    if np.all(column == np.round(column)):
        return 1.0
    if len(np.unique(column)) == len(column):
        return None
    for k in range(1, 7):
        scaled = column * 10.0**k
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-3 + 1e-7 * np.abs(scaled)):
            return 10.0**-k
    return None


def split(x, rng):
    x = x.copy()
    n = len(x)
    perm = rng.permutation(n)
    n_train = int(round(0.8 * n))
    steps = [grid_step(x[:, j]) for j in range(x.shape[1])]
    gridded = [j for j, h in enumerate(steps) if h is not None]
    noise = rng.uniform(0.0, 1.0, size=(n, len(gridded)))
    for i, j in enumerate(gridded):
        x[:, j] += steps[j] * noise[:, i]
    train, test = x[perm[:n_train]], x[perm[n_train:]]
    mean, std = train.mean(0), train.std(0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std, len(gridded)


def gaussian_nll(train, test):
    mu = train.mean(0)
    cov = np.cov(train, rowvar=False) + 1e-6 * np.eye(train.shape[1])
    sign, logdet = np.linalg.slogdet(cov)
    diff = test - mu
    maha = np.einsum("ij,ij->i", diff @ np.linalg.inv(cov), diff)
    return 0.5 * (maha + logdet + train.shape[1] * np.log(2 * np.pi))


def gmm_nll(train, test, rng):
    from sklearn.mixture import GaussianMixture

    perm = rng.permutation(len(train))
    n_val = max(1, int(round(0.1 * len(train))))
    val, fit = train[perm[:n_val]], train[perm[n_val:]]
    best = None
    for k in range(1, 11):
        if k > len(fit) // 2:
            break
        g = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=0, n_init=2).fit(fit)
        score = -g.score(val)
        if best is None or score < best[0]:
            best = (score, k)
    k = best[1]
    g = GaussianMixture(k, covariance_type="full", reg_covar=1e-4, random_state=0, n_init=2).fit(train)
    return -g.score_samples(test), k


def main():
    out = Path(sys.argv[1])
    names = sys.argv[2:] or ["digits", "breast-cancer", "wine", "macrodata", "diabetes", "iris"]
    for name in names:
        rng = np.random.default_rng(0)
        train, test, integer_columns = split(load(name), rng)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / "train.npy", train)
        np.save(d / "test.npy", test)
        g = gaussian_nll(train, test)
        m, k = gmm_nll(train, test, rng)
        info = {
            "name": name, "dimension": train.shape[1], "training_rows": len(train), "test_rows": len(test),
            "dequantised_columns": integer_columns,
            "gaussian_nll": float(g.mean()), "gaussian_nll_se": float(g.std(ddof=1) / np.sqrt(len(g))),
            "gmm_nll": float(m.mean()), "gmm_nll_se": float(m.std(ddof=1) / np.sqrt(len(m))), "gmm_components": k,
            "gaussian_per_point": g.tolist(), "gmm_per_point": m.tolist(),
        }
        (d / "baselines.json").write_text(json.dumps(info))
        print(f"{name}: D = {train.shape[1]}, {len(train)} / {len(test)} rows, {integer_columns} dequantised; "
              f"Gaussian {g.mean():.2f}, GMM(k={k}) {m.mean():.2f}")


if __name__ == "__main__":
    main()
