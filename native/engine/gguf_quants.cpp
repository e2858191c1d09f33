// Block layouts and formulas follow ggml's reference dequantizers; each exact type is decoded into
// MLX's affine form (codes + scale + bias per group of 32) whose dequantization computes the
// same float32 operations, so the values are equal bit for bit.
#include "gguf_quants.h"

#include <cmath>
#include <cstring>

#include "errors.h"

namespace mlxn {

namespace {

float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while ((mant & 0x400) == 0);
    bits = sign | uint32_t(112 - e) << 23 | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint32_t u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// An exact type's block → codes (one byte each), and a scale and bias per group of 32.
using AffineBlock = void (*)(const uint8_t* b, uint8_t* q, float* scale, float* bias);

void nibbles(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < 16; ++j) q[j] = qs[j] & 15, q[j + 16] = qs[j] >> 4;
}

void q4_0(const uint8_t* b, uint8_t* q, float* s, float* m) {
  const float d = half(b);
  nibbles(b + 2, q);
  s[0] = d, m[0] = -8.0f * d;
}

void q4_1(const uint8_t* b, uint8_t* q, float* s, float* m) {
  nibbles(b + 4, q);
  s[0] = half(b), m[0] = half(b + 2);
}

void fifth_bits(uint32_t qh, uint8_t* q) {
  for (int j = 0; j < 32; ++j) q[j] |= ((qh >> j) & 1) << 4;
}

void q5_0(const uint8_t* b, uint8_t* q, float* s, float* m) {
  const float d = half(b);
  nibbles(b + 6, q);
  fifth_bits(u32(b + 2), q);
  s[0] = d, m[0] = -16.0f * d;
}

void q5_1(const uint8_t* b, uint8_t* q, float* s, float* m) {
  nibbles(b + 8, q);
  fifth_bits(u32(b + 4), q);
  s[0] = half(b), m[0] = half(b + 2);
}

void q8_0(const uint8_t* b, uint8_t* q, float* s, float* m) {
  const float d = half(b);
  for (int j = 0; j < 32; ++j) q[j] = uint8_t(int(int8_t(b[2 + j])) + 128);
  s[0] = d, m[0] = -128.0f * d;
}

// Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins packed in 12 bytes.
void scale_min_k4(int j, const uint8_t* q, int& sc, int& mn) {
  if (j < 4) {
    sc = q[j] & 63, mn = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void k_scales(const uint8_t* b, float* s, float* m) {
  const float d = half(b), dmin = half(b + 2);
  for (int g = 0; g < 8; ++g) {
    int sc, mn;
    scale_min_k4(g, b + 4, sc, mn);
    s[g] = d * float(sc), m[g] = -(dmin * float(mn));
  }
}

void q4_k(const uint8_t* b, uint8_t* q, float* s, float* m) {
  k_scales(b, s, m);
  const uint8_t* qs = b + 16;
  for (int g = 0; g < 8; ++g) {
    const uint8_t* ql = qs + 32 * (g / 2);
    for (int l = 0; l < 32; ++l) q[32 * g + l] = g % 2 ? ql[l] >> 4 : ql[l] & 15;
  }
}

void q5_k(const uint8_t* b, uint8_t* q, float* s, float* m) {
  k_scales(b, s, m);
  const uint8_t *qh = b + 16, *qs = b + 48;
  for (int g = 0; g < 8; ++g) {
    const uint8_t* ql = qs + 32 * (g / 2);
    for (int l = 0; l < 32; ++l)
      q[32 * g + l] = (g % 2 ? ql[l] >> 4 : ql[l] & 15) | (((qh[l] >> g) & 1) << 4);
  }
}

// The sub-block-of-16 types, decoded to floats (256 per block).
using FloatBlock = void (*)(const uint8_t* b, float* y);

void q2_k(const uint8_t* b, float* y) {
  const uint8_t *scales = b, *q = b + 16;
  const float d = half(b + 80), dmin = half(b + 82);
  int is = 0;
  for (int n = 0; n < 2; ++n, q += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half16 = 0; half16 < 2; ++half16) {
        const int sc = scales[is++];
        const float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * half16] >> shift) & 3) - ml;
      }
    }
  }
}

