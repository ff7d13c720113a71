//===- DecodeSession.cpp - a conversation with the decode program ---------===//

#include "backends/host/DecodeSession.h"

#include "backends/host/HostCommon.h"

#include <string>

#include <fmt/core.h>

using namespace gptc;
using namespace gptc::host;

/// Reads a line of `input` into `line`, without its newline; false at the
/// end of the input.
static bool readLine(std::FILE *input, std::string &line) {
  line.clear();
  int c;
  while ((c = std::fgetc(input)) != EOF && c != '\n')
    line += char(c);
  return c != EOF || !line.empty();
}

DecodeSession::DecodeSession(const DecodeOptions &options, Decoder decoder)
    : options(options), decoder(std::move(decoder)),
      sampler(options.sampling, uint64_t(options.seed)), pending(options.rows) {
}

Expected<bool> DecodeSession::turn(const std::vector<int32_t> &tokens) {
  const int64_t rows = options.rows, V = decoder.getShape().V;
  const bool byteLevel = decoder.getShape().isByteLevel();
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
      replies[r].push_back(sampler.sample(decoder.logits(r), V));
    if (rows == 1) {
      fmt::print("{}", formatToken(replies[0].back(), byteLevel));
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
  printReplies(replies, byteLevel, options.showIds);
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
      fmt::print("> ");
      std::fflush(stdout);
    }
    if (!readLine(input, line) || line.empty()) {
      if (!options.quiet)
        fmt::print("\n");
      return Status::success();
    }
    Expected<std::vector<int32_t>> tokens =
        byteTokens(line, fmt::format("line {}", number), decoder.getShape().V);
    if (!tokens.ok()) {
      fmt::print(stderr, "error: {}; try again\n", tokens.status().message());
      continue;
    }
    Expected<bool> more = turn(*tokens);
    if (!more.ok())
      return more.status();
    if (!*more)
      return Status::success();
  }
}

Status DecodeSession::run(std::FILE *input) {
  bool open = true; // the conversation has room to go on
  if (!options.prompt.empty()) {
    if (!options.quiet)
      fmt::print("{}{}",
                 formatTokens(options.prompt, decoder.getShape().isByteLevel()),
                 options.rows == 1 ? "" : "\n");
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
