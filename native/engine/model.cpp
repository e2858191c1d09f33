#include "model.h"

#include <cmath>
#include <map>
#include <thread>

#include "errors.h"

namespace mlxn {

namespace {

mx::Dtype default_dtype() {
  // Quantized matmul on the CPU backend is an order of magnitude slower with float16
  // activations than with float32; GPUs want half precision.
  return mx::default_device() == mx::Device::cpu ? mx::float32 : mx::float16;
}

mx::array take_vector(WeightMap& w, const std::string& name, mx::Dtype dtype) {
  auto it = w.find(name);
  if (it == w.end()) throw EngineError("INVALID_MODEL", "[load] missing weight " + name);
  auto a = mx::astype(it->second, dtype);
  w.erase(it);
  return a;
}

// Every array a decoder layer holds, to evaluate it at load.
std::vector<mx::array> layer_arrays(const DecoderLayer& L) {
  std::vector<mx::array> out;
  auto add = [&](const Linear& l) {
    for (auto& a : l.arrays()) out.push_back(a);
  };
  out.push_back(L.attn_norm);
  out.push_back(L.mlp_norm);
  if (L.q_norm) out.push_back(*L.q_norm);
  if (L.k_norm) out.push_back(*L.k_norm);
  add(L.o);
  add(L.down);
  for (const auto* l : {&L.qkv, &L.q, &L.k, &L.v, &L.gate_up, &L.gate, &L.up}) {
    if (*l) add(**l);
  }
  return out;
}

void validate(const ModelConfig& c) {
  auto positive = [](int v, const char* name) {
    if (v <= 0)
      throw EngineError("INVALID_MODEL",
                        std::string("[load] config: ") + name + " must be positive");
  };
  positive(c.hidden_size, "hidden_size");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.num_layers, "num_hidden_layers");
  positive(c.num_heads, "num_attention_heads");
  positive(c.num_kv_heads, "num_key_value_heads");
  positive(c.head_dim, "head_dim");
  positive(c.vocab_size, "vocab_size");
  if (c.num_heads % c.num_kv_heads != 0) {
    throw EngineError("INVALID_MODEL", "[load] config: heads not a multiple of kv heads");
  }
}

}  // namespace

