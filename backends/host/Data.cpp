//===- Data.cpp - training data: files, synthetic tasks, batches ----------===//

#include "backends/host/Data.h"

#include "backends/host/HostCommon.h"

#include "backends/common/FileUtil.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/core.h>

using namespace gptc;
using namespace gptc::host;

namespace {

/// Bytes of generated training problems (a held-out stream is generated
/// beside them); about 90,000 "add" problems, so a model that learns the task
/// has to generalise rather than memorise.
constexpr int64_t kTaskTrainBytes = 1 << 20;
/// The longest problem of each task: "999+999=1998\n", "abcdefgh>abcdefgh\n".
constexpr int64_t kMaxAddProblem = 13;
constexpr int64_t kMaxCopyProblem = 18;

/// The tokens of a GPTCTOK1 file, whose contents are `bytes`.
Expected<std::vector<int32_t>>
fileTokens(const std::string &bytes, const std::string &path, int64_t vocab) {
  constexpr size_t headerBytes = kTokenFileHeaderBytes;
  if (bytes.size() < headerBytes)
    return Status::error("{}: truncated {} header: {} bytes, expected {}", path,
                         kTokenFileMagic, bytes.size(), headerBytes);
  uint32_t width;
  std::memcpy(&width, bytes.data() + 8, sizeof(width));
  if (width != 2 && width != 4)
    return Status::error("{}: {} bytes-per-token is {}, expected 2 or 4", path,
                         kTokenFileMagic, width);
  size_t dataBytes = bytes.size() - headerBytes;
  if (dataBytes % width != 0)
    return Status::error("{}: {} token data is {} bytes, not a multiple of "
                         "{} bytes per token (truncated file?)",
                         path, kTokenFileMagic, dataBytes, width);
  std::vector<int32_t> tokens(dataBytes / width); // [N]
  const char *data = bytes.data() + headerBytes;
  for (size_t i = 0; i < tokens.size(); ++i) {
    uint32_t token = 0;
    std::memcpy(&token, data + i * width, width);
    if (token >= uint64_t(vocab))
      return Status::error("{}: token {} at index {} is outside the model's "
                           "vocabulary of {}",
                           path, token, i, vocab);
    tokens[i] = int32_t(token);
  }
  return tokens;
}

/// A number of 1 to 3 digits, the digit count uniform.
int64_t randomOperand(Rng &rng) {
  switch (rng.below(3)) {
  case 0:
    return int64_t(rng.below(10)); // 0 .. 9
  case 1:
    return 10 + int64_t(rng.below(90)); // 10 .. 99
  default:
    return 100 + int64_t(rng.below(900)); // 100 .. 999
  }
}

/// Generates problems of `task` ("add": "123+45=168\n", "copy":
/// "abc>abc\n") until there are at least `minBytes` bytes; appends where
/// each problem starts to `starts` unless it is null.
std::string generateTask(const std::string &task, Rng &rng, int64_t minBytes,
                         std::vector<int64_t> *starts) {
  std::string out;
  while (int64_t(out.size()) < minBytes) {
    if (starts)
      starts->push_back(int64_t(out.size()));
    if (task == "add") {
      int64_t a = randomOperand(rng), b = randomOperand(rng);
      out += fmt::format("{}+{}={}", a, b, a + b);
    } else {
      std::string word(3 + rng.below(6), ' ');
      for (char &c : word)
        c = char('a' + rng.below(26));
      out += word + '>' + word;
    }
    out += '\n';
  }
  return out;
}

/// Generates the task data of `spec` ("task:add", "task:copy").
Expected<Dataset> generateTaskData(const std::string &spec,
                                   const DataOptions &options) {
  std::string task = spec.substr(std::strlen("task:"));
  int64_t longest;
  Dataset data;
  data.source = spec;
  data.kind = DataKind::Task;
  if (task == "add") {
    longest = kMaxAddProblem;
    data.answerMarker = '=';
  } else if (task == "copy") {
    longest = kMaxCopyProblem;
    data.answerMarker = '>';
  } else {
    return Status::error("--data {}: unknown task '{}'; the tasks are "
                         "task:add and task:copy",
                         spec, task);
  }
  if (options.window < longest)
    return Status::error("--data {}: problems take up to {} tokens, more "
                         "than one window of T+1 = {} tokens",
                         spec, longest, options.window);

  int64_t trainBytes = std::max(kTaskTrainBytes, 4 * options.window);
  int64_t valBytes = std::max(
      int64_t(trainBytes * options.valFraction / (1 - options.valFraction)),
      4 * options.window);
  Rng trainRng = Rng::forStream(options.seed, "task-train");
  Rng valRng = Rng::forStream(options.seed, "task-val");
  std::string train = generateTask(task, trainRng, trainBytes, nullptr);
  std::string val =
      generateTask(task, valRng, valBytes, &data.valProblemStarts);

  Expected<std::vector<int32_t>> trainTokens =
      byteTokens(train, spec, options.vocab);
  if (!trainTokens.ok())
    return trainTokens.status();
  Expected<std::vector<int32_t>> valTokens =
      byteTokens(val, spec, options.vocab);
  if (!valTokens.ok())
    return valTokens.status();
  data.train = std::move(*trainTokens);
  data.val = std::move(*valTokens);
  return data;
}

} // namespace

