"""torchsde's latent SDE (examples/latent_sde_lorenz.py: its encoder, networks,
sizes, optimiser, schedules, dt and Euler method) trained on a sequence file
of nsde-bench's long-CSV format, then scored on held-out sequences the way
nsde-bench scores its own models: importance-weighted -log p with the
model's posterior as the proposal and the full discrete Girsanov log-ratio.

What had to change to take the data at all (the example assumes one shared
grid): each minibatch is solved on the sorted union of its sequences' model
times (torchsde takes one `ts` per call), the encoder reads the values
zero-filled with the observation mask beside them (input size 2D), and the
likelihood counts only the observed entries. Model time is nsde-bench's
(docs/MODEL.md section 7): t = lead_in + (tau - tau_first) / time_scale, the
initial state z0 at t = 0. Each sequence is repeated K times in a minibatch,
as nsde-bench repeats it over K paths, so both train on the same number of
paths per step.

Importance weights (evaluation, float64, no gradients): along a posterior
path on torchsde's own grid (uniform dt from t = 0, the states at the
observation times interpolated linearly as torchsde's solver does), with
u = (f - h) / g, the increments dW of that path and step sizes dt_k,

    log w = sum_j log p(y_j | z(t_j)) + log p(z0) - log q(z0 | y)
            - sum_k (u_k . dW_k + 1/2 |u_k|^2 dt_k).

torchsde's `logqp` accumulates only the second part of the path term (its
expectation under q is zero for the first, not its value on a path), which is
enough for the ELBO but not for importance weights.

With --learn-noise the decoder's standard deviation is a parameter per
channel (started at --noise-std) instead of the example's fixed 0.01.

Usage: python latent_sde.py --train TRAIN.csv --test TEST.csv --steps 2000
       --threads 2 --paths 1000 [--learn-noise --noise-std 0.1] [--per-sequence-out F]
       prints one JSON line.
"""
import argparse, csv, json, math, os, sys, time

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal

import torchsde


