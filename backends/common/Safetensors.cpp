//===- Safetensors.cpp - strict safetensors reader and writer -------------===//

#include "backends/common/Safetensors.h"
#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <set>

#include <fmt/format.h>

using namespace gptc;

namespace {

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  size_t size;
};

/// In DType order.
constexpr DTypeEntry kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::F8E5M2, "F8_E5M2", 1},
    {DType::F8E4M3, "F8_E4M3", 1}, {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::I32, "I32", 4},
    {DType::U32, "U32", 4},        {DType::F32, "F32", 4},
    {DType::I64, "I64", 8},        {DType::U64, "U64", 8},
    {DType::F64, "F64", 8},
};

const DTypeEntry &dtypeEntry(DType dtype) {
  const DTypeEntry &entry = kDTypes[static_cast<size_t>(dtype)];
  assert(entry.dtype == dtype && "kDTypes is not in DType order");
  return entry;
}

/// "path: tensor 'name'", the start of messages about one tensor.
std::string tensorContext(const std::string &path, std::string_view name) {
  return fmt::format("{}: tensor {}", path, quoteForMessage(name));
}

/// A JSON value as an error message shows what was found instead.
std::string describe(const Json &value) {
  switch (value.kind()) {
  case Json::Kind::Null:
    return "null";
  case Json::Kind::Bool:
    return value.getBool() ? "true" : "false";
  case Json::Kind::Number:
    if (std::optional<int64_t> integer = value.getInteger())
      return fmt::format("{}", *integer);
    return fmt::format("{} (not an int64 integer)", value.getNumber());
  case Json::Kind::String:
    return "the string " + quoteForMessage(value.getString());
  case Json::Kind::Array:
    return fmt::format("an array of {} element{}", value.getArray().size(),
                       value.getArray().size() == 1 ? "" : "s");
  case Json::Kind::Object:
    return "an object";
  }
  __builtin_unreachable();
}

std::optional<int64_t> asNonNegativeInteger(const Json &value) {
  std::optional<int64_t> integer =
      value.isNumber() ? value.getInteger() : std::nullopt;
  if (integer && *integer >= 0)
    return integer;
  return std::nullopt;
}

/// Sets `numel` and `byteSize` of a tensor of `shape` (non-negative
/// dimensions) and `dtype`; fails if the byte size overflows 64 bits.
Status countBytes(const std::string &context, const std::vector<int64_t> &shape,
                  DType dtype, uint64_t &numel, uint64_t &byteSize) {
  numel = 1;
  bool overflow = false;
  for (int64_t dim : shape)
    overflow |=
        __builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel);
  overflow |= __builtin_mul_overflow(numel, dtypeSize(dtype), &byteSize);
  if (overflow)
    return Status::error("{}: shape {} of {} is larger than 2^64 bytes",
                         context, formatShape(shape), dtypeName(dtype));
  return Status::success();
}

