//===- TrainTest.cpp - the training program end to end on a fake model ---===//
//
// Runs the whole training host (flags, data, init, loop, evaluation,
// checkpoints, resume, errors) against FakeProgram.cpp, single-threaded so
// that runs are bitwise reproducible.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"
#include "backends/common/Json.h"
#include "backends/common/Safetensors.h"
#include "backends/host/Checkpoint.h"
#include "backends/host/StopSignals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <regex>

#include <unistd.h>

using namespace gptc;
using namespace gptc::host;
using namespace gptc::host::test;

namespace {

/// The records of a metrics file, in order.
std::vector<Json> readMetrics(const std::string &path) {
  std::vector<Json> records;
  std::string text = readTestFile(path);
  size_t begin = 0;
  for (size_t end; (end = text.find('\n', begin)) != std::string::npos;
       begin = end + 1) {
    Expected<Json> record = parseJson(text.substr(begin, end - begin), path);
    EXPECT_TRUE(record.ok()) << record.status().message();
    if (record.ok())
      records.push_back(*record);
  }
  return records;
}

/// "step:loss" of every training record and "step:val_loss" of every
/// evaluation record, as written (so equal strings are equal doubles).
std::vector<std::string> lossTrajectory(const std::string &metricsPath) {
  std::vector<std::string> trajectory;
  for (const Json &record : readMetrics(metricsPath)) {
    std::string step = record.find("step")->serialize();
    if (const Json *loss = record.find("loss"))
      trajectory.push_back(step + ":" + loss->serialize());
    if (const Json *loss = record.find("val_loss"))
      trajectory.push_back(step + ":val " + loss->serialize());
  }
  return trajectory;
}

/// Flags for a small single-threaded run on `data` into `out`.
std::vector<std::string> runFlags(const std::string &data,
                                  const std::string &out,
                                  std::vector<std::string> more = {}) {
  std::vector<std::string> flags = {"--data",    data, "--out",  out,
                                    "--threads", "1",  "--seed", "5"};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

class Train : public testing::Test {
protected:
  void SetUp() override {
    text = dir / "text.txt";
    writeTestFile(text, repetitiveText(20000));
  }

  TempDir dir;
  std::string text;
};

TEST_F(Train, LearnsAndWritesCheckpointModelAndMetrics) {
  std::string out;
  Status status = train(runFlags(text, dir / "run",
                                 {"--steps", "60", "--log-every", "10",
                                  "--eval-every", "30", "--eval-batches", "2"}),
                        &out);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(std::regex_search(
      out, std::regex("\nstep 10/60 \\| loss [0-9.]+ \\| lr x1.00 \\| "
                      "[0-9,]+ tok/s \\| elapsed [0-9ms]+ \\| ETA [0-9ms]+\n")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("\nstep 60/60 \\| loss [0-9.]+ \\| lr x0.08 \\|")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("\neval step 30 \\| val loss [0-9.]+ \\| val bpb "
                      "[0-9.]+\nsaved " +
                      dir / "run/checkpoint.safetensors" + " \\(step 30\\)\n")))
      << out;

  std::vector<Json> records = readMetrics(dir / "run/metrics.jsonl");
  ASSERT_EQ(records.size(), 8u); // 6 progress lines, 2 evaluations
  EXPECT_EQ(records[0].serialize().rfind("{\"step\":10,\"loss\":", 0), 0u);
  EXPECT_NE(records[0].find("lr_mult"), nullptr);
  EXPECT_NE(records[0].find("tok_per_s"), nullptr);
  const Json &eval = records[3];
  EXPECT_EQ(eval.find("step")->getInteger(), 30);
  EXPECT_NEAR(eval.find("val_bpb")->getNumber(),
              eval.find("val_loss")->getNumber() / std::log(2.0), 1e-9);
  // The fake bigram model learns: from ln(128) = 4.85 to well below.
  double first = records[0].find("loss")->getNumber();
  double last = records[6].find("loss")->getNumber();
  EXPECT_LT(last, first - 1.0) << first << " -> " << last;
  EXPECT_LT(records[7].find("val_loss")->getNumber(), 3.0);

  Expected<CheckpointState> state = readCheckpointState(
      dir / "run/checkpoint.safetensors", train_step_program);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->step, 60);
  EXPECT_EQ(state->flags.at("data"), text);
  EXPECT_EQ(state->flags.at("optimizer"), "muon");
  EXPECT_EQ(state->flags.at("seed"), "5");
  EXPECT_EQ(state->flags.at("batch"), "2");
  EXPECT_FALSE(readTestFile(dir / "run/model.safetensors").empty());
}

TEST_F(Train, TaskDataReportsHeldOutAccuracy) {
  std::string out;
  Status status = train(runFlags("task:add", dir / "run",
                                 {"--steps", "4", "--eval-batches", "3"}),
                        &out);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_TRUE(std::regex_search(
      out, std::regex("eval step 4 \\| val loss [0-9.]+ \\| val bpb [0-9.]+ "
                      "\\| task accuracy [0-9.]+% \\([0-9]+/[0-9]+\\)")))
      << out;
  Json eval = readMetrics(dir / "run/metrics.jsonl").back();
  double accuracy = eval.find("task_accuracy")->getNumber();
  EXPECT_GE(accuracy, 0.0);
  EXPECT_LE(accuracy, 1.0);
  // 3 batches of 2 windows of 17 tokens hold at least one whole problem each.
  EXPECT_GE(*eval.find("task_problems")->getInteger(), 6);
}

TEST_F(Train, TokenFilesHaveNoBitsPerByte) {
  std::string bytes = "GPTCTOK1";
  uint32_t width = 2;
  bytes.append(reinterpret_cast<const char *>(&width), 4);
  for (uint16_t i = 0; i < 2000; ++i) {
    uint16_t token = i % 100;
    bytes.append(reinterpret_cast<const char *>(&token), 2);
  }
  writeTestFile(dir / "tokens.bin", bytes);
  std::string out;
  Status status =
      train(runFlags(dir / "tokens.bin", dir / "run", {"--steps", "3"}), &out);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(out.find("bpb"), std::string::npos);
  Json eval = readMetrics(dir / "run/metrics.jsonl").back();
  EXPECT_NE(eval.find("val_loss"), nullptr);
  EXPECT_EQ(eval.find("val_bpb"), nullptr);
}

TEST_F(Train, GradientAccumulationRunsBatchOverBMicroBatches) {
  std::string out;
  Status status = train(
      runFlags(text, dir / "run", {"--steps", "5", "--batch", "6"}), &out);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(fake::trainStepCalls, 15);
  EXPECT_NE(out.find("5 steps of 6 sequences (3 micro-batches), 96 tokens "
                     "per step"),
            std::string::npos)
      << out;
}

TEST_F(Train, SavesEveryNStepsAndAtTheEnd) {
  std::string out;
  Status status = train(
      runFlags(text, dir / "run", {"--steps", "5", "--save-every", "2"}), &out);
  ASSERT_TRUE(status.ok()) << status.message();
  std::string saved = "saved " + dir / "run/checkpoint.safetensors";
  EXPECT_NE(out.find(saved + " (step 2)"), std::string::npos);
  EXPECT_NE(out.find(saved + " (step 4)"), std::string::npos);
  EXPECT_NE(out.find(saved + " (step 5)"), std::string::npos);
  EXPECT_EQ(out.find(saved + " (step 3)"), std::string::npos);
}

TEST_F(Train, ResumeReproducesTheUninterruptedLossTrajectoryBitwise) {
  const std::vector<std::string> flags = {
      "--steps",      "20", "--batch",      "4",  "--log-every",    "1",
      "--eval-every", "5",  "--save-every", "10", "--eval-batches", "2"};
  ASSERT_TRUE(train(runFlags(text, dir / "a", flags)).ok());

  // The same run, stopped by a NaN loss in step 15 (its first micro-batch is
  // train_step call 28), keeps its checkpoint of step 10.
  std::string checkpoint = dir / "b/checkpoint.safetensors";
  Status stopped = train(runFlags(text, dir / "b", flags), nullptr, 28);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.message(),
            "step 15: the loss is nan; stopping without saving. The last "
            "good checkpoint is " +
                checkpoint + " (step 10)");
  Expected<CheckpointState> state =
      readCheckpointState(checkpoint, train_step_program);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->step, 10);

  // --resume alone continues with the recorded flags.
  std::string out;
  Status resumed = train({"--resume", dir / "b", "--threads", "1"}, &out);
  ASSERT_TRUE(resumed.ok()) << resumed.message();
  EXPECT_NE(out.find("resuming " + checkpoint + " at step 10"),
            std::string::npos);
  EXPECT_EQ(out.find("step 10/20"), std::string::npos);
  EXPECT_NE(out.find("step 11/20"), std::string::npos);

  std::vector<std::string> expected = lossTrajectory(dir / "a/metrics.jsonl");
  ASSERT_EQ(expected.size(), 24u); // 20 steps, 4 evaluations
  EXPECT_EQ(lossTrajectory(dir / "b/metrics.jsonl"), expected);
  EXPECT_EQ(readTestFile(checkpoint),
            readTestFile(dir / "a/checkpoint.safetensors"));
  EXPECT_EQ(readTestFile(dir / "b/model.safetensors"),
            readTestFile(dir / "a/model.safetensors"));
}

