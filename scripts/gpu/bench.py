#!/usr/bin/env python3
"""The GPU benchmark driver: mlx-native's engine_bench against mlx-lm, on the same
random-weight models, on an NVIDIA machine with no network. Run ON the device machine from
the repository root (scripts/gpu/README.md gives the exact `run` calls):

    python3 scripts/gpu/bench.py [--steps setup,build,models,qmv,mlxlm,engine] [--models 1b,8b]
                                 [--streams 1,16,64] [--trials 2] ...

Steps (any subset, always run in this order; skip what a still-warm machine already has):
  setup   joins the mlx-cuda-13 wheel parts, checks its sha256, unpacks it with the mlx and
          mlx-lm wheels into ROOT/mlx, and checks that mlx sees the GPU
  build   unpacks the source tarball (--src, a `git archive`) or uses --src-dir, and builds
          engine_bench against ROOT/mlx (runs while `models` makes the models)
  models  makes the random-weight 4-bit models under ROOT/models (make_model.py)
  qmm     scripts/gpu/qmm_bench.py: quantized_matmul per shape and row count
  qmv     qmv_test (built with engine_bench): the decode kernel's exactness check against
          quantized_matmul, then its µs and GB/s per shape and row count (qmv-*.log)
  mlxlm   python3 -m mlx_lm.benchmark per model and stream count
  engine  engine_bench per model: a `run` per stream count, then `profile` steps
  gdb     engine_bench under cuda-gdb, for a backtrace: when named, or by itself after the
          engine step when engine_bench died of a signal (unless --no-gdb)

Outputs under $OUT (at most 8 files come back): results.json, bench.log (everything, with
each child's output), build.log, ptx-cache.tar.gz (MLX's compiled JIT kernels, to carry next
time as .gpu-ptx/). The table is printed last.

The steps live in bench_build.py (setup, qmv, build, models) and bench_engine.py (engine, gdb),
what they share in bench_common.py; the mlx-lm step and the table are here.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import time

from bench_build import step_setup, step_qmv, start_build, step_models
from bench_common import (CRASHED, HERE, MODELS, OUT, STEPS, child_env, log, model_dir, on_term,
                          open_log, save, seed_ptx_cache, sh, ship_ptx_cache)
from bench_engine import step_engine, step_gdb

# ---------------------------------------------------------------------------------------------
# mlx-lm: its own benchmark script, on the same model directory


def parse_mlxlm(text):
    """mlx_lm.benchmark's 'Averages: prompt_tps=…, generation_tps=…, peak_memory=…' line."""
    trials = [line for line in text.splitlines() if line.startswith("Trial ")]
    for line in text.splitlines():
        if line.startswith("Averages:"):
            kv = dict(p.strip().split("=") for p in line[len("Averages:"):].split(","))
            return {k: float(v) for k, v in kv.items()} | {"trials": trials}
    raise RuntimeError("no Averages line in mlx_lm.benchmark output")


def mlxlm_runs(a, name, streams):
    """[(label, completion batch size or None)] for one stream count. mlx_lm.benchmark -b B
    runs batch_generate, whose BatchGenerator decodes at most completion_batch_size=32
    sequences at once: past 32 streams it runs waves. 'cbs=B' runs the same script with that
    limit raised to B (mlxlm_bench.py), i.e. all B streams decoded together."""
    runs = []
    if a.mlxlm_cbs in ("default", "both") or streams <= 32:
        runs.append(("mlx-lm", None))
    if a.mlxlm_cbs in ("streams", "both") and streams > 32:
        runs.append((f"mlx-lm cbs={streams}", streams))
    return runs


def step_mlxlm(a, names, results):
    for name in names:
        for s in a.streams:
            for label, cbs in mlxlm_runs(a, name, s):
                common = ["--model", model_dir(a, name), "-p", str(a.prompt_tokens),
                          "-g", str(a.gen_tokens), "-b", str(s), "-n", str(a.trials)]
                if cbs is None:
                    argv = [sys.executable, "-m", "mlx_lm.benchmark", *common]
                else:
                    argv = [sys.executable, os.path.join(HERE, "mlxlm_bench.py"),
                            "--completion-batch-size", str(cbs), *common]
                try:
                    out = sh(argv, env=child_env(a), timeout=a.step_timeout)
                    r = parse_mlxlm(out)
                except Exception as e:  # noqa: BLE001 -- keep going: a table with a hole
                    r = {"error": str(e)}
                log(f"  {label} {name} streams={s}:", json.dumps(r))
                results.setdefault(name, {}).setdefault(str(s), {})[label] = r
                save(results)


