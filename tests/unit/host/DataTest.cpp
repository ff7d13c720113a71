//===- DataTest.cpp - data files, synthetic tasks, batches, the RNG -------===//

#include "backends/host/Data.h"

#include "TestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>
#include <set>

using namespace gptc;
using namespace gptc::host;
using namespace gptc::host::test;

namespace {

DataOptions options(int64_t vocab = 128, int64_t window = 17) {
  DataOptions result;
  result.vocab = vocab;
  result.window = window;
  result.valFraction = 0.1;
  result.seed = 7;
  return result;
}

/// A GPTCTOK1 file holding `tokens` at `width` bytes each.
std::string tokenFile(const std::vector<uint32_t> &tokens, uint32_t width) {
  std::string bytes = kTokenFileMagic;
  bytes.append(reinterpret_cast<const char *>(&width), 4);
  for (uint32_t token : tokens)
    bytes.append(reinterpret_cast<const char *>(&token), width);
  return bytes;
}

std::string loadError(const std::string &spec, const DataOptions &opts) {
  Expected<Dataset> data = loadDataset(spec, opts);
  return data.ok() ? "(loaded)" : data.status().message();
}

TEST(Data, TextBytesAreTokensAndTheLastTenthIsHeldOut) {
  TempDir dir;
  std::string text = repetitiveText(1000);
  writeTestFile(dir / "a.txt", text);
  Expected<Dataset> data = loadDataset(dir / "a.txt", options());
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->kind, DataKind::Text);
  EXPECT_TRUE(data->isByteLevel());
  ASSERT_EQ(data->train.size(), 900u);
  ASSERT_EQ(data->val.size(), 100u);
  for (size_t i = 0; i < text.size(); ++i)
    EXPECT_EQ(i < 900 ? data->train[i] : data->val[i - 900],
              int32_t(static_cast<unsigned char>(text[i])));
}

TEST(Data, TextByteOutsideTheVocabularyNamesFileAndOffset) {
  TempDir dir;
  std::string text = repetitiveText(1000);
  text[123] = char(200);
  writeTestFile(dir / "a.txt", text);
  EXPECT_EQ(loadError(dir / "a.txt", options()),
            dir / "a.txt" +
                ": byte 200 at offset 123 is not a token of the model: the "
                "byte-level tokenizer needs every byte below vocab_size 128");
}

TEST(Data, MissingAndEmptyFiles) {
  TempDir dir;
  EXPECT_EQ(loadError(dir / "none.txt", options()),
            dir / "none.txt" + ": cannot open: No such file or directory");
  writeTestFile(dir / "empty.txt", "");
  EXPECT_EQ(loadError(dir / "empty.txt", options()),
            dir / "empty.txt" + ": the data file is empty");
}

TEST(Data, TokenFilesOfTwoAndFourBytesPerToken) {
  TempDir dir;
  std::vector<uint32_t> tokens;
  for (uint32_t i = 0; i < 500; ++i)
    tokens.push_back(i * 7 % 300);
  for (uint32_t width : {2u, 4u}) {
    std::string path = dir / ("t" + std::to_string(width) + ".bin");
    writeTestFile(path, tokenFile(tokens, width));
    Expected<Dataset> data = loadDataset(path, options(/*vocab=*/300));
    ASSERT_TRUE(data.ok()) << data.status().message();
    EXPECT_EQ(data->kind, DataKind::TokenFile);
    EXPECT_FALSE(data->isByteLevel());
    ASSERT_EQ(data->train.size(), 450u);
    ASSERT_EQ(data->val.size(), 50u);
    for (size_t i = 0; i < tokens.size(); ++i)
      EXPECT_EQ(i < 450 ? data->train[i] : data->val[i - 450],
                int32_t(tokens[i]));
  }
}

