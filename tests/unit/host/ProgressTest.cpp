//===- ProgressTest.cpp - progress lines and the metrics file -------------===//

#include "backends/host/Progress.h"

#include "TestUtil.h"

#include <gtest/gtest.h>

using namespace gptc;
using namespace gptc::host;
using namespace gptc::host::test;

namespace {

TEST(Progress, DurationsAndThousands) {
  EXPECT_EQ(formatDuration(0), "0s");
  EXPECT_EQ(formatDuration(45.4), "45s");
  EXPECT_EQ(formatDuration(62), "1m02s");
  EXPECT_EQ(formatDuration(553), "9m13s");
  EXPECT_EQ(formatDuration(3723), "1h02m03s");
  EXPECT_EQ(formatThousands(0), "0");
  EXPECT_EQ(formatThousands(999), "999");
  EXPECT_EQ(formatThousands(12345), "12,345");
  EXPECT_EQ(formatThousands(1234567), "1,234,567");
}

TEST(Progress, StepAndEvalLines) {
  StepReport step;
  step.step = 120;
  step.numSteps = 2000;
  step.loss = 2.34562;
  step.lrMultiplier = 0.84;
  step.tokensPerSecond = 12345.4;
  step.elapsedSeconds = 62;
  step.etaSeconds = 553;
  EXPECT_EQ(formatStepLine(step), "step 120/2000 | loss 2.3456 | lr x0.84 | "
                                  "12,345 tok/s | elapsed 1m02s | ETA 9m13s");
  EXPECT_EQ(stepRecord(step).serialize(),
            "{\"step\":120,\"loss\":2.34562,\"lr_mult\":0.84,"
            "\"tok_per_s\":12345.4}");
  // A data-parallel run adds its ranks and communication share.
  step.ranks = 2;
  step.commShare = 0.0834;
  EXPECT_EQ(formatStepLine(step),
            "step 120/2000 | loss 2.3456 | lr x0.84 | 12,345 tok/s on 2 "
            "ranks, comm 8.3% | elapsed 1m02s | ETA 9m13s");
  EXPECT_EQ(stepRecord(step).serialize(),
            "{\"step\":120,\"loss\":2.34562,\"lr_mult\":0.84,"
            "\"tok_per_s\":12345.4,\"ranks\":2,\"comm_share\":0.0834}");

  EvalReport eval;
  eval.step = 200;
  eval.valLoss = 1.234;
  EXPECT_EQ(formatEvalLine(eval), "eval step 200 | val loss 1.2340");
  EXPECT_EQ(evalRecord(eval).serialize(), "{\"step\":200,\"val_loss\":1.234}");
  eval.valBpb = 1.78;
  TaskScore score;
  score.problems = 1000;
  score.correct = 531;
  eval.task = score;
  EXPECT_EQ(formatEvalLine(eval), "eval step 200 | val loss 1.2340 | val bpb "
                                  "1.7800 | task accuracy 53.1% (531/1000)");
  EXPECT_EQ(evalRecord(eval).serialize(),
            "{\"step\":200,\"val_loss\":1.234,\"val_bpb\":1.78,"
            "\"task_accuracy\":0.531,\"task_problems\":1000}");
}

TEST(Progress, MetricsAreReplacedAtTheFirstRecordOrKeepTheStepsBeforeAResume) {
  TempDir dir;
  std::string path = dir / "metrics.jsonl";
  writeTestFile(path, "{\"step\":1,\"loss\":3.0}\n"
                      "{\"step\":2,\"val_loss\":2.5}\n"
                      "{\"step\":3,\"loss\":2.0}\n"
                      "{\"step\":4,\"loss\":1.5}\n"
                      "{\"step\":5,\"lo");
  {
    Expected<MetricsLog> log = MetricsLog::open(path, /*resumedStep=*/2);
    ASSERT_TRUE(log.ok()) << log.status().message();
    Json record = Json::object();
    record.set("step", Json::integer(3));
    ASSERT_TRUE(log->append(record).ok());
    EXPECT_EQ(readTestFile(path), "{\"step\":1,\"loss\":3.0}\n"
                                  "{\"step\":2,\"val_loss\":2.5}\n"
                                  "{\"step\":3}\n");
  }
  // A fresh run replaces the file with its first record, not before: a run
  // that fails earlier leaves the old metrics as they were.
  Expected<MetricsLog> fresh = MetricsLog::open(path, std::nullopt);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(readTestFile(path), "{\"step\":1,\"loss\":3.0}\n"
                                "{\"step\":2,\"val_loss\":2.5}\n"
                                "{\"step\":3}\n");
  Json record = Json::object();
  record.set("step", Json::integer(1));
  ASSERT_TRUE(fresh->append(record).ok());
  EXPECT_EQ(readTestFile(path), "{\"step\":1}\n");
}

} // namespace
