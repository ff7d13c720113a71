//===- DecodeOutput.h - what the decode program prints ----------*- C++ -*-===//
//
// Tokens as text, the replies of a turn and the statistics of a session, as
// the decode program prints them (docs/DECODING.md, "Output").
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DECODEOUTPUT_H
#define GPTC_BACKENDS_HOST_DECODEOUTPUT_H

#include "backends/common/Tokenizer.h"
#include "backends/host/Decoder.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace gptc::host {

/// `token` as the decode program prints it: with a byte-level vocabulary
/// printable ASCII, newline and tab as themselves and any other byte escaped
/// as "\x07"; otherwise the id and a space.
std::string formatToken(int32_t token, bool byteLevel);

/// `tokens` as printed, one after the other; with a `tokenizer`, the text
/// they decode to (special tokens as their names).
std::string formatTokens(const std::vector<int32_t> &tokens, bool byteLevel,
                         const Tokenizer *tokenizer = nullptr);

/// "45.6 us" below a millisecond, "12.3 ms" below a second, "4.56 s" from
/// one on.
std::string formatSeconds(double seconds);

/// "12,345 tokens/s", or "-" without tokens.
std::string formatRate(int64_t tokens, double seconds);

/// Prints the replies [rows][generated] of a turn to stdout: with one row
/// the newline that ends the text streamed already, with several "row r:
/// <text>" lines; with `showIds` and a byte-level vocabulary or a
/// `tokenizer` (whose text does not show the ids) also "row r tokens:
/// 1,2,3". With a `tokenizer` the rows print as decoded text.
void printReplies(const std::vector<std::vector<int32_t>> &replies,
                  bool byteLevel, bool showIds,
                  const Tokenizer *tokenizer = nullptr);

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

/// Prints the speeds of `stats` and the KV cache of `decoder` to `out`, two
/// lines: "prefill ... | decode ... | first token after ..." and "KV cache:
/// ...".
void printStats(std::FILE *out, const DecodeStats &stats,
                const Decoder &decoder);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DECODEOUTPUT_H
