//===- DecodeTest.cpp - the decode program end to end on a fake model -----===//
//
// Runs the decode host (flags, prompts, prefill, fork, step, sampling,
// capacity, output) against FakeDecodeProgram.cpp, whose toy model favours
// (sum of the cached tokens + 1) mod V and counts every cache slot it reads
// that does not hold what the host should have put there.
//
//===----------------------------------------------------------------------===//

#include "FakeDecodeProgram.h"
#include "TestUtil.h"
#include "backends/common/Safetensors.h"
#include "backends/host/DecodeArgs.h"
#include "backends/host/DecodeCheck.h"
#include "backends/host/DecodeMain.h"
#include "backends/host/DecodeOutput.h"
#include "backends/host/Decoder.h"
#include "backends/host/Sampler.h"

#include <gtest/gtest.h>

#include <regex>

using namespace gptc;
using namespace gptc::host;
using namespace gptc::host::test;
namespace fd = fake::decode;

namespace {

/// What a run of the decode program printed and returned.
struct DecodeRun {
  Status status;
  std::string out, err;
};

/// Runs the decode program with `args`, `input` on its stdin.
DecodeRun decode(const std::vector<std::string> &args,
                 const std::string &input = "") {
  std::vector<std::string> storage = {"gptc-decode"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (std::string &arg : storage)
    argv.push_back(arg.data());
  std::FILE *stdinFile = std::tmpfile();
  std::fputs(input.c_str(), stdinFile);
  std::rewind(stdinFile);
  fd::reset();
  DecodeRun run;
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  run.status = runDecode(int(argv.size()), argv.data(), stdinFile);
  run.out = testing::internal::GetCapturedStdout();
  run.err = testing::internal::GetCapturedStderr();
  std::fclose(stdinFile);
  return run;
}

/// The fake model's shape.
DecodeShape fakeShape() {
  Expected<DecodeShape> shape = readDecodeShape();
  EXPECT_TRUE(shape.ok()) << shape.status().message();
  return *shape;
}

/// A decoder of the fake model using `rows` rows.
Decoder makeDecoder(int64_t rows) {
  return Decoder(
      fakeShape(), rows,
      allocateDevice(size_t(prefill_program.paramBytes), "the parameters"));
}

/// The tokens the fake model generates greedily after `conversation`: each
/// is (sum of all tokens before it + 1) mod V.
std::vector<int32_t> greedyTokens(const std::vector<int32_t> &conversation,
                                  int64_t count) {
  int64_t sum = 0;
  for (int32_t token : conversation)
    sum += token;
  std::vector<int32_t> tokens;
  for (int64_t i = 0; i < count; ++i) {
    tokens.push_back(int32_t((sum + 1) % fd::V));
    sum += tokens.back();
  }
  return tokens;
}

/// Slots [0, length) of `row` of a step cache [L, R, Cap, Hkv, D], as
/// [L, length, Hkv, D].
std::vector<float> rowSlots(const float *cache, int64_t row, int64_t length) {
  std::vector<float> slots;
  const int64_t slot = fd::Hkv * fd::D;
  for (int64_t l = 0; l < fd::L; ++l) {
    const float *begin = cache + (l * fd::R + row) * fd::Cap * slot;
    slots.insert(slots.end(), begin, begin + length * slot);
  }
  return slots;
}

/// Feeds `tokens` to every row of `decoder`.
void feedAll(Decoder &decoder, const std::vector<int32_t> &tokens) {
  std::vector<std::vector<int32_t>> rows(decoder.numRows(), tokens);
  Status status = decoder.feed(rows);
  ASSERT_TRUE(status.ok()) << status.message();
}

/// `count` tokens 1, 2, 3, ...
std::vector<int32_t> countingTokens(int64_t count) {
  std::vector<int32_t> tokens(count);
  for (int64_t i = 0; i < count; ++i)
    tokens[i] = int32_t(i + 1);
  return tokens;
}

/// The fake model's logits [V] after tokens summing to `sum`.
std::vector<float> fakeLogits(int64_t sum) {
  std::vector<float> logits(fd::V);
  for (int64_t v = 0; v < fd::V; ++v)
    logits[v] = fd::logit(sum, v);
  return logits;
}

/// The logits [V] of `row` of `decoder`.
std::vector<float> logitsOf(const Decoder &decoder, int64_t row) {
  const float *logits = decoder.logits(row);
  return std::vector<float>(logits, logits + fd::V);
}

class Decode : public testing::Test {
protected:
  void SetUp() override {
    weights = dir / "model.safetensors";
    std::vector<float> zeros(fd::V * fd::C, 0.0f); // [V, C]
    ASSERT_TRUE(
        writeSafetensors(
            weights,
            {{"transformer.wte.weight",
              DType::F32,
              {fd::V, fd::C},
              zeros.data()},
             {"lm_head.weight", DType::F32, {fd::V, fd::C}, zeros.data()}},
            {})
            .ok());
  }

  /// `args` after --weights.
  std::vector<std::string> withWeights(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--weights", weights});
    return args;
  }

  /// The error message of a run with `args` (after --weights), which must
  /// fail.
  std::string errorOf(const std::vector<std::string> &args) const {
    DecodeRun run = decode(withWeights(args));
    EXPECT_FALSE(run.status.ok());
    return run.status.message();
  }

  TempDir dir;
  std::string weights;
};

TEST(DecodeShape, ReadFromThePrograms) {
  DecodeShape shape = fakeShape();
  EXPECT_EQ(shape.V, fd::V);
  EXPECT_EQ(shape.L, fd::L);
  EXPECT_EQ(shape.Hkv, fd::Hkv);
  EXPECT_EQ(shape.D, fd::D);
  EXPECT_EQ(shape.Cap, fd::Cap);
  EXPECT_EQ(shape.Tc, fd::Tc);
  EXPECT_EQ(shape.R, fd::R);
  EXPECT_TRUE(shape.isByteLevel());
}

TEST(DecodePrompt, TokenLists) {
  Expected<std::vector<int32_t>> tokens = parseTokenList("1,2,127,0", 128);
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  EXPECT_EQ(*tokens, (std::vector<int32_t>{1, 2, 127, 0}));

  auto errorOf = [](const std::string &text) {
    Expected<std::vector<int32_t>> parsed = parseTokenList(text, 128);
    EXPECT_FALSE(parsed.ok()) << text;
    return parsed.ok() ? "" : parsed.status().message();
  };
  EXPECT_EQ(errorOf(""), "--prompt-tokens is empty: the prompt needs at "
                         "least one token");
  EXPECT_EQ(errorOf("1,,2"), "--prompt-tokens: item 2 ('') is not a token "
                             "id; expected comma-separated ids such as 1,2,3");
  EXPECT_EQ(errorOf("1,2,x"), "--prompt-tokens: item 3 ('x') is not a token "
                              "id; expected comma-separated ids such as 1,2,3");
  EXPECT_NE(errorOf("1,-2").find("item 2 ('-2') is not a token id"),
            std::string::npos);
  EXPECT_NE(errorOf("1 ,2").find("item 1 ('1 ')"), std::string::npos);
  EXPECT_NE(errorOf("1,2,").find("item 3 ('')"), std::string::npos);
  EXPECT_EQ(errorOf("5,128"), "--prompt-tokens: item 2 (128) is outside the "
                              "model's vocabulary of 128 tokens");
  EXPECT_EQ(errorOf("99999999999999999999999"),
            "--prompt-tokens: item 1 (99999999999999999999999) is outside the "
            "model's vocabulary of 128 tokens");
}

TEST(DecodePrompt, TokensPrintAsBytesOrIds) {
  EXPECT_EQ(formatToken('a', true), "a");
  EXPECT_EQ(formatToken('\n', true), "\n");
  EXPECT_EQ(formatToken('\t', true), "\t");
  EXPECT_EQ(formatToken(7, true), "\\x07");
  EXPECT_EQ(formatToken(127, true), "\\x7f");
  EXPECT_EQ(formatToken(200, true), "\\xc8");
  EXPECT_EQ(formatToken(300, false), "300 ");
}

TEST_F(Decode, BadInputIsAnErrorNamingIt) {
  EXPECT_EQ(errorOf({"--prompt", ""}),
            "--prompt is empty: the prompt needs at least one token");
  EXPECT_EQ(errorOf({"--prompt-tokens", ""}),
            "--prompt-tokens is empty: the prompt needs at least one token");
  EXPECT_EQ(errorOf({"--prompt-tokens", "1,x"}),
            "--prompt-tokens: item 2 ('x') is not a token id; expected "
            "comma-separated ids such as 1,2,3");
  EXPECT_EQ(errorOf({"--prompt-tokens", "3,4,130"}),
            "--prompt-tokens: item 3 (130) is outside the model's vocabulary "
            "of 128 tokens");
  EXPECT_EQ(errorOf({"--prompt", "caf\xc3\xa9"}),
            "--prompt: byte 195 at offset 3 is not a token of the model: the "
            "byte-level tokenizer needs every byte below vocab_size 128");
  EXPECT_EQ(errorOf({"--prompt", std::string(17, 'a')}),
            "the prompt has 17 tokens but the KV cache holds 16 per row; "
            "recompile with --kv-capacity");
  EXPECT_EQ(errorOf({}), "missing --prompt or --prompt-tokens (or "
                         "--interactive); see --help");
  EXPECT_EQ(errorOf({"--prompt", "a", "--prompt-tokens", "1"}),
            "--prompt and --prompt-tokens exclude each other");
  EXPECT_EQ(errorOf({"--prompt", "a", "--rows", "4"}),
            "--rows 4 is more than the R = 3 rows the program was compiled "
            "for; recompile with gptc compile --rows 4");
  EXPECT_EQ(errorOf({"--prompt", "a", "--temperature", "-1"}),
            "option '--temperature' must be >= 0, got -1");
  EXPECT_EQ(errorOf({"--prompt", "a", "--temperature", "warm"}),
            "option '--temperature' expects a number, got 'warm'");
  EXPECT_EQ(errorOf({"--prompt", "a", "--max-tokens", "0"}),
            "option '--max-tokens' must be in [1, 1099511627776], got 0");
  EXPECT_EQ(errorOf({"--prompt", "a", "--top-k", "-1"}),
            "option '--top-k' must be in [0, 128], got -1");
  DecodeRun noWeights = decode({"--prompt", "a"});
  EXPECT_EQ(noWeights.status.message(), "missing --weights; see --help");
}

TEST_F(Decode, WeightsOfAnotherModelAreAnErrorNamingTheTensor) {
  std::string other = dir / "other.safetensors";
  std::vector<float> zeros(fd::V * 8, 0.0f); // [V, 8]
  ASSERT_TRUE(
      writeSafetensors(
          other,
          {{"transformer.wte.weight", DType::F32, {fd::V, 8}, zeros.data()},
           {"lm_head.weight", DType::F32, {fd::V, 8}, zeros.data()}},
          {})
          .ok());
  DecodeRun run = decode({"--weights", other, "--prompt", "a"});
  ASSERT_FALSE(run.status.ok());
  EXPECT_NE(run.status.message().find("transformer.wte.weight"),
            std::string::npos)
      << run.status.message();
  EXPECT_NE(run.status.message().find("(the program was compiled for this "
                                      "model: {\"n_embd\":4"),
            std::string::npos)
      << run.status.message();
  EXPECT_EQ(fd::stepCalls, 0);
}

TEST_F(Decode, GreedyContinuationIsTheHandComputedOne) {
  // After 1, 2, 3 (sum 6) the toy model favours 7; each token then doubles
  // the sum and adds one: 7, 14, 28, 56, 112, 224 mod 128 = 96, 192 mod 128
  // = 64.
  DecodeRun run =
      decode(withWeights({"--prompt-tokens", "1,2,3", "--temperature", "0",
                          "--max-tokens", "7", "--quiet"}));
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_EQ(run.out, "\\x07\\x0e\\x1c8p`@\n"
                     "row 0 tokens: 7,14,28,56,112,96,64\n");
  // Three prompt tokens are less than a chunk: no prefill, just steps; the
  // last token is never fed.
  EXPECT_EQ(fd::prefillCalls, 0);
  EXPECT_EQ(fd::stepCalls, 3 + 6);
  EXPECT_EQ(fd::inconsistentReads, 0);
  EXPECT_EQ(fd::overflows, 0);
  // --quiet puts the statistics on stderr.
  EXPECT_TRUE(std::regex_search(
      run.err,
      std::regex("^prefill 3 tokens at [0-9,]+ tokens/s \\| decode 6 "
                 "tokens at [0-9,]+ tokens/s over 1 row \\| first "
                 "token after [0-9.]+ [um]?s\nKV cache: 576 bytes in use "
                 "\\(1 row of 9 tokens\\), 4,096 allocated\n$")))
      << run.err;
}

TEST_F(Decode, OneTokenPromptsAndTextPrompts) {
  // "a" is 97: 98 = 'b', then 195 + 1 = 196 mod 128 = 68 = 'D'.
  DecodeRun run = decode(withWeights(
      {"--prompt", "a", "--temperature", "0", "--max-tokens", "3"}));
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_EQ(run.out.substr(0, run.out.find('\n') + 1), "abD\\x08\n");
  EXPECT_NE(run.out.find("\nprefill 1 tokens at"), std::string::npos)
      << run.out;
  EXPECT_EQ(fd::prefillCalls, 0);
  EXPECT_EQ(fd::stepCalls, 3);
}

TEST(DecodeLoop, ChunkedPrefillMatchesFeedingEveryTokenWithStep) {
  for (int64_t length :
       {int64_t(1), fd::Tc - 1, fd::Tc, fd::Tc + 1, 2 * fd::Tc + 3}) {
    SCOPED_TRACE("prompt of " + std::to_string(length) + " tokens");
    std::vector<int32_t> prompt = countingTokens(length);
    fd::reset();
    Decoder chunked = makeDecoder(fd::R);
    feedAll(chunked, prompt);
    EXPECT_EQ(fd::prefillCalls, length / fd::Tc);
    EXPECT_EQ(fd::stepCalls, length % fd::Tc);

    Decoder stepped = makeDecoder(1);
    for (int32_t token : prompt)
      feedAll(stepped, {token});
    EXPECT_EQ(fd::prefillCalls, length / fd::Tc);

    int32_t expected = greedyTokens(prompt, 1)[0];
    EXPECT_EQ(argmax(stepped.logits(0), fd::V), expected);
    for (int64_t r = 0; r < fd::R; ++r) {
      EXPECT_EQ(argmax(chunked.logits(r), fd::V), expected) << "row " << r;
      EXPECT_EQ(chunked.length(r), length);
      EXPECT_EQ(rowSlots(chunked.keys().data(), r, length),
                rowSlots(stepped.keys().data(), 0, length))
          << "row " << r;
      EXPECT_EQ(rowSlots(chunked.values().data(), r, length),
                rowSlots(stepped.values().data(), 0, length))
          << "row " << r;
    }
    EXPECT_EQ(fd::inconsistentReads, 0);
    EXPECT_EQ(fd::overflows, 0);
  }
}

TEST(DecodeLoop, ForkedRowsMatchSeparateSingleRowRuns) {
  // Two of the three compiled rows, so that one idles throughout.
  const int64_t rows = 2, tokens = 8;
  const std::vector<int32_t> prompt = countingTokens(fd::Tc + 2);
  fd::reset();
  Decoder forked = makeDecoder(rows);
  feedAll(forked, prompt);
  Sampler sampler({/*temperature=*/1.0, /*topK=*/0}, 7);
  std::vector<std::vector<int32_t>> generated(rows);
  std::vector<std::vector<std::vector<float>>> logits(rows); // [rows][i][V]
  for (int64_t i = 0; i < tokens; ++i) {
    std::vector<std::vector<int32_t>> next(rows);
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = forked.logits(r);
      logits[r].emplace_back(row, row + fd::V);
      generated[r].push_back(sampler.sample(row, fd::V));
      next[r] = {generated[r].back()};
    }
    ASSERT_TRUE(forked.feed(next).ok());
  }
  // The rows drew different tokens, so they really are separate.
  ASSERT_NE(generated[0], generated[1]);

  for (int64_t r = 0; r < rows; ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    Decoder alone = makeDecoder(1);
    feedAll(alone, prompt);
    for (int64_t i = 0; i < tokens; ++i) {
      const float *row = alone.logits(0);
      EXPECT_EQ(std::vector<float>(row, row + fd::V), logits[r][i])
          << "token " << i;
      feedAll(alone, {generated[r][i]});
    }
    int64_t length = alone.length(0);
    EXPECT_EQ(forked.length(r), length);
    EXPECT_EQ(rowSlots(forked.keys().data(), r, length),
              rowSlots(alone.keys().data(), 0, length));
    EXPECT_EQ(rowSlots(forked.values().data(), r, length),
              rowSlots(alone.values().data(), 0, length));
  }
  EXPECT_EQ(forked.length(2), 1); // the idle row restarts at 0 every step
  EXPECT_EQ(fd::inconsistentReads, 0);
  EXPECT_EQ(fd::overflows, 0);
}

TEST(DecodeLoop, RowsThatDivergedFeedLongInputsRowByRow) {
  // After different tokens the rows no longer share a sequence, so the same
  // two chunks fed to both must not be prefilled from row 0 and forked.
  fd::reset();
  Decoder decoder = makeDecoder(2);
  const std::vector<int32_t> prompt = countingTokens(3);
  const std::vector<int32_t> tail = countingTokens(2 * fd::Tc);
  feedAll(decoder, prompt);
  ASSERT_TRUE(decoder.feed({{5}, {9}}).ok());
  feedAll(decoder, tail);
  EXPECT_EQ(fd::prefillCalls, 0);
  for (int64_t r = 0; r < 2; ++r) {
    std::vector<int32_t> sequence = prompt;
    sequence.push_back(r == 0 ? 5 : 9);
    sequence.insert(sequence.end(), tail.begin(), tail.end());
    EXPECT_EQ(argmax(decoder.logits(r), fd::V), greedyTokens(sequence, 1)[0])
        << "row " << r;
  }
  EXPECT_EQ(fd::inconsistentReads, 0);
}

TEST(DecodeLoop, FeedingPastTheCapacityIsAnErrorThatFeedsNothing) {
  fd::reset();
  Decoder decoder = makeDecoder(2);
  feedAll(decoder, countingTokens(14));
  std::vector<std::vector<int32_t>> three(2, {1, 2, 3});
  Status status = decoder.feed(three);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "row 0 holds 14 tokens and has no room for 3 "
                              "more (the KV-cache capacity is 16)");
  EXPECT_EQ(decoder.length(0), 14);
  feedAll(decoder, {1, 2});
  status = decoder.feed({{1}, {1}});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(),
            "row 0 is full at 16 tokens (the KV-cache capacity)");
  EXPECT_EQ(decoder.length(1), 16);
  EXPECT_EQ(fd::overflows, 0);
}