void q3_k(const uint8_t* b, float* y) {
  const uint8_t *hm = b, *q = b + 32;
  const float d = half(b + 108);
  uint32_t aux[4];
  std::memcpy(aux, b + 96, 12);
  const uint32_t k1 = 0x03030303, k2 = 0x0f0f0f0f, tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
  aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
  aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
  aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
  const int8_t* scales = reinterpret_cast<const int8_t*>(aux);
  int is = 0;
  uint8_t mask = 1;
  for (int n = 0; n < 2; ++n, q += 32) {
    for (int shift = 0; shift < 8; shift += 2, mask <<= 1) {
      for (int half16 = 0; half16 < 2; ++half16) {
        const float dl = d * float(scales[is++] - 32);
        for (int l = 16 * half16; l < 16 * half16 + 16; ++l)
          *y++ = dl * float(int((q[l] >> shift) & 3) - ((hm[l] & mask) ? 0 : 4));
      }
    }
  }
}

void q6_k(const uint8_t* b, float* y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int n = 0; n < 2; ++n, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * float(sc[is]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
  }
}

// MXFP4: a block of 32 is one E8M0 scale byte, then 16 bytes whose low nibbles hold elements
// 0-15 and high nibbles 16-31, each an E2M1 code (sign in bit 3).
constexpr uint32_t kMxfp4 = 39;

float mxfp4_value(uint8_t code, uint8_t e) {
  static constexpr float kE2M1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float v = std::ldexp(kE2M1[code & 7], int(e) - 127);
  return code & 8 ? -v : v;
}

// MLX's mxfp4 packing: element i at bits 4i of the row's little-endian stream.
void mxfp4_block(const uint8_t* b, uint8_t* packed) {
  const uint8_t* qs = b + 1;
  for (int k = 0; k < 16; ++k) {
    auto code = [&](int i) { return i < 16 ? qs[i] & 15 : qs[i - 16] >> 4; };
    packed[k] = uint8_t(code(2 * k) | (code(2 * k + 1) << 4));
  }
}

struct TypeInfo {
  uint32_t type;
  int block, bytes;
  int bits;  // affine bits (exact), or the requantization target
  AffineBlock affine;
  FloatBlock floats;
};

constexpr TypeInfo kTypes[] = {
    {2, 32, 18, 4, q4_0, nullptr},    {3, 32, 20, 4, q4_1, nullptr},
    {6, 32, 22, 5, q5_0, nullptr},    {7, 32, 24, 5, q5_1, nullptr},
    {8, 32, 34, 8, q8_0, nullptr},    {12, 256, 144, 4, q4_k, nullptr},
    {13, 256, 176, 5, q5_k, nullptr}, {10, 256, 84, 4, nullptr, q2_k},
    {11, 256, 110, 4, nullptr, q3_k}, {14, 256, 210, 8, nullptr, q6_k},
};

const TypeInfo* info_of(uint32_t type) {
  for (const TypeInfo& t : kTypes) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

mx::Shape shape_of(const GgufTensor& t, int64_t last) {
  mx::Shape s;
  for (auto it = t.dims.rbegin(); it != t.dims.rend(); ++it) s.push_back(int(*it));
  s.back() = int(last);
  return s;
}

// Decodes every block of an exact type into codes, scales and biases.
struct Affine {
  std::vector<uint8_t> codes;
  std::vector<float> scales, biases;
};

Affine decode_affine(const GgufTensor& t, const TypeInfo& ti) {
  const int64_t n = t.elements(), blocks = n / ti.block;
  Affine a;
  a.codes.resize(n);
  a.scales.resize(n / 32);
  a.biases.resize(n / 32);
  const int groups = ti.block / 32;
  for (int64_t i = 0; i < blocks; ++i) {
    ti.affine(t.data + i * ti.bytes, a.codes.data() + i * ti.block, a.scales.data() + i * groups,
              a.biases.data() + i * groups);
  }
  return a;
}

std::vector<float> decode_floats(const GgufTensor& t) {
  const int64_t n = t.elements();
  std::vector<float> out(n);
  if (t.type == 0) {
    std::memcpy(out.data(), t.data, n * 4);
  } else if (t.type == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = half(t.data + 2 * i);
  } else if (t.type == 30) {
    for (int64_t i = 0; i < n; ++i) {
      uint32_t bits = uint32_t(t.data[2 * i] | (t.data[2 * i + 1] << 8)) << 16;
      std::memcpy(&out[i], &bits, 4);
    }
  } else if (t.type == kMxfp4) {
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* b = t.data + (i / 32) * 17;
      const int j = int(i % 32);
      out[i] = mxfp4_value(j < 16 ? b[1 + j] & 15 : b[1 + j - 16] >> 4, b[0]);
    }
  } else if (const TypeInfo* ti = info_of(t.type); ti && ti->floats) {
    for (int64_t i = 0; i < n / ti->block; ++i)
      ti->floats(t.data + i * ti->bytes, out.data() + i * ti->block);
  } else if (ti && ti->affine) {
    Affine a = decode_affine(t, *ti);
    for (int64_t i = 0; i < n; ++i)
      out[i] = a.scales[i / 32] * float(a.codes[i]) + a.biases[i / 32];
  } else {
    throw EngineError("UNSUPPORTED_QUANTIZATION",
                      "[gguf] tensor " + t.name + " has type " + ggml_type_name(t.type));
  }
  return out;
}

}  // namespace