TEST(Data, TokenFileErrors) {
  TempDir dir;
  std::vector<uint32_t> tokens(100, 5);
  tokens[42] = 128;
  writeTestFile(dir / "big.bin", tokenFile(tokens, 2));
  EXPECT_EQ(loadError(dir / "big.bin", options()),
            dir / "big.bin" +
                ": token 128 at index 42 is outside the model's vocabulary "
                "of 128");

  writeTestFile(dir / "width.bin", tokenFile({1, 2, 3}, 3));
  EXPECT_EQ(loadError(dir / "width.bin", options()),
            dir / "width.bin" + ": GPTCTOK1 bytes-per-token is 3, expected "
                                "2 or 4");

  writeTestFile(
      dir / "odd.bin",
      tokenFile(std::vector<uint32_t>(100, 1), 4).substr(0, 12 + 4 * 50 + 3));
  EXPECT_EQ(loadError(dir / "odd.bin", options()),
            dir / "odd.bin" + ": GPTCTOK1 token data is 203 bytes, not a "
                              "multiple of 4 bytes per token (truncated "
                              "file?)");

  writeTestFile(dir / "header.bin", "GPTCTOK1\x02");
  EXPECT_EQ(loadError(dir / "header.bin", options()),
            dir / "header.bin" + ": truncated GPTCTOK1 header: 9 bytes, "
                                 "expected 12");
}

TEST(Data, TooLittleDataForAWindowInEitherSplit) {
  TempDir dir;
  // 100 tokens: 90 to train on, 10 held out; a window needs 17.
  writeTestFile(dir / "short.txt", repetitiveText(100));
  EXPECT_EQ(loadError(dir / "short.txt", options()),
            dir / "short.txt" +
                ": 100 tokens are too few: the training split has 90 and the "
                "held-out split (--val-fraction 0.1) 10, and each needs one "
                "window of T+1 = 17 tokens");
  DataOptions wide = options(128, 200);
  writeTestFile(dir / "long.txt", repetitiveText(1000));
  EXPECT_NE(loadError(dir / "long.txt", wide).find("too few"),
            std::string::npos);
}

TEST(Data, AddTaskProblemsAreCorrectSums) {
  Expected<Dataset> data = loadDataset("task:add", options());
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->kind, DataKind::Task);
  EXPECT_TRUE(data->isByteLevel());
  EXPECT_EQ(data->answerMarker, '=');
  EXPECT_GE(data->train.size(), size_t(1) << 20);
  std::string val(data->val.begin(), data->val.end());
  std::regex problem("([0-9]{1,3})\\+([0-9]{1,3})=([0-9]{1,4})\n");
  std::set<int> digitCounts;
  ASSERT_FALSE(data->valProblemStarts.empty());
  EXPECT_EQ(data->valProblemStarts[0], 0);
  for (size_t i = 0; i < data->valProblemStarts.size(); ++i) {
    size_t begin = data->valProblemStarts[i];
    size_t end = i + 1 < data->valProblemStarts.size()
                     ? data->valProblemStarts[i + 1]
                     : val.size();
    std::smatch match;
    std::string text = val.substr(begin, end - begin);
    ASSERT_TRUE(std::regex_match(text, match, problem)) << text;
    EXPECT_EQ(std::stoi(match[1]) + std::stoi(match[2]), std::stoi(match[3]));
    digitCounts.insert(int(match[1].length()));
  }
  EXPECT_EQ(digitCounts, (std::set<int>{1, 2, 3}));
}

TEST(Data, CopyTaskProblemsRepeatTheirWord) {
  Expected<Dataset> data = loadDataset("task:copy", options(128, 18));
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_EQ(data->answerMarker, '>');
  std::string train(data->train.begin(), data->train.end());
  std::regex problem("([a-z]{3,8})>([a-z]{3,8})\n");
  size_t begin = 0;
  for (int i = 0; i < 1000; ++i) {
    size_t end = train.find('\n', begin) + 1;
    std::smatch match;
    std::string text = train.substr(begin, end - begin);
    ASSERT_TRUE(std::regex_match(text, match, problem)) << text;
    EXPECT_EQ(match[1], match[2]);
    begin = end;
  }
}

