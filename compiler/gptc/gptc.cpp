//===- gptc.cpp - the gptc driver -----------------------------------------===//
//
//   gptc compile <model> [--emit=<stage>] [-o <file>]
//   gptc verify <bundle-dir>
//   gptc explain <model>
//   gptc import-nanochat <checkpoint-dir> -o <dir>
//   gptc export-nanochat <model> -o <dir>
//   gptc tokenize --tokenizer <file> [--decode | --input <corpus> -o <file>]
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Compile.h"
#include "compiler/gptc/Nanochat.h"
#include "compiler/gptc/Options.h"
#include "compiler/gptc/Tokenize.h"
#include "frontend/ModelConfig.h"
#include "passes/MemoryPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

#include <cmath>

using namespace mlir;
using namespace gptc;
namespace cl = llvm::cl;

namespace {
cl::OptionCategory category("gptc options");
template <typename E> using EnumOpt = cl::opt<E, false, EnumParser<E>>;

cl::opt<std::string> input(cl::Positional,
                           cl::desc("<model.toml | model.mlir | bundle-dir>"),
                           cl::cat(category));
cl::opt<std::string> output("o",
                            cl::desc("Output file (default: stdout for "
                                     "IR stages, <model> for exe)"),
                            cl::value_desc("path"), cl::cat(category));
EnumOpt<Emit> emit("emit", cl::desc("What to produce:"), cl::init(Emit::Exe),
                   cl::cat(category));
EnumOpt<Mode> mode("mode", cl::desc("Program to build:"),
                   cl::init(Mode::Forward), cl::cat(category));
EnumOpt<RecomputePolicy>
    recompute("recompute",
              cl::desc("train: what to keep of the forward's activations "
                       "for the backward:"),
              cl::init(kDefaultRecompute), cl::cat(category));
cl::opt<int64_t> memoryBudget(
    "memory-budget",
    cl::desc("train, --recompute=auto: the most arena bytes to plan"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t>
    ranks("ranks",
          cl::desc("explain: memory per rank of a data-parallel run on N "
                   "ranks (optimizer state sharded by parameter)"),
          cl::init(1), cl::cat(category));
EnumOpt<Target> target("target", cl::desc("Backend:"), cl::init(Target::Cpu),
                       cl::cat(category));
EnumOpt<AttentionImpl>
    attention("attention", cl::desc("CUDA targets' fused attention:"),
              cl::init(kDefaultAttention), cl::cat(category));
cl::opt<int64_t> batch("batch",
                       cl::desc("Batch size B of the compiled graph (default "
                                "1; train: 4 sequences per micro-batch)"),
                       cl::init(0), cl::cat(category));
cl::opt<int64_t> seqLen("seq",
                        cl::desc("Sequence length T (default: sequence_len)"),
                        cl::init(0), cl::cat(category));
EnumOpt<Host> host("host",
                   cl::desc("The main() to link (default: the mode's own):"),
                   cl::cat(category));
EnumOpt<FloatFormat>
    precision("precision",
              cl::desc("Matrix products' inputs (f32 master weights and "
                       "sums either way):"),
              cl::init(kDefaultPrecision), cl::cat(category));
EnumOpt<FloatFormat> kvDtype("kv-dtype",
                             cl::desc("decode: KV-cache element type:"),
                             cl::init(kDefaultKVDtype), cl::cat(category));
cl::opt<int64_t> rows("rows",
                      cl::desc("decode: rows R decoded at once (default 1)"),
                      cl::init(1), cl::cat(category));
cl::opt<int64_t> kvCapacity(
    "kv-capacity",
    cl::desc("decode: KV-cache slots per row (default: sequence_len)"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t> prefillChunk(
    "prefill-chunk",
    cl::desc("decode: prompt tokens per prefill call (default 32)"),
    cl::init(0), cl::cat(category));
cl::opt<bool> noLocs("no-locs",
                     cl::desc("Print IR without the model-part locations"),
                     cl::init(false), cl::cat(category));
cl::opt<std::string> cxx("cxx", cl::desc("C++ compiler for programs"),
                         cl::init("c++"), cl::cat(category));
cl::opt<std::string> workDir("work-dir",
                             cl::desc("verify: keep the program and its "
                                      "outputs in this folder"),
                             cl::cat(category));
cl::opt<double> logitsTolerance(
    "logits-tol",
    cl::desc("verify: max |logits - float64 reference| (default: the "
             "bundle's, else 1e-4; 5e-2 for the CUDA targets' bf16 "
             "attention)"),
    cl::cat(category));
cl::opt<double> lossTolerance(
    "loss-tol",
    cl::desc("verify: max |loss - float64 reference| (default: the bundle's, "
             "else 1e-5; 2e-3 for the CUDA targets)"),
    cl::cat(category));
cl::opt<double> gradsTolerance(
    "grads-tol",
    cl::desc("verify: max |gradient - float64 reference| relative to the "
             "tensor's largest gradient (default: the bundle's, else 1e-4; "
             "2e-2 for the CUDA targets)"),
    cl::cat(category));
} // namespace

static const char kOverview[] = R"(gptc: a compiler for nanochat GPT models

usage:
  gptc compile <model.toml|model.mlir|bundle-dir> [--emit=<what>] [-o <out>]
      Compile a model. --mode=forward (default), train or decode. --emit=exe
      (default) writes an executable and keeps its source beside it
      (<out>.cpp; <out>.cu with --target=cuda); the IR stages (graph, fused,
      autodiff, recompute, decode-graph, kernels, planned, emitc),
      memory-plan, config and cpp print instead. --target=cuda builds for
      NVIDIA GPUs with nvcc; --target=cuda-emulator runs the same CUDA
      program on the CPU.
  gptc verify <bundle-dir>
      Compile the bundle's model (for --target, default the CPU), run it on
      the bundle's tokens and compare logits, loss and every parameter's
      gradient (under each recompute policy) and greedy decoding with the
      float64 reference (exit 1 beyond the tolerances).
  gptc explain <model> [--batch B] [--seq T] [--memory-budget BYTES] [--ranks N]
      Parameters, FLOPs per token, and per recompute policy the planned
      activation arena, the extra FLOPs and the predicted peak memory.
  gptc import-nanochat <checkpoint-dir> [--step N] -o <dir>
      Read nanochat's model_<step>.pt (torch.save, loaded without running
      any code) and meta_<step>.json (latest step unless --step) and write
      <dir>/model.toml and <dir>/model.safetensors.
  gptc export-nanochat <model-dir|run-dir|weights.safetensors> -o <dir>
      Write the model as nanochat's model_<step>.pt and meta_<step>.json.
  gptc tokenize --tokenizer <tokenizer.pkl|file.tiktoken> [--decode]
      Text on stdin to comma-separated ids (tiktoken's encode_ordinary), or
      ids back to text with --decode. With --input <corpus> -o <tokens.bin>:
      the training token file, <|bos|> before each document.

MLIR's IR-printing flags work with compile: --mlir-print-ir-after-all,
--mlir-print-ir-tree-dir=<dir>, --mlir-timing, --mlir-print-debuginfo.
)";

std::optional<Stage> gptc::stageFor(Emit emit) {
  switch (emit) {
  case Emit::Config:
    return std::nullopt;
  case Emit::Graph:
    return Stage::Graph;
  case Emit::Fused:
    return Stage::Fused;
  case Emit::Autodiff:
    return Stage::Autodiff;
  case Emit::Recompute:
    return Stage::Recompute;
  case Emit::DecodeGraph:
    return Stage::Decode;
  case Emit::Kernels:
    return Stage::Kernels;
  case Emit::Planned:
  case Emit::MemoryPlan:
    return Stage::Planned;
  case Emit::EmitC:
  case Emit::Cpp:
  case Emit::Exe:
    return Stage::EmitC;
  }
  llvm_unreachable("every --emit has a stage");
}

Mode gptc::modeOf(Host host) {
  switch (host) {
  case Host::Forward:
    return Mode::Forward;
  case Host::Train:
  case Host::GradCheck:
    return Mode::Train;
  case Host::Decode:
  case Host::DecodeCheck:
    return Mode::Decode;
  }
  llvm_unreachable("every host runs a mode");
}

Host gptc::hostFor(Mode mode) {
  switch (mode) {
  case Mode::Forward:
    return Host::Forward;
  case Mode::Train:
    return Host::Train;
  case Mode::Decode:
    return Host::Decode;
  }
  llvm_unreachable("every mode has a host");
}

/// Prints `module` to `path` ("-" or empty: stdout), with the model-part
/// locations unless `noLocs`.
static LogicalResult printModule(ModuleOp module, StringRef path,
                                 bool noLocs) {
  std::string error;
  auto file = openOutputFile(path.empty() ? "-" : path, &error);
  if (!file) {
    llvm::errs() << "error: " << error << "\n";
    return failure();
  }
  // Locations inline for reading on a terminal; in files, MLIR's form that
  // parses back (gptc compile x.mlir).
  OpPrintingFlags flags;
  bool toTerminal = path.empty() || path == "-";
  if (!noLocs)
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/toTerminal);
  module->print(file->os(), flags);
  file->os().flush();
  if (std::error_code ec = file->os().error()) {
    llvm::errs() << "error: cannot write '" << (toTerminal ? "-" : path)
                 << "': " << ec.message() << "\n";
    file->os().clear_error();
    return failure(); // not kept: the partial file is removed
  }
  file->keep();
  return success();
}

/// Reports a failed step of `gptc compile`.
static int compileError(llvm::Error err) {
  llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
  return 1;
}

static int runCompile(const DriverOptions &options) {
  Emit emit = options.emit;
  if (emit == Emit::Config) {
    llvm::Expected<GPTConfig> config = loadModelConfig(options.input);
    if (!config) {
      llvm::errs() << llvm::toString(config.takeError()) << "\n";
      return 1;
    }
    printConfig(*config, llvm::outs());
    return 0;
  }
  Stage stage = *stageFor(emit);
  if (!hasStage(options.mode, stage)) {
    llvm::errs() << "error: --emit=" << enumName(emit) << " exists in --mode="
                 << (stage == Stage::Decode ? "decode" : "train") << " only\n";
    return 1;
  }

  MLIRContext ctx;
  GraphShape shape = options.shape;
  shape.batch = options.batchFor(options.mode);
  OwningOpRef<ModuleOp> module =
      loadModule(ctx, options.input, options.mode, shape);
  if (!module)
    return 1;
  if (failed(runPipeline(*module, options.mode, options.pipeline, stage)))
    return 1;

  if (emit == Emit::MemoryPlan) {
    for (auto func : module->getOps<func::FuncOp>())
      printMemoryPlan(func, llvm::outs());
    return 0;
  }
  if (emit == Emit::Cpp) {
    if (llvm::Error err = writeCpp(
            *module, options.output.empty() ? "-" : StringRef(options.output)))
      return compileError(std::move(err));
    return 0;
  }
  if (emit != Emit::Exe)
    return failed(printModule(*module, options.output, options.noLocs)) ? 1
                                                                         : 0;

  const TargetInfo &target = options.targetInfo();
  std::string exe = options.output;
  if (exe.empty())
    exe = llvm::sys::path::stem(options.input).str();
  std::string cpp = sourcePathFor(exe, target);
  if (llvm::Error err = writeCpp(*module, cpp))
    return compileError(std::move(err));
  if (llvm::Error err = buildExecutable(cpp, exe, enumName(options.host),
                                        target, options.cxx))
    return compileError(std::move(err));
  if (target.buildsWithNvcc) {
    if (llvm::Error err = writeKernelPtx(exe))
      return compileError(std::move(err));
    llvm::outs() << "wrote " << exe << " (source: " << cpp
                 << "; the kernels' PTX: " << kernelPtxPath(exe) << ")\n";
    return 0;
  }
  llvm::outs() << "wrote " << exe << " (source: " << cpp << ")\n";
  return 0;
}

/// A size option given on the command line must be positive; none given:
/// `fallback`.
static std::optional<int64_t> positiveOption(const cl::opt<int64_t> &option,
                                             int64_t fallback) {
  if (!option.getNumOccurrences())
    return fallback;
  if (option <= 0) {
    llvm::errs() << "error: --" << option.ArgStr << " must be positive, got "
                 << option << "\n";
    return std::nullopt;
  }
  return int64_t(option);
}

/// A tolerance given on the command line must be a positive number.
static bool readTolerance(const cl::opt<double> &option,
                          std::optional<double> &tolerance) {
  if (!option.getNumOccurrences())
    return true;
  if (!(option > 0) || !std::isfinite(option)) {
    llvm::errs() << "error: --" << option.ArgStr
                 << " must be a positive number, got " << option << "\n";
    return false;
  }
  tolerance = option;
  return true;
}

/// The command line as a DriverOptions value, checked; prints what is wrong.
static std::optional<DriverOptions> readDriverOptions() {
  DriverOptions options;
  options.input = input;
  options.output = output;
  options.emit = emit;
  options.mode = mode;
  options.host = host.getNumOccurrences() ? Host(host) : hostFor(mode);
  if (modeOf(options.host) != options.mode) {
    llvm::errs() << "error: --host=" << enumName(options.host)
                 << " does not fit --mode=" << enumName(options.mode) << "\n";
    return std::nullopt;
  }
  PipelineOptions &pipeline = options.pipeline;
  pipeline.target = target;
  pipeline.recompute = recompute;
  pipeline.precision = precision;
  pipeline.kvDtype = kvDtype;
  pipeline.attention = attention;
  if (pipeline.attention == AttentionImpl::Cudnn &&
      !options.targetInfo().hasCudnnAttention) {
    llvm::errs() << "error: --attention=cudnn needs --target=cuda or "
                    "cuda-emulator\n";
    return std::nullopt;
  }
  std::optional<int64_t> budget = positiveOption(memoryBudget, 0),
                         capacity = positiveOption(kvCapacity, 0),
                         B = positiveOption(batch, 0),
                         T = positiveOption(seqLen, 0),
                         R = positiveOption(rows, 1),
                         chunk = positiveOption(prefillChunk, 0),
                         N = positiveOption(ranks, 1);
  if (!budget || !capacity || !B || !T || !R || !chunk || !N)
    return std::nullopt;
  pipeline.memoryBudget = *budget;
  pipeline.kvCapacity = *capacity;
  options.shape = GraphShape{*B, *T, *R, *chunk};
  options.ranks = *N;
  options.noLocs = noLocs;
  options.cxx = cxx;
  options.workDir = workDir;
  if (!readTolerance(logitsTolerance, options.tolerances.logits) ||
      !readTolerance(lossTolerance, options.tolerances.loss) ||
      !readTolerance(gradsTolerance, options.tolerances.grads))
    return std::nullopt;
  return options;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();

  StringRef command = argc > 1 ? StringRef(argv[1]) : StringRef();
  if (command == "import-nanochat" || command == "export-nanochat" ||
      command == "tokenize") {
    // These are LLVM subcommands with their own options.
    if (!cl::ParseCommandLineOptions(argc, argv, kOverview))
      return 1;
    if (std::optional<int> rc = runNanochatCommand())
      return *rc;
    return *runTokenizeCommand();
  }
  if (command != "compile" && command != "verify" && command != "explain") {
    if (command == "--help" || command == "-h" || command == "-help" ||
        command.empty()) {
      llvm::outs() << kOverview;
      llvm::outs() << "\nRun 'gptc compile --help' for every option.\n";
      return command.empty() ? 1 : 0;
    }
    llvm::errs()
        << "gptc: error: unknown command '" << command
        << "'; expected 'compile', 'verify', 'explain', 'import-nanochat', "
           "'export-nanochat' or 'tokenize' (see gptc --help)\n";
    return 1;
  }
  // The command takes the place of the program name for option parsing.
  std::string name = std::string("gptc ") + command.str();
  argv[1] = name.data();
  if (!cl::ParseCommandLineOptions(argc - 1, argv + 1, kOverview))
    return 1;
  if (input.empty()) {
    llvm::errs() << "gptc " << command
                 << ": error: missing input; see --help\n";
    return 1;
  }
  std::optional<DriverOptions> options = readDriverOptions();
  if (!options)
    return 1;
  if (command == "explain")
    return runExplain(*options);
  return command == "compile" ? runCompile(*options) : runVerify(*options);
}
