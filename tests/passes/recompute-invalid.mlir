// RUN: not gptc-opt %s --gptc-recompute=policy=sometimes 2>&1 | FileCheck %s --check-prefix=POLICY
// RUN: not gptc-opt %s --gptc-recompute=policy=auto 2>&1 | FileCheck %s --check-prefix=BUDGET
// RUN: not gptc-opt %s --gptc-recompute="policy=auto memory-budget=1" 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: not gptc-opt %s --gptc-recompute=function=step 2>&1 | FileCheck %s --check-prefix=FUNC

// POLICY: for the --policy option: Cannot find option named 'sometimes'!
// BUDGET: error: --recompute=auto needs a positive memory budget
// SMALL: error: the memory budget of 1 bytes is below the smallest plan, {{[0-9]+}} bytes with every layer recomputed
// FUNC: error: no function @step to recompute in
func.func @train_step(%x: tensor<4x8xf32>, %w1: tensor<8x8xf32> {gptc.param = "w1"})
    -> (tensor<f32> {gptc.name = "loss"}, tensor<8x8xf32> {gptc.grad_of = "w1"}) {
  %h = gptc.linear %x, %w1 {gptc.layer = 0 : i64} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %r = gptc.relu_square %h {gptc.layer = 0 : i64} : tensor<4x8xf32>
  %l = gptc.fill {value = 0.0 : f32} : tensor<f32>
  %one = gptc.fill {gptc.backward, value = 1.0 : f32} : tensor<4x8xf32>
  %dh = gptc.relu_square_grad %h, %one {gptc.backward} : tensor<4x8xf32>
  %dx, %dw1 = gptc.linear_grad %dh, %x, %w1 {gptc.backward} : tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>, tensor<8x8xf32>
  return %l, %dw1 : tensor<f32>, tensor<8x8xf32>
}
