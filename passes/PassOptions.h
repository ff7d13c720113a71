//===- PassOptions.h - the typed options of gptc's passes -------*- C++ -*-===//
//
// The enums that pass options, pipelines and the driver take, with their
// spellings and their defaults, each written once here.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_PASSES_PASSOPTIONS_H
#define GPTC_PASSES_PASSOPTIONS_H

#include "compiler/EnumOption.h"

namespace gptc {

/// What training keeps of the forward pass's activations for the backward.
enum class RecomputePolicy { None, Minimal, Full, Auto };

/// A number format of floating-point data: the inputs of matrix products,
/// the KV cache's elements.
enum class FloatFormat { F32, BF16 };

/// The fused-attention kernels a CUDA program calls.
enum class AttentionImpl { Own, Cudnn };

inline constexpr RecomputePolicy kDefaultRecompute = RecomputePolicy::Minimal;
inline constexpr FloatFormat kDefaultPrecision = FloatFormat::F32;
inline constexpr FloatFormat kDefaultKVDtype = FloatFormat::F32;
inline constexpr AttentionImpl kDefaultAttention = AttentionImpl::Own;

template <> struct EnumTraits<RecomputePolicy> {
  static llvm::ArrayRef<EnumEntry<RecomputePolicy>> entries() {
    static constexpr EnumEntry<RecomputePolicy> kEntries[] = {
        {RecomputePolicy::None, "none", "keep every saved activation"},
        {RecomputePolicy::Minimal, "minimal",
         "recompute the ops cheap to redo (norms, RoPE, relu²)"},
        {RecomputePolicy::Full, "full",
         "keep each layer's inputs only; recompute the whole layer"},
        {RecomputePolicy::Auto, "auto",
         "the fewest full layers whose arena fits the memory budget"},
    };
    return kEntries;
  }
};

template <> struct EnumTraits<FloatFormat> {
  static llvm::ArrayRef<EnumEntry<FloatFormat>> entries() {
    static constexpr EnumEntry<FloatFormat> kEntries[] = {
        {FloatFormat::F32, "f32", "IEEE single precision"},
        {FloatFormat::BF16, "bf16",
         "bfloat16 (f32's exponent, 8 bits of mantissa)"},
    };
    return kEntries;
  }
};

template <> struct EnumTraits<AttentionImpl> {
  static llvm::ArrayRef<EnumEntry<AttentionImpl>> entries() {
    static constexpr EnumEntry<AttentionImpl> kEntries[] = {
        {AttentionImpl::Own, "own", "gptc's FlashAttention-2 kernels"},
        {AttentionImpl::Cudnn, "cudnn", "cuDNN 9 SDPA graphs (CUDA targets)"},
    };
    return kEntries;
  }
};

} // namespace gptc

#endif // GPTC_PASSES_PASSOPTIONS_H
