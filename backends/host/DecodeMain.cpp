//===- DecodeMain.cpp - the decode program's command line and loop --------===//
//
// Every input is checked before the first call: the flags, the prompt (its
// tokens and its length against the KV-cache capacity) and the weights. A
// turn feeds its tokens (the prompt, or a line of stdin with --interactive)
// to every row, then samples one token per row and feeds it back until
// --max-tokens tokens are out. The generated functions never check the
// capacity, so the host does before every call: a prompt or line that does
// not fit is an error, and a reply that reaches the capacity stops there
// with a note.
//
//===----------------------------------------------------------------------===//

#include "backends/host/DecodeMain.h"

#include "backends/common/Safetensors.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/Progress.h"
#include "backends/host/Sampler.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include <omp.h>

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

/// The settings of a run, read from the flags.
struct Options {
  std::string weights;
  std::vector<int32_t> prompt; // [P]; empty with --interactive alone
  bool showIds = false;        // --prompt-tokens: print token ids too
  int64_t maxTokens = 0, rows = 0, seed = 0;
  int64_t threads = 0; // 0: OpenMP's default
  SamplingOptions sampling;
  bool interactive = false, quiet = false;
};

std::vector<Flag> makeFlags(const DecodeShape &shape) {
  return {
      {"weights", "safetensors file with every parameter, e.g. a training "
                  "run's model.safetensors"},
      {"prompt", "the prompt as text, one token per byte"},
      {"prompt-tokens", "the prompt as token ids, e.g. 1,2,3"},
      {"max-tokens", "tokens to generate per row and reply", true, "128"},
      {"temperature", "softmax temperature; 0 takes the most likely token",
       true, "0.8"},
      {"top-k", "sample among the k most likely tokens; 0: among all", true,
       "50"},
      {"seed", "seed of the sampling", true, "42"},
      {"rows",
       fmt::format("continuations of the prompt generated side by side, at "
                   "most the compiled R = {}",
                   shape.R),
       true, "1"},
      {"interactive",
       "after the prompt, if any, read lines from stdin: each continues "
       "the conversation and gets a reply; an empty line or EOF ends",
       false},
      {"threads", "OpenMP threads (default: OpenMP's choice)"},
      {"quiet", "print only the generated text (statistics go to stderr)",
       false},
  };
}

Expected<Options> readOptions(const Args &args, const DecodeShape &shape) {
  if (Status status = args.require({"weights"}); !status.ok())
    return status;
  Options options;
  options.weights = args.get("weights");
  options.interactive = args.has("interactive");
  options.quiet = args.has("quiet");

  if (args.has("prompt") && args.has("prompt-tokens"))
    return Status::error("--prompt and --prompt-tokens exclude each other");
  if (args.has("prompt")) {
    std::string text = args.get("prompt");
    if (text.empty())
      return Status::error("--prompt is empty: the prompt needs at least one "
                           "token");
    Expected<std::vector<int32_t>> tokens =
        byteTokens(text, "--prompt", shape.V);
    if (!tokens.ok())
      return tokens.status();
    options.prompt = std::move(*tokens);
  } else if (args.has("prompt-tokens")) {
    Expected<std::vector<int32_t>> tokens =
        parseTokenList(args.get("prompt-tokens"), shape.V);
    if (!tokens.ok())
      return tokens.status();
    options.prompt = std::move(*tokens);
    options.showIds = true;
  } else if (!options.interactive) {
    return Status::error("missing --prompt or --prompt-tokens (or "
                         "--interactive); see --help");
  }
  if (int64_t(options.prompt.size()) > shape.Cap)
    return Status::error("the prompt has {} tokens but the KV cache holds {} "
                         "per row; recompile with --kv-capacity",
                         options.prompt.size(), shape.Cap);

  if (Status s = args.readInts({{"max-tokens", &options.maxTokens, 1},
                                {"top-k", &options.sampling.topK, 0},
                                {"seed", &options.seed, 0},
                                {"rows", &options.rows, 1},
                                {"threads", &options.threads, 1}});
      !s.ok())
    return s;
  if (options.rows > shape.R)
    return Status::error("--rows {} is more than the R = {} rows the program "
                         "was compiled for; recompile with gptc compile "
                         "--rows {}",
                         options.rows, shape.R, options.rows);
  Expected<double> temperature = args.getReal("temperature");
  if (!temperature.ok())
    return temperature.status();
  if (*temperature < 0)
    return Status::error("option '--temperature' must be >= 0, got {}",
                         *temperature);
  options.sampling.temperature = *temperature;
  return options;
}