def read_sequences(path):
    """nsde-bench's long CSV -> list of (id, times [n], values [n, D] with NaN for missing)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if header[:2] != ["sequence", "time"]:
        raise SystemExit(f"{path}: header must start with sequence,time")
    seqs = {}
    for r in body:
        vals = [float(v) if v not in ("", "NaN", "nan") else math.nan for v in r[2:]]
        seqs.setdefault(r[0], []).append((float(r[1]), vals))
    out = []
    for k, obs in seqs.items():
        obs.sort()
        out.append((k, np.array([o[0] for o in obs]), np.array([o[1] for o in obs])))
    return out, len(header) - 2


def model_times(times, lead_in, time_scale):
    return lead_in + (times - times[0]) / time_scale


class LinearScheduler(object):
    def __init__(self, iters, maxval=1.0):
        self._iters = max(1, iters)
        self._val = maxval / self._iters
        self._maxval = maxval

    def step(self):
        self._val = min(self._maxval, self._val + self._maxval / self._iters)

    @property
    def val(self):
        return self._val


class Encoder(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.gru = nn.GRU(input_size=input_size, hidden_size=hidden_size)
        self.lin = nn.Linear(hidden_size, output_size)

    def forward(self, inp):
        out, _ = self.gru(inp)
        return self.lin(out)


class LatentSDE(nn.Module):
    """The example's LatentSDE; the encoder reads [values, mask] (2D inputs)."""
    sde_type = "ito"
    noise_type = "diagonal"

    def __init__(self, data_size, latent_size, context_size, hidden_size):
        super().__init__()
        self.encoder = Encoder(input_size=2 * data_size, hidden_size=hidden_size, output_size=context_size)
        self.qz0_net = nn.Linear(context_size, latent_size + latent_size)
        self.f_net = nn.Sequential(
            nn.Linear(latent_size + context_size, hidden_size), nn.Softplus(),
            nn.Linear(hidden_size, hidden_size), nn.Softplus(),
            nn.Linear(hidden_size, latent_size))
        self.h_net = nn.Sequential(
            nn.Linear(latent_size, hidden_size), nn.Softplus(),
            nn.Linear(hidden_size, hidden_size), nn.Softplus(),
            nn.Linear(hidden_size, latent_size))
        self.g_nets = nn.ModuleList([
            nn.Sequential(nn.Linear(1, hidden_size), nn.Softplus(), nn.Linear(hidden_size, 1), nn.Sigmoid())
            for _ in range(latent_size)])
        self.projector = nn.Linear(latent_size, data_size)
        self.pz0_mean = nn.Parameter(torch.zeros(1, latent_size))
        self.pz0_logstd = nn.Parameter(torch.zeros(1, latent_size))
        self.log_noise = None  # --learn-noise: a decoder standard deviation per channel
        self._ctx = None

    def noise(self, fixed):
        return fixed if self.log_noise is None else self.log_noise.exp()

    def contextualize(self, ctx):
        self._ctx = ctx

    def f(self, t, y):
        ts, ctx = self._ctx
        i = min(torch.searchsorted(ts, t, right=True), len(ts) - 1)
        return self.f_net(torch.cat((y, ctx[i]), dim=1))

    def h(self, t, y):
        return self.h_net(y)

    def g(self, t, y):
        y = torch.split(y, split_size_or_sections=1, dim=1)
        return torch.cat([g_i(y_i) for (g_i, y_i) in zip(self.g_nets, y)], dim=1)

    def encode(self, xs, mask, repeat):
        """Context [T, B*repeat, C] and q(z0) from values/mask [T, B, D]."""
        inp = torch.cat([torch.where(mask, xs, torch.zeros_like(xs)), mask.to(xs.dtype)], dim=2)
        ctx = torch.flip(self.encoder(torch.flip(inp, dims=(0,))), dims=(0,))
        ctx = ctx.repeat_interleave(repeat, dim=1)
        qz0_mean, qz0_logstd = self.qz0_net(ctx[0]).chunk(chunks=2, dim=1)
        return ctx, qz0_mean, qz0_logstd

    def forward(self, xs, mask, ts, noise_std, repeat, dt):
        ctx, qz0_mean, qz0_logstd = self.encode(xs, mask, repeat)
        self.contextualize((ts, ctx))
        z0 = qz0_mean + qz0_logstd.exp() * torch.randn_like(qz0_mean)
        zs, log_ratio = torchsde.sdeint(self, z0, ts, dt=dt, logqp=True, method="euler")
        _xs = self.projector(zs)
        xr = xs.repeat_interleave(repeat, dim=1)
        mr = mask.repeat_interleave(repeat, dim=1)
        lp = Normal(loc=_xs, scale=self.noise(noise_std)).log_prob(torch.where(mr, xr, _xs.detach()))
        log_pxs = torch.where(mr, lp, torch.zeros_like(lp)).sum(dim=(0, 2)).mean(dim=0)
        qz0 = Normal(loc=qz0_mean, scale=qz0_logstd.exp())
        pz0 = Normal(loc=self.pz0_mean, scale=self.pz0_logstd.exp())
        logqp0 = torch.distributions.kl_divergence(qz0, pz0).sum(dim=1).mean(dim=0)
        return log_pxs, logqp0 + log_ratio.sum(dim=0).mean(dim=0)


