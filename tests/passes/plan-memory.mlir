// RUN: gptc-opt %s --split-input-file --gptc-plan-memory | FileCheck %s
// RUN: gptc-opt %s --split-input-file --gptc-plan-memory=alignment=256 | FileCheck %s --check-prefix=ALIGN

// Tests that buffers alive at the same time get disjoint slots, that a buffer
// dead by the time the next one is written reuses its slot, and that the
// arena becomes a trailing argument sized by the plan.
// CHECK-LABEL: func.func @reuses_dead_buffers
// CHECK-SAME: (%[[IN:.*]]: memref<32xf32>, %[[OUT:.*]]: memref<32xf32>, %[[ARENA:.*]]: memref<256xi8> {gptc.buffer = "arena"})
// CHECK-SAME: gptc.arena_bytes = 256 : i64, gptc.arena_lower_bound = 256 : i64
// CHECK-NOT: memref.alloc
// CHECK: %[[OA:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = memref.view %[[ARENA]][%[[OA]]][] : memref<256xi8> to memref<32xf32>
// CHECK: %[[OB:.*]] = arith.constant 128 : index
// CHECK: %[[B:.*]] = memref.view %[[ARENA]][%[[OB]]][] : memref<256xi8> to memref<32xf32>
// CHECK: gptc.kernel "add" ins(%[[A]], %[[A]] : {{.*}}) outs(%[[B]]
// CHECK: %[[OC:.*]] = arith.constant 0 : index
// CHECK: %[[C:.*]] = memref.view %[[ARENA]][%[[OC]]][] : memref<256xi8> to memref<32xf32>
// CHECK: gptc.kernel "reluSquare" ins(%[[B]] : memref<32xf32>) outs(%[[C]]
// ALIGN-LABEL: func.func @reuses_dead_buffers
// ALIGN-SAME: gptc.arena_bytes = 512 : i64
func.func @reuses_dead_buffers(%in: memref<32xf32>, %out: memref<32xf32>) {
  %a = memref.alloc() : memref<32xf32>
  gptc.kernel "reluSquare" ins(%in : memref<32xf32>) outs(%a : memref<32xf32>) dims [32] scalars []
  %b = memref.alloc() : memref<32xf32>
  gptc.kernel "add" ins(%a, %a : memref<32xf32>, memref<32xf32>) outs(%b : memref<32xf32>) dims [32] scalars []
  %c = memref.alloc() : memref<32xf32>
  gptc.kernel "reluSquare" ins(%b : memref<32xf32>) outs(%c : memref<32xf32>) dims [32] scalars []
  gptc.kernel "add" ins(%c, %b : memref<32xf32>, memref<32xf32>) outs(%out : memref<32xf32>) dims [32] scalars []
  return
}

// -----

// Tests that three buffers alive together take three slots, the largest
// first, and that the arena meets its lower bound.
// CHECK-LABEL: func.func @all_live
// CHECK-SAME: gptc.arena_bytes = 384 : i64, gptc.arena_lower_bound = 384 : i64
// CHECK: arith.constant 256 : index
// CHECK: memref.view {{.*}} : memref<384xi8> to memref<16xf32>
// CHECK: arith.constant 0 : index
// CHECK: memref.view {{.*}} : memref<384xi8> to memref<64xf32>
// CHECK: arith.constant 320 : index
// CHECK: memref.view {{.*}} : memref<384xi8> to memref<16xf32>
func.func @all_live(%in: memref<16xf32>, %out: memref<16xf32>) {
  %a = memref.alloc() : memref<16xf32>
  %b = memref.alloc() : memref<64xf32>
  %c = memref.alloc() : memref<16xf32>
  gptc.kernel "fill" outs(%a : memref<16xf32>) dims [16] scalars [0.0 : f32]
  gptc.kernel "fill" outs(%b : memref<64xf32>) dims [64] scalars [0.0 : f32]
  gptc.kernel "fill" outs(%c : memref<16xf32>) dims [16] scalars [0.0 : f32]
  gptc.kernel "add" ins(%a, %c : memref<16xf32>, memref<16xf32>) outs(%out : memref<16xf32>) dims [16] scalars []
  gptc.kernel "add" ins(%b, %in : memref<64xf32>, memref<16xf32>) outs(%out : memref<16xf32>) dims [16] scalars []
  return
}
