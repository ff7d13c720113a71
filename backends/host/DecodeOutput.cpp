//===- DecodeOutput.cpp - what the decode program prints ------------------===//

#include "backends/host/DecodeOutput.h"

#include "backends/host/Progress.h"

#include <cmath>

#include <fmt/format.h>

using namespace gptc;
using namespace gptc::host;

std::string gptc::host::formatToken(int32_t token, bool byteLevel) {
  if (!byteLevel)
    return fmt::format("{} ", token);
  char byte = char(token);
  if (byte == '\n' || byte == '\t' || (byte >= 0x20 && byte < 0x7f))
    return std::string(1, byte);
  return fmt::format("\\x{:02x}", token);
}

std::string gptc::host::formatTokens(const std::vector<int32_t> &tokens,
                                     bool byteLevel,
                                     const Tokenizer *tokenizer) {
  std::string text;
  if (tokenizer) {
    for (int32_t token : tokens) {
      uint32_t id = uint32_t(token);
      Expected<std::string> piece = tokenizer->decode(&id, 1);
      text += piece.ok() ? *piece : formatToken(token, false);
    }
    return text;
  }
  for (int32_t token : tokens)
    text += formatToken(token, byteLevel);
  return text;
}

std::string gptc::host::formatSeconds(double seconds) {
  if (seconds < 1e-3)
    return fmt::format("{:.1f} us", seconds * 1e6);
  if (seconds < 1)
    return fmt::format("{:.1f} ms", seconds * 1e3);
  return fmt::format("{:.2f} s", seconds);
}

std::string gptc::host::formatRate(int64_t tokens, double seconds) {
  if (tokens == 0)
    return "-";
  return formatThousands(std::llround(double(tokens) / seconds)) + " tokens/s";
}

void gptc::host::printReplies(const std::vector<std::vector<int32_t>> &replies,
                              bool byteLevel, bool showIds,
                              const Tokenizer *tokenizer) {
  if (replies.size() == 1) {
    fmt::print("\n"); // ends the streamed text
  } else {
    for (size_t r = 0; r < replies.size(); ++r)
      fmt::print("row {}: {}\n", r,
                 formatTokens(replies[r], byteLevel, tokenizer));
  }
  if (showIds && (byteLevel || tokenizer))
    for (size_t r = 0; r < replies.size(); ++r)
      fmt::print("row {} tokens: {}\n", r, fmt::join(replies[r], ","));
  std::fflush(stdout);
}

void gptc::host::printStats(std::FILE *out, const DecodeStats &stats,
                            const Decoder &decoder) {
  const int64_t rows = decoder.numRows();
  const char *plural = rows == 1 ? "" : "s";
  std::string meanOf =
      stats.turns > 1 ? fmt::format(" (mean of {} turns)", stats.turns) : "";
  fmt::print(out,
             "prefill {} tokens at {} | decode {} tokens at {} over {} row{} | "
             "first token after {}{}\n",
             stats.fedTokens, formatRate(stats.fedTokens, stats.feedSeconds),
             stats.decodedTokens,
             formatRate(stats.decodedTokens, stats.decodeSeconds), rows, plural,
             formatSeconds(stats.firstTokenSeconds / double(stats.turns)),
             meanOf);
  fmt::print(out,
             "KV cache: {} bytes in use ({} row{} of {} tokens), {} "
             "allocated\n",
             formatThousands(decoder.bytesInUse()), rows, plural,
             decoder.length(0), formatThousands(decoder.bytesAllocated()));
  std::fflush(out);
}
