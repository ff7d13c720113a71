//===- Compile.h - the steps of `gptc compile`, reused by `gptc verify` -*- C++
//-*-===//

#ifndef GPTC_COMPILER_GPTC_COMPILE_H
#define GPTC_COMPILER_GPTC_COMPILE_H

#include "compiler/Pipelines.h"
#include "compiler/Targets.h"
#include "frontend/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

namespace gptc {

/// Reads a JSON file whose top level is an object (a bundle's golden.json).
llvm::Expected<llvm::json::Object> readJsonObject(llvm::StringRef path);

/// Reads a model definition: a TOML file, a reference bundle directory, or
/// a bundle's golden.json.
llvm::Expected<GPTConfig> loadModelConfig(llvm::StringRef path);

/// The shapes a model is compiled for.
struct GraphShape {
  int64_t batch = 1;        // B of the forward and training graphs
  int64_t seqLen = 0;       // T (0: the model's sequence_len)
  int64_t rows = 1;         // decode: R rows of the step function
  int64_t prefillChunk = 0; // decode: tokens per prefill call (0: 32 or T)
};

/// The graph of the model at `path` (as loadModelConfig) for `mode`: the
/// forward function @forward [batch, seqLen], or for decoding @prefill
/// [1, prefillChunk] and @step [rows, 1]; or the module in a `.mlir` file.
/// Errors are reported as diagnostics or on stderr.
mlir::OwningOpRef<mlir::ModuleOp> loadModule(mlir::MLIRContext &ctx,
                                             llvm::StringRef path, Mode mode,
                                             const GraphShape &shape);

/// Runs the pipeline of `mode` up to `last`, honouring MLIR's pass-manager
/// command-line options (--mlir-print-ir-after-all, --mlir-timing, ...).
mlir::LogicalResult runPipeline(mlir::ModuleOp module, Mode mode,
                                const PipelineOptions &options, Stage last);

/// Writes the C++ of an EmitC module to `path`.
llvm::Error writeCpp(mlir::ModuleOp module, llvm::StringRef path);

/// Compiles the generated source at `sourcePath` with the host main `host`
/// ("forward", "train", "decode", "gradcheck" or "decodecheck":
/// libgptc_host_<host>.a) into the executable `exePath` for `target`, with
/// nvcc (sm_80 and sm_90) or the C++ compiler `cxx` as the target says.
llvm::Error buildExecutable(llvm::StringRef sourcePath, llvm::StringRef exePath,
                            llvm::StringRef host, const TargetInfo &target,
                            llvm::StringRef cxx);

/// Writes the PTX of the CUDA runtime's kernels beside a --target=cuda
/// program, at kernelPtxPath(exePath) (`<exe>.ptx`).
llvm::Error writeKernelPtx(llvm::StringRef exePath);
std::string kernelPtxPath(llvm::StringRef exePath);

/// The generated source's file name for a target: `<exe>.cpp` or
/// `<exe>.cu`.
std::string sourcePathFor(llvm::StringRef exePath, const TargetInfo &target);

} // namespace gptc

#endif // GPTC_COMPILER_GPTC_COMPILE_H
