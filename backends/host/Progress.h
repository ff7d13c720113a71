//===- Progress.h - progress lines and JSON Lines metrics -------*- C++ -*-===//
//
// What a training run reports: a line per --log-every steps and per
// evaluation on stdout,
//   step 120/2000 | loss 2.3456 | lr x0.84 | 12,345 tok/s | elapsed 1m02s | ETA
//   9m13s eval step 200 | val loss 1.2340 | val bpb 1.7803 | task
//   accuracy 53.1% (531/1000)
// and the same numbers as one JSON object per line in <out>/metrics.jsonl.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_PROGRESS_H
#define GPTC_BACKENDS_HOST_PROGRESS_H

#include "backends/common/Json.h"
#include "backends/common/Status.h"
#include "backends/host/Data.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace gptc::host {

/// "45s", "1m02s", "2h03m04s".
std::string formatDuration(double seconds);
/// "12,345".
std::string formatThousands(int64_t value);

/// The numbers of one progress line.
struct StepReport {
  int64_t step = 0;     // optimizer steps done
  int64_t numSteps = 0; // in the whole run
  double loss = 0;      // mean training loss over the steps since the last line
  double lrMultiplier = 0;
  double tokensPerSecond = 0; // over the same steps, evaluations excluded
  double elapsedSeconds = 0;  // since this process started training
  double etaSeconds = 0;
  int64_t ranks = 1;    // of a data-parallel run
  double commShare = 0; // of the step time spent in communication
};
std::string formatStepLine(const StepReport &report);
/// {"step":..,"loss":..,"lr_mult":..,"tok_per_s":..}
Json stepRecord(const StepReport &report);

/// The numbers of one evaluation.
struct EvalReport {
  int64_t step = 0;
  double valLoss = 0;
  std::optional<double> valBpb;  // byte-level data, or with --tokenizer
  std::optional<TaskScore> task; // task data only
};
std::string formatEvalLine(const EvalReport &report);
/// {"step":..,"val_loss":..[,"val_bpb":..][,"task_accuracy":..,
/// "task_problems":..]}
Json evalRecord(const EvalReport &report);

/// Appends JSON records, one per line, to a metrics file.
class MetricsLog {
public:
  /// Opens `path` for a fresh run (its records replace the file's) or, when
  /// `resumedStep` is set, for a run resumed at that step: records of later
  /// steps, written by the interrupted run, are dropped (so are torn lines).
  /// The file changes only with the first record: a run that fails before
  /// it leaves the file as it was.
  static Expected<MetricsLog> open(const std::string &path,
                                   std::optional<int64_t> resumedStep);

  /// Writes `record` and flushes.
  Status append(const Json &record);

private:
  /// The records kept from the file, written with the first new one.
  std::string kept;
  struct Closer {
    void operator()(std::FILE *file) const { std::fclose(file); }
  };

  std::string path;
  std::unique_ptr<std::FILE, Closer> file;
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_PROGRESS_H
