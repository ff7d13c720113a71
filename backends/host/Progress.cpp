//===- Progress.cpp - progress lines and JSON Lines metrics ---------------===//

#include "backends/host/Progress.h"

#include "backends/common/FileUtil.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <string_view>
#include <vector>

using namespace gptc;
using namespace gptc::host;

std::string gptc::host::formatDuration(double seconds) {
  int64_t total = int64_t(std::llround(std::max(seconds, 0.0)));
  int64_t hours = total / 3600, minutes = total / 60 % 60, secs = total % 60;
  if (hours > 0)
    return fmt::format("{}h{:02}m{:02}s", hours, minutes, secs);
  if (minutes > 0)
    return fmt::format("{}m{:02}s", minutes, secs);
  return fmt::format("{}s", secs);
}

std::string gptc::host::formatThousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string gptc::host::formatStepLine(const StepReport &report) {
  std::string ranks = report.ranks > 1
                          ? fmt::format(" on {} ranks, comm {:.1f}%",
                                        report.ranks, 100.0 * report.commShare)
                          : "";
  return fmt::format(
      "step {}/{} | loss {:.4f} | lr x{:.2f} | {} tok/s{} | elapsed {} | ETA "
      "{}",
      report.step, report.numSteps, report.loss, report.lrMultiplier,
      formatThousands(std::llround(report.tokensPerSecond)), ranks,
      formatDuration(report.elapsedSeconds), formatDuration(report.etaSeconds));
}

Json gptc::host::stepRecord(const StepReport &report) {
  Json record = Json::object();
  record.set("step", Json::integer(report.step));
  record.set("loss", Json::number(report.loss));
  record.set("lr_mult", Json::number(report.lrMultiplier));
  record.set("tok_per_s", Json::number(report.tokensPerSecond));
  if (report.ranks > 1) {
    record.set("ranks", Json::integer(report.ranks));
    record.set("comm_share", Json::number(report.commShare));
  }
  return record;
}

std::string gptc::host::formatEvalLine(const EvalReport &report) {
  std::string line = fmt::format("eval step {} | val loss {:.4f}", report.step,
                                 report.valLoss);
  if (report.valBpb)
    line += fmt::format(" | val bpb {:.4f}", *report.valBpb);
  if (report.task)
    line += fmt::format(" | task accuracy {:.1f}% ({}/{})",
                        100.0 * report.task->correct /
                            std::max<int64_t>(report.task->problems, 1),
                        report.task->correct, report.task->problems);
  return line;
}

Json gptc::host::evalRecord(const EvalReport &report) {
  Json record = Json::object();
  record.set("step", Json::integer(report.step));
  record.set("val_loss", Json::number(report.valLoss));
  if (report.valBpb)
    record.set("val_bpb", Json::number(*report.valBpb));
  if (report.task) {
    record.set("task_accuracy",
               Json::number(double(report.task->correct) /
                            std::max<int64_t>(report.task->problems, 1)));
    record.set("task_problems", Json::integer(report.task->problems));
  }
  return record;
}

Expected<MetricsLog> MetricsLog::open(const std::string &path,
                                      std::optional<int64_t> resumedStep) {
  // The records to keep, rewritten atomically before appending.
  std::string kept;
  if (resumedStep) {
    Expected<std::string> old = readFile(path);
    std::string_view rest = old.ok() ? std::string_view(*old) : "";
    while (!rest.empty()) {
      size_t newline = rest.find('\n');
      if (newline == std::string_view::npos)
        break; // a torn last line
      std::string_view line = rest.substr(0, newline);
      rest.remove_prefix(newline + 1);
      Expected<Json> record = parseJson(line, path);
      const Json *step =
          record.ok() && record->isObject() ? record->find("step") : nullptr;
      if (step && step->isNumber() && step->getInteger() &&
          *step->getInteger() <= *resumedStep)
        kept += std::string(line) + '\n';
    }
  }
  if (Status status = checkOutputFile(path, "", "--out"); !status.ok())
    return status;
  MetricsLog log;
  log.path = path;
  log.kept = std::move(kept);
  return log;
}

Status MetricsLog::append(const Json &record) {
  std::string line = record.serialize() + '\n';
  if (!file) {
    // The first record: the kept ones and it replace the file at once.
    if (Status status = writeFileAtomically(path, {kept, line}); !status.ok())
      return status;
    kept.clear();
    file.reset(std::fopen(path.c_str(), "a"));
    if (!file)
      return Status::error("{}: cannot open for appending: {}", path,
                           std::strerror(errno));
    return Status::success();
  }
  if (std::fwrite(line.data(), 1, line.size(), file.get()) != line.size() ||
      std::fflush(file.get()) != 0)
    return Status::error("{}: cannot write: {}", path, std::strerror(errno));
  return Status::success();
}
