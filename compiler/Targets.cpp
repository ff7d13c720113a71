//===- Targets.cpp - the backends gptc compiles for -----------------------===//

#include "compiler/Targets.h"

#include "backends/cuda/Limits.h"
#include "llvm/ADT/STLExtras.h"

using namespace gptc;

static std::string describeCudaAttentionHeadDims() {
  return joinWords(llvm::to_vector(llvm::map_range(
                       cuda::kAttentionHeadDims,
                       [](int64_t D) { return std::to_string(D); })),
                   "and");
}

static std::string describeCudaDecodeHeadDims() {
  return "multiples of 4 up to " + std::to_string(cuda::kMaxDecodeHeadDim);
}

static constexpr llvm::StringLiteral kCpuLibraries[] = {
    "gptc_host_common", "gptc_host_device_cpu", "gptc_runtime_cpu",
    "gptc_tokenizer", "gptc_runtime_common"};
static constexpr SystemLibrary kCpuSystemLibraries[] = {
    SystemLibrary::Dnnl, SystemLibrary::Fmt, SystemLibrary::Pcre2,
    SystemLibrary::Math};

static constexpr llvm::StringLiteral kCudaLibraries[] = {
    "gptc_host_common", "gptc_host_device_cuda", "gptc_cuda_runtime",
    "gptc_tokenizer", "gptc_runtime_common"};
static constexpr SystemLibrary kCudaSystemLibraries[] = {
    SystemLibrary::Fmt,   SystemLibrary::Pcre2,  SystemLibrary::CublasLt,
    SystemLibrary::Cudnn, SystemLibrary::OpenMP, SystemLibrary::Math};

static constexpr llvm::StringLiteral kEmulatorLibraries[] = {
    "gptc_host_common", "gptc_host_device_cuda", "gptc_cuda_emulator",
    "gptc_tokenizer", "gptc_runtime_common"};
static constexpr SystemLibrary kEmulatorSystemLibraries[] = {
    SystemLibrary::Fmt, SystemLibrary::Pcre2, SystemLibrary::Math};

static constexpr SystemLibrary kMpiLibraries[] = {SystemLibrary::Mpi};
static constexpr SystemLibrary kNcclLibraries[] = {SystemLibrary::Nccl,
                                                   SystemLibrary::Mpi};

static const TargetInfo kTargets[] = {
    {Target::Cpu, "cpu", "the CPU (OpenMP, oneDNN)", "backends/cpu/Runtime.h",
     "gptc::cpu", ".cpp",
     /*buildsWithNvcc=*/false, /*hasCudnnAttention=*/false,
     /*bf16Attention=*/false, kCpuLibraries, kCpuSystemLibraries,
     "gptc_host_collectives_mpi", kMpiLibraries,
     /*supportsAttentionHeadDim=*/nullptr, /*supportsDecodeHeadDim=*/nullptr,
     nullptr, nullptr},
    {Target::Cuda, "cuda", "NVIDIA GPUs of compute capability 8.0+ (nvcc)",
     "backends/cuda/Runtime.h", "gptc::cuda", ".cu",
     /*buildsWithNvcc=*/true, /*hasCudnnAttention=*/true,
     /*bf16Attention=*/true, kCudaLibraries, kCudaSystemLibraries,
     "gptc_host_collectives_nccl", kNcclLibraries,
     cuda::isAttentionHeadDimSupported, cuda::isDecodeHeadDimSupported,
     describeCudaAttentionHeadDims, describeCudaDecodeHeadDims},
    {Target::CudaEmulator, "cuda-emulator",
     "the CUDA host code and kernels on the CPU, through gptc's SIMT emulator",
     "backends/cuda/Runtime.h", "gptc::cuda", ".cu",
     /*buildsWithNvcc=*/false, /*hasCudnnAttention=*/true,
     /*bf16Attention=*/true, kEmulatorLibraries, kEmulatorSystemLibraries,
     "gptc_host_collectives_mpi", kMpiLibraries,
     cuda::isAttentionHeadDimSupported, cuda::isDecodeHeadDimSupported,
     describeCudaAttentionHeadDims, describeCudaDecodeHeadDims},
};

llvm::ArrayRef<TargetInfo> gptc::getTargets() { return kTargets; }

const TargetInfo &gptc::getTargetInfo(Target target) {
  for (const TargetInfo &info : kTargets)
    if (info.target == target)
      return info;
  llvm_unreachable("every target is in the table");
}

llvm::ArrayRef<EnumEntry<Target>> EnumTraits<Target>::entries() {
  static const llvm::SmallVector<EnumEntry<Target>> entries = llvm::to_vector(
      llvm::map_range(kTargets, [](const TargetInfo &info) {
        return EnumEntry<Target>{info.target, info.name, info.description};
      }));
  return entries;
}
