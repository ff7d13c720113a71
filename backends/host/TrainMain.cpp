//===- TrainMain.cpp - the training program's command line and loop -------===//
//
// Every input is checked before the first step, so bad input stops the
// program with one line and leaves the output folder as it was. Each
// optimizer step runs train_step on --batch / B micro-batches, averages
// their gradients, clips the global norm to 1, and updates the parameters
// with the scheduled learning rates; a non-finite loss or gradient norm stops
// the run without saving, and SIGINT/SIGTERM/SIGHUP stop it after the step
// in progress with a checkpoint (StopSignals.h). Checkpoints record the
// parameters, the optimizer state, the batch sampler's RNG and the flags, so
// --resume continues exactly where the run stopped.
//
//===----------------------------------------------------------------------===//

#include "backends/host/TrainMain.h"

#include "backends/common/Json.h"
#include "backends/host/Checkpoint.h"
#include "backends/host/Collectives.h"
#include "backends/host/Data.h"
#include "backends/host/Distributed.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"
#include "backends/host/Init.h"
#include "backends/host/Optimizer.h"
#include "backends/host/Progress.h"
#include "backends/host/Random.h"
#include "backends/host/StopSignals.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/core.h>

#include <omp.h>

using namespace gptc;
using namespace gptc::host;

namespace {

/// The flags a checkpoint records: --resume continues with their values
/// unless the command line gives others.
const char *const kRunFlags[] = {"data",      "steps",        "batch",
                                 "seed",      "val-fraction", "optimizer",
                                 "lr-scale",  "eval-every",   "eval-batches",
                                 "log-every", "save-every",   "tokenizer"};

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// What the generated programs are compiled for.
struct Model {
  int64_t B = 0, T = 0, V = 0; // batch, sequence, vocabulary
  int64_t C = 0;               // n_embd
  std::string name;
};

/// The compiled model, checking that the two generated programs agree.
Expected<Model> readModel() {
  const ProgramInfo &train = train_step_program, &eval = forward_program;
  bool consistent = train.numInputs == 2 && eval.numInputs == 2 &&
                    eval.numOutputs == 2 && train.inputs[0].rank == 2 &&
                    eval.inputs[0].rank == 2 && eval.outputs[0].rank == 3 &&
                    train.paramBytes == eval.paramBytes &&
                    train.numParams == eval.numParams &&
                    std::strcmp(train.config, eval.config) == 0;
  for (int64_t i = 0; consistent && i < 2; ++i)
    consistent = train.inputs[0].shape[i] == eval.inputs[0].shape[i] &&
                 eval.outputs[0].shape[i] == eval.inputs[0].shape[i];
  if (!consistent)
    return Status::error("the generated train_step and forward programs "
                         "disagree on the model, batch or parameters; "
                         "recompile");
  Expected<int64_t> embd = configInt(train, "n_embd");
  if (!embd.ok())
    return embd.status();
  Expected<Json> config = parseJson(train.config, "the program's config");
  if (!config.ok())
    return config.status();
  const Json *name = config->find("name");
  Model model;
  model.B = train.inputs[0].shape[0];
  model.T = train.inputs[0].shape[1];
  model.V = eval.outputs[0].shape[2];
  model.C = *embd;
  model.name = name && name->isString() ? name->getString() : "model";
  return model;
}

std::vector<Flag> makeFlags(const Model &model) {
  return {
      {"data", "training data: a text file (a token per byte), a GPTCTOK1 "
               "token file, task:add or task:copy (with --resume: the "
               "checkpoint's)"},
      {"steps", "optimizer steps of the whole run", true, "1000"},
      {"batch",
       fmt::format("sequences per optimizer step, a multiple of the "
                   "compiled B = {} (gradient accumulation)",
                   model.B),
       true, std::to_string(model.B)},
      {"out",
       "output folder for checkpoints and metrics (with --resume: "
       "the resumed folder)",
       true, "runs/" + model.name},
      {"seed", "seed of the initial weights, the batches and task data", true,
       "42"},
      {"val-fraction", "share of the data held out for evaluation", true,
       "0.1"},
      {"eval-every", "evaluate every N steps and at the end", true, "100"},
      {"eval-batches", "batches of fixed held-out windows per evaluation", true,
       "8"},
      {"log-every", "print a progress line every N steps", true, "10"},
      {"save-every", "save a checkpoint every N steps and at the end "
                     "(default: at every evaluation and at the end)"},
      {"stop-after", "stop after this step with a checkpoint, as if "
                     "interrupted (the schedule stays that of --steps)"},
      {"resume", "continue the run saved in this folder"},
      {"overwrite",
       "replace the run already in --out (its files are replaced as the new "
       "run writes its own)",
       false},
      {"init-weights", "start from the parameters in this safetensors file"},
      {"optimizer", "muon (AdamW for wte and lm_head) or adamw", true, "muon"},
      {"lr-scale", "multiplies every learning rate", true, "1"},
      {"tokenizer",
       "the nanochat tokenizer (tokenizer.pkl or .tiktoken) a GPTCTOK1 "
       "--data file was made with: bits per byte then count each target "
       "token's UTF-8 bytes, special tokens excluded, as nanochat's val_bpb"},
      {"threads", "OpenMP threads (default: OpenMP's choice)"},
  };
}

/// The settings of a run, read from the flags.
struct Options {
  std::string data, out, resume, initWeights;
  bool overwrite = false; // --overwrite
  int64_t steps = 0, batch = 0, seed = 0;
  int64_t evalEvery = 0, evalBatches = 0, logEvery = 0;
  int64_t saveEvery = 0; // 0: at every evaluation
  int64_t stopAfter = 0; // 0: run all --steps
  int64_t threads = 0;   // 0: OpenMP's default
  double valFraction = 0, lrScale = 0;
  OptimizerKind optimizer = OptimizerKind::Muon;
  std::shared_ptr<const Tokenizer> tokenizer; // --tokenizer
};

Expected<Options> readOptions(const Args &args, const Model &model) {
  Options options;
  options.data = args.get("data");
  options.resume = args.get("resume");
  options.initWeights = args.get("init-weights");
  options.overwrite = args.has("overwrite");
  options.out = !options.resume.empty() && !args.has("out") ? options.resume
                                                            : args.get("out");
  if (options.data.empty())
    return Status::error("missing --data; see --help");
  if (!options.resume.empty() && !options.initWeights.empty())
    return Status::error("--resume and --init-weights exclude each other: a "
                         "resumed run continues from its checkpoint");

  // Host buffers grow with the micro-batches of a step and the evaluation
  // windows: cap both at a million.
  constexpr int64_t kMaxBatches = int64_t(1) << 20;
  if (Status s =
          args.readInts({{"steps", &options.steps, 1, kMaxCount},
                         {"batch", &options.batch, 1, kMaxBatches * model.B},
                         {"seed", &options.seed, 0, INT64_MAX},
                         {"eval-every", &options.evalEvery, 1, kMaxCount},
                         {"eval-batches", &options.evalBatches, 1, kMaxBatches},
                         {"log-every", &options.logEvery, 1, kMaxCount},
                         {"save-every", &options.saveEvery, 1, kMaxCount},
                         {"stop-after", &options.stopAfter, 1, kMaxCount},
                         {"threads", &options.threads, 1, kMaxThreads}});
      !s.ok())
    return s;
  if (options.batch % model.B != 0)
    return Status::error("--batch {} is not a multiple of the compiled batch "
                         "size B = {} (sequences per train_step call); use a "
                         "multiple of {} or recompile with another --batch",
                         options.batch, model.B, model.B);

  Expected<double> valFraction = args.getReal("val-fraction");
  if (!valFraction.ok())
    return valFraction.status();
  if (*valFraction <= 0 || *valFraction >= 1)
    return Status::error("option '--val-fraction' must be in (0, 1), got {}",
                         *valFraction);
  options.valFraction = *valFraction;
  Expected<double> lrScale = args.getReal("lr-scale");
  if (!lrScale.ok())
    return lrScale.status();
  if (*lrScale <= 0)
    return Status::error("option '--lr-scale' must be positive, got {}",
                         *lrScale);
  options.lrScale = *lrScale;
  std::optional<OptimizerKind> kind = parseOptimizerKind(args.get("optimizer"));
  if (!kind)
    return Status::error("option '--optimizer' must be muon or adamw, got "
                         "'{}'",
                         args.get("optimizer"));
  options.optimizer = *kind;
  if (args.has("tokenizer")) {
    Expected<Tokenizer> tokenizer = Tokenizer::load(args.get("tokenizer"));
    if (!tokenizer.ok())
      return Status::error("--tokenizer: {}", tokenizer.status().message());
    if (int64_t(tokenizer->vocabSize()) > model.V)
      return Status::error("--tokenizer {} has {} token ids but the model's "
                           "vocabulary is {}: they do not belong together",
                           args.get("tokenizer"), tokenizer->vocabSize(),
                           model.V);
    options.tokenizer =
        std::make_shared<const Tokenizer>(std::move(*tokenizer));
  }
  return options;
}

/// The training loop and everything it owns. The generated programs run on
/// device memory; the host keeps the batch it samples, the losses it reads
/// back and, for task data, the logits it scores.
class Trainer {
public:
  Trainer(const Model &model, const Options &options, Dataset data,
          Optimizer optimizer, DataParallel parallel, DeviceBuffer params,
          Rng rng, MetricsLog metrics,
          std::map<std::string, std::string> runFlags)
      : model(model), options(options), data(std::move(data)),
        optimizer(std::move(optimizer)), parallel(std::move(parallel)),
        params(std::move(params)), rng(rng), metrics(std::move(metrics)),
        runFlags(std::move(runFlags)) {
    const ProgramInfo &program = train_step_program;
    this->optimizer.setStateGather([this](std::vector<float> &values) {
      this->parallel.gatherOptimizerState(this->optimizer, values);
    });
    const size_t batchBytes = sizeof(int32_t) * size_t(model.B * model.T);
    const size_t logitsBytes =
        sizeof(float) * size_t(model.B * model.T * model.V);
    arena = allocateDevice(
        size_t(std::max(program.arenaBytes, forward_program.arenaBytes)),
        "the arena");
    deviceTokens = allocateDevice(batchBytes, "the tokens");
    deviceTargets = allocateDevice(batchBytes, "the targets");
    deviceLogits = allocateDevice(logitsBytes, "the logits");
    losses.resize(std::max(options.batch / model.B, options.evalBatches));
    deviceLosses = allocateDevice(sizeof(float) * losses.size(), "the losses");
    tokens.resize(model.B * model.T);
    targets.resize(model.B * model.T);
    if (this->data.kind == DataKind::Task || options.tokenizer)
      logits.resize(model.B * model.T * model.V);
    evalStarts =
        evalWindowStarts(this->data, options.evalBatches * model.B, model.T);
  }

