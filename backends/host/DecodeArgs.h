//===- DecodeArgs.h - the decode program's flags ----------------*- C++ -*-===//
//
// The flags of the decode program and the settings read from them. Every
// input a flag names is checked here, before the weights are read: the
// prompt (its tokens and its length against the KV-cache capacity), the
// counts, the sampling. A new flag is an entry of decodeFlags() and a line
// of readDecodeOptions() (or of the read* helper of its group).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DECODEARGS_H
#define GPTC_BACKENDS_HOST_DECODEARGS_H

#include "backends/common/Status.h"
#include "backends/common/Tokenizer.h"
#include "backends/host/Decoder.h"
#include "backends/host/HostCommon.h"
#include "backends/host/Sampler.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gptc::host {

/// The settings of a decode run, read from the flags.
struct DecodeOptions {
  std::string weights;
  std::vector<int32_t> prompt; // [P]; empty with --interactive alone
  bool showIds = false;        // --prompt-tokens: print token ids too
  int64_t maxTokens = 0, rows = 0, seed = 0;
  int64_t threads = 0; // 0: OpenMP's default
  SamplingOptions sampling;
  bool interactive = false, quiet = false;
  /// --tokenizer: text is BPE-encoded after <|bos|>, output decoded.
  std::shared_ptr<const Tokenizer> tokenizer;
  /// --chat: each line is a user turn, replies end at <|assistant_end|>.
  bool chat = false;
};

/// nanochat's special tokens the decode program uses, from --tokenizer.
struct ChatTokens {
  int32_t bos, userStart, userEnd, assistantStart, assistantEnd;
};

/// The special tokens of `tokenizer` that chat needs; an error names the
/// missing one.
Expected<ChatTokens> chatTokens(const Tokenizer &tokenizer);

/// The tokens that feed `text` into the conversation: its bytes without a
/// tokenizer; with one, its BPE ids after <|bos|> when `first` (the start of
/// a conversation), and with --chat wrapped as a user turn
/// (<|user_start|> text <|user_end|><|assistant_start|>). Ids must be below
/// V; errors name `source`.
Expected<std::vector<int32_t>> textTokens(const DecodeOptions &options,
                                          const std::string &text,
                                          const std::string &source, int64_t V,
                                          bool first);

/// The usage line and description `--help` prints for the program `argv0`
/// compiled for `shape`.
std::string decodeUsage(const char *argv0, const DecodeShape &shape);

/// Every flag of the decode program, with its help and default.
std::vector<Flag> decodeFlags(const DecodeShape &shape);

/// The settings `args` (parsed against decodeFlags) ask for; an error names
/// the flag and says what to do.
Expected<DecodeOptions> readDecodeOptions(const Args &args,
                                          const DecodeShape &shape);

/// The ids of a --prompt-tokens list such as "1,2,3", each in [0, V); an
/// error names the offending item.
Expected<std::vector<int32_t>> parseTokenList(const std::string &text,
                                              int64_t V);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DECODEARGS_H
