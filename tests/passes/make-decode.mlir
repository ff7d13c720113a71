// RUN: gptc-opt %s --split-input-file --gptc-make-decode=capacity=8 | FileCheck %s

// Tests that a one-layer forward function over [R=2, T=3] tokens becomes an
// incremental function: the cache [L=1, R=2, Cap=8, Hkv=1, D=4] and the
// lengths join the arguments after the tokens, RoPE rotates at the rows'
// positions, the attention writes the new keys and values into the cache
// and attends over it, the lengths advance by T once, and the loss and the
// targets are gone.
// CHECK-LABEL: func.func @step
// CHECK-SAME: (%[[TOK:.*]]: tensor<2x3xi32> {gptc.name = "tokens"}, %[[KC:.*]]: tensor<1x2x8x1x4xf32> {gptc.name = "k_cache"}, %[[VC:.*]]: tensor<1x2x8x1x4xf32> {gptc.name = "v_cache"}, %[[LEN:.*]]: tensor<2xi32> {gptc.name = "lengths"}, %[[W:.*]]: tensor<10x4xf32> {gptc.param = "wte"})
// CHECK-SAME: -> (tensor<2x3x10xf32> {gptc.name = "logits"}, tensor<1x2x8x1x4xf32> {gptc.name = "k_cache"}, tensor<1x2x8x1x4xf32> {gptc.name = "v_cache"}, tensor<2xi32> {gptc.name = "lengths"})
// CHECK: %[[X:.*]] = gptc.embedding
// CHECK: %[[Q:.*]] = gptc.rope_at %{{.*}}, %[[LEN]] {base = 1.000000e+04 : f32, round_bf16 = false} : tensor<2x3x1x4xf32>, tensor<2xi32>
// CHECK: %[[KC1:.*]] = gptc.kv_append %[[KC]], %[[LEN]], %[[Q]] {layer = 0 : i64}
// CHECK: %[[VC1:.*]] = gptc.kv_append %[[VC]], %[[LEN]], %{{.*}} {layer = 0 : i64}
// CHECK: %[[O:.*]] = gptc.cached_attention %[[Q]], %[[KC1]], %[[VC1]], %[[LEN]] {layer = 0 : i64, scale = 5.000000e-01 : f32}
// CHECK-NOT: gptc.causal_attention
// CHECK: %[[LOGITS:.*]] = gptc.linear
// CHECK: %[[LEN1:.*]] = gptc.kv_advance %[[LEN]] {by = 3 : i64} : tensor<2xi32>
// CHECK-NOT: gptc.cross_entropy
// CHECK: return %[[LOGITS]], %[[KC1]], %[[VC1]], %[[LEN1]]
func.func @step(%tok: tensor<2x3xi32> {gptc.name = "tokens"}, %tgt: tensor<2x3xi32> {gptc.name = "targets"},
                %wte: tensor<10x4xf32> {gptc.param = "wte"})
    -> (tensor<2x3x10xf32> {gptc.name = "logits"}, tensor<f32> {gptc.name = "loss"}) {
  %x = gptc.embedding %wte, %tok : tensor<10x4xf32>, tensor<2x3xi32> -> tensor<2x3x4xf32>
  %h = gptc.reshape %x : tensor<2x3x4xf32> -> tensor<2x3x1x4xf32>
  %q = gptc.rope %h {base = 1.0e+04 : f32, round_bf16 = false} : tensor<2x3x1x4xf32>
  %o, %lse = gptc.causal_attention %q, %q, %h {scale = 0.5 : f32} : tensor<2x3x1x4xf32>, tensor<2x3x1x4xf32>, tensor<2x3x1x4xf32> -> tensor<2x3x1x4xf32>, tensor<2x1x3xf32>
  %y = gptc.reshape %o : tensor<2x3x1x4xf32> -> tensor<2x3x4xf32>
  %logits = gptc.linear %y, %wte : tensor<2x3x4xf32>, tensor<10x4xf32> -> tensor<2x3x10xf32>
  %loss = gptc.cross_entropy %logits, %tgt {ignore_index = -1 : i32} : tensor<2x3x10xf32>, tensor<2x3xi32> -> tensor<f32>
  return %logits, %loss : tensor<2x3x10xf32>, tensor<f32>
}

// -----

// Tests that kv-dtype=bf16 makes the cache bfloat16 (the new entries stay
// float32 and are rounded when written).
// RUN: gptc-opt %s --split-input-file --gptc-make-decode="capacity=8 kv-dtype=bf16" | FileCheck %s --check-prefix=BF16
// BF16-LABEL: func.func @bf16_cache
// BF16-SAME: tensor<1x1x8x1x4xbf16> {gptc.name = "k_cache"}
// BF16: gptc.kv_append %{{.*}}, %{{.*}}, %{{.*}} {layer = 0 : i64} : tensor<1x1x8x1x4xbf16>, tensor<1xi32>, tensor<1x1x1x4xf32>
// BF16: gptc.cached_attention {{.*}} : tensor<1x1x1x4xf32>, tensor<1x1x8x1x4xbf16>, tensor<1x1x8x1x4xbf16>, tensor<1xi32> -> tensor<1x1x1x4xf32>
func.func @bf16_cache(%tok: tensor<1x1xi32> {gptc.name = "tokens"}, %q: tensor<1x1x1x4xf32>) -> (tensor<1x1x1x4xf32> {gptc.name = "logits"}) {
  %o, %lse = gptc.causal_attention %q, %q, %q {scale = 0.5 : f32} : tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32>, tensor<1x1x1x4xf32> -> tensor<1x1x1x4xf32>, tensor<1x1x1xf32>
  return %o : tensor<1x1x1x4xf32>
}