std::unique_ptr<Model> Model::load(const ModelSpec& spec,
                                   const std::function<void(double)>& progress) {
  auto model = std::unique_ptr<Model>(new Model());
  model->config_ = spec.config;
  ModelConfig& c = model->config_;
  configure_family(c);
  validate(c);
  model->dtype_ = spec.dtype.empty() ? default_dtype() : parse_dtype(spec.dtype);
  const mx::Dtype dt = model->dtype_;

  WeightMap w = load_weight_files(spec);
  progress(0.1);

  const int D = c.hidden_size, H = c.num_heads, KV = c.num_kv_heads, HD = c.head_dim;
  model->embed_.table = Linear::take(w, "model.embed_tokens", D, dt);
  if (model->embed_.table.out_dims != c.vocab_size) {
    throw EngineError("INVALID_MODEL", "[load] embedding rows (" +
                                           std::to_string(model->embed_.table.out_dims) +
                                           ") differ from vocab_size");
  }
  std::map<std::string, int> formats;  // "4-bit g32" → count, for the summary
  auto count = [&](const Linear& l) {
    model->weight_bytes_ += l.nbytes();
    model->parameters_ += double(l.in_dims) * l.out_dims;
    formats[l.quantized() ? std::to_string(l.bits) + "-bit g" + std::to_string(l.group_size)
                          : dtype_name(l.weight.dtype())] += 1;
  };
  count(model->embed_.table);

  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    DecoderLayer L;
    L.attn_norm = take_vector(w, p + "input_layernorm.weight", dt);
    L.mlp_norm = take_vector(w, p + "post_attention_layernorm.weight", dt);
    if (c.qk_norm) {
      L.q_norm = take_vector(w, p + "self_attn.q_norm.weight", dt);
      L.k_norm = take_vector(w, p + "self_attn.k_norm.weight", dt);
    }
    Linear q = Linear::take(w, p + "self_attn.q_proj", D, dt);
    Linear k = Linear::take(w, p + "self_attn.k_proj", D, dt);
    Linear v = Linear::take(w, p + "self_attn.v_proj", D, dt);
    if (q.out_dims != H * HD || k.out_dims != KV * HD || v.out_dims != KV * HD) {
      throw EngineError(
          "INVALID_MODEL",
          "[load] attention shapes do not match the config in layer " + std::to_string(i));
    }
    if (c.attention_bias && !(q.bias && k.bias && v.bias)) {
      throw EngineError("INVALID_MODEL",
                        "[load] missing q/k/v biases in layer " + std::to_string(i));
    }
    L.o = Linear::take(w, p + "self_attn.o_proj", H * HD, dt);
    Linear gate = Linear::take(w, p + "mlp.gate_proj", D, dt);
    Linear up = Linear::take(w, p + "mlp.up_proj", D, dt);
    L.down = Linear::take(w, p + "mlp.down_proj", c.intermediate_size, dt);
    for (const Linear* l : {&q, &k, &v, &L.o, &gate, &up, &L.down}) count(*l);
    // Fewer, larger matmuls: one for q/k/v and one for gate/up (when their formats agree).
    L.qkv = Linear::fuse({&q, &k, &v});
    if (!L.qkv) {
      L.q = q;
      L.k = k;
      L.v = v;
    }
    L.gate_up = Linear::fuse({&gate, &up});
    if (!L.gate_up) {
      L.gate = gate;
      L.up = up;
    }
    model->layers_.push_back(std::move(L));
  }
  model->norm_ = take_vector(w, "model.norm.weight", dt);
  if (w.count("lm_head.weight") && !c.tie_word_embeddings) {
    model->lm_head_ = Linear::take(w, "lm_head", D, dt);
    count(*model->lm_head_);
  } else if (w.count("lm_head.weight")) {
    w.erase("lm_head.weight");
  } else if (!c.tie_word_embeddings) {
    // Some exports drop a head identical to the embedding; use it as tied.
    c.tie_word_embeddings = true;
  }

  const auto& rs = c.rope_scaling;
  model->rope_freqs_ = rope_frequencies(HD, c.rope_theta, rs.type, rs.factor, rs.low_freq_factor,
                                        rs.high_freq_factor, rs.original_max_position_embeddings);
  if (rs.type == "linear" && rs.factor > 0) model->rope_scale_ = 1.0f / rs.factor;

  // Evaluate layer by layer, so loading reports progress and peak memory stays low.
  std::vector<mx::array> head = model->embed_.table.arrays();
  head.push_back(model->norm_);
  if (model->lm_head_) {
    auto h = model->lm_head_->arrays();
    head.insert(head.end(), h.begin(), h.end());
  }
  mx::eval(head);
  for (int i = 0; i < c.num_layers; ++i) {
    mx::eval(layer_arrays(model->layers_[i]));
    progress(0.1 + 0.9 * (i + 1) / c.num_layers);
  }
  model->shard_matmuls(spec.cpu_streams);
  // The norms add a little; parameters of norms are counted for completeness.
  model->parameters_ += double(D) * (2 * c.num_layers + 1);

  std::string summary;
  int best = 0;
  for (const auto& [name, n] : formats) {
    if (n > best) best = n, summary = name;
  }
  model->quantization_ = formats.size() > 1 ? summary + " (mixed)" : summary;
  mx::clear_cache();
  return model;
}

void Model::shard_matmuls(int requested) {
  // MLX's CPU backend runs each stream's ops on one thread, and its quantized matmul is a
  // single-threaded loop: splitting every matmul's output rows over one stream per core puts
  // the other cores to work. GPUs parallelize inside each kernel already.
  if (mx::default_device() != mx::Device::cpu) return;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  int n = requested > 0 ? requested : int(std::min(cores, 4u));
  if (n < 2) return;
  std::vector<mx::Stream> streams{mx::default_stream(mx::Device::cpu)};
  for (int i = 1; i < n; ++i) streams.push_back(mx::new_stream(mx::Device::cpu));
  auto shard = [&](std::optional<Linear>& l) {
    if (l) l->shard(streams);
  };
  for (auto& L : layers_) {
    shard(L.qkv), shard(L.q), shard(L.k), shard(L.v), shard(L.gate_up), shard(L.gate), shard(L.up);
    L.o.shard(streams);
    L.down.shard(streams);
  }
  if (lm_head_) {
    lm_head_->shard(streams);
  } else {
    embed_.table.shard(streams);
  }
  streams_ = n;
}

KVCache Model::make_cache() const {
  return KVCache(config_.num_layers, config_.num_kv_heads, config_.head_dim, dtype_);
}

size_t Model::kv_bytes_per_token() const {
  return size_t(2) * config_.num_layers * config_.num_kv_heads * config_.head_dim *
         mx::size_of(dtype_);
}

