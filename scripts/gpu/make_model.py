#!/usr/bin/env python3
"""Makes a random-weight model with a real model's shapes, quantized like mlx-community's
4-bit checkpoints, plus a tokenizer of the same vocabulary size. Runs where mlx and mlx-lm
import (the GPU machine, or any CPU machine with `pip install "mlx[cpu]" mlx-lm`).

    python3 make_model.py NAME OUT_DIR [--dtype bfloat16] [--bits 4] [--group-size 64]

NAME is one of SHAPES below. The weights are random, so generated text is noise, but every
matmul, the KV cache and the vocabulary have the real model's sizes: timings are honest.
"""
import argparse
import json
import os
import sys
import time

LLAMA3_ROPE = {"rope_type": "llama3", "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 8192}

SHAPES = {
    # meta-llama/Llama-3.2-1B(-Instruct) config.json
    "llama-3.2-1b": {
        "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
        "tie_word_embeddings": True, "rope_scaling": {**LLAMA3_ROPE, "factor": 32.0},
    },
    # meta-llama/Llama-3.1-8B(-Instruct) config.json
    "llama-3.1-8b": {
        "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "tie_word_embeddings": False, "rope_scaling": {**LLAMA3_ROPE, "factor": 8.0},
    },
    # tiny, for checking the pipeline on a CPU
    "tiny": {
        "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
        "tie_word_embeddings": True, "rope_scaling": {**LLAMA3_ROPE, "factor": 32.0},
    },
}
VOCAB = 128256
BOS, EOS = 128000, 128001


def hf_config(name: str, dtype: str) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": VOCAB,
        "max_position_embeddings": 131072,
        "rms_norm_eps": 1e-5,
        "rope_theta": 500000.0,
        "attention_bias": False,
        "mlp_bias": False,
        "hidden_act": "silu",
        "bos_token_id": BOS,
        "eos_token_id": EOS,
        "torch_dtype": dtype,
        **SHAPES[name],
    }


def write_tokenizer(out: str) -> None:
    """A byte-level BPE tokenizer with VOCAB ids and no merges (Llama 3's decoder type, so
    mlx-lm picks the same BPEStreamingDetokenizer it uses for the real model). Encoding gives
    one token per byte; the benchmarks feed token ids, so only decoding matters."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = pre_tokenizers.ByteLevel.alphabet()  # the 256 byte-level characters
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    specials = {BOS: "<|begin_of_text|>", EOS: "<|end_of_text|>"}
    for i in range(len(vocab), VOCAB):
        vocab[specials.get(i, f"<|tok_{i}|>" if i >= BOS else f"t{i}")] = i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(specials.values()))
    assert tok.get_vocab_size() == VOCAB, tok.get_vocab_size()
    tok.save(os.path.join(out, "tokenizer.json"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": specials[BOS],
                   "eos_token": specials[EOS], "model_max_length": 131072}, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": specials[BOS], "eos_token": specials[EOS]}, f, indent=2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(SHAPES))
    ap.add_argument("out")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import mlx.core as mx
    from mlx_lm.utils import _get_classes, quantize_model, save_config, save_model

    t0 = time.time()
    mx.random.seed(a.seed)
    config = hf_config(a.name, a.dtype)
    model_class, args_class = _get_classes(config)
    model = model_class(args_class.from_dict(config))
    model.set_dtype(getattr(mx, a.dtype))  # what mlx_lm.convert does with torch_dtype
    model, config = quantize_model(model, config, a.group_size, a.bits)
    os.makedirs(a.out, exist_ok=True)
    save_model(a.out, model)
    save_config(config, os.path.join(a.out, "config.json"))
    write_tokenizer(a.out)
    size = sum(os.path.getsize(os.path.join(a.out, f)) for f in os.listdir(a.out))
    print(f"[make_model] {a.name} → {a.out}: {size / 1e9:.2f} GB in {time.time() - t0:.1f} s "
          f"({a.dtype}, {a.bits}-bit g{a.group_size}, device {mx.default_device()})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
