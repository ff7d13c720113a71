// RUN: gptc-opt %s --split-input-file --gptc-autodiff | FileCheck %s

// Tests the gradient of one MLP-shaped chain: each op's rule in reverse order,
// the seed d loss / d loss = 1, the gradient of a value used twice summed,
// and one gradient result per parameter in argument order, marked with its
// parameter's name.
// CHECK-LABEL: func.func @train_step
// CHECK-SAME: -> (tensor<f32> {gptc.name = "loss"}, tensor<8x8xf32> {gptc.grad_of = "w1"}, tensor<16x8xf32> {gptc.grad_of = "head"})
// CHECK: %[[H:.*]] = gptc.linear %[[X:.*]], %[[W1:.*]] :
// CHECK: %[[R:.*]] = gptc.relu_square %[[H]]
// CHECK: %[[S:.*]] = gptc.add %[[R]], %[[X]]
// CHECK: %[[L:.*]] = gptc.lm_head_loss %[[S]], %[[HEAD:.*]], %[[T:.*]] {
// CHECK: %[[ONE:.*]] = gptc.fill {gptc.backward, value = 1.000000e+00 : f32} : tensor<f32>
// CHECK: %[[DS:.*]], %[[DHEAD:.*]] = gptc.lm_head_loss_grad %[[S]], %[[HEAD]], %[[T]], %[[ONE]]
// CHECK: %[[DR:.*]] = gptc.relu_square_grad %[[H]], %[[DS]] {gptc.backward}
// CHECK: %[[DX:.*]], %[[DW1:.*]] = gptc.linear_grad %[[DR]], %[[X]], %[[W1]] {gptc.backward}
// CHECK: gptc.add %[[DS]], %[[DX]] {gptc.backward}
// CHECK: return %[[L]], %[[DW1]], %[[DHEAD]]
func.func @train_step(%x: tensor<4x8xf32>, %t: tensor<4xi32>, %w1: tensor<8x8xf32> {gptc.param = "w1"},
                      %head: tensor<16x8xf32> {gptc.param = "head"}) -> (tensor<f32> {gptc.name = "loss"}) {
  %h = gptc.linear %x, %w1 : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %r = gptc.relu_square %h : tensor<4x8xf32>
  %s = gptc.add %r, %x : tensor<4x8xf32>
  %l = gptc.lm_head_loss %s, %head, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests the attention block's rules: reshape back, the fused backward from
// the saved LSE, RoPE's inverse rotation, the RMSNorm gradient, and the
// embedding's scatter-add; a parameter that does not reach the loss gets a
// zero gradient.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[Q:.*]] = gptc.rope %{{.*}} {base = 1.000000e+04 : f32, round_bf16 = false}
// CHECK: %[[O:.*]], %[[LSE:.*]] = gptc.causal_attention
// CHECK: gptc.causal_attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[O]], %[[LSE]], %{{.*}} {gptc.backward, scale = 2.500000e-01 : f32}
// CHECK: gptc.rms_norm_grad
// CHECK: gptc.rope %{{.*}} {base = 1.000000e+04 : f32, gptc.backward, inverse = true, round_bf16 = false}
// CHECK: gptc.embedding_grad %{{.*}}, %{{.*}} {gptc.backward} : tensor<1x4xi32>, tensor<1x4x16xf32> -> tensor<10x16xf32>
// CHECK: %[[ZERO:.*]] = gptc.fill {gptc.backward, value = 0.000000e+00 : f32} : tensor<3xf32>
// CHECK: return %{{.*}}, %{{.*}}, %{{.*}}, %[[ZERO]]
func.func @train_step(%idx: tensor<1x4xi32>, %t: tensor<1x4xi32>, %wte: tensor<10x16xf32> {gptc.param = "wte"},
                      %head: tensor<10x16xf32> {gptc.param = "head"}, %unused: tensor<3xf32> {gptc.param = "unused"})
    -> (tensor<f32> {gptc.name = "loss"}) {
  %x = gptc.embedding %wte, %idx : tensor<10x16xf32>, tensor<1x4xi32> -> tensor<1x4x16xf32>
  %h = gptc.reshape %x : tensor<1x4x16xf32> -> tensor<1x4x1x16xf32>
  %q = gptc.rope %h {base = 1.0e+04 : f32, round_bf16 = false} : tensor<1x4x1x16xf32>
  %qn = gptc.rms_norm %q {eps = 1.1920929e-07 : f32} : tensor<1x4x1x16xf32>
  %o, %lse = gptc.causal_attention %qn, %qn, %h {scale = 0.25 : f32} : tensor<1x4x1x16xf32>, tensor<1x4x1x16xf32>, tensor<1x4x1x16xf32> -> tensor<1x4x1x16xf32>, tensor<1x1x4xf32>
  %y = gptc.reshape %o : tensor<1x4x1x16xf32> -> tensor<1x4x16xf32>
  %l = gptc.lm_head_loss %y, %head, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<1x4x16xf32>, tensor<10x16xf32>, tensor<1x4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests the scale rule (nanochat's qk_scale): the gradient is scaled alike.
// CHECK-LABEL: func.func @train_step
// CHECK: %[[DS:.*]], %{{.*}} = gptc.lm_head_loss_grad
// CHECK: %[[DX:.*]] = gptc.scale %[[DS]] {factor = 1.200000e+00 : f32, gptc.backward} : tensor<2x8xf32>
// CHECK: %{{.*}}, %[[DW:.*]] = gptc.linear_grad %[[DX]]
// CHECK: return %{{.*}}, %[[DW]], %{{.*}}
func.func @train_step(%x: tensor<2x8xf32>, %t: tensor<2xi32>, %w: tensor<8x8xf32> {gptc.param = "w"},
                      %head: tensor<4x8xf32> {gptc.param = "head"}) -> (tensor<f32> {gptc.name = "loss"}) {
  %h = gptc.linear %x, %w : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  %s = gptc.scale %h {factor = 1.2 : f32} : tensor<2x8xf32>
  %l = gptc.lm_head_loss %s, %head, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<2x8xf32>, tensor<4x8xf32>, tensor<2xi32> -> tensor<f32>
  return %l : tensor<f32>
}
