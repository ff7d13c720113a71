// RUN: gptc-opt %s | gptc-opt | FileCheck %s
// RUN: gptc-opt %s --mlir-print-op-generic | gptc-opt | FileCheck %s

// Tests that the decode ops round-trip.
// CHECK-LABEL: func.func @decode_ops
func.func @decode_ops(%q: tensor<2x1x4x8xf32>, %k: tensor<2x1x2x8xf32>, %kc: tensor<3x2x16x2x8xf32>,
                      %vc: tensor<3x2x16x2x8xf32>, %len: tensor<2xi32>) -> tensor<2xi32> {
  // CHECK: gptc.rope_at %{{.*}}, %{{.*}} {base = 1.000000e+04 : f32, round_bf16 = true} : tensor<2x1x4x8xf32>, tensor<2xi32>
  %qr = gptc.rope_at %q, %len {base = 1.0e+04 : f32, round_bf16 = true} : tensor<2x1x4x8xf32>, tensor<2xi32>
  // CHECK: %[[KC:.*]] = gptc.kv_append %{{.*}}, %{{.*}}, %{{.*}} {layer = 2 : i64} : tensor<3x2x16x2x8xf32>, tensor<2xi32>, tensor<2x1x2x8xf32>
  %kc1 = gptc.kv_append %kc, %len, %k {layer = 2 : i64} : tensor<3x2x16x2x8xf32>, tensor<2xi32>, tensor<2x1x2x8xf32>
  // CHECK: gptc.cached_attention %{{.*}}, %[[KC]], %{{.*}}, %{{.*}} {layer = 2 : i64, scale = 3.500000e-01 : f32} : tensor<2x1x4x8xf32>, tensor<3x2x16x2x8xf32>, tensor<3x2x16x2x8xf32>, tensor<2xi32> -> tensor<2x1x4x8xf32>
  %o = gptc.cached_attention %qr, %kc1, %vc, %len {layer = 2 : i64, scale = 0.35 : f32} : tensor<2x1x4x8xf32>, tensor<3x2x16x2x8xf32>, tensor<3x2x16x2x8xf32>, tensor<2xi32> -> tensor<2x1x4x8xf32>
  // CHECK: gptc.kv_advance %{{.*}} {by = 1 : i64} : tensor<2xi32>
  %len1 = gptc.kv_advance %len {by = 1 : i64} : tensor<2xi32>
  return %len1 : tensor<2xi32>
}