TEST(DecodeLoop, PrefillThenStepGivesTheTeacherForcedLogits) {
  // Two chunks and a token through prefill, forked into two rows, then a
  // given continuation (different per row) one token at a time: after every
  // token each row's logits are the model's on that row's whole sequence.
  fd::reset();
  Decoder decoder = makeDecoder(2);
  const std::vector<int32_t> prompt = countingTokens(2 * fd::Tc + 1);
  feedAll(decoder, prompt);
  EXPECT_EQ(fd::prefillCalls, 2);
  int64_t promptSum = 0;
  for (int32_t token : prompt)
    promptSum += token;
  std::vector<int64_t> sums = {promptSum, promptSum};
  for (int64_t r = 0; r < 2; ++r)
    EXPECT_EQ(logitsOf(decoder, r), fakeLogits(sums[r])) << "row " << r;
  const std::vector<std::vector<int32_t>> continuation = {
      {5, 9}, {0, 127}, {64, 3}, {1, 1}};
  for (size_t i = 0; i < continuation.size(); ++i) {
    std::vector<std::vector<int32_t>> next;
    for (int64_t r = 0; r < 2; ++r) {
      next.push_back({continuation[i][r]});
      sums[r] += continuation[i][r];
    }
    ASSERT_TRUE(decoder.feed(next).ok());
    for (int64_t r = 0; r < 2; ++r)
      EXPECT_EQ(logitsOf(decoder, r), fakeLogits(sums[r]))
          << "row " << r << ", token " << i;
  }
  EXPECT_EQ(decoder.length(0), int64_t(prompt.size() + continuation.size()));
  EXPECT_EQ(fd::inconsistentReads, 0);
  EXPECT_EQ(fd::overflows, 0);
}