Expected<TensorInfo> parseTensorEntry(const std::string &path,
                                      const std::string &name,
                                      const Json &entry, uint64_t dataSize) {
  std::string context = tensorContext(path, name);
  if (!entry.isObject())
    return Status::error("{}: entry is {}, expected an object with dtype, "
                         "shape and data_offsets",
                         context, describe(entry));
  const char *const keys[] = {"dtype", "shape", "data_offsets"};
  const Json *fields[std::size(keys)] = {};
  for (const Json::Member &member : entry.getObject()) {
    const char *const *key =
        std::find(std::begin(keys), std::end(keys), member.first);
    if (key == std::end(keys))
      return Status::error("{}: unexpected key {} (an entry has exactly "
                           "dtype, shape and data_offsets)",
                           context, quoteForMessage(member.first));
    fields[key - std::begin(keys)] = &member.second;
  }
  for (size_t i = 0; i < std::size(keys); ++i)
    if (!fields[i])
      return Status::error("{}: missing key '{}'", context, keys[i]);
  const Json &dtypeJson = *fields[0];
  const Json &shapeJson = *fields[1];
  const Json &offsetsJson = *fields[2];

  TensorInfo info;
  info.name = name;
  if (!dtypeJson.isString())
    return Status::error("{}: dtype is {}, expected a string such as \"F32\"",
                         context, describe(dtypeJson));
  std::optional<DType> dtype = parseDType(dtypeJson.getString());
  if (!dtype) {
    std::vector<std::string_view> known;
    for (const DTypeEntry &entry : kDTypes)
      known.push_back(entry.name);
    return Status::error("{}: unknown dtype {} (known: {})", context,
                         quoteForMessage(dtypeJson.getString()),
                         fmt::join(known, ", "));
  }
  info.dtype = *dtype;

  if (!shapeJson.isArray())
    return Status::error("{}: shape is {}, expected a list of non-negative "
                         "integers",
                         context, describe(shapeJson));
  const Json::Array &dims = shapeJson.getArray();
  for (size_t i = 0; i < dims.size(); ++i) {
    std::optional<int64_t> dim = asNonNegativeInteger(dims[i]);
    if (!dim)
      return Status::error("{}: shape[{}] is {}, expected a non-negative "
                           "integer",
                           context, i, describe(dims[i]));
    info.shape.push_back(*dim);
  }
  uint64_t byteSize;
  if (Status status =
          countBytes(context, info.shape, info.dtype, info.numel, byteSize);
      !status.ok())
    return status;

  if (!offsetsJson.isArray() || offsetsJson.getArray().size() != 2)
    return Status::error("{}: data_offsets is {}, expected [begin, end]",
                         context, describe(offsetsJson));
  uint64_t offsets[2];
  for (size_t i = 0; i < 2; ++i) {
    const Json &offset = offsetsJson.getArray()[i];
    std::optional<int64_t> value = asNonNegativeInteger(offset);
    if (!value)
      return Status::error("{}: data_offsets[{}] is {}, expected a "
                           "non-negative integer",
                           context, i, describe(offset));
    offsets[i] = static_cast<uint64_t>(*value);
  }
  info.begin = offsets[0];
  info.end = offsets[1];
  if (info.begin > info.end)
    return Status::error("{}: data_offsets [{}, {}] end before they begin",
                         context, info.begin, info.end);
  if (info.end - info.begin != byteSize)
    return Status::error("{}: data_offsets [{}, {}] do not match shape {} of "
                         "{} ({} bytes)",
                         context, info.begin, info.end, formatShape(info.shape),
                         dtypeName(info.dtype), byteSize);
  if (info.end > dataSize)
    return Status::error("{}: data_offsets [{}, {}] run past the end of the "
                         "data section ({} bytes); the file is truncated or "
                         "corrupt",
                         context, info.begin, info.end, dataSize);
  return info;
}

Status parseMetadata(const std::string &path, const Json &json,
                     std::vector<std::pair<std::string, std::string>> &out) {
  if (!json.isObject())
    return Status::error("{}: __metadata__ is {}, expected an object of "
                         "string values",
                         path, describe(json));
  for (const Json::Member &member : json.getObject()) {
    if (!member.second.isString())
      return Status::error("{}: __metadata__ {} is {}, expected a string "
                           "(safetensors metadata values are strings)",
                           path, quoteForMessage(member.first),
                           describe(member.second));
    out.emplace_back(member.first, member.second.getString());
  }
  return Status::success();
}

/// Checks that `tensors` tile the data section of `dataSize` bytes exactly,
/// as the reference implementation requires.
Status checkLayout(const std::string &path,
                   const std::vector<TensorInfo> &tensors, uint64_t dataSize) {
  std::vector<const TensorInfo *> byOffset;
  for (const TensorInfo &tensor : tensors)
    byOffset.push_back(&tensor);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorInfo *lhs, const TensorInfo *rhs) {
              return std::pair(lhs->begin, lhs->end) <
                     std::pair(rhs->begin, rhs->end);
            });
  uint64_t covered = 0;
  const TensorInfo *previous = nullptr;
  for (const TensorInfo *tensor : byOffset) {
    if (tensor->begin < covered)
      return Status::error(
          "{}: tensors {} (data_offsets [{}, {}]) and {} "
          "(data_offsets [{}, {}]) overlap",
          path, quoteForMessage(previous->name), previous->begin, previous->end,
          quoteForMessage(tensor->name), tensor->begin, tensor->end);
    if (tensor->begin > covered)
      return Status::error("{}: bytes [{}, {}) of the data section belong to "
                           "no tensor (the next is {}); safetensors files "
                           "store tensors without gaps",
                           path, covered, tensor->begin,
                           quoteForMessage(tensor->name));
    covered = tensor->end;
    previous = tensor;
  }
  if (covered != dataSize)
    return Status::error("{}: the data section has {} bytes but its tensors "
                         "end at byte {}; the file has trailing garbage",
                         path, dataSize, covered);
  return Status::success();
}

/// Copies `numel` elements stored as Src at `src` (maybe unaligned) into
/// `dst`, converting each with `convert`.
template <typename Src, typename Dst, typename Convert>
void convertElements(const char *src, uint64_t numel, Dst *dst,
                     Convert convert) {
  for (uint64_t i = 0; i < numel; ++i) {
    Src value;
    std::memcpy(&value, src + i * sizeof(Src), sizeof(Src));
    dst[i] = convert(value);
  }
}

} // namespace

std::string_view gptc::dtypeName(DType dtype) { return dtypeEntry(dtype).name; }

