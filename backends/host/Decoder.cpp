//===- Decoder.cpp - prefill, fork and step over a KV cache ---------------===//
//
// The generated functions never check the capacity, so the decoder does
// before every call: feed() fails, feeding nothing, when a row has no room.
//
//===----------------------------------------------------------------------===//

#include "backends/host/Decoder.h"

#include "backends/common/Safetensors.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cassert>
#include <cstring>

using namespace gptc;
using namespace gptc::host;

namespace {

/// The inputs and the output of both programs, in order, with their ranks.
constexpr const char *kBufferNames[] = {"tokens", "k_cache", "v_cache",
                                        "lengths", "logits"};
constexpr int64_t kBufferRanks[] = {2, 5, 5, 1, 3};
constexpr size_t kNumBuffers = std::size(kBufferNames);

/// The buffers of `program` in the order of kBufferNames, checked to have
/// those names and ranks.
Expected<std::vector<const BufferInfo *>>
decodeBuffers(const ProgramInfo &program) {
  if (program.numInputs != kNumBuffers - 1 || program.numOutputs != 1)
    return Status::error("the generated {} program has {} inputs and {} "
                         "outputs, not the 4 and 1 of a decode program; "
                         "recompile with --mode=decode",
                         program.entry, program.numInputs, program.numOutputs);
  std::vector<const BufferInfo *> buffers;
  for (size_t i = 0; i + 1 < kNumBuffers; ++i)
    buffers.push_back(&program.inputs[i]);
  buffers.push_back(&program.outputs[0]);
  for (size_t i = 0; i < kNumBuffers; ++i)
    if (std::strcmp(buffers[i]->name, kBufferNames[i]) != 0 ||
        buffers[i]->rank != kBufferRanks[i])
      return Status::error("buffer {} of the generated {} program is '{}' of "
                           "rank {}, expected '{}' of rank {}; recompile with "
                           "--mode=decode",
                           i, program.entry, buffers[i]->name, buffers[i]->rank,
                           kBufferNames[i], kBufferRanks[i]);
  return buffers;
}

/// Checks that the buffers of `program` have the shapes `expected` (in the
/// order of kBufferNames).
Status checkShapes(const ProgramInfo &program,
                   const std::vector<const BufferInfo *> &buffers,
                   const std::vector<std::vector<int64_t>> &expected) {
  for (size_t i = 0; i < kNumBuffers; ++i)
    if (shapeOf(*buffers[i]) != expected[i])
      return Status::error("'{}' of the generated {} program has shape {}, "
                           "but the programs' other buffers imply {}; "
                           "recompile",
                           buffers[i]->name, program.entry,
                           formatShape(shapeOf(*buffers[i])),
                           formatShape(expected[i]));
  return Status::success();
}

/// Copies cache slots [begin, end) of row `srcRow` of `src`
/// ([L, srcRows, Cap, Hkv, D]) into row `dstRow` of `dst`
/// ([L, dstRows, Cap, Hkv, D]), in every layer (device memory).
void copySlots(const DecodeShape &shape, const char *src, int64_t srcRows,
               int64_t srcRow, char *dst, int64_t dstRows, int64_t dstRow,
               int64_t begin, int64_t end) {
  const int64_t slotBytes = shape.Hkv * shape.D * shape.cacheElementBytes;
  for (int64_t l = 0; l < shape.L; ++l) {
    int64_t from = ((l * srcRows + srcRow) * shape.Cap + begin) * slotBytes;
    int64_t to = ((l * dstRows + dstRow) * shape.Cap + begin) * slotBytes;
    copyOnDevice(dst + to, src + from, size_t((end - begin) * slotBytes));
  }
}

} // namespace