/// "45.6 us" below a millisecond, "12.3 ms" below a second, "4.56 s" from
/// one on.
std::string formatSeconds(double seconds) {
  if (seconds < 1e-3)
    return fmt::format("{:.1f} us", seconds * 1e6);
  if (seconds < 1)
    return fmt::format("{:.1f} ms", seconds * 1e3);
  return fmt::format("{:.2f} s", seconds);
}

/// "12,345 tokens/s", or "-" without tokens.
std::string formatRate(int64_t tokens, double seconds) {
  if (tokens == 0)
    return "-";
  return formatThousands(std::llround(double(tokens) / seconds)) + " tokens/s";
}

/// `tokens` as printed, one after the other.
std::string formatTokens(const std::vector<int32_t> &tokens, bool byteLevel) {
  std::string text;
  for (int32_t token : tokens)
    text += formatToken(token, byteLevel);
  return text;
}

/// Reads a line of `input` into `line`, without its newline; false at the
/// end of the input.
bool readLine(std::FILE *input, std::string &line) {
  line.clear();
  int c;
  while ((c = std::fgetc(input)) != EOF && c != '\n')
    line += char(c);
  return c != EOF || !line.empty();
}

/// What a session measured, over all its turns.
struct DecodeStats {
  int64_t turns = 0;
  int64_t fedTokens = 0; // fed to each row as prompts or lines
  double feedSeconds = 0;
  /// Sampled over all rows after each turn's first token, and the time
  /// from that first token to the last.
  int64_t decodedTokens = 0;
  double decodeSeconds = 0;
  /// From the start of a turn to its first sampled token, summed.
  double firstTokenSeconds = 0;
};

/// A conversation: the prompt, then with --interactive the lines of the
/// input, each followed by a generated reply in every row.
class Session {
public:
  Session(const DecodeShape &shape, const Options &options, Decoder decoder)
      : shape(shape), options(options), decoder(std::move(decoder)),
        sampler(options.sampling, uint64_t(options.seed)),
        pending(options.rows) {}

  /// Runs the prompt and, with --interactive, the lines of `input`, then
  /// prints the statistics.
  Status run(std::FILE *input);

private:
  /// Appends `tokens` to every row's conversation and generates a reply;
  /// false when the reply filled the KV cache, ending the conversation.
  Expected<bool> turn(const std::vector<int32_t> &tokens);
  /// Prints the replies of a turn (streamed already with one row).
  void printReplies(const std::vector<std::vector<int32_t>> &replies) const;
  void printStats() const;

  const DecodeShape &shape;
  const Options &options;
  Decoder decoder;
  Sampler sampler;
  /// Each row's last sampled token, not yet in the cache: [rows][0 or 1].
  std::vector<std::vector<int32_t>> pending;
  DecodeStats stats;
};