mx::array dequantize_gguf_tensor(const GgufTensor& t) {
  std::vector<float> v = decode_floats(t);
  return mx::array(v.data(), shape_of(t, t.row_length()), mx::float32);
}

GgufArrays convert_gguf_tensor(const GgufTensor& t) {
  GgufArrays out;
  const mx::Shape shape = shape_of(t, t.row_length());
  if (t.type == 0) {
    out.weight = mx::array(reinterpret_cast<const float*>(t.data), shape, mx::float32);
    return out;
  }
  if (t.type == 1 || t.type == 30) {
    // The bytes as they are, reinterpreted (no rounding).
    mx::array raw(reinterpret_cast<const uint16_t*>(t.data), shape, mx::uint16);
    out.weight = mx::view(raw, t.type == 1 ? mx::float16 : mx::bfloat16);
    return out;
  }
  if (t.type == kMxfp4) {
    const int64_t K = t.row_length(), blocks = t.elements() / 32;
    std::vector<uint32_t> packed(blocks * 4);
    std::vector<uint8_t> scales(blocks);
    for (int64_t i = 0; i < blocks; ++i) {
      mxfp4_block(t.data + i * 17, reinterpret_cast<uint8_t*>(packed.data() + i * 4));
      scales[i] = t.data[i * 17];
    }
    out.bits = 4, out.group_size = 32;
    out.weight = mx::array(packed.data(), shape_of(t, K / 8), mx::uint32);
    out.scales = mx::array(scales.data(), shape_of(t, K / 32), mx::uint8);
    return out;
  }
  const TypeInfo* ti = info_of(t.type);
  if (!ti) {
    throw EngineError("UNSUPPORTED_QUANTIZATION",
                      "[gguf] tensor " + t.name + " has type " + ggml_type_name(t.type));
  }
  out.bits = ti->bits, out.group_size = 32;
  const int64_t K = t.row_length();
  if (ti->floats) {
    // Sub-blocks of 16: decoded exactly, then requantized by MLX.
    auto q = mx::quantize(dequantize_gguf_tensor(t), 32, ti->bits);
    out.weight = q[0], out.scales = q[1], out.biases = q[2];
    out.exact = false;
    return out;
  }
  Affine a = decode_affine(t, *ti);
  // MLX's packing: a little-endian bit stream, element i at bit i·bits (rows are whole words
  // because every row holds a multiple of 32 values).
  const int bits = ti->bits;
  std::vector<uint32_t> packed(a.codes.size() * bits / 32);
  uint8_t* dst = reinterpret_cast<uint8_t*>(packed.data());
  for (size_t i = 0; i < a.codes.size(); i += 8, dst += bits) {
    uint64_t acc = 0;
    for (int k = 0; k < 8; ++k) acc |= uint64_t(a.codes[i + k]) << (k * bits);
    for (int k = 0; k < bits; ++k) dst[k] = uint8_t(acc >> (8 * k));
  }
  out.weight = mx::array(packed.data(), shape_of(t, K * bits / 32), mx::uint32);
  out.scales = mx::array(a.scales.data(), shape_of(t, K / 32), mx::float32);
  out.biases = mx::array(a.biases.data(), shape_of(t, K / 32), mx::float32);
  return out;
}

std::string gguf_type_becomes(uint32_t type) {
  if (type == 0) return "float32";
  if (type == 1) return "float16";
  if (type == 30) return "bfloat16";
  if (type == kMxfp4) return "mxfp4 g32";
  const TypeInfo* ti = info_of(type);
  if (!ti) return "unsupported";
  return std::to_string(ti->bits) + "-bit g32" + (ti->floats ? " (requantized)" : "");
}

}  // namespace mlxn
