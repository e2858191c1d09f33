// Gemma 3 (text): sliding-window layers (local rope base, attention limited to the last
// `sliding_window` positions) interleaved with global ones (`sliding_window_pattern`: every
// sixth by default), RMSNorm with (1 + w) scales on the input, output and q/k, norms before and
// after both sub-layers, embeddings scaled by sqrt(hidden), a GELU-tanh MLP, and queries scaled
// by query_pre_attn_scalar^-1/2.
#include <algorithm>
#include <cmath>

#include "../blocks.h"
#include "../decoder.h"
#include "../device.h"
#include "../errors.h"
#include "registry.h"

namespace mlxn {

namespace {

struct Gemma3Config {
  DecoderConfig base;
  float attn_scale = 0;
  int sliding_window = 512;
  std::vector<bool> sliding;  // per layer
  RopeConfig local_rope;
};

Gemma3Config read_gemma3_config(const Json& c) {
  Gemma3Config g;
  g.base = read_decoder_config(c);
  g.attn_scale = float(std::pow(double(config_float(c, "query_pre_attn_scalar", 256.0f)), -0.5));
  g.sliding_window = config_int(c, "sliding_window", g.sliding_window);
  const int pattern = config_int(c, "sliding_window_pattern", 6);
  if (g.sliding_window <= 0 || pattern <= 0)
    throw EngineError("INVALID_MODEL", "[load] sliding_window and its pattern must be positive");
  for (int i = 0; i < g.base.num_layers; ++i) g.sliding.push_back((i + 1) % pattern != 0);
  g.local_rope.theta = config_float(c, "rope_local_base_freq", 10000.0f);
  return g;
}

struct Block {
  bool sliding = false;
  mx::array input_norm{0.0f}, post_attn_norm{0.0f}, pre_ff_norm{0.0f}, post_ff_norm{0.0f};
  mx::array q_norm{0.0f}, k_norm{0.0f};
  std::optional<Linear> qkv, q, k, v;
  Linear o, gate, up, down;
};

class Gemma3 : public Decoder {
 public:
  Gemma3(LoadContext& ctx, const Gemma3Config& g) : g_(g), c_(g.base) {
    const mx::Dtype dt = ctx.dtype;
    WeightMap& w = ctx.weights;
    WeightStats stats;
    // Gemma's RMSNorm multiplies by (1 + w), added once here in the compute dtype.
    auto norm = [&](const std::string& name) {
      auto v = take_vector(w, name, dt);
      stats.add(v);
      return mx::add(v, mx::array(1.0f, dt));
    };
    auto linear = [&](const std::string& name, int in, int out) {
      Linear l = Linear::take(w, name, in, dt);
      if (l.out_dims != out)
        throw EngineError("INVALID_MODEL", "[load] " + name + " shape does not match the config");
      stats.add(l);
      return l;
    };
    embed_.table = linear("model.embed_tokens", c_.hidden_size, c_.vocab_size);
    const int H = c_.hidden_size, qd = c_.num_heads * c_.head_dim,
              kd = c_.num_kv_heads * c_.head_dim;
    for (int i = 0; i < c_.num_layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      Block b;
      b.sliding = g.sliding[i];
      b.input_norm = norm(p + "input_layernorm.weight");
      b.post_attn_norm = norm(p + "post_attention_layernorm.weight");
      b.pre_ff_norm = norm(p + "pre_feedforward_layernorm.weight");
      b.post_ff_norm = norm(p + "post_feedforward_layernorm.weight");
      b.q_norm = norm(p + "self_attn.q_norm.weight");
      b.k_norm = norm(p + "self_attn.k_norm.weight");
      Linear q = linear(p + "self_attn.q_proj", H, qd), k = linear(p + "self_attn.k_proj", H, kd),
             v = linear(p + "self_attn.v_proj", H, kd);
      b.qkv = Linear::fuse({&q, &k, &v});
      if (!b.qkv) b.q = q, b.k = k, b.v = v;
      b.o = linear(p + "self_attn.o_proj", qd, H);
      b.gate = linear(p + "mlp.gate_proj", H, c_.intermediate_size);
      b.up = linear(p + "mlp.up_proj", H, c_.intermediate_size);
      b.down = linear(p + "mlp.down_proj", c_.intermediate_size, H);
      blocks_.push_back(std::move(b));
    }
    norm_ = norm("model.norm.weight");
    if (w.count("lm_head.weight")) lm_head_ = linear("lm_head", H, c_.vocab_size);
    // As mlx-lm: sqrt(hidden) rounded to bfloat16, then to the compute dtype.
    embed_scale_ = mx::astype(mx::astype(mx::array(float(std::sqrt(double(H)))), mx::bfloat16), dt);
    global_rope_ = Rope::from(c_.rope, c_.head_dim);
    local_rope_ = Rope::from(g.local_rope, c_.head_dim);

    std::vector<std::vector<mx::array>> groups{embed_.table.arrays()};
    groups[0].push_back(norm_);
    if (lm_head_) append(groups[0], *lm_head_);
    for (Block& b : blocks_) {
      std::vector<mx::array> a{b.input_norm,   b.post_attn_norm, b.pre_ff_norm,
                               b.post_ff_norm, b.q_norm,         b.k_norm};
      for_each_linear(b, [&](Linear& l) { append(a, l); });
      groups.push_back(std::move(a));
    }
    evaluate_weights(groups, ctx.progress);

    extra_streams_ = extra_matmul_streams(ctx.spec.cpu_streams);
    info_.streams = place_linears(extra_streams_, [&](const std::function<void(Linear&)>& f) {
      for (Block& b : blocks_) for_each_linear(b, f);
      f(lm_head_ ? *lm_head_ : embed_.table);
    });
    info_.num_layers = c_.num_layers;
    info_.hidden_size = H;
    info_.vocab_size = c_.vocab_size;
    info_.weight_bytes = stats.bytes;
    info_.parameters = stats.parameters;
    info_.quantization = stats.summary();
    info_.dtype = dt;
    kv_heads_ = c_.num_kv_heads, head_dim_ = c_.head_dim, norm_eps_ = c_.rms_norm_eps;
    for (bool sliding : g_.sliding) windows_.push_back(sliding ? g_.sliding_window : 0);
    info_.kv_bytes_per_token = size_t(2) * c_.num_layers * kd * mx::size_of(dt);
  }

