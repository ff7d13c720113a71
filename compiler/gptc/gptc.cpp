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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace gptc;
namespace cl = llvm::cl;

namespace gptc::options {
cl::OptionCategory category("gptc options");
cl::opt<std::string> input(cl::Positional,
                           cl::desc("<model.toml | model.mlir | bundle-dir>"),
                           cl::cat(category));
cl::opt<std::string> output("o",
                            cl::desc("Output file (default: stdout for "
                                     "IR stages, <model> for exe)"),
                            cl::value_desc("path"), cl::cat(category));
cl::opt<std::string> emit(
    "emit",
    cl::desc("What to produce: config, graph, fused, autodiff, recompute, "
             "decode-graph, kernels, planned, memory-plan, emitc, cpp or exe "
             "(default)"),
    cl::init("exe"), cl::cat(category));
cl::opt<std::string> mode("mode",
                          cl::desc("Program to build: forward, train or "
                                   "decode"),
                          cl::init("forward"), cl::cat(category));
cl::opt<std::string>
    recompute("recompute",
              cl::desc("train: none, minimal (default), full or auto (with "
                       "--memory-budget)"),
              cl::init("minimal"), cl::cat(category));
cl::opt<int64_t> memoryBudget(
    "memory-budget",
    cl::desc("train, --recompute=auto: the most arena bytes to plan"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t>
    ranks("ranks",
          cl::desc("explain: memory per rank of a data-parallel run on N "
                   "ranks (optimizer state sharded by parameter)"),
          cl::init(1), cl::cat(category));
cl::opt<Target, false, TargetParser>
    target("target", cl::desc("Backend (default cpu):"), cl::init(Target::Cpu),
           cl::cat(category));
const TargetInfo &targetInfo() { return getTargetInfo(target); }
cl::opt<std::string>
    attention("attention",
              cl::desc("CUDA fused attention: own (gptc's FlashAttention-2 "
                       "kernels, default) or cudnn (cuDNN 9 SDPA graphs)"),
              cl::init("own"), cl::cat(category));
cl::opt<int64_t> batch("batch",
                       cl::desc("Batch size B of the compiled graph (default "
                                "1; train: 4 sequences per micro-batch)"),
                       cl::init(0), cl::cat(category));
cl::opt<int64_t> seqLen("seq",
                        cl::desc("Sequence length T (default: sequence_len)"),
                        cl::init(0), cl::cat(category));
cl::opt<std::string>
    host("host",
         cl::desc("The main() to link: the mode's own (default), gradcheck "
                  "(--mode=train: writes logits, loss and gradients) or "
                  "decodecheck (--mode=decode: writes greedy step logits)"),
         cl::cat(category));
cl::opt<std::string> precision(
    "precision",
    cl::desc("Matrix products: f32 (default) or bf16 (bf16 inputs, f32 "
             "master weights and sums)"),
    cl::init("f32"), cl::cat(category));
cl::opt<std::string>
    kvDtype("kv-dtype",
            cl::desc("decode: KV-cache element type, f32 (default) or bf16"),
            cl::init("f32"), cl::cat(category));
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
    cl::init(0), cl::cat(category));
cl::opt<double> lossTolerance(
    "loss-tol",
    cl::desc("verify: max |loss - float64 reference| (default: the bundle's, "
             "else 1e-5; 2e-3 for the CUDA targets)"),
    cl::init(0), cl::cat(category));
cl::opt<double> gradsTolerance(
    "grads-tol",
    cl::desc("verify: max |gradient - float64 reference| relative to the "
             "tensor's largest gradient (default: the bundle's, else 1e-4; "
             "2e-2 for the CUDA targets)"),
    cl::init(0), cl::cat(category));
} // namespace gptc::options

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

/// Prints `module` to `path` ("-" or empty: stdout).
static LogicalResult printModule(ModuleOp module, StringRef path) {
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
  if (!options::noLocs)
    flags.enableDebugInfo(/*enable=*/true, /*prettyForm=*/toTerminal);
  module->print(file->os(), flags);
  file->keep();
  return success();
}

/// The options for the pipeline, from the command line.
PipelineOptions gptc::pipelineOptions(int64_t kvCapacity) {
  return PipelineOptions{options::targetInfo().name.str(),
                         options::recompute,
                         options::memoryBudget,
                         kvCapacity,
                         options::precision,
                         options::kvDtype,
                         options::attention};
}

/// Whether --attention names an implementation the target has; prints why
/// not.
static bool checkTarget() {
  StringRef attention = options::attention;
  if (attention != "own" && attention != "cudnn") {
    llvm::errs() << "error: unknown --attention=" << attention
                 << "; expected own or cudnn\n";
    return false;
  }
  if (attention == "cudnn" && !options::targetInfo().hasCudnnAttention) {
    llvm::errs() << "error: --attention=cudnn needs --target=cuda or "
                    "cuda-emulator\n";
    return false;
  }
  return true;
}

static int runCompile() {
  StringRef emit = options::emit;
  std::optional<Mode> mode = parseMode(options::mode);
  if (!mode) {
    llvm::errs() << "error: unknown --mode=" << options::mode
                 << "; expected forward, train or decode\n";
    return 1;
  }
  if (emit == "config") {
    llvm::Expected<GPTConfig> config = loadModelConfig(options::input);
    if (!config) {
      llvm::errs() << llvm::toString(config.takeError()) << "\n";
      return 1;
    }
    printConfig(*config, llvm::outs());
    return 0;
  }
  std::optional<Stage> stage = parseStage(emit);
  bool known = stage || emit == "memory-plan" || emit == "cpp" || emit == "exe";
  if (!known) {
    llvm::errs() << "error: unknown --emit=" << emit
                 << "; expected config, graph, fused, autodiff, recompute, "
                    "decode-graph, kernels, planned, memory-plan, emitc, cpp "
                    "or exe\n";
    return 1;
  }
  if (stage && !hasStage(*mode, *stage)) {
    llvm::errs() << "error: --emit=" << emit << " exists in --mode="
                 << (*stage == Stage::Decode ? "decode" : "train") << " only\n";
    return 1;
  }
  if (!stage)
    stage = emit == "memory-plan" ? Stage::Planned : Stage::EmitC;

  int64_t batch =
      options::batch ? int64_t(options::batch) : (*mode == Mode::Train ? 4 : 1);
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = loadModule(
      ctx, options::input, *mode,
      GraphShape{batch, options::seqLen, options::rows, options::prefillChunk});
  if (!module)
    return 1;
  if (failed(runPipeline(*module, *mode, pipelineOptions(options::kvCapacity),
                         *stage)))
    return 1;

  if (emit == "memory-plan") {
    for (auto func : module->getOps<func::FuncOp>())
      printMemoryPlan(func, llvm::outs());
    return 0;
  }
  if (emit == "cpp") {
    if (llvm::Error err = writeCpp(*module, options::output.empty()
                                                ? "-"
                                                : StringRef(options::output))) {
      llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
      return 1;
    }
    return 0;
  }
  if (emit != "exe")
    return failed(printModule(*module, options::output)) ? 1 : 0;

  std::string exe = options::output;
  if (exe.empty())
    exe = llvm::sys::path::stem(options::input).str();
  std::string cpp = sourcePathFor(exe, options::targetInfo());
  if (llvm::Error err = writeCpp(*module, cpp)) {
    llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  StringRef host =
      options::host.empty() ? modeName(*mode) : StringRef(options::host);
  bool hostFits = host == modeName(*mode) ||
                  (host == "gradcheck" && *mode == Mode::Train) ||
                  (host == "decodecheck" && *mode == Mode::Decode);
  if (!hostFits) {
    llvm::errs() << "error: --host=" << host
                 << " does not fit --mode=" << modeName(*mode) << "\n";
    return 1;
  }
  if (llvm::Error err =
          buildExecutable(cpp, exe, host, options::targetInfo(),
                          options::cxx)) {
    llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  if (options::targetInfo().buildsWithNvcc) {
    if (llvm::Error err = writeKernelPtx(exe)) {
      llvm::errs() << "error: " << llvm::toString(std::move(err)) << "\n";
      return 1;
    }
    llvm::outs() << "wrote " << exe << " (source: " << cpp
                 << "; the kernels' PTX: " << kernelPtxPath(exe) << ")\n";
    return 0;
  }
  llvm::outs() << "wrote " << exe << " (source: " << cpp << ")\n";
  return 0;
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
  if (options::input.empty()) {
    llvm::errs() << "gptc " << command
                 << ": error: missing input; see --help\n";
    return 1;
  }
  if (command == "explain")
    return runExplain();
  if (!checkTarget())
    return 1;
  return command == "compile" ? runCompile() : runVerify(argv[0]);
}