Expected<bool> Session::turn(const std::vector<int32_t> &tokens) {
  const int64_t rows = options.rows;
  Stopwatch turnClock;
  std::vector<std::vector<int32_t>> fed(rows); // [rows][n]
  for (int64_t r = 0; r < rows; ++r) {
    fed[r] = pending[r];
    fed[r].insert(fed[r].end(), tokens.begin(), tokens.end());
  }
  if (Status status = decoder.feed(fed); !status.ok())
    return Status::error("{}; recompile with a larger --kv-capacity for "
                         "longer conversations",
                         status.message());
  stats.fedTokens += int64_t(fed[0].size());
  stats.feedSeconds += turnClock.seconds();

  std::vector<std::vector<int32_t>> replies(rows); // [rows][generated]
  std::vector<std::vector<int32_t>> last(rows);    // [rows][1]
  Status full;
  Stopwatch decodeClock;
  for (int64_t i = 0; i < options.maxTokens; ++i) {
    if (i > 0) {
      full = decoder.checkRoom(1);
      if (!full.ok())
        break;
      for (int64_t r = 0; r < rows; ++r)
        last[r] = {replies[r].back()};
      if (Status status = decoder.feed(last); !status.ok())
        return status;
    }
    for (int64_t r = 0; r < rows; ++r)
      replies[r].push_back(sampler.sample(decoder.logits(r), shape.V));
    if (rows == 1) {
      std::fputs(formatToken(replies[0].back(), shape.isByteLevel()).c_str(),
                 stdout);
      std::fflush(stdout);
    }
    if (i == 0) {
      stats.firstTokenSeconds += turnClock.seconds();
      decodeClock.restart();
    }
  }
  const int64_t generated = int64_t(replies[0].size());
  stats.decodedTokens += (generated - 1) * rows;
  stats.decodeSeconds += decodeClock.seconds();
  ++stats.turns;
  for (int64_t r = 0; r < rows; ++r)
    pending[r] = {replies[r].back()};
  printReplies(replies);
  if (!full.ok())
    std::fprintf(stderr,
                 "note: %s; stopped after %lld of %lld tokens (--max-tokens); "
                 "recompile with a larger --kv-capacity for longer "
                 "generations\n",
                 full.message().c_str(), (long long)generated,
                 (long long)options.maxTokens);
  return full.ok();
}

void Session::printReplies(
    const std::vector<std::vector<int32_t>> &replies) const {
  const bool byteLevel = shape.isByteLevel();
  if (options.rows == 1) {
    std::printf("\n"); // ends the streamed text
  } else {
    for (size_t r = 0; r < replies.size(); ++r)
      std::printf("row %zu: %s\n", r,
                  formatTokens(replies[r], byteLevel).c_str());
  }
  // With a byte-level vocabulary the text does not show the ids.
  if (options.showIds && byteLevel) {
    for (size_t r = 0; r < replies.size(); ++r) {
      std::string ids;
      for (int32_t token : replies[r])
        ids += (ids.empty() ? "" : ",") + std::to_string(token);
      std::printf("row %zu tokens: %s\n", r, ids.c_str());
    }
  }
  std::fflush(stdout);
}

void Session::printStats() const {
  std::FILE *out = options.quiet ? stderr : stdout;
  std::string meanOf =
      stats.turns > 1 ? fmt::format(" (mean of {} turns)", stats.turns) : "";
  std::fprintf(
      out,
      "prefill %lld tokens at %s | decode %lld tokens at %s over %lld "
      "row%s | first token after %s%s\n",
      (long long)stats.fedTokens,
      formatRate(stats.fedTokens, stats.feedSeconds).c_str(),
      (long long)stats.decodedTokens,
      formatRate(stats.decodedTokens, stats.decodeSeconds).c_str(),
      (long long)options.rows, options.rows == 1 ? "" : "s",
      formatSeconds(stats.firstTokenSeconds / double(stats.turns)).c_str(),
      meanOf.c_str());
  std::fprintf(out,
               "KV cache: %s bytes in use (%lld row%s of %lld tokens), %s "
               "allocated\n",
               formatThousands(decoder.bytesInUse()).c_str(),
               (long long)options.rows, options.rows == 1 ? "" : "s",
               (long long)decoder.length(0),
               formatThousands(decoder.bytesAllocated()).c_str());
  std::fflush(out);
}

