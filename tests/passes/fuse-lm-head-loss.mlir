// RUN: gptc-opt %s --split-input-file --gptc-fuse-lm-head-loss | FileCheck %s

// Tests that lm_head → softcap → cross_entropy becomes one chunked op when
// the logits feed only the loss.
// CHECK-LABEL: func.func @fuses_head_and_loss
// CHECK-SAME: (%[[X:.*]]: tensor<2x4x8xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[T:.*]]: tensor<2x4xi32>)
// CHECK: %[[L:.*]] = gptc.lm_head_loss %[[X]], %[[W]], %[[T]] {cap = 1.500000e+01 : f32, ignore_index = -1 : i32}
// CHECK-NOT: gptc.softcap
// CHECK: return %[[L]]
func.func @fuses_head_and_loss(%x: tensor<2x4x8xf32>, %w: tensor<16x8xf32>, %t: tensor<2x4xi32>) -> tensor<f32> {
  %z = gptc.linear %x, %w : tensor<2x4x8xf32>, tensor<16x8xf32> -> tensor<2x4x16xf32>
  %s = gptc.softcap %z {cap = 15.0 : f32} : tensor<2x4x16xf32>
  %l = gptc.cross_entropy %s, %t {ignore_index = -1 : i32} : tensor<2x4x16xf32>, tensor<2x4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that returned logits block the fusion: they must exist.
// CHECK-LABEL: func.func @no_fusion_when_logits_are_returned
// CHECK-NOT: gptc.lm_head_loss
// CHECK: gptc.cross_entropy
func.func @no_fusion_when_logits_are_returned(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>, %t: tensor<2xi32>) -> (tensor<2x16xf32>, tensor<f32>) {
  %z = gptc.linear %x, %w : tensor<2x8xf32>, tensor<16x8xf32> -> tensor<2x16xf32>
  %s = gptc.softcap %z {cap = 15.0 : f32} : tensor<2x16xf32>
  %l = gptc.cross_entropy %s, %t {ignore_index = -1 : i32} : tensor<2x16xf32>, tensor<2xi32> -> tensor<f32>
  return %s, %l : tensor<2x16xf32>, tensor<f32>
}

// -----

// Tests that a loss without the soft-cap is not fused (the op always caps).
// CHECK-LABEL: func.func @no_fusion_without_softcap
// CHECK-NOT: gptc.lm_head_loss
func.func @no_fusion_without_softcap(%x: tensor<2x8xf32>, %w: tensor<16x8xf32>, %t: tensor<2xi32>) -> tensor<f32> {
  %z = gptc.linear %x, %w : tensor<2x8xf32>, tensor<16x8xf32> -> tensor<2x16xf32>
  %l = gptc.cross_entropy %z, %t {ignore_index = -1 : i32} : tensor<2x16xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}