Expected<Dataset> gptc::host::loadDataset(const std::string &spec,
                                          const DataOptions &options) {
  if (spec.rfind("task:", 0) == 0)
    return generateTaskData(spec, options);

  Expected<std::string> bytes = readFile(spec);
  if (!bytes.ok())
    return bytes.status();
  if (bytes->empty())
    return Status::error("{}: the data file is empty", spec);
  Dataset data;
  data.source = spec;
  size_t magicBytes = std::strlen(kTokenFileMagic);
  bool isTokenFile = bytes->compare(0, magicBytes, kTokenFileMagic) == 0;
  data.kind = isTokenFile ? DataKind::TokenFile : DataKind::Text;
  Expected<std::vector<int32_t>> tokens =
      isTokenFile ? fileTokens(*bytes, spec, options.vocab)
                  : byteTokens(*bytes, spec, options.vocab);
  if (!tokens.ok())
    return tokens.status();

  int64_t total = int64_t(tokens->size());
  int64_t valCount = int64_t(total * options.valFraction);
  int64_t trainCount = total - valCount;
  if (trainCount < options.window || valCount < options.window)
    return Status::error("{}: {} tokens are too few: the training split has "
                         "{} and the held-out split (--val-fraction {}) {}, "
                         "and each needs one window of T+1 = {} tokens",
                         spec, total, trainCount, options.valFraction, valCount,
                         options.window);
  data.train.assign(tokens->begin(), tokens->begin() + trainCount);
  data.val.assign(tokens->begin() + trainCount, tokens->end());
  return data;
}

void gptc::host::fillWindows(const std::vector<int32_t> &split,
                             const int64_t *starts, int64_t B, int64_t T,
                             int32_t *tokens, int32_t *targets) {
  for (int64_t b = 0; b < B; ++b) {
    const int32_t *window = split.data() + starts[b]; // [T+1]
    std::copy(window, window + T, tokens + b * T);
    std::copy(window + 1, window + T + 1, targets + b * T);
  }
}

/// The B window starts of a training batch, drawn from `rng`.
static std::vector<int64_t> drawStarts(const std::vector<int32_t> &split,
                                       int64_t B, int64_t T, Rng &rng) {
  // Windows may start at 0 .. N-T-1.
  uint64_t numStarts = uint64_t(int64_t(split.size()) - T);
  std::vector<int64_t> starts(B); // [B]
  for (int64_t &start : starts)
    start = int64_t(rng.below(numStarts));
  return starts;
}

void gptc::host::sampleBatch(const std::vector<int32_t> &split, int64_t B,
                             int64_t T, Rng &rng, int32_t *tokens,
                             int32_t *targets) {
  std::vector<int64_t> starts = drawStarts(split, B, T, rng); // [B]
  fillWindows(split, starts.data(), B, T, tokens, targets);
}

void gptc::host::skipBatch(const std::vector<int32_t> &split, int64_t B,
                           int64_t T, Rng &rng) {
  drawStarts(split, B, T, rng);
}

std::vector<int64_t> gptc::host::evalWindowStarts(const Dataset &data,
                                                  int64_t count, int64_t T) {
  // Windows of T+1 tokens may start at 0 .. lastStart.
  int64_t lastStart = int64_t(data.val.size()) - T - 1;
  std::vector<int64_t> starts(count); // [count]
  if (data.kind != DataKind::Task) {
    for (int64_t k = 0; k < count; ++k)
      starts[k] = k * (lastStart + 1) / count;
    return starts;
  }
  std::vector<int64_t> problems; // [problems]: those whose window fits
  for (int64_t start : data.valProblemStarts)
    if (start <= lastStart)
      problems.push_back(start);
  for (int64_t k = 0; k < count; ++k)
    starts[k] = problems[k * int64_t(problems.size()) / count];
  return starts;
}

void gptc::host::scoreTaskWindow(const Dataset &data, int64_t start, int64_t T,
                                 int64_t V, const float *logits,
                                 TaskScore &score) {
  const std::vector<int64_t> &problems = data.valProblemStarts;
  int64_t windowEnd = start + T + 1; // one past the window's last token
  auto it = std::lower_bound(problems.begin(), problems.end(),
                             std::max(start, score.scoredUpTo));
  for (; it != problems.end(); ++it) {
    int64_t begin = *it;
    int64_t end =
        it + 1 != problems.end() ? *(it + 1) : int64_t(data.val.size());
    if (end > windowEnd)
      break;
    int64_t marker = begin;
    while (data.val[marker] != data.answerMarker)
      ++marker;
    // Row i of the logits predicts val[start + i + 1].
    bool correct = true;
    for (int64_t i = marker; i + 1 < end; ++i) {
      const float *row = logits + (i - start) * V; // [V]
      int64_t predicted = std::max_element(row, row + V) - row;
      correct = correct && predicted == data.val[i + 1];
    }
    ++score.problems;
    score.correct += correct;
    score.scoredUpTo = end;
  }
}

double gptc::host::ByteCount::bitsPerByte() const {
  return nats / (std::log(2.0) * double(bytes));
}

void gptc::host::countBitsPerByte(const float *logits, const int32_t *targets,
                                  int64_t T, int64_t V,
                                  const Tokenizer &tokenizer,
                                  ByteCount &count) {
  for (int64_t t = 0; t < T; ++t) {
    if (targets[t] < 0)
      continue;
    size_t bytes = tokenizer.byteLength(uint32_t(targets[t]));
    if (bytes == 0)
      continue;
    const float *row = logits + t * V; // [V]
    double top = row[0];
    for (int64_t v = 1; v < V; ++v)
      top = std::max(top, double(row[v]));
    double sum = 0;
    for (int64_t v = 0; v < V; ++v)
      sum += std::exp(double(row[v]) - top);
    count.nats += top + std::log(sum) - double(row[targets[t]]);
    count.bytes += int64_t(bytes);
  }
}