TEST(Data, TasksAreDeterministicPerSeedWithASeparateHeldOutStream) {
  Expected<Dataset> a = loadDataset("task:add", options());
  Expected<Dataset> b = loadDataset("task:add", options());
  DataOptions otherSeed = options();
  otherSeed.seed = 8;
  Expected<Dataset> c = loadDataset("task:add", otherSeed);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->train, b->train);
  EXPECT_EQ(a->val, b->val);
  EXPECT_NE(a->train, c->train);
  // The held-out stream is not a copy of the training stream's start.
  EXPECT_FALSE(std::equal(a->val.begin(), a->val.end(), a->train.begin()));
  // Held out: 10% of the total.
  EXPECT_NEAR(double(a->val.size()) / (a->val.size() + a->train.size()), 0.1,
              0.001);
}

TEST(Data, TaskErrors) {
  EXPECT_EQ(loadError("task:mul", options()),
            "--data task:mul: unknown task 'mul'; the tasks are task:add "
            "and task:copy");
  EXPECT_EQ(loadError("task:copy", options(128, 10)),
            "--data task:copy: problems take up to 18 tokens, more than one "
            "window of T+1 = 10 tokens");
  std::string lettersTooLarge =
      loadError("task:copy", options(/*vocab=*/100, 18));
  EXPECT_EQ(lettersTooLarge.rfind("task:copy: byte ", 0), 0u);
  EXPECT_NE(lettersTooLarge.find("is not a token of the model: the byte-level "
                                 "tokenizer needs every byte below vocab_size "
                                 "100"),
            std::string::npos);
}

TEST(Random, StreamsAreDeterministicAndDistinct) {
  Rng a(42), b(42);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(a.next(), b.next());
  // splitmix64's first output for seed 0 (Vigna's reference code).
  EXPECT_EQ(Rng(0).next(), 0xe220a8397b1dcdafull);
  EXPECT_NE(Rng::forStream(1, "batches").next(),
            Rng::forStream(1, "task-train").next());
  EXPECT_NE(Rng::forStream(1, "batches").next(),
            Rng::forStream(2, "batches").next());
  // A copy of the state continues the same sequence.
  Rng c = a;
  Rng d(a.getState());
  EXPECT_EQ(c.next(), d.next());
}

TEST(Random, BelowUniformAndNormal) {
  Rng rng(3);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i)
    ++counts[rng.below(7)];
  for (int count : counts)
    EXPECT_NEAR(count, 10000, 400);
  double sum = 0, squares = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    double x = rng.normal();
    sum += x;
    squares += x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.02);
  EXPECT_NEAR(squares / n, 1.0, 0.02);
}

TEST(Batches, RandomWindowsAreShiftedByOneAndReproducible) {
  std::vector<int32_t> split(100);
  for (int32_t i = 0; i < 100; ++i)
    split[i] = i;
  const int64_t B = 4, T = 9;
  std::vector<int32_t> tokens(B * T), targets(B * T), again(B * T),
      unused(B * T);
  Rng rng(11);
  Rng replay(rng.getState());
  std::set<int32_t> starts;
  for (int round = 0; round < 200; ++round) {
    sampleBatch(split, B, T, rng, tokens.data(), targets.data());
    sampleBatch(split, B, T, replay, again.data(), unused.data());
    ASSERT_EQ(tokens, again);
    for (int64_t b = 0; b < B; ++b) {
      starts.insert(tokens[b * T]);
      for (int64_t t = 0; t < T; ++t) {
        EXPECT_EQ(tokens[b * T + t], tokens[b * T] + t);
        EXPECT_EQ(targets[b * T + t], tokens[b * T + t] + 1);
      }
    }
  }
  // Every start 0 .. N-T-1 = 90 occurs, and no later one.
  EXPECT_EQ(starts.size(), 91u);
  EXPECT_EQ(*starts.rbegin(), 90);
}

