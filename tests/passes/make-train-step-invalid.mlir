// RUN: gptc-opt %s --split-input-file --gptc-make-train-step --verify-diagnostics

// Tests that there must be a forward function to derive the step from.
// expected-error @below {{expects a function @forward to derive @train_step from}}
module {
  func.func @other() {
    return
  }
}

// -----

// Tests that the forward function must name its loss.
module {
  // expected-error @below {{expects a result named "loss" (gptc.name)}}
  func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
    %y = gptc.relu_square %x : tensor<4xf32>
    return %y : tensor<4xf32>
  }
}
