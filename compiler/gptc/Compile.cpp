//===- Compile.cpp - the steps of `gptc compile` --------------------------===//

#include "compiler/gptc/Compile.h"

#include "Toolchain.h"
#include "frontend/GraphBuilder.h"
#include "ir/GptcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
using namespace gptc;

static llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<llvm::json::Object> gptc::readJsonObject(StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return makeError("error: cannot open '" + path +
                     "': " + buffer.getError().message());
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return makeError(path + ": error: " + llvm::toString(json.takeError()));
  if (!json->getAsObject())
    return makeError(path + ": error: expected a JSON object");
  return std::move(*json->getAsObject());
}

llvm::Expected<GPTConfig> gptc::loadModelConfig(StringRef path) {
  if (path.ends_with(".toml"))
    return parseModelToml(path);
  std::string jsonPath = path.str();
  if (llvm::sys::fs::is_directory(path))
    jsonPath = (path + "/golden.json").str();
  else if (!path.ends_with(".json"))
    return makeError("error: '" + path +
                     "' is not a model definition: expected a .toml file, a "
                     ".mlir file or a reference bundle directory");
  llvm::Expected<llvm::json::Object> root = readJsonObject(jsonPath);
  if (!root)
    return root.takeError();
  const llvm::json::Object *config = root->getObject("config");
  if (!config)
    return makeError(jsonPath + ": error: no \"config\" object");
  llvm::Expected<GPTConfig> parsed = parseBundleConfig(*config, jsonPath);
  if (parsed && parsed->name.empty())
    parsed->name =
        llvm::sys::path::filename(llvm::sys::path::parent_path(jsonPath)).str();
  return parsed;
}

OwningOpRef<ModuleOp> gptc::loadModule(MLIRContext &ctx, StringRef path,
                                       Mode mode, const GraphShape &shape) {
  // Every dialect a gptc module can hold, at any stage.
  ctx.loadDialect<GptcDialect, arith::ArithDialect, emitc::EmitCDialect,
                  func::FuncDialect, memref::MemRefDialect>();
  if (path.ends_with(".mlir")) {
    llvm::SourceMgr sourceMgr;
    auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path);
    if (!buffer) {
      llvm::errs() << "error: cannot open '" << path
                   << "': " << buffer.getError().message() << "\n";
      return {};
    }
    sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
    SourceMgrDiagnosticHandler handler(sourceMgr, &ctx);
    return parseSourceFile<ModuleOp>(sourceMgr, &ctx);
  }
  llvm::Expected<GPTConfig> config = loadModelConfig(path);
  if (!config) {
    llvm::errs() << llvm::toString(config.takeError()) << "\n";
    return {};
  }
  int64_t maxT = config->sequenceLen;
  if (mode != Mode::Decode) {
    int64_t seqLen = shape.seqLen ? shape.seqLen : maxT;
    if (shape.batch <= 0 || seqLen <= 0 || seqLen > maxT) {
      llvm::errs() << "error: --batch must be positive and --seq in [1, "
                   << maxT << "] (the model's sequence_len)\n";
      return {};
    }
    return buildForwardGraph(ctx, *config, shape.batch, seqLen);
  }
  // Decoding: the same forward graph at the prefill and step shapes; the
  // pipeline's make-decode turns both into incremental functions.
  int64_t chunk =
      shape.prefillChunk ? shape.prefillChunk : std::min<int64_t>(32, maxT);
  if (shape.rows <= 0 || chunk <= 0 || chunk > maxT) {
    llvm::errs() << "error: --rows must be positive and --prefill-chunk in "
                    "[1, "
                 << maxT << "] (the model's sequence_len)\n";
    return {};
  }
  OwningOpRef<ModuleOp> module =
      buildForwardGraph(ctx, *config, 1, chunk, "prefill");
  OwningOpRef<ModuleOp> step =
      buildForwardGraph(ctx, *config, shape.rows, 1, "step");
  for (Operation &op : llvm::make_early_inc_range(*step->getBody()))
    op.moveBefore(module->getBody(), module->getBody()->end());
  return module;
}