TEST(DecodeLoop, StepOnlyFeedsEveryTokenThroughStep) {
  // Whole chunks, which FeedPath::Prefill would prefill.
  const std::vector<int32_t> prompt = countingTokens(2 * fd::Tc);
  fd::reset();
  Decoder stepped = makeDecoder(2);
  ASSERT_TRUE(stepped.feedAll(prompt, FeedPath::StepOnly).ok());
  EXPECT_EQ(fd::prefillCalls, 0);
  EXPECT_EQ(fd::stepCalls, 2 * fd::Tc);
  Decoder chunked = makeDecoder(2);
  ASSERT_TRUE(chunked.feedAll(prompt).ok());
  EXPECT_EQ(fd::prefillCalls, 2);
  for (int64_t r = 0; r < 2; ++r) {
    EXPECT_EQ(logitsOf(stepped, r), logitsOf(chunked, r)) << "row " << r;
    EXPECT_EQ(rowSlots(stepped.keys().data(), r, 2 * fd::Tc),
              rowSlots(chunked.keys().data(), r, 2 * fd::Tc));
  }
  EXPECT_EQ(fd::inconsistentReads, 0);
}

TEST(DecodeLoop, ResetStartsNewSequences) {
  // A first conversation that diverged, then, after reset, a prompt that is
  // prefilled and forked again as by a fresh decoder.
  fd::reset();
  Decoder decoder = makeDecoder(2);
  feedAll(decoder, countingTokens(fd::Tc + 3));
  ASSERT_TRUE(decoder.feed({{5}, {9}}).ok());
  decoder.reset();
  EXPECT_EQ(decoder.length(0), 0);
  EXPECT_EQ(decoder.length(1), 0);
  const std::vector<int32_t> prompt = {7, 7, 7, 7, 7, 7, 7, 7, 2};
  const int64_t prefillsBefore = fd::prefillCalls;
  feedAll(decoder, prompt);
  EXPECT_EQ(fd::prefillCalls - prefillsBefore, 2);
  Decoder fresh = makeDecoder(2);
  feedAll(fresh, prompt);
  for (int64_t r = 0; r < 2; ++r) {
    EXPECT_EQ(decoder.length(r), int64_t(prompt.size()));
    EXPECT_EQ(logitsOf(decoder, r), fakeLogits(7 * 8 + 2)) << "row " << r;
    EXPECT_EQ(rowSlots(decoder.keys().data(), r, int64_t(prompt.size())),
              rowSlots(fresh.keys().data(), r, int64_t(prompt.size())));
    EXPECT_EQ(rowSlots(decoder.values().data(), r, int64_t(prompt.size())),
              rowSlots(fresh.values().data(), r, int64_t(prompt.size())));
  }
  EXPECT_EQ(fd::inconsistentReads, 0);
}

