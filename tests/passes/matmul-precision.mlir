// RUN: gptc-opt %s --gptc-matmul-precision=precision=bf16 | FileCheck %s
// RUN: gptc-opt %s --gptc-matmul-precision=precision=bf16 --gptc-lower-to-kernels | FileCheck %s --check-prefix=KERNELS
// RUN: gptc-opt %s --gptc-matmul-precision | FileCheck %s --check-prefix=F32
// RUN: not gptc-opt %s --gptc-matmul-precision=precision=fp8 2>&1 | FileCheck %s --check-prefix=BAD

// Tests that bf16 marks every matrix product, forward and gradient, of
// linear and of the fused lm_head loss, and that the products then call the
// bf16 kernels; f32 (the default) prints nothing.
// CHECK-LABEL: func.func @train_step
// CHECK: gptc.linear %{{.*}}, %{{.*}} {precision = "bf16"}
// CHECK: gptc.linear_grad %{{.*}}, %{{.*}}, %{{.*}} {precision = "bf16"}
// CHECK: gptc.lm_head_loss %{{.*}}, %{{.*}}, %{{.*}} {cap = 1.500000e+01 : f32, ignore_index = -1 : i32, precision = "bf16"}
// CHECK: gptc.lm_head_loss_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {cap = 1.500000e+01 : f32, ignore_index = -1 : i32, precision = "bf16"}
// KERNELS: gptc.kernel "linearBf16"
// KERNELS: gptc.kernel "linearBackwardBf16"
// KERNELS: gptc.kernel "lmHeadLossBf16"
// KERNELS: gptc.kernel "lmHeadLossBackwardBf16"
// F32-NOT: precision
// BAD: for the --precision option: Cannot find option named 'fp8'!
func.func @train_step(%x: tensor<4x8xf32>, %w: tensor<8x8xf32> {gptc.param = "w"}, %dy: tensor<4x8xf32>,
                      %head: tensor<16x8xf32> {gptc.param = "head"}, %t: tensor<4xi32>, %dl: tensor<f32>)
    -> (tensor<4x8xf32>, tensor<8x8xf32>, tensor<f32>, tensor<4x8xf32>, tensor<16x8xf32>) {
  %y = gptc.linear %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %dx, %dw = gptc.linear_grad %dy, %x, %w : tensor<4x8xf32>, tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>, tensor<8x8xf32>
  %s = gptc.add %y, %dx : tensor<4x8xf32>
  %l = gptc.lm_head_loss %s, %head, %t {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32> -> tensor<f32>
  %ds, %dhead = gptc.lm_head_loss_grad %s, %head, %t, %dl {cap = 15.0 : f32, ignore_index = -1 : i32} : tensor<4x8xf32>, tensor<16x8xf32>, tensor<4xi32>, tensor<f32> -> tensor<4x8xf32>, tensor<16x8xf32>
  return %s, %dw, %l, %ds, %dhead : tensor<4x8xf32>, tensor<8x8xf32>, tensor<f32>, tensor<4x8xf32>, tensor<16x8xf32>
}