 private:
  // The embedding is scaled by sqrt(hidden) before the first block.
  mx::array run_layers(const mx::array& tokens, KVCache& cache,
                       const CacheStep& step) const override {
    const float eps = c_.rms_norm_eps;
    auto x = mx::multiply(embed_(tokens), embed_scale_);
    for (int i = 0; i < int(blocks_.size()); ++i) {
      const Block& b = blocks_[i];
      auto r = attention(b, mx::fast::rms_norm(x, b.input_norm, eps), i, cache, step);
      x = residual(x, mx::fast::rms_norm(r, b.post_attn_norm, eps));
      r = mlp(b, mx::fast::rms_norm(x, b.pre_ff_norm, eps));
      x = residual(x, mx::fast::rms_norm(r, b.post_ff_norm, eps));
    }
    cache.commit(step);
    return x;
  }

  static void append(std::vector<mx::array>& out, const Linear& l) {
    for (auto& a : l.arrays()) out.push_back(a);
  }
  static void for_each_linear(Block& b, const std::function<void(Linear&)>& f) {
    for (auto* l : {&b.qkv, &b.q, &b.k, &b.v}) {
      if (*l) f(**l);
    }
    for (Linear* l : {&b.o, &b.gate, &b.up, &b.down}) f(*l);
  }