TEST_F(Train, NanBeforeAnyCheckpointSavesNothing) {
  Status status =
      train(runFlags(text, dir / "run", {"--steps", "5"}), nullptr, 0);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "step 1: the loss is nan; stopping without "
                              "saving; no checkpoint was written yet");
  EXPECT_NE(::access((dir / "run/checkpoint.safetensors").c_str(), F_OK), 0);
  EXPECT_NE(::access((dir / "run/model.safetensors").c_str(), F_OK), 0);
}

TEST_F(Train, OverwriteReplacesARunOnlyWithNewerFiles) {
  ASSERT_TRUE(train(runFlags(text, dir / "run", {"--steps", "4"})).ok());
  std::string metrics = readTestFile(dir / "run/metrics.jsonl");
  std::string checkpoint = readTestFile(dir / "run/checkpoint.safetensors");

  // A run that fails in its first step leaves every file as it was.
  Status failed = train(
      runFlags(text, dir / "run", {"--steps", "6", "--overwrite"}), nullptr, 0);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(readTestFile(dir / "run/metrics.jsonl"), metrics);
  EXPECT_EQ(readTestFile(dir / "run/checkpoint.safetensors"), checkpoint);

  Status replaced =
      train(runFlags(text, dir / "run",
                     {"--steps", "6", "--log-every", "1", "--overwrite"}));
  ASSERT_TRUE(replaced.ok()) << replaced.message();
  Expected<CheckpointState> state = readCheckpointState(
      dir / "run/checkpoint.safetensors", train_step_program);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->step, 6);
  std::vector<Json> records = readMetrics(dir / "run/metrics.jsonl");
  EXPECT_EQ(records.back().find("step")->serialize(), "6");
  EXPECT_EQ(records.front().find("step")->serialize(), "1");
}

