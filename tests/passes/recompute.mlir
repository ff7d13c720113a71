// RUN: gptc-opt %s --gptc-recompute=policy=none | FileCheck %s --check-prefix=NONE
// RUN: gptc-opt %s --gptc-recompute=policy=minimal | FileCheck %s --check-prefix=MINIMAL
// RUN: gptc-opt %s --gptc-recompute=policy=full | FileCheck %s --check-prefix=FULL
// RUN: gptc-opt %s --gptc-recompute=policy=minimal --gptc-lower-to-kernels --gptc-plan-memory | FileCheck %s --check-prefix=PLANNED
// RUN: gptc-opt %s --gptc-recompute="policy=auto memory-budget=448" | FileCheck %s --check-prefix=AUTO
// RUN: not gptc-opt %s --gptc-recompute="policy=auto memory-budget=447" 2>&1 | FileCheck %s --check-prefix=AUTO-SMALL

// One differentiated MLP layer: the ops with gptc.layer = 0 (the pass reads
// the attribute, not the locations, which are left out). The backward reads
// %n (linear_grad), %h (relu_square_grad) and %r (lm_head_loss_grad).

// Tests that `none` keeps every saved value.
// NONE-LABEL: func.func @train_step
// NONE-SAME: gptc.recompute = "none", gptc.recompute_flops = 0 : i64
// NONE-COUNT-1: gptc.rms_norm %
// NONE-COUNT-1: gptc.relu_square %

// Tests that `minimal` recomputes the cheap ops from values kept anyway (the
// norm from the argument, relu² from the kept matmul output) right before
// their backward readers, and keeps the matmul output.
// MINIMAL-LABEL: func.func @train_step
// MINIMAL-SAME: gptc.recompute = "minimal", gptc.recompute_flops = 192 : i64
// MINIMAL: %[[N:.*]] = gptc.rms_norm %[[X:[^ ]*]] {
// MINIMAL: %[[H:.*]] = gptc.linear %[[N]]
// MINIMAL: %[[R:.*]] = gptc.relu_square %[[H]]
// MINIMAL: gptc.fill
// MINIMAL-NEXT: %[[R2:.*]] = gptc.relu_square %[[H]] {gptc.backward, gptc.layer = 0 : i64}
// MINIMAL-NEXT: gptc.lm_head_loss_grad %[[R2]]
// MINIMAL: gptc.relu_square_grad %[[H]]
// MINIMAL-NEXT: %[[N2:.*]] = gptc.rms_norm %[[X]] {{{.*}}gptc.backward, gptc.layer = 0 : i64}
// MINIMAL-NEXT: gptc.linear_grad %{{.*}}, %[[N2]]

// Tests that `full` keeps only the layer's input and recomputes the whole
// layer, the matmul included, before the layer's first backward op; the
// clones keep their layer.
// FULL-LABEL: func.func @train_step
// FULL-SAME: gptc.recompute = "full", gptc.recompute_flops = 704 : i64
// FULL: gptc.fill
// FULL-NEXT: %[[N2:.*]] = gptc.rms_norm %{{.*}} {{{.*}}gptc.backward, gptc.layer = 0 : i64}
// FULL-NEXT: %[[H2:.*]] = gptc.linear %[[N2]], %{{.*}} {gptc.backward, gptc.layer = 0 : i64}
// FULL-NEXT: %[[R2:.*]] = gptc.relu_square %[[H2]] {gptc.backward, gptc.layer = 0 : i64}
// FULL-NEXT: gptc.lm_head_loss_grad %[[R2]]
// FULL: gptc.relu_square_grad %[[H2]]
// FULL: gptc.linear_grad %{{.*}}, %[[N2]]
// Tests that `auto` sizes each choice's arena as gptc-lower-to-kernels and
// gptc-plan-memory plan it: `minimal` plans 448 bytes here (`full` 576 in
// this small function), so a budget of 448 keeps the layer
// minimal and one byte less fits no plan.
// PLANNED: gptc.arena_bytes = 448 : i64
// AUTO: gptc.recompute = "minimal", gptc.recompute_flops = 192 : i64
// AUTO-SMALL: error: the memory budget of 447 bytes is below the smallest plan, 576 bytes with every layer recomputed
func.func @train_step(%x: tensor<4x8xf32>, %t: tensor<4xi32>, %w1: tensor<8x8xf32> {gptc.param = "w1"},
                      %head: tensor<16x8xf32> {gptc.param = "head"})
    -> (tensor<f32> {gptc.name = "loss"}, tensor<8x8xf32> {gptc.grad_of = "w1"}, tensor<16x8xf32> {gptc.grad_of = "head"}) {
  %n = gptc.rms_norm %x {gptc.layer = 0 : i64, eps = 1.1920929e-07 : f32} : tensor<4x8xf32>
  %h = gptc.linear %n, %w1 {gptc.layer = 0 : i64} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %r = gptc.relu_square %h {gptc.layer = 0 : i64} : tensor<4x8xf32>
  %l = gptc.lm_head_loss %r, %head, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32> -> tensor<f32> loc("lm_head")
  %one = gptc.fill {gptc.backward, value = 1.0 : f32} : tensor<f32>
  %dr, %dhead = gptc.lm_head_loss_grad %r, %head, %t, %one {gptc.backward, cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32>, tensor<f32> -> tensor<4x8xf32>, tensor<16x8xf32>
  %dh = gptc.relu_square_grad %h, %dr {gptc.backward, gptc.layer = 0 : i64} : tensor<4x8xf32>
  %dn, %dw1 = gptc.linear_grad %dh, %n, %w1 {gptc.backward, gptc.layer = 0 : i64} : tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>, tensor<8x8xf32>
  return %l, %dw1, %dhead : tensor<f32>, tensor<8x8xf32>, tensor<16x8xf32>
}
