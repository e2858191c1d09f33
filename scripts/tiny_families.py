"""Tiny random-weight models of the families with weight layouts of their own (smollm3, phi3,
qwen3_moe, gpt_oss) for scripts/make-tiny-models.py: their weight writers, configs and quantized
variants. Weights use Hugging Face names as the published checkpoints do (fused Phi-3 weights,
per-expert Qwen3-MoE tensors, gpt-oss's original MXFP4 blocks)."""

import mlx.core as mx
import numpy as np

def _family_rng(cfg: dict, seed: int):
    rng = np.random.default_rng(seed)

    def normal(shape, std):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def norm(n):
        return (1.0 + normal((n,), 0.1)).astype(np.float32)

    return rng, normal, norm


def phi3_weights(cfg: dict, seed: int) -> dict:
    """Phi-3 as published: fused qkv_proj and gate_up_proj, head_dim = hidden / heads."""
    _, normal, norm = _family_rng(cfg, seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = H // nh
    w = {"model.embed_tokens.weight": normal((V, H), 0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.qkv_proj.weight"] = normal(((nh + 2 * nkv) * hd, H), 0.1)
        w[p + "self_attn.o_proj.weight"] = normal((H, nh * hd), 0.1)
        w[p + "mlp.gate_up_proj.weight"] = normal((2 * I, H), 0.1)
        w[p + "mlp.down_proj.weight"] = normal((H, I), 0.1)
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
    w["model.norm.weight"] = norm(H)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = normal((V, H), 0.5)
    return w


def qwen3_moe_weights(cfg: dict, seed: int) -> dict:
    """Qwen3-MoE as Hugging Face publishes it: one tensor per expert and projection."""
    _, normal, norm = _family_rng(cfg, seed)
    H, V = cfg["hidden_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    E, MI = cfg["num_experts"], cfg["moe_intermediate_size"]
    w = {"model.embed_tokens.weight": normal((V, H), 0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = normal((nh * hd, H), 0.1)
        w[p + "self_attn.k_proj.weight"] = normal((nkv * hd, H), 0.1)
        w[p + "self_attn.v_proj.weight"] = normal((nkv * hd, H), 0.1)
        w[p + "self_attn.o_proj.weight"] = normal((H, nh * hd), 0.1)
        w[p + "self_attn.q_norm.weight"] = norm(hd)
        w[p + "self_attn.k_norm.weight"] = norm(hd)
        sparse = i not in cfg["mlp_only_layers"] and (i + 1) % cfg["decoder_sparse_step"] == 0
        if sparse:
            w[p + "mlp.gate.weight"] = normal((E, H), 0.5)
            for e in range(E):
                q = f"{p}mlp.experts.{e}."
                w[q + "gate_proj.weight"] = normal((MI, H), 0.1)
                w[q + "up_proj.weight"] = normal((MI, H), 0.1)
                w[q + "down_proj.weight"] = normal((H, MI), 0.1)
        else:
            I = cfg["intermediate_size"]
            w[p + "mlp.gate_proj.weight"] = normal((I, H), 0.1)
            w[p + "mlp.up_proj.weight"] = normal((I, H), 0.1)
            w[p + "mlp.down_proj.weight"] = normal((H, I), 0.1)
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
    w["model.norm.weight"] = norm(H)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = normal((V, H), 0.5)
    return w


def _mxfp4_blocks(w: np.ndarray):
    """MXFP4 as the original gpt-oss checkpoint stores it: uint8 blocks [..., in/32, 16] (the
    bytes of MLX's packed weight) and uint8 scales [..., in/32]."""
    wq, scales = mx.quantize(mx.array(w), group_size=32, bits=4, mode="mxfp4")
    blocks = np.array(wq.view(mx.uint8)).reshape(*w.shape[:-1], w.shape[-1] // 32, 16)
    return blocks, np.array(scales)


def gpt_oss_weights(cfg: dict, seed: int) -> dict:
    """gpt-oss in the original checkpoint layout (MXFP4 experts, gate/up rows interleaved)."""
    _, normal, norm = _family_rng(cfg, seed)
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    E = cfg["num_local_experts"]
    w = {"model.embed_tokens.weight": normal((V, H), 0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for name, rows, cols in (("q", nh * hd, H), ("k", nkv * hd, H), ("v", nkv * hd, H), ("o", H, nh * hd)):
            w[p + f"self_attn.{name}_proj.weight"] = normal((rows, cols), 0.1)
            w[p + f"self_attn.{name}_proj.bias"] = normal((rows,), 0.1)
        w[p + "self_attn.sinks"] = normal((nh,), 0.5)
        w[p + "mlp.router.weight"] = normal((E, H), 0.5)
        w[p + "mlp.router.bias"] = normal((E,), 0.1)
        gate_up = np.stack([normal((E, I, H), 0.1), normal((E, I, H), 0.1)], axis=2).reshape(E, 2 * I, H)
        blocks, scales = _mxfp4_blocks(gate_up)
        w[p + "mlp.experts.gate_up_proj_blocks"] = blocks
        w[p + "mlp.experts.gate_up_proj_scales"] = scales
        w[p + "mlp.experts.gate_up_proj_bias"] = normal((E, 2 * I), 0.1)
        blocks, scales = _mxfp4_blocks(normal((E, H, I), 0.1))
        w[p + "mlp.experts.down_proj_blocks"] = blocks
        w[p + "mlp.experts.down_proj_scales"] = scales
        w[p + "mlp.experts.down_proj_bias"] = normal((E, H), 0.1)
        w[p + "input_layernorm.weight"] = norm(H)
        w[p + "post_attention_layernorm.weight"] = norm(H)
    w["model.norm.weight"] = norm(H)
    w["lm_head.weight"] = normal((V, H), 0.5)
    return w


# SmolLM3 uses the Llama weight names (make_weights' default).
FAMILY_WEIGHTS = {"phi3": phi3_weights, "qwen3_moe": qwen3_moe_weights, "gpt_oss": gpt_oss_weights}

FAMILY_MODELS = {
    "tiny-smollm3": dict(
        seed=21,
        add_bos=False,
        bos_token=None,
        config=dict(
            architectures=["SmolLM3ForCausalLM"],
            model_type="smollm3",
            hidden_size=64,
            intermediate_size=160,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            hidden_act="silu",
            rms_norm_eps=1e-6,
            rope_theta=5000000.0,
            vocab_size=512,
            max_position_embeddings=65536,
            no_rope_layers=[1, 1, 0, 1],
            no_rope_layer_interval=4,
            attention_bias=False,
            mlp_bias=False,
            tie_word_embeddings=True,
            torch_dtype="float32",
        ),
    ),
    "tiny-phi3": dict(
        seed=12,
        add_bos=False,
        bos_token=None,
        config=dict(
            architectures=["Phi3ForCausalLM"],
            model_type="phi3",
            hidden_size=96,
            intermediate_size=192,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            partial_rotary_factor=0.75,
            hidden_act="silu",
            rms_norm_eps=1e-5,
            rope_theta=10000.0,
            rope_scaling={
                "type": "longrope",
                "long_factor": [1.0, 1.2, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0],
                "short_factor": [1.0] * 9,
            },
            max_position_embeddings=131072,
            original_max_position_embeddings=4096,
            vocab_size=512,
            tie_word_embeddings=False,
            torch_dtype="float32",
        ),
    ),
    "tiny-qwen3-moe": dict(
        seed=13,
        add_bos=False,
        bos_token="<|endoftext|>",
        config=dict(
            architectures=["Qwen3MoeForCausalLM"],
            model_type="qwen3_moe",
            hidden_size=64,
            intermediate_size=128,
            moe_intermediate_size=32,
            num_experts=8,
            num_experts_per_tok=4,  # 4 per token: prompts of 16+ tokens take the sorted path
            norm_topk_prob=True,
            decoder_sparse_step=1,
            mlp_only_layers=[1],
            num_hidden_layers=3,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=32,
            hidden_act="silu",
            rms_norm_eps=1e-6,
            rope_theta=1000000.0,
            vocab_size=512,
            max_position_embeddings=40960,
            tie_word_embeddings=False,
            torch_dtype="float32",
        ),
    ),
    "tiny-gpt-oss": dict(
        seed=14,
        add_bos=False,
        bos_token=None,
        config=dict(
            architectures=["GptOssForCausalLM"],
            model_type="gpt_oss",
            hidden_size=64,
            intermediate_size=64,
            num_local_experts=8,
            num_experts_per_tok=2,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=16,
            sliding_window=8,
            layer_types=["sliding_attention", "full_attention"] * 2,
            rms_norm_eps=1e-5,
            rope_theta=150000.0,
            rope_scaling={
                "rope_type": "yarn",
                "factor": 32.0,
                "beta_fast": 32.0,
                "beta_slow": 1.0,
                "original_max_position_embeddings": 4096,
                "truncate": False,
            },
            swiglu_limit=7.0,
            vocab_size=512,
            max_position_embeddings=131072,
            tie_word_embeddings=False,
            quantization_config={"quant_method": "mxfp4"},
            torch_dtype="float32",
        ),
    ),
}

FAMILY_QUANTIZED = {
    "tiny-qwen3-moe-q4": (
        "tiny-qwen3-moe",
        32,
        4,
        {"model.layers.0.mlp.gate": {"group_size": 64, "bits": 8, "mode": "affine"}},
    ),
    # mlx-lm keeps the MXFP4 experts (they have no to_quantized) and quantizes the rest.
    "tiny-gpt-oss-q8": ("tiny-gpt-oss", 64, 8, {}),
    # Every layer in MLX's MXFP4 mode (uint8 scales, no biases), the embedding included.
    "tiny-phi3-mxfp4": ("tiny-phi3", 32, 4, {}, "mxfp4"),
}
