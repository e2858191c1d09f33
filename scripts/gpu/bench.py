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
"""
import argparse
import glob
import hashlib
import json
import os
import queue
import random
import shlex
import shutil
import signal
import site
import statistics
import subprocess
import sys
import tarfile
import threading
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {"1b": "llama-3.2-1b", "8b": "llama-3.1-8b", "tiny": "tiny"}
STEPS = ["setup", "build", "models", "qmm", "qmv", "mlxlm", "engine", "gdb"]
OUT = os.environ.get("OUT") or os.path.abspath("gpu-out")
LOG = None


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


def step_setup(a):
    os.makedirs(a.mlx_dir, exist_ok=True)
    parts = []
    for pattern in a.parts.split(","):
        parts += glob.glob(pattern)
    parts = sorted(set(parts), key=os.path.basename)
    log("wheel parts:", parts)
    want = open(os.path.join(HERE, "mlx-cuda-13.sha256")).read().split()[0]
    h = hashlib.sha256()
    wheel = os.path.join(a.root, "mlx_cuda_13.whl")
    with open(wheel, "wb") as out:
        for p in parts:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 24):
                    h.update(chunk)
                    out.write(chunk)
    if h.hexdigest() != want:
        raise RuntimeError(f"joined wheel sha256 {h.hexdigest()} != {want}: a part is missing "
                           "(part one is copied to /root by the first call; was the second "
                           "call more than 30 s later?)")
    wheels = [wheel] + sorted(glob.glob(a.wheels))
    for w in wheels:
        t0 = time.time()
        zipfile.ZipFile(w).extractall(a.mlx_dir)
        log(f"unpacked {os.path.basename(w)} in {time.time() - t0:.1f} s")
    # libmlx's RPATH looks for $ORIGIN/../../nvidia/*/lib: point that at the image's wheels.
    link = os.path.join(a.mlx_dir, "nvidia")
    for sp in site.getsitepackages():
        if os.path.isdir(os.path.join(sp, "nvidia")) and not os.path.exists(link):
            os.symlink(os.path.join(sp, "nvidia"), link)
    llg_tar = ".gpu-llg/llguidance.tar.gz"
    if os.path.exists(llg_tar):
        with tarfile.open(llg_tar) as t:
            t.extractall(os.path.dirname(a.llguidance))
        log("unpacked", llg_tar, "into", a.llguidance)
    sh([sys.executable, "-c", "import mlx.core as mx; print('mlx', mx.__version__, "
        "mx.default_device(), mx.array([1.0, 2.0]).sum().item())"], env=child_env(a))


def step_qmv(a):
    """The decode kernel (native/tools/qmv_test.cpp): exactness against quantized_matmul for
    every format (qmv-check.log), then µs and GB/s per call for Llama-3.1-8B's projections at
    1-64 rows against quantized_matmul (qmv-bench.log; the table is printed)."""
    binary = os.path.join(a.build_dir, "qmv_test")
    if not os.path.exists(binary):
        log("qmv: no", binary, "(a commit without native/tools/qmv_test.cpp?)")
        return
    # The check, one process per bit width side by side (most of its time is NVRTC compiling
    # a kernel per format and row tile, single-threaded), then the bench alone on the GPU.
    t0 = time.time()
    env = child_env(a)
    procs = [subprocess.Popen([binary, "check", "--bits", str(b)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for b in (2, 3, 4, 5, 6, 8)]
    outs = []
    for p in procs:
        try:
            outs.append(p.communicate(timeout=a.step_timeout)[0])
        except subprocess.TimeoutExpired:
            p.kill()
            outs.append(p.communicate()[0] + "\n[bench.py] killed\n")
    text = "".join(outs)
    open(os.path.join(OUT, "qmv-check.log"), "w").write(text)
    summary = [l for l in text.splitlines() if l.startswith("FAIL") or " passed, " in l]
    log(f"qmv check in {time.time() - t0:.0f} s:\n" + "\n".join(summary[:40]))
    with open(os.path.join(OUT, "qmv-bench.log"), "w") as f:
        out = sh([binary, "bench"], env=env, timeout=a.step_timeout, logfile=f, check=False)
    log(out)


# ---------------------------------------------------------------------------------------------
# Build


def start_build(a):
    """Starts configure + build of engine_bench; returns a function that waits for it."""
    if a.src_dir:
        src = os.path.abspath(a.src_dir)
    else:
        src = os.path.join(a.root, "src")
        shutil.rmtree(src, ignore_errors=True)
        with tarfile.open(a.src) as t:
            t.extractall(src)
    cudnn_h = (glob.glob(os.path.join(a.mlx_dir, "nvidia", "cudnn", "include", "cudnn.h")) +
               [h for sp in site.getsitepackages()
                for h in glob.glob(os.path.join(sp, "nvidia", "*", "include", "cudnn.h"))])
    configure = ["cmake", "-S", src, "-B", a.build_dir, "-G", "Ninja",
                 f"-DCMAKE_BUILD_TYPE={a.build_type}",
                 f"-DMLX_DIR={os.path.join(a.mlx_dir, 'mlx', 'share', 'cmake', 'MLX')}",
                 # libmlx's own NEEDED libraries are found at run time (LD_LIBRARY_PATH)
                 "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined"]
    if cudnn_h:  # MLX's CUDA config looks for cuDNN; the image has it as a pip wheel
        inc = os.path.dirname(cudnn_h[0])
        configure += [f"-DCUDNN_INCLUDE_PATH={inc}",
                      f"-DCUDNN_LIBRARY_PATH={os.path.join(os.path.dirname(inc), 'lib')}"]
    llg = a.llguidance  # prepare.sh: the static library built here, unpacked by step setup
    if os.path.exists(os.path.join(llg, "include", "llguidance.h")):
        configure.append(f"-DLLGUIDANCE_DIR={llg}")
    nlohmann = os.path.join(a.mlx_dir, "nlohmann_json", "include")  # from .gpu-whl (setup)
    if os.path.exists(os.path.join(nlohmann, "nlohmann", "json.hpp")):
        configure.append(f"-DNLOHMANN_JSON_INCLUDE_DIR={nlohmann}")
    if not shutil.which("nvcc"):  # MLX's config needs the CUDA toolkit (CUDAToolkit)
        nvcc = sorted(glob.glob("/usr/local/cuda*/bin/nvcc"))
        if nvcc:
            configure.append(f"-DCUDAToolkit_ROOT={os.path.dirname(os.path.dirname(nvcc[-1]))}")
    targets = ["engine_bench"]
    for tool in ("qmv_test", "fused_test"):  # the engine's CUDA kernels: checks and benches
        if os.path.exists(os.path.join(src, "native", "tools", tool + ".cpp")):
            targets.append(tool)
    build = ["cmake", "--build", a.build_dir, "--target", *targets,
             "-j", str(os.cpu_count() or 8)]
    blog = open(os.path.join(OUT, "build.log"), "w")
    result = {}

    def work():
        try:
            env = child_env(a)
            if os.path.exists(os.path.join(a.build_dir, "CMakeCache.txt")) and not a.src_dir:
                shutil.rmtree(a.build_dir)  # a fresh tree from the tarball: build it clean
            sh(configure, env=env, logfile=blog)
            sh(build, env=env, logfile=blog)
            result["ok"] = True
        except Exception as e:  # noqa: BLE001
            result["error"] = str(e)

    t = threading.Thread(target=work)
    t.start()

    def wait():
        t.join()
        blog.close()
        if "error" in result:
            print(open(os.path.join(OUT, "build.log")).read()[-6000:], flush=True)
            raise RuntimeError("build failed: " + result["error"])
        log("built", os.path.join(a.build_dir, "engine_bench"))

    return wait


# ---------------------------------------------------------------------------------------------
# Models


def model_dir(a, name):
    return os.path.join(a.root, "models", f"{name}-{a.dtype}")


def step_models(a, names):
    for name in names:
        d = model_dir(a, name)
        if os.path.exists(os.path.join(d, "config.json")) and not a.force_models:
            log("model exists:", d)
            continue
        sh([sys.executable, os.path.join(HERE, "make_model.py"), name, d, "--dtype", a.dtype],
           env=child_env(a), timeout=900)


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
# engine_bench


def legacy_model_flags(d):
    """The committed engine_bench's flags (src/bench/systems/engine-binary.ts: engineFlags,
    src/engine/model-spec.ts: nativeConfig), from an MLX model directory's config.json."""
    c = json.load(open(os.path.join(d, "config.json")))
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = sorted(f for f in os.listdir(d) if f.endswith(".safetensors"))
    heads, hidden = c["num_attention_heads"], c["hidden_size"]
    flags = ["--format", "mlx"]
    for f in files:
        flags += ["--file", os.path.join(d, f)]

    def add(k, v):
        flags.extend([f"--{k}", ("1" if v else "0") if isinstance(v, bool) else str(v)])

    add("arch", c["model_type"])
    add("hidden", hidden)
    add("intermediate", c["intermediate_size"])
    add("layers", c["num_hidden_layers"])
    add("heads", heads)
    add("kv-heads", c.get("num_key_value_heads", heads))
    add("head-dim", c.get("head_dim") or hidden // heads)
    add("vocab", c["vocab_size"])
    add("context", c.get("max_position_embeddings", 4096))
    add("eps", c.get("rms_norm_eps", 1e-6))
    add("rope-theta", c.get("rope_theta", 10000))
    add("rope-traditional", bool(c.get("rope_traditional", False)))
    add("tie", c.get("tie_word_embeddings") is not False)
    rs = c.get("rope_scaling")
    if rs:
        t = rs.get("rope_type") or rs.get("type")
        if t in ("llama3", "linear"):
            add("rope-scaling", t)
            add("rope-factor", rs.get("factor", 1))
            add("rope-low-freq", rs.get("low_freq_factor", 1))
            add("rope-high-freq", rs.get("high_freq_factor", 4))
            add("rope-original-max", rs.get("original_max_position_embeddings", 8192))
    return flags


def engine_argv(a, binary, d, max_batch):
    """THE engine_bench command line. --engine-cli model: the new CLI (config from DIR)."""
    if a.engine_cli == "model":
        argv = [binary, "--model", d]
    else:
        argv = [binary, *legacy_model_flags(d)]
    argv += ["--max-batch", str(max_batch)]
    if a.prefill_chunk:
        argv += ["--prefill-chunk", str(a.prefill_chunk)]
    if a.engine_dtype:
        argv += ["--dtype", a.engine_dtype]
    return argv


class Engine:
    """engine_bench over its line protocol: one JSON line per command."""

    def __init__(self, argv, env, errlog):
        log("$", " ".join(argv))
        self.p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=errlog, text=True, bufsize=1)
        CHILDREN.append(self.p)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def reply(self, timeout):
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise RuntimeError(f"engine_bench exited (rc={self.p.wait()})")
        r = json.loads(line)
        if "error" in r:
            raise RuntimeError("engine_bench: " + r["error"])
        return r

    def request(self, cmd, timeout):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.reply(timeout)

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
            self.p.wait(timeout=30)
        except Exception:  # noqa: BLE001
            self.p.kill()


