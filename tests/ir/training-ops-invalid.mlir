// RUN: gptc-opt %s --split-input-file --verify-diagnostics

// Tests that a fill has a static shape.
func.func @fill_dynamic() {
  // expected-error @+1 {{'gptc.fill' op expects a static shape}}
  %0 = gptc.fill {value = 0.0 : f32} : tensor<?xf32>
  return
}

// -----

// Tests that an embedding gradient is a [V, C] table.
func.func @embedding_grad_rank(%ids: tensor<4xi32>, %d: tensor<4x8xf32>) {
  // expected-error @+1 {{'gptc.embedding_grad' op expects a table gradient of rank 2 [V, C], got 'tensor<16xf32>'}}
  %0 = gptc.embedding_grad %ids, %d : tensor<4xi32>, tensor<4x8xf32> -> tensor<16xf32>
  return
}

// -----

// Tests that the incoming gradient has the embedding output's shape.
func.func @embedding_grad_shape(%ids: tensor<4xi32>, %d: tensor<5x8xf32>) {
  // expected-error @+1 {{'gptc.embedding_grad' op expects a gradient of shape ids × C, got 'tensor<5x8xf32>'}}
  %0 = gptc.embedding_grad %ids, %d : tensor<4xi32>, tensor<5x8xf32> -> tensor<16x8xf32>
  return
}

// -----

// Tests the fused loss's operand shapes.
func.func @lm_head_channels(%x: tensor<4x8xf32>, %w: tensor<16x6xf32>, %t: tensor<4xi32>) {
  // expected-error @+2 {{expects x [..., C] and weight [V, C], got 'tensor<4x8xf32>' and 'tensor<16x6xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.lm_head_loss %x, %w, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x6xf32>, tensor<4xi32> -> tensor<f32>
  return
}

// -----

// Tests that the fused loss's targets match x without channels.
func.func @lm_head_targets(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %t: tensor<5xi32>) {
  // expected-error @+2 {{targets 'tensor<5xi32>' must have x's shape without the channel axis}}
  // expected-error @+1 {{failed to infer returned types}}
  %0 = gptc.lm_head_loss %x, %w, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<5xi32> -> tensor<f32>
  return
}

// -----

// Tests that a linear gradient matches the layer's output.
func.func @linear_grad_output(%dy: tensor<4x8xf32>, %x: tensor<4x8xf32>, %w: tensor<16x8xf32>) {
  // expected-error @+2 {{expects the output gradient to be 'tensor<4x16xf32>', got 'tensor<4x8xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0, %1 = gptc.linear_grad %dy, %x, %w : tensor<4x8xf32>, tensor<4x8xf32>, tensor<16x8xf32> -> tensor<4x8xf32>, tensor<16x8xf32>
  return
}

// -----

// Tests that the attention backward reads the forward's output and LSE.
func.func @attention_grad_lse(%q: tensor<1x4x1x8xf32>, %lse: tensor<1x4xf32>) {
  // expected-error @+2 {{expects out and grad_out of type 'tensor<1x4x1x8xf32>' and lse of type 'tensor<1x1x4xf32>'}}
  // expected-error @+1 {{failed to infer returned types}}
  %0, %1, %2 = gptc.causal_attention_grad %q, %q, %q, %q, %lse, %q {scale = 1.0 : f32} : tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4xf32>, tensor<1x4x1x8xf32> -> tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>
  return
}

// -----

// Tests that the fused loss's precision is f32 or bf16.
func.func @lm_head_precision(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %t: tensor<4xi32>) {
  // expected-error @+1 {{'gptc.lm_head_loss' op precision must be "f32" or "bf16", got "fp8"}}
  %0 = gptc.lm_head_loss %x, %w, %t {cap = 15.0 : f32, ignore_index = -1 : i32, precision = "fp8"} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32> -> tensor<f32>
  return
}

// -----

// Tests the fused loss gradient's precision likewise.
func.func @lm_head_grad_precision(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %t: tensor<4xi32>, %dl: tensor<f32>) {
  // expected-error @+1 {{'gptc.lm_head_loss_grad' op precision must be "f32" or "bf16", got "tf32"}}
  %0, %1 = gptc.lm_head_loss_grad %x, %w, %t, %dl {cap = 15.0 : f32, ignore_index = -1 : i32, precision = "tf32"} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32>, tensor<f32> -> tensor<4x8xf32>, tensor<16x8xf32>
  return
}