TEST(DecodeCheck, GreedyDecodeThroughTheDecoder) {
  // The check of `gptc verify` on the fake model: the greedy tokens and
  // every step's logits are the hand-computed ones, and prefilling the
  // prompt gives exactly the logits of stepping through it.
  fd::reset();
  Decoder decoder = makeDecoder(1);
  const std::vector<int32_t> prompt = countingTokens(fd::Tc + 1);
  const int64_t steps = 6;
  Expected<DecodeCheck> check = runDecodeCheck(decoder, prompt, steps);
  ASSERT_TRUE(check.ok()) << check.status().message();
  std::vector<int32_t> expected = greedyTokens(prompt, steps);
  EXPECT_EQ(check->tokens,
            std::vector<int64_t>(expected.begin(), expected.end()));
  EXPECT_EQ(check->chunkedPrefillDiff, 0.0f);
  ASSERT_EQ(check->stepLogits.size(), size_t(steps * fd::V));
  int64_t sum = 0;
  for (int32_t token : prompt)
    sum += token;
  for (int64_t i = 0; i < steps; ++i) {
    EXPECT_EQ(std::vector<float>(check->stepLogits.begin() + i * fd::V,
                                 check->stepLogits.begin() + (i + 1) * fd::V),
              fakeLogits(sum))
        << "step " << i;
    sum += expected[i];
  }
  // The prompt once through prefill (one chunk and a step), once through
  // step alone, then a step per generated token.
  EXPECT_EQ(fd::prefillCalls, 1);
  EXPECT_EQ(fd::stepCalls, 1 + (fd::Tc + 1) + steps);
  EXPECT_EQ(fd::inconsistentReads, 0);
  EXPECT_EQ(fd::overflows, 0);
}

