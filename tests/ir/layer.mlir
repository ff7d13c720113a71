// RUN: gptc-opt %s | gptc-opt | FileCheck %s

// Tests that gptc.layer round-trips on ops and on parameter arguments.
// CHECK-LABEL: func.func @block
// CHECK-SAME: %{{.*}}: tensor<8x8xf32> {gptc.layer = 3 : i64, gptc.param = "transformer.h.3.mlp.c_fc.weight"}
// CHECK: gptc.linear %{{.*}}, %{{.*}} {gptc.layer = 3 : i64} :
// CHECK: gptc.relu_square %{{.*}} {gptc.layer = 3 : i64} :
func.func @block(%x: tensor<4x8xf32>,
                 %w: tensor<8x8xf32> {gptc.layer = 3 : i64, gptc.param = "transformer.h.3.mlp.c_fc.weight"})
    -> tensor<4x8xf32> {
  %h = gptc.linear %x, %w {gptc.layer = 3 : i64} : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %r = gptc.relu_square %h {gptc.layer = 3 : i64} : tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
