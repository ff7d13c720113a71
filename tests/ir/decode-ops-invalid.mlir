// RUN: gptc-opt %s --split-input-file --verify-diagnostics

// Tests that RoPE at positions needs [R, T, H, D] with an even D.
func.func @rope_at_shape(%x: tensor<2x1x4x5xf32>, %len: tensor<2xi32>) {
  // expected-error @+1 {{'gptc.rope_at' op expects [R, T, H, D] with an even D, got 'tensor<2x1x4x5xf32>'}}
  %0 = gptc.rope_at %x, %len {base = 1.0e+04 : f32, round_bf16 = false} : tensor<2x1x4x5xf32>, tensor<2xi32>
  return
}

// -----

// Tests that there is one position per row.
func.func @rope_at_rows(%x: tensor<2x1x4x8xf32>, %len: tensor<3xi32>) {
  // expected-error @+1 {{'gptc.rope_at' op expects one length per row [2], got 'tensor<3xi32>'}}
  %0 = gptc.rope_at %x, %len {base = 1.0e+04 : f32, round_bf16 = false} : tensor<2x1x4x8xf32>, tensor<3xi32>
  return
}

// -----

// Tests that the layer written exists.
func.func @append_layer(%kc: tensor<2x1x8x1x4xf32>, %len: tensor<1xi32>, %k: tensor<1x1x1x4xf32>) {
  // expected-error @+1 {{'gptc.kv_append' op layer 2 is outside the cache's 2 layers}}
  %0 = gptc.kv_append %kc, %len, %k {layer = 2 : i64} : tensor<2x1x8x1x4xf32>, tensor<1xi32>, tensor<1x1x1x4xf32>
  return
}

// -----

// Tests that new entries match the cache's heads.
func.func @append_entries(%kc: tensor<2x1x8x1x4xf32>, %len: tensor<1xi32>, %k: tensor<1x1x2x4xf32>) {
  // expected-error @+1 {{'gptc.kv_append' op expects new entries [R, T, Hkv, D] matching the cache 'tensor<2x1x8x1x4xf32>', got 'tensor<1x1x2x4xf32>'}}
  %0 = gptc.kv_append %kc, %len, %k {layer = 0 : i64} : tensor<2x1x8x1x4xf32>, tensor<1xi32>, tensor<1x1x2x4xf32>
  return
}

// -----

// Tests that a chunk must fit in the cache.
func.func @append_too_long(%kc: tensor<1x1x2x1x4xf32>, %len: tensor<1xi32>, %k: tensor<1x3x1x4xf32>) {
  // expected-error @+1 {{'gptc.kv_append' op writes 3 tokens into a cache of 2 slots per row}}
  %0 = gptc.kv_append %kc, %len, %k {layer = 0 : i64} : tensor<1x1x2x1x4xf32>, tensor<1xi32>, tensor<1x3x1x4xf32>
  return
}

// -----

// Tests that the cache has as many rows as the queries.
func.func @attention_rows(%q: tensor<2x1x2x4xf32>, %kc: tensor<1x1x8x1x4xf32>, %len: tensor<2xi32>) {
  // expected-error @+1 {{'gptc.cached_attention' op expects a cache of 2 rows [L, R, Cap, Hkv, D], got 'tensor<1x1x8x1x4xf32>'}}
  %0 = gptc.cached_attention %q, %kc, %kc, %len {layer = 0 : i64, scale = 1.0 : f32} : tensor<2x1x2x4xf32>, tensor<1x1x8x1x4xf32>, tensor<1x1x8x1x4xf32>, tensor<2xi32> -> tensor<2x1x2x4xf32>
  return
}

// -----

// Tests that queries are [R, T, H, D].
func.func @attention_queries(%q: tensor<1x2x4xf32>, %kc: tensor<1x1x8x1x4xf32>, %len: tensor<1xi32>) {
  // expected-error @+1 {{'gptc.cached_attention' op expects queries [R, T, H, D], got 'tensor<1x2x4xf32>'}}
  %0 = gptc.cached_attention %q, %kc, %kc, %len {layer = 0 : i64, scale = 1.0 : f32} : tensor<1x2x4xf32>, tensor<1x1x8x1x4xf32>, tensor<1x1x8x1x4xf32>, tensor<1xi32> -> tensor<1x2x4xf32>
  return
}

// -----

// Tests that key and value caches agree.
func.func @attention_caches(%q: tensor<1x1x2x4xf32>, %kc: tensor<1x1x8x1x4xf32>, %vc: tensor<1x1x9x1x4xf32>, %len: tensor<1xi32>) {
  // expected-error @+1 {{'gptc.cached_attention' op expects key and value caches of one type}}
  %0 = gptc.cached_attention %q, %kc, %vc, %len {layer = 0 : i64, scale = 1.0 : f32} : tensor<1x1x2x4xf32>, tensor<1x1x8x1x4xf32>, tensor<1x1x9x1x4xf32>, tensor<1xi32> -> tensor<1x1x2x4xf32>
  return
}

// -----

// Tests that query heads come in whole groups over the cached heads.
func.func @attention_heads(%q: tensor<1x1x3x4xf32>, %kc: tensor<1x1x8x2x4xf32>, %len: tensor<1xi32>) {
  // expected-error @+1 {{'gptc.cached_attention' op expects queries with the cache's head dim and a multiple of its 2 key/value heads, got 'tensor<1x1x3x4xf32>'}}
  %0 = gptc.cached_attention %q, %kc, %kc, %len {layer = 0 : i64, scale = 1.0 : f32} : tensor<1x1x3x4xf32>, tensor<1x1x8x2x4xf32>, tensor<1x1x8x2x4xf32>, tensor<1xi32> -> tensor<1x1x3x4xf32>
  return
}

// -----

// Tests that the output has the queries' type.
func.func @attention_result(%q: tensor<1x1x2x4xf32>, %kc: tensor<1x1x8x1x4xf32>, %len: tensor<1xi32>) {
  // expected-error @+1 {{'gptc.cached_attention' op expects the result to have the queries' type}}
  %0 = gptc.cached_attention %q, %kc, %kc, %len {layer = 0 : i64, scale = 1.0 : f32} : tensor<1x1x2x4xf32>, tensor<1x1x8x1x4xf32>, tensor<1x1x8x1x4xf32>, tensor<1xi32> -> tensor<1x1x4x4xf32>
  return
}