std::optional<DType> gptc::parseDType(std::string_view name) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.name == name)
      return entry.dtype;
  return std::nullopt;
}

size_t gptc::dtypeSize(DType dtype) { return dtypeEntry(dtype).size; }

std::string gptc::formatShape(const std::vector<int64_t> &shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

Expected<SafetensorsFile> SafetensorsFile::open(const std::string &path) {
  Expected<std::string> contents = readFile(path);
  if (!contents.ok())
    return contents.status();
  SafetensorsFile file;
  file.path = path;
  file.bytes = std::move(*contents);
  const std::string &bytes = file.bytes;

  uint64_t headerSize;
  if (bytes.size() < sizeof(headerSize))
    return Status::error("{}: file is {} bytes long, too short for the "
                         "8-byte header length that starts a safetensors file",
                         path, bytes.size());
  std::memcpy(&headerSize, bytes.data(), sizeof(headerSize));
  if (headerSize > kMaxSafetensorsHeaderBytes)
    return Status::error("{}: header length {} is above the {} MiB limit; the "
                         "file is corrupt or not a safetensors file",
                         path, headerSize, kMaxSafetensorsHeaderBytes >> 20);
  if (headerSize > bytes.size() - sizeof(headerSize))
    return Status::error("{}: header length {} runs past the end of the file "
                         "({} bytes); the file is truncated or not a "
                         "safetensors file",
                         path, headerSize, bytes.size());
  file.dataStart = sizeof(headerSize) + headerSize;
  uint64_t dataSize = bytes.size() - file.dataStart;

  Expected<Json> header =
      parseJson(std::string_view(bytes).substr(sizeof(headerSize), headerSize),
                path + ": header");
  if (!header.ok())
    return header.status();
  if (!header->isObject())
    return Status::error("{}: header is {}, expected an object mapping "
                         "tensor names to entries",
                         path, describe(*header));
  for (const Json::Member &member : header->getObject()) {
    if (member.first == "__metadata__") {
      if (Status status = parseMetadata(path, member.second, file.metadata);
          !status.ok())
        return status;
      continue;
    }
    Expected<TensorInfo> tensor =
        parseTensorEntry(path, member.first, member.second, dataSize);
    if (!tensor.ok())
      return tensor.status();
    file.tensorIndex.emplace(member.first, file.tensors.size());
    file.tensors.push_back(std::move(*tensor));
  }
  if (Status status = checkLayout(path, file.tensors, dataSize); !status.ok())
    return status;
  return file;
}

std::vector<std::string> SafetensorsFile::getNames() const {
  std::vector<std::string> names;
  for (const TensorInfo &tensor : tensors)
    names.push_back(tensor.name);
  return names;
}

const TensorInfo *SafetensorsFile::find(std::string_view name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensors[it->second];
}

const char *SafetensorsFile::getRawData(const TensorInfo &tensor) const {
  return bytes.data() + dataStart + tensor.begin;
}

const std::string *SafetensorsFile::findMetadata(std::string_view key) const {
  for (const auto &entry : metadata)
    if (entry.first == key)
      return &entry.second;
  return nullptr;
}

Expected<const TensorInfo *>
SafetensorsFile::lookup(std::string_view name) const {
  if (const TensorInfo *tensor = find(name))
    return tensor;
  return Status::error("{}: no tensor {} in file", path, quoteForMessage(name));
}

Expected<const TensorInfo *> SafetensorsFile::lookupWithShape(
    std::string_view name, const std::vector<int64_t> &expectedShape) const {
  Expected<const TensorInfo *> tensor = lookup(name);
  if (tensor.ok() && (*tensor)->shape != expectedShape)
    return Status::error(
        "{} has shape {}, expected {}", tensorContext(path, name),
        formatShape((*tensor)->shape), formatShape(expectedShape));
  return tensor;
}

Status SafetensorsFile::unsupportedDType(const TensorInfo &tensor,
                                         std::string_view reader,
                                         std::string_view accepted) const {
  return Status::error("{} has dtype {}, but {} reads only {}",
                       tensorContext(path, tensor.name),
                       dtypeName(tensor.dtype), reader, accepted);
}

Status SafetensorsFile::readF32(std::string_view name,
                                const std::vector<int64_t> &expectedShape,
                                float *dst) const {
  Expected<const TensorInfo *> tensor = lookupWithShape(name, expectedShape);
  if (!tensor.ok())
    return tensor.status();
  const TensorInfo &info = **tensor;
  const char *src = getRawData(info);
  switch (info.dtype) {
  case DType::F32:
    convertElements<float>(src, info.numel, dst,
                           [](float value) { return value; });
    return Status::success();
  case DType::BF16:
    convertElements<uint16_t>(src, info.numel, dst, bf16ToF32);
    return Status::success();
  case DType::F64:
    convertElements<double>(src, info.numel, dst, [](double value) {
      return static_cast<float>(value);
    });
    return Status::success();
  default:
    return unsupportedDType(info, "readF32", "F32, BF16 and F64");
  }
}

Status SafetensorsFile::readF64(std::string_view name,
                                const std::vector<int64_t> &expectedShape,
                                double *dst) const {
  Expected<const TensorInfo *> tensor = lookupWithShape(name, expectedShape);
  if (!tensor.ok())
    return tensor.status();
  const TensorInfo &info = **tensor;
  const char *src = getRawData(info);
  switch (info.dtype) {
  case DType::F64:
    convertElements<double>(src, info.numel, dst,
                            [](double value) { return value; });
    return Status::success();
  case DType::F32:
    convertElements<float>(src, info.numel, dst,
                           [](float value) { return double(value); });
    return Status::success();
  default:
    return unsupportedDType(info, "readF64", "F64 and F32");
  }
}

Status SafetensorsFile::readI64(std::string_view name,
                                std::vector<int64_t> &values,
                                std::vector<int64_t> &shape) const {
  Expected<const TensorInfo *> tensor = lookup(name);
  if (!tensor.ok())
    return tensor.status();
  const TensorInfo &info = **tensor;
  const char *src = getRawData(info);
  switch (info.dtype) {
  case DType::I64:
    values.resize(info.numel);
    convertElements<int64_t>(src, info.numel, values.data(),
                             [](int64_t value) { return value; });
    break;
  case DType::I32:
    values.resize(info.numel);
    convertElements<int32_t>(src, info.numel, values.data(),
                             [](int32_t value) { return int64_t(value); });
    break;
  default:
    return unsupportedDType(info, "readI64", "I64 and I32");
  }
  shape = info.shape;
  return Status::success();
}

Status
gptc::writeSafetensors(const std::string &path,
                       const std::vector<TensorRef> &tensors,
                       const std::map<std::string, std::string> &metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json entries = Json::object();
    for (const auto &[key, value] : metadata) {
      if (!isValidUtf8(key) || !isValidUtf8(value))
        return Status::error("{}: metadata {} is not valid UTF-8", path,
                             quoteForMessage(key));
      entries.set(key, Json::string(value));
    }
    header.set("__metadata__", std::move(entries));
  }

  // chunks[0] becomes the header length and header once all are known.
  std::vector<std::string_view> chunks(1);
  std::set<std::string_view> names;
  uint64_t offset = 0;
  for (const TensorRef &tensor : tensors) {
    std::string context = tensorContext(path, tensor.name);
    if (tensor.name == "__metadata__")
      return Status::error("{}: the name is reserved for the metadata",
                           context);
    if (!isValidUtf8(tensor.name))
      return Status::error("{}: the name is not valid UTF-8", context);
    if (!names.insert(tensor.name).second)
      return Status::error("{}: the name is given twice", context);
    Json shape = Json::array();
    for (int64_t dim : tensor.shape) {
      if (dim < 0)
        return Status::error("{}: shape {} has a negative dimension", context,
                             formatShape(tensor.shape));
      shape.push(Json::integer(dim));
    }
    uint64_t numel, byteSize;
    if (Status status =
            countBytes(context, tensor.shape, tensor.dtype, numel, byteSize);
        !status.ok())
      return status;
    if (!tensor.data && byteSize != 0)
      return Status::error("{}: data is null", context);

    Json entry = Json::object();
    entry.set("dtype", Json::string(std::string(dtypeName(tensor.dtype))));
    entry.set("shape", std::move(shape));
    entry.set(
        "data_offsets",
        Json::array({Json::integer(static_cast<int64_t>(offset)),
                     Json::integer(static_cast<int64_t>(offset + byteSize))}));
    header.set(tensor.name, std::move(entry));
    chunks.emplace_back(static_cast<const char *>(tensor.data), byteSize);
    offset += byteSize;
  }

  std::string headerText = header.serialize();
  headerText.resize((headerText.size() + 7) / 8 * 8, ' ');
  uint64_t headerSize = headerText.size();
  if (headerSize > kMaxSafetensorsHeaderBytes)
    return Status::error("{}: the header would be {} bytes, above the {} MiB "
                         "readers accept; split the tensors over several files",
                         path, headerSize, kMaxSafetensorsHeaderBytes >> 20);
  std::string prefix(sizeof(headerSize), '\0');
  std::memcpy(prefix.data(), &headerSize, sizeof(headerSize));
  prefix += headerText;
  chunks[0] = prefix;
  return writeFileAtomically(path, chunks);
}
