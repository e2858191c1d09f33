#!/usr/bin/env python3
"""mlx-lm reference for parity tests and benchmarks.

Run with the project venv (scripts/setup-venv.sh):

    .venv/bin/python scripts/reference.py [REQUEST.json] < REQUEST.json

Reads one JSON request (from the file argument, or stdin) and writes one JSON
object to stdout. Modes:

generate (default)
    {"model": DIR, "cases": [{"prompt_tokens": [ints], "max_tokens": 64}], "logits": true}
    -> {"cases": [{"tokens": [...], "margins": [...], "logits": [...]}]}
    tokens: exactly max_tokens greedy tokens from mlx_lm.generate.generate_step
      (argmax sampler; EOS does not stop it).
    margins: per generated token, top-1 minus top-2 log-probability; a tiny
      margin means an argmax near-tie that another implementation may break
      the other way.
    logits (when "logits" is true): float32 logits over the vocabulary at the
      last prompt position, from one forward pass over the whole prompt.
    A case may also set repetition_penalty, repetition_context_size,
    presence_penalty, presence_context_size, frequency_penalty,
    frequency_context_size, logit_bias ({"id": bias}); they are passed to
    mlx_lm.sample_utils.make_logits_processors.

tokenize
    {"mode": "tokenize", "model": DIR, "texts": [str], "chat": [[{"role", "content"}]]}
    -> {"texts": [[ids]], "chat": [[ids]], "chat_text": [str], "eos_token_ids": [ids]}
    texts use tokenizer.encode(text) (special tokens added as the tokenizer's
    post-processor says); chat uses apply_chat_template(..., add_generation_prompt=True).

embed
    {"mode": "embed", "model": DIR, "inputs": [[ids]], "pooling": "mean" | "last"}
    -> {"embeddings": [[floats]]}
    Each input alone through mlx-lm's decoder body (model.model: the hidden
    states after the final norm), pooled (mean over the tokens, or the last
    token) and scaled to unit length, in float32.

bench
    {"mode": "bench", "model": DIR, "prompt_tokens": [ints], "max_tokens": 128, "warmup": true}
    -> {"prefill_s", "timestamps_s", "tokens", "decode_tokens_per_s", ...}
    timestamps_s[i]: time.perf_counter() right after token i is yielded, relative
    to the start of generate_step (so timestamps_s[0] is the prefill time, which
    includes sampling the first token). EOS is ignored.

Any request may set "device": "cpu" to run on the CPU on a machine with a GPU
(MLX's default device otherwise): where MLX's GPU kernels are known to be wrong
for a model, the CPU is the reference (test/parity.test.ts says which).
"""

import json
import os
import sys
import time
from pathlib import Path

# The reference computes float32 in float32: on CUDA, MLX uses TF32 for float32 matmuls unless
# told not to (the engine turns it off the same way, native/engine/device.cpp).
os.environ.setdefault("MLX_ENABLE_TF32", "0")

import mlx.core as mx  # noqa: E402


def _log(*args):
    print(*args, file=sys.stderr, flush=True)


def _greedy(model, prompt, max_tokens, processors=None):
    from mlx_lm.generate import generate_step
    from mlx_lm.sample_utils import make_sampler

    sampler = make_sampler(temp=0.0)  # temp 0 -> argmax
    tokens, margins = [], []
    for tok, logprobs in generate_step(
        mx.array(prompt, dtype=mx.uint32),
        model,
        max_tokens=max_tokens,
        sampler=sampler,
        logits_processors=processors,
    ):
        top2 = mx.topk(logprobs.astype(mx.float32), 2).tolist()
        tokens.append(int(tok))
        margins.append(abs(top2[1] - top2[0]))
    return tokens, margins


def _processors(case):
    from mlx_lm.sample_utils import make_logits_processors

    kw = {}
    for k in (
        "repetition_penalty",
        "repetition_context_size",
        "presence_penalty",
        "presence_context_size",
        "frequency_penalty",
        "frequency_context_size",
    ):
        if case.get(k) is not None:
            kw[k] = case[k]
    if case.get("logit_bias"):
        kw["logit_bias"] = {int(k): float(v) for k, v in case["logit_bias"].items()}
    return make_logits_processors(**kw) or None


