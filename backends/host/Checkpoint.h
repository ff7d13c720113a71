//===- Checkpoint.h - training checkpoints and model files ------*- C++ -*-===//
//
// A training run writes two safetensors files into its output folder, each
// atomically (a temporary file renamed over the old one), so a crash or a
// full disk never leaves a half-written file behind:
//   checkpoint.safetensors  every parameter (F32, under its own name), the
//                           optimizer state (optim.m.<param>, optim.v.<param>,
//                           optim.momentum.<param>) and metadata: format,
//                           config, step, rng and the run's flags;
//   model.safetensors       the parameters and the config only, what forward
//                           and decode programs load.
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

/// Creates the output folder `dir` (and its parents) and checks that files
/// can be written into it.
Status prepareOutputFolder(const std::string &dir);

/// Writes the checkpoint at `path`: the parameters `params` (host memory)
/// and the optimizer's state.
Status saveCheckpoint(const std::string &path, const ProgramInfo &program,
                      const char *params, const Optimizer &optimizer,
                      const CheckpointState &state);

/// Writes the parameters `params` (host memory) and the config to `path`.
Status saveModel(const std::string &path, const ProgramInfo &program,
                 const char *params);

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
