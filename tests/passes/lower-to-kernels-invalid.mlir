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

// -----

// Tests that a value updated in place cannot be read afterwards.
func.func @read_after_update(%len: tensor<1xi32>) -> (tensor<1xi32>, tensor<1xi32>) {
  // expected-error @+1 {{updates a value in place that is still read afterwards}}
  %a = gptc.kv_advance %len {by = 1 : i64} : tensor<1xi32>
  %b = gptc.kv_advance %len {by = 2 : i64} : tensor<1xi32>
  return %a, %b : tensor<1xi32>, tensor<1xi32>
}
