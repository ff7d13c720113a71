// RUN: gptc-opt %s --split-input-file --gptc-lower-to-kernels | FileCheck %s

// Tests that parameters are packed into one buffer, inputs and results become
// flat buffer arguments, the returned value is written in place, the reshape
// costs nothing and the intermediate gets an allocation.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[P:.*]]: memref<256xi8> {gptc.buffer = "params"}, %[[X:.*]]: memref<32xf32> {gptc.name = "x", gptc.shape = array<i64: 4, 8>}, %[[OUT:.*]]: memref<32xf32> {gptc.name = "y", gptc.output, gptc.shape = array<i64: 2, 16>})
// CHECK-SAME: gptc.param_bytes = 256 : i64
// CHECK-SAME: gptc.params = [{name = "w", offset = 0 : i64, shape = array<i64: 8, 8>}]
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[W:.*]] = memref.view %[[P]][%[[C0]]][] : memref<256xi8> to memref<64xf32>
// CHECK: %[[Y:.*]] = memref.alloc() : memref<32xf32>
// CHECK: gptc.kernel "linear" ins(%[[X]], %[[W]] : memref<32xf32>, memref<64xf32>) outs(%[[Y]] : memref<32xf32>) dims [4, 8, 8] scalars []
// CHECK: gptc.kernel "reluSquare" ins(%[[Y]] : memref<32xf32>) outs(%[[OUT]] : memref<32xf32>) dims [32] scalars []
// CHECK-NEXT: return
func.func @forward(%x: tensor<4x8xf32> {gptc.name = "x"}, %w: tensor<8x8xf32> {gptc.param = "w"})
    -> (tensor<2x16xf32> {gptc.name = "y"}) {
  %y = gptc.linear %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
  %z = gptc.relu_square %y : tensor<4x8xf32>
  %r = gptc.reshape %z : tensor<4x8xf32> -> tensor<2x16xf32>
  return %r : tensor<2x16xf32>
}

// -----

// Tests that parameters are placed at 64-byte aligned offsets and that
// kernel scalars carry over.
// CHECK-LABEL: func.func @aligned
// CHECK-SAME: gptc.param_bytes = 128 : i64
// CHECK-SAME: gptc.params = [{name = "a", offset = 0 : i64, shape = array<i64: 3>}, {name = "b", offset = 64 : i64, shape = array<i64: 3>}]
// CHECK: gptc.kernel "add"
// CHECK: gptc.kernel "softcap" {{.*}} dims [3] scalars [1.500000e+01 : f32]
func.func @aligned(%a: tensor<3xf32> {gptc.param = "a"}, %b: tensor<3xf32> {gptc.param = "b"}) -> tensor<3xf32> {
  %s = gptc.add %a, %b : tensor<3xf32>
  %c = gptc.softcap %s {cap = 15.0 : f32} : tensor<3xf32>
  return %c : tensor<3xf32>
}

// -----

// Tests in-place updates: the cache argument is written by kv_append
// without a copy or an output argument (the cache is not an input of the
// kernel, only its output), and the lengths likewise by kv_advance.
// CHECK-LABEL: func.func @in_place
// CHECK-SAME: (%{{.*}}: memref<0xi8> {gptc.buffer = "params"}, %[[KC:.*]]: memref<16xf32> {gptc.inout, gptc.name = "k_cache", gptc.shape = array<i64: 1, 1, 4, 1, 4>}, %[[LEN:.*]]: memref<1xi32> {gptc.inout, gptc.name = "lengths", gptc.shape = array<i64: 1>}, %[[K:.*]]: memref<4xf32> {gptc.name = "k", gptc.shape = array<i64: 1, 1, 1, 4>})
// CHECK-NOT: memref.alloc
// CHECK: gptc.kernel "kvAppend" ins(%[[LEN]], %[[K]] : memref<1xi32>, memref<4xf32>) outs(%[[KC]] : memref<16xf32>) dims [1, 1, 4, 1, 4, 1] scalars [0 : i32]
// CHECK: gptc.kernel "kvAdvance" outs(%[[LEN]] : memref<1xi32>) dims [1] scalars [1 : i32]
// CHECK-NEXT: return
func.func @in_place(%kc: tensor<1x1x4x1x4xf32> {gptc.name = "k_cache"}, %len: tensor<1xi32> {gptc.name = "lengths"},
                    %k: tensor<1x1x1x4xf32> {gptc.name = "k"}) -> (tensor<1x1x4x1x4xf32>, tensor<1xi32>) {
  %kc1 = gptc.kv_append %kc, %len, %k {layer = 0 : i64} : tensor<1x1x4x1x4xf32>, tensor<1xi32>, tensor<1x1x1x4xf32>
  %len1 = gptc.kv_advance %len {by = 1 : i64} : tensor<1xi32>
  return %kc1, %len1 : tensor<1x1x4x1x4xf32>, tensor<1xi32>
}
