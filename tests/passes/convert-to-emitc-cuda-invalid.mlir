// RUN: gptc-opt %s --split-input-file --gptc-convert-to-emitc=target=cuda --verify-diagnostics

// Tests that the cuda target refuses attention head dims its kernels are not
// instantiated for, at compile time rather than on the GPU.
module attributes {gptc.config = "{}"} {
  func.func @attention(%params: memref<0xi8> {gptc.buffer = "params"},
                       %q: memref<192xf32> {gptc.name = "q", gptc.shape = array<i64: 1, 4, 1, 48>},
                       %o: memref<192xf32> {gptc.name = "o", gptc.output, gptc.shape = array<i64: 1, 4, 1, 48>},
                       %arena: memref<16xi8> {gptc.buffer = "arena"})
      attributes {gptc.arena_bytes = 16 : i64, gptc.arena_lower_bound = 16 : i64,
                  gptc.param_bytes = 0 : i64, gptc.params = []} {
    %c0 = arith.constant 0 : index
    %lse = memref.view %arena[%c0][] : memref<16xi8> to memref<4xf32>
    // expected-error @+1 {{the CUDA attention kernels support head dims 16, 32, 64 and 128, not 48 (--attention=cudnn may support it)}}
    gptc.kernel "causalAttention" ins(%q, %q, %q : memref<192xf32>, memref<192xf32>, memref<192xf32>) outs(%o, %lse : memref<192xf32>, memref<4xf32>) dims [1, 4, 1, 1, 48] scalars [2.500000e-01 : f32]
    return
  }
}

// -----

module attributes {gptc.config = "{}"} {
  func.func @step(%params: memref<0xi8> {gptc.buffer = "params"},
                  %q: memref<6xf32> {gptc.name = "q", gptc.shape = array<i64: 1, 1, 1, 6>},
                  %o: memref<6xf32> {gptc.name = "o", gptc.output, gptc.shape = array<i64: 1, 1, 1, 6>},
                  %arena: memref<256xi8> {gptc.buffer = "arena"})
      attributes {gptc.arena_bytes = 256 : i64, gptc.arena_lower_bound = 256 : i64,
                  gptc.param_bytes = 0 : i64, gptc.params = []} {
    %c0 = arith.constant 0 : index
    %cache = memref.view %arena[%c0][] : memref<256xi8> to memref<48xf32>
    %c192 = arith.constant 192 : index
    %lengths = memref.view %arena[%c192][] : memref<256xi8> to memref<1xi32>
    // expected-error @+1 {{the CUDA decode attention supports head dims that are multiples of 4 up to 256, not 6}}
    gptc.kernel "cachedAttention" ins(%q, %cache, %cache, %lengths : memref<6xf32>, memref<48xf32>, memref<48xf32>, memref<1xi32>) outs(%o : memref<6xf32>) dims [1, 1, 8, 1, 6, 1, 1] scalars [0 : i32, 2.500000e-01 : f32]
    return
  }
}
