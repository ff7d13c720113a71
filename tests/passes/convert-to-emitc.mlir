// RUN: gptc-opt %s --split-input-file --gptc-convert-to-emitc | FileCheck %s

// Tests that a planned function becomes an emitc.func on raw pointers, views
// become gptc::view calls at their byte offsets, each kernel a call into the
// CPU namespace (ins, outs, dims, scalars) after a comment naming the model
// part, and that the ProgramInfo for the host follows.
// CHECK: emitc.include "backends/cpu/Runtime.h"
// CHECK-LABEL: emitc.func @forward
// CHECK-SAME: (%[[P:.*]]: !emitc.ptr<!emitc.opaque<"char">>, %[[X:.*]]: !emitc.ptr<f32>, %[[Y:.*]]: !emitc.ptr<f32>, %[[A:.*]]: !emitc.ptr<!emitc.opaque<"char">>)
// CHECK: emitc.verbatim "// w"
// CHECK: %[[W:.*]] = emitc.call_opaque "gptc::view"(%[[P]]) {args = [0 : index, 0], template_args = [#emitc.opaque<"float">]}
// CHECK: %[[T:.*]] = emitc.call_opaque "gptc::view"(%[[A]]) {args = [0 : index, 64], template_args = [#emitc.opaque<"float">]}
// CHECK: emitc.verbatim "// block.fc"
// CHECK: emitc.call_opaque "gptc::cpu::linear"(%[[X]], %[[W]], %[[T]]) {args = [0 : index, 1 : index, 2 : index, 4, 8, 8]}
// CHECK: emitc.call_opaque "gptc::cpu::softcap"(%[[T]], %[[Y]]) {args = [0 : index, 1 : index, 32, 1.500000e+01 : f32]}
// CHECK: emitc.return
// CHECK: emitc.verbatim "static const gptc::BufferInfo forward_params[] = {\0A  {\22w\22, gptc::ElementType::F32, 2, {8, 8}, 0},
// CHECK-SAME: extern const gptc::ProgramInfo forward_program
module attributes {gptc.config = "{}"} {
  func.func @forward(%params: memref<256xi8> {gptc.buffer = "params"},
                     %x: memref<32xf32> {gptc.name = "x", gptc.shape = array<i64: 4, 8>},
                     %y: memref<32xf32> {gptc.name = "y", gptc.output, gptc.shape = array<i64: 4, 8>},
                     %arena: memref<192xi8> {gptc.buffer = "arena"})
      attributes {gptc.arena_bytes = 192 : i64, gptc.arena_lower_bound = 128 : i64,
                  gptc.param_bytes = 256 : i64,
                  gptc.params = [{name = "w", offset = 0 : i64, shape = array<i64: 8, 8>}]} {
    %c0 = arith.constant 0 : index
    %w = memref.view %params[%c0][] : memref<256xi8> to memref<64xf32> loc("w")
    %c64 = arith.constant 64 : index
    %t = memref.view %arena[%c64][] : memref<192xi8> to memref<32xf32>
    gptc.kernel "linear" ins(%x, %w : memref<32xf32>, memref<64xf32>) outs(%t : memref<32xf32>) dims [4, 8, 8] scalars [] loc("block.fc")
    gptc.kernel "softcap" ins(%t : memref<32xf32>) outs(%y : memref<32xf32>) dims [32] scalars [1.5e+01 : f32]
    return
  }
}

// -----

// Tests that state updated in place (a bfloat16 KV cache) is `void *` at the
// ABI and read through a typed view, and that the bf16 kernels get uint16_t
// pointers.
// CHECK-LABEL: emitc.func @step
// CHECK-SAME: (%{{.*}}: !emitc.ptr<!emitc.opaque<"char">>, %[[KC:.*]]: !emitc.ptr<!emitc.opaque<"void">>, %[[L:.*]]: !emitc.ptr<!emitc.opaque<"void">>, %[[K:.*]]: !emitc.ptr<f32>, %{{.*}}: !emitc.ptr<!emitc.opaque<"char">>)
// CHECK: %[[KCV:.*]] = emitc.call_opaque "gptc::view"(%[[KC]]) {args = [0 : index, 0], template_args = [#emitc.opaque<"uint16_t">]} : (!emitc.ptr<!emitc.opaque<"void">>) -> !emitc.ptr<!emitc.opaque<"uint16_t">>
// CHECK: %[[LV:.*]] = emitc.call_opaque "gptc::view"(%[[L]]) {args = [0 : index, 0], template_args = [#emitc.opaque<"int32_t">]}
// CHECK: emitc.call_opaque "gptc::cpu::kvAppendBf16"(%[[LV]], %[[K]], %[[KCV]])
// CHECK: emitc.verbatim "static const gptc::BufferInfo step_inputs[] = {\0A  {\22k_cache\22, gptc::ElementType::BF16, 5, {1, 1, 4, 1, 4}, 0},
module attributes {gptc.config = "{}"} {
  func.func @step(%params: memref<0xi8> {gptc.buffer = "params"},
                  %kc: memref<16xbf16> {gptc.inout, gptc.name = "k_cache", gptc.shape = array<i64: 1, 1, 4, 1, 4>},
                  %len: memref<1xi32> {gptc.inout, gptc.name = "lengths", gptc.shape = array<i64: 1>},
                  %k: memref<4xf32> {gptc.name = "k", gptc.shape = array<i64: 1, 1, 1, 4>},
                  %arena: memref<0xi8> {gptc.buffer = "arena"})
      attributes {gptc.arena_bytes = 0 : i64, gptc.param_bytes = 0 : i64, gptc.params = []} {
    gptc.kernel "kvAppendBf16" ins(%len, %k : memref<1xi32>, memref<4xf32>) outs(%kc : memref<16xbf16>) dims [1, 1, 4, 1, 4, 1] scalars [0 : i32]
    gptc.kernel "kvAdvance" outs(%len : memref<1xi32>) dims [1] scalars [1 : i32]
    return
  }
}
