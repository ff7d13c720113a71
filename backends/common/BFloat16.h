//===- BFloat16.h - bfloat16 conversions ------------------------*- C++ -*-===//
//
// bfloat16 is the top 16 bits of an IEEE float: conversions between the two,
// shared by the safetensors reader and writer and the CPU kernels. Plain
// C++17, header-only, no LLVM.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_BFLOAT16_H
#define GPTC_BACKENDS_COMMON_BFLOAT16_H

#include <cstdint>
#include <cstring>

namespace gptc {

/// Widens a bfloat16 (the top 16 bits of an IEEE float) exactly.
inline float bf16ToF32(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

/// Rounds a float to the nearest bfloat16, ties to even; NaN stays a (quiet)
/// NaN with its sign, and values beyond the bfloat16 range become infinity.
inline uint16_t f32ToBf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest, ties to even;
  // a carry out of the mantissa correctly bumps the exponent.
  uint32_t roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + roundingBias) >> 16);
}

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_BFLOAT16_H
