//===- Data.h - training data: files, synthetic tasks, batches --*- C++ -*-===//
//
// The training program reads its token stream from one of three sources:
//   - a text file, tokenized byte-level (each byte is one token);
//   - a pre-tokenized GPTCTOK1 file (backends/common/TokenFile.h);
//   - "task:add" / "task:copy", synthetic problems generated from the seed.
// The stream is split into a training and a held-out part. Training batches
// are random windows of T+1 consecutive tokens of the training split;
// evaluation uses fixed, evenly spaced windows of the held-out split.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DATA_H
#define GPTC_BACKENDS_HOST_DATA_H

#include "backends/common/Status.h"
#include "backends/common/TokenFile.h"
#include "backends/common/Tokenizer.h"
#include "backends/host/Random.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gptc::host {

enum class DataKind { Text, TokenFile, Task };

/// A token stream split into training and held-out parts.
struct Dataset {
  std::string source; // the --data value
  DataKind kind = DataKind::Text;
  std::vector<int32_t> train; // [N_train]
  std::vector<int32_t> val;   // [N_val]
  /// Task data only: the offset in `val` where each held-out problem starts,
  /// ascending; a problem ends with the newline before the next one.
  std::vector<int64_t> valProblemStarts;
  /// Task data only: the character after which a problem's answer starts.
  char answerMarker = 0;

  /// Whether every token is one byte, so that bits per byte = loss / ln 2.
  bool isByteLevel() const { return kind != DataKind::TokenFile; }
};

struct DataOptions {
  int64_t vocab = 0;        // V: every token must be below it
  int64_t window = 0;       // T+1: tokens in one training window
  double valFraction = 0.1; // share of the stream held out, in (0, 1)
  uint64_t seed = 0;        // generates task data
};

/// Loads (or for "task:*" generates) the data named by `spec` and splits it:
/// the last `valFraction` of a file's tokens are held out; a task's held-out
/// problems come from a separately seeded stream. Errors name the file and
/// the offending byte offset or token index.
Expected<Dataset> loadDataset(const std::string &spec,
                              const DataOptions &options);

/// Fills tokens and targets [B, T] with B windows of T+1 consecutive tokens
/// of `split` at offsets drawn from `rng`: tokens = window[:-1],
/// targets = window[1:].
void sampleBatch(const std::vector<int32_t> &split, int64_t B, int64_t T,
                 Rng &rng, int32_t *tokens, int32_t *targets);

/// Advances `rng` past the batch sampleBatch would draw: how a rank of a
/// data-parallel run passes over the other ranks' micro-batches.
void skipBatch(const std::vector<int32_t> &split, int64_t B, int64_t T,
               Rng &rng);

/// Fills tokens and targets [B, T] with the windows of `split` that start at
/// starts[0..B).
void fillWindows(const std::vector<int32_t> &split, const int64_t *starts,
                 int64_t B, int64_t T, int32_t *tokens, int32_t *targets);

/// The offsets in `data.val` of `count` evaluation windows of T+1 tokens,
/// evenly spaced and the same every time; for task data each window starts
/// at a problem.
std::vector<int64_t> evalWindowStarts(const Dataset &data, int64_t count,
                                      int64_t T);

/// Held-out task problems scored so far.
struct TaskScore {
  int64_t problems = 0;
  int64_t correct = 0;
  /// Problems starting before this offset in `val` are scored already.
  int64_t scoredUpTo = 0;
};

/// Scores the problems of task data lying wholly in the window of `data.val`
/// at `start` (T+1 tokens) that were not scored before: a problem is correct
/// when the argmax of `logits` [T, V] (the forward pass on the window's
/// first T tokens, teacher-forced) predicts every answer character, from the
/// one after the answer marker up to and including the newline.
void scoreTaskWindow(const Dataset &data, int64_t start, int64_t T, int64_t V,
                     const float *logits, TaskScore &score);

/// The sums of nanochat's bits per byte: cross-entropy in nats and UTF-8
/// bytes of the target tokens counted.
struct ByteCount {
  double nats = 0;
  int64_t bytes = 0;
  /// nats / (ln 2 * bytes).
  double bitsPerByte() const;
};

/// Adds to `count` every target of one window (targets [T], their logits
/// [T, V]) that is not ignored (-1) and whose token has bytes (special
/// tokens have none, as nanochat's token_bytes): its cross-entropy
/// logsumexp(logits) - logits[target], and the token's byte length.
void countBitsPerByte(const float *logits, const int32_t *targets, int64_t T,
                      int64_t V, const Tokenizer &tokenizer, ByteCount &count);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DATA_H