Expected<DecodeShape> gptc::host::readDecodeShape() {
  const ProgramInfo &prefillInfo = prefill_program, &stepInfo = step_program;
  Expected<std::vector<const BufferInfo *>> prefillBuffers =
      decodeBuffers(prefillInfo);
  if (!prefillBuffers.ok())
    return prefillBuffers.status();
  Expected<std::vector<const BufferInfo *>> stepBuffers =
      decodeBuffers(stepInfo);
  if (!stepBuffers.ok())
    return stepBuffers.status();

  DecodeShape shape;
  const BufferInfo &cache = *(*stepBuffers)[1]; // [L, R, Cap, Hkv, D]
  shape.L = cache.shape[0];
  shape.R = cache.shape[1];
  shape.Cap = cache.shape[2];
  shape.Hkv = cache.shape[3];
  shape.D = cache.shape[4];
  shape.cacheElementBytes = std::string(cache.dtype) == "uint16_t" ? 2 : 4;
  shape.Tc = (*prefillBuffers)[0]->shape[1];
  shape.V = (*stepBuffers)[4]->shape[2];
  const int64_t L = shape.L, R = shape.R, Cap = shape.Cap, Hkv = shape.Hkv,
                D = shape.D, Tc = shape.Tc, V = shape.V;
  if (Status status = checkShapes(
          prefillInfo, *prefillBuffers,
          {{1, Tc}, {L, 1, Cap, Hkv, D}, {L, 1, Cap, Hkv, D}, {1}, {1, Tc, V}});
      !status.ok())
    return status;
  if (Status status = checkShapes(
          stepInfo, *stepBuffers,
          {{R, 1}, {L, R, Cap, Hkv, D}, {L, R, Cap, Hkv, D}, {R}, {R, 1, V}});
      !status.ok())
    return status;
  if (prefillInfo.paramBytes != stepInfo.paramBytes ||
      prefillInfo.numParams != stepInfo.numParams ||
      std::strcmp(prefillInfo.config, stepInfo.config) != 0)
    return Status::error("the generated prefill and step programs disagree "
                         "on the model or its parameters; recompile");
  return shape;
}

Decoder::Decoder(const DecodeShape &shape, int64_t rows, DeviceBuffer params)
    : shape(shape), rows(rows), params(std::move(params)) {
  assert(rows >= 1 && rows <= shape.R);
  const size_t rowBytes = size_t(shape.L * shape.Cap * shape.Hkv * shape.D *
                                 shape.cacheElementBytes);
  const size_t R = size_t(shape.R), Tc = size_t(shape.Tc), V = size_t(shape.V);
  arena = allocateDevice(
      size_t(std::max(prefill_program.arenaBytes, step_program.arenaBytes)),
      "the arena");
  prefillKeys = allocateDevice(rowBytes, "the one-row KV cache");
  prefillValues = allocateDevice(rowBytes, "the one-row KV cache");
  stepKeys = allocateDevice(R * rowBytes, "the KV cache");
  stepValues = allocateDevice(R * rowBytes, "the KV cache");
  prefillTokens = allocateDevice(sizeof(int32_t) * Tc, "the prefill tokens");
  prefillLength = allocateDevice(sizeof(int32_t), "the prefill length");
  prefillLogits = allocateDevice(sizeof(float) * Tc * V, "the prefill logits");
  stepTokens = allocateDevice(sizeof(int32_t) * R, "the step tokens");
  stepLengths = allocateDevice(sizeof(int32_t) * R, "the step lengths");
  stepLogits = allocateDevice(sizeof(float) * R * V, "the step logits");
  tokensIn.resize(R);
  lengths.resize(R);
  lastLogits.resize(size_t(rows) * V);
}

Status Decoder::checkRoom(int64_t count) const {
  for (int64_t r = 0; r < rows; ++r) {
    if (lengths[r] + count <= shape.Cap)
      continue;
    if (lengths[r] == shape.Cap)
      return Status::error("row {} is full at {} tokens (the KV-cache "
                           "capacity)",
                           r, shape.Cap);
    return Status::error("row {} holds {} tokens and has no room for {} more "
                         "(the KV-cache capacity is {})",
                         r, lengths[r], count, shape.Cap);
  }
  return Status::success();
}

Status Decoder::feed(const std::vector<std::vector<int32_t>> &tokens,
                     FeedPath path) {
  assert(int64_t(tokens.size()) == rows && !tokens[0].empty());
  const int64_t n = int64_t(tokens[0].size());
  if (Status room = checkRoom(n); !room.ok())
    return room;
  bool same = std::all_of(
      tokens.begin(), tokens.end(),
      [&](const std::vector<int32_t> &row) { return row == tokens[0]; });
  int64_t chunks =
      path == FeedPath::Prefill && shared && same ? n / shape.Tc : 0;
  if (chunks > 0)
    prefillChunks(tokens[0], chunks);
  for (int64_t i = chunks * shape.Tc; i < n; ++i)
    stepToken(tokens, i);
  shared = shared && same;
  downloadLogits();
  return Status::success();
}

