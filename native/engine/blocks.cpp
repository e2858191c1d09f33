#include "blocks.h"

#include <cmath>

#include "cuda/fused.h"
#include "errors.h"

namespace mlxn {

namespace {

void merge(WeightStats& into, const WeightStats& from) {
  into.bytes += from.bytes;
  into.parameters += from.parameters;
  for (const auto& [k, n] : from.formats) into.formats[k] += n;
}

void append(std::vector<mx::array>& out, const Linear& l) {
  for (auto& a : l.arrays()) out.push_back(a);
}

}  // namespace

// On a GPU as one kernel (mx::compile fuses the three elementwise ops, as mlx-lm's compiled
// swiglu does): two kernels fewer per layer and decode step. The CPU backend's compile builds C++
// with a compiler at run time, so CPU streams keep the three ops.
mx::array swiglu(const mx::array& g, const mx::array& u) {
  static const auto ops = [](const mx::array& g, const mx::array& u) {
    return mx::multiply(mx::multiply(g, mx::sigmoid(g)), u);
  };
  if (mx::default_device() != mx::Device::gpu) return ops(g, u);
  static const auto fused = mx::compile(
      [](const std::vector<mx::array>& in) { return std::vector<mx::array>{ops(in[0], in[1])}; },
      /*shapeless=*/true);
  return fused({g, u})[0];
}

Attention Attention::take(WeightMap& w, const std::string& p, const AttentionShape& s,
                          AttentionOptions options, mx::Dtype dt) {
  Attention a;
  a.shape_ = s;
  const int q_rows = s.heads * s.head_dim, kv_rows = s.kv_heads * s.head_dim;
  if (w.count(p + ".qkv_proj.weight")) {
    a.qkv_ = Linear::take(w, p + ".qkv_proj", s.hidden, dt);
    if (a.qkv_->out_dims != q_rows + 2 * kv_rows)
      throw EngineError("INVALID_MODEL",
                        "[load] " + p + ".qkv_proj shape does not match the config");
    if (options.qkv_bias && !a.qkv_->bias)
      throw EngineError("INVALID_MODEL", "[load] missing q/k/v biases in " + p);
    a.parts_.add(*a.qkv_);
  } else {
    Linear q = Linear::take(w, p + ".q_proj", s.hidden, dt);
    Linear k = Linear::take(w, p + ".k_proj", s.hidden, dt);
    Linear v = Linear::take(w, p + ".v_proj", s.hidden, dt);
    if (q.out_dims != q_rows || k.out_dims != kv_rows || v.out_dims != kv_rows)
      throw EngineError("INVALID_MODEL", "[load] " + p + " shapes do not match the config");
    if (options.qkv_bias && !(q.bias && k.bias && v.bias))
      throw EngineError("INVALID_MODEL", "[load] missing q/k/v biases in " + p);
    for (const Linear* l : {&q, &k, &v}) a.parts_.add(*l);
    // Fewer, larger matmuls: one for q/k/v when their formats agree.
    a.qkv_ = Linear::fuse({&q, &k, &v});
    if (!a.qkv_) a.q_ = q, a.k_ = k, a.v_ = v;
  }
  a.o_ = Linear::take(w, p + ".o_proj", q_rows, dt);
  a.parts_.add(a.o_);
  if (options.qk_norm) {
    a.q_norm_ = take_vector(w, p + ".q_norm.weight", dt);
    a.k_norm_ = take_vector(w, p + ".k_norm.weight", dt);
    a.parts_.add(*a.q_norm_);
    a.parts_.add(*a.k_norm_);
  }
  if (options.sinks) {
    a.sinks_ = take_vector(w, p + ".sinks", dt);
    if (a.sinks_->ndim() != 1 || a.sinks_->shape(0) != s.heads)
      throw EngineError("INVALID_MODEL", "[load] " + p + ".sinks must have one value per head");
    a.parts_.add(*a.sinks_);
  }
  return a;
}

mx::array Attention::operator()(const mx::array& x, int layer, KVCache& cache,
                                const CacheStep& step, const Rope& rope) const {
  return o_(attend(x, std::nullopt, layer, cache, step, rope));
}

mx::array Attention::residual(const mx::array& x, const mx::array& norm, float eps, int layer,
                              KVCache& cache, const CacheStep& step, const Rope& rope) const {
  const bool fuse = fused::enabled(fused::Kernel::norm);
  std::optional<mx::array> qkv;
  if (fuse && qkv_) qkv = qkv_->fused(x, {norm, eps, std::nullopt, false});
  auto o = attend(qkv ? x : mx::fast::rms_norm(x, norm, eps), qkv, layer, cache, step, rope);
  if (fuse) {
    if (auto y = o_.fused(o, {std::nullopt, 0.0f, x, false})) return *y;
  }
  return mx::add(x, o_(o));
}

mx::array Attention::attend(const mx::array& h, const std::optional<mx::array>& qkv_out, int layer,
                            KVCache& cache, const CacheStep& step, const Rope& rope) const {
  const int B = h.shape(0), L = h.shape(1);
  const int H = shape_.heads, KV = shape_.kv_heads, D = shape_.head_dim;
  auto project = [&] { return qkv_out ? *qkv_out : (*qkv_)(h); };
  mx::array q(0.0f), k(0.0f), v(0.0f);
  if (qkv_ && fused::enabled(fused::Kernel::split_heads) && fused::can_split_heads(rope, D)) {
    auto qkv = fused::split_heads_rope(project(), H, KV, D, rope, step.offset_array, q_norm_,
                                       k_norm_, shape_.norm_eps);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else {
    if (qkv_) {
      auto parts = mx::split(project(), mx::Shape{H * D, (H + KV) * D}, -1);
      q = parts[0], k = parts[1], v = parts[2];
    } else {
      q = (*q_)(h), k = (*k_)(h), v = (*v_)(h);
    }
    q = mx::transpose(mx::reshape(q, {B, L, H, D}), {0, 2, 1, 3});
    k = mx::transpose(mx::reshape(k, {B, L, KV, D}), {0, 2, 1, 3});
    v = mx::transpose(mx::reshape(v, {B, L, KV, D}), {0, 2, 1, 3});
    if (q_norm_) {
      q = mx::fast::rms_norm(q, *q_norm_, shape_.norm_eps);
      k = mx::fast::rms_norm(k, *k_norm_, shape_.norm_eps);
    }
    q = rope(q, step);
    k = rope(k, step);
  }
  KVRead read = cache.update(layer, k, v, step);
  // As mlx-lm computes it (head_dim ** -0.5 in double precision, then float32).
  const float scale = float(std::pow(double(D), -0.5));
  auto o = mx::fast::scaled_dot_product_attention(q, read.keys, read.values, scale, read.mode,
                                                  read.mask, sinks_);
  // [B, H, L, D] → [B, L, H·D]; with one token the transpose moves nothing.
  if (L == 1) return mx::reshape(o, {B, 1, H * D});
  return mx::reshape(mx::transpose(o, {0, 2, 1, 3}), {B, L, H * D});
}

void Attention::for_each_linear(const std::function<void(Linear&)>& f) {
  for (auto* l : {&qkv_, &q_, &k_, &v_}) {
    if (*l) f(**l);
  }
  f(o_);
}

std::vector<mx::array> Attention::arrays() const {
  std::vector<mx::array> out;
  for (const auto* l : {&qkv_, &q_, &k_, &v_}) {
    if (*l) append(out, **l);
  }
  append(out, o_);
  if (q_norm_) out.push_back(*q_norm_), out.push_back(*k_norm_);
  if (sinks_) out.push_back(*sinks_);
  return out;
}

void Attention::count(WeightStats& stats) const {
  merge(stats, parts_);
}

SwiGLU SwiGLU::take(WeightMap& w, const std::string& p, int hidden, int intermediate,
                    mx::Dtype dt) {
  SwiGLU m;
  m.down_ = Linear::take(w, p + ".down_proj", intermediate, dt);
  if (w.count(p + ".gate_up_proj.weight")) {
    m.gate_up_ = Linear::take(w, p + ".gate_up_proj", hidden, dt);
    if (m.gate_up_->out_dims != 2 * intermediate)
      throw EngineError("INVALID_MODEL",
                        "[load] " + p + ".gate_up_proj shape does not match the config");
    m.parts_.add(*m.gate_up_);
  } else {
    Linear gate = Linear::take(w, p + ".gate_proj", hidden, dt);
    Linear up = Linear::take(w, p + ".up_proj", hidden, dt);
    if (gate.out_dims != intermediate || up.out_dims != intermediate)
      throw EngineError("INVALID_MODEL", "[load] " + p + " shapes do not match the config");
    for (const Linear* l : {&gate, &up}) m.parts_.add(*l);
    m.gate_up_ = Linear::fuse({&gate, &up});
    if (!m.gate_up_) m.gate_ = gate, m.up_ = up;
  }
  if (m.down_.out_dims != hidden)
    throw EngineError("INVALID_MODEL",
                      "[load] " + p + ".down_proj shape does not match the config");
  m.parts_.add(m.down_);
  return m;
}

mx::array SwiGLU::operator()(const mx::array& x) const {
  return down_(activation(x));
}

mx::array SwiGLU::residual(const mx::array& x, const mx::array& norm, float eps) const {
  const bool fuse = fused::enabled(fused::Kernel::norm);
  std::optional<mx::array> a;
  if (fuse && gate_up_ && fused::enabled(fused::Kernel::swiglu))
    a = gate_up_->fused(x, {norm, eps, std::nullopt, true});
  if (!a) a = activation(mx::fast::rms_norm(x, norm, eps));
  if (fuse) {
    if (auto y = down_.fused(*a, {std::nullopt, 0.0f, x, false})) return *y;
  }
  return mx::add(x, down_(*a));
}

mx::array SwiGLU::activation(const mx::array& h) const {
  if (gate_up_ && fused::enabled(fused::Kernel::swiglu)) {
    if (auto a = gate_up_->fused(h, {std::nullopt, 0.0f, std::nullopt, true})) return *a;
    return fused::swiglu_halves((*gate_up_)(h));
  }
  mx::array g(0.0f), u(0.0f);
  if (gate_up_) {
    auto parts = mx::split((*gate_up_)(h), 2, -1);
    g = parts[0], u = parts[1];
  } else {
    g = (*gate_)(h), u = (*up_)(h);
  }
  return swiglu(g, u);
}

void SwiGLU::for_each_linear(const std::function<void(Linear&)>& f) {
  for (auto* l : {&gate_up_, &gate_, &up_}) {
    if (*l) f(**l);
  }
  f(down_);
}

std::vector<mx::array> SwiGLU::arrays() const {
  std::vector<mx::array> out;
  for (const auto* l : {&gate_up_, &gate_, &up_}) {
    if (*l) append(out, **l);
  }
  append(out, down_);
  return out;
}

void SwiGLU::count(WeightStats& stats) const {
  merge(stats, parts_);
}

}  // namespace mlxn

namespace mlxn {

mx::array last_positions(const mx::array& x, const CacheStep& step) {
  const int B = x.shape(0), L = x.shape(1), D = x.shape(2);
  if (L == 1) return x;
  if (!step.last) return mx::slice(x, {0, L - 1, 0}, {B, L, D});
  return mx::take_along_axis(x, mx::broadcast_to(*step.last, {B, 1, D}), 1);
}

}  // namespace mlxn
