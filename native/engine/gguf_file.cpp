#include "gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "errors.h"

namespace mlxn {

namespace {

struct Layout {
  uint32_t type;
  const char* name;
  int block;  // elements per block
  int bytes;  // bytes per block
};

// The types mlx-native reads (gguf_quants.cpp converts each).
constexpr Layout kLayouts[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},    {8, "Q8_0", 32, 34},    {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176}, {14, "Q6_K", 256, 210},
    {30, "BF16", 1, 2},     {39, "MXFP4", 32, 17},
};

// Names of the other ggml types, for error messages.
const char* other_type_name(uint32_t t) {
  static const std::map<uint32_t, const char*> names = {
      {9, "Q8_1"},   {15, "Q8_K"},   {16, "IQ2_XXS"}, {17, "IQ2_XS"}, {18, "IQ3_XXS"},
      {19, "IQ1_S"}, {20, "IQ4_NL"}, {21, "IQ3_S"},   {22, "IQ2_S"},  {23, "IQ4_XS"},
      {24, "I8"},    {25, "I16"},    {26, "I32"},     {27, "I64"},    {28, "F64"},
      {29, "IQ1_M"}, {34, "TQ1_0"},  {35, "TQ2_0"},
  };
  auto it = names.find(t);
  return it == names.end() ? nullptr : it->second;
}

const Layout* layout_of(uint32_t t) {
  for (const Layout& l : kLayouts) {
    if (l.type == t) return &l;
  }
  return nullptr;
}

constexpr uint32_t kMagic = 0x46554747;  // "GGUF", little-endian
constexpr uint64_t kMaxString = 256ull << 20;
constexpr int kMaxDepth = 8;

// Bounds-checked little-endian cursor over the mapping.
class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, const std::string& path)
      : base_(base), size_(size), path_(path) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw EngineError("INVALID_MODEL", "[gguf] " + path_ + ": " + what);
  }
  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      fail(std::string("truncated ") + what + " at byte " + std::to_string(pos_));
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    if (n > kMaxString) fail(std::string(what) + " length " + std::to_string(n) + " is corrupt");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(base_ + pos_), n);
    pos_ += n;
    return s;
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t* base_;
  size_t size_, pos_ = 0;
  const std::string& path_;
};

// Encoded size of GGUF's fixed-size value types (0 for string/array).
int value_size(uint32_t type) {
  static const int sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  return type < 13 ? sizes[type] : -1;
}

void skip_value(Cursor& c, uint32_t type, int depth) {
  int size = value_size(type);
  if (size < 0) c.fail("unknown metadata value type " + std::to_string(type));
  if (size > 0) return c.skip(size, "metadata value");
  if (type == 8) {
    c.string("metadata string");
    return;
  }
  if (depth >= kMaxDepth) c.fail("metadata arrays nested too deep");
  uint32_t elem = c.read<uint32_t>("array type");
  uint64_t count = c.read<uint64_t>("array length");
  int esize = value_size(elem);
  if (esize < 0) c.fail("unknown metadata array type " + std::to_string(elem));
  // Strings and arrays take at least 8 bytes each; checked before looping over a corrupt count.
  uint64_t min = esize > 0 ? uint64_t(esize) : 8;
  if (count > c.remaining() / min) c.fail("metadata array length " + std::to_string(count));
  if (esize > 0) return c.skip(count * esize, "metadata array");
  for (uint64_t i = 0; i < count; ++i) skip_value(c, elem, depth + 1);
}

}  // namespace

std::string ggml_type_name(uint32_t type) {
  if (const Layout* l = layout_of(type)) return l->name;
  if (const char* n = other_type_name(type)) return n;
  return "type " + std::to_string(type);
}

int64_t GgufTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

GgufFile::GgufFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw EngineError("MODEL_NOT_FOUND", "[gguf] cannot open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    throw EngineError("INVALID_MODEL", "[gguf] " + path + " is empty");
  }
  size_ = size_t(st.st_size);
  void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw EngineError("INVALID_MODEL", "[gguf] cannot map " + path);
  base_ = static_cast<const uint8_t*>(m);
  try {
    parse();
  } catch (...) {
    ::munmap(const_cast<uint8_t*>(base_), size_);
    throw;
  }
}

GgufFile::~GgufFile() {
  if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
}

std::string GgufFile::string_value(const std::string& key) const {
  auto it = strings_.find(key);
  return it == strings_.end() ? std::string() : it->second;
}

void GgufFile::parse() {
  Cursor c(base_, size_, path_);
  if (size_ < 24 || c.read<uint32_t>("magic") != kMagic) c.fail("not a GGUF file");
  uint32_t version = c.read<uint32_t>("version");
  if (version != 2 && version != 3) c.fail("unsupported GGUF version " + std::to_string(version));
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // A tensor info takes at least 24 bytes and a key/value at least 13.
  if (n_tensors > size_ / 24 || n_kv > size_ / 13) c.fail("corrupt tensor or metadata count");

  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string("metadata key");
    uint32_t type = c.read<uint32_t>("metadata type");
    if (type == 8) {
      strings_[key] = c.string("metadata string");
    } else if (key == "general.alignment" && type == 4) {
      alignment = c.read<uint32_t>("general.alignment");
    } else {
      skip_value(c, type, 0);
    }
  }
  if (alignment == 0 || alignment > (1u << 20) || (alignment & (alignment - 1)) != 0)
    c.fail("bad general.alignment " + std::to_string(alignment));

  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = c.string("tensor name");
    uint32_t n_dims = c.read<uint32_t>("tensor dims");
    if (n_dims == 0 || n_dims > 4)
      c.fail("tensor " + t.name + " has " + std::to_string(n_dims) + " dimensions");
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t v = c.read<uint64_t>("tensor shape");
      if (v == 0 || v > (1ull << 40) || elements > (1ull << 40) / v)
        c.fail("tensor " + t.name + " has an impossible shape");
      elements *= v;
      t.dims.push_back(int64_t(v));
    }
    t.type = c.read<uint32_t>("tensor type");
    offsets.push_back(c.read<uint64_t>("tensor offset"));
    const Layout* l = layout_of(t.type);
    if (!l) {
      throw EngineError("UNSUPPORTED_QUANTIZATION", "[gguf] tensor " + t.name + " in " + path_ +
                                                        " has type " + ggml_type_name(t.type) +
                                                        ", which mlx-native does not read");
    }
    if (t.dims[0] % l->block != 0) {
      c.fail("tensor " + t.name + " has rows of " + std::to_string(t.dims[0]) + " values, not a " +
             "multiple of " + l->name + "'s blocks of " + std::to_string(l->block));
    }
    t.nbytes = size_t(elements / l->block) * l->bytes;
    tensors_.push_back(std::move(t));
  }
  const uint64_t data = (c.pos() + alignment - 1) / alignment * alignment;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    GgufTensor& t = tensors_[i];
    const uint64_t off = offsets[i];
    if (off % alignment != 0) c.fail("tensor " + t.name + " data offset is not aligned");
    if (data > size_ || off > size_ - data || t.nbytes > size_ - data - off) {
      c.fail("tensor " + t.name + " data (" + std::to_string(t.nbytes) + " bytes at " +
             std::to_string(data + off) + ") runs past the end of the " + std::to_string(size_) +
             "-byte file (truncated?)");
    }
    t.data = base_ + data + off;
  }
}

}  // namespace mlxn
