// RUN: gptc-opt %s --split-input-file --gptc-make-decode=capacity=8 --verify-diagnostics
// RUN: not gptc-opt %s --gptc-make-decode 2>&1 | FileCheck %s --check-prefix=CAP
// CAP: error: gptc-make-decode needs capacity > 0, or a module gptc.config with a positive sequence_len to default to

// Tests that attention must be fused first.
func.func @unfused(%tok: tensor<1x2xi32> {gptc.name = "tokens"}, %q: tensor<1x2x1x4xf32>) -> (tensor<1x2x1x4xf32> {gptc.name = "logits"}) {
  // expected-error @+1 {{expects fused attention; run gptc-fuse-causal-attention first}}
  %s = gptc.attn_scores %q, %q {scale = 1.0 : f32} : tensor<1x2x1x4xf32>, tensor<1x2x1x4xf32> -> tensor<1x1x2x2xf32>
  %m = gptc.causal_mask %s : tensor<1x1x2x2xf32>
  %p = gptc.softmax %m : tensor<1x1x2x2xf32>
  %o = gptc.attn_apply %p, %q : tensor<1x1x2x2xf32>, tensor<1x2x1x4xf32> -> tensor<1x2x1x4xf32>
  return %o : tensor<1x2x1x4xf32>
}

// -----

// Tests that the function must name its tokens and logits.
// expected-error @+1 {{expects an argument named "tokens" and a result named "logits"}}
func.func @unnamed(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = gptc.relu_square %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Tests that a chunk longer than the cache is refused.
// expected-error @+1 {{a KV cache of 8 slots per row cannot hold a chunk of 9 tokens}}
func.func @too_long(%tok: tensor<1x9xi32> {gptc.name = "tokens"}, %q: tensor<1x9x1x4xf32>) -> (tensor<1x9x1x4xf32> {gptc.name = "logits"}) {
  %o, %lse = gptc.causal_attention %q, %q, %q {scale = 1.0 : f32} : tensor<1x9x1x4xf32>, tensor<1x9x1x4xf32>, tensor<1x9x1x4xf32> -> tensor<1x9x1x4xf32>, tensor<1x1x9xf32>
  return %o : tensor<1x9x1x4xf32>
}

// -----

// Tests that a function without attention has nothing to cache.
// expected-error @+1 {{expects at least one causal attention}}
func.func @no_attention(%tok: tensor<1x2xi32> {gptc.name = "tokens"}, %x: tensor<1x2x4xf32>) -> (tensor<1x2x4xf32> {gptc.name = "logits"}) {
  %y = gptc.relu_square %x : tensor<1x2x4xf32>
  return %y : tensor<1x2x4xf32>
}
