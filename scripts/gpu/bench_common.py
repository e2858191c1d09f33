"""What the GPU benchmark's steps share (bench.py): output folder and log, running commands,
the environment every MLX process gets (NVIDIA libraries, PTX cache), model folders, results."""
import glob
import json
import os
import site
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {"1b": "llama-3.2-1b", "8b": "llama-3.1-8b", "tiny": "tiny"}
STEPS = ["setup", "build", "models", "qmm", "qmv", "mlxlm", "engine", "gdb"]
OUT = os.environ.get("OUT") or os.path.abspath("gpu-out")
LOG = None  # bench.log, opened by open_log()


def open_log():
    global LOG
    os.makedirs(OUT, exist_ok=True)
    LOG = open(os.path.join(OUT, "bench.log"), "a")


def log(*parts):
    line = " ".join(str(p) for p in parts)
    print(line, flush=True)
    LOG.write(line + "\n")
    LOG.flush()


CRASHED = []  # models whose engine_bench died of a signal (a backtrace is taken)
CHILDREN = []  # processes this script started, ended by id when it is stopped (SIGTERM)


def on_term(signum, frame):
    for c in CHILDREN:
        if c.poll() is None:
            c.kill()
    log(f"stopped by signal {signum}; results so far are in results.json")
    sys.exit(128 + signum)


def sh(argv, env=None, cwd=None, timeout=None, logfile=None, check=True):
    """Runs a command, its output into bench.log (or logfile); returns its stdout text."""
    log("$", " ".join(argv))
    t0 = time.time()
    p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    CHILDREN.append(p)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        out += f"\n[bench.py] killed after {timeout} s\n"
    CHILDREN.remove(p)
    (logfile or LOG).write(out)
    (logfile or LOG).flush()
    log(f"  rc={p.returncode} in {time.time() - t0:.1f} s")
    if check and p.returncode != 0:
        print(out[-4000:], flush=True)
        raise RuntimeError(f"{argv[0]} failed with {p.returncode}")
    return out


# ---------------------------------------------------------------------------------------------
# Environment: where mlx was unpacked and the NVIDIA libraries it needs


def nvidia_lib_dirs():
    dirs = []
    for sp in site.getsitepackages():
        dirs += sorted(glob.glob(os.path.join(sp, "nvidia", "*", "lib")))
    return dirs


def child_env(a):
    env = dict(os.environ)
    libs = nvidia_lib_dirs() + [os.path.join(a.mlx_dir, "mlx", "lib"),
                                os.path.join(a.mlx_dir, "mlx_cuda_13.libs")]
    env["LD_LIBRARY_PATH"] = ":".join(libs + [p for p in [env.get("LD_LIBRARY_PATH")] if p])
    env["PYTHONPATH"] = ":".join([a.mlx_dir] + [p for p in [env.get("PYTHONPATH")] if p])
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    if a.ptx_cache:  # MLX's NVRTC output (default /tmp/mlx/VERSION/ptx): kept, and shipped back
        env["MLX_PTX_CACHE_DIR"] = a.ptx_cache
    return env


def seed_ptx_cache(a):
    """Unpacks a PTX cache that an earlier session brought back (--ptx-seed), so MLX skips
    compiling its JIT kernels again (they are keyed by kernel and MLX version; same GPU)."""
    if not a.ptx_cache:
        return
    os.makedirs(a.ptx_cache, exist_ok=True)
    if a.ptx_seed and os.path.exists(a.ptx_seed) and not os.listdir(a.ptx_cache):
        with tarfile.open(a.ptx_seed) as t:
            t.extractall(a.ptx_cache)
        log(f"PTX cache seeded from {a.ptx_seed}: {len(os.listdir(a.ptx_cache))} entries")


def ship_ptx_cache(a):
    """$OUT/ptx-cache.tar.gz, for the next session's .gpu-ptx/ (when it fits what comes back)."""
    if not a.ptx_cache or not os.path.isdir(a.ptx_cache) or not os.listdir(a.ptx_cache):
        return
    dst = os.path.join(OUT, "ptx-cache.tar.gz")
    with tarfile.open(dst, "w:gz") as t:
        for f in sorted(os.listdir(a.ptx_cache)):
            t.add(os.path.join(a.ptx_cache, f), arcname=f)
    size = os.path.getsize(dst)
    if size > 16 * 2**20:
        os.remove(dst)
        log(f"PTX cache is {size / 2**20:.0f} MiB compressed: over the 16 MiB a file may come back")
    else:
        log(f"PTX cache: {len(os.listdir(a.ptx_cache))} entries, {size / 2**20:.1f} MiB in {dst}")


def model_dir(a, name):
    return os.path.join(a.root, "models", f"{name}-{a.dtype}")


def save(results):
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
