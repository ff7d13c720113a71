// RUN: gptc-opt %s --split-input-file --gptc-lower-to-kernels --verify-diagnostics

// Tests that an op without a runtime kernel is reported, naming the op.
func.func @no_kernel(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'arith.addf' has no runtime kernel; run the passes that rewrite it first}}
  %y = arith.addf %x, %x : tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// Tests that returning an argument is refused: no kernel would write it.
func.func @returns_argument(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result 0 returns a function argument; only computed values can be results}}
  return %x : tensor<4xf32>
}

// -----

// Tests that one value cannot fill two outputs.
func.func @returns_twice(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %y = gptc.relu_square %x : tensor<4xf32>
  // expected-error @+1 {{result 1 returns a value twice}}
  return %y, %y : tensor<4xf32>, tensor<4xf32>
}

// -----

// Tests that parameters must have static shapes.
// expected-error @+1 {{parameter 'w' must be a statically shaped tensor}}
func.func @dynamic_param(%w: tensor<?xf32> {gptc.param = "w"}) {
  return
}
