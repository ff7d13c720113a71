//===- CheckpointTest.cpp - checkpoint and model files, output folders ----===//

#include "backends/host/Checkpoint.h"

#include "TestUtil.h"
#include "backends/common/Safetensors.h"
#include "backends/host/HostCommon.h"
#include "backends/host/Init.h"
#include "backends/host/Random.h"

#include <gtest/gtest.h>

#include <cstring>

#include <sys/stat.h>
#include <unistd.h>

using namespace gptc;
using namespace gptc::host;
using namespace gptc::host::test;

namespace {

const ProgramInfo &program = train_step_program;

/// An optimizer that has taken one step from initialised parameters.
struct TrainedState {
  AlignedBuffer params = allocateBuffer(program.paramBytes);
  Optimizer optimizer =
      std::move(*Optimizer::create(program, OptimizerKind::Muon, fake::C, 1.0));

  TrainedState() {
    EXPECT_TRUE(initParameters(program, 3, params.get()).ok());
    AlignedBuffer grads = allocateBuffer(program.paramBytes);
    Rng rng(9);
    float *g = view<float>(grads.get(), 0);
    for (int64_t i = 0; i < program.paramBytes / 4; ++i)
      g[i] = float(0.01 * rng.normal());
    optimizer.step(params.get(), grads.get(), 1.0, 0);
  }
};

CheckpointState sampleState() {
  CheckpointState state;
  state.step = 7;
  state.rngState = 0xfedcba9876543210ull;
  state.flags = {{"data", "task:add"}, {"optimizer", "muon"}, {"batch", "4"}};
  return state;
}

TEST(Checkpoint, RoundTripOfParametersOptimizerStateAndMetadata) {
  TempDir dir;
  TrainedState saved;
  std::string path = dir / kCheckpointFile;
  ASSERT_TRUE(saveCheckpoint(path, program, saved.params.get(), saved.optimizer,
                             sampleState())
                  .ok());

  Expected<CheckpointState> state = readCheckpointState(path, program);
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_EQ(state->step, 7);
  EXPECT_EQ(state->rngState, 0xfedcba9876543210ull);
  EXPECT_EQ(state->flags, sampleState().flags);

  AlignedBuffer params = allocateBuffer(program.paramBytes);
  Optimizer optimizer =
      std::move(*Optimizer::create(program, OptimizerKind::Muon, fake::C, 1.0));
  ASSERT_TRUE(loadCheckpoint(path, program, params.get(), optimizer).ok());
  EXPECT_EQ(std::memcmp(params.get(), saved.params.get(), program.paramBytes),
            0);
  std::vector<float> expectedValues = saved.optimizer.downloadState();
  std::vector<float> loadedValues = optimizer.downloadState();
  std::vector<TensorRef> expected =
      saved.optimizer.stateTensors(expectedValues);
  std::vector<TensorRef> loaded = optimizer.stateTensors(loadedValues);
  ASSERT_EQ(expected.size(), loaded.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(expected[i].name, loaded[i].name);
    int64_t numel = 1;
    for (int64_t d : expected[i].shape)
      numel *= d;
    EXPECT_EQ(std::memcmp(expected[i].data, loaded[i].data, 4 * numel), 0)
        << expected[i].name;
  }

  // The file: parameters under their names, F32, then the optimizer state.
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok());
  const TensorInfo *wte = file->find("transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->dtype, DType::F32);
  EXPECT_NE(file->find("optim.momentum.transformer.h.0.mlp.c_proj.weight"),
            nullptr);
  EXPECT_NE(file->find("optim.v.lm_head.weight"), nullptr);
  EXPECT_EQ(*file->findMetadata("config"), program.config);
  EXPECT_EQ(*file->findMetadata("format"), kCheckpointFormat);
}

TEST(Checkpoint, ModelFileHoldsParametersAndConfigOnly) {
  TempDir dir;
  TrainedState saved;
  std::string path = dir / kModelFile;
  ASSERT_TRUE(saveModel(path, program, saved.params.get(), 7).ok());
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->getNames(),
            (std::vector<std::string>{
                "transformer.wte.weight", "transformer.h.0.mlp.c_fc.weight",
                "transformer.h.0.mlp.c_proj.weight", "lm_head.weight"}));
  ASSERT_EQ(file->getMetadata().size(), 2u);
  EXPECT_EQ(*file->findMetadata("config"), program.config);
  EXPECT_EQ(*file->findMetadata("step"), "7");
  AlignedBuffer params = allocateBuffer(program.paramBytes);
  ASSERT_TRUE(loadParameters(program, path, params.get()).ok());
  EXPECT_EQ(std::memcmp(params.get(), saved.params.get(), program.paramBytes),
            0);

