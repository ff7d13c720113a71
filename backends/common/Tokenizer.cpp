//===- Tokenizer.cpp - nanochat's byte-level BPE tokenizer ----------------===//

#include "backends/common/Tokenizer.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"
#include "backends/common/Pickle.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <climits>
#include <cstring>

using namespace gptc;

const char gptc::kNanochatSplitPattern[] =
    R"('(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,2}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";

const char *const gptc::kNanochatSpecialTokens[9] = {
    "<|bos|>",           "<|user_start|>",
    "<|user_end|>",      "<|assistant_start|>",
    "<|assistant_end|>", "<|python_start|>",
    "<|python_end|>",    "<|output_start|>",
    "<|output_end|>"};

struct Tokenizer::Regex {
  pcre2_code *code = nullptr;
  bool jit = false;
  ~Regex() { pcre2_code_free(code); }
};

Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Expected<Tokenizer>
Tokenizer::create(std::vector<std::pair<std::string, uint32_t>> ranks,
                  const std::string &pattern,
                  const std::vector<std::pair<std::string, uint32_t>> &specials,
                  std::string_view what) {
  Tokenizer tok;
  tok.source = what;
  uint32_t vocab = 0;
  for (const auto &[bytes, id] : ranks)
    vocab = std::max(vocab, id + 1);
  for (const auto &[text, id] : specials)
    vocab = std::max(vocab, id + 1);
  if (vocab > (1u << 30))
    return Status::error("{}: token id {} is too large", what, vocab - 1);
  tok.pieces.resize(vocab);
  tok.kinds.assign(vocab, Kind::Unused);
  for (auto &[bytes, id] : ranks) {
    if (tok.kinds[id] != Kind::Unused)
      return Status::error("{}: rank {} is given to two tokens", what, id);
    tok.kinds[id] = Kind::Ordinary;
    tok.pieces[id] = std::move(bytes);
  }
  for (const auto &[text, id] : specials) {
    if (tok.kinds[id] != Kind::Unused)
      return Status::error("{}: special token {} has id {}, which is taken",
                           what, quoteForMessage(text), id);
    tok.kinds[id] = Kind::Special;
    tok.pieces[id] = text;
    tok.specials.emplace_back(text, id);
  }
  tok.encoder.reserve(ranks.size());
  for (uint32_t id = 0; id < vocab; ++id)
    if (tok.kinds[id] == Kind::Ordinary &&
        !tok.encoder.emplace(tok.pieces[id], id).second)
      return Status::error("{}: token {} appears twice in the ranks", what,
                           quoteForMessage(tok.pieces[id]));
  for (int b = 0; b < 256; ++b)
    if (!tok.encoder.count(std::string(1, char(b))))
      return Status::error("{}: the ranks lack the single byte 0x{:02x}; a "
                           "byte-level BPE needs all 256",
                           what, b);

  int errorCode = 0;
  PCRE2_SIZE errorOffset = 0;
  pcre2_code *code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                    pattern.size(), PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK,
                    &errorCode, &errorOffset, nullptr);
  if (!code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(errorCode, message, sizeof(message));
    return Status::error("{}: the split pattern does not compile at offset "
                         "{}: {}",
                         what, errorOffset,
                         reinterpret_cast<const char *>(message));
  }
  tok.regex = std::make_unique<Regex>();
  tok.regex->code = code;
  tok.regex->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::move(tok);
}

std::optional<uint32_t> Tokenizer::special(std::string_view text) const {
  for (const auto &[name, id] : specials)
    if (name == text)
      return id;
  return std::nullopt;
}

void Tokenizer::encodeChunk(std::string_view piece,
                            std::vector<uint32_t> &ids) const {
  uint32_t whole = rank(piece);
  if (whole != UINT32_MAX) {
    ids.push_back(whole);
    return;
  }
  // tiktoken's byte-pair merge: parts[i] = (start, rank of the bytes from
  // parts[i].start to parts[i + 2].start); merge the lowest rank (leftmost
  // on ties) until no adjacent pair has a rank.
  size_t n = piece.size();
  struct Part {
    size_t start;
    uint32_t rank;
  };
  std::vector<Part> parts;
  parts.reserve(n + 1);
  for (size_t i = 0; i + 1 < n; ++i)
    parts.push_back({i, rank(piece.substr(i, 2))});
  parts.push_back({n - 1, UINT32_MAX});
  parts.push_back({n, UINT32_MAX});
  auto rankAt = [&](size_t i) {
    if (i + 3 < parts.size())
      return rank(
          piece.substr(parts[i].start, parts[i + 3].start - parts[i].start));
    return UINT32_MAX;
  };
  while (true) {
    uint32_t best = UINT32_MAX;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i)
      if (parts[i].rank < best) {
        best = parts[i].rank;
        at = i;
      }
    if (best == UINT32_MAX)
      break;
    if (at > 0)
      parts[at - 1].rank = rankAt(at - 1);
    parts[at].rank = rankAt(at);
    parts.erase(parts.begin() + long(at) + 1);
  }
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    ids.push_back(rank(
        piece.substr(parts[i].start, parts[i + 1].start - parts[i].start)));
}