TEST(DecodeCheck, APromptAndStepsPastTheCapacityAreAnError) {
  fd::reset();
  Decoder decoder = makeDecoder(1);
  Expected<DecodeCheck> check = runDecodeCheck(decoder, countingTokens(12), 5);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.status().message(),
            "the bundle's prompt and its 5 decode steps do not fit: row 0 "
            "holds 0 tokens and has no room for 17 more (the KV-cache "
            "capacity is 16)");
  EXPECT_EQ(fd::prefillCalls + fd::stepCalls, 0);
}

TEST_F(Decode, GenerationStopsAtTheCapacityWithANote) {
  // 10 prompt tokens leave 6 slots: 7 tokens, the last of them not fed.
  DecodeRun run = decode(
      withWeights({"--prompt", "0123456789", "--max-tokens", "20", "--quiet"}));
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_EQ(run.err.rfind("note: row 0 is full at 16 tokens (the KV-cache "
                          "capacity); stopped after 7 of 20 tokens "
                          "(--max-tokens); recompile with a larger "
                          "--kv-capacity for longer generations\n",
                          0),
            0u)
      << run.err;
  EXPECT_NE(run.err.find("KV cache: 1,024 bytes in use (1 row of 16 tokens)"),
            std::string::npos)
      << run.err;
  // The idle rows (2 of the 3 compiled) never overflow either.
  EXPECT_EQ(fd::overflows, 0);

  // A prompt that fills the cache still gets its one token.
  const std::string full(16, 'a');
  run =
      decode(withWeights({"--prompt", full, "--temperature", "0", "--quiet"}));
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  int32_t token = greedyTokens(std::vector<int32_t>(16, 'a'), 1)[0];
  EXPECT_EQ(run.out, formatToken(token, true) + "\n");
  EXPECT_NE(run.err.find("stopped after 1 of 128 tokens"), std::string::npos)
      << run.err;
}

