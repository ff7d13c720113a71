// RUN: gptc-opt %s --split-input-file --gptc-make-train-step | FileCheck %s

// Tests that @train_step is @forward returning only the loss, and that
// @forward stays for evaluation.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: -> (tensor<4x8xf32> {gptc.name = "logits"}, tensor<f32> {gptc.name = "loss"})
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: (%{{.*}}: tensor<4xi32> {gptc.name = "targets"}, %{{.*}}: tensor<4x8xf32> {gptc.param = "x"})
// CHECK-SAME: -> (tensor<f32> {gptc.name = "loss"})
// CHECK: %[[LOSS:.*]] = gptc.cross_entropy
// CHECK: return %[[LOSS]] : tensor<f32>
func.func @forward(%t: tensor<4xi32> {gptc.name = "targets"}, %x: tensor<4x8xf32> {gptc.param = "x"})
    -> (tensor<4x8xf32> {gptc.name = "logits"}, tensor<f32> {gptc.name = "loss"}) {
  %s = gptc.softcap %x {cap = 15.0 : f32} : tensor<4x8xf32>
  %l = gptc.cross_entropy %s, %t {ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %s, %l : tensor<4x8xf32>, tensor<f32>
}
