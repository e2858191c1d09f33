#!/usr/bin/env python3
"""Write tiny random-weight models for tests (llama, qwen2, qwen3, smollm3, phi3,
qwen3_moe, gpt_oss + quantized).

Usage (with the project venv, see scripts/setup-venv.sh):

    .venv/bin/python scripts/make-tiny-models.py OUTDIR [--no-verify]

Writes, deterministically (fixed seeds):

    OUTDIR/tiny-llama      float32, untied lm_head, GQA, Llama 3 rope scaling,
                           tokenizer prepends a BOS token
    OUTDIR/tiny-qwen2      float16, tied embeddings, q/k/v biases, vocab 384
    OUTDIR/tiny-qwen3      float32, untied, q_norm/k_norm, head_dim != hidden/heads
    OUTDIR/tiny-llama-q4   tiny-llama quantized by mlx-lm (4-bit, group 64) with
                           per-layer overrides (one 8-bit layer, one left dense)
    OUTDIR/tiny-qwen2-q4   tiny-qwen2 quantized by mlx-lm (4-bit, group 32): a
                           quantized tied embedding used as the output projection
    OUTDIR/tiny-smollm3    float32, tied, every third layer without rope (NoPE)
    OUTDIR/tiny-phi3       float32, fused qkv_proj / gate_up_proj, partial rotary,
                           LongRoPE scaling
    OUTDIR/tiny-qwen3-moe  float32, 8 experts top-4 stored per expert as Hugging Face
                           publishes them, one dense layer (mlp_only_layers)
    OUTDIR/tiny-gpt-oss    the original gpt-oss layout: MXFP4 expert blocks with gate
                           and up rows interleaved, attention sinks, sliding windows
                           of 8, YaRN rope
    OUTDIR/tiny-qwen3-moe-q4  tiny-qwen3-moe quantized by mlx-lm (4-bit experts through
                           gather_qmm, an 8-bit router)
    OUTDIR/tiny-gpt-oss-q8 tiny-gpt-oss as mlx-lm saves it (MLX layout) with the other
                           layers quantized to 8 bits, like mlx-community's MXFP4-Q8
    OUTDIR/tiny-phi3-mxfp4 tiny-phi3 quantized by mlx-lm in MXFP4 mode, embedding included
    OUTDIR/tiny-gemma3     float32 Gemma 3 text: a sliding window of 8 (so prompts
                           and generations run past it), every third layer global,
                           query_pre_attn_scalar != head_dim, (1 + w) norms
    OUTDIR/tiny-gemma3-vl  the same text model in the layout of Gemma 3 with vision
                           (model_type gemma3, text_config, language_model.* weights,
                           a vision tower the text model does not use)

Each directory holds config.json, model.safetensors, tokenizer.json and
tokenizer_config.json (byte-level BPE trained here, ChatML chat template).
Every directory is then loaded with mlx_lm.load and generates a few tokens.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
# The families with weight layouts of their own, and the tokenizer (scripts/ is on sys.path
# when this runs).
from tiny_families import FAMILY_MODELS, FAMILY_QUANTIZED, FAMILY_WEIGHTS
from tiny_tokenizer import train_tokenizer, write_tokenizer

# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


def make_weights(cfg: dict, seed: int) -> dict:
    """Random weights with Hugging Face names, numpy float32 arrays."""
    if cfg["model_type"] in FAMILY_WEIGHTS:
        return FAMILY_WEIGHTS[cfg["model_type"]](cfg, seed)
    rng = np.random.default_rng(seed)
    H = cfg["hidden_size"]
    I = cfg["intermediate_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or H // nh
    V = cfg["vocab_size"]
    qwen2 = cfg["model_type"] == "qwen2"
    qwen3 = cfg["model_type"] == "qwen3"

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm(n):
        return (1.0 + normal((n,), 0.1)).astype(np.float32)

    w = {"model.embed_tokens.weight": normal((V, H), 0.3)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = normal((nh * hd, H), 0.1)
        w[p + "self_attn.k_proj.weight"] = normal((nkv * hd, H), 0.1)
        w[p + "self_attn.v_proj.weight"] = normal((nkv * hd, H), 0.1)
        w[p + "self_attn.o_proj.weight"] = normal((H, nh * hd), 0.1)
        if qwen2:
            w[p + "self_attn.q_proj.bias"] = normal((nh * hd,), 0.1)
            w[p + "self_attn.k_proj.bias"] = normal((nkv * hd,), 0.5)
            w[p + "self_attn.v_proj.bias"] = normal((nkv * hd,), 0.1)
        if qwen3:
            w[p + "self_attn.q_norm.weight"] = norm(hd)
            w[p + "self_attn.k_norm.weight"] = norm(hd)
        w[p + "mlp.gate_proj.weight"] = normal((I, H), 0.1)
        w[p + "mlp.up_proj.weight"] = normal((I, H), 0.1)
        w[p + "mlp.down_proj.weight"] = normal((H, I), 0.1)
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
    w["model.norm.weight"] = norm(H)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = normal((V, H), 0.5)
    return w


def save_weights(out: Path, weights: dict, dtype: str):
    mx_dtype = {"float32": mx.float32, "float16": mx.float16}[dtype]
    # Packed quantized tensors (uint8) are kept as they are.
    arrays = {
        k: mx.array(v) if v.dtype == np.uint8 else mx.array(v).astype(mx_dtype)
        for k, v in sorted(weights.items())
    }
    mx.save_safetensors(str(out / "model.safetensors"), arrays, metadata={"format": "pt"})


# --------------------------------------------------------------------------
# Model definitions
# --------------------------------------------------------------------------

MODELS = {
    "tiny-llama": dict(
        seed=1,
        add_bos=True,
        bos_token="<|endoftext|>",
        config=dict(
            architectures=["LlamaForCausalLM"],
            model_type="llama",
            hidden_size=64,
            intermediate_size=192,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            hidden_act="silu",
            rms_norm_eps=1e-5,
            rope_theta=500000.0,
            rope_scaling={
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
            },
            vocab_size=512,
            max_position_embeddings=131072,
            attention_bias=False,
            mlp_bias=False,
            tie_word_embeddings=False,
            torch_dtype="float32",
        ),
    ),
    "tiny-qwen2": dict(
        seed=2,
        add_bos=None,  # no BOS at all, like Qwen2 instruct models
        bos_token=None,
        config=dict(
            architectures=["Qwen2ForCausalLM"],
            model_type="qwen2",
            hidden_size=96,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=6,
            num_key_value_heads=2,
            hidden_act="silu",
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            vocab_size=384,
            max_position_embeddings=32768,
            tie_word_embeddings=True,
            use_sliding_window=False,
            torch_dtype="float16",
        ),
    ),
    "tiny-qwen3": dict(
        seed=3,
        add_bos=False,  # BOS token defined but not added
        bos_token="<|endoftext|>",
        config=dict(
            architectures=["Qwen3ForCausalLM"],
            model_type="qwen3",
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,  # != hidden_size / num_attention_heads (16)
            hidden_act="silu",
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            vocab_size=512,
            max_position_embeddings=40960,
            attention_bias=False,
            tie_word_embeddings=False,
            torch_dtype="float32",
        ),
    ),
}

# name -> (source, group_size, bits, per-layer overrides)
# An override is a dict of quantization params, or False to keep the layer dense.
QUANTIZED = {
    "tiny-llama-q4": (
        "tiny-llama",
        64,
        4,
        {
            "model.layers.0.mlp.down_proj": {"group_size": 32, "bits": 8, "mode": "affine"},
            "model.layers.1.self_attn.v_proj": False,
        },
    ),
    "tiny-qwen2-q4": ("tiny-qwen2", 32, 4, {}),
}

TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"]


def write_model(out: Path, spec: dict):
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cfg = dict(spec["config"])
    tok = train_tokenizer(cfg["vocab_size"], add_bos=bool(spec["add_bos"]))
    write_tokenizer(out, tok, spec["bos_token"], spec["add_bos"])
    eos = tok.token_to_id("<|im_end|>")
    if spec["bos_token"] is not None:
        cfg["bos_token_id"] = tok.token_to_id(spec["bos_token"])
    # A list, as many Hugging Face configs have it: stop on either token.
    cfg["eos_token_id"] = [eos, tok.token_to_id("<|endoftext|>")] if cfg["model_type"] == "qwen2" else eos
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    save_weights(out, make_weights(cfg, spec["seed"]), cfg["torch_dtype"])


def write_quantized(out: Path, src: Path, group_size: int, bits: int, overrides: dict, mode: str = "affine"):
    from mlx_lm.utils import load_model, quantize_model, save_config, save_model

    if out.exists():
        shutil.rmtree(out)
    model, config = load_model(src)

    def predicate(path, module):
        return overrides.get(path, True)

    model, qconfig = quantize_model(
        model, config, group_size=group_size, bits=bits, mode=mode, quant_predicate=predicate
    )
    save_model(out, model)
    save_config(qconfig, config_path=out / "config.json")
    # save_model also writes an index for sharded checkpoints; one file needs none.
    (out / "model.safetensors.index.json").unlink(missing_ok=True)
    for f in TOKENIZER_FILES:
        shutil.copy(src / f, out / f)


def verify(path: Path):
    from mlx_lm import load
    from mlx_lm.generate import generate_step
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = load(str(path))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hello, how are you?"}], add_generation_prompt=True
    )
    logits = model(mx.array(prompt)[None])[0, -1].astype(mx.float32)
    top2 = mx.sort(logits)[-2:].tolist()
    sampler = make_sampler(temp=0.0)
    toks = [t for t, _ in generate_step(mx.array(prompt), model, max_tokens=8, sampler=sampler)]
    assert len(toks) == 8
    assert logits.shape[0] == model.args.vocab_size
    std = mx.std(logits).item()
    if not (0.3 < std < 50) or not np.isfinite(std):
        sys.exit(f"{path.name}: degenerate logits (std {std})")
    print(
        f"  {path.name}: prompt {len(prompt)} tokens, logits std {std:.2f}, "
        f"top1-top2 {top2[1] - top2[0]:.3f}, greedy {toks} -> {tokenizer.decode(toks)!r}"
    )


# --------------------------------------------------------------------------
# Gemma 3 (kept apart from the Llama-shaped definitions above)
# --------------------------------------------------------------------------

GEMMA3 = dict(
    seed=4,
    add_bos=True,
    bos_token="<|endoftext|>",
    config=dict(
        architectures=["Gemma3ForCausalLM"],
        model_type="gemma3_text",
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        query_pre_attn_scalar=24,
        hidden_activation="gelu_pytorch_tanh",
        rms_norm_eps=1e-6,
        rope_theta=1000000.0,
        rope_local_base_freq=10000.0,
        sliding_window=8,
        sliding_window_pattern=3,
        vocab_size=512,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        torch_dtype="float32",
    ),
)


def gemma3_weights(cfg: dict, seed: int) -> dict:
    """Random Gemma 3 weights; norms are stored as w and applied as (1 + w)."""
    rng = np.random.default_rng(seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    w = {"model.embed_tokens.weight": normal((V, H), 0.3), "model.norm.weight": normal((H,), 0.1)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = normal((nh * hd, H), 0.5)
        w[p + "self_attn.k_proj.weight"] = normal((nkv * hd, H), 0.5)
        w[p + "self_attn.v_proj.weight"] = normal((nkv * hd, H), 0.5)
        w[p + "self_attn.o_proj.weight"] = normal((H, nh * hd), 0.5)
        w[p + "self_attn.q_norm.weight"] = normal((hd,), 0.1)
        w[p + "self_attn.k_norm.weight"] = normal((hd,), 0.1)
        w[p + "mlp.gate_proj.weight"] = normal((I, H), 0.5)
        w[p + "mlp.up_proj.weight"] = normal((I, H), 0.5)
        w[p + "mlp.down_proj.weight"] = normal((H, I), 0.5)
        for norm in ("input_layernorm", "pre_feedforward_layernorm"):
            w[p + norm + ".weight"] = normal((H,), 0.1)
        # Sub-layer outputs scaled up (1 + w ~ 4), so they are not drowned by the embedding.
        for norm in ("post_attention_layernorm", "post_feedforward_layernorm"):
            w[p + norm + ".weight"] = 3.0 + normal((H,), 0.3)
    return w


def write_gemma3(out: Path):
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cfg = dict(GEMMA3["config"])
    tok = train_tokenizer(cfg["vocab_size"], add_bos=True)
    write_tokenizer(out, tok, GEMMA3["bos_token"], True)
    cfg["bos_token_id"] = tok.token_to_id(GEMMA3["bos_token"])
    cfg["eos_token_id"] = tok.token_to_id("<|im_end|>")
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    save_weights(out, gemma3_weights(cfg, GEMMA3["seed"]), cfg["torch_dtype"])


def write_gemma3_vl(out: Path, text: Path):
    """tiny-gemma3 as mlx-community's vision-language Gemma 3 directories lay it out."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    text_cfg = json.loads((text / "config.json").read_text())
    cfg = {
        "architectures": ["Gemma3ForConditionalGeneration"],
        "model_type": "gemma3",
        "vocab_size": text_cfg.pop("vocab_size"),
        "bos_token_id": text_cfg.pop("bos_token_id"),
        "eos_token_id": text_cfg.pop("eos_token_id"),
        "text_config": {k: v for k, v in text_cfg.items() if k not in ("architectures", "torch_dtype")},
        "vision_config": {"hidden_size": 16},
        "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    weights = {f"language_model.{k}": v for k, v in mx.load(str(text / "model.safetensors")).items()}
    weights["vision_tower.patch_embedding.weight"] = mx.zeros((16, 3))
    weights["multi_modal_projector.mm_input_projection_weight"] = mx.zeros((16, 64))
    mx.save_safetensors(str(out / "model.safetensors"), weights, metadata={"format": "pt"})
    for f in TOKENIZER_FILES:
        shutil.copy(text / f, out / f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--no-verify", action="store_true", help="skip loading with mlx_lm")
    args = ap.parse_args()
    outdir = Path(args.outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)

    models = {**MODELS, **FAMILY_MODELS}
    quantized = {**QUANTIZED, **FAMILY_QUANTIZED}
    for name, spec in models.items():
        write_model(outdir / name, spec)
        print(f"wrote {outdir / name}")
    for name, (src, gs, bits, overrides, *mode) in quantized.items():
        write_quantized(outdir / name, outdir / src, gs, bits, overrides, *mode)
        print(f"wrote {outdir / name}")
    write_gemma3(outdir / "tiny-gemma3")
    write_gemma3_vl(outdir / "tiny-gemma3-vl", outdir / "tiny-gemma3")
    print(f"wrote {outdir / 'tiny-gemma3'} and {outdir / 'tiny-gemma3-vl'}")

    if not args.no_verify:
        print("verifying with mlx_lm.load + greedy generate_step:")
        for name in list(models) + list(quantized) + ["tiny-gemma3", "tiny-gemma3-vl"]:
            verify(outdir / name)


if __name__ == "__main__":
    main()
