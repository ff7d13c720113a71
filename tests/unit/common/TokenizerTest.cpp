//===- TokenizerTest.cpp - BPE ids against tiktoken's ---------------------===//
//
// tests/e2e/Inputs/tokenizer holds a small tokenizer (tokenizer.pkl, the
// pickled tiktoken.Encoding nanochat writes, and the same ranks as a
// .tiktoken file) and cases.json: texts with the ids tiktoken's
// encode_ordinary gave for them (tests/tools/make_tokenizer.py).
//
//===----------------------------------------------------------------------===//

#include "backends/common/Tokenizer.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"

#include <gtest/gtest.h>

using namespace gptc;

namespace {

const std::string kDir = GPTC_SOURCE_DIR "/tests/e2e/Inputs/tokenizer/";

struct Case {
  std::string text;
  std::vector<uint32_t> ids;
};

std::vector<Case> loadCases() {
  Expected<std::string> text = readFile(kDir + "cases.json");
  EXPECT_TRUE(text.ok());
  Expected<Json> json = parseJson(*text, "cases.json");
  EXPECT_TRUE(json.ok()) << json.status().message();
  std::vector<Case> cases;
  for (const Json &c : json->getArray()) {
    Case out{c.find("text")->getString(), {}};
    for (const Json &id : c.find("ids")->getArray())
      out.ids.push_back(uint32_t(*id.getInteger()));
    cases.push_back(std::move(out));
  }
  return cases;
}

void expectTiktokenIds(const Tokenizer &tok) {
  std::vector<Case> cases = loadCases();
  ASSERT_GT(cases.size(), 100u);
  for (const Case &c : cases) {
    std::vector<uint32_t> ids;
    ASSERT_TRUE(tok.encode(c.text, ids).ok());
    EXPECT_EQ(ids, c.ids) << quoteForMessage(c.text);
    Expected<std::string> back = tok.decode(ids.data(), ids.size());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, c.text);
  }
}

} // namespace

TEST(Tokenizer, PickledEncodingMatchesTiktoken) {
  Expected<Tokenizer> tok = Tokenizer::load(kDir + "tokenizer.pkl");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->vocabSize(), 320u);
  expectTiktokenIds(*tok);
}

TEST(Tokenizer, RankFileMatchesTiktoken) {
  Expected<Tokenizer> tok = Tokenizer::load(kDir + "tokenizer.tiktoken");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  EXPECT_EQ(tok->vocabSize(), 320u);
  expectTiktokenIds(*tok);
}

TEST(Tokenizer, SpecialTokens) {
  Expected<Tokenizer> tok = Tokenizer::load(kDir + "tokenizer.pkl");
  ASSERT_TRUE(tok.ok());
  for (size_t i = 0; i < 9; ++i) {
    std::optional<uint32_t> id = tok->special(kNanochatSpecialTokens[i]);
    ASSERT_TRUE(id.has_value()) << kNanochatSpecialTokens[i];
    EXPECT_EQ(*id, 311 + i);
    EXPECT_TRUE(tok->isSpecial(*id));
    EXPECT_EQ(tok->byteLength(*id), 0u);
  }
  EXPECT_FALSE(tok->special("<|nope|>"));
  EXPECT_EQ(tok->byteLength('a'), 1u);
  uint32_t bos = *tok->special("<|bos|>");
  Expected<std::string> text = tok->decode(&bos, 1);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "<|bos|>");
  uint32_t bad = 320;
  Expected<std::string> none = tok->decode(&bad, 1);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("token id 320 is not in the "
                                         "vocabulary"),
            std::string::npos);
}

TEST(Tokenizer, InvalidUtf8IsRefused) {
  Expected<Tokenizer> tok = Tokenizer::load(kDir + "tokenizer.pkl");
  ASSERT_TRUE(tok.ok());
  std::vector<uint32_t> ids;
  Status status = tok->encode("ok \xc3\x28 bad", ids);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "the text is not valid UTF-8 at byte 3 (0xc3)");
  EXPECT_FALSE(tok->encode("\xed\xa0\x80", ids).ok()); // a surrogate
  EXPECT_FALSE(tok->encode("\xe4\xbd", ids).ok());     // truncated
  EXPECT_TRUE(ids.empty());
}

