//===- Safetensors.h - strict safetensors reader and writer -----*- C++ -*-===//
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header and the data section. The header maps each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} with
// offsets relative to the data section, plus an optional "__metadata__"
// object of string values.
//
// SafetensorsFile::open reads the whole file into memory (no mmap: a file
// truncated by another process cannot turn into SIGBUS, and the checks made
// at open stay true) and validates everything up front the way the reference
// implementation does, so the accessors cannot fail on a malformed file:
// tensors must tile the data section exactly, without overlaps or gaps.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_SAFETENSORS_H
#define GPTC_BACKENDS_COMMON_SAFETENSORS_H

#include "backends/common/BFloat16.h"
#include "backends/common/Status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian and is used in place");

namespace gptc {

/// Headers longer than this are rejected as corrupt (the reference reader's
/// limit is 100 MB).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

/// Element types, named in files as spelled in the comments.
enum class DType {
  Bool,   // BOOL
  U8,     // U8
  I8,     // I8
  F8E5M2, // F8_E5M2
  F8E4M3, // F8_E4M3
  I16,    // I16
  U16,    // U16
  F16,    // F16
  BF16,   // BF16
  I32,    // I32
  U32,    // U32
  F32,    // F32
  I64,    // I64
  U64,    // U64
  F64,    // F64
};

/// The name of `dtype` in safetensors headers, e.g. "F8_E5M2".
std::string_view dtypeName(DType dtype);
/// The dtype named `name`, or nullopt.
std::optional<DType> parseDType(std::string_view name);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// "[3, 4]" ("[]" for a scalar), as error messages print shapes.
std::string formatShape(const std::vector<int64_t> &shape);

/// One tensor of an open file.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  /// Element count: the product of `shape` (1 for a scalar).
  uint64_t numel = 0;
  /// Byte range [begin, end) within the data section.
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// A validated safetensors file held in memory.
class SafetensorsFile {
public:
  /// Reads and validates the file at `path`. Every malformation is reported
  /// as one line naming the file and, where relevant, the tensor.
  static Expected<SafetensorsFile> open(const std::string &path);

  SafetensorsFile(SafetensorsFile &&) = default;
  SafetensorsFile &operator=(SafetensorsFile &&) = default;

  const std::string &getPath() const { return path; }

  /// All tensors, in header order.
  const std::vector<TensorInfo> &getTensors() const { return tensors; }
  /// Tensor names, in header order.
  std::vector<std::string> getNames() const;
  /// The tensor named `name`, or nullptr.
  const TensorInfo *find(std::string_view name) const;
  /// The raw little-endian bytes of `tensor` (end - begin of them). They may
  /// be unaligned for the element type.
  const char *getRawData(const TensorInfo &tensor) const;

  /// The "__metadata__" entries, in header order.
  const std::vector<std::pair<std::string, std::string>> &getMetadata() const {
    return metadata;
  }
  /// The "__metadata__" value for `key`, or nullptr.
  const std::string *findMetadata(std::string_view key) const;

  /// Copies tensor `name`, stored as F32, BF16 or F64, into `dst` as floats.
  /// The tensor must have shape `expectedShape`; `dst` must hold its elements.
  Status readF32(std::string_view name,
                 const std::vector<int64_t> &expectedShape, float *dst) const;
  /// Copies tensor `name`, stored as F64 or F32, into `dst` as doubles.
  Status readF64(std::string_view name,
                 const std::vector<int64_t> &expectedShape, double *dst) const;
  /// Reads tensor `name`, stored as I64 or I32, into `values`, and its shape
  /// into `shape`.
  Status readI64(std::string_view name, std::vector<int64_t> &values,
                 std::vector<int64_t> &shape) const;

private:
  SafetensorsFile() = default;

  /// The tensor `name`, or an error saying there is none.
  Expected<const TensorInfo *> lookup(std::string_view name) const;
  /// The tensor `name`, which must exist and have `expectedShape`.
  Expected<const TensorInfo *>
  lookupWithShape(std::string_view name,
                  const std::vector<int64_t> &expectedShape) const;
  /// The error for reading `tensor` with `reader`, which accepts `accepted`.
  Status unsupportedDType(const TensorInfo &tensor, std::string_view reader,
                          std::string_view accepted) const;

  std::string path;
  /// The whole file.
  std::string bytes;
  /// Offset of the data section in `bytes`.
  size_t dataStart = 0;
  std::vector<TensorInfo> tensors;
  /// Index into `tensors` by name.
  std::map<std::string, size_t, std::less<>> tensorIndex;
  std::vector<std::pair<std::string, std::string>> metadata;
};

/// A tensor to write: `data` holds its elements already in `dtype`.
struct TensorRef {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

/// Writes `tensors` (data in the given order) and `metadata` to `path`
/// atomically (see writeFileAtomically); the header is padded with spaces
/// to a multiple of 8 bytes so the data section starts 8-byte aligned.
Status writeSafetensors(const std::string &path,
                        const std::vector<TensorRef> &tensors,
                        const std::map<std::string, std::string> &metadata);

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_SAFETENSORS_H
