//===- TorchZip.cpp - PyTorch zip checkpoints: read and write -------------===//

#include "backends/common/TorchZip.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"
#include "backends/common/Pickle.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

using namespace gptc;

//===----------------------------------------------------------------------===//
// Zip
//===----------------------------------------------------------------------===//

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
/// The extra field torch pads entries with ("FB").
constexpr uint16_t kPaddingExtraId = 0x4246;
constexpr uint64_t kDataAlignment = 64;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;

template <typename T> T loadLE(const char *p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T> void storeLE(std::string &out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

/// An open file read with pread; closed on destruction.
class File {
public:
  explicit File(const std::string &path)
      : fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~File() {
    if (fd >= 0)
      ::close(fd);
  }
  bool ok() const { return fd >= 0; }
  /// Reads exactly `n` bytes at `offset`.
  bool readAt(uint64_t offset, size_t n, char *dst) const {
    while (n > 0) {
      ssize_t got = ::pread(fd, dst, n, off_t(offset));
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        return false;
      dst += got;
      n -= size_t(got);
      offset += uint64_t(got);
    }
    return true;
  }
  int fd;
};

} // namespace

uint32_t gptc::crc32(std::string_view bytes, uint32_t crc) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (char ch : bytes)
    crc = table[(crc ^ uint8_t(ch)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

Expected<ZipReader> ZipReader::open(const std::string &path) {
  File file(path);
  if (!file.ok())
    return Status::error("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st;
  if (::fstat(file.fd, &st) != 0 || !S_ISREG(st.st_mode))
    return Status::error("{}: not a regular file", path);
  uint64_t size = uint64_t(st.st_size);
  auto corrupt = [&](std::string_view why) {
    return Status::error("{}: not a valid zip archive (torch.save format): {}",
                         path, why);
  };
  if (size < kEndSize)
    return corrupt("file too short");

  // The end-of-central-directory record: the last 22 bytes plus a comment
  // of at most 64 KiB.
  size_t tailSize = size_t(std::min<uint64_t>(size, kEndSize + 0xFFFF));
  std::string tail(tailSize, '\0');
  if (!file.readAt(size - tailSize, tailSize, tail.data()))
    return Status::error("{}: read error", path);
  size_t end = std::string::npos;
  for (size_t i = tailSize - kEndSize + 1; i-- > 0;)
    if (loadLE<uint32_t>(&tail[i]) == kEndSig &&
        i + kEndSize + loadLE<uint16_t>(&tail[i + 20]) == tailSize) {
      end = i;
      break;
    }
  if (end == std::string::npos) {
    char head = 0;
    if (file.readAt(0, 1, &head) && uint8_t(head) == 0x80)
      return corrupt("no end of central directory (a legacy torch.save "
                     "file? re-save it with a current torch)");
    return corrupt("no end of central directory (truncated?)");
  }
  uint64_t endOffset = size - tailSize + end;
  const char *e = &tail[end];
  uint64_t count = loadLE<uint16_t>(e + 10);
  uint64_t cdSize = loadLE<uint32_t>(e + 12);
  uint64_t cdOffset = loadLE<uint32_t>(e + 16);
  if (loadLE<uint16_t>(e + 4) != 0 || loadLE<uint16_t>(e + 6) != 0)
    return corrupt("multi-disk archives are not supported");
  if (count == 0xFFFF || cdSize == 0xFFFFFFFF || cdOffset == 0xFFFFFFFF) {
    // Zip64: a locator just before the record points at the zip64 record.
    char locator[20], record[56];
    if (endOffset < 20 || !file.readAt(endOffset - 20, 20, locator) ||
        loadLE<uint32_t>(locator) != kEnd64LocatorSig)
      return corrupt("missing zip64 end-of-central-directory locator");
    uint64_t recordOffset = loadLE<uint64_t>(locator + 8);
    if (recordOffset > endOffset - 20 || endOffset - 20 - recordOffset < 56 ||
        !file.readAt(recordOffset, 56, record) ||
        loadLE<uint32_t>(record) != kEnd64Sig)
      return corrupt("bad zip64 end-of-central-directory record");
    count = loadLE<uint64_t>(record + 32);
    cdSize = loadLE<uint64_t>(record + 40);
    cdOffset = loadLE<uint64_t>(record + 48);
    endOffset = recordOffset;
  }
  if (cdOffset > endOffset || cdSize > endOffset - cdOffset)
    return corrupt("central directory outside the file (truncated?)");
  if (count > cdSize / kCentralHeaderSize)
    return corrupt("more entries than the central directory can hold");

  std::string cd(cdSize, '\0');
  if (!file.readAt(cdOffset, cdSize, cd.data()))
    return Status::error("{}: read error", path);
  ZipReader reader;
  reader.path = path;
  reader.fileSize = size;
  size_t p = 0;
  std::map<std::string, size_t, std::less<>> seen;
  for (uint64_t i = 0; i < count; ++i) {
    if (cd.size() - p < kCentralHeaderSize ||
        loadLE<uint32_t>(&cd[p]) != kCentralSig)
      return corrupt("bad central directory entry");
    const char *h = &cd[p];
    uint16_t flags = loadLE<uint16_t>(h + 8);
    uint16_t method = loadLE<uint16_t>(h + 10);
    ZipEntry entry;
    entry.crc32 = loadLE<uint32_t>(h + 16);
    uint64_t csize = loadLE<uint32_t>(h + 20);
    uint64_t usize = loadLE<uint32_t>(h + 24);
    size_t nameLen = loadLE<uint16_t>(h + 28);
    size_t extraLen = loadLE<uint16_t>(h + 30);
    size_t commentLen = loadLE<uint16_t>(h + 32);
    uint64_t local = loadLE<uint32_t>(h + 42);
    if (cd.size() - p - kCentralHeaderSize < nameLen + extraLen + commentLen)
      return corrupt("central directory entry past its end");
    entry.name.assign(h + kCentralHeaderSize, nameLen);
    // The zip64 extra field holds, in order, the fields saturated above.
    const char *x = h + kCentralHeaderSize + nameLen;
    for (size_t q = 0; q + 4 <= extraLen;) {
      uint16_t id = loadLE<uint16_t>(x + q);
      size_t len = loadLE<uint16_t>(x + q + 2);
      if (q + 4 + len > extraLen)
        return corrupt(fmt::format("entry '{}': bad extra field", entry.name));
      if (id == kZip64ExtraId) {
        size_t r = q + 4, rend = q + 4 + len;
        for (uint64_t *field : {&usize, &csize, &local})
          if (*field == 0xFFFFFFFF) {
            if (rend - r < 8)
              return corrupt(
                  fmt::format("entry '{}': short zip64 field", entry.name));
            *field = loadLE<uint64_t>(x + r);
            r += 8;
          }
      }
      q += 4 + len;
    }
    p += kCentralHeaderSize + nameLen + extraLen + commentLen;
    if (method != 0 || csize != usize)
      return Status::error("{}: entry '{}' is compressed (method {}); torch "
                           "checkpoints store entries uncompressed",
                           path, entry.name, method);
    if (flags & 1)
      return Status::error("{}: entry '{}' is encrypted", path, entry.name);
    entry.size = usize;
    char lh[kLocalHeaderSize];
    if (local > cdOffset || cdOffset - local < kLocalHeaderSize ||
        !file.readAt(local, kLocalHeaderSize, lh) ||
        loadLE<uint32_t>(lh) != kLocalSig)
      return corrupt(fmt::format("entry '{}': bad local header", entry.name));
    entry.dataOffset = local + kLocalHeaderSize + loadLE<uint16_t>(lh + 26) +
                       loadLE<uint16_t>(lh + 28);
    if (entry.dataOffset > cdOffset || entry.size > cdOffset - entry.dataOffset)
      return corrupt(fmt::format("entry '{}' runs past the end of the data "
                                 "(truncated?)",
                                 entry.name));
    if (!seen.emplace(entry.name, reader.entries.size()).second)
      return corrupt(fmt::format("duplicate entry '{}'", entry.name));
    reader.entries.push_back(std::move(entry));
  }
  return std::move(reader);
}

const ZipEntry *ZipReader::find(std::string_view name) const {
  for (const ZipEntry &entry : entries)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

Expected<std::string> ZipReader::read(const ZipEntry &entry) const {
  File file(path);
  if (!file.ok())
    return Status::error("{}: cannot open: {}", path, std::strerror(errno));
  std::string bytes(entry.size, '\0');
  if (!file.readAt(entry.dataOffset, entry.size, bytes.data()))
    return Status::error("{}: entry '{}': read error (file changed?)", path,
                         entry.name);
  if (crc32(bytes) != entry.crc32)
    return Status::error("{}: entry '{}' is corrupt (CRC-32 mismatch)", path,
                         entry.name);
  return bytes;
}

Status gptc::writeZip(
    const std::string &path,
    const std::vector<std::pair<std::string, std::string_view>> &entries) {
  // Headers are kept alive here while the chunks point at them.
  std::deque<std::string> headers;
  std::vector<std::string_view> chunks;
  std::string central;
  uint64_t offset = 0;
  bool needZip64 = entries.size() >= 0xFFFF;
  for (const auto &[name, data] : entries) {
    uint32_t crc = crc32(data);
    bool big = data.size() >= 0xFFFFFFFFull;
    bool farOffset = offset >= 0xFFFFFFFFull;
    needZip64 |= big || farOffset;
    uint32_t size32 = big ? 0xFFFFFFFFu : uint32_t(data.size());

    std::string &lh = headers.emplace_back();
    storeLE<uint32_t>(lh, kLocalSig);
    storeLE<uint16_t>(lh, big ? 45 : 20); // version needed
    storeLE<uint16_t>(lh, 0);             // flags
    storeLE<uint16_t>(lh, 0);             // stored
    storeLE<uint16_t>(lh, 0);             // time
    storeLE<uint16_t>(lh, 0x21);          // date: 1980-01-01
    storeLE<uint32_t>(lh, crc);
    storeLE<uint32_t>(lh, size32);
    storeLE<uint32_t>(lh, size32);
    storeLE<uint16_t>(lh, uint16_t(name.size()));
    size_t zip64Len = big ? 20 : 0;
    // Pad with torch's extra field so the data starts 64-byte aligned.
    uint64_t unpadded = offset + kLocalHeaderSize + name.size() + zip64Len;
    uint64_t pad =
        (kDataAlignment - unpadded % kDataAlignment) % kDataAlignment;
    if (pad > 0 && pad < 4)
      pad += kDataAlignment;
    storeLE<uint16_t>(lh, uint16_t(zip64Len + pad));
    lh += name;
    if (big) {
      storeLE<uint16_t>(lh, kZip64ExtraId);
      storeLE<uint16_t>(lh, 16);
      storeLE<uint64_t>(lh, data.size());
      storeLE<uint64_t>(lh, data.size());
    }
    if (pad > 0) {
      storeLE<uint16_t>(lh, kPaddingExtraId);
      storeLE<uint16_t>(lh, uint16_t(pad - 4));
      lh.append(pad - 4, 'Z');
    }
    chunks.push_back(lh);
    chunks.push_back(data);

    std::string extra;
    if (big || farOffset) {
      storeLE<uint16_t>(extra, kZip64ExtraId);
      storeLE<uint16_t>(extra, uint16_t((big ? 16 : 0) + (farOffset ? 8 : 0)));
      if (big) {
        storeLE<uint64_t>(extra, data.size());
        storeLE<uint64_t>(extra, data.size());
      }
      if (farOffset)
        storeLE<uint64_t>(extra, offset);
    }
    storeLE<uint32_t>(central, kCentralSig);
    storeLE<uint16_t>(central, 45); // made by
    storeLE<uint16_t>(central, big || farOffset ? 45 : 20);
    storeLE<uint16_t>(central, 0);
    storeLE<uint16_t>(central, 0);
    storeLE<uint16_t>(central, 0);
    storeLE<uint16_t>(central, 0x21);
    storeLE<uint32_t>(central, crc);
    storeLE<uint32_t>(central, size32);
    storeLE<uint32_t>(central, size32);
    storeLE<uint16_t>(central, uint16_t(name.size()));
    storeLE<uint16_t>(central, uint16_t(extra.size()));
    storeLE<uint16_t>(central, 0); // comment
    storeLE<uint16_t>(central, 0); // disk
    storeLE<uint16_t>(central, 0); // internal attributes
    storeLE<uint32_t>(central, 0); // external attributes
    storeLE<uint32_t>(central, farOffset ? 0xFFFFFFFFu : uint32_t(offset));
    central += name;
    central += extra;
    offset += lh.size() + data.size();
  }
  uint64_t cdOffset = offset, cdSize = central.size();
  needZip64 |= cdOffset >= 0xFFFFFFFFull || cdSize >= 0xFFFFFFFFull;
  std::string &end = headers.emplace_back();
  if (needZip64) {
    uint64_t recordOffset = cdOffset + cdSize;
    storeLE<uint32_t>(end, kEnd64Sig);
    storeLE<uint64_t>(end, 44);
    storeLE<uint16_t>(end, 45);
    storeLE<uint16_t>(end, 45);
    storeLE<uint32_t>(end, 0);
    storeLE<uint32_t>(end, 0);
    storeLE<uint64_t>(end, entries.size());
    storeLE<uint64_t>(end, entries.size());
    storeLE<uint64_t>(end, cdSize);
    storeLE<uint64_t>(end, cdOffset);
    storeLE<uint32_t>(end, kEnd64LocatorSig);
    storeLE<uint32_t>(end, 0);
    storeLE<uint64_t>(end, recordOffset);
    storeLE<uint32_t>(end, 1);
  }
  auto sat16 = [&](uint64_t v) {
    return needZip64 ? uint16_t(0xFFFF) : uint16_t(v);
  };
  auto sat32 = [&](uint64_t v) {
    return needZip64 ? uint32_t(0xFFFFFFFF) : uint32_t(v);
  };
  storeLE<uint32_t>(end, kEndSig);
  storeLE<uint16_t>(end, 0);
  storeLE<uint16_t>(end, 0);
  storeLE<uint16_t>(end, sat16(entries.size()));
  storeLE<uint16_t>(end, sat16(entries.size()));
  storeLE<uint32_t>(end, sat32(cdSize));
  storeLE<uint32_t>(end, sat32(cdOffset));
  storeLE<uint16_t>(end, 0);
  chunks.push_back(central);
  chunks.push_back(end);
  return writeFileAtomically(path, chunks);
}

//===----------------------------------------------------------------------===//
// torch state_dict
//===----------------------------------------------------------------------===//

/// Multiplies without overflow past `limit`; false if it would.
static bool mulBounded(uint64_t a, uint64_t b, uint64_t limit, uint64_t &out) {
  if (a != 0 && b > limit / a)
    return false;
  out = a * b;
  return out <= limit;
}

/// Copies the strided view of `tensor` out of `storage` (`count` elements
/// of `elem` bytes) into `out`.
static void gather(const pickle::Value &tensor, const std::string &storage,
                   size_t elem, uint64_t count, std::string &out) {
  size_t rank = tensor.shape.size();
  out.resize(count * elem);
  if (count == 0)
    return;
  // Contiguous views (the usual case) are one copy.
  bool contiguous = true;
  int64_t expected = 1;
  for (size_t d = rank; d-- > 0;) {
    if (tensor.shape[d] != 1 && tensor.stride[d] != expected)
      contiguous = false;
    expected *= tensor.shape[d];
  }
  if (contiguous) {
    std::memcpy(out.data(), storage.data() + tensor.offset * elem,
                count * elem);
    return;
  }
  std::vector<int64_t> index(rank, 0);
  for (uint64_t i = 0; i < count; ++i) {
    int64_t src = tensor.offset;
    for (size_t d = 0; d < rank; ++d)
      src += index[d] * tensor.stride[d];
    std::memcpy(out.data() + i * elem, storage.data() + src * elem, elem);
    for (size_t d = rank; d-- > 0;) {
      if (++index[d] < tensor.shape[d])
        break;
      index[d] = 0;
    }
  }
}

Expected<std::vector<TorchTensor>>
gptc::readTorchStateDict(const std::string &path) {
  Expected<ZipReader> zip = ZipReader::open(path);
  if (!zip.ok())
    return zip.status();
  // The pickle is <folder>/data.pkl for a single top-level folder.
  std::string folder;
  for (const ZipEntry &entry : zip->getEntries()) {
    size_t slash = entry.name.find('/');
    if (slash != std::string::npos && slash > 0 &&
        entry.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (!folder.empty())
        return Status::error("{}: more than one data.pkl in the archive", path);
      folder = entry.name.substr(0, slash);
    }
  }
  if (folder.empty())
    return Status::error("{}: no <folder>/data.pkl entry: not a checkpoint "
                         "written by torch.save",
                         path);
  if (const ZipEntry *order = zip->find(folder + "/byteorder")) {
    Expected<std::string> text = zip->read(*order);
    if (!text.ok())
      return text.status();
    if (*text != "little")
      return Status::error("{}: byte order {}, gptc reads little-endian "
                           "checkpoints only",
                           path, quoteForMessage(*text));
  }
  Expected<std::string> pkl = zip->read(*zip->find(folder + "/data.pkl"));
  if (!pkl.ok())
    return pkl.status();
  std::string what = fmt::format("{}: {}/data.pkl", path, folder);
  Expected<pickle::Unpickled> unpickled =
      pickle::unpickle(*pkl, what, pickle::Allowed::TorchStateDict);
  if (!unpickled.ok())
    return unpickled.status();
  const pickle::Value &root = unpickled->root();
  if (root.kind != pickle::Kind::Dict)
    return Status::error("{}: the checkpoint holds a {}, not a state_dict",
                         path, pickle::kindName(root.kind));

  std::map<std::string, std::string, std::less<>> storages; // by key
  std::map<std::string, bool, std::less<>> names;
  std::vector<TorchTensor> tensors;
  for (const auto &[key, value] : root.entries) {
    if (key->kind != pickle::Kind::String)
      return Status::error("{}: state_dict key is a {}, not a string", path,
                           pickle::kindName(key->kind));
    const std::string &name = key->text;
    if (!names.emplace(name, true).second)
      return Status::error("{}: tensor '{}' appears twice", path, name);
    if (value->kind != pickle::Kind::Tensor)
      return Status::error("{}: '{}' is a {}, not a tensor", path, name,
                           pickle::kindName(value->kind));
    const pickle::Value &storage = *value->storage;
    size_t elem = dtypeSize(storage.dtype);
    auto it = storages.find(storage.key);
    if (it == storages.end()) {
      std::string entryName = folder + "/data/" + storage.key;
      const ZipEntry *entry = zip->find(entryName);
      if (!entry)
        return Status::error("{}: tensor '{}': storage entry '{}' is missing",
                             path, name, entryName);
      uint64_t bytes;
      if (!mulBounded(uint64_t(storage.numel), elem, UINT64_MAX / 2, bytes) ||
          entry->size < bytes)
        return Status::error("{}: tensor '{}': storage '{}' holds {} bytes, "
                             "smaller than its {} elements of {}",
                             path, name, entryName, entry->size, storage.numel,
                             dtypeName(storage.dtype));
      Expected<std::string> data = zip->read(*entry);
      if (!data.ok())
        return data.status();
      it = storages.emplace(storage.key, std::move(*data)).first;
    }
    // The view must stay inside the storage's numel elements.
    uint64_t count = 1;
    bool fits = true;
    for (int64_t size : value->shape)
      fits = fits && mulBounded(count, uint64_t(size), UINT64_MAX / 2, count);
    if (fits && count > 0) {
      uint64_t last = uint64_t(value->offset), span = 0;
      for (size_t d = 0; fits && d < value->shape.size(); ++d) {
        fits = mulBounded(uint64_t(value->shape[d] - 1),
                          uint64_t(value->stride[d]), UINT64_MAX / 4, span);
        last += span;
        fits = fits && last < uint64_t(storage.numel);
      }
    }
    if (!fits)
      return Status::error("{}: tensor '{}' of shape {} at offset {} runs "
                           "past the end of its storage ({} elements)",
                           path, name, formatShape(value->shape), value->offset,
                           storage.numel);
    TorchTensor tensor;
    tensor.name = name;
    tensor.dtype = storage.dtype;
    tensor.shape = value->shape;
    gather(*value, it->second, elem, count, tensor.data);
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

Status gptc::writeTorchStateDict(const std::string &path,
                                 const std::string &folder,
                                 const std::vector<TensorRef> &tensors) {
  pickle::Pickler p;
  p.global("collections", "OrderedDict");
  p.emptyTuple();
  p.reduce();
  p.mark();
  std::vector<std::pair<std::string, std::string_view>> entries;
  entries.emplace_back(folder + "/data.pkl", std::string_view());
  entries.emplace_back(folder + "/byteorder", "little");
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorRef &t = tensors[i];
    std::string_view storageClass = pickle::storageClassName(t.dtype);
    if (storageClass.empty())
      return Status::error("{}: tensor '{}' is {}, which torch storages "
                           "cannot hold",
                           path, t.name, dtypeName(t.dtype));
    int64_t numel = 1;
    for (int64_t d : t.shape)
      numel *= d;
    p.string(t.name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    {
      p.mark();
      p.string("storage");
      p.global("torch", storageClass);
      p.string(std::to_string(i));
      p.string("cpu");
      p.integer(numel);
      p.tupleFromMark();
      p.persistentId();
    }
    p.integer(0);
    p.mark();
    for (int64_t d : t.shape)
      p.integer(d);
    p.tupleFromMark();
    p.mark();
    int64_t stride = 1;
    std::vector<int64_t> strides(t.shape.size());
    for (size_t d = t.shape.size(); d-- > 0;) {
      strides[d] = stride;
      stride *= t.shape[d];
    }
    for (int64_t s : strides)
      p.integer(s);
    p.tupleFromMark();
    p.boolean(false);
    p.global("collections", "OrderedDict");
    p.emptyTuple();
    p.reduce();
    p.tupleFromMark();
    p.reduce();
    entries.emplace_back(folder + "/data/" + std::to_string(i),
                         std::string_view(static_cast<const char *>(t.data),
                                          size_t(numel) * dtypeSize(t.dtype)));
  }
  p.setItems();
  std::string pkl = p.finish();
  entries[0].second = pkl;
  entries.emplace_back(folder + "/version", "3\n");
  return writeZip(path, entries);
}
