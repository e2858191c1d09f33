#!/usr/bin/env python3
"""mlx-lm in-process, as the benchmark's reference system (src/bench/systems/mlx-lm.ts).

    .venv/bin/python scripts/bench-mlx-lm.py --model DIR

Loads the model once, prints {"ready": true, ...}, then answers one JSON line per request
line on stdin (the model stays loaded, so the bench can alternate between systems):

    {"cmd": "run", "maxTokens": 128, "prompts": [[ids]]}
      -> {"wallMs", "streams": [{"promptTokens", "tokenMs": [...], "finishReason"}]}
      tokenMs[i]: milliseconds from the call into generate_step until token i was yielded
      (greedy, EOS ignored: generate_step itself never stops on EOS).
    {"cmd": "memory"} / {"cmd": "reset-peak"}
      -> {"activeMemory", "peakMemory", "cacheMemory", "maxRss"} (bytes)
    {"cmd": "quit"}

Only stdout carries replies; anything the libraries print goes to stderr.
"""

import argparse
import json
import platform
import resource
import sys
import time


def _max_rss_bytes():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return rss if sys.platform == "darwin" else rss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="an MLX model directory")
    args = parser.parse_args()

    real_stdout, sys.stdout = sys.stdout, sys.stderr

    def reply(obj):
        real_stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        real_stdout.flush()

    t_load = time.perf_counter()
    import mlx.core as mx
    import mlx_lm
    from mlx.utils import tree_flatten
    from mlx_lm import load
    from mlx_lm.generate import generate_step, generation_stream, wired_limit
    from mlx_lm.sample_utils import make_sampler

    model, _ = load(args.model)
    sampler = make_sampler(temp=0.0)  # argmax, like the other systems
    weight_bytes = sum(v.nbytes for _, v in tree_flatten(model.parameters()))
    reply(
        {
            "ready": True,
            "loadMs": (time.perf_counter() - t_load) * 1000,
            "weightBytes": weight_bytes,
            "mlxVersion": mx.__version__,
            "mlxLmVersion": mlx_lm.__version__,
            "pythonVersion": platform.python_version(),
            "device": str(mx.default_device()),
        }
    )

    def run(req):
        prompts = req["prompts"]
        if len(prompts) != 1:
            raise ValueError("mlx-lm in-process runs one stream at a time")
        max_tokens = int(req["maxTokens"])
        stamps = []
        t0 = time.perf_counter()
        prompt = mx.array(prompts[0], dtype=mx.uint32)
        with wired_limit(model, [generation_stream]):
            for _tok, _ in generate_step(prompt, model, max_tokens=max_tokens, sampler=sampler):
                stamps.append((time.perf_counter() - t0) * 1000)
        wall = (time.perf_counter() - t0) * 1000
        return {
            "wallMs": wall,
            "streams": [
                {"promptTokens": len(prompts[0]), "tokenMs": stamps, "finishReason": "length"}
            ],
        }

    def memory(reset):
        if reset:
            mx.reset_peak_memory()
        return {
            "activeMemory": mx.get_active_memory(),
            "peakMemory": mx.get_peak_memory(),
            "cacheMemory": mx.get_cache_memory(),
            "maxRss": _max_rss_bytes(),
        }

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            cmd = req.get("cmd")
            if cmd == "quit":
                break
            if cmd == "run":
                reply(run(req))
            elif cmd in ("memory", "reset-peak"):
                reply(memory(cmd == "reset-peak"))
            else:
                reply({"error": f"unknown command {cmd!r}"})
        except Exception as e:  # noqa: BLE001 - every failure goes back to the bench as JSON
            reply({"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
