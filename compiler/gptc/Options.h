//===- Options.h - gptc's command-line options -----------------*- C++ -*-===//

#ifndef GPTC_COMPILER_GPTC_OPTIONS_H
#define GPTC_COMPILER_GPTC_OPTIONS_H

#include "compiler/Pipelines.h"
#include "compiler/Targets.h"
#include "llvm/Support/CommandLine.h"

#include <string>

namespace gptc {
/// Parses --target against the target table: its names and descriptions.
class TargetParser : public llvm::cl::parser<Target> {
public:
  using llvm::cl::parser<Target>::parser;
  void initialize() {
    llvm::cl::parser<Target>::initialize();
    for (const TargetInfo &info : getTargets())
      addLiteralOption(info.name, info.target, info.description);
  }
  bool parse(llvm::cl::Option &option, llvm::StringRef name,
             llvm::StringRef value, Target &target) {
    if (const TargetInfo *info = lookupTarget(value)) {
      target = info->target;
      return false;
    }
    return option.error("unknown target '" + value + "'; expected " +
                        describeTargetNames());
  }
};
} // namespace gptc

namespace gptc::options {

extern llvm::cl::OptionCategory category;
extern llvm::cl::opt<std::string> input;
extern llvm::cl::opt<std::string> output;
extern llvm::cl::opt<std::string> emit;
extern llvm::cl::opt<std::string> mode;
extern llvm::cl::opt<std::string> recompute;
extern llvm::cl::opt<int64_t> memoryBudget;
extern llvm::cl::opt<int64_t> ranks;
extern llvm::cl::opt<Target, false, TargetParser> target;
/// The table entry of --target.
const TargetInfo &targetInfo();
extern llvm::cl::opt<std::string> attention;
extern llvm::cl::opt<int64_t> batch;
extern llvm::cl::opt<int64_t> seqLen;
extern llvm::cl::opt<std::string> host;
extern llvm::cl::opt<std::string> precision;
extern llvm::cl::opt<std::string> kvDtype;
extern llvm::cl::opt<int64_t> rows;
extern llvm::cl::opt<int64_t> kvCapacity;
extern llvm::cl::opt<int64_t> prefillChunk;
extern llvm::cl::opt<bool> noLocs;
extern llvm::cl::opt<std::string> cxx;
extern llvm::cl::opt<std::string> workDir;
extern llvm::cl::opt<double> logitsTolerance;
extern llvm::cl::opt<double> lossTolerance;
extern llvm::cl::opt<double> gradsTolerance;

} // namespace gptc::options

namespace gptc {
/// The pipeline options the command line asks for.
PipelineOptions pipelineOptions(int64_t kvCapacity);
/// `gptc verify <bundle>`; returns the process exit code.
int runVerify(const char *argv0);
/// `gptc explain <model>`; returns the process exit code.
int runExplain();
} // namespace gptc

#endif // GPTC_COMPILER_GPTC_OPTIONS_H
