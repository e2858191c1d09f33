#include "layers.h"

#include <cmath>

#include "cuda/qmv_kernel.h"
#include "cuda/qmv_policy.h"
#include "device.h"
#include "errors.h"
#include "kv_cache.h"

namespace mlxn {

namespace {

mx::array take_or_throw(WeightMap& weights, const std::string& name) {
  auto it = weights.find(name);
  if (it == weights.end()) throw EngineError("INVALID_MODEL", "[load] missing weight " + name);
  mx::array a = it->second;
  weights.erase(it);
  return a;
}

std::optional<mx::array> take_optional(WeightMap& weights, const std::string& name) {
  auto it = weights.find(name);
  if (it == weights.end()) return std::nullopt;
  mx::array a = it->second;
  weights.erase(it);
  return a;
}

}  // namespace

std::string QuantFormat::label() const {
  if (mode != "affine") return mode;
  return std::to_string(bits) + "-bit g" + std::to_string(group_size);
}

QuantFormat read_quant_format(const mx::array& weight, const mx::array& scales, bool has_biases,
                              int in_dims, const std::string& name) {
  const int packed = weight.shape(-1), groups = scales.shape(-1);
  if (weight.dtype() != mx::uint32 || in_dims <= 0 || groups <= 0 ||
      (int64_t(packed) * 32) % in_dims != 0 || in_dims % groups != 0 ||
      scales.ndim() != weight.ndim()) {
    throw EngineError("UNSUPPORTED_QUANTIZATION", "[load] cannot read the quantization of " + name);
  }
  QuantFormat q;
  q.bits = int(int64_t(packed) * 32 / in_dims);
  q.group_size = in_dims / groups;
  if (scales.dtype() != mx::uint8) {
    if (q.bits != 2 && q.bits != 3 && q.bits != 4 && q.bits != 5 && q.bits != 6 && q.bits != 8) {
      throw EngineError("UNSUPPORTED_QUANTIZATION",
                        "[load] " + name + " uses " + std::to_string(q.bits) + "-bit weights");
    }
    return q;
  }
  if (has_biases) {
    throw EngineError("UNSUPPORTED_QUANTIZATION",
                      "[load] " + name + " has uint8 scales and biases (no such MLX mode)");
  }
  if (q.bits == 4 && q.group_size == 32) {
    q.mode = "mxfp4";
  } else if (q.bits == 4 && q.group_size == 16) {
    q.mode = "nvfp4";
  } else if (q.bits == 8 && q.group_size == 32) {
    q.mode = "mxfp8";
  } else {
    throw EngineError("UNSUPPORTED_QUANTIZATION",
                      "[load] cannot infer the quantization mode of " + name + ": " +
                          std::to_string(q.bits) + " bits in groups of " +
                          std::to_string(q.group_size) + " with uint8 scales");
  }
  return q;
}

Linear Linear::take(WeightMap& weights, const std::string& prefix, int in_dims, mx::Dtype dtype) {
  Linear l;
  l.weight = take_or_throw(weights, prefix + ".weight");
  l.scales = take_optional(weights, prefix + ".scales");
  l.biases = take_optional(weights, prefix + ".biases");
  l.bias = take_optional(weights, prefix + ".bias");
  l.in_dims = in_dims;
  if (l.weight.ndim() != 2)
    throw EngineError("INVALID_MODEL", "[load] " + prefix + " is not a matrix");
  l.out_dims = l.weight.shape(0);
  l.dtype = dtype;
  if (weights.count(prefix + ".global_scale")) {
    throw EngineError("UNSUPPORTED_QUANTIZATION",
                      "[load] " + prefix + " has an nvfp4 global scale, which is not supported");
  }
  if (l.scales) {
    QuantFormat q = read_quant_format(l.weight, *l.scales, l.biases.has_value(), in_dims, prefix);
    l.bits = q.bits, l.group_size = q.group_size, l.mode = q.mode;
    if (q.mode == "affine") l.scales = mx::astype(*l.scales, dtype);
    if (l.biases) l.biases = mx::astype(*l.biases, dtype);
  } else {
    if (l.weight.shape(1) != in_dims) {
      throw EngineError("INVALID_MODEL", "[load] " + prefix + " has input size " +
                                             std::to_string(l.weight.shape(1)) + ", expected " +
                                             std::to_string(in_dims));
    }
    l.weight = mx::astype(l.weight, dtype);
  }
  if (l.bias) l.bias = mx::astype(*l.bias, dtype);
  return l;
}

std::optional<Linear> Linear::fuse(const std::vector<const Linear*>& parts) {
  const Linear& first = *parts.front();
  for (const Linear* p : parts) {
    if (p->bits != first.bits || p->group_size != first.group_size || p->mode != first.mode ||
        p->in_dims != first.in_dims || p->biases.has_value() != first.biases.has_value() ||
        p->bias.has_value() != first.bias.has_value()) {
      return std::nullopt;
    }
  }
  auto cat = [&](auto get) {
    std::vector<mx::array> xs;
    for (const Linear* p : parts) xs.push_back(get(*p));
    return mx::concatenate(xs, 0);
  };
  Linear out = first;
  out.weight = cat([](const Linear& l) { return l.weight; });
  if (first.scales) out.scales = cat([](const Linear& l) { return *l.scales; });
  if (first.biases) out.biases = cat([](const Linear& l) { return *l.biases; });
  if (first.bias) out.bias = cat([](const Linear& l) { return *l.bias; });
  out.out_dims = 0;
  for (const Linear* p : parts) out.out_dims += p->out_dims;
  return out;
}

struct Linear::Shard {
  Linear part;
  mx::Stream stream;
};

void Linear::shard(const std::vector<mx::Stream>& streams) {
  shards_.clear();
  const int n = int(streams.size());
  if (n < 2 || out_dims < 2 * n) return;
  auto rows = [](const mx::array& a, int lo, int hi) {
    mx::Shape start(a.ndim(), 0), stop = a.shape();
    start[0] = lo, stop[0] = hi;
    return mx::slice(a, start, stop);
  };
  for (int i = 0; i < n; ++i) {
    int lo = out_dims * i / n, hi = out_dims * (i + 1) / n;
    Linear part = *this;
    part.shards_.clear();
    part.weight = rows(weight, lo, hi);
    if (scales) part.scales = rows(*scales, lo, hi);
    if (biases) part.biases = rows(*biases, lo, hi);
    if (bias) part.bias = rows(*bias, lo, hi);
    part.out_dims = hi - lo;
    std::vector<mx::array> views{part.weight};
    mx::eval(views);
    shards_.push_back(std::make_shared<const Shard>(Shard{std::move(part), streams[i]}));
  }
}

mx::array Linear::operator()(const mx::array& x) const {
  if (shards_.empty()) return apply(x, {});
  std::vector<mx::array> outs;
  outs.reserve(shards_.size());
  for (const auto& s : shards_) outs.push_back(s->part.apply(x, s->stream));
  return mx::concatenate(outs, -1, shards_.front()->stream);
}

mx::array Linear::apply(const mx::array& x, mx::StreamOrDevice s) const {
  if (!quantized()) {
    // addmm rounds once: in half precision a separate matmul then add rounds twice (what
    // mlx-lm's nn.Linear avoids the same way).
    return bias ? mx::addmm(*bias, x, mx::transpose(weight, s), 1.0f, 1.0f, s)
                : mx::matmul(x, mx::transpose(weight, s), s);
  }
  // The decode kernel takes x as it comes (its rows are x's leading dimensions).
  if (decode_kernel_runs(x)) {
    auto y = qmv::matmul(x, weight, *scales, *biases, bits, group_size, {}, s);
    return bias ? mx::add(y, *bias, s) : y;
  }
  // One [rows, K] matrix, not a batch of [1, K] ones: MLX's CUDA kernels treat leading
  // dimensions as a batch of separate products (a decode batch of B rows read the weights B
  // times: 20x slower at 64 rows on an H200), and every backend's kernel picks its tiling from
  // the row count. A single row, or rows already in one matrix, go as they are.
  const int K = x.shape(-1), rows = int(x.size() / K);
  const bool batched = x.ndim() > 2 && x.shape(-2) != rows;
  mx::array y = quantized_matmul_rows(batched ? mx::reshape(x, {rows, K}, s) : x, s);
  if (y.ndim() != x.ndim()) {
    auto shape = x.shape();
    shape.back() = y.shape(-1);
    y = mx::reshape(y, shape, s);
  }
  return bias ? mx::add(y, *bias, s) : y;
}

bool Linear::decode_kernel_runs(const mx::array& x) const {
  return quantized() && biases && x.dtype() == scales->dtype() &&
         qmv::use_kernel(format(), int(x.size() / x.shape(-1)));
}

std::optional<mx::array> Linear::fused(const mx::array& x, const qmv::Fusion& fusion) const {
  // Not sharded (CPU streams) and no bias to add after the fused step.
  if (bias || !shards_.empty() || !decode_kernel_runs(x)) return std::nullopt;
  const int K = x.shape(-1);
  if (!qmv::can_fuse(fusion, K, int(x.size() / K), x.dtype())) return std::nullopt;
  return qmv::matmul(x, weight, *scales, *biases, bits, group_size, fusion);
}

mx::array Linear::quantized_matmul_rows(const mx::array& x, mx::StreamOrDevice s) const {
  const int K = x.shape(-1), rows = int(x.size() / K);
  // Dequantized and multiplied densely where MLX's kernel is wrong (device.h; tiny weights).
  if (rows > 1 && quantized_matmul_wrong(mode, bits, group_size, K)) {
    auto w =
        mx::dequantize(weight, *scales, biases, group_size, bits, mode, std::nullopt, x.dtype(), s);
    return mx::matmul(x, mx::transpose(w, s), s);
  }
  const int pad = quantized_matmul_min_rows();
  if (rows <= 1 || rows >= pad)
    return mx::quantized_matmul(x, weight, *scales, biases, true, group_size, bits, mode, s);
  auto padded = mx::pad(mx::reshape(x, {rows, K}, s), {{0, pad - rows}, {0, 0}},
                        mx::array(0, x.dtype()), "constant", s);
  auto y = mx::quantized_matmul(padded, weight, *scales, biases, true, group_size, bits, mode, s);
  return mx::slice(y, {0, 0}, {rows, y.shape(1)}, s);
}

qmv::Format Linear::format() const {
  return {out_dims, in_dims, bits, group_size, scales ? scales->dtype() : weight.dtype()};
}

void Linear::tune_decode_kernel() const {
  if (!quantized() || !biases || qmv::mode() != qmv::Mode::automatic) return;
  qmv::tune(
      format(),
      [this](const mx::array& x) {
        return qmv::matmul(x, weight, *scales, *biases, bits, group_size);
      },
      [this](const mx::array& x) { return quantized_matmul_rows(x, {}); });
}

int place_linears(const StreamLease& lease,
                  const std::function<void(const std::function<void(Linear&)>&)>& each) {
  std::vector<mx::Stream> streams;
  if (!lease.streams().empty()) {
    streams.push_back(mx::default_stream(mx::Device::cpu));
    for (const auto& s : lease.streams()) streams.push_back(s);
    each([&](Linear& l) { l.shard(streams); });
  }
  // CUDA: where the engine's decode kernel beats quantized_matmul, per shape (one timing each).
  if (qmv::mode() == qmv::Mode::automatic) each([](Linear& l) { l.tune_decode_kernel(); });
  return int(std::max<size_t>(streams.size(), 1));
}

std::vector<mx::array> Linear::arrays() const {
  std::vector<mx::array> out{weight};
  for (const auto* a : {&scales, &biases, &bias}) {
    if (*a) out.push_back(**a);
  }
  return out;
}

size_t Linear::nbytes() const {
  size_t n = 0;
  for (const auto& a : arrays()) n += a.nbytes();
  return n;
}

mx::array Embedding::operator()(const mx::array& ids) const {
  if (!table.quantized()) return mx::take(table.weight, ids, 0);
  // Dequantize only the rows looked up.
  auto w = mx::take(table.weight, ids, 0);
  auto s = mx::take(*table.scales, ids, 0);
  std::optional<mx::array> b;
  if (table.biases) b = mx::take(*table.biases, ids, 0);
  return mx::dequantize(w, s, b, table.group_size, table.bits, table.mode, std::nullopt,
                        table.dtype);
}

mx::array take_vector(WeightMap& w, const std::string& name, mx::Dtype dtype) {
  auto it = w.find(name);
  if (it == w.end()) throw EngineError("INVALID_MODEL", "[load] missing weight " + name);
  auto a = mx::astype(it->second, dtype);
  w.erase(it);
  return a;
}

void WeightStats::add(const Linear& l) {
  bytes += l.nbytes();
  parameters += double(l.in_dims) * l.out_dims;
  formats[l.quantized() ? QuantFormat{l.bits, l.group_size, l.mode}.label()
                        : dtype_name(l.weight.dtype())] += 1;
}

void WeightStats::add(const mx::array& v) {
  bytes += v.nbytes();
  parameters += double(v.size());
}

std::string WeightStats::summary() const {
  std::string best;
  int n = 0;
  for (const auto& [name, count] : formats) {
    if (count > n) n = count, best = name;
  }
  return formats.size() > 1 ? best + " (mixed)" : best;
}

mx::Dtype parse_dtype(const std::string& name) {
  if (name == "float32") return mx::float32;
  if (name == "float16") return mx::float16;
  if (name == "bfloat16") return mx::bfloat16;
  throw EngineError("INVALID_ARGUMENT", "[load] unknown dtype " + name);
}

std::string dtype_name(mx::Dtype dtype) {
  if (dtype == mx::float32) return "float32";
  if (dtype == mx::float16) return "float16";
  if (dtype == mx::bfloat16) return "bfloat16";
  if (dtype == mx::uint32) return "uint32";
  return "other";
}

}  // namespace mlxn
