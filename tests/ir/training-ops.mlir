// RUN: gptc-opt %s | gptc-opt | FileCheck %s
// RUN: gptc-opt %s --mlir-print-op-generic | gptc-opt | FileCheck %s

// Tests that the training ops (fused loss, gradients, fill) round-trip.
// CHECK-LABEL: func.func @training_ops
func.func @training_ops(%x: tensor<2x4x8xf32>, %w: tensor<16x8xf32>, %t: tensor<2x4xi32>,
                        %q: tensor<2x4x2x4xf32>, %k: tensor<2x4x1x4xf32>) {
  // CHECK: gptc.lm_head_loss %{{.*}}, %{{.*}}, %{{.*}} {cap = 1.500000e+01 : f32, ignore_index = -1 : i32} : tensor<2x4x8xf32>, tensor<16x8xf32>, tensor<2x4xi32> -> tensor<f32>
  %l = gptc.lm_head_loss %x, %w, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<2x4x8xf32>, tensor<16x8xf32>, tensor<2x4xi32> -> tensor<f32>
  // CHECK: %[[ONE:.*]] = gptc.fill {value = 1.000000e+00 : f32} : tensor<f32>
  %one = gptc.fill {value = 1.0 : f32} : tensor<f32>
  // CHECK: gptc.lm_head_loss_grad %{{.*}}, %{{.*}}, %{{.*}}, %[[ONE]] {cap = 1.500000e+01 : f32, ignore_index = -1 : i32} : tensor<2x4x8xf32>, tensor<16x8xf32>, tensor<2x4xi32>, tensor<f32> -> tensor<2x4x8xf32>, tensor<16x8xf32>
  %dx, %dw = gptc.lm_head_loss_grad %x, %w, %t, %one {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<2x4x8xf32>, tensor<16x8xf32>, tensor<2x4xi32>, tensor<f32> -> tensor<2x4x8xf32>, tensor<16x8xf32>
  // CHECK: gptc.embedding_grad %{{.*}}, %{{.*}} : tensor<2x4xi32>, tensor<2x4x8xf32> -> tensor<16x8xf32>
  %dt = gptc.embedding_grad %t, %dx : tensor<2x4xi32>, tensor<2x4x8xf32> -> tensor<16x8xf32>
  // CHECK: gptc.rms_norm_grad %{{.*}}, %{{.*}} {eps = 1.1920929E-7 : f32} : tensor<2x4x8xf32>
  %dn = gptc.rms_norm_grad %x, %dx {eps = 1.1920929e-07 : f32} : tensor<2x4x8xf32>
  // CHECK: gptc.relu_square_grad %{{.*}}, %{{.*}} : tensor<2x4x8xf32>
  %dr = gptc.relu_square_grad %x, %dx : tensor<2x4x8xf32>
  // CHECK: gptc.linear_grad %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x16xf32>, tensor<2x4x8xf32>, tensor<16x8xf32> -> tensor<2x4x8xf32>, tensor<16x8xf32>
  %y = gptc.linear %x, %w : tensor<2x4x8xf32>, tensor<16x8xf32> -> tensor<2x4x16xf32>
  %gx, %gw = gptc.linear_grad %y, %x, %w : tensor<2x4x16xf32>, tensor<2x4x8xf32>, tensor<16x8xf32> -> tensor<2x4x8xf32>, tensor<16x8xf32>
  // CHECK: gptc.rope %{{.*}} {base = 1.000000e+04 : f32, inverse = true, round_bf16 = false} : tensor<2x4x2x4xf32>
  %qr = gptc.rope %q {base = 1.0e+04 : f32, round_bf16 = false, inverse = true} : tensor<2x4x2x4xf32>
  %o, %lse = gptc.causal_attention %q, %k, %k {scale = 0.5 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x4x2x4xf32>, tensor<2x2x4xf32>
  // CHECK: gptc.causal_attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x2x4xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32> -> tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>
  %dq, %dk, %dv = gptc.causal_attention_grad %q, %k, %k, %o, %lse, %o {scale = 0.5 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x2x4xf32>, tensor<2x2x4xf32>, tensor<2x4x2x4xf32> -> tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32>
  return
}