mx::array Model::attention(const DecoderLayer& layer, int index, const mx::array& x,
                           const std::vector<KVCache*>& caches) const {
  const ModelConfig& c = config_;
  const int B = x.shape(0), Lq = x.shape(1), H = c.num_heads, KV = c.num_kv_heads, HD = c.head_dim;
  mx::array q(0.0f), k(0.0f), v(0.0f);
  if (layer.qkv) {
    auto parts = mx::split((*layer.qkv)(x), mx::Shape{H * HD, (H + KV) * HD}, -1);
    q = parts[0], k = parts[1], v = parts[2];
  } else {
    q = (*layer.q)(x), k = (*layer.k)(x), v = (*layer.v)(x);
  }
  q = mx::transpose(mx::reshape(q, {B, Lq, H, HD}), {0, 2, 1, 3});
  k = mx::transpose(mx::reshape(k, {B, Lq, KV, HD}), {0, 2, 1, 3});
  v = mx::transpose(mx::reshape(v, {B, Lq, KV, HD}), {0, 2, 1, 3});
  if (layer.q_norm) {
    q = mx::fast::rms_norm(q, *layer.q_norm, c.rms_norm_eps);
    k = mx::fast::rms_norm(k, *layer.k_norm, c.rms_norm_eps);
  }
  const float scale = 1.0f / std::sqrt(float(HD));
  const std::optional<float> base = rope_freqs_ ? std::nullopt : std::optional<float>(c.rope_theta);
  // Each sequence has its own offset and cache; the projections above and below are batched.
  std::vector<mx::array> outs;
  outs.reserve(B);
  for (int b = 0; b < B; ++b) {
    auto qb = B == 1 ? q : mx::slice(q, {b, 0, 0, 0}, {b + 1, H, Lq, HD});
    auto kb = B == 1 ? k : mx::slice(k, {b, 0, 0, 0}, {b + 1, KV, Lq, HD});
    auto vb = B == 1 ? v : mx::slice(v, {b, 0, 0, 0}, {b + 1, KV, Lq, HD});
    const int offset = caches[b]->offset();
    qb = mx::fast::rope(qb, HD, c.rope_traditional, base, rope_scale_, offset, rope_freqs_);
    kb = mx::fast::rope(kb, HD, c.rope_traditional, base, rope_scale_, offset, rope_freqs_);
    auto [keys, values] = caches[b]->update(index, kb, vb);
    outs.push_back(
        mx::fast::scaled_dot_product_attention(qb, keys, values, scale, Lq > 1 ? "causal" : ""));
  }
  auto o = B == 1 ? outs[0] : mx::concatenate(outs, 0);
  o = mx::reshape(mx::transpose(o, {0, 2, 1, 3}), {B, Lq, H * HD});
  return layer.o(o);
}

mx::array Model::mlp(const DecoderLayer& layer, const mx::array& x) const {
  mx::array g(0.0f), u(0.0f);
  if (layer.gate_up) {
    auto parts = mx::split((*layer.gate_up)(x), 2, -1);
    g = parts[0], u = parts[1];
  } else {
    g = (*layer.gate)(x), u = (*layer.up)(x);
  }
  // SwiGLU: silu(g) * u
  return layer.down(mx::multiply(mx::multiply(g, mx::sigmoid(g)), u));
}

mx::array Model::forward(const mx::array& tokens, const std::vector<KVCache*>& caches) const {
  const ModelConfig& c = config_;
  const int B = tokens.shape(0), L = tokens.shape(1);
  auto x = embed_(tokens);
  for (int i = 0; i < c.num_layers; ++i) {
    const DecoderLayer& layer = layers_[i];
    x = mx::add(
        x, attention(layer, i, mx::fast::rms_norm(x, layer.attn_norm, c.rms_norm_eps), caches));
    x = mx::add(x, mlp(layer, mx::fast::rms_norm(x, layer.mlp_norm, c.rms_norm_eps)));
  }
  for (KVCache* cache : caches) cache->advance(L);
  if (L > 1) x = mx::slice(x, {0, L - 1, 0}, {B, L, c.hidden_size});
  x = mx::fast::rms_norm(x, norm_, c.rms_norm_eps);
  auto logits = lm_head_ ? (*lm_head_)(x) : embed_.as_linear(x);
  return mx::astype(mx::reshape(logits, {B, c.vocab_size}), mx::float32);
}

}  // namespace mlxn
