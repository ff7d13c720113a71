// RUN: gptc-opt %s --split-input-file --gptc-autodiff --verify-diagnostics

// Tests that an op without a gradient rule on the way to the loss is named.
func.func @train_step(%x: tensor<4x8xf32> {gptc.param = "x"}, %t: tensor<4xi32>) -> tensor<f32> {
  %s = gptc.softcap %x {cap = 15.0 : f32} : tensor<4x8xf32>
  // expected-error @+1 {{'gptc.cross_entropy' has no gradient rule (VJPOpInterface); fuse it into an op that has one first}}
  %l = gptc.cross_entropy %s, %t {ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<4xi32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Tests that only a scalar loss can be differentiated.
// expected-error @+1 {{expects a single scalar loss result to differentiate}}
func.func @train_step(%x: tensor<4xf32> {gptc.param = "x"}) -> tensor<4xf32> {
  %y = gptc.relu_square %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Tests that the function to differentiate must exist.
// expected-error @below {{no function @train_step to differentiate}}
module {
}
