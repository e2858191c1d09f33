"""Writes a tiny Hugging Face model directory (scripts/make-tiny-models.py) as a GGUF file laid out
the way llama.cpp's converter (convert_hf_to_gguf.py) lays out that architecture, for the tests
that load a family from GGUF and from its directory and compare.

    python scripts/tiny_gguf.py MODEL_DIR OUT.gguf [--pre NAME]

--pre sets tokenizer.ggml.pre (default gpt-2, what the tiny tokenizers' splitting is).

Supported: smollm3, phi3, qwen3_moe, gpt_oss. Tensor names come from the `gguf` package's own
name map (gguf.TensorNameMap, llama.cpp's table); what the converter does beyond renaming is
done here as it does it:
- smollm3: Q/K rows permuted for llama.cpp's interleaved rope; no key for the NoPE layers.
- phi3: fused qkv / gate_up kept; LongRoPE factors as `rope_factors_long/short.weight`;
  `rope.dimension_count` from partial_rotary_factor; rope.scaling.attn_factor.
- qwen3_moe: per-expert matrices stacked into `ffn_{gate,up,down}_exps` [experts, rows, cols].
- gpt_oss: MXFP4 expert blocks repacked to GGML's block_mxfp4 (scale byte, then 16 bytes whose
  low nibbles are elements 0-15 and high nibbles 16-31), gate/up rows de-interleaved (even rows
  gate, odd rows up), sinks as `attn_sinks.weight`, router as `ffn_gate_inp`.
Float tensors are written as float32, so values equal the directory's.
"""
import json
import math
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, MODEL_ARCH, RopeScalingType, TensorNameMap

ARCH = {"smollm3": MODEL_ARCH.SMOLLM3, "phi3": MODEL_ARCH.PHI3,
        "qwen3_moe": MODEL_ARCH.QWEN3MOE, "gpt_oss": MODEL_ARCH.GPT_OSS}
GGUF_NAME = {"smollm3": "smollm3", "phi3": "phi3", "qwen3_moe": "qwen3moe", "gpt_oss": "gpt-oss"}