TEST_F(Decode, RowsPrintTheirContinuationsAtTheEnd) {
  DecodeRun run =
      decode(withWeights({"--prompt", "hello", "--rows", "3", "--temperature",
                          "0", "--max-tokens", "4"}));
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  std::string text;
  for (int32_t token : greedyTokens({'h', 'e', 'l', 'l', 'o'}, 4))
    text += formatToken(token, true);
  EXPECT_EQ(run.out.rfind("hello\nrow 0: " + text + "\nrow 1: " + text +
                              "\nrow 2: " + text + "\nprefill 5 tokens at",
                          0),
            0u)
      << run.out;
  EXPECT_NE(run.out.find("decode 9 tokens at"), std::string::npos) << run.out;
  // One prefill chunk, then one step for the fifth token and three for the
  // generated ones.
  EXPECT_EQ(fd::prefillCalls, 1);
  EXPECT_EQ(fd::stepCalls, 4);
  EXPECT_EQ(fd::inconsistentReads, 0);
}

TEST_F(Decode, AFixedSeedIsReproducible) {
  const std::vector<std::string> flags = {"--prompt", "abc",           "--rows",
                                          "3",        "--max-tokens",  "10",
                                          "--quiet",  "--temperature", "1.0"};
  std::vector<std::string> seed5 = withWeights(flags), seed6 = seed5;
  seed5.insert(seed5.end(), {"--seed", "5"});
  seed6.insert(seed6.end(), {"--seed", "6"});
  DecodeRun first = decode(seed5), again = decode(seed5), other = decode(seed6);
  ASSERT_TRUE(first.status.ok()) << first.status.message();
  EXPECT_EQ(first.out, again.out);
  EXPECT_NE(first.out, other.out);
  EXPECT_EQ(fd::inconsistentReads, 0);
}

