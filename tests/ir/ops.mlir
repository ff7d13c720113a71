// RUN: gptc-opt %s | gptc-opt | FileCheck %s
// RUN: gptc-opt %s --mlir-print-op-generic | gptc-opt | FileCheck %s

// Tests that every tensor-level op round-trips with its inferred type.
// CHECK-LABEL: func.func @block
func.func @block(%idx: tensor<2x4xi32>, %wte: tensor<16x8xf32>,
                 %wq: tensor<8x8xf32>, %wk: tensor<4x8xf32>) -> tensor<f32> {
  // CHECK: %[[X:.*]] = gptc.embedding %{{.*}}, %{{.*}} : tensor<16x8xf32>, tensor<2x4xi32> -> tensor<2x4x8xf32>
  %x = gptc.embedding %wte, %idx : tensor<16x8xf32>, tensor<2x4xi32> -> tensor<2x4x8xf32>
  // CHECK: %[[U:.*]] = gptc.rms_norm %[[X]] {eps = 1.1920929E-7 : f32} : tensor<2x4x8xf32>
  %u = gptc.rms_norm %x {eps = 1.1920929e-07 : f32} : tensor<2x4x8xf32>
  // CHECK: %[[Q:.*]] = gptc.linear %[[U]], %{{.*}} : tensor<2x4x8xf32>, tensor<8x8xf32> -> tensor<2x4x8xf32>
  %q = gptc.linear %u, %wq : tensor<2x4x8xf32>, tensor<8x8xf32> -> tensor<2x4x8xf32>
  %k = gptc.linear %u, %wk : tensor<2x4x8xf32>, tensor<4x8xf32> -> tensor<2x4x4xf32>
  // CHECK: %[[QH:.*]] = gptc.reshape %[[Q]] : tensor<2x4x8xf32> -> tensor<2x4x2x4xf32>
  %qh = gptc.reshape %q : tensor<2x4x8xf32> -> tensor<2x4x2x4xf32>
  %kh = gptc.reshape %k : tensor<2x4x4xf32> -> tensor<2x4x1x4xf32>
  // CHECK: %[[QR:.*]] = gptc.rope %[[QH]] {base = 1.000000e+04 : f32, round_bf16 = true} : tensor<2x4x2x4xf32>
  %qr = gptc.rope %qh {base = 1.0e+04 : f32, round_bf16 = true} : tensor<2x4x2x4xf32>
  // CHECK: gptc.scale %[[QR]] {factor = 1.200000e+00 : f32} : tensor<2x4x2x4xf32>
  %qs = gptc.scale %qr {factor = 1.2 : f32} : tensor<2x4x2x4xf32>
  // CHECK: %[[S:.*]] = gptc.attn_scores %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x2x4x4xf32>
  %s = gptc.attn_scores %qs, %kh {scale = 0.5 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x2x4x4xf32>
  // CHECK: %[[M:.*]] = gptc.causal_mask %[[S]] : tensor<2x2x4x4xf32>
  %m = gptc.causal_mask %s : tensor<2x2x4x4xf32>
  // CHECK: %[[P:.*]] = gptc.softmax %[[M]] : tensor<2x2x4x4xf32>
  %p = gptc.softmax %m : tensor<2x2x4x4xf32>
  // CHECK: gptc.attn_apply %[[P]], %{{.*}} : tensor<2x2x4x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x4x2x4xf32>
  %o = gptc.attn_apply %p, %kh : tensor<2x2x4x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x4x2x4xf32>
  // CHECK: %{{.*}}, %[[LSE:.*]] = gptc.causal_attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 5.000000e-01 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x4x2x4xf32>, tensor<2x2x4xf32>
  %o2, %lse = gptc.causal_attention %qs, %kh, %kh {scale = 0.5 : f32} : tensor<2x4x2x4xf32>, tensor<2x4x1x4xf32>, tensor<2x4x1x4xf32> -> tensor<2x4x2x4xf32>, tensor<2x2x4xf32>
  // CHECK: gptc.add %{{.*}}, %{{.*}} : tensor<2x4x2x4xf32>
  %sum = gptc.add %o, %o2 : tensor<2x4x2x4xf32>
  %flat = gptc.reshape %sum : tensor<2x4x2x4xf32> -> tensor<2x4x8xf32>
  // CHECK: gptc.relu_square %{{.*}} : tensor<2x4x8xf32>
  %h = gptc.relu_square %flat : tensor<2x4x8xf32>
  %logits = gptc.linear %h, %wte : tensor<2x4x8xf32>, tensor<16x8xf32> -> tensor<2x4x16xf32>
  // CHECK: %[[CAP:.*]] = gptc.softcap %{{.*}} {cap = 1.500000e+01 : f32} : tensor<2x4x16xf32>
  %capped = gptc.softcap %logits {cap = 15.0 : f32} : tensor<2x4x16xf32>
  // CHECK: gptc.cross_entropy %[[CAP]], %{{.*}} {ignore_index = -1 : i32} : tensor<2x4x16xf32>, tensor<2x4xi32> -> tensor<f32>
  %loss = gptc.cross_entropy %capped, %idx {ignore_index = -1 : i32} : tensor<2x4x16xf32>, tensor<2x4xi32> -> tensor<f32>
  return %loss : tensor<f32>
}

// Tests that the kernel-level op round-trips, with and without inputs.
// CHECK-LABEL: func.func @kernels
func.func @kernels(%a: memref<32xf32>, %b: memref<32xf32>, %lengths: memref<8xi32>) {
  // CHECK: gptc.kernel "rmsNorm" ins(%{{.*}} : memref<32xf32>) outs(%{{.*}} : memref<32xf32>) dims [4, 8] scalars [1.1920929E-7 : f32]
  gptc.kernel "rmsNorm" ins(%a : memref<32xf32>) outs(%b : memref<32xf32>) dims [4, 8] scalars [1.1920929e-07 : f32]
  // CHECK: gptc.kernel "kvAdvance" outs(%{{.*}} : memref<8xi32>) dims [8] scalars [1 : i32]
  gptc.kernel "kvAdvance" outs(%lengths : memref<8xi32>) dims [8] scalars [1 : i32]
  return
}
