// RUN: gptc-opt %s --split-input-file --gptc-fuse-causal-attention | FileCheck %s

// Tests that scores → causal mask → softmax → apply becomes one fused op
// (GQA: 4 query heads over 2 key/value heads) and the pieces disappear.
// CHECK-LABEL: func.func @fuses_causal_attention
// CHECK-SAME: (%[[Q:.*]]: tensor<2x8x4x16xf32>, %[[K:.*]]: tensor<2x8x2x16xf32>, %[[V:.*]]: tensor<2x8x2x16xf32>)
// CHECK: %[[O:.*]], %{{.*}} = gptc.causal_attention %[[Q]], %[[K]], %[[V]] {scale = 2.500000e-01 : f32}
// CHECK-NOT: gptc.attn_scores
// CHECK-NOT: gptc.softmax
// CHECK: return %[[O]]
func.func @fuses_causal_attention(%q: tensor<2x8x4x16xf32>, %k: tensor<2x8x2x16xf32>, %v: tensor<2x8x2x16xf32>) -> tensor<2x8x4x16xf32> {
  %s = gptc.attn_scores %q, %k {scale = 0.25 : f32} : tensor<2x8x4x16xf32>, tensor<2x8x2x16xf32> -> tensor<2x4x8x8xf32>
  %m = gptc.causal_mask %s : tensor<2x4x8x8xf32>
  %p = gptc.softmax %m : tensor<2x4x8x8xf32>
  %o = gptc.attn_apply %p, %v : tensor<2x4x8x8xf32>, tensor<2x8x2x16xf32> -> tensor<2x8x4x16xf32>
  return %o : tensor<2x8x4x16xf32>
}

// -----

// Tests that attention without a causal mask is not fused: the fused op is
// causal only.
// CHECK-LABEL: func.func @no_fusion_without_causal_mask
// CHECK-NOT: gptc.causal_attention
// CHECK: gptc.softmax
// CHECK: gptc.attn_apply
func.func @no_fusion_without_causal_mask(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x1x8xf32>) -> tensor<1x4x1x8xf32> {
  %s = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32> -> tensor<1x1x4x4xf32>
  %p = gptc.softmax %s : tensor<1x1x4x4xf32>
  %o = gptc.attn_apply %p, %k : tensor<1x1x4x4xf32>, tensor<1x4x1x8xf32> -> tensor<1x4x1x8xf32>
  return %o : tensor<1x4x1x8xf32>
}

// -----

// Tests that attention whose probabilities are also returned is not fused:
// they must exist, so fusing would compute attention twice.
// CHECK-LABEL: func.func @no_fusion_when_probs_are_used
// CHECK-NOT: gptc.causal_attention
// CHECK: %[[P:.*]] = gptc.softmax
// CHECK: return %{{.*}}, %[[P]]
func.func @no_fusion_when_probs_are_used(%q: tensor<1x4x1x8xf32>, %k: tensor<1x4x1x8xf32>) -> (tensor<1x4x1x8xf32>, tensor<1x1x4x4xf32>) {
  %s = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32> -> tensor<1x1x4x4xf32>
  %m = gptc.causal_mask %s : tensor<1x1x4x4xf32>
  %p = gptc.softmax %m : tensor<1x1x4x4xf32>
  %o = gptc.attn_apply %p, %k : tensor<1x1x4x4xf32>, tensor<1x4x1x8xf32> -> tensor<1x4x1x8xf32>
  return %o, %p : tensor<1x4x1x8xf32>, tensor<1x1x4x4xf32>
}

// -----

// Tests that values of another shape than the keys are not fused.
// CHECK-LABEL: func.func @no_fusion_when_value_heads_differ
// CHECK-NOT: gptc.causal_attention
// CHECK: gptc.attn_apply
func.func @no_fusion_when_value_heads_differ(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %v: tensor<1x4x2x8xf32>) -> tensor<1x4x2x8xf32> {
  %s = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32> -> tensor<1x2x4x4xf32>
  %m = gptc.causal_mask %s : tensor<1x2x4x4xf32>
  %p = gptc.softmax %m : tensor<1x2x4x4xf32>
  %o = gptc.attn_apply %p, %v : tensor<1x2x4x4xf32>, tensor<1x4x2x8xf32> -> tensor<1x4x2x8xf32>
  return %o : tensor<1x4x2x8xf32>
}