TEST_F(Decode, InteractiveLinesContinueTheConversation) {
  // The second line is longer than a prefill chunk with the first reply's
  // last token: the one-row cache catches up from row 0 and prefills.
  DecodeRun run = decode(withWeights({"--interactive", "--temperature", "0",
                                      "--max-tokens", "2", "--quiet"}),
                         "ab\ncdefg\n\nnot read\n");
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  std::vector<int32_t> conversation = {'a', 'b'};
  std::vector<int32_t> first = greedyTokens(conversation, 2);
  conversation.insert(conversation.end(), first.begin(), first.end());
  conversation.insert(conversation.end(), {'c', 'd', 'e', 'f', 'g'});
  std::vector<int32_t> second = greedyTokens(conversation, 2);
  std::string expected;
  for (const std::vector<int32_t> *reply : {&first, &second}) {
    for (int32_t token : *reply)
      expected += formatToken(token, true);
    expected += "\n";
  }
  EXPECT_EQ(run.out, expected);
  EXPECT_EQ(fd::prefillCalls, 1);
  EXPECT_EQ(fd::inconsistentReads, 0);
  EXPECT_NE(run.err.find("first token after"), std::string::npos);
  EXPECT_NE(run.err.find("(mean of 2 turns)"), std::string::npos) << run.err;
}

TEST_F(Decode, InteractiveLinesThatDoNotFitEndTheSessionWithAnError) {
  // 15 tokens and a reply of 2 fill the 16 slots (the reply's last token
  // waits outside the cache); the next line has no room.
  DecodeRun run = decode(withWeights({"--interactive", "--temperature", "0",
                                      "--max-tokens", "2", "--quiet"}),
                         std::string(15, 'a') + "\nb\n");
  ASSERT_FALSE(run.status.ok());
  EXPECT_EQ(run.status.message(),
            "row 0 is full at 16 tokens (the KV-cache capacity); recompile "
            "with a larger --kv-capacity for longer conversations");
  EXPECT_EQ(fd::overflows, 0);

  // A line with a byte outside the vocabulary is rejected; the session goes
  // on.
  run = decode(withWeights({"--interactive", "--quiet", "--temperature", "0",
                            "--max-tokens", "1"}),
               "\xff\nab\n");
  ASSERT_TRUE(run.status.ok()) << run.status.message();
  EXPECT_NE(run.err.find("error: line 1: byte 255 at offset 0 is not a token "
                         "of the model"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.out, "D\n"); // 'a' + 'b' + 1 = 196 = 68 mod 128
}

} // namespace
