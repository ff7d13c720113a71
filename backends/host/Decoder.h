//===- Decoder.h - prefill, fork and step over a KV cache -------*- C++ -*-===//
//
// The generated decode code supplies two functions over a KV cache:
// `prefill` runs Tc tokens of one row, `step` one token of each of R rows.
// A Decoder runs them as nanochat's Engine does: a prompt is prefilled once
// into a one-row cache, forked into the R rows of the step cache, and each
// row then goes on token by token with `step`. The decode program, `gptc
// verify`'s decode check and the tests all decode through this class. See
// docs/DECODING.md.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DECODER_H
#define GPTC_BACKENDS_HOST_DECODER_H

#include "backends/common/Status.h"
#include "backends/host/Device.h"

#include <cstdint>
#include <vector>

namespace gptc::host {

/// What the generated prefill and step programs were compiled for.
struct DecodeShape {
  int64_t V = 0;                 // vocabulary
  int64_t L = 0;                 // layers
  int64_t Hkv = 0;               // key/value heads
  int64_t D = 0;                 // head dimension
  int64_t Cap = 0;               // KV-cache capacity: tokens per row
  int64_t Tc = 0;                // tokens per prefill call
  int64_t R = 0;                 // rows per step call
  int64_t cacheElementBytes = 4; // 4: float, 2: bfloat16 ("uint16_t")

  /// Whether every token is a byte, so that tokens print as text.
  bool isByteLevel() const { return V <= 256; }
};

/// The shape of the generated programs, checking that their buffers are
/// those of the decode contract and agree with each other.
Expected<DecodeShape> readDecodeShape();

/// How Decoder::feed runs the tokens it is given.
enum class FeedPath {
  /// While every row holds the same sequence and gets the same tokens, the
  /// whole chunks of Tc go through `prefill` on the one-row cache, which is
  /// then forked into every row; the rest goes through `step`.
  Prefill,
  /// Every token through `step`, one at a time: the reference the prefill
  /// path is checked against.
  StepOnly,
};

/// The two generated programs and the KV caches they fill, in device
/// memory. Rows [0, rows) of the step cache are in use; compiled rows beyond
/// them idle (they run, shapes being static, from length 0 every call). The
/// host keeps the lengths (advancing them as the programs do) and a copy of
/// the logits that feed() ends with; `step` runs as a StepGraph.
class Decoder {
public:
  /// `params` holds the loaded weights; 1 <= rows <= shape.R.
  Decoder(const DecodeShape &shape, int64_t rows, DeviceBuffer params);

  /// Appends tokens[r] (n >= 1 tokens, the same n for every row) to row r's
  /// sequence for every row in use and computes the logits of each row's
  /// last token, along `path`. Fails, feeding nothing, when a row has no
  /// room for n more.
  Status feed(const std::vector<std::vector<int32_t>> &tokens,
              FeedPath path = FeedPath::Prefill);
  /// feed() of the same `tokens` to every row in use.
  Status feedAll(const std::vector<int32_t> &tokens,
                 FeedPath path = FeedPath::Prefill);

  /// Success when every row in use has room for `count` more tokens;
  /// otherwise the error naming the first row that has not.
  Status checkRoom(int64_t count) const;

  /// Empties every row: the next feed() starts new sequences. The cache's
  /// memory is kept (and overwritten as the rows fill again).
  void reset();

  /// The logits [V] of the last token fed to `row`.
  const float *logits(int64_t row) const;
  /// Tokens in `row`'s cache.
  int64_t length(int64_t row) const { return lengths[row]; }
  int64_t numRows() const { return rows; }
  const DecodeShape &getShape() const { return shape; }

  /// Host copies of the step cache's keys and values, each
  /// [L, R, Cap, Hkv, D].
  std::vector<float> keys() const;
  std::vector<float> values() const;

  /// KV-cache bytes holding the tokens of the rows in use.
  int64_t bytesInUse() const;
  /// KV-cache bytes allocated: the step cache and the one-row cache.
  int64_t bytesAllocated() const;

private:
  /// Runs `prefill` on `chunks` chunks of Tc tokens of `tokens` on the
  /// one-row cache, continuing the rows' common sequence, and forks the new
  /// slots into every row.
  void prefillChunks(const std::vector<int32_t> &tokens, int64_t chunks);
  /// Runs `step` on token `index` of every row's tokens.
  void stepToken(const std::vector<std::vector<int32_t>> &tokens,
                 int64_t index);
  /// Copies the logits of the last call, those logits() returns, to the
  /// host.
  void downloadLogits();

  DecodeShape shape;
  int64_t rows;
  /// Whether every row in use holds the same sequence.
  bool shared = true;
  /// Whether the last call was `prefill`, whose last logits row all rows
  /// share.
  bool logitsFromPrefill = false;
  // Device memory.
  DeviceBuffer params;        // paramBytes: the packed parameters
  DeviceBuffer arena;         // the larger of the programs' arenas
  DeviceBuffer prefillKeys;   // [L, 1, Cap, Hkv, D]
  DeviceBuffer prefillValues; // [L, 1, Cap, Hkv, D]
  DeviceBuffer stepKeys;      // [L, R, Cap, Hkv, D]
  DeviceBuffer stepValues;    // [L, R, Cap, Hkv, D]
  DeviceBuffer prefillTokens; // [1, Tc]
  DeviceBuffer prefillLength; // [1]
  DeviceBuffer prefillLogits; // [1, Tc, V]
  DeviceBuffer stepTokens;    // [R, 1]
  DeviceBuffer stepLengths;   // [R]
  DeviceBuffer stepLogits;    // [R, 1, V]
  StepGraph stepGraph;
  // Host memory.
  int32_t prefilled = 0;         // tokens in the one-row cache
  std::vector<int32_t> tokensIn; // [R]: the next step's tokens
  std::vector<int32_t> lengths;  // [R]: tokens in each row's cache
  std::vector<float> lastLogits; // [rows, V] after step, [1, V] after prefill
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DECODER_H