# ---------------------------------------------------------------------------------------------
# Results


def fmt(v, digits=0):
    return "-" if v is None else f"{v:.{digits}f}"


def table(a, names, results):
    """One row per (model, streams, mlx-lm variant, engine build)."""
    rows = []
    head = ["model", "streams", "engine", "mlx-lm tok/s", "engine tok/s", "engine/mlx-lm",
            "engine decode", "engine ttft ms", "mlx-lm prompt tok/s"]
    for name in names:
        res = results.get(name, {})
        for s in sorted({int(k) for k in res if k.isdigit()}):
            r = res[str(s)]
            refs = [k for k in r if k.startswith("mlx-lm")] or ["mlx-lm"]
            engines = [k for k in r if not k.startswith("mlx-lm")] or ["-"]
            for label in refs:
                m = r.get(label, {})
                ref = m.get("generation_tps")
                for en in engines:
                    e = r.get(en, {})
                    ratio = e.get("mlxlm_tps") / ref if ref and e.get("mlxlm_tps") else None
                    rows.append([name, f"{s}" + (f" ({label[7:]})" if label != "mlx-lm" else ""),
                                 en, fmt(ref), fmt(e.get("mlxlm_tps")), fmt(ratio, 2),
                                 fmt(e.get("decode_tps")), fmt(e.get("ttft_p50_ms"), 1),
                                 fmt(m.get("prompt_tps"))])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda r: "  ".join(str(x).rjust(w) for x, w in zip(r, widths))  # noqa: E731
    out = [line(head)] + [line(r) for r in rows]
    for name in names:
        res = results.get(name, {})
        for key, p in res.get("profile", {}).items():
            b = int(key.rsplit("=", 1)[1])
            out.append(f"{name} profile {key} context={a.profile_context}: " + (
                f"step {fmt(p.get('pipelinedStepMs'), 2)} ms pipelined "
                f"({fmt(p.get('buildMs'), 2)} build + {fmt(p.get('evalMs'), 2)} eval, sync) "
                f"= {fmt(b * 1000 / p['pipelinedStepMs'] if p.get('pipelinedStepMs') else None)} tok/s"
                if "error" not in p else p["error"]))
        for key, v in res.items():
            if key.endswith(" error"):
                out.append(f"{name} {key}: {v}")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--steps", default=",".join(STEPS[:-1]),
                    help="comma-separated subset of " + ",".join(STEPS) + " (default: all but gdb)")
    ap.add_argument("--models", default="1b", help="comma-separated: " + ",".join(MODELS))
    ap.add_argument("--streams", default="1,16,64")
    ap.add_argument("--prompt-tokens", type=int, default=32)
    ap.add_argument("--gen-tokens", type=int, default=256)
    ap.add_argument("--trials", type=int, default=2, help="timed runs per point, both systems")
    ap.add_argument("--dtype", default="bfloat16", help="model dtype (mlx-lm computes in it)")
    ap.add_argument("--engine-dtype", default="bfloat16",
                    help="engine_bench --dtype ('' = omit: engine default, float16 on GPU)")
    ap.add_argument("--engine-cli", default="model", choices=["flags", "model"],
                    help="model: --model DIR (engine_bench since 4cd5887); flags: the older "
                         "--format/--file/--hidden... (b5ded24 and before)")
    ap.add_argument("--engine-warmup-tokens", type=int, default=None,
                    help="tokens of the untimed run before each stream count (default: --gen-tokens)")
    ap.add_argument("--engine-label", default="engine",
                    help="name of this engine build in results.json and the table")
    ap.add_argument("--max-batch", type=int, default=0, help="default: the largest stream count")
    ap.add_argument("--prefill-chunk", type=int, default=0)
    ap.add_argument("--profile-batches", default="1,64")
    ap.add_argument("--profile-steps", type=int, default=32)
    ap.add_argument("--profile-context", type=int, default=160)
    ap.add_argument("--mlxlm-cbs", default="both", choices=["default", "streams", "both"],
                    help="past 32 streams: mlx_lm.benchmark as is (32 at a time), with "
                         "completion_batch_size=streams, or both")
    ap.add_argument("--root", default="/root")
    ap.add_argument("--parts", default="/root/gpu-parts/*,.gpu-mlxcuda-b/*")
    ap.add_argument("--wheels", default=".gpu-whl/*.whl")
    ap.add_argument("--src", default=".gpu-src/src.tar", help="git archive tarball to build")
    ap.add_argument("--src-dir", default="", help="build this tree instead (e.g. '.')")
    ap.add_argument("--mlx-dir", default="", help="default ROOT/mlx")
    ap.add_argument("--build-dir", default="", help="default ROOT/build")
    ap.add_argument("--llguidance", default="", help="llguidance folder (include/, lib/); "
                    "default ROOT/llguidance, unpacked from .gpu-llg/ by step setup")
    ap.add_argument("--ptx-cache", default="/root/ptx-cache",
                    help="MLX_PTX_CACHE_DIR for every MLX process ('' = MLX's default)")
    ap.add_argument("--ptx-seed", default=".gpu-ptx/ptx-cache.tar.gz",
                    help="a ptx-cache.tar.gz an earlier run brought back, unpacked first")
    ap.add_argument("--no-gdb", action="store_true",
                    help="no automatic cuda-gdb backtrace when engine_bench dies of a signal")
    ap.add_argument("--force-models", action="store_true")
    ap.add_argument("--build-type", default="Release", help="CMake build type (RelWithDebInfo for backtraces)")
    ap.add_argument("--step-timeout", type=int, default=400)
    a = ap.parse_args()
    a.mlx_dir = a.mlx_dir or os.path.join(a.root, "mlx")
    a.build_dir = a.build_dir or os.path.join(a.root, "build")
    a.llguidance = a.llguidance or os.path.join(a.root, "llguidance")
    a.streams = [int(x) for x in a.streams.split(",") if x]
    a.profile_batches = [int(x) for x in a.profile_batches.split(",") if x]
    if a.engine_warmup_tokens is None:
        a.engine_warmup_tokens = a.gen_tokens
    steps = [s for s in STEPS if s in a.steps.split(",")]
    names = [MODELS.get(m, m) for m in a.models.split(",") if m]
    os.makedirs(OUT, exist_ok=True)
    signal.signal(signal.SIGTERM, on_term)
    open_log()
    t_start = time.time()
    log(f"bench.py steps={steps} models={names} streams={a.streams} args={vars(a)}")
    sh(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem",
        "--format=csv"], check=False) if shutil.which("nvidia-smi") else None

    results_path = os.path.join(OUT, "results.json")
    results = json.load(open(results_path)) if os.path.exists(results_path) else {}
    results["_meta"] = {"args": {k: v for k, v in vars(a).items()}, "steps": steps}
    seed_ptx_cache(a)
    if "setup" in steps:
        step_setup(a)
    wait_build = start_build(a) if "build" in steps else None
    if "models" in steps:
        step_models(a, names)
    if wait_build:
        try:
            wait_build()  # before any timing: the build would take the CPU
        except RuntimeError as e:
            log(f"BUILD FAILED ({e}): the engine step is skipped; see build.log")
            steps = [s for s in steps if s != "engine"]
    if "qmm" in steps:  # quantized_matmul vs dequantize + matmul (scripts/gpu/qmm_bench.py)
        sh([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "qmm_bench.py")],
           env=child_env(a), timeout=a.step_timeout, check=False)
    if "qmv" in steps:
        step_qmv(a)
    if "mlxlm" in steps:
        step_mlxlm(a, names, results)
    if "engine" in steps:
        step_engine(a, names, results)
    if "gdb" in steps or (CRASHED and not a.no_gdb):
        step_gdb(a, names if "gdb" in steps else CRASHED)
    save(results)
    ship_ptx_cache(a)
    log(f"\ntotal {time.time() - t_start:.0f} s. tok/s = all generated tokens / (last token - "
        "first token), mlx-lm's definition; 'engine decode' leaves each stream's first token out.")
    log(table(a, names, results))


if __name__ == "__main__":
    main()
