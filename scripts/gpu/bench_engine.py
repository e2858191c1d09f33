"""The engine side of the GPU benchmark (bench.py): engine_bench's command line, its runs and
profiles per model and stream count, and a cuda-gdb backtrace when it crashes."""
import json
import os
import queue
import random
import shlex
import shutil
import statistics
import subprocess
import threading

from bench_common import OUT, log, CRASHED, CHILDREN, sh, child_env, model_dir, save


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
