// RUN: gptc-opt %s --split-input-file --verify-diagnostics

// Tests that the embedding table must be a matrix.
func.func @embedding_table_rank(%t: tensor<16xf32>, %ids: tensor<2xi32>) {
  // expected-error @+2 {{expects a table of rank 2 [V, C], got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.embedding %t, %ids : tensor<16xf32>, tensor<2xi32> -> tensor<2x16xf32>
  return
}

// -----

// Tests that a linear weight must be a matrix.
func.func @linear_weight_rank(%x: tensor<2x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+2 {{expects a weight of rank 2 [N, K], got rank 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.linear %x, %w : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  return
}

// -----

// Tests that a linear input needs a feature axis.
func.func @linear_input_rank(%x: tensor<f32>, %w: tensor<8x8xf32>) {
  // expected-error @+2 {{expects an input of rank >= 1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.linear %x, %w : tensor<f32>, tensor<8x8xf32> -> tensor<8xf32>
  return
}

// -----

// Tests that input features must match the [out, in] weight.
func.func @linear_features(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+2 {{input features K=8 do not match the weight's K=4 (weights are stored [out, in])}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.linear %x, %w : tensor<2x8xf32>, tensor<8x4xf32> -> tensor<2x8xf32>
  return
}

// -----

// Tests that a declared result type must agree with the inferred one.
func.func @linear_result_type(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+2 {{'gptc.linear' op inferred type(s) 'tensor<2x4xf32>' are incompatible with return type(s) of operation 'tensor<2x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.linear %x, %w : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x8xf32>
  return
}

// -----

// Tests that reshape keeps the element type.
func.func @reshape_type(%x: tensor<8xf32>) {
  // expected-error @+1 {{'gptc.reshape' op cannot change the element type from 'f32' to 'i32'}}
  %0 = gptc.reshape %x : tensor<8xf32> -> tensor<2x4xi32>
  return
}

// -----

// Tests that reshape needs static shapes.
func.func @reshape_dynamic(%x: tensor<?xf32>) {
  // expected-error @+1 {{'gptc.reshape' op expects static shapes}}
  %0 = gptc.reshape %x : tensor<?xf32> -> tensor<2x4xf32>
  return
}

// -----

// Tests that reshape keeps the element count.
func.func @reshape_count(%x: tensor<8xf32>) {
  // expected-error @+1 {{'gptc.reshape' op cannot reshape 8 elements into 6}}
  %0 = gptc.reshape %x : tensor<8xf32> -> tensor<2x3xf32>
  return
}

// -----

// Tests that RoPE works on [B, T, H, D].
func.func @rope_rank(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'gptc.rope' op expects rank 4 [B, T, H, D], got rank 2}}
  %0 = gptc.rope %x {base = 1.0e+04 : f32, round_bf16 = false} : tensor<4x8xf32>
  return
}

// -----

// Tests that RoPE pairs the halves of an even head dim.
func.func @rope_odd_head_dim(%x: tensor<1x2x2x5xf32>) {
  // expected-error @+1 {{'gptc.rope' op expects an even head dim to pair its halves, got D=5}}
  %0 = gptc.rope %x {base = 1.0e+04 : f32, round_bf16 = false} : tensor<1x2x2x5xf32>
  return
}

// -----

// Tests that the RoPE base must exceed one.
func.func @rope_base(%x: tensor<1x2x2x4xf32>) {
  // expected-error @+1 {{'gptc.rope' op expects base > 1, got 1}}
  %0 = gptc.rope %x {base = 1.0 : f32, round_bf16 = false} : tensor<1x2x2x4xf32>
  return
}

// -----

// Tests that queries are [B, T, H, D].
func.func @scores_q_rank(%q: tensor<2x4x8xf32>, %k: tensor<2x4x1x8xf32>) {
  // expected-error @+2 {{expects q of rank 4 [B, T, H, D], got rank 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<2x4x8xf32>, tensor<2x4x1x8xf32> -> tensor<2x1x4x4xf32>
  return
}

// -----

// Tests that keys are [B, S, Hkv, D].
func.func @scores_k_rank(%q: tensor<2x4x1x8xf32>, %k: tensor<2x4x8xf32>) {
  // expected-error @+2 {{expects k of rank 4 [B, S, Hkv, D], got rank 3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<2x4x1x8xf32>, tensor<2x4x8xf32> -> tensor<2x1x4x4xf32>
  return
}

// -----

// Tests that queries and keys share the batch.
func.func @scores_batch(%q: tensor<2x4x1x8xf32>, %k: tensor<3x4x1x8xf32>) {
  // expected-error @+2 {{batch mismatch: q has B=2, k has B=3}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<2x4x1x8xf32>, tensor<3x4x1x8xf32> -> tensor<2x1x4x4xf32>
  return
}

// -----

// Tests that queries and keys share the head dim.
func.func @scores_head_dim(%q: tensor<2x4x1x8xf32>, %k: tensor<2x4x1x4xf32>) {
  // expected-error @+2 {{head dim mismatch: q has D=8, k has D=4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<2x4x1x8xf32>, tensor<2x4x1x4xf32> -> tensor<2x1x4x4xf32>
  return
}

// -----

// Tests that query heads come in whole groups per key/value head.
func.func @scores_groups(%q: tensor<2x4x3x8xf32>, %k: tensor<2x4x2x8xf32>) {
  // expected-error @+2 {{query heads H=3 is not a multiple of key/value heads Hkv=2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_scores %q, %k {scale = 1.0 : f32} : tensor<2x4x3x8xf32>, tensor<2x4x2x8xf32> -> tensor<2x3x4x4xf32>
  return
}

// -----

// Tests that the causal mask needs square scores.
func.func @mask_square(%s: tensor<2x1x4x5xf32>) {
  // expected-error @+1 {{'gptc.causal_mask' op expects square scores [..., T, T], got 'tensor<2x1x4x5xf32>'}}
  %0 = gptc.causal_mask %s : tensor<2x1x4x5xf32>
  return
}

// -----

// Tests that probabilities and values are rank 4.
func.func @apply_rank(%p: tensor<2x1x4xf32>, %v: tensor<2x4x1x8xf32>) {
  // expected-error @+2 {{expects probs [B, H, T, S] and v [B, S, Hkv, D] of rank 4}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_apply %p, %v : tensor<2x1x4xf32>, tensor<2x4x1x8xf32> -> tensor<2x4x1x8xf32>
  return
}

// -----

// Tests that probabilities and values share the batch.
func.func @apply_batch(%p: tensor<2x1x4x4xf32>, %v: tensor<1x4x1x8xf32>) {
  // expected-error @+2 {{batch mismatch: probs has B=2, v has B=1}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_apply %p, %v : tensor<2x1x4x4xf32>, tensor<1x4x1x8xf32> -> tensor<2x4x1x8xf32>
  return
}

// -----

// Tests that probabilities attend over as many keys as there are values.
func.func @apply_keys(%p: tensor<2x1x4x4xf32>, %v: tensor<2x5x1x8xf32>) {
  // expected-error @+2 {{probs attend over S=4 keys but v has S=5}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_apply %p, %v : tensor<2x1x4x4xf32>, tensor<2x5x1x8xf32> -> tensor<2x4x1x8xf32>
  return
}

// -----

// Tests that applied heads come in whole groups per value head.
func.func @apply_groups(%p: tensor<2x3x4x4xf32>, %v: tensor<2x4x2x8xf32>) {
  // expected-error @+2 {{query heads H=3 is not a multiple of key/value heads Hkv=2}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.attn_apply %p, %v : tensor<2x3x4x4xf32>, tensor<2x4x2x8xf32> -> tensor<2x4x3x8xf32>
  return
}

// -----

// Tests that fused attention needs keys and values of one shape.
func.func @attention_kv(%q: tensor<2x4x2x8xf32>, %k: tensor<2x4x1x8xf32>, %v: tensor<2x4x2x8xf32>) {
  // expected-error @+2 {{k and v must have the same shape}}
  // expected-error @+1 {{failed to infer returned types}}
  %o, %l = gptc.causal_attention %q, %k, %v {scale = 1.0 : f32} : tensor<2x4x2x8xf32>, tensor<2x4x1x8xf32>, tensor<2x4x2x8xf32> -> tensor<2x4x2x8xf32>, tensor<2x2x4xf32>
  return
}

// -----

// Tests that fused causal attention attends within the sequence.
func.func @attention_length(%q: tensor<2x4x2x8xf32>, %k: tensor<2x6x1x8xf32>) {
  // expected-error @+2 {{causal attention expects as many keys as queries, got T=4 and S=6}}
  // expected-error @+1 {{failed to infer returned types}}
  %o, %l = gptc.causal_attention %q, %k, %k {scale = 1.0 : f32} : tensor<2x4x2x8xf32>, tensor<2x6x1x8xf32>, tensor<2x6x1x8xf32> -> tensor<2x4x2x8xf32>, tensor<2x2x4xf32>
  return
}

// -----

// Tests that the soft-cap is positive.
func.func @softcap_cap(%x: tensor<4xf32>) {
  // expected-error @+1 {{'gptc.softcap' op expects a positive cap, got 0}}
  %0 = gptc.softcap %x {cap = 0.0 : f32} : tensor<4xf32>
  return
}

// -----

// Tests that targets have the logits' shape without the vocabulary.
func.func @cross_entropy_targets(%l: tensor<2x4x16xf32>, %t: tensor<2x5xi32>) {
  // expected-error @+2 {{targets 'tensor<2x5xi32>' must have the logits' shape without the vocabulary axis, logits are 'tensor<2x4x16xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.cross_entropy %l, %t {ignore_index = -1 : i32} : tensor<2x4x16xf32>, tensor<2x5xi32> -> tensor<f32>
  return
}

// -----

// Tests that a kernel call names a kernel of the kernel table.
func.func @kernel_name(%a: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op names kernel 'scal', which is not in backends/Kernels.def}}
  gptc.kernel "scal" outs(%a : memref<4xf32>) dims [4] scalars []
  return
}

// -----

// Tests that a kernel call passes the kernel's output buffers.
func.func @kernel_outputs(%a: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op kernel 'scale' takes 1 output buffers, got 0}}
  "gptc.kernel"(%a) <{callee = "scale", dims = array<i64: 4>, operandSegmentSizes = array<i32: 1, 0>, scalars = []}> : (memref<4xf32>) -> ()
  return
}

