//===- DecodeSession.h - a conversation with the decode program -*- C++ -*-===//
//
// A session answers the prompt and, with --interactive, each line of the
// input: a turn feeds its tokens to every row through the Decoder, then
// samples one token per row and feeds it back until --max-tokens tokens are
// out or the KV cache is full. A prompt or line that does not fit is an
// error; a reply that reaches the capacity stops there with a note, ending
// the conversation. With --tokenizer, text is BPE-encoded and replies are
// printed as decoded text as they come (a UTF-8 character split across
// tokens is held until complete) and end at <|assistant_end|> or <|bos|>.
// With --chat, each line is a user turn rendered as nanochat's chat_cli
// renders it; the KV cache keeps the whole conversation across turns.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DECODESESSION_H
#define GPTC_BACKENDS_HOST_DECODESESSION_H

#include "backends/common/Status.h"
#include "backends/host/DecodeArgs.h"
#include "backends/host/DecodeOutput.h"
#include "backends/host/Decoder.h"
#include "backends/host/Sampler.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

namespace gptc::host {

/// A conversation: the prompt, then with --interactive the lines of the
/// input, each followed by a generated reply in every row.
class DecodeSession {
public:
  /// `decoder` uses options.rows rows; `options` must outlive the session.
  DecodeSession(const DecodeOptions &options, Decoder decoder);

  /// Runs the prompt and, with --interactive, the lines of `input`, then
  /// prints the statistics.
  Status run(std::FILE *input);

private:
  /// Appends `tokens` to every row's conversation and generates a reply;
  /// false when the reply filled the KV cache, ending the conversation.
  Expected<bool> turn(const std::vector<int32_t> &tokens);
  /// Reads and answers the lines of `input` until an empty line, its end or
  /// a full KV cache.
  Status converse(std::FILE *input);
  /// The text of generated `token`, held back while a UTF-8 character is
  /// incomplete; "" for a token that ends the reply.
  std::string streamText(int32_t token);
  /// Whether `token` ends a reply (--tokenizer: <|assistant_end|>, <|bos|>).
  bool endsReply(int32_t token) const;

  const DecodeOptions &options;
  Decoder decoder;
  Sampler sampler;
  /// Each row's last sampled tokens, not yet in the cache: [rows][0 to 2].
  std::vector<std::vector<int32_t>> pending;
  /// Whether the conversation has begun (its <|bos|> is fed or pending).
  bool started = false;
  /// --tokenizer: the special tokens of chat, and the text held back.
  std::optional<ChatTokens> special;
  Utf8Stream stream;
  DecodeStats stats;
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DECODESESSION_H