  /// Counts `path` (at `step`) as the last good checkpoint.
  void setLastCheckpoint(const std::string &path, int64_t step) {
    lastCheckpoint = path;
    lastCheckpointStep = step;
  }

  /// Trains from optimizer step `startStep` to the end of the run, or until
  /// a stop signal (then after the step in progress, with a checkpoint).
  Status run(int64_t startStep);

  /// The signal that stopped the run early, or 0.
  int stoppedBy() const { return stopSignal; }

private:
  /// One optimizer step (0-based `step`); returns its mean loss.
  Expected<double> trainStep(int64_t step);
  EvalReport evaluate(int64_t step);
  /// Writes the checkpoint and the model file after `step` steps.
  Status save(int64_t step);
  /// The error that stops the run when `what` is not finite at `step`.
  Status nonFinite(int64_t step, const char *what, double value) const;
  /// Uploads the host batch to the device.
  void uploadBatch();
  /// Downloads the first `count` losses.
  void downloadLosses(int64_t count);

  const Model &model;
  const Options &options;
  Dataset data;
  Optimizer optimizer;
  DataParallel parallel; // the gradients and how the ranks share the step
  // Device memory.
  DeviceBuffer params;        // paramBytes, the packed parameters
  DeviceBuffer arena;         // shared by train_step and forward
  DeviceBuffer deviceTokens;  // [B, T]
  DeviceBuffer deviceTargets; // [B, T]
  DeviceBuffer deviceLogits;  // [B, T, V]
  DeviceBuffer deviceLosses;  // [max(micro-batches, eval-batches)]
  // Host memory.
  std::vector<int32_t> tokens, targets; // [B, T]
  std::vector<float> logits;       // [B, T, V] with task data or a tokenizer
  std::vector<float> losses;       // [max(micro-batches, eval-batches)]
  std::vector<int64_t> evalStarts; // [eval-batches * B]
  Rng rng;                         // draws the training windows
  MetricsLog metrics;
  std::map<std::string, std::string> runFlags;
  std::string lastCheckpoint;
  int64_t lastCheckpointStep = -1; // -1: none yet
  int stopSignal = 0;
};

Status Trainer::nonFinite(int64_t step, const char *what, double value) const {
  std::string last =
      lastCheckpointStep >= 0
          ? fmt::format(". The last good checkpoint is {} (step {})",
                        lastCheckpoint, lastCheckpointStep)
          : "; no checkpoint was written yet";
  return Status::error("step {}: {} is {}; stopping without saving{}", step,
                       what, value, last);
}

void Trainer::uploadBatch() {
  const size_t bytes = sizeof(int32_t) * tokens.size();
  copyToDevice(deviceTokens.get(), tokens.data(), bytes);
  copyToDevice(deviceTargets.get(), targets.data(), bytes);
}

void Trainer::downloadLosses(int64_t count) {
  copyToHost(losses.data(), deviceLosses.get(), sizeof(float) * size_t(count));
}

Expected<double> Trainer::trainStep(int64_t step) {
  const int64_t microBatches = options.batch / model.B;
  float *microLosses = deviceLosses.as<float>(); // [local micro-batches]
  // Every rank draws every micro-batch and runs its own (Distributed.h).
  for (int64_t micro = 0; micro < microBatches; ++micro) {
    if (!parallel.isLocal(micro)) {
      skipBatch(data.train, model.B, model.T, rng);
      continue;
    }
    const int64_t local = micro / parallel.numRanks();
    sampleBatch(data.train, model.B, model.T, rng, tokens.data(),
                targets.data());
    uploadBatch();
    train_step(params.get(), deviceTokens.as<int32_t>(),
               deviceTargets.as<int32_t>(), microLosses + local,
               parallel.gradientsOf(local), arena.get());
    parallel.accumulate(local);
  }
  downloadLosses(parallel.numLocalMicroBatches());
  std::vector<float> stepLosses = parallel.gatherLosses(losses.data());
  double lossSum = 0;
  for (int64_t micro = 0; micro < microBatches; ++micro) {
    if (!std::isfinite(stepLosses[micro]))
      return nonFinite(step + 1, "the loss", stepLosses[micro]);
    lossSum += stepLosses[micro];
  }
  double norm = parallel.finishGradients(kMaxGradNorm);
  if (!std::isfinite(norm))
    return nonFinite(step + 1, "the gradient norm", norm);
  optimizer.step(params.get(), parallel.gradients(),
                 lrMultiplier(step, options.steps), step);
  parallel.shareParameters(params.get());
  return lossSum / double(microBatches);
}

EvalReport Trainer::evaluate(int64_t step) {
  EvalReport report;
  report.step = step;
  TaskScore score;
  ByteCount byteCount; // with --tokenizer
  double lossSum = 0;
  float *batchLosses = deviceLosses.as<float>(); // [eval-batches]
  for (int64_t batch = 0; batch < options.evalBatches; ++batch) {
    const int64_t *starts = evalStarts.data() + batch * model.B; // [B]
    fillWindows(data.val, starts, model.B, model.T, tokens.data(),
                targets.data());
    uploadBatch();
    forward(params.get(), deviceTokens.as<int32_t>(),
            deviceTargets.as<int32_t>(), deviceLogits.as<float>(),
            batchLosses + batch, arena.get());
    if (!logits.empty())
      copyToHost(logits.data(), deviceLogits.get(),
                 sizeof(float) * logits.size());
    if (data.kind == DataKind::Task)
      for (int64_t b = 0; b < model.B; ++b)
        scoreTaskWindow(data, starts[b], model.T, model.V,
                        logits.data() + b * model.T * model.V, score);
    if (options.tokenizer)
      countBitsPerByte(logits.data(), targets.data(), model.B * model.T,
                       model.V, *options.tokenizer, byteCount);
  }
  downloadLosses(options.evalBatches);
  for (int64_t batch = 0; batch < options.evalBatches; ++batch)
    lossSum += losses[batch];
  report.valLoss = lossSum / double(options.evalBatches);
  if (data.isByteLevel())
    report.valBpb = report.valLoss / std::log(2.0);
  else if (options.tokenizer && byteCount.bytes > 0)
    report.valBpb = byteCount.bitsPerByte();
  if (data.kind == DataKind::Task)
    report.task = score;
  return report;
}

Status Trainer::save(int64_t step) {
  const ProgramInfo &program = train_step_program;
  std::string path = options.out + "/" + kCheckpointFile;
  CheckpointState state{step, rng.getState(), runFlags};
  if (!parallel.isRoot()) {
    // Rank 0 writes; the others send it their optimizer state.
    optimizer.downloadState();
    return Status::success();
  }
  AlignedBuffer hostParams = allocateBuffer(program.paramBytes);
  copyToHost(hostParams.get(), params.get(), size_t(program.paramBytes));
  if (Status status =
          saveCheckpoint(path, program, hostParams.get(), optimizer, state);
      !status.ok())
    return status;
  if (Status status = saveModel(options.out + "/" + kModelFile, program,
                                hostParams.get(), step);
      !status.ok())
    return status;
  setLastCheckpoint(path, step);
  fmt::print("saved {} (step {})\n", path, step);
  std::fflush(stdout);
  return Status::success();
}

Status Trainer::run(int64_t startStep) {
  const Clock::time_point runStart = Clock::now();
  // Since the last progress line:
  double intervalLoss = 0, intervalSeconds = 0, intervalComm = 0;
  int64_t intervalSteps = 0;
  for (int64_t step = startStep; step < options.steps; ++step) {
    Clock::time_point stepStart = Clock::now();
    Expected<double> loss = trainStep(step);
    if (!loss.ok())
      return loss.status();
    intervalSeconds += secondsSince(stepStart);
    intervalComm += parallel.takeCommSeconds();
    intervalLoss += *loss;
    ++intervalSteps;

    const int64_t done = step + 1;
    const bool last = done == options.steps;
    if (done % options.logEvery == 0 || last) {
      StepReport report;
      report.step = done;
      report.numSteps = options.steps;
      report.loss = intervalLoss / double(intervalSteps);
      report.lrMultiplier = lrMultiplier(step, options.steps);
      report.tokensPerSecond =
          double(intervalSteps * options.batch * model.T) / intervalSeconds;
      report.elapsedSeconds = secondsSince(runStart);
      report.etaSeconds = report.elapsedSeconds / double(done - startStep) *
                          double(options.steps - done);
      report.ranks = parallel.numRanks();
      report.commShare = intervalComm / intervalSeconds;
      fmt::print("{}\n", formatStepLine(report));
      std::fflush(stdout);
      if (parallel.isRoot())
        if (Status status = metrics.append(stepRecord(report)); !status.ok())
          return status;
      intervalLoss = intervalSeconds = intervalComm = 0;
      intervalSteps = 0;
    }
    const bool evalDue = done % options.evalEvery == 0 || last;
    if (evalDue && parallel.isRoot()) {
      EvalReport report = evaluate(done);
      fmt::print("{}\n", formatEvalLine(report));
      std::fflush(stdout);
      if (Status status = metrics.append(evalRecord(report)); !status.ok())
        return status;
    }
    const bool saveDue =
        last ||
        (options.saveEvery > 0 ? done % options.saveEvery == 0 : evalDue);
    // Every rank sees the signal after the same step.
    const int signal = parallel.agreeOnStop(requestedStopSignal());
    const bool interrupted = signal != 0 && !last;
    const bool stop = done == options.stopAfter;
    if (saveDue || stop || interrupted)
      if (Status status = save(done); !status.ok())
        return status;
    if (interrupted) {
      fmt::print("stopped by {} after step {} of {}; continue with --resume "
                 "{}\n",
                 stopSignalName(signal), done, options.steps, options.out);
      stopSignal = signal;
      break;
    }
    if (stop) {
      fmt::print("stopped after step {} of {}; continue with --resume {}\n",
                 done, options.steps, options.out);
      break;
    }
  }
  return Status::success();
}

/// argv with the flags recorded in a checkpoint first, so that the command
/// line overrides them.
std::vector<std::string> withRecordedFlags(int argc, char **argv,
                                           const CheckpointState &state) {
  std::vector<std::string> merged = {argv[0]};
  for (const auto &[flag, value] : state.flags)
    merged.push_back("--" + flag + "=" + value);
  merged.insert(merged.end(), argv + 1, argv + argc);
  return merged;
}

} // namespace

