//===- Tokenizer.h - nanochat's byte-level BPE tokenizer --------*- C++ -*-===//
//
// The tokenizer nanochat trains (rustbpe) and runs (tiktoken): text is split
// into chunks by a regular expression (nanochat's split pattern, GPT-4's
// with digit runs in groups of 1-2), each chunk's UTF-8 bytes are merged by
// rank exactly as tiktoken's CoreBPE merges them (repeatedly the adjacent
// pair whose concatenation has the lowest rank, the leftmost on ties), and
// special tokens (<|bos|>, <|user_start|>, ...) have ids after the ranks.
// encode() is tiktoken's encode_ordinary: special-token text in the input is
// ordinary text. The pattern runs through PCRE2 (UTF, UCP, JIT), whose
// Unicode classes (\p{L}, \p{N}, \s with U+0085 and U+2028) agree with
// those of tiktoken's regex engine.
//
// Two files are read:
//   tokenizer.pkl      nanochat's pickled tiktoken.Encoding (name, pat_str,
//                      mergeable_ranks, special_tokens), through the
//                      restricted unpickler: nothing in it is executed;
//   <name>.tiktoken    tiktoken's rank file, one "<base64 bytes> <rank>" per
//                      line; the split pattern is nanochat's and nanochat's 9
//                      special tokens follow the ranks.
//
// Input that is not valid UTF-8 is refused (error naming the byte offset),
// where Python would not have produced a str to encode at all.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_TOKENIZER_H
#define GPTC_BACKENDS_COMMON_TOKENIZER_H

#include "backends/common/Status.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace gptc {

/// nanochat's split pattern.
extern const char kNanochatSplitPattern[];
/// nanochat's special tokens, in id order after the ranks.
extern const char *const kNanochatSpecialTokens[9];

class Tokenizer {
public:
  /// Reads a tokenizer.pkl or a .tiktoken file (by its contents).
  static Expected<Tokenizer> load(const std::string &path);

  /// A tokenizer from its parts: `ranks` maps token bytes to ids and must
  /// hold all 256 single bytes; `specials` maps special-token text to ids.
  /// Ids must be distinct. `what` names the source in errors.
  static Expected<Tokenizer>
  create(std::vector<std::pair<std::string, uint32_t>> ranks,
         const std::string &pattern,
         const std::vector<std::pair<std::string, uint32_t>> &specials,
         std::string_view what);

  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;
  ~Tokenizer();

  /// Appends the ids of `text` (tiktoken's encode_ordinary) to `ids`.
  /// `text` must be valid UTF-8; the error names the first bad byte.
  /// `progress`, if given, is called with the bytes covered since its last
  /// call, about every MiB and once at the end.
  Status encode(std::string_view text, std::vector<uint32_t> &ids,
                const std::function<void(size_t)> &progress = nullptr) const;

  /// The bytes of `ids` concatenated (special tokens as their text). Ids
  /// outside the vocabulary are an error naming the id.
  Expected<std::string> decode(const uint32_t *ids, size_t count) const;

  /// One more than the largest id.
  uint32_t vocabSize() const { return uint32_t(pieces.size()); }
  /// The id of special token `text`, or nullopt.
  std::optional<uint32_t> special(std::string_view text) const;
  /// Whether `id` is a special token.
  bool isSpecial(uint32_t id) const {
    return id < pieces.size() && kinds[id] == Kind::Special;
  }
  /// Whether `id` names a token at all (ids may have gaps).
  bool isValid(uint32_t id) const {
    return id < pieces.size() && kinds[id] != Kind::Unused;
  }
  /// The UTF-8 bytes token `id` stands for: 0 for special tokens, as
  /// nanochat's token_bytes counts them for bits per byte.
  size_t byteLength(uint32_t id) const {
    return isValid(id) && !isSpecial(id) ? pieces[id].size() : 0;
  }
  /// The name of the source file (or `what`), for messages.
  const std::string &getSource() const { return source; }

private:
  Tokenizer() = default;
  /// Appends the ids of one chunk of the split.
  void encodeChunk(std::string_view chunk, std::vector<uint32_t> &ids) const;
  /// The rank of `bytes`, or UINT32_MAX.
  uint32_t rank(std::string_view bytes) const {
    auto it = encoder.find(bytes);
    return it == encoder.end() ? UINT32_MAX : it->second;
  }

  enum class Kind : uint8_t { Unused, Ordinary, Special };
  std::string source;
  /// Token bytes (or special text) by id.
  std::vector<std::string> pieces;
  std::vector<Kind> kinds;
  /// Ordinary token bytes -> id; keys view `pieces`.
  std::unordered_map<std::string_view, uint32_t> encoder;
  std::vector<std::pair<std::string, uint32_t>> specials;
  /// The compiled split pattern (pcre2_code_8), freed with it.
  struct Regex;
  std::unique_ptr<Regex> regex;
};

/// Holds back the bytes of a UTF-8 character split across tokens, so that
/// text can be printed as tokens arrive: push() returns what is complete.
class Utf8Stream {
public:
  /// Appends `bytes` and returns the longest prefix of everything held that
  /// ends on a character boundary (invalid bytes are passed through).
  std::string push(std::string_view bytes);
  /// Whatever is still held (an incomplete character at the end).
  std::string flush();

private:
  std::string held;
};

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_TOKENIZER_H
