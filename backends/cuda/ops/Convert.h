//===- Convert.h - fp32 <-> bf16 copies on the stream -----------*- C++ -*-===//
//
// Used by the operations whose libraries take bf16 operands (cuBLASLt in
// linearBf16, cuDNN's attention); implemented in ops/Elementwise.cu.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_OPS_CONVERT_H
#define GPTC_BACKENDS_CUDA_OPS_CONVERT_H

#include <cstdint>

namespace gptc::cuda {

/// bf16[n] = x[n] rounded to bfloat16 (ties to even).
void convertToBf16(const float *x, uint16_t *bf16, int64_t n);

/// x[n] = bf16[n] as floats.
void convertFromBf16(const uint16_t *bf16, float *x, int64_t n);

} // namespace gptc::cuda

#endif // GPTC_BACKENDS_CUDA_OPS_CONVERT_H