Status Decoder::feedAll(const std::vector<int32_t> &tokens, FeedPath path) {
  return feed(std::vector<std::vector<int32_t>>(size_t(rows), tokens), path);
}

void Decoder::reset() {
  std::fill(lengths.begin(), lengths.end(), 0);
  prefilled = 0;
  shared = true;
  logitsFromPrefill = false;
}

void Decoder::prefillChunks(const std::vector<int32_t> &tokens,
                            int64_t chunks) {
  // The one-row cache holds a prefix of the rows' common sequence (what it
  // held at the last fork): bring it up to date from row 0.
  const int32_t start = lengths[0];
  copySlots(shape, stepKeys.get(), shape.R, 0, prefillKeys.get(), 1, 0,
            prefilled, start);
  copySlots(shape, stepValues.get(), shape.R, 0, prefillValues.get(), 1, 0,
            prefilled, start);
  copyToDevice(prefillLength.get(), &start, sizeof(int32_t));
  for (int64_t c = 0; c < chunks; ++c) {
    copyToDevice(prefillTokens.get(), tokens.data() + c * shape.Tc,
                 sizeof(int32_t) * size_t(shape.Tc));
    prefill(params.get(), prefillTokens.as<int32_t>(), prefillKeys.get(),
            prefillValues.get(), prefillLength.get(), prefillLogits.as<float>(),
            arena.get());
  }
  // prefill advanced the length on the device by Tc per chunk.
  prefilled = int32_t(start + chunks * shape.Tc);
  // Fork: the new slots into every row.
  const int32_t end = prefilled;
  for (int64_t r = 0; r < rows; ++r) {
    copySlots(shape, prefillKeys.get(), 1, 0, stepKeys.get(), shape.R, r, start,
              end);
    copySlots(shape, prefillValues.get(), 1, 0, stepValues.get(), shape.R, r,
              start, end);
    lengths[r] = end;
  }
  logitsFromPrefill = true;
}

void Decoder::stepToken(const std::vector<std::vector<int32_t>> &tokens,
                        int64_t index) {
  for (int64_t r = 0; r < shape.R; ++r) {
    bool inUse = r < rows;
    tokensIn[r] = inUse ? tokens[r][index] : 0;
    if (!inUse)
      lengths[r] = 0; // an idle row rewrites its slot 0
  }
  copyToDevice(stepTokens.get(), tokensIn.data(),
               sizeof(int32_t) * tokensIn.size());
  copyToDevice(stepLengths.get(), lengths.data(),
               sizeof(int32_t) * lengths.size());
  stepGraph.run([&] {
    step(params.get(), stepTokens.as<int32_t>(), stepKeys.get(),
         stepValues.get(), stepLengths.get(), stepLogits.as<float>(),
         arena.get());
  });
  // step advanced every row's length on the device.
  for (int32_t &length : lengths)
    ++length;
  logitsFromPrefill = false;
}

void Decoder::downloadLogits() {
  const size_t rowBytes = sizeof(float) * size_t(shape.V);
  if (logitsFromPrefill)
    copyToHost(lastLogits.data(),
               prefillLogits.get() + (shape.Tc - 1) * rowBytes, rowBytes);
  else
    copyToHost(lastLogits.data(), stepLogits.get(), size_t(rows) * rowBytes);
}

const float *Decoder::logits(int64_t row) const {
  return lastLogits.data() + (logitsFromPrefill ? 0 : row * shape.V);
}

std::vector<float> Decoder::keys() const {
  std::vector<float> keys(stepKeys.size() / sizeof(float));
  copyToHost(keys.data(), stepKeys.get(), stepKeys.size());
  return keys;
}

std::vector<float> Decoder::values() const {
  std::vector<float> values(stepValues.size() / sizeof(float));
  copyToHost(values.data(), stepValues.get(), stepValues.size());
  return values;
}

int64_t Decoder::bytesInUse() const {
  int64_t tokens = 0;
  for (int64_t r = 0; r < rows; ++r)
    tokens += lengths[r];
  return tokens * shape.L * shape.Hkv * shape.D * shape.cacheElementBytes * 2;
}

int64_t Decoder::bytesAllocated() const {
  return (shape.R + 1) * shape.L * shape.Cap * shape.Hkv * shape.D *
         shape.cacheElementBytes * 2;
}
