// Llama 1-3, SmolLM/SmolLM2, Mistral: the plain Llama decoder. Llama 3 rope scaling comes from
// config.json's rope_scaling.
#include "llama.h"

#include <tuple>

#include "../decoder.h"
#include "../device.h"
#include "../errors.h"
#include "registry.h"

namespace mlxn {

namespace {

struct Block {
  mx::array attn_norm{0.0f}, mlp_norm{0.0f};
  Attention attn;
  std::optional<SwiGLU> mlp = std::nullopt;
  std::optional<SparseMoe> moe = std::nullopt;
  bool rope = true;
};

class LlamaDecoder : public Decoder {
 public:
  LlamaDecoder(LoadContext& ctx, const DecoderConfig& c, LlamaOptions options) : config_(c) {
    const mx::Dtype dt = ctx.dtype;
    WeightMap& w = ctx.weights;
    WeightStats stats;
    embed_.table = Linear::take(w, "model.embed_tokens", c.hidden_size, dt);
    if (embed_.table.out_dims != c.vocab_size) {
      throw EngineError("INVALID_MODEL", "[load] embedding rows (" +
                                             std::to_string(embed_.table.out_dims) +
                                             ") differ from vocab_size");
    }
    stats.add(embed_.table);
    const AttentionShape shape{c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim,
                               c.rms_norm_eps};
    if ((!options.rope_layers.empty() && int(options.rope_layers.size()) != c.num_layers) ||
        (!options.windows.empty() && int(options.windows.size()) != c.num_layers)) {
      throw EngineError("INVALID_MODEL", "[load] config.json: per-layer lists must have " +
                                             std::to_string(c.num_layers) + " entries");
    }
    const AttentionOptions attn{options.qkv_bias, options.qk_norm, options.sinks};
    windows_ = options.windows;
    kv_heads_ = c.num_kv_heads, head_dim_ = c.head_dim, norm_eps_ = c.rms_norm_eps;
    for (int i = 0; i < c.num_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i);
      Block b{take_vector(w, p + ".input_layernorm.weight", dt),
              take_vector(w, p + ".post_attention_layernorm.weight", dt),
              Attention::take(w, p + ".self_attn", shape, attn, dt)};
      auto moe = options.moe ? options.moe(i) : std::nullopt;
      if (moe) {
        b.moe = SparseMoe::take(w, p + ".mlp", *moe, dt);
        b.moe->count(stats);
      } else {
        b.mlp = SwiGLU::take(w, p + ".mlp", c.hidden_size, c.intermediate_size, dt);
        b.mlp->count(stats);
      }
      if (!options.rope_layers.empty()) b.rope = options.rope_layers[i];
      stats.add(b.attn_norm), stats.add(b.mlp_norm);
      b.attn.count(stats);
      blocks_.push_back(std::move(b));
    }
    norm_ = take_vector(w, "model.norm.weight", dt);
    stats.add(norm_);
    bool has_head = w.count("lm_head.weight") > 0;
    if (has_head && !c.tie_word_embeddings) {
      lm_head_ = Linear::take(w, "lm_head", c.hidden_size, dt);
      stats.add(*lm_head_);
    }
    // Without a head the embedding is the output layer (also when an export dropped a head
    // that was identical to it).
    rope_ = options.rope ? *options.rope : Rope::from(c.rope, c.head_dim);

    std::vector<std::vector<mx::array>> groups{embed_.table.arrays()};
    groups[0].push_back(norm_);
    if (lm_head_) {
      for (auto& a : lm_head_->arrays()) groups[0].push_back(a);
    }
    for (const Block& b : blocks_) {
      auto g = b.attn.arrays(), m = b.moe ? b.moe->arrays() : b.mlp->arrays();
      g.insert(g.end(), m.begin(), m.end());
      g.push_back(b.attn_norm), g.push_back(b.mlp_norm);
      groups.push_back(std::move(g));
    }
    evaluate_weights(groups, ctx.progress);

    extra_streams_ = extra_matmul_streams(ctx.spec.cpu_streams);
    info_.streams = place_linears(extra_streams_, [&](const std::function<void(Linear&)>& f) {
      for (Block& b : blocks_) {
        b.attn.for_each_linear(f);
        if (b.mlp) b.mlp->for_each_linear(f);
      }
      f(lm_head_ ? *lm_head_ : embed_.table);
    });
    info_.num_layers = c.num_layers;
    info_.hidden_size = c.hidden_size;
    info_.vocab_size = c.vocab_size;
    info_.weight_bytes = stats.bytes;
    info_.parameters = stats.parameters;
    info_.quantization = stats.summary();
    info_.dtype = dt;
    info_.kv_bytes_per_token =
        size_t(2) * c.num_layers * c.num_kv_heads * c.head_dim * mx::size_of(dt);
  }

 private:
  mx::array run_layers(const mx::array& tokens, KVCache& cache,
                       const CacheStep& step) const override {
    const float eps = config_.rms_norm_eps;
    auto x = embed_(tokens);
    const Rope none;
    // Pre-norm sublayers, each adding to the residual stream x.
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const Block& b = blocks_[i];
      x = b.attn.residual(x, b.attn_norm, eps, int(i), cache, step, b.rope ? rope_ : none);
      x = b.moe ? mx::add(x, (*b.moe)(mx::fast::rms_norm(x, b.mlp_norm, eps)))
                : b.mlp->residual(x, b.mlp_norm, eps);
    }
    cache.commit(step);
    return x;
  }

  DecoderConfig config_;
  std::vector<Block> blocks_;
  Rope rope_;
  StreamLease extra_streams_;  // the CPU matmul shards' streams; returned with the model
};

std::unique_ptr<Model> load_llama(LoadContext& ctx) {
  DecoderConfig c = read_decoder_config(ctx.config);
  // llama.cpp's converter permutes Llama Q/K rows for the interleaved rope layout; running rope
  // in that (traditional) layout gives the same attention scores as undoing the permutation.
  if (ctx.spec.format == "gguf") c.rope.traditional = true;
  return load_llama_decoder(ctx, c, {});
}

const FamilyRegistration registration({"llama", {"llama", "mistral"}, load_llama});

}  // namespace

std::unique_ptr<Model> load_llama_decoder(LoadContext& ctx, const DecoderConfig& config,
                                          LlamaOptions options) {
  return std::make_unique<LlamaDecoder>(ctx, config, options);
}

}  // namespace mlxn
