// RUN: gptc-opt %s --gptc-make-decode | FileCheck %s
// RUN: gptc-opt %s --gptc-make-decode=capacity=8 | FileCheck %s --check-prefix=CAP8

// Tests that without a capacity the cache holds the model's sequence_len (6,
// from the module's gptc.config) tokens per row, that capacity overrides it,
// and that the ops replacing RoPE and the attention keep their gptc.layer.
// CHECK-LABEL: func.func @step
// CHECK-SAME: tensor<1x1x6x1x4xf32> {gptc.name = "k_cache"}
// CHECK: gptc.rope_at {{.*}} {base = 1.000000e+04 : f32, gptc.layer = 0 : i64, round_bf16 = false}
// CHECK: gptc.kv_append {{.*}} {gptc.layer = 0 : i64, layer = 0 : i64}
// CHECK: gptc.kv_append {{.*}} {gptc.layer = 0 : i64, layer = 0 : i64}
// CHECK: gptc.cached_attention {{.*}} {gptc.layer = 0 : i64, layer = 0 : i64, scale = 5.000000e-01 : f32}
// CAP8: tensor<1x1x8x1x4xf32> {gptc.name = "k_cache"}
module attributes {gptc.config = "{\22sequence_len\22:6}"} {
  func.func @step(%tok: tensor<1x3xi32> {gptc.name = "tokens"}, %wte: tensor<10x4xf32> {gptc.param = "wte"})
      -> (tensor<1x3x10xf32> {gptc.name = "logits"}) {
    %x = gptc.embedding %wte, %tok : tensor<10x4xf32>, tensor<1x3xi32> -> tensor<1x3x4xf32>
    %h = gptc.reshape %x {gptc.layer = 0 : i64} : tensor<1x3x4xf32> -> tensor<1x3x1x4xf32>
    %q = gptc.rope %h {base = 1.0e+04 : f32, gptc.layer = 0 : i64, round_bf16 = false} : tensor<1x3x1x4xf32>
    %o, %lse = gptc.causal_attention %q, %q, %h {gptc.layer = 0 : i64, scale = 0.5 : f32} : tensor<1x3x1x4xf32>, tensor<1x3x1x4xf32>, tensor<1x3x1x4xf32> -> tensor<1x3x1x4xf32>, tensor<1x1x3xf32>
    %y = gptc.reshape %o {gptc.layer = 0 : i64} : tensor<1x3x1x4xf32> -> tensor<1x3x4xf32>
    %logits = gptc.linear %y, %wte : tensor<1x3x4xf32>, tensor<10x4xf32> -> tensor<1x3x10xf32>
    return %logits : tensor<1x3x10xf32>
  }
}
