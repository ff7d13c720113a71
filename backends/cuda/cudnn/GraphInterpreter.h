//===- GraphInterpreter.h - run an op-graph spec on the host ----*- C++ -*-===//
//
// The second consumer of SdpaGraph.h's specs: a plain interpreter that
// gives every op the meaning cuDNN gives it (OpKind and PointwiseMode say
// which) and honours the spec's dims, strides, broadcasts and data types.
// Values are computed in double and stored rounded to their tensor's data
// type (fp32, bf16 ties-to-even, int32, Boolean), so the bf16 roundings
// the spec asks for (P before P·V, dS, the transposed views) show up as they
// would on the GPU, within fp32-versus-double differences. It exists to test
// graphs: a spec that cuDNN accepts but that computes something other than
// attention fails against a reference here.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_CUDA_CUDNN_GRAPHINTERPRETER_H
#define GPTC_BACKENDS_CUDA_CUDNN_GRAPHINTERPRETER_H

#include "backends/common/Status.h"
#include "backends/cuda/cudnn/SdpaGraph.h"

#include <cstdint>
#include <map>

namespace gptc::cuda::cudnn {

/// Host memory for a graph's non-virtual tensors other than the by-value
/// ones, by uid. Whatever the tensor's data type, its buffer holds floats
/// laid out by the tensor's strides, spanElements() of them.
using HostBuffers = std::map<int64_t, float *>;

/// Runs `graph` (verified with verifyGraph first): reads the graph's inputs
/// from `buffers` (rounding them to their data types), evaluates the ops in
/// order and writes the non-virtual tensors the ops produce back into
/// `buffers`, touching only the elements their strides address. Fails,
/// without writing, when the graph is malformed (a layout that maps two
/// elements to one address, operands whose shapes or data types the op
/// does not accept) or a buffer is missing.
Status interpretGraph(const GraphSpec &graph, const HostBuffers &buffers);

} // namespace gptc::cuda::cudnn

#endif // GPTC_BACKENDS_CUDA_CUDNN_GRAPHINTERPRETER_H
