// RUN: gptc-opt %s --split-input-file --gptc-convert-to-emitc --verify-diagnostics
// RUN: not gptc-opt %s --gptc-convert-to-emitc=target=tpu 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not gptc-opt %s --gptc-convert-to-emitc="target=cpu attention=cudnn" 2>&1 | FileCheck %s --check-prefix=CUDNN
// RUN: not gptc-opt %s --gptc-convert-to-emitc="target=cuda attention=flash" 2>&1 | FileCheck %s --check-prefix=ATTENTION

// TARGET: for the --target option: Cannot find option named 'tpu'!
// CUDNN: error: attention 'cudnn' needs a CUDA target, not 'cpu'
// ATTENTION: for the --attention option: Cannot find option named 'flash'!

// Tests that functions must be planned before they are emitted.
// expected-error @+1 {{expects a planned function; run gptc-plan-memory first}}
func.func @unplanned(%x: memref<4xf32>) {
  return
}

// -----

// Tests that only kernels, views and constants can be emitted.
func.func @tensor_op(%x: memref<4xf32>) attributes {gptc.arena_bytes = 0 : i64} {
  // expected-error @+1 {{'memref.alloc' cannot be emitted; run gptc-lower-to-kernels and gptc-plan-memory first}}
  %a = memref.alloc() : memref<4xf32>
  return
}

// -----

// Tests that buffers must hold f32, i32 or bytes.
// expected-error @+1 {{argument 0 is not an f32, bf16, i32 or byte buffer}}
func.func @f64_buffer(%x: memref<4xf64>) attributes {gptc.arena_bytes = 0 : i64} {
  return
}