TEST(Tokenizer, BadFiles) {
  auto error = [](std::vector<std::pair<std::string, uint32_t>> ranks,
                  std::vector<std::pair<std::string, uint32_t>> specials,
                  const std::string &pattern = kNanochatSplitPattern) {
    Expected<Tokenizer> tok =
        Tokenizer::create(std::move(ranks), pattern, specials, "t");
    EXPECT_FALSE(tok.ok());
    return tok.ok() ? "" : tok.status().message();
  };
  std::vector<std::pair<std::string, uint32_t>> bytes;
  for (int b = 0; b < 256; ++b)
    bytes.emplace_back(std::string(1, char(b)), uint32_t(b));
  auto missing = bytes;
  missing.erase(missing.begin() + 65);
  EXPECT_EQ(error(missing, {}), "t: the ranks lack the single byte 0x41; a "
                                "byte-level BPE needs all 256");
  auto twice = bytes;
  twice.emplace_back("ab", 7);
  EXPECT_EQ(error(twice, {}), "t: rank 7 is given to two tokens");
  auto dup = bytes;
  dup.emplace_back("a", 300);
  EXPECT_EQ(error(dup, {}), "t: token 'a' appears twice in the ranks");
  EXPECT_EQ(error(bytes, {{"<|bos|>", 5}}),
            "t: special token '<|bos|>' has id 5, which is taken");
  EXPECT_NE(error(bytes, {}, "(unclosed").find("does not compile"),
            std::string::npos);

  Expected<Tokenizer> missingFile = Tokenizer::load(kDir + "nope.pkl");
  ASSERT_FALSE(missingFile.ok());
  EXPECT_NE(missingFile.status().message().find("No such file"),
            std::string::npos);
}

TEST(Tokenizer, MergesByRankLeftmostFirst) {
  // Ranks: "bc" 256, "ab" 257, "abc" 258, "aa" 259.
  std::vector<std::pair<std::string, uint32_t>> ranks;
  for (int b = 0; b < 256; ++b)
    ranks.emplace_back(std::string(1, char(b)), uint32_t(b));
  ranks.emplace_back("bc", 256);
  ranks.emplace_back("ab", 257);
  ranks.emplace_back("abc", 258);
  ranks.emplace_back("aa", 259);
  Expected<Tokenizer> tok = Tokenizer::create(ranks, "\\S+", {}, "t");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  std::vector<uint32_t> ids;
  ASSERT_TRUE(tok->encode("abcd", ids).ok());
  // "bc" has the lowest rank, then a + bc = "abc" has a rank: abc + d.
  EXPECT_EQ(ids, (std::vector<uint32_t>{258, 'd'}));
  ids.clear();
  ASSERT_TRUE(tok->encode("bcab", ids).ok()); // bc first, then ab
  EXPECT_EQ(ids, (std::vector<uint32_t>{256, 257}));
  ids.clear();
  // "aa" ties at 0 and 1: the leftmost merges; "abc" is a whole-chunk hit.
  ASSERT_TRUE(tok->encode("aaa abc", ids).ok());
  EXPECT_EQ(ids, (std::vector<uint32_t>{259, 'a', 258}));
}

TEST(Utf8Stream, HoldsSplitCharacters) {
  Utf8Stream stream;
  EXPECT_EQ(stream.push("a\xe4"), "a");
  EXPECT_EQ(stream.push("\xbd"), "");
  EXPECT_EQ(stream.push("\xa0!"), "\xe4\xbd\xa0!");
  EXPECT_EQ(stream.push("\xf0\x9f"), "");
  EXPECT_EQ(stream.push("\x98\x80"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(stream.push("\xff"), "\xff"); // invalid bytes pass through
  EXPECT_EQ(stream.push("x\xc3"), "x");
  EXPECT_EQ(stream.flush(), "\xc3");
  EXPECT_EQ(stream.flush(), "");
}
