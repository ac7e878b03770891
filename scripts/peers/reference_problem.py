"""The reference problem of docs/REFERENCE-PROBLEM.md in the peers: a plain PyTorch loop,
torchsde (sdeint with backprop, and sdeint_adjoint), a jitted jax.lax.scan
loop and diffrax (Euler). Every peer loads the same weights, data and noise
(exported by `nsde-bench gradient --export-dir`), its loss is checked against
nsde-bench's before anything is timed, and it prints one JSON line.

Usage: python reference_problem.py PEER DIR --dtype float64 --reps 10 --threads 2
"""
import argparse, json, math, os, resource, sys, time

import numpy as np
from safetensors.numpy import load_file

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
STD = 0.1


def load(dir_, dtype):
    p = {k: v.astype(dtype) for k, v in load_file(os.path.join(dir_, "params.safetensors")).items()}
    y = np.load(os.path.join(dir_, "data.npy")).astype(dtype)
    dw = np.load(os.path.join(dir_, "noise.npy")).astype(dtype)
    return p, y, dw


def timed(fn, reps):
    fn()  # warm-up (and compilation for jitted peers)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    ts.sort()
    return {"median_ms": ts[len(ts) // 2] if len(ts) % 2 else 0.5 * (ts[len(ts) // 2 - 1] + ts[len(ts) // 2]),
            "min_ms": ts[0], "max_ms": ts[-1], "repetitions": reps}


# ---------------------------------------------------------------- PyTorch
def torch_setup(p, y, dw, threads):
    import torch
    torch.set_num_threads(threads)
    T = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    Y = torch.tensor(y)
    DW = torch.tensor(dw)
    n, m, d = dw.shape
    k = m // y.shape[0]
    h = 1.0 / n

    def lin(x, name):
        return x @ T[name + ".weight"].T + T[name + ".bias"]

    def mlp(x, net, layers, last=None):
        for i in range(layers):
            x = lin(x, f"{net}.{i}")
            if i < layers - 1:
                x = torch.tanh(x)
        return torch.nn.functional.softplus(x) if last == "softplus" else x

    def with_t(x, t):
        return torch.cat([x, torch.full((x.shape[0], 1), t, dtype=x.dtype)], 1)

    def control(i):
        return mlp(with_t(Y, i * h), "posterior", 3)

    def terminal_loss(x, kl):
        mean = lin(x, "decoder.0")
        yy = Y.repeat_interleave(k, 0)
        nll = (0.5 * ((yy - mean) / STD) ** 2 + math.log(STD) + LOG_SQRT_2PI).sum(1).mean()
        return kl + nll

    def loop_loss():
        x = torch.zeros(m, d, dtype=Y.dtype)
        kl = 0.0
        for i in range(n):
            u = control(i)
            kl = kl + 0.5 * h * (u ** 2).sum(1).mean()
            xt = with_t(x, i * h)
            b = mlp(xt, "drift", 3)
            s = mlp(xt, "diffusion", 2, "softplus")
            x = x + h * (b + s * u.repeat_interleave(k, 0)) + s * DW[i]
        return terminal_loss(x, kl)

    def torchsde_loss(adjoint):
        import torchsde

        class Increments(torchsde.BaseBrownian):
            def __call__(self, ta, tb=None, return_U=False, return_A=False):
                ta = float(ta)
                tb = ta + h if tb is None else float(tb)
                lo, sign = (ta, 1.0) if ta <= tb else (tb, -1.0)
                if abs(tb - ta) < 0.5 * h:  # a rounding sliver of a step (float32 time arithmetic)
                    return torch.zeros(m, d, dtype=Y.dtype)
                return sign * DW[min(max(int(round(lo / h)), 0), n - 1)]
            def __repr__(self): return "Increments"
            dtype = property(lambda self: Y.dtype)
            device = property(lambda self: Y.device)
            shape = property(lambda self: (m, d))
            levy_area_approximation = property(lambda self: "none")

        U = torch.stack([control(i) for i in range(n)]).repeat_interleave(k, 1)
        kl = 0.5 * h * (U[:, ::k] ** 2).sum(2).mean(1).sum()

        class SDE(torch.nn.Module):
            noise_type, sde_type = "diagonal", "ito"
            def f(self, t, x):
                xt = with_t(x, float(t))
                return mlp(xt, "drift", 3) + mlp(xt, "diffusion", 2, "softplus") * U[min(int(round(float(t) / h)), n - 1)]
            def g(self, t, x):
                return mlp(with_t(x, float(t)), "diffusion", 2, "softplus")

        ts = torch.linspace(0, 1, n + 1, dtype=Y.dtype)
        x0 = torch.zeros(m, d, dtype=Y.dtype)
        if adjoint:
            xs = torchsde.sdeint_adjoint(SDE(), x0, ts, bm=Increments(), method="euler", dt=h,
                                         adjoint_params=tuple(T.values()))
        else:
            xs = torchsde.sdeint(SDE(), x0, ts, bm=Increments(), method="euler", dt=h)
        return terminal_loss(xs[-1], kl)

    def make(kind):
        f = {"torch-loop": loop_loss, "torchsde": lambda: torchsde_loss(False),
             "torchsde-adjoint": lambda: torchsde_loss(True)}[kind]

        def forward():
            with torch.no_grad():
                return float(f())

        def gradient():
            for v in T.values():
                v.grad = None
            loss = f()
            loss.backward()
            return float(loss)

        def grads():
            gradient()
            return {k: v.grad.detach().numpy() for k, v in T.items()}
        return forward, gradient, grads
    return make


# ---------------------------------------------------------------- JAX
def jax_setup(p, y, dw, threads):
    import jax
    import jax.numpy as jnp
    P = {k: jnp.asarray(v) for k, v in p.items()}
    Y, DW = jnp.asarray(y), jnp.asarray(dw)
    n, m, d = dw.shape
    k = m // y.shape[0]
    h = 1.0 / n

    def lin(P, x, name):
        return x @ P[name + ".weight"].T + P[name + ".bias"]

    def mlp(P, x, net, layers, last=None):
        for i in range(layers):
            x = lin(P, x, f"{net}.{i}")
            if i < layers - 1:
                x = jnp.tanh(x)
        return jax.nn.softplus(x) if last == "softplus" else x

    def with_t(x, t):
        return jnp.concatenate([x, jnp.full((x.shape[0], 1), t, dtype=x.dtype)], 1)

    def terminal(P, x, kl):
        mean = lin(P, x, "decoder.0")
        yy = jnp.repeat(Y, k, 0)
        return kl + (0.5 * ((yy - mean) / STD) ** 2 + jnp.log(STD) + LOG_SQRT_2PI).sum(1).mean()

    def scan_loss(P):
        def step(carry, inp):
            x, kl = carry
            i, dwi = inp
            t = i * h
            u = mlp(P, with_t(Y, t), "posterior", 3)
            xt = with_t(x, t)
            b = mlp(P, xt, "drift", 3)
            s = mlp(P, xt, "diffusion", 2, "softplus")
            x = x + h * (b + s * jnp.repeat(u, k, 0)) + s * dwi
            return (x, kl + 0.5 * h * (u ** 2).sum(1).mean()), None
        (x, kl), _ = jax.lax.scan(step, (jnp.zeros((m, d), Y.dtype), jnp.zeros((), Y.dtype)),
                                  (jnp.arange(n, dtype=Y.dtype), DW))
        return terminal(P, x, kl)

    def diffrax_loss(P):
        import diffrax, lineax
        ts = jnp.arange(n, dtype=Y.dtype) * h
        U = jax.vmap(lambda t: mlp(P, with_t(Y, t), "posterior", 3))(ts)  # n × B × d
        kl = 0.5 * h * (U ** 2).sum(2).mean(1).sum()
        Up = jnp.repeat(U, k, 1)

        class Increments(diffrax.AbstractPath):
            t0: float
            t1: float

            def evaluate(self, t0, t1=None, left=True):
                return DW[jnp.clip(jnp.round(t0 / h).astype(jnp.int32), 0, n - 1)].reshape(-1)

        def drift(t, x, args):
            xm = x.reshape(m, d)
            xt = with_t(xm, t)
            s = mlp(P, xt, "diffusion", 2, "softplus")
            return (mlp(P, xt, "drift", 3) + s * Up[jnp.clip(jnp.round(t / h).astype(jnp.int32), 0, n - 1)]).reshape(-1)

        def diffusion(t, x, args):
            return lineax.DiagonalLinearOperator(mlp(P, with_t(x.reshape(m, d), t), "diffusion", 2, "softplus").reshape(-1))

        terms = diffrax.MultiTerm(diffrax.ODETerm(drift), diffrax.ControlTerm(diffusion, Increments(t0=0.0, t1=1.0)))
        sol = diffrax.diffeqsolve(terms, diffrax.Euler(), 0.0, 1.0, h, jnp.zeros(m * d, Y.dtype),
                                  saveat=diffrax.SaveAt(t1=True), max_steps=n + 1,
                                  adjoint=diffrax.RecursiveCheckpointAdjoint())
        return terminal(P, sol.ys[-1].reshape(m, d), kl)

    def make(kind):
        f = {"jax-scan": scan_loss, "diffrax": diffrax_loss}[kind]
        fwd = jax.jit(f)
        grad = jax.jit(jax.value_and_grad(f))

        def forward():
            return float(fwd(P).block_until_ready())

        def gradient():
            v, g = grad(P)
            jax.block_until_ready(g)
            return float(v)

        def grads():
            return {k: np.asarray(v) for k, v in grad(P)[1].items()}
        return forward, gradient, grads
    return make


def gradient_difference(grads, path):
    """‖g_peer − g_nsde‖ / ‖g_nsde‖ over all parameters (same weights, data and noise)."""
    ours = load_file(path)
    num = sum(float(((np.asarray(grads[k], np.float64) - ours[k].astype(np.float64)) ** 2).sum()) for k in ours)
    den = sum(float((ours[k].astype(np.float64) ** 2).sum()) for k in ours)
    return math.sqrt(num / den)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("peer")
    ap.add_argument("dir")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--expected-loss", type=float, required=True)
    ap.add_argument("--expected-gradient", help="nsde-bench's gradient (safetensors) to compare with")
    a = ap.parse_args()
    dtype = np.float64 if a.dtype == "float64" else np.float32
    p, y, dw = load(a.dir, dtype)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if a.peer.startswith("torch"):
        make = torch_setup(p, y, dw, a.threads)
    else:
        import jax
        jax.config.update("jax_enable_x64", a.dtype == "float64")
        make = jax_setup(p, y, dw, a.threads)
    forward, gradient, grads = make(a.peer)
    t0 = time.perf_counter()
    loss = forward()
    first_ms = (time.perf_counter() - t0) * 1e3
    rel = abs(loss - a.expected_loss) / abs(a.expected_loss)
    tol = 1e-9 if dtype == np.float64 else 1e-3
    out = {"peer": a.peer, "dtype": a.dtype, "loss": loss, "expected_loss": a.expected_loss, "loss_rel_diff": rel,
           "loss_matches": rel <= tol, "first_call_ms": first_ms}
    if rel > tol:
        print(json.dumps(out))
        sys.exit(2)
    if a.expected_gradient:
        out["gradient_rel_diff"] = gradient_difference(grads(), a.expected_gradient)
    out["forward"] = timed(forward, a.reps)
    out["gradient"] = timed(gradient, a.reps)
    out["peak_extra_rss_bytes"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) * 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