TEST_F(Train, ModelFileRecordsItsStep) {
  ASSERT_TRUE(
      train(runFlags(text, dir / "run", {"--steps", "7", "--save-every", "5"}))
          .ok());
  Expected<SafetensorsFile> model =
      SafetensorsFile::open(dir / "run/model.safetensors");
  ASSERT_TRUE(model.ok());
  ASSERT_NE(model->findMetadata("step"), nullptr);
  EXPECT_EQ(*model->findMetadata("step"), "7");
}

/// SIGINT, SIGTERM and SIGHUP in the middle of a step: the step finishes,
/// a checkpoint is saved, the exit status is 128 + the signal, and --resume
/// continues exactly as if nothing had happened.
TEST_F(Train, StopSignalsSaveAtTheStepBoundaryAndResumeExactly) {
  const std::vector<std::string> flags = {
      "--steps", "12", "--batch", "4", "--log-every", "1", "--eval-every", "6"};
  ASSERT_TRUE(train(runFlags(text, dir / "whole", flags)).ok());
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    std::string out, run = dir / ("signal" + std::to_string(signal));
    fake::signalToRaise = signal;
    fake::signalAtCall = 6; // the first micro-batch of step 4
    int exitCode = 0;
    Status stopped = train(runFlags(text, run, flags), &out, -1, &exitCode);
    fake::signalAtCall = -1;
    ASSERT_TRUE(stopped.ok()) << stopped.message();
    EXPECT_EQ(exitCode, 128 + signal);
    EXPECT_NE(out.find(std::string("stopped by ") + stopSignalName(signal) +
                       " after step 4 of 12; continue with --resume " + run),
              std::string::npos)
        << out;
    Expected<CheckpointState> state = readCheckpointState(
        run + "/checkpoint.safetensors", train_step_program);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(state->step, 4);

    Status resumed =
        train({"--resume", run, "--threads", "1"}, nullptr, -1, &exitCode);
    ASSERT_TRUE(resumed.ok()) << resumed.message();
    EXPECT_EQ(exitCode, 0);
    EXPECT_EQ(lossTrajectory(run + "/metrics.jsonl"),
              lossTrajectory(dir / "whole/metrics.jsonl"));
    EXPECT_EQ(readTestFile(run + "/checkpoint.safetensors"),
              readTestFile(dir / "whole/checkpoint.safetensors"));
  }
}

