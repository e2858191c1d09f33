#include "moe.h"

#include "blocks.h"
#include "errors.h"

namespace mlxn {

namespace {

std::optional<mx::array> take_optional(WeightMap& w, const std::string& name) {
  auto it = w.find(name);
  if (it == w.end()) return std::nullopt;
  mx::array a = it->second;
  w.erase(it);
  return a;
}

// Stacks `<block>.experts.<e>.<name><suffix>` for every expert, when expert 0 has it.
std::optional<mx::array> take_per_expert(WeightMap& w, const std::string& block,
                                         const std::string& name, const std::string& suffix,
                                         int experts) {
  auto key = [&](int e) { return block + ".experts." + std::to_string(e) + "." + name + suffix; };
  if (!w.count(key(0))) return std::nullopt;
  std::vector<mx::array> parts;
  for (int e = 0; e < experts; ++e) {
    auto a = take_optional(w, key(e));
    if (!a) throw EngineError("INVALID_MODEL", "[load] missing weight " + key(e));
    parts.push_back(*a);
  }
  return mx::stack(parts, 0);
}

}  // namespace

SwitchLinear SwitchLinear::take(WeightMap& w, const std::string& block, const std::string& stacked,
                                const std::string& name, int experts, int in_dims, mx::Dtype dt) {
  SwitchLinear l;
  const std::string p = block + "." + stacked + "." + name;
  auto part = [&](const char* suffix) {
    auto a = take_optional(w, p + suffix);
    return a ? a : take_per_expert(w, block, name, suffix, experts);
  };
  if (w.count(p + ".global_scale")) {
    throw EngineError("UNSUPPORTED_QUANTIZATION",
                      "[load] " + p + " has an nvfp4 global scale, which is not supported");
  }
  auto weight = part(".weight");
  if (!weight) throw EngineError("INVALID_MODEL", "[load] missing weight " + p + ".weight");
  l.weight = *weight;
  l.scales = part(".scales"), l.biases = part(".biases"), l.bias = part(".bias");
  l.experts = experts, l.in_dims = in_dims;
  if (l.weight.ndim() != 3 || l.weight.shape(0) != experts)
    throw EngineError("INVALID_MODEL", "[load] " + p + " is not a stack of " +
                                           std::to_string(experts) + " expert matrices");
  l.out_dims = l.weight.shape(1);
  if (l.scales) {
    l.format = read_quant_format(l.weight, *l.scales, l.biases.has_value(), in_dims, p);
    if (l.format.mode == "affine") l.scales = mx::astype(*l.scales, dt);
    if (l.biases) l.biases = mx::astype(*l.biases, dt);
  } else {
    if (l.weight.shape(2) != in_dims)
      throw EngineError("INVALID_MODEL", "[load] " + p + " has input size " +
                                             std::to_string(l.weight.shape(2)) + ", expected " +
                                             std::to_string(in_dims));
    l.weight = mx::astype(l.weight, dt);
  }
  if (l.bias) {
    if (l.bias->ndim() != 2 || l.bias->shape(0) != experts || l.bias->shape(1) != l.out_dims)
      throw EngineError("INVALID_MODEL", "[load] " + p + ".bias does not match its weight");
    l.bias = mx::astype(*l.bias, dt);
  }
  return l;
}

mx::array SwitchLinear::operator()(const mx::array& x, const mx::array& indices,
                                   bool sorted) const {
  auto y = format.bits
               ? mx::gather_qmm(x, weight, *scales, biases, std::nullopt, indices, true,
                                format.group_size, format.bits, format.mode, std::nullopt, sorted)
               : mx::gather_mm(x, mx::swapaxes(weight, -1, -2), std::nullopt, indices, sorted);
  if (bias) y = mx::add(y, mx::expand_dims(mx::take(*bias, indices, 0), -2));
  return y;
}

std::vector<mx::array> SwitchLinear::arrays() const {
  std::vector<mx::array> out{weight};
  for (const auto* a : {&scales, &biases, &bias}) {
    if (*a) out.push_back(**a);
  }
  return out;
}

SparseMoe SparseMoe::take(WeightMap& w, const std::string& p, const MoeConfig& c, mx::Dtype dt) {
  SparseMoe m;
  m.config_ = c;
  if (c.experts <= 0 || c.top_k <= 0 || c.top_k > c.experts)
    throw EngineError("INVALID_MODEL",
                      "[load] config.json: experts per token must be in [1, experts]");
  m.router_ = Linear::take(w, p + "." + c.router, c.hidden, dt);
  if (m.router_.out_dims != c.experts)
    throw EngineError("INVALID_MODEL", "[load] " + p + "." + c.router + " does not route to " +
                                           std::to_string(c.experts) + " experts");
  m.gate_ = SwitchLinear::take(w, p, c.experts_name, "gate_proj", c.experts, c.hidden, dt);
  m.up_ = SwitchLinear::take(w, p, c.experts_name, "up_proj", c.experts, c.hidden, dt);
  m.down_ = SwitchLinear::take(w, p, c.experts_name, "down_proj", c.experts, c.intermediate, dt);
  if (m.gate_.out_dims != c.intermediate || m.up_.out_dims != c.intermediate ||
      m.down_.out_dims != c.hidden)
    throw EngineError("INVALID_MODEL", "[load] " + p + " expert shapes do not match the config");
  return m;
}

mx::array SparseMoe::experts(const mx::array& x, const mx::array& indices) const {
  // Many tokens: sort them by expert so each expert's weights are read once, in order.
  const int k = config_.top_k;
  const bool sort = indices.size() >= 64;
  auto xs = mx::expand_dims(x, {-2, -3});  // [B, L, 1, 1, D]
  auto idx = indices;
  std::optional<mx::array> inverse;
  if (sort) {
    auto flat = mx::flatten(indices);
    auto order = mx::argsort(flat);
    inverse = mx::argsort(order);
    xs = mx::take(mx::flatten(xs, 0, -3), mx::floor_divide(order, mx::array(uint32_t(k))), 0);
    idx = mx::take(flat, order, 0);
  }
  auto up = up_(xs, idx, sort), gate = gate_(xs, idx, sort);
  mx::array h(0.0f);
  if (config_.activation == "clamped") {
    auto g = mx::minimum(gate, mx::array(config_.limit, gate.dtype()));
    auto u =
        mx::clip(up, mx::array(-config_.limit, up.dtype()), mx::array(config_.limit, up.dtype()));
    auto glu = mx::multiply(g, mx::sigmoid(mx::multiply(mx::array(config_.alpha, g.dtype()), g)));
    h = mx::multiply(mx::add(u, mx::array(1.0f, u.dtype())), glu);
  } else {
    h = swiglu(gate, up);
  }
  auto y = down_(h, idx, sort);
  if (sort) {
    y = mx::take(y, *inverse, 0);
    auto shape = indices.shape();
    shape.push_back(1), shape.push_back(y.shape(-1));
    y = mx::reshape(y, shape);
  }
  return mx::squeeze(y, -2);  // [B, L, k, D]
}

mx::array SparseMoe::operator()(const mx::array& x) const {
  const int E = config_.experts, k = config_.top_k;
  auto logits = router_(x);
  if (config_.routing == "topk_softmax") {
    auto inds =
        mx::slice(mx::argpartition(logits, E - k, -1), {0, 0, E - k}, {x.shape(0), x.shape(1), E});
    auto weights = mx::softmax(mx::take_along_axis(logits, inds, -1), -1, true);
    auto y = experts(x, inds);
    return mx::sum(mx::multiply(y, mx::expand_dims(weights, -1)), -2);
  }
  auto gates = mx::softmax(logits, -1, true);
  auto inds =
      mx::slice(mx::argpartition(gates, E - k, -1), {0, 0, E - k}, {x.shape(0), x.shape(1), E});
  auto scores = mx::take_along_axis(gates, inds, -1);
  if (config_.norm_topk) scores = mx::divide(scores, mx::sum(scores, -1, true));
  auto y = experts(x, inds);
  return mx::astype(mx::sum(mx::multiply(y, mx::expand_dims(scores, -1)), -2), y.dtype());
}

std::vector<mx::array> SparseMoe::arrays() const {
  std::vector<mx::array> out = router_.arrays();
  for (const SwitchLinear* l : {&gate_, &up_, &down_}) {
    for (auto& a : l->arrays()) out.push_back(a);
  }
  return out;
}

void SparseMoe::count(WeightStats& stats) const {
  stats.add(router_);
  for (const SwitchLinear* l : {&gate_, &up_, &down_}) {
    for (auto& a : l->arrays()) stats.bytes += a.nbytes();
    stats.parameters += double(l->experts) * l->in_dims * l->out_dims;
    stats.formats[l->format.bits ? l->format.label() : dtype_name(l->weight.dtype())] += 1;
  }
}

}  // namespace mlxn