// -----

// Tests that a kernel call passes the kernel's input buffers.
func.func @kernel_inputs(%a: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op kernel 'scale' takes 1 input buffers, got 0}}
  gptc.kernel "scale" outs(%a : memref<4xf32>) dims [4] scalars [1.0 : f32]
  return
}

// -----

// Tests that buffers have the element types of the kernel's parameters.
func.func @kernel_buffer_type(%a: memref<4xf32>, %b: memref<4xi32>) {
  // expected-error @+1 {{'gptc.kernel' op kernel 'scale' takes output 'y' as float elements, got 'memref<4xi32>'}}
  gptc.kernel "scale" ins(%a : memref<4xf32>) outs(%b : memref<4xi32>) dims [4] scalars [1.0 : f32]
  return
}

// -----

// Tests that a kernel call passes as many sizes as the kernel takes.
func.func @kernel_dim_count(%a: memref<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op kernel 'rmsNorm' takes 2 dims, got 1}}
  gptc.kernel "rmsNorm" ins(%a : memref<4xf32>) outs(%b : memref<4xf32>) dims [4] scalars [1.0e-6 : f32]
  return
}

// -----

// Tests that kernel sizes are non-negative.
func.func @kernel_dims(%a: memref<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op dim 'n' must be non-negative, got -4}}
  gptc.kernel "scale" ins(%a : memref<4xf32>) outs(%b : memref<4xf32>) dims [-4] scalars [1.0 : f32]
  return
}

