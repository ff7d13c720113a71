// RUN: gptc-opt %s --split-input-file --gptc-plan-memory --verify-diagnostics
// RUN: not gptc-opt %s --split-input-file --gptc-plan-memory=alignment=48 2>&1 | FileCheck %s --check-prefix=ALIGN

// ALIGN: error: alignment must be a power of two, got 48

// Tests that lifetimes come from liveness, not from deallocations.
func.func @dealloc(%out: memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  // expected-error @+1 {{expects no deallocations: lifetimes come from liveness}}
  memref.dealloc %a : memref<4xf32>
  return
}

// -----

// Tests that only static buffers can be planned.
func.func @dynamic(%n: index) {
  // expected-error @+1 {{expects a static, identity-layout buffer}}
  %a = memref.alloc(%n) : memref<?xf32>
  return
}