  // It is not a checkpoint to resume from.
  Expected<CheckpointState> state = readCheckpointState(path, program);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().message(),
            path + ": not a gptc training checkpoint: its metadata 'format' "
                   "is missing, expected 'gptc-train-checkpoint-1'");
}

TEST(Checkpoint, AnotherModelsCheckpointIsRefused) {
  TempDir dir;
  std::string path = dir / kCheckpointFile;
  float value = 0;
  std::string other = "{\"n_embd\":16,\"name\":\"other\"}";
  ASSERT_TRUE(writeSafetensors(path, {{"x", DType::F32, {1}, &value}},
                               {{"format", kCheckpointFormat},
                                {"config", other},
                                {"step", "1"},
                                {"rng", "1"}})
                  .ok());
  Expected<CheckpointState> state = readCheckpointState(path, program);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().message(),
            "checkpoint " + path + " was written for model " + other +
                ", this program is compiled for " + program.config);
}

TEST(Checkpoint, TruncatedCheckpointIsRefused) {
  TempDir dir;
  TrainedState saved;
  std::string path = dir / kCheckpointFile;
  ASSERT_TRUE(saveCheckpoint(path, program, saved.params.get(), saved.optimizer,
                             sampleState())
                  .ok());
  std::string bytes = readTestFile(path);
  writeTestFile(path, bytes.substr(0, bytes.size() - 100));
  Expected<CheckpointState> state = readCheckpointState(path, program);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().message().rfind(path + ": ", 0), 0u)
      << state.status().message();
}

TEST(Checkpoint, OutputFolders) {
  TempDir dir;
  ASSERT_TRUE(prepareOutputFolder(dir / "runs/a/b", false).ok());
  struct stat info;
  EXPECT_EQ(::stat((dir / "runs/a/b").c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
  EXPECT_NE(::access((dir / "runs/a/b/.gptc-write-test").c_str(), F_OK), 0);

  writeTestFile(dir / "file", "x");
  Status status = prepareOutputFolder(dir / "file/sub", false);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "cannot create the output folder '" +
                                  dir / "file/sub" + "': Not a directory");

  if (::geteuid() != 0) { // root writes into read-only folders anyway
    ASSERT_EQ(::mkdir((dir / "ro").c_str(), 0555), 0);
    status = prepareOutputFolder(dir / "ro", false);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.message().rfind("the output folder '" + dir / "ro" +
                                         "' is not writable: ",
                                     0),
              0u)
        << status.message();
  }
}

TEST(Checkpoint, OutputFolderHoldingARunNeedsReplaceRun) {
  TempDir dir;
  for (const char *file : kRunFiles) {
    std::string run = dir / (std::string("run-") + file);
    ASSERT_EQ(::mkdir(run.c_str(), 0700), 0);
    writeTestFile(run + "/" + file, "x");
    Status status = prepareOutputFolder(run, false);
    ASSERT_FALSE(status.ok()) << file;
    EXPECT_EQ(status.message(), "the output folder '" + run +
                                    "' holds a run (" + file +
                                    "); continue it with --resume " + run +
                                    ", choose another --out, or pass "
                                    "--overwrite to replace it");
    EXPECT_TRUE(prepareOutputFolder(run, true).ok()) << file;
    EXPECT_EQ(readTestFile(run + "/" + file), "x");
  }
}

TEST(Checkpoint, OutputFolderLosesTemporariesOfDeadSaves) {
  TempDir parent;
  std::string run = parent / "run";
  ASSERT_EQ(::mkdir(run.c_str(), 0700), 0);
  auto in = [&](const std::string &name) { return run + "/" + name; };
  // pid 2^22 + 1 is above Linux's pid_max, so no process has it.
  std::string stale = "checkpoint.safetensors.tmp.4194305.0";
  std::string live =
      "checkpoint.safetensors.tmp." + std::to_string(::getpid()) + ".0";
  writeTestFile(in(stale), "partial");
  writeTestFile(in(live), "being written");
  writeTestFile(in("notes.tmp.txt"), "mine");
  ASSERT_TRUE(prepareOutputFolder(run, true).ok());
  EXPECT_NE(::access(in(stale).c_str(), F_OK), 0);
  EXPECT_EQ(readTestFile(in(live)), "being written");
  EXPECT_EQ(readTestFile(in("notes.tmp.txt")), "mine");
}

} // namespace
