//===- Checkpoint.h - training checkpoints and model files ------*- C++ -*-===//
//
// A training run writes two safetensors files into its output folder, each
// atomically (a temporary file renamed over the old one), so a crash or a
// full disk never leaves a half-written file behind:
//   checkpoint.safetensors  every parameter (F32, under its own name), the
//                           optimizer state (optim.m.<param>, optim.v.<param>,
//                           optim.momentum.<param>) and metadata: format,
//                           config, step, rng and the run's flags;
//   model.safetensors       the parameters, the config and the step only,
//                           what forward and decode programs load.
// A fresh run refuses a folder that holds these files unless told to
// replace them; the temporary files of saves killed halfway are removed
// when the next run starts.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_CHECKPOINT_H
#define GPTC_BACKENDS_HOST_CHECKPOINT_H

#include "backends/common/Program.h"
#include "backends/common/Status.h"
#include "backends/host/Optimizer.h"

#include <cstdint>
#include <map>
#include <string>

namespace gptc::host {

constexpr char kCheckpointFile[] = "checkpoint.safetensors";
constexpr char kModelFile[] = "model.safetensors";
/// The "format" metadata of a checkpoint.
constexpr char kCheckpointFormat[] = "gptc-train-checkpoint-1";

/// What a checkpoint records besides tensors and config.
struct CheckpointState {
  int64_t step = 0;      // optimizer steps taken
  uint64_t rngState = 0; // the batch sampler's state after them
  /// The run's settings by flag name ("data", "optimizer", "batch", ...).
  std::map<std::string, std::string> flags;
};

/// The files a run writes into its output folder.
constexpr const char *kRunFiles[] = {kCheckpointFile, kModelFile,
                                     "metrics.jsonl"};

/// Creates the output folder `dir` (and its parents), checks that files can
/// be written into it and removes the temporary files of killed saves. A
/// folder that holds a run's files is refused unless `replaceRun` (the
/// run resumes there, or --overwrite).
Status prepareOutputFolder(const std::string &dir, bool replaceRun);

/// Writes the checkpoint at `path`: the parameters `params` (host memory)
/// and the optimizer's state.
Status saveCheckpoint(const std::string &path, const ProgramInfo &program,
                      const char *params, const Optimizer &optimizer,
                      const CheckpointState &state);

/// Writes the parameters `params` (host memory), the config and the `step`
/// they were saved at to `path`.
Status saveModel(const std::string &path, const ProgramInfo &program,
                 const char *params, int64_t step);

/// Reads the metadata of the checkpoint at `path`, which must have been
/// written for the model `program` is compiled for. A missing, truncated or
/// corrupt file is an error naming it.
Expected<CheckpointState> readCheckpointState(const std::string &path,
                                              const ProgramInfo &program);

/// Loads the parameters into `params` (host memory) and the optimizer state
/// into `optimizer` from the checkpoint at `path`.
Status loadCheckpoint(const std::string &path, const ProgramInfo &program,
                      char *params, Optimizer &optimizer);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_CHECKPOINT_H