  mx::array attention(const Block& b, const mx::array& x, int layer, KVCache& cache,
                      const CacheStep& step) const {
    const int B = x.shape(0), L = x.shape(1);
    const int H = c_.num_heads, KV = c_.num_kv_heads, D = c_.head_dim;
    mx::array q(0.0f), k(0.0f), v(0.0f);
    if (b.qkv) {
      auto parts = mx::split((*b.qkv)(x), mx::Shape{H * D, (H + KV) * D}, -1);
      q = parts[0], k = parts[1], v = parts[2];
    } else {
      q = (*b.q)(x), k = (*b.k)(x), v = (*b.v)(x);
    }
    q = mx::transpose(mx::reshape(q, {B, L, H, D}), {0, 2, 1, 3});
    k = mx::transpose(mx::reshape(k, {B, L, KV, D}), {0, 2, 1, 3});
    v = mx::transpose(mx::reshape(v, {B, L, KV, D}), {0, 2, 1, 3});
    q = mx::fast::rms_norm(q, b.q_norm, c_.rms_norm_eps);
    k = mx::fast::rms_norm(k, b.k_norm, c_.rms_norm_eps);
    const Rope& rope = b.sliding ? local_rope_ : global_rope_;
    q = rope(q, step);
    k = rope(k, step);
    KVRead read = cache.update(layer, k, v, step);  // sliding layers: the window's slots
    auto o = mx::fast::scaled_dot_product_attention(q, read.keys, read.values, g_.attn_scale,
                                                    read.mode, read.mask);
    return b.o(mx::reshape(mx::transpose(o, {0, 2, 1, 3}), {B, L, H * D}));
  }

  // down(gelu_tanh(gate(x)) * up(x)), gelu written out as mlx-lm's gelu_approx computes it.
  static mx::array mlp(const Block& b, const mx::array& x) {
    auto g = b.gate(x);
    const auto dt = g.dtype();
    auto inner = mx::add(g, mx::multiply(mx::array(0.044715f, dt), mx::power(g, mx::array(3, dt))));
    auto t = mx::tanh(mx::multiply(mx::array(float(std::sqrt(2.0 / M_PI)), dt), inner));
    auto gelu = mx::multiply(mx::multiply(mx::array(0.5f, dt), g), mx::add(mx::array(1.0f, dt), t));
    return b.down(mx::multiply(gelu, b.up(x)));
  }

  // x + y; in float16 summed in float32 and clipped to float16's range, as mlx-lm does.
  static mx::array residual(const mx::array& x, const mx::array& y) {
    if (x.dtype() != mx::float16) return mx::add(x, y);
    const float bound = 65504.0f;
    auto s = mx::add(mx::astype(x, mx::float32), mx::astype(y, mx::float32));
    return mx::astype(mx::clip(s, mx::array(-bound), mx::array(bound)), mx::float16);
  }

  Gemma3Config g_;
  DecoderConfig c_;
  mx::array embed_scale_{1.0f};
  std::vector<Block> blocks_;
  Rope global_rope_, local_rope_;
  StreamLease extra_streams_;
};

// Gemma 3 with vision (model_type "gemma3"): the text model's configuration is `text_config`
// (with mlx-lm's defaults for what it leaves out) and its weights sit under
// `language_model.`; the vision tower and projector are left unused.
Json text_config(const Json& c) {
  Json t = c["text_config"];
  if (!t.is_object())
    throw EngineError("INVALID_MODEL", "[load] config.json: text_config must be an object");
  const Json defaults = {{"hidden_size", 1152},       {"num_hidden_layers", 26},
                         {"intermediate_size", 6912}, {"num_attention_heads", 8},
                         {"num_key_value_heads", 4},  {"head_dim", 256}};
  for (const auto& [key, value] : defaults.items()) {
    if (!t.contains(key)) t[key] = value;
  }
  t["vocab_size"] = c.value("vocab_size", 262208);
  t["model_type"] = "gemma3_text";
  return t;
}

std::unique_ptr<Model> load_gemma3(LoadContext& ctx) {
  if (!ctx.config.contains("text_config"))
    return std::make_unique<Gemma3>(ctx, read_gemma3_config(ctx.config));
  const std::string prefix = "language_model.";
  WeightMap text;
  for (auto& [name, a] : ctx.weights) {
    if (name.compare(0, prefix.size(), prefix) == 0)
      text.insert_or_assign(name.substr(prefix.size()), a);
  }
  ctx.weights = std::move(text);
  return std::make_unique<Gemma3>(ctx, read_gemma3_config(text_config(ctx.config)));
}

const FamilyRegistration registration({"gemma3", {"gemma3_text", "gemma3"}, load_gemma3});

}  // namespace

}  // namespace mlxn