Status Session::run(std::FILE *input) {
  bool open = true; // the conversation has room to go on
  if (!options.prompt.empty()) {
    if (!options.quiet)
      std::printf(options.rows == 1 ? "%s" : "%s\n",
                  formatTokens(options.prompt, shape.isByteLevel()).c_str());
    Expected<bool> more = turn(options.prompt);
    if (!more.ok())
      return more.status();
    open = *more;
  }
  std::string line;
  for (int64_t number = 1; options.interactive && open; ++number) {
    if (!options.quiet) {
      std::printf("> ");
      std::fflush(stdout);
    }
    if (!readLine(input, line) || line.empty()) {
      if (!options.quiet)
        std::printf("\n");
      break;
    }
    Expected<std::vector<int32_t>> tokens =
        byteTokens(line, fmt::format("line {}", number), shape.V);
    if (!tokens.ok()) {
      std::fprintf(stderr, "error: %s; try again\n",
                   tokens.status().message().c_str());
      continue;
    }
    Expected<bool> more = turn(*tokens);
    if (!more.ok())
      return more.status();
    open = *more;
  }
  if (stats.turns > 0)
    printStats();
  return Status::success();
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

Expected<std::vector<int32_t>>
gptc::host::parseTokenList(const std::string &text, int64_t V) {
  if (text.empty())
    return Status::error("--prompt-tokens is empty: the prompt needs at least "
                         "one token");
  std::vector<int32_t> tokens;
  size_t begin = 0;
  for (int64_t position = 1;; ++position) {
    size_t end = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, end - begin);
    bool digits = !item.empty() &&
                  std::all_of(item.begin(), item.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (!digits)
      return Status::error("--prompt-tokens: item {} ('{}') is not a token id; "
                           "expected comma-separated ids such as 1,2,3",
                           position, item);
    // Digits beyond those of V cannot name a token (and would overflow).
    int64_t id = item.size() <= std::to_string(V).size()
                     ? std::strtoll(item.c_str(), nullptr, 10)
                     : V;
    if (id >= V)
      return Status::error("--prompt-tokens: item {} ({}) is outside the "
                           "model's vocabulary of {} tokens",
                           position, item, V);
    tokens.push_back(int32_t(id));
    if (end == text.size())
      return tokens;
    begin = end + 1;
  }
}

std::string gptc::host::formatToken(int32_t token, bool byteLevel) {
  if (!byteLevel)
    return std::to_string(token) + " ";
  char byte = char(token);
  if (byte == '\n' || byte == '\t' || (byte >= 0x20 && byte < 0x7f))
    return std::string(1, byte);
  return fmt::format("\\x{:02x}", token);
}

Decoder::Decoder(const DecodeShape &shape, int64_t rows, DeviceBuffer params)
    : shape(shape), rows(rows), params(std::move(params)) {
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

Status Decoder::feed(const std::vector<std::vector<int32_t>> &tokens) {
  assert(int64_t(tokens.size()) == rows && !tokens[0].empty());
  const int64_t n = int64_t(tokens[0].size());
  if (Status room = checkRoom(n); !room.ok())
    return room;
  bool same = std::all_of(
      tokens.begin(), tokens.end(),
      [&](const std::vector<int32_t> &row) { return row == tokens[0]; });
  int64_t chunks = shared && same ? n / shape.Tc : 0;
  if (chunks > 0)
    prefillChunks(tokens[0], chunks);
  for (int64_t i = chunks * shape.Tc; i < n; ++i)
    stepToken(tokens, i);
  shared = shared && same;
  downloadLogits();
  return Status::success();
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

Status gptc::host::runDecode(int argc, char **argv, std::FILE *input) {
  Expected<DecodeShape> shape = readDecodeShape();
  if (!shape.ok())
    return shape.status();
  const std::string usage = fmt::format(
      "usage: {} --weights W.safetensors --prompt TEXT|--prompt-tokens "
      "1,2,3 [options]\n\nGenerates text with the model\n  {}\ncompiled for "
      "prefill chunks of Tc = {} tokens, steps of R = {} rows and a KV cache "
      "of\nCap = {} tokens per row.",
      argv[0], prefill_program.config, shape->Tc, shape->R, shape->Cap);
  Expected<Args> args = Args::parse(argc, argv, usage, makeFlags(*shape));
  if (!args.ok())
    return args.status();
  // After the arguments: --help needs no device.
  if (Status status = initDevice(); !status.ok())
    return status;
  Expected<Options> options = readOptions(*args, *shape);
  if (!options.ok())
    return options.status();
  if (options->threads > 0)
    omp_set_num_threads(int(options->threads));

  Expected<DeviceBuffer> params =
      loadParametersToDevice(prefill_program, options->weights);
  if (!params.ok())
    return params.status();
  Session session(*shape, *options,
                  Decoder(*shape, options->rows, std::move(*params)));
  return session.run(input);
}

int gptc::host::decodeMain(int argc, char **argv) {
  Status status = runDecode(argc, argv, stdin);
  return status.ok() ? 0 : fail(argv[0], status);
}
