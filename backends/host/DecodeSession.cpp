//===- DecodeSession.cpp - a conversation with the decode program ---------===//

#include "backends/host/DecodeSession.h"

#include "backends/host/HostCommon.h"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/core.h>

using namespace gptc;
using namespace gptc::host;

/// The longest line of input a conversation reads: far more than a KV cache
/// holds tokens, and a bound on the memory endless input can take.
constexpr size_t kMaxLineBytes = size_t(1) << 20;

/// Reads line `number` of `input` into `line`, without its newline; false at
/// the end of the input. A line longer than kMaxLineBytes is an error.
static Expected<bool> readLine(std::FILE *input, int64_t number,
                               std::string &line) {
  line.clear();
  int c;
  while ((c = std::fgetc(input)) != EOF && c != '\n') {
    if (line.size() == kMaxLineBytes)
      return Status::error("line {} of the input is longer than {} bytes; "
                           "a line is one prompt",
                           number, kMaxLineBytes);
    line += char(c);
  }
  return c != EOF || !line.empty();
}

DecodeSession::DecodeSession(const DecodeOptions &options, Decoder decoder)
    : options(options), decoder(std::move(decoder)),
      sampler(options.sampling, uint64_t(options.seed)), pending(options.rows) {
  if (options.tokenizer)
    if (Expected<ChatTokens> tokens = chatTokens(*options.tokenizer);
        tokens.ok())
      special = *tokens;
}

bool DecodeSession::endsReply(int32_t token) const {
  return special && (token == special->assistantEnd || token == special->bos);
}

std::string DecodeSession::streamText(int32_t token) {
  const bool byteLevel = decoder.getShape().isByteLevel();
  if (!options.tokenizer)
    return formatToken(token, byteLevel);
  if (endsReply(token))
    return stream.flush();
  return stream.push(formatTokens({token}, byteLevel, options.tokenizer.get()));
}

Expected<bool> DecodeSession::turn(const std::vector<int32_t> &tokens) {
  const int64_t rows = options.rows;
  const bool byteLevel = decoder.getShape().isByteLevel();
  // Sample among the tokenizer's ids: rows of a padded vocabulary beyond
  // them are never tokens.
  const int64_t V = options.tokenizer ? int64_t(options.tokenizer->vocabSize())
                                      : decoder.getShape().V;
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
  std::vector<bool> ended(rows, false);            // reached endsReply()
  int64_t endedRows = 0;
  Status full;
  Stopwatch decodeClock;
  for (int64_t i = 0; i < options.maxTokens && endedRows < rows; ++i) {
    if (i > 0) {
      full = decoder.checkRoom(1);
      if (!full.ok())
        break;
      if (Status status = decoder.feed(last); !status.ok())
        return status;
    }
    for (int64_t r = 0; r < rows; ++r) {
      // A row that has ended runs on (rows step together) unseen.
      const float *logits = decoder.logits(r); // [V]
      if (!std::all_of(logits, logits + V,
                       [](float v) { return std::isfinite(v); }))
        return Status::error("the logits of row {} are not finite after {} "
                             "generated tokens: the model overflows",
                             r, i);
      int32_t token = sampler.sample(logits, V);
      if (!ended[r]) {
        replies[r].push_back(token);
        if (endsReply(token)) {
          ended[r] = true;
          ++endedRows;
        }
      }
      last[r] = {token};
    }
    if (rows == 1) {
      fmt::print("{}", streamText(replies[0].back()));
      std::fflush(stdout);
    }
    if (i == 0) {
      stats.firstTokenSeconds += turnClock.seconds();
      decodeClock.restart();
    }
  }
  if (rows == 1 && options.tokenizer)
    fmt::print("{}", stream.flush());
  const int64_t generated = int64_t(replies[0].size());
  stats.decodedTokens += (generated - 1) * rows;
  stats.decodeSeconds += decodeClock.seconds();
  ++stats.turns;
  for (int64_t r = 0; r < rows; ++r) {
    pending[r] = last[r];
    // A reply cut short by --max-tokens still ends the assistant's turn,
    // as nanochat's chat_cli ends it.
    if (options.chat && last[r].back() != special->assistantEnd)
      pending[r].push_back(special->assistantEnd);
  }
  printReplies(replies, byteLevel, options.showIds, options.tokenizer.get());
  if (!full.ok())
    fmt::print(stderr,
               "note: {}; stopped after {} of {} tokens (--max-tokens); "
               "recompile with a larger --kv-capacity for longer "
               "generations\n",
               full.message(), generated, options.maxTokens);
  return full.ok();
}

Status DecodeSession::converse(std::FILE *input) {
  std::string line;
  for (int64_t number = 1;; ++number) {
    if (!options.quiet) {
      fmt::print(options.chat ? "User: " : "> ");
      std::fflush(stdout);
    }
    Expected<bool> read = readLine(input, number, line);
    if (!read.ok())
      return read.status();
    if (!*read || line.empty() ||
        (options.chat && (line == "quit" || line == "exit"))) {
      if (!options.quiet)
        fmt::print("\n");
      return Status::success();
    }
    if (options.chat && line == "clear") {
      decoder.reset();
      for (std::vector<int32_t> &p : pending)
        p.clear();
      started = false;
      if (!options.quiet)
        fmt::print("(a new conversation)\n");
      continue;
    }
    Expected<std::vector<int32_t>> tokens =
        textTokens(options, line, fmt::format("line {}", number),
                   decoder.getShape().V, /*first=*/!started);
    if (!tokens.ok()) {
      fmt::print(stderr, "error: {}; try again\n", tokens.status().message());
      continue;
    }
    if (options.chat) {
      // The turn, and the pending tokens before it, must fit in the cache.
      if (Status room =
              decoder.checkRoom(int64_t(pending[0].size() + tokens->size()));
          !room.ok()) {
        fmt::print(stderr,
                   "error: the conversation is full ({}); type 'clear' to "
                   "start a new one, or recompile with a larger "
                   "--kv-capacity\n",
                   room.message());
        continue;
      }
      if (!options.quiet)
        fmt::print("Assistant: ");
    }
    started = true;
    Expected<bool> more = turn(*tokens);
    if (!more.ok())
      return more.status();
    if (!*more && !options.chat)
      return Status::success();
    if (!*more)
      fmt::print(stderr, "note: the conversation fills the KV cache; type "
                         "'clear' to start a new one\n");
  }
}

Status DecodeSession::run(std::FILE *input) {
  bool open = true; // the conversation has room to go on
  if (!options.prompt.empty()) {
    if (!options.quiet) {
      // The prompt as text; with a tokenizer without its special tokens.
      std::vector<int32_t> shown;
      for (int32_t token : options.prompt)
        if (!options.tokenizer ||
            !options.tokenizer->isSpecial(uint32_t(token)))
          shown.push_back(token);
      std::string text = formatTokens(shown, decoder.getShape().isByteLevel(),
                                      options.tokenizer.get());
      if (options.chat)
        fmt::print("User: {}\nAssistant: ", text);
      else
        fmt::print("{}{}", text, options.rows == 1 ? "" : "\n");
    }
    started = true;
    Expected<bool> more = turn(options.prompt);
    if (!more.ok())
      return more.status();
    open = *more;
  }
  if (options.interactive && open)
    if (Status status = converse(input); !status.ok())
      return status;
  if (stats.turns > 0)
    printStats(options.quiet ? stderr : stdout, stats, decoder);
  return Status::success();
}