def permute(w, heads):
    """llama.cpp's Q/K permutation (halves → interleaved pairs per head)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def mxfp4(blocks, scales):
    """HF MXFP4 ([..., nblk, 16] bytes, element 2k low nibble / 2k+1 high; [..., nblk] scales)
    → GGML block_mxfp4 bytes [..., nblk * 17]."""
    lo, hi = blocks & 15, blocks >> 4
    codes = np.stack([lo, hi], axis=-1).reshape(*blocks.shape[:-1], 32)  # element order
    packed = (codes[..., :16] | (codes[..., 16:] << 4)).astype(np.uint8)
    out = np.concatenate([scales[..., None], packed], axis=-1)
    return out.reshape(*blocks.shape[:-2], blocks.shape[-2] * 17)


def write_tokenizer(w: GGUFWriter, d: Path, pre: str):
    tok = json.loads((d / "tokenizer.json").read_text())
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    vocab = dict(tok["model"]["vocab"])
    special = {a["content"]: a["id"] for a in tok["added_tokens"]}
    vocab.update(special)
    tokens = [None] * (max(vocab.values()) + 1)
    for text, i in vocab.items():
        tokens[i] = text
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types([3 if t in special else 1 for t in tokens])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
    for key, add in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id)):
        if cfg.get(key) in vocab:
            add(vocab[cfg[key]])
    w.add_add_bos_token(bool(cfg.get("add_bos_token", False)))
    if cfg.get("chat_template"):
        w.add_chat_template(cfg["chat_template"])


def write_config(w: GGUFWriter, model_type: str, c: dict):
    heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(c["hidden_size"])
    w.add_block_count(c["num_hidden_layers"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(c["rms_norm_eps"])
    w.add_rope_freq_base(c["rope_theta"])
    w.add_vocab_size(c["vocab_size"])
    if "head_dim" in c:
        w.add_key_length(c["head_dim"])
        w.add_value_length(c["head_dim"])
    if model_type == "phi3":
        w.add_rope_dimension_count(int(c.get("partial_rotary_factor", 1.0) * c["hidden_size"]) // heads)
        orig = c["original_max_position_embeddings"]
        w.add_rope_scaling_orig_ctx_len(orig)
        scale = c["max_position_embeddings"] / orig
        w.add_rope_scaling_attn_factors(1.0 if scale <= 1 else math.sqrt(1 + math.log(scale) / math.log(orig)))
    if model_type == "qwen3_moe":
        w.add_expert_count(c["num_experts"])
        w.add_expert_used_count(c["num_experts_per_tok"])
        w.add_expert_feed_forward_length(c["moe_intermediate_size"])
    if model_type == "gpt_oss":
        w.add_expert_count(c["num_local_experts"])
        w.add_expert_used_count(c["num_experts_per_tok"])
        w.add_expert_feed_forward_length(c["intermediate_size"])
        w.add_sliding_window(c["sliding_window"])
        r = c["rope_scaling"]
        w.add_rope_scaling_type(RopeScalingType.YARN)
        w.add_rope_scaling_factor(r["factor"])
        w.add_rope_scaling_orig_ctx_len(r["original_max_position_embeddings"])
        w.add_rope_scaling_yarn_beta_fast(r["beta_fast"])
        w.add_rope_scaling_yarn_beta_slow(r["beta_slow"])


def tensors(model_type: str, c: dict, weights: dict):
    """(HF-style name, array, raw GGML type or None) as the converter emits them."""
    heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
    for name, a in weights.items():
        if model_type == "smollm3" and name.endswith("q_proj.weight"):
            yield name, permute(a, heads), None
        elif model_type == "smollm3" and name.endswith("k_proj.weight"):
            yield name, permute(a, kv), None
        elif model_type == "qwen3_moe" and ".experts." in name:
            continue  # stacked below
        elif model_type == "gpt_oss" and ".experts." in name:
            continue  # repacked below
        else:
            yield name, a, None
    if model_type == "phi3":
        yield "rope_factors_long", np.array(c["rope_scaling"]["long_factor"], np.float32), None
        yield "rope_factors_short", np.array(c["rope_scaling"]["short_factor"], np.float32), None
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}.mlp.experts."
        if model_type == "qwen3_moe" and f"{p}0.gate_proj.weight" in weights:
            for proj in ("gate_proj", "up_proj", "down_proj"):
                stack = np.stack([weights[f"{p}{e}.{proj}.weight"] for e in range(c["num_experts"])])
                yield f"{p}{proj}.weight", stack, None
        if model_type == "gpt_oss":
            gu_b, gu_s = weights[p + "gate_up_proj_blocks"], weights[p + "gate_up_proj_scales"]
            gu_bias = weights[p + "gate_up_proj_bias"]
            yield f"{p}gate_proj.weight", mxfp4(gu_b[:, ::2], gu_s[:, ::2]), GGMLQuantizationType.MXFP4
            yield f"{p}up_proj.weight", mxfp4(gu_b[:, 1::2], gu_s[:, 1::2]), GGMLQuantizationType.MXFP4
            yield f"{p}gate_proj.bias", np.ascontiguousarray(gu_bias[:, ::2]), None
            yield f"{p}up_proj.bias", np.ascontiguousarray(gu_bias[:, 1::2]), None
            down = mxfp4(weights[p + "down_proj_blocks"], weights[p + "down_proj_scales"])
            yield f"{p}down_proj.weight", down, GGMLQuantizationType.MXFP4
            yield f"{p}down_proj.bias", weights[p + "down_proj_bias"], None


def gguf_name(names: TensorNameMap, dense: TensorNameMap, model_type: str, name: str) -> str:
    if name in ("rope_factors_long", "rope_factors_short"):
        return name + ".weight"
    if name.endswith(".sinks"):  # the converter appends .weight to gpt-oss's sinks
        return names.get_name(name) + ".weight"
    mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None and model_type == "qwen3_moe":
        # The tiny model has a dense layer (mlp_only_layers), which published Qwen3-MoE models
        # do not: it gets the dense names llama.cpp gives every other architecture.
        mapped = dense.get_name(name, try_suffixes=(".weight",))
    if mapped is None:
        raise SystemExit(f"tiny_gguf: no GGUF name for {name} ({model_type})")
    return mapped


def main(model_dir: str, out: str, pre: str = "gpt-2"):
    d = Path(model_dir)
    c = json.loads((d / "config.json").read_text())
    model_type = c["model_type"]
    if model_type not in ARCH:
        raise SystemExit(f"tiny_gguf: {model_type} is not supported")
    if model_type == "smollm3":
        # llama.cpp runs every fourth layer without rope and ignores no_rope_layers.
        n = c["num_hidden_layers"]
        if c.get("no_rope_layers", [int((i + 1) % 4 != 0) for i in range(n)]) != [int((i + 1) % 4 != 0) for i in range(n)]:
            raise SystemExit("tiny_gguf: GGUF (llama.cpp) cannot express these no_rope_layers; every 4th layer only")
    weights = {k: np.array(v) for k, v in mx.load(str(d / "model.safetensors")).items()}
    names = TensorNameMap(ARCH[model_type], c["num_hidden_layers"])
    dense = TensorNameMap(MODEL_ARCH.LLAMA, c["num_hidden_layers"])
    w = GGUFWriter(out, GGUF_NAME[model_type])
    w.add_name(d.name)
    write_config(w, model_type, c)
    write_tokenizer(w, d, pre)
    for name, a, raw in tensors(model_type, c, weights):
        target = gguf_name(names, dense, model_type, name)
        if raw is None:
            w.add_tensor(target, np.ascontiguousarray(a.astype(np.float32) if a.dtype.kind == "f" else a))
        else:
            w.add_tensor(target, np.ascontiguousarray(a), raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    pre = args[args.index("--pre") + 1] if "--pre" in args else "gpt-2"
    main(args[0], args[1], pre)