Expected<int> gptc::host::runTraining(int argc, char **argv) {
  const ProgramInfo &program = train_step_program;
  Expected<Model> model = readModel();
  if (!model.ok())
    return model.status();
  const std::vector<Flag> flags = makeFlags(*model);
  const std::string usage = fmt::format(
      "usage: {} --data PATH|task:add|task:copy [options]\n\nTrains the "
      "model\n  {}\ncompiled for batches of B = {} sequences of T = {} "
      "tokens, and writes checkpoint.safetensors,\nmodel.safetensors and "
      "metrics.jsonl into --out. Started by Open MPI's mpirun, it trains "
      "data-parallel\non every rank (--batch stays the global batch; see "
      "docs/TRAINING.md).",
      argv[0], program.config, model->B, model->T);
  Expected<Args> args = Args::parse(argc, argv, usage, flags);
  if (!args.ok())
    return args.status();
  // After the arguments: --help needs no device.
  if (Status status = startWorld(&argc, &argv); !status.ok())
    return status;
  if (Status status = initDevice(); !status.ok())
    return status;

  // A resumed run takes its flags from the checkpoint unless given anew.
  std::optional<CheckpointState> resumed;
  std::string resumePath;
  if (args->has("resume")) {
    resumePath = args->get("resume") + "/" + kCheckpointFile;
    Expected<CheckpointState> state = readCheckpointState(resumePath, program);
    if (!state.ok())
      return state.status();
    std::vector<std::string> merged = withRecordedFlags(argc, argv, *state);
    std::vector<char *> mergedArgv;
    for (std::string &arg : merged)
      mergedArgv.push_back(arg.data());
    args = Args::parse(int(mergedArgv.size()), mergedArgv.data(), usage, flags);
    if (!args.ok())
      return Status::error("{} (with the flags recorded in {})",
                           args.status().message(), resumePath);
    resumed = std::move(*state);
  }
  Expected<Options> options = readOptions(*args, *model);
  if (!options.ok())
    return options.status();
  if (resumed) {
    std::string recorded = resumed->flags["optimizer"];
    if (recorded != optimizerName(options->optimizer))
      return Status::error("checkpoint {} holds the state of the {} "
                           "optimizer; it cannot continue with --optimizer {}",
                           resumePath, recorded,
                           optimizerName(options->optimizer));
    if (resumed->step >= options->steps)
      return Status::error("checkpoint {} is at step {}, the end of a run of "
                           "--steps {}; pass a larger --steps to train on",
                           resumePath, resumed->step, options->steps);
  }
  if (options->threads > 0)
    omp_set_num_threads(int(options->threads));

  DataOptions dataOptions;
  dataOptions.vocab = model->V;
  dataOptions.window = model->T + 1;
  dataOptions.valFraction = options->valFraction;
  dataOptions.seed = uint64_t(options->seed);
  Expected<Dataset> data = loadDataset(options->data, dataOptions);
  if (!data.ok())
    return data.status();
  if (options->tokenizer && data->kind != DataKind::TokenFile)
    return Status::error("--tokenizer goes with a GPTCTOK1 --data file "
                         "(gptc tokenize -o); {} is byte-level data",
                         options->data);

  // Every rank must run the same program with the same settings.
  std::map<std::string, std::string> runFlags;
  for (const char *flag : kRunFlags)
    if (!args->get(flag).empty())
      runFlags[flag] = args->get(flag);
  if (Status status =
          checkSameOnEveryRank(runHash(program, forward_program, runFlags),
                               "compiled program or configuration");
      !status.ok())
    return status;
  Expected<DataParallel> parallel =
      DataParallel::create(program, options->batch / model->B, model->B);
  if (!parallel.ok())
    return parallel.status();
  Expected<Optimizer> optimizer =
      Optimizer::create(program, options->optimizer, model->C, options->lrScale,
                        parallel->ownedParams());
  if (!optimizer.ok())
    return optimizer.status();
  AlignedBuffer hostParams = allocateBuffer(program.paramBytes);
  Status loaded;
  if (resumed)
    loaded = loadCheckpoint(resumePath, program, hostParams.get(), *optimizer);
  else if (!options->initWeights.empty())
    loaded = loadParameters(program, options->initWeights, hostParams.get());
  else
    loaded = initParameters(program, uint64_t(options->seed), hostParams.get());
  if (!loaded.ok())
    return loaded;
  DeviceBuffer params = uploadToDevice(
      hostParams.get(), size_t(program.paramBytes), "the parameters");
  hostParams.reset();
  parallel->broadcastParameters(params.get());

  // Nothing has been written yet; from here on rank 0 uses the output folder.
  MetricsLog metrics;
  if (parallel->isRoot()) {
    std::error_code ignored;
    bool resumesHere = resumed && std::filesystem::equivalent(
                                      options->resume, options->out, ignored);
    if (Status status = prepareOutputFolder(options->out,
                                            resumesHere || options->overwrite);
        !status.ok())
      return status;
    std::optional<int64_t> resumedStep;
    if (resumed)
      resumedStep = resumed->step;
    Expected<MetricsLog> opened =
        MetricsLog::open(options->out + "/metrics.jsonl", resumedStep);
    if (!opened.ok())
      return opened.status();
    metrics = std::move(*opened);
  }

  int64_t numParams = 0;
  for (size_t i = 0; i < program.numParams; ++i)
    numParams += program.params[i].numel();
  fmt::print("model {}: {} parameters, compiled for B = {}, T = {}\n",
             program.config, formatThousands(numParams), model->B, model->T);
  fmt::print("data {}: {} training and {} held-out tokens\n", options->data,
             formatThousands(int64_t(data->train.size())),
             formatThousands(int64_t(data->val.size())));
  int64_t microBatches = options->batch / model->B;
  fmt::print("{} steps of {} sequences ({} micro-batch{}), {} tokens per "
             "step\noptimizer {}\ndevice {}\n",
             options->steps, options->batch, microBatches,
             microBatches == 1 ? "" : "es",
             formatThousands(options->batch * model->T), optimizer->describe(),
             deviceDescription());
  if (parallel->numRanks() > 1)
    fmt::print("data-parallel on {} ranks over {}: {} micro-batch{} each "
               "per step, optimizer state sharded by parameter\n",
               parallel->numRanks(), collectivesDescription(),
               parallel->numLocalMicroBatches(),
               parallel->numLocalMicroBatches() == 1 ? "" : "es");
  if (resumed)
    fmt::print("resuming {} at step {}\n", resumePath, resumed->step);
  std::fflush(stdout);

  Rng rng = resumed ? Rng(resumed->rngState)
                    : Rng::forStream(uint64_t(options->seed), "batches");
  Trainer trainer(*model, *options, std::move(*data), std::move(*optimizer),
                  std::move(*parallel), std::move(params), rng,
                  std::move(metrics), std::move(runFlags));
  if (resumed)
    trainer.setLastCheckpoint(resumePath, resumed->step);
  installStopHandlers();
  if (Status status = trainer.run(resumed ? resumed->step : 0); !status.ok())
    return status;
  // As a shell reports a process a signal ended.
  return trainer.stoppedBy() ? 128 + trainer.stoppedBy() : 0;
}

int gptc::host::trainMain(int argc, char **argv) {
  Expected<int> exitCode = runTraining(argc, argv);
  if (exitCode.ok()) {
    endWorld();
    return *exitCode;
  }
  const Status &status = exitCode.status();
  if (worldSize() == 1)
    return fail(argv[0], status);
  // One rank's failure ends the whole job (an abort, as its peers may be
  // waiting for it in a collective).
  fail(argv[0], Status::error("rank {} of {}: {}", worldRank(), worldSize(),
                              status.message()));
  abortWorld(1);
  return 1;
}