def run_generate(req):
    from mlx_lm import load

    model, _ = load(req["model"])
    out = []
    for case in req["cases"]:
        prompt = [int(t) for t in case["prompt_tokens"]]
        if not prompt:
            raise ValueError("prompt_tokens must not be empty")
        tokens, margins = _greedy(model, prompt, int(case.get("max_tokens", 64)), _processors(case))
        res = {"tokens": tokens, "margins": margins}
        if req.get("logits"):
            logits = model(mx.array(prompt, dtype=mx.uint32)[None])[0, -1]
            res["logits"] = logits.astype(mx.float32).tolist()
        out.append(res)
    return {"cases": out}


def run_tokenize(req):
    from mlx_lm.utils import load_config, load_tokenizer

    path = Path(req["model"])
    # As mlx_lm.load does: config.json's eos_token_id joins the tokenizer's EOS.
    tok = load_tokenizer(path, eos_token_ids=load_config(path).get("eos_token_id"))
    chats = req.get("chat", [])
    return {
        "texts": [list(tok.encode(t)) for t in req.get("texts", [])],
        "chat": [list(tok.apply_chat_template(m, add_generation_prompt=True)) for m in chats],
        "chat_text": [tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False) for m in chats],
        "eos_token_ids": sorted(tok.eos_token_ids),
    }


def run_embed(req):
    from mlx_lm import load

    model, _ = load(req["model"])
    out = []
    for ids in req["inputs"]:
        hidden = model.model(mx.array([int(t) for t in ids], dtype=mx.uint32)[None])[0]
        hidden = hidden.astype(mx.float32)
        pooled = hidden[-1] if req.get("pooling") == "last" else hidden.mean(axis=0)
        out.append((pooled / mx.linalg.norm(pooled)).tolist())
    return {"embeddings": out}


def run_bench(req):
    from mlx_lm import load
    from mlx_lm.generate import generate_step, generation_stream, wired_limit
    from mlx_lm.sample_utils import make_sampler

    model, _ = load(req["model"])
    prompt = mx.array([int(t) for t in req["prompt_tokens"]], dtype=mx.uint32)
    max_tokens = int(req.get("max_tokens", 128))
    sampler = make_sampler(temp=0.0)

    def once(n):
        tokens, stamps = [], []
        t0 = time.perf_counter()
        for tok, _ in generate_step(prompt, model, max_tokens=n, sampler=sampler):
            stamps.append(time.perf_counter() - t0)
            tokens.append(int(tok))
        return tokens, stamps

    with wired_limit(model, [generation_stream]):
        if req.get("warmup", True):
            once(min(8, max_tokens))
        mx.reset_peak_memory()
        tokens, stamps = once(max_tokens)

    decode_s = stamps[-1] - stamps[0]
    return {
        "prompt_tokens": int(prompt.size),
        "tokens": tokens,
        "timestamps_s": stamps,
        "prefill_s": stamps[0],
        "prefill_tokens_per_s": prompt.size / stamps[0],
        "decode_s": decode_s,
        "decode_tokens_per_s": (len(stamps) - 1) / decode_s if decode_s > 0 else None,
        "peak_memory_bytes": mx.get_peak_memory(),
        "device": str(mx.default_device()),
        "mlx_version": mx.__version__,
    }


MODES = {"generate": run_generate, "tokenize": run_tokenize, "embed": run_embed, "bench": run_bench}


def main():
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help")):
        _log(__doc__)
        sys.exit(2)
    raw = Path(sys.argv[1]).read_text() if len(sys.argv) == 2 else sys.stdin.read()
    req = json.loads(raw)
    mode = req.get("mode", "generate")
    if mode not in MODES:
        _log(f"reference.py: unknown mode {mode!r} (one of {', '.join(MODES)})")
        sys.exit(2)
    if req.get("device", "default") not in ("default", "cpu"):
        _log(f"reference.py: unknown device {req['device']!r} (cpu, or leave it out)")
        sys.exit(2)
    if req.get("device") == "cpu":
        mx.set_default_device(mx.cpu)
    # Anything the libraries print goes to stderr; stdout carries only the JSON.
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        result = MODES[mode](req)
    finally:
        sys.stdout = real_stdout
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
