/**
 * The config.json fields of each GGUF architecture that its metadata leaves implicit or names
 * its own way (llama.cpp hard-codes them in its loader). ggufToHfConfig (gguf.ts) maps the keys
 * every architecture shares; this file adds what one architecture needs.
 */
import type { GgufMetadata } from './gguf.js';

type Config = Record<string, unknown>;
type Key = (name: string) => number | undefined;

/** Hugging Face `architectures` entry and `model_type` of each GGUF architecture mapped. */
export const GGUF_ARCHITECTURES: Readonly<Record<string, { hf: string; modelType: string }>> = {
  llama: { hf: 'LlamaForCausalLM', modelType: 'llama' },
  qwen2: { hf: 'Qwen2ForCausalLM', modelType: 'qwen2' },
  qwen3: { hf: 'Qwen3ForCausalLM', modelType: 'qwen3' },
  qwen3moe: { hf: 'Qwen3MoeForCausalLM', modelType: 'qwen3_moe' },
  gemma3: { hf: 'Gemma3ForCausalLM', modelType: 'gemma3_text' },
  phi3: { hf: 'Phi3ForCausalLM', modelType: 'phi3' },
  'gpt-oss': { hf: 'GptOssForCausalLM', modelType: 'gpt_oss' },
  smollm3: { hf: 'SmolLM3ForCausalLM', modelType: 'smollm3' },
};

/** Small float32 tensors whose values become config fields (read with the metadata). */
export const CONFIG_TENSORS = new Set(['rope_factors_long.weight', 'rope_factors_short.weight']);

/** The fields `arch` adds to (or corrects in) the shared mapping. */
export function architectureConfig(arch: string, config: Config, k: Key, meta: GgufMetadata): Config {
  switch (arch) {
    case 'gemma3':
      return gemma3(config, k);
    case 'phi3':
      return phi3(config, k, meta);
    case 'qwen3moe':
      return qwen3moe(config, k, meta);
    case 'gpt-oss':
      return gptOss(config, k);
    case 'smollm3':
      // llama.cpp runs every fourth layer without rope and writes no key for it.
      return { no_rope_layer_interval: 4 };
    default:
      return {};
  }
}

/**
 * Gemma 3: every sixth layer is global, the sliding ones use rope base 10000, and queries are
 * scaled by head_dim^-1/2 (by (hidden / heads)^-1/2 for the 62-layer 27B model).
 */
function gemma3(config: Config, k: Key): Config {
  const headDim = Number(config.head_dim);
  const layers = Number(config.num_hidden_layers);
  return {
    hidden_act: 'gelu_pytorch_tanh',
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: layers === 62 ? Number(config.hidden_size) / Number(config.num_attention_heads) : headDim,
    sliding_window: k('attention.sliding_window') ?? 512,
    sliding_window_pattern: 6,
    rope_local_base_freq: 10000,
    final_logit_softcapping: null,
    attn_logit_softcapping: null,
  };
}

/**
 * Phi-3 / Phi-4-mini: partial rotary from `rope.dimension_count`, LongRoPE factors from the
 * `rope_factors_long` / `rope_factors_short` tensors (when the model has them), the original
 * context from `rope.scaling.original_context_length`. Its sliding window is not used (as in
 * llama.cpp and mlx-lm).
 */
function phi3(config: Config, k: Key, meta: GgufMetadata): Config {
  const headDim = Number(config.hidden_size) / Number(config.num_attention_heads);
  const rotary = k('rope.dimension_count') ?? headDim;
  const out: Config = { head_dim: headDim, partial_rotary_factor: rotary / headDim, sliding_window: undefined };
  const original = k('rope.scaling.original_context_length');
  if (original !== undefined) out.original_max_position_embeddings = original;
  const long = meta.values['rope_factors_long.weight'];
  const short = meta.values['rope_factors_short.weight'];
  if (long && short) out.rope_scaling = { type: 'longrope', long_factor: long, short_factor: short };
  return out;
}

/**
 * Qwen3-MoE: llama.cpp always renormalises the top-k routing weights; layers without a router
 * tensor are dense.
 */
function qwen3moe(config: Config, k: Key, meta: GgufMetadata): Config {
  const layers = Number(config.num_hidden_layers);
  const routed = new Set(meta.tensors.filter((t) => t.name.endsWith('.ffn_gate_inp.weight')).map((t) => t.name));
  const dense = Array.from({ length: layers }, (_, i) => i).filter((i) => !routed.has(`blk.${i}.ffn_gate_inp.weight`));
  return {
    num_experts: k('expert_count'),
    num_experts_per_tok: k('expert_used_count'),
    moe_intermediate_size: k('expert_feed_forward_length'),
    norm_topk_prob: true,
    decoder_sparse_step: 1,
    mlp_only_layers: dense,
  };
}

/**
 * gpt-oss: even layers slide (llama.cpp's pattern), YaRN without truncation as the published
 * config has it, and the SwiGLU clamp llama.cpp hard-codes.
 */
function gptOss(config: Config, k: Key): Config {
  const layers = Number(config.num_hidden_layers);
  const scaling = config.rope_scaling as Config | undefined;
  return {
    num_local_experts: k('expert_count'),
    num_experts_per_tok: k('expert_used_count'),
    intermediate_size: k('expert_feed_forward_length') ?? config.intermediate_size,
    layer_types: Array.from({ length: layers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention')),
    swiglu_limit: 7.0,
    attention_bias: true,
    ...(scaling && { rope_scaling: { ...scaling, truncate: false } }),
  };
}
