//===- KernelABI.h - attributes shared by the kernel-level passes -*- C++
//-*-===//
//
// Names of the attributes through which gptc-lower-to-kernels,
// gptc-plan-memory and gptc-convert-to-emitc describe a kernel-level
// function's buffers to each other and to the driver.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_PASSES_KERNELABI_H
#define GPTC_PASSES_KERNELABI_H

#include "llvm/ADT/StringRef.h"

namespace gptc {

/// Every buffer (parameters, arena slots) starts at a multiple of this.
constexpr int64_t kBufferAlignment = 64;

/// Function attribute: [{name, shape, offset}] of each packed parameter.
constexpr llvm::StringLiteral kParamsAttrName = "gptc.params";
/// Function attribute: size in bytes of the packed parameter buffer.
constexpr llvm::StringLiteral kParamBytesAttrName = "gptc.param_bytes";
/// Function attributes written by gptc-plan-memory.
constexpr llvm::StringLiteral kArenaBytesAttrName = "gptc.arena_bytes";
constexpr llvm::StringLiteral kArenaLowerBoundAttrName =
    "gptc.arena_lower_bound";
/// Argument attribute: "params" or "arena" for the two byte buffers.
constexpr llvm::StringLiteral kBufferRoleAttrName = "gptc.buffer";
/// Argument/result attribute naming a program input or output ("tokens").
constexpr llvm::StringLiteral kIONameAttrName = "gptc.name";
/// Argument attribute: the tensor shape a flat input/output buffer holds.
constexpr llvm::StringLiteral kShapeAttrName = "gptc.shape";
/// Result attribute of a gradient: the parameter it belongs to. Lowered into
/// the gradient buffer, laid out like the parameter buffer.
constexpr llvm::StringLiteral kGradOfAttrName = "gptc.grad_of";
/// Op attribute set by gptc-autodiff on every backward op.
constexpr llvm::StringLiteral kBackwardAttrName = "gptc.backward";
/// Function attributes set by gptc-recompute: the policy chosen per layer
/// and the FLOPs its recomputation adds to one step.
constexpr llvm::StringLiteral kRecomputeAttrName = "gptc.recompute";
constexpr llvm::StringLiteral kRecomputeFlopsAttrName = "gptc.recompute_flops";
/// Argument attribute marking a buffer the function updates in place (the
/// decode state: KV cache, lengths). At the C++ ABI such buffers are
/// `void *`, since their element type is a compile option.
constexpr llvm::StringLiteral kInOutAttrName = "gptc.inout";
/// Argument attribute marking an output buffer (a former result).
constexpr llvm::StringLiteral kOutputAttrName = "gptc.output";

} // namespace gptc

#endif // GPTC_PASSES_KERNELABI_H