Status Tokenizer::encode(std::string_view text, std::vector<uint32_t> &ids,
                         const std::function<void(size_t)> &progress) const {
  constexpr size_t kProgressBytes = 1 << 20;
  if (size_t valid = validUtf8Prefix(text); valid != text.size())
    return Status::error("the text is not valid UTF-8 at byte {} (0x{:02x})",
                         valid, uint8_t(text[valid]));
  pcre2_match_data *match =
      pcre2_match_data_create_from_pattern(regex->code, nullptr);
  const auto *subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0, reported = 0;
  while (pos < text.size()) {
    if (progress && pos - reported >= kProgressBytes) {
      progress(pos - reported);
      reported = pos;
    }
    int rc = regex->jit ? pcre2_jit_match(regex->code, subject, text.size(),
                                          pos, 0, match, nullptr)
                        : pcre2_match(regex->code, subject, text.size(), pos,
                                      PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc < 0)
      break; // no further match: the rest is not covered by the pattern
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(match);
    size_t begin = ov[0], end = ov[1];
    if (end == begin) {
      // An empty match covers nothing; step over one character.
      pos = end + 1;
      while (pos < text.size() && (uint8_t(text[pos]) & 0xC0) == 0x80)
        ++pos;
      continue;
    }
    encodeChunk(text.substr(begin, end - begin), ids);
    pos = end;
  }
  pcre2_match_data_free(match);
  if (progress)
    progress(text.size() - reported);
  return Status::success();
}

Expected<std::string> Tokenizer::decode(const uint32_t *ids,
                                        size_t count) const {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (!isValid(ids[i]))
      return Status::error("token id {} is not in the vocabulary of {} ({} "
                           "ids)",
                           ids[i], source, vocabSize());
    out += pieces[ids[i]];
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

/// Decodes standard base64 (with padding); nullopt if malformed.
static std::optional<std::string> base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  if (text.size() % 4 != 0)
    return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0 || (v[k] = value(c)) < 0)
        return std::nullopt;
    }
    uint32_t triple = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 |
                      uint32_t(v[2]) << 6 | uint32_t(v[3]);
    out.push_back(char(triple >> 16));
    if (pad < 2)
      out.push_back(char(triple >> 8));
    if (pad < 1)
      out.push_back(char(triple));
  }
  return out;
}

static Expected<Tokenizer> loadTiktokenFile(const std::string &path,
                                            const std::string &text) {
  std::vector<std::pair<std::string, uint32_t>> ranks;
  uint32_t next = 0;
  size_t line = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos)
      end = text.size();
    std::string_view row(text.data() + pos, end - pos);
    pos = end + 1;
    ++line;
    if (!row.empty() && row.back() == '\r')
      row.remove_suffix(1);
    if (row.empty())
      continue;
    size_t space = row.find(' ');
    std::optional<std::string> bytes = space == std::string_view::npos
                                           ? std::nullopt
                                           : base64Decode(row.substr(0, space));
    std::string_view number =
        space == std::string_view::npos ? "" : row.substr(space + 1);
    uint64_t id = 0;
    bool numeric = !number.empty() && number.size() <= 10;
    for (char c : number)
      numeric = numeric && c >= '0' && c <= '9';
    for (char c : numeric ? number : "")
      id = id * 10 + uint64_t(c - '0');
    if (!bytes || !numeric || id >= (1u << 30))
      return Status::error("{}:{}: expected '<base64 token> <rank>'", path,
                           line);
    ranks.emplace_back(std::move(*bytes), uint32_t(id));
    next = std::max(next, uint32_t(id) + 1);
  }
  std::vector<std::pair<std::string, uint32_t>> specials;
  for (const char *name : kNanochatSpecialTokens)
    specials.emplace_back(name, next++);
  return Tokenizer::create(std::move(ranks), kNanochatSplitPattern, specials,
                           path);
}

