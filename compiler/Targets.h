//===- Targets.h - the backends gptc compiles for ---------------*- C++ -*-===//
//
// One table of the targets (cpu, cuda, cuda-emulator): what the generated
// source includes and calls, how it is built and linked, and what the
// runtime's kernels support. The driver, the code generator
// (gptc-convert-to-emitc) and `gptc verify` all read it.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_COMPILER_TARGETS_H
#define GPTC_COMPILER_TARGETS_H

#include "compiler/EnumOption.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace gptc {

enum class Target { Cpu, Cuda, CudaEmulator };

/// A library a generated program links besides gptc's own.
enum class SystemLibrary {
  Dnnl,
  Fmt,
  Pcre2,
  CublasLt,
  Cudnn,
  Nccl,
  Mpi,
  OpenMP,
  Math
};

struct TargetInfo {
  Target target;
  llvm::StringLiteral name;        // as --target= spells it
  llvm::StringLiteral description; // for --help
  /// The runtime header the generated source includes, and the namespace
  /// of its kernels.
  llvm::StringLiteral runtimeHeader;
  llvm::StringLiteral kernelNamespace;
  /// The generated source's extension: CUDA host code is a .cu file.
  llvm::StringLiteral sourceExtension;
  /// Built by nvcc for the GPU (else by the host C++ compiler).
  bool buildsWithNvcc;
  /// --attention=cudnn is available.
  bool hasCudnnAttention;
  /// Training attention multiplies in bfloat16 (gptc verify's tolerances).
  bool bf16Attention;
  /// gptc's runtime libraries after the host program's, by CMake target name
  /// (lib<name>.a in the build's library folder), and what they need.
  llvm::ArrayRef<llvm::StringLiteral> runtimeLibraries;
  llvm::ArrayRef<SystemLibrary> systemLibraries;
  /// The collectives a training program links for data-parallel runs
  /// (backends/host/Collectives.h), and what they need.
  llvm::StringLiteral collectivesLibrary;
  llvm::ArrayRef<SystemLibrary> collectivesSystemLibraries;
  /// The head dims gptc's own attention kernels support, in training and in
  /// decoding (null: any).
  bool (*supportsAttentionHeadDim)(int64_t D);
  bool (*supportsDecodeHeadDim)(int64_t D);
  /// What the kernels support, for messages ("16, 32, 64 and 128").
  std::string (*describeAttentionHeadDims)();
  std::string (*describeDecodeHeadDims)();
};

/// Every target, the default (cpu) first.
llvm::ArrayRef<TargetInfo> getTargets();

const TargetInfo &getTargetInfo(Target target);

/// --target's spellings: the table's names and descriptions.
template <> struct EnumTraits<Target> {
  static llvm::ArrayRef<EnumEntry<Target>> entries();
};

} // namespace gptc

#endif // GPTC_COMPILER_TARGETS_H
