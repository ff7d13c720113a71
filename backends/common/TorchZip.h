//===- TorchZip.h - PyTorch zip checkpoints: read and write -----*- C++ -*-===//
//
// torch.save writes a zip archive of stored (uncompressed) entries under one
// top-level folder (the file's stem, or "archive"):
//
//   <folder>/data.pkl        the pickled object (a state_dict here)
//   <folder>/byteorder       "little" (newer torch)
//   <folder>/data/<key>      one entry per storage, its raw bytes
//   <folder>/version         the format version, "3\n"
//   <folder>/.data/serialization_id
//
// Tensors in data.pkl are views (element offset, sizes, strides) of those
// storages, which several tensors may share. readTorchStateDict rebuilds
// every tensor as contiguous little-endian bytes through the restricted
// unpickler (Pickle.h), so a checkpoint never runs code; every malformation
// (truncated archive, compressed or missing entry, CRC mismatch, a storage
// smaller than its record or a view past its storage's end) is one line
// naming the file and the entry or tensor. Zip64 archives (> 4 GiB) are
// read and written.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_TORCHZIP_H
#define GPTC_BACKENDS_COMMON_TORCHZIP_H

#include "backends/common/Safetensors.h"
#include "backends/common/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gptc {

/// One stored entry of a zip archive.
struct ZipEntry {
  std::string name;
  uint64_t dataOffset = 0; // of the entry's bytes in the file
  uint64_t size = 0;
  uint32_t crc32 = 0;
};

/// A zip archive of stored entries, read on demand from its file.
class ZipReader {
public:
  /// Reads and checks the central directory of the archive at `path`.
  static Expected<ZipReader> open(const std::string &path);

  const std::vector<ZipEntry> &getEntries() const { return entries; }
  /// The entry named `name`, or nullptr.
  const ZipEntry *find(std::string_view name) const;
  /// The bytes of `entry`, checked against its CRC-32.
  Expected<std::string> read(const ZipEntry &entry) const;

private:
  ZipReader() = default;
  std::string path;
  uint64_t fileSize = 0;
  std::vector<ZipEntry> entries;
};

/// CRC-32 (ISO-HDLC, as zip uses) of `bytes`, continuing from `crc`.
uint32_t crc32(std::string_view bytes, uint32_t crc = 0);

/// Writes a zip archive of stored entries, each entry's data aligned to 64
/// bytes as torch aligns them, atomically (temporary file, then rename).
Status
writeZip(const std::string &path,
         const std::vector<std::pair<std::string, std::string_view>> &entries);

/// One tensor of a checkpoint, rebuilt contiguous.
struct TorchTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string data; // numel * dtypeSize(dtype) little-endian bytes
};

/// Reads the state_dict saved by torch.save at `path`: every tensor of the
/// top-level dict, in the file's order, names as stored (`_orig_mod.`
/// prefixes included).
Expected<std::vector<TorchTensor>> readTorchStateDict(const std::string &path);

/// Writes `tensors` as a state_dict that torch.load(weights_only=True)
/// reads: an OrderedDict of CPU tensors, one storage each, under the
/// top-level folder `folder`.
Status writeTorchStateDict(const std::string &path, const std::string &folder,
                           const std::vector<TensorRef> &tensors);

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_TORCHZIP_H