def batch_tensors(seqs, idx, data_size, lead_in, time_scale, dtype):
    """Union grid ts [T] (starting at 0) and values/mask [T, B, D] for the sequences idx."""
    # Times in the tensors' precision, so that the grid stays strictly increasing after the cast.
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    mts = [model_times(seqs[i][1], lead_in, time_scale).astype(np_dtype) for i in idx]
    grid = np.unique(np.concatenate([np.zeros(1, np_dtype)] + mts))
    xs = np.zeros((len(grid), len(idx), data_size))
    mask = np.zeros((len(grid), len(idx), data_size), dtype=bool)
    for b, i in enumerate(idx):
        rows = np.searchsorted(grid, mts[b])
        if len(np.unique(rows)) != len(rows):
            raise SystemExit(f"sequence {seqs[i][0]}: two observation times closer than the {np_dtype.__name__} resolution")
        v = seqs[i][2]
        mask[rows, b] = ~np.isnan(v)
        xs[rows, b] = np.nan_to_num(v)
    return (torch.tensor(grid, dtype=dtype), torch.tensor(xs, dtype=dtype), torch.tensor(mask))


@torch.no_grad()
def importance_weighted(model, times, values, paths, chunk, dt, noise_std, lead_in, time_scale, gen):
    """-log p(y) of one sequence by importance weighting (module docstring); returns (estimate, log w)."""
    ts, xs, mask = batch_tensors([(None, times, values)], [0], values.shape[1], lead_in, time_scale, torch.float64)
    logws = []
    for start in range(0, paths, chunk):
        k = min(chunk, paths - start)
        ctx, qm, qls = model.encode(xs, mask, k)
        model.contextualize((ts, ctx))
        eps = torch.randn(qm.shape, dtype=torch.float64, generator=gen)
        z = qm + qls.exp() * eps
        logw = (Normal(model.pz0_mean, model.pz0_logstd.exp()).log_prob(z) - Normal(qm, qls.exp()).log_prob(z)).sum(1)
        # torchsde's grid: uniform dt from ts[0], the last step clipped to ts[-1]; outputs interpolated.
        t, t_end = ts[0], ts[-1]
        states = [z]
        j = 1
        prev_t, prev_z = t, z
        while j < len(ts):
            t1 = torch.minimum(t + dt, t_end)
            h = t1 - t
            fz, hz, gz = model.f(t, z), model.h(t, z), model.g(t, z)
            dw = torch.randn(z.shape, dtype=torch.float64, generator=gen) * h.sqrt()
            u = (fz - hz) / gz
            logw -= (u * dw).sum(1) + 0.5 * (u * u).sum(1) * h
            prev_t, prev_z = t, z
            z = z + fz * h + gz * dw
            t = t1
            while j < len(ts) and ts[j] <= t:
                a = (ts[j] - prev_t) / (t - prev_t)
                states.append(prev_z + a * (z - prev_z))
                j += 1
        zs = torch.stack(states)  # [T, k, d]
        mean = model.projector(zs)
        lp = Normal(mean, model.noise(noise_std)).log_prob(torch.where(mask, xs, mean))
        logw += torch.where(mask.expand_as(lp), lp, torch.zeros_like(lp)).sum(dim=(0, 2))
        logws.append(logw)
    logw = torch.cat(logws)
    est = -(torch.logsumexp(logw, 0) - math.log(paths))
    return float(est), logw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=16, help="sequences per minibatch")
    ap.add_argument("--repeat", type=int, default=8, help="paths per sequence in a minibatch")
    ap.add_argument("--paths", type=int, default=1000, help="paths per held-out sequence (importance weighting)")
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lead-in", type=float, default=1.0)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--latent-size", type=int, default=4)
    ap.add_argument("--context-size", type=int, default=64)
    ap.add_argument("--hidden-size", type=int, default=128)
    ap.add_argument("--lr-init", type=float, default=1e-2)
    ap.add_argument("--lr-gamma", type=float, default=0.997)
    ap.add_argument("--kl-anneal-iters", type=int, default=1000)
    ap.add_argument("--noise-std", type=float, default=0.01)
    ap.add_argument("--dt", type=float, default=1e-2)
    ap.add_argument("--learn-noise", action="store_true",
                    help="learn a decoder standard deviation per channel (from --noise-std) instead of fixing it")
    ap.add_argument("--per-sequence-out", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    train, data_size = read_sequences(a.train)
    test, test_size = read_sequences(a.test)
    if test_size != data_size:
        raise SystemExit(f"{a.test}: {test_size} value columns, {a.train} has {data_size}")
    model = LatentSDE(data_size, a.latent_size, a.context_size, a.hidden_size)
    if a.learn_noise:
        model.log_noise = nn.Parameter(torch.full((data_size,), math.log(a.noise_std)))
    opt = torch.optim.Adam(params=model.parameters(), lr=a.lr_init)
    sched = torch.optim.lr_scheduler.ExponentialLR(optimizer=opt, gamma=a.lr_gamma)
    kl = LinearScheduler(iters=a.kl_anneal_iters)
    step_ms, losses = [], []
    t_start = time.perf_counter()
    order = []
    for step in range(1, a.steps + 1):
        t0 = time.perf_counter()
        # Minibatches without replacement, a new permutation each epoch (as nsde-bench's sampler).
        if len(order) < a.batch_size:
            order = order + list(rng.permutation(len(train)))
        idx, order = order[: a.batch_size], order[a.batch_size:]
        ts, xs, mask = batch_tensors(train, idx, data_size, a.lead_in, a.time_scale, torch.float32)
        model.zero_grad()
        log_pxs, log_ratio = model(xs, mask, ts, a.noise_std, a.repeat, a.dt)
        loss = -log_pxs + log_ratio * kl.val
        loss.backward()
        opt.step()
        sched.step()
        kl.step()
        step_ms.append((time.perf_counter() - t0) * 1e3)
        losses.append(float((-log_pxs + log_ratio).detach()))
        if step % max(1, a.steps // 20) == 0:
            print(f"torchsde step {step}/{a.steps}: -ELBO {np.mean(losses[-50:]):.2f}, "
                  f"{np.median(step_ms[-50:]):.0f} ms/step", file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - t_start
    model = model.double()
    gen = torch.Generator().manual_seed(a.seed + 1)
    per_seq, per_seq_small, values = [], [], 0
    t_eval = time.perf_counter()
    for k, (name, times, vals) in enumerate(test):
        est, logw = importance_weighted(model, times, vals, a.paths, a.chunk, a.dt, a.noise_std, a.lead_in,
                                        a.time_scale, gen)
        per_seq.append(est)
        small = logw[: max(1, a.paths // 10)]
        per_seq_small.append(float(-(torch.logsumexp(small, 0) - math.log(len(small)))))
        values += int((~np.isnan(vals)).sum())
    per_seq = np.array(per_seq)
    n = len(per_seq)
    if a.per_sequence_out:
        with open(a.per_sequence_out + ".tmp", "w") as f:
            f.write("sequence,negative_log_likelihood\n")
            for (name, _, _), v in zip(test, per_seq):
                f.write(f"{name},{float(v)!r}\n")
        os.replace(a.per_sequence_out + ".tmp", a.per_sequence_out)
    steady = sorted(step_ms[min(10, len(step_ms) - 1):])
    print(json.dumps({
        "tool": "torchsde", "learned_noise": a.learn_noise,
        "noise_std": model.noise(a.noise_std).tolist() if a.learn_noise else a.noise_std, "torch": torch.__version__, "torchsde": torchsde.__version__, "threads": a.threads,
        "steps": a.steps, "train_seconds": train_seconds, "step_ms_median": steady[len(steady) // 2],
        "final_negative_elbo": float(np.mean(losses[-50:])),
        "negative_log_likelihood_per_sequence": float(per_seq.mean()),
        "negative_log_likelihood_per_sequence_se": float(per_seq.std(ddof=1) / math.sqrt(n)) if n > 1 else None,
        "negative_log_likelihood_per_value": float(per_seq.sum() / values),
        "paths_convergence_gap_per_sequence": float(np.mean(per_seq_small) - per_seq.mean()),
        "paths": a.paths, "held_out_sequences": n, "observed_values": values,
        "eval_seconds": time.perf_counter() - t_eval}))


if __name__ == "__main__":
    main()