static Expected<Tokenizer> loadPickledEncoding(const std::string &path,
                                               const std::string &data) {
  Expected<pickle::Unpickled> unpickled =
      pickle::unpickle(data, path, pickle::Allowed::TiktokenEncoding);
  if (!unpickled.ok())
    return unpickled.status();
  const pickle::Value &root = unpickled->root();
  if (root.kind != pickle::Kind::Object || !root.state)
    return Status::error("{}: holds a {}, not a tiktoken.core.Encoding", path,
                         pickle::kindName(root.kind));
  const pickle::Value &state = *root.state;
  if (state.kind == pickle::Kind::String)
    return Status::error("{}: refers to tiktoken's registered encoding '{}' "
                         "by name; gptc needs the ranks in the file",
                         path, state.text);
  if (state.kind != pickle::Kind::Dict)
    return Status::error("{}: the Encoding's state is a {}, not a dict", path,
                         pickle::kindName(state.kind));
  const pickle::Value *pattern = state.findEntry("pat_str");
  const pickle::Value *ranksValue = state.findEntry("mergeable_ranks");
  const pickle::Value *specialsValue = state.findEntry("special_tokens");
  if (!pattern || pattern->kind != pickle::Kind::String)
    return Status::error("{}: no 'pat_str' string in the Encoding", path);
  if (!ranksValue || ranksValue->kind != pickle::Kind::Dict)
    return Status::error("{}: no 'mergeable_ranks' dict in the Encoding", path);
  auto id = [](const pickle::Value *v) {
    return v->kind == pickle::Kind::Int && v->integer >= 0 &&
           v->integer < (int64_t(1) << 30);
  };
  std::vector<std::pair<std::string, uint32_t>> ranks;
  ranks.reserve(ranksValue->entries.size());
  for (const auto &[k, v] : ranksValue->entries) {
    if (k->kind != pickle::Kind::Bytes || !id(v))
      return Status::error("{}: mergeable_ranks maps {} to {}; expected bytes "
                           "to ranks",
                           path, pickle::kindName(k->kind),
                           pickle::kindName(v->kind));
    ranks.emplace_back(k->text, uint32_t(v->integer));
  }
  std::vector<std::pair<std::string, uint32_t>> specials;
  if (specialsValue) {
    if (specialsValue->kind != pickle::Kind::Dict)
      return Status::error("{}: special_tokens is a {}, not a dict", path,
                           pickle::kindName(specialsValue->kind));
    for (const auto &[k, v] : specialsValue->entries) {
      if (k->kind != pickle::Kind::String || !id(v))
        return Status::error("{}: special_tokens maps {} to {}; expected str "
                             "to ids",
                             path, pickle::kindName(k->kind),
                             pickle::kindName(v->kind));
      specials.emplace_back(k->text, uint32_t(v->integer));
    }
  }
  return Tokenizer::create(std::move(ranks), pattern->text, specials, path);
}

Expected<Tokenizer> Tokenizer::load(const std::string &path) {
  Expected<std::string> data = readFile(path);
  if (!data.ok())
    return data.status();
  // A pickle starts with PROTO (0x80); a rank file is base64 text.
  if (!data->empty() && uint8_t((*data)[0]) == 0x80)
    return loadPickledEncoding(path, *data);
  return loadTiktokenFile(path, *data);
}

//===----------------------------------------------------------------------===//
// Utf8Stream
//===----------------------------------------------------------------------===//

std::string Utf8Stream::push(std::string_view bytes) {
  held += bytes;
  // Find the last lead byte; keep it back if its sequence is incomplete.
  size_t n = held.size();
  size_t lead = n;
  for (size_t k = 0; k < 4 && k < n; ++k) {
    uint8_t c = uint8_t(held[n - 1 - k]);
    if ((c & 0xC0) != 0x80) {
      lead = n - 1 - k;
      break;
    }
  }
  size_t cut = n;
  if (lead < n) {
    uint8_t c = uint8_t(held[lead]);
    size_t need = c >= 0xF0 && c <= 0xF4   ? 4
                  : c >= 0xE0 && c <= 0xEF ? 3
                  : c >= 0xC2 && c <= 0xDF ? 2
                                           : 1;
    if (n - lead < need)
      cut = lead;
  }
  std::string out = held.substr(0, cut);
  held.erase(0, cut);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out = std::move(held);
  held.clear();
  return out;
}