TEST_F(Train, InitWeightsStartsFromAModelFile) {
  ASSERT_TRUE(train(runFlags(text, dir / "first", {"--steps", "30"})).ok());
  std::string out;
  Status status = train(runFlags(text, dir / "second",
                                 {"--steps", "1", "--init-weights",
                                  dir / "first/model.safetensors"}),
                        &out);
  ASSERT_TRUE(status.ok()) << status.message();
  // Starting from trained weights, the first loss is far below ln(128).
  double loss =
      readMetrics(dir / "second/metrics.jsonl")[0].find("loss")->getNumber();
  EXPECT_LT(loss, 3.0);

  writeTestFile(dir / "empty.safetensors",
                std::string("\x02\0\0\0\0\0\0\0{}", 10));
  status = train(runFlags(text, dir / "third",
                          {"--init-weights", dir / "empty.safetensors"}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().rfind(dir / "empty.safetensors" +
                                       ": no tensor 'transformer.wte.weight'",
                                   0),
            0u)
      << status.message();
}

TEST_F(Train, MainPrintsOneErrorLineAndReturnsOne) {
  std::string arg0 = "gptc-train", data = "--data=" + text, batch = "--batch=3";
  char *argv[] = {arg0.data(), data.data(), batch.data()};
  testing::internal::CaptureStderr();
  int rc = trainMain(3, argv);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(err, "gptc-train: error: --batch 3 is not a multiple of the "
                 "compiled batch size B = 2 (sequences per train_step call); "
                 "use a multiple of 2 or recompile with another --batch\n");
}

/// Every bad input stops with one line before anything in the output
/// folder changes.
TEST_F(Train, BadInputsStopBeforeTouchingTheOutputFolder) {
  const std::string good = dir / "good";
  ASSERT_TRUE(train(runFlags(text, good, {"--steps", "3"})).ok());
  const std::string checkpoint = good + "/checkpoint.safetensors";
  const std::string checkpointBytes = readTestFile(checkpoint);
  const std::string metricsBytes = readTestFile(good + "/metrics.jsonl");

  std::string badByte = repetitiveText(20000);
  badByte[777] = char(200);
  writeTestFile(dir / "bad-byte.txt", badByte);
  writeTestFile(dir / "empty.txt", "");
  writeTestFile(dir / "short.txt", repetitiveText(60));
  std::string tokens = "GPTCTOK1";
  uint32_t width = 4;
  tokens.append(reinterpret_cast<const char *>(&width), 4);
  for (uint32_t token : {1u, 2u, 3u, 500u})
    tokens.append(reinterpret_cast<const char *>(&token), 4);
  writeTestFile(dir / "tokens.bin", tokens);
  writeTestFile(dir / "file", "x");
  // A checkpoint of another model, and a truncated one.
  float value = 0;
  const std::string otherConfig = "{\"n_embd\":16,\"name\":\"other\"}";
  ASSERT_TRUE(::mkdir((dir / "other").c_str(), 0755) == 0);
  ASSERT_TRUE(writeSafetensors(dir / "other/checkpoint.safetensors",
                               {{"x", DType::F32, {1}, &value}},
                               {{"format", kCheckpointFormat},
                                {"config", otherConfig},
                                {"step", "1"},
                                {"rng", "1"}})
                  .ok());
  ASSERT_TRUE(::mkdir((dir / "cut").c_str(), 0755) == 0);
  writeTestFile(dir / "cut/checkpoint.safetensors",
                checkpointBytes.substr(0, checkpointBytes.size() / 2));

  struct Case {
    std::vector<std::string> args;
    std::string message; // the whole message, or its start when ending "..."
  };
  const std::string config = train_step_program.config;
  const std::vector<Case> cases = {
      {{"--data", dir / "none.txt", "--out", good},
       dir / "none.txt" + ": cannot open: No such file or directory"},
      {{"--data", dir / "empty.txt", "--out", good},
       dir / "empty.txt" + ": the data file is empty"},
      {{"--data", dir / "bad-byte.txt", "--out", good},
       dir / "bad-byte.txt" + ": byte 200 at offset 777 is not a token of the "
                              "model: the byte-level tokenizer needs every "
                              "byte below vocab_size 128"},
      {{"--data", dir / "tokens.bin", "--out", good},
       dir / "tokens.bin" + ": token 500 at index 3 is outside the model's "
                            "vocabulary of 128"},
      {{"--data", dir / "short.txt", "--out", good},
       dir / "short.txt" + ": 60 tokens are too few: the training split has "
                           "54 and the held-out split (--val-fraction 0.1) "
                           "6, and each needs one window of T+1 = 17 tokens"},
      {{"--data", text, "--out", good, "--val-fraction", "0.0001"},
       text + ": 20000 tokens are too few: the training split has 19998 and "
              "the held-out split (--val-fraction 0.0001) 2, and each needs "
              "one window of T+1 = 17 tokens"},
      {{"--data", text, "--out", good, "--batch", "5"},
       "--batch 5 is not a multiple of the compiled batch size B = 2 "
       "(sequences per train_step call); use a multiple of 2 or recompile "
       "with another --batch"},
      {{"--resume", dir / "other"},
       "checkpoint " + dir / "other/checkpoint.safetensors" +
           " was written for model " + otherConfig +
           ", this program is compiled for " + config},
      {{"--resume", dir / "cut", "--out", good},
       dir / "cut/checkpoint.safetensors: ..."},
      {{"--resume", good, "--optimizer", "adamw"},
       "checkpoint " + checkpoint +
           " holds the state of the muon optimizer; "
           "it cannot continue with --optimizer "
           "adamw"},
      {{"--resume", good},
       "checkpoint " + checkpoint +
           " is at step 3, the end of a run of "
           "--steps 3; pass a larger --steps to "
           "train on"},
      {{"--resume", good, "--steps", "9", "--init-weights",
        good + "/model.safetensors"},
       "--resume and --init-weights exclude each other: a resumed run "
       "continues from its checkpoint"},
      {{"--data", text, "--out", dir / "file/sub"},
       "cannot create the output folder '" + dir / "file/sub" +
           "': Not a directory"},
      {{"--out", good}, "missing --data; see --help"},
      {{"--data", text, "--out", good, "--optimizer", "sgd"},
       "option '--optimizer' must be muon or adamw, got 'sgd'"},
      {{"--data", text, "--out", good, "--steps", "0"},
       "option '--steps' must be in [1, 1099511627776], got 0"},
      // Flags are read strictly: given empty, with trailing characters or
      // beyond their range they are errors, not 0 or a default.
      {{"--data", text, "--out", good, "--steps", ""},
       "option '--steps' expects an integer, got ''"},
      {{"--data", text, "--out", good, "--batch="},
       "option '--batch' expects an integer, got ''"},
      {{"--data", text, "--out", good, "--seed", "", "--overwrite"},
       "option '--seed' expects an integer, got ''"},
      {{"--data", text, "--out", good, "--threads", "", "--overwrite"},
       "option '--threads' expects an integer, got ''"},
      {{"--data", text, "--out", good, "--steps", "5x"},
       "option '--steps' expects an integer, got '5x'"},
      {{"--data", text, "--out", good, "--steps", " 5"},
       "option '--steps' expects an integer, got ' 5'"},
      {{"--data", text, "--out", good, "--steps", "99999999999999999999"},
       "option '--steps' must be in [1, 1099511627776], got "
       "99999999999999999999"},
      {{"--data", text, "--out", good, "--threads", "100000"},
       "option '--threads' must be in [1, 1024], got 100000"},
      {{"--data", text, "--out", good, "--batch", "4000000000000"},
       "option '--batch' must be in [1, 2097152], got 4000000000000"},
      {{"--data", text, "--out", good, "--eval-batches", "4000000000000"},
       "option '--eval-batches' must be in [1, 1048576], got 4000000000000"},
      {{"--data", text, "--out", good, "--lr-scale", ""},
       "option '--lr-scale' expects a number, got ''"},
      {{"--data", text, "--out", good, "--overwrite=yes"},
       "option '--overwrite' takes no value"},
      // A fresh run into a folder holding a run.
      {{"--data", text, "--out", good},
       "the output folder '" + good +
           "' holds a run (checkpoint.safetensors); "
           "continue it with --resume " +
           good +
           ", choose another --out, or pass "
           "--overwrite to replace it"},
      {{"--resume", good, "--steps", "9", "--out", dir / "other"},
       "the output folder '" + dir / "other" +
           "' holds a run "
           "(checkpoint.safetensors); continue it with --resume " +
           dir / "other" +
           ", choose another --out, or pass --overwrite to replace it"},
  };
  for (const Case &c : cases) {
    Status status = train(c.args);
    ASSERT_FALSE(status.ok()) << c.message;
    if (c.message.size() > 3 &&
        c.message.compare(c.message.size() - 3, 3, "...") == 0)
      EXPECT_EQ(
          status.message().rfind(c.message.substr(0, c.message.size() - 3), 0),
          0u)
          << status.message();
    else
      EXPECT_EQ(status.message(), c.message);
    EXPECT_EQ(status.message().find('\n'), std::string::npos);
    EXPECT_EQ(readTestFile(checkpoint), checkpointBytes) << c.message;
    EXPECT_EQ(readTestFile(good + "/metrics.jsonl"), metricsBytes) << c.message;
  }
}

} // namespace
