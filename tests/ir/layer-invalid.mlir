// RUN: gptc-opt %s --split-input-file --verify-diagnostics

// Tests that an op's layer must be an i64.
func.func @layer_type(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gptc.layer' must be an i64 layer index, got "transformer.h.0"}}
  %y = gptc.relu_square %x {gptc.layer = "transformer.h.0"} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Tests that an op's layer must not be negative.
func.func @layer_negative(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'gptc.layer' must be a layer index >= 0, got -1}}
  %y = gptc.relu_square %x {gptc.layer = -1 : i64} : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Tests that only parameter arguments have a layer.
// expected-error @+1 {{'gptc.layer' on argument 0, which is not a parameter (no 'gptc.param')}}
func.func @layer_on_input(%x: tensor<4xf32> {gptc.layer = 0 : i64}) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Tests that a parameter's layer must be an i64.
// expected-error @+1 {{argument 0: 'gptc.layer' must be an i64 layer index, got 1 : i32}}
func.func @param_layer_type(%w: tensor<4xf32> {gptc.layer = 1 : i32, gptc.param = "w"}) -> tensor<4xf32> {
  %y = gptc.relu_square %w : tensor<4xf32>
  return %y : tensor<4xf32>
}