// -----

// Tests that a kernel call passes as many scalars as the kernel takes.
func.func @kernel_scalar_count(%a: memref<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op kernel 'scale' takes 1 scalars, got 0}}
  gptc.kernel "scale" ins(%a : memref<4xf32>) outs(%b : memref<4xf32>) dims [4] scalars []
  return
}

// -----

// Tests that scalar arguments have the types of the kernel's parameters.
func.func @kernel_scalars(%a: memref<4xf32>, %b: memref<4xf32>) {
  // expected-error @+1 {{'gptc.kernel' op kernel 'scale' takes scalar 'factor' as an f32 attribute, got 1 : i32}}
  gptc.kernel "scale" ins(%a : memref<4xf32>) outs(%b : memref<4xf32>) dims [4] scalars [1 : i32]
  return
}

// -----

// Tests that a matrix product's precision is f32 or bf16.
func.func @linear_precision(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{'gptc.linear' op precision must be "f32" or "bf16", got "fp8"}}
  %0 = gptc.linear %x, %w {precision = "fp8"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  return
}

// -----

// Tests the gradient's precision likewise.
func.func @linear_grad_precision(%dy: tensor<2x8xf32>, %x: tensor<2x8xf32>, %w: tensor<8x8xf32>) {
  // expected-error @+1 {{'gptc.linear_grad' op precision must be "f32" or "bf16", got "tf32"}}
  %0, %1 = gptc.linear_grad %dy, %x, %w {precision = "tf32"} : tensor<2x8xf32>, tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>, tensor<8x8xf32>
  return
}
