// RUN: gptc-opt %s --gptc-convert-to-emitc=target=cuda | FileCheck %s --check-prefix=OWN
// RUN: gptc-opt %s --gptc-convert-to-emitc="target=cuda attention=cudnn" | FileCheck %s --check-prefix=CUDNN

// Tests that the cuda target includes the CUDA runtime and calls the
// gptc::cuda twin of every kernel, and that attention=cudnn renames only
// the fused attention calls.
// OWN: emitc.include "backends/cuda/Runtime.h"
// OWN-LABEL: emitc.func @attention
// OWN-SAME: (%[[P:.*]]: !emitc.ptr<!emitc.opaque<"char">>, %[[Q:.*]]: !emitc.ptr<f32>, %[[O:.*]]: !emitc.ptr<f32>, %[[A:.*]]: !emitc.ptr<!emitc.opaque<"char">>)
// OWN: %[[LSE:.*]] = emitc.call_opaque "gptc::view"(%[[A]])
// OWN: emitc.call_opaque "gptc::cuda::causalAttention"(%[[Q]], %[[Q]], %[[Q]], %[[O]], %[[LSE]])
// OWN: emitc.call_opaque "gptc::cuda::scale"(%[[O]], %[[O]])

// CUDNN: emitc.include "backends/cuda/Runtime.h"
// CUDNN-LABEL: emitc.func @attention
// CUDNN: emitc.call_opaque "gptc::cuda::causalAttentionCudnn"
// CUDNN: emitc.call_opaque "gptc::cuda::scale"
module attributes {gptc.config = "{}"} {
  func.func @attention(%params: memref<0xi8> {gptc.buffer = "params"},
                       %q: memref<64xf32> {gptc.name = "q", gptc.shape = array<i64: 1, 4, 1, 16>},
                       %o: memref<64xf32> {gptc.name = "o", gptc.output, gptc.shape = array<i64: 1, 4, 1, 16>},
                       %arena: memref<16xi8> {gptc.buffer = "arena"})
      attributes {gptc.arena_bytes = 16 : i64, gptc.arena_lower_bound = 16 : i64,
                  gptc.param_bytes = 0 : i64, gptc.params = []} {
    %c0 = arith.constant 0 : index
    %lse = memref.view %arena[%c0][] : memref<16xi8> to memref<4xf32>
    gptc.kernel "causalAttention" ins(%q, %q, %q : memref<64xf32>, memref<64xf32>, memref<64xf32>) outs(%o, %lse : memref<64xf32>, memref<4xf32>) dims [1, 4, 1, 1, 16] scalars [2.500000e-01 : f32]
    gptc.kernel "scale" ins(%o : memref<64xf32>) outs(%o : memref<64xf32>) dims [64] scalars [1.000000e+00 : f32]
    return
  }
}