def engine_figures(reply):
    """Rates from per-token times (ms after the submit), as src/bench/stats.ts computes them.
    decode_tps: tokens after each stream's first / (last token of any stream - earliest first
    token): the engine bench's own definition. mlxlm_tps: ALL tokens over the same span,
    which is how mlx-lm counts (stream_generate: n / (t_last - t_first); batch_generate:
    generated tokens / (wall - prompt time)); it is (N)/(N-S) times decode_tps."""
    st = [s for s in reply["streams"] if s["tokenMs"]]
    errors = [s.get("error") for s in reply["streams"] if s.get("error")]
    total = sum(len(s["tokenMs"]) for s in st)
    first = min(s["tokenMs"][0] for s in st)
    last = max(s["tokenMs"][-1] for s in st)
    span = (last - first) / 1000
    ttfts = sorted(s["tokenMs"][0] for s in st)
    return {
        "streams": len(reply["streams"]), "tokens": total, "wallMs": reply["wallMs"],
        "decode_tps": (total - len(st)) / span if span > 0 else None,
        "mlxlm_tps": total / span if span > 0 else None,
        "output_tps": total / (reply["wallMs"] / 1000),
        "ttft_p50_ms": ttfts[len(ttfts) // 2], "ttft_max_ms": ttfts[-1],
        "errors": errors[:3],
    }


def step_engine(a, names, results):
    binary = os.path.join(a.build_dir, "engine_bench")
    rng = random.Random(0)
    for name in names:
        d = model_dir(a, name)
        vocab = json.load(open(os.path.join(d, "config.json")))["vocab_size"]
        prompts = lambda n: " | ".join(  # noqa: E731
            " ".join(str(rng.randrange(vocab)) for _ in range(a.prompt_tokens)) for _ in range(n))
        max_batch = a.max_batch or max(a.streams + a.profile_batches)
        errlog = open(os.path.join(OUT, "bench.log"), "a")
        eng = Engine(engine_argv(a, binary, d, max_batch), child_env(a), errlog)
        res = results.setdefault(name, {})
        try:
            ready = eng.reply(timeout=a.step_timeout)
            log(f"  engine ready: {json.dumps(ready)}")
            res[f"{a.engine_label} ready"] = ready
            for s in a.streams:
                try:
                    if a.engine_warmup_tokens:
                        eng.request(f"run {a.engine_warmup_tokens} {prompts(s)}", a.step_timeout)
                    trials = []
                    for _ in range(a.trials):
                        r = engine_figures(eng.request(f"run {a.gen_tokens} {prompts(s)}",
                                                       a.step_timeout))
                        log(f"  {a.engine_label} {name} streams={s}: {json.dumps(r)}")
                        trials.append(r)
                    agg = {k: statistics.median(t[k] for t in trials)
                           for k in ("decode_tps", "mlxlm_tps", "output_tps", "ttft_p50_ms")
                           if all(t[k] is not None for t in trials)}
                    res.setdefault(str(s), {})[a.engine_label] = agg | {"trials": trials}
                except Exception as e:  # noqa: BLE001
                    log(f"  engine {name} streams={s} failed: {e}")
                    res.setdefault(str(s), {})[a.engine_label] = {"error": str(e)}
                save(results)
            for b in a.profile_batches:
                try:
                    p = eng.request(f"profile {a.profile_steps} {a.profile_context} {b}",
                                    a.step_timeout)
                    log(f"  {a.engine_label} profile {name} batch={b}: {json.dumps(p)}")
                except Exception as e:  # noqa: BLE001
                    p = {"error": str(e)}
                res.setdefault("profile", {})[f"{a.engine_label} batch={b}"] = p
                save(results)
            res[f"{a.engine_label} memory"] = eng.request("memory", 60)
        except Exception as e:  # noqa: BLE001
            log(f"  {a.engine_label} {name} failed: {e}")
            res[f"{a.engine_label} error"] = str(e)
            if eng.p.poll() is not None and eng.p.returncode < 0:
                CRASHED.append(name)  # killed by a signal: main() reruns it under cuda-gdb
        finally:
            eng.close()
            errlog.close()
        save(results)


def step_gdb(a, names):
    """engine_bench under cuda-gdb (the image has no gdb): a backtrace when it crashes. It
    loads the model, runs one short request and quits."""
    binary = os.path.join(a.build_dir, "engine_bench")
    gdb = shutil.which("cuda-gdb") or shutil.which("gdb") or "/usr/local/cuda/bin/cuda-gdb"
    for name in names:
        max_batch = a.max_batch or max(a.streams + a.profile_batches)
        argv = engine_argv(a, binary, model_dir(a, name), max_batch)
        script = os.path.join(a.root, "gdb-input.txt")
        with open(script, "w") as f:
            f.write("run 8 " + " ".join(str(100 + i) for i in range(a.prompt_tokens)) + "\nquit\n")
        # `run ARGS < FILE`: a bare `run < FILE` would replace the arguments with none
        sh([gdb, "-batch", "-ex", f"run {shlex.join(argv[1:])} < {script}", "-ex", "bt 40",
            "-ex", "info threads", argv[0]], env=child_env(a), timeout=a.step_timeout,
           check=False)


# ---------------------------------------------------------------------------------------------
# Results


def save(results):
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


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
    global LOG
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
    LOG = open(os.path.join(OUT, "bench.log"), "a")
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
