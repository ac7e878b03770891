"""Runs the reference problem in nsde-bench and in every peer, in one session,
with the same weights, data, noise, thread count and dtype, and prints (and
writes to docs/PEERS.md) one side-by-side table. Called by scripts/compare-peers."""
import argparse, datetime, json, os, platform, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, ".build", "release", "nsde-bench")
PEERS = ["torch-loop", "torchsde", "torchsde-adjoint", "jax-scan", "diffrax"]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True)
    ap.add_argument("--paths", default="1024,4096")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--write", default=os.path.join(ROOT, "docs", "PEERS.md"))
    a = ap.parse_args()
    rows = []
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads),
               XLA_FLAGS=f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={a.threads}")
    for dtype in a.dtypes.split(","):
        swift_dtype = "double" if dtype == "float64" else "float"
        for m in [int(x) for x in a.paths.split(",")]:
            d = tempfile.mkdtemp(prefix=f"nsde-peers-{dtype}-{m}-")
            run([BENCH, "gradient", "--export-dir", d, "--paths", str(m), "--dtype", swift_dtype])
            ours = json.loads(run([BENCH, "gradient", "--params", f"{d}/params.safetensors", "--data", f"{d}/data.npy",
                                   "--noise", f"{d}/noise.npy", "--gradient-out", f"{d}/grad.safetensors", "--json",
                                   "--paths", str(m), "--dtype", swift_dtype]))
            print(f"[{dtype} M={m}] nsde-bench loss {ours['loss']!r}", file=sys.stderr)
            rep = json.loads(run([BENCH, "report", "--paths", str(m), "--dtype", swift_dtype, "--json",
                                  "--repetitions", str(a.reps), "--pathwise-directions", "4"]))
            r = rep["results"][swift_dtype]
            base = {"tool": "nsde-bench (backprop)", "dtype": dtype, "paths": m, "forward_ms": r["forward_ms"],
                    "gradient_ms": r["gradient_ms"]["backprop"], "memory_bytes": r["peak_memory_bytes"],
                    "loss_rel_diff": 0.0, "gradient_rel_diff": 0.0, "floor_fwd": r["gemm_floor_forward_ms"],
                    "floor_grad": r["gemm_floor_gradient_ms"], "roofline": r["roofline"]}
            rows.append(base)
            for peer in a.peers.split(","):
                reps = max(2, a.reps // 4) if peer == "torchsde-adjoint" else a.reps
                try:
                    out = run([a.python, os.path.join(ROOT, "scripts", "peers", "reference_problem.py"), peer, d,
                               "--dtype", dtype, "--reps", str(reps), "--threads", str(a.threads),
                               "--expected-loss", repr(ours["loss"]), "--expected-gradient", f"{d}/grad.safetensors"],
                              env=env)
                    res = json.loads(out.strip().splitlines()[-1])
                except subprocess.CalledProcessError as e:
                    print(f"[{dtype} M={m}] {peer} failed: {e.stdout[-500:]} {e.stderr[-500:]}", file=sys.stderr)
                    continue
                rows.append({"tool": peer, "dtype": dtype, "paths": m, "forward_ms": res["forward"]["median_ms"],
                             "gradient_ms": res["gradient"]["median_ms"], "memory_bytes": res["peak_extra_rss_bytes"],
                             "loss_rel_diff": res["loss_rel_diff"], "gradient_rel_diff": res.get("gradient_rel_diff"),
                             "compile_ms": res["first_call_ms"]})
                print(f"[{dtype} M={m}] {peer}: forward {res['forward']['median_ms']:.1f} ms, gradient "
                      f"{res['gradient']['median_ms']:.1f} ms", file=sys.stderr)
    table = render(rows, a)
    print(table)
    if a.write:
        with open(a.write + ".tmp", "w") as f:
            f.write(table)
        os.replace(a.write + ".tmp", a.write)


def render(rows, a):
    versions = subprocess.run([a.python, "-c", "import torch, torchsde, jax, diffrax; print(f'torch {torch.__version__}, torchsde {torchsde.__version__}, jax {jax.__version__}, diffrax {diffrax.__version__}')"],
                              capture_output=True, text=True).stdout.strip()
    blas = subprocess.run([BENCH, "report", "--help"], capture_output=True, text=True)
    machine = json.loads(subprocess.run([BENCH, "gradient", "--export-dir", tempfile.mkdtemp(), "--paths", "4", "--json"],
                                        capture_output=True, text=True).stdout or "{}")
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    lines = [
        "# Side-by-side benchmark: the reference problem in nsde-bench and its peers",
        "",
        f"Generated by `scripts/compare-peers` on {datetime.date.today().isoformat()}, machine: {cpu}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}; OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; {versions}; Python {platform.python_version()}; "
        f"{a.threads} threads for every tool (nsde-bench: 1 BLAS thread, rows split over the cores).",
        "",
        "Reference problem of docs/REFERENCE-PROBLEM.md: d = 16, H = 64, N = 50, K = 4, diagonal noise, two moons. Every tool "
        "loads the same weights, data and noise increments; its loss is checked against nsde-bench's before "
        "timing (column *loss diff*), and for the exact gradients the gradient too (*grad diff*: relative "
        "2-norm difference). Medians of the timed repetitions after a warm-up (jitted code after compilation). "
        "*memory*: nsde-bench's gradient workspace (tapes and buffers); for peers the growth of the "
        "process's peak RSS during the run (an upper bound on their gradient memory). *× nsde*: the tool's gradient time over "
        "nsde-bench's. *fwd / FLOP floor*, *grad / FLOP floor*: the time over the time the same FLOPs "
        "(counted from the networks' shapes) take at the FMA peak of all cores, measured by nsde-bench's "
        "in-process probe in the same run (the roofline: 1.0 is the hardware's limit).",
        "",
        "| dtype | M | tool | forward ms | gradient ms | × nsde (gradient) | fwd / FLOP floor | grad / FLOP floor | path-steps/s (forward) | memory | loss diff | grad diff |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ours = next(x for x in rows if x["dtype"] == r["dtype"] and x["paths"] == r["paths"] and x["tool"].startswith("nsde"))
        gd = r.get("gradient_rel_diff")
        roof = ours["roofline"]
        peak = roof["fma_peak_gflops_per_core"] * roof["cores"]  # GFLOP/s = FLOP/ns
        fwd_floor_ms = roof["forward_gflop"] / peak * 1e3
        grad_floor_ms = roof["gradient_gflop"] / peak * 1e3
        lines.append(
            f"| {r['dtype']} | {r['paths']} | {r['tool']} | {r['forward_ms']:.1f} | {r['gradient_ms']:.1f} | "
            f"{r['gradient_ms'] / ours['gradient_ms']:.2f} | {r['forward_ms'] / fwd_floor_ms:.2f} | "
            f"{r['gradient_ms'] / grad_floor_ms:.2f} | {r['paths'] * 50 / (r['forward_ms'] / 1e3):.3g} | "
            f"{r['memory_bytes'] / 2**20:.0f} MiB | {r['loss_rel_diff']:.1e} | {'—' if gd is None else f'{gd:.1e}'} |")
    lines += ["", "GEMM floors measured in the same run by nsde-bench (forward / gradient, ms; nsde-bench's time "
              "over them in parentheses): " + ", ".join(
        f"{r['dtype']} M={r['paths']}: {r['floor_fwd']:.1f} ({r['forward_ms'] / r['floor_fwd']:.2f}×) / "
        f"{r['floor_grad']:.1f} ({r['gradient_ms'] / r['floor_grad']:.2f}×)" for r in rows if r["tool"].startswith("nsde")),
        "", "FMA peak per core measured in the same run (GFLOP/s): " + ", ".join(
        f"{r['dtype']} M={r['paths']}: {r['roofline']['fma_peak_gflops_per_core']:.1f}" for r in rows
        if r["tool"].startswith("nsde")), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