TEST(Batches, EvalWindowsAreFixedAndEvenlySpaced) {
  Dataset data;
  data.val.resize(117);
  std::vector<int64_t> starts = evalWindowStarts(data, 5, 16);
  EXPECT_EQ(starts, (std::vector<int64_t>{0, 20, 40, 60, 80}));
  EXPECT_LE(starts.back() + 17, 117);

  Expected<Dataset> task = loadDataset("task:add", options());
  ASSERT_TRUE(task.ok());
  std::vector<int64_t> taskStarts = evalWindowStarts(*task, 16, 16);
  for (int64_t start : taskStarts) {
    EXPECT_TRUE(std::binary_search(task->valProblemStarts.begin(),
                                   task->valProblemStarts.end(), start));
    EXPECT_LE(start + 17, int64_t(task->val.size()));
  }
  EXPECT_TRUE(std::is_sorted(taskStarts.begin(), taskStarts.end()));
}

TEST(Batches, TaskAccuracyCountsWholeProblemsWithEveryAnswerTokenRight) {
  Dataset data;
  data.kind = DataKind::Task;
  data.answerMarker = '=';
  std::string text = "1+2=3\n10+5=15\n7+7=14\n";
  data.val.assign(text.begin(), text.end());
  data.valProblemStarts = {0, 6, 14};
  const int64_t T = 13, V = 128;
  // A window of T+1 = 14 tokens at 0 holds the first two problems wholly.
  std::vector<float> logits(T * V, 0.0f); // [T, V]
  auto predict = [&](int64_t row, char token) {
    std::fill(&logits[row * V], &logits[(row + 1) * V], 0.0f);
    logits[row * V + token] = 1;
  };
  for (int64_t i = 0; i < T; ++i)
    predict(i, text[i + 1]); // a perfect teacher-forced model
  TaskScore score;
  scoreTaskWindow(data, 0, T, V, logits.data(), score);
  EXPECT_EQ(score.problems, 2);
  EXPECT_EQ(score.correct, 2);
  EXPECT_EQ(score.scoredUpTo, 14);

  // Wrong question tokens do not matter; a wrong answer digit or newline does.
  predict(0, 'x'); // row 0 predicts '+' of "1+2": question, ignored
  predict(4, '7'); // row 4 predicts the newline after "3": answer, wrong
  score = TaskScore();
  scoreTaskWindow(data, 0, T, V, logits.data(), score);
  EXPECT_EQ(score.problems, 2);
  EXPECT_EQ(score.correct, 1);

  // A later overlapping window does not count a problem twice.
  std::vector<float> shifted(T * V, 0.0f);
  scoreTaskWindow(data, 6, T, V, shifted.data(), score);
  EXPECT_EQ(score.problems, 2);
}

TEST(BitsPerByte, CountsTokenBytesAndSkipsSpecialAndIgnoredTargets) {
  // A tokenizer of the 256 bytes, "ab" (id 256, 2 bytes) and a special 257.
  std::vector<std::pair<std::string, uint32_t>> ranks;
  for (int b = 0; b < 256; ++b)
    ranks.emplace_back(std::string(1, char(b)), uint32_t(b));
  ranks.emplace_back("ab", 256);
  Expected<Tokenizer> tok =
      Tokenizer::create(ranks, "\\S+", {{"<|bos|>", 257}}, "test");
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const int64_t T = 4, V = 258;
  std::vector<float> logits(T * V, 0.0f); // [T, V]: uniform rows...
  logits[1 * V + 256] = 2.0f;             // ...but row 1 favours "ab"
  const int32_t targets[T] = {'a', 256, 257, -1};
  ByteCount count;
  countBitsPerByte(logits.data(), targets, T, V, *tok, count);
  // Row 0: ln V nats for 1 byte; row 1: ln(V - 1 + e^2) - 2 nats for 2 bytes;
  // the special token and the ignored target count nothing.
  double row1 = std::log(double(V - 1) + std::exp(2.0)) - 2.0;
  EXPECT_EQ(count.bytes, 3);
  EXPECT_NEAR(count.nats, std::log(double(V)) + row1, 1e-9);
  EXPECT_NEAR(count.bitsPerByte(),
              (std::log(double(V)) + row1) / (std::log(2.0) * 3), 1e-12);
}

} // namespace