LogicalResult gptc::runPipeline(ModuleOp module, Mode mode,
                                const PipelineOptions &options, Stage last) {
  PassManager pm(module->getContext());
  pm.enableVerifier(true);
  if (failed(applyPassManagerCLOptions(pm)))
    return failure();
  auto timing = std::make_unique<DefaultTimingManager>();
  applyDefaultTimingManagerCLOptions(*timing);
  pm.enableTiming(std::move(timing));
  buildPipeline(pm, mode, options, last);
  return pm.run(module);
}

llvm::Error gptc::writeCpp(ModuleOp module, StringRef path) {
  std::error_code ec;
  auto file =
      std::make_unique<llvm::ToolOutputFile>(path, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  file->os() << "// Generated by gptc: the model's program as kernel calls on "
                "views of one parameter\n// buffer and one planned arena. "
                "Edit the model definition, not this file.\n";
  if (failed(emitc::translateToCpp(module, file->os())))
    return makeError("cannot translate the module to C++");
  file->keep();
  return llvm::Error::success();
}

std::string gptc::sourcePathFor(StringRef exePath, const TargetInfo &target) {
  return (exePath + target.sourceExtension).str();
}

/// The compiler command that builds a generated program for `target`, up to
/// (not including) the libraries.
static llvm::Expected<std::vector<std::string>>
compilerCommand(const TargetInfo &target, StringRef source, StringRef exePath,
                StringRef cxx) {
  std::vector<std::string> args;
  if (target.buildsWithNvcc) {
    if (!GPTC_HAVE_CUDA_RUNTIME)
      return makeError(
          "this gptc was built without nvcc, so --target=" + target.name +
          " is unavailable; install the CUDA toolkit at "
          "/usr/local/cuda and rebuild gptc");
    // sm_80 and sm_90 machine code: A100 and H100 run it without a JIT.
    args = {GPTC_NVCC,
            "-std=c++17",
            "-O2",
            "-gencode",
            "arch=compute_80,code=sm_80",
            "-gencode",
            "arch=compute_90,code=sm_90",
            "-Xcompiler=-fopenmp",
            "-I" GPTC_SOURCE_DIR,
            source.str()};
  } else {
    llvm::ErrorOr<std::string> compiler = llvm::sys::findProgramByName(cxx);
    if (!compiler)
      return makeError("cannot find the C++ compiler '" + cxx +
                       "'; install g++ or pass --cxx");
    // The CUDA host code of --target=cuda-emulator is C++ in a .cu file.
    args = {*compiler, "-std=c++17",         "-O2",        "-fopenmp", "-x",
            "c++",     "-I" GPTC_SOURCE_DIR, source.str(), "-x",       "none"};
  }
  args.push_back("-o");
  args.push_back(exePath.str());
  return args;
}

/// The linker arguments of a system library.
static std::vector<std::string> linkArguments(SystemLibrary library) {
  switch (library) {
  case SystemLibrary::Dnnl:
    return {GPTC_DNNL_LIBRARY};
  case SystemLibrary::Fmt:
    return {GPTC_FMT_LIBRARY};
  case SystemLibrary::CublasLt:
    return {"-L" GPTC_CUDA_LIBRARY_DIR, "-lcublasLt", "-Xlinker",
            "-rpath=" GPTC_CUDA_LIBRARY_DIR};
  case SystemLibrary::Cudnn:
    return {"-lcudnn"};
  case SystemLibrary::Nccl:
    return {"-L" GPTC_CUDA_LIBRARY_DIR, "-lnccl"};
  case SystemLibrary::Mpi:
    return {GPTC_MPI_LIBRARY};
  case SystemLibrary::OpenMP:
    return {"-lgomp"};
  case SystemLibrary::Pcre2:
    return {"-lpcre2-8"};
  case SystemLibrary::Math:
    return {"-lm"};
  }
  llvm_unreachable("every system library has its arguments");
}

/// The runtime libraries a `target` program links after its host program.
static std::vector<std::string> runtimeLibraries(const TargetInfo &target) {
  std::vector<std::string> args;
  for (StringRef library : target.runtimeLibraries)
    args.push_back((GPTC_LIBRARY_DIR "/lib" + library + ".a").str());
  for (SystemLibrary library : target.systemLibraries)
    llvm::append_range(args, linkArguments(library));
  return args;
}

/// The collectives of a `target` training program: NCCL on the GPU, MPI on
/// host memory otherwise, and Open MPI's library for the launch.
static std::vector<std::string> collectiveLibraries(const TargetInfo &target) {
  std::vector<std::string> args = {
      (GPTC_LIBRARY_DIR "/lib" + target.collectivesLibrary + ".a").str()};
  for (SystemLibrary library : target.collectivesSystemLibraries)
    llvm::append_range(args, linkArguments(library));
  return args;
}

llvm::Error gptc::buildExecutable(StringRef sourcePath, StringRef exePath,
                                  StringRef host, const TargetInfo &target,
                                  StringRef cxx) {
  std::string hostLib =
      std::string(GPTC_LIBRARY_DIR) + "/libgptc_host_" + host.str() + ".a";
  if (!llvm::sys::fs::exists(hostLib))
    return makeError("missing runtime library '" + hostLib +
                     "'; build the project first");
  llvm::Expected<std::vector<std::string>> command =
      compilerCommand(target, sourcePath, exePath, cxx);
  if (!command)
    return command.takeError();
  std::vector<std::string> args = std::move(*command);
  args.push_back(hostLib);
  // Training programs run data-parallel under mpirun (Collectives.h).
  if (host == "train")
    llvm::append_range(args, collectiveLibraries(target));
  llvm::append_range(args, runtimeLibraries(target));
  StringRef compiler = args.front();
  SmallVector<StringRef> argRefs(args.begin(), args.end());
  SmallString<128> logPath;
  if (std::error_code ec =
          llvm::sys::fs::createTemporaryFile("gptc-cxx", "log", logPath))
    return makeError("cannot create a temporary file: " + ec.message());
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string errorMessage;
  int rc = llvm::sys::ExecuteAndWait(compiler, argRefs, std::nullopt, redirects,
                                     0, 0, &errorMessage);
  if (rc != 0) {
    std::string command = llvm::join(args, " ");
    auto log = llvm::MemoryBuffer::getFile(logPath);
    return makeError("compiling the generated program failed (exit " +
                     llvm::Twine(rc) + "): " + command + "\n" +
                     (log ? (*log)->getBuffer() : StringRef(errorMessage)));
  }
  llvm::sys::fs::remove(logPath);
  return llvm::Error::success();
}

std::string gptc::kernelPtxPath(StringRef exePath) {
  return (exePath + ".ptx").str();
}

llvm::Error gptc::writeKernelPtx(StringRef exePath) {
  std::vector<std::string> sources;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(GPTC_CUDA_PTX_DIR, ec), end;
       it != end && !ec; it.increment(ec))
    if (StringRef(it->path()).ends_with(".ptx"))
      sources.push_back(it->path());
  if (ec || sources.empty())
    return makeError("missing the kernels' PTX in '" GPTC_CUDA_PTX_DIR
                     "'; build the project first");
  llvm::sort(sources);
  std::string path = kernelPtxPath(exePath);
  auto file =
      std::make_unique<llvm::ToolOutputFile>(path, ec, llvm::sys::fs::OF_Text);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  file->os() << "// The device code of this program: the PTX (sm_90) of gptc's "
                "CUDA kernels,\n// as linked into it for sm_80 and sm_90.\n";
  for (const std::string &source : sources) {
    auto buffer = llvm::MemoryBuffer::getFile(source);
    if (!buffer)
      return makeError("cannot read '" + source +
                       "': " + buffer.getError().message());
    file->os() << "\n// ==== backends/cuda/ops/"
               << llvm::sys::path::stem(source) << ".cu ====\n"
               << (*buffer)->getBuffer();
  }
  file->keep();
  return llvm::Error::success();
}
