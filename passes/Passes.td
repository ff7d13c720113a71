//===- Passes.td - every gptc pass ------------------------*- tablegen -*-===//
//
// One definition per pass; the implementation is passes/<DefName>.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_PASSES_PASSES_TD
#define GPTC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseCausalAttention : Pass<"gptc-fuse-causal-attention", "::mlir::ModuleOp"> {
  let summary = "Fuse scores → causal mask → softmax → apply into one attention op";
  let description = [{
    Rewrites the unfused causal attention pattern into `gptc.causal_attention`,
    which never materialises the T×T scores and also returns the row
    log-sum-exp (needed by the backward). Fuses only when every intermediate
    has a single use and the mask is causal; anything else is left alone.

    Before:
    ```mlir
    %s = gptc.attn_scores %q, %k {scale = 0.25 : f32} : ... -> tensor<2x4x16x16xf32>
    %m = gptc.causal_mask %s : tensor<2x4x16x16xf32>
    %p = gptc.softmax %m : tensor<2x4x16x16xf32>
    %o = gptc.attn_apply %p, %v : ... -> tensor<2x16x4x16xf32>
    ```
    After:
    ```mlir
    %o, %lse = gptc.causal_attention %q, %k, %v {scale = 0.25 : f32} : ...
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect"];
  let statistics = [
    Statistic<"numFused", "fused-attentions", "Number of attentions fused">,
  ];
}

def LowerToKernels : Pass<"gptc-lower-to-kernels", "::mlir::ModuleOp"> {
  let summary = "Lower the tensor graph to kernel calls on flat buffers";
  let description = [{
    Every op implementing `KernelOpInterface` becomes one `gptc.kernel` on
    flat memrefs; reshapes become aliases of their operand's buffer.
    Parameters (arguments with a `gptc.param` name) are packed into one
    persistent byte buffer, the first argument, at 64-byte-aligned offsets
    recorded in the function's `gptc.params` attribute. Other arguments stay
    inputs; results become output buffers that the producing kernel writes
    directly. Intermediates get a `memref.alloc` each, for `gptc-plan-memory`.

    Before:
    ```mlir
    func.func @forward(%x: tensor<4x8xf32>, %w: tensor<8x8xf32> {gptc.param = "w"})
        -> tensor<4x8xf32> {
      %y = gptc.linear %x, %w : tensor<4x8xf32>, tensor<8x8xf32> -> tensor<4x8xf32>
      %z = gptc.relu_square %y : tensor<4x8xf32>
      return %z : tensor<4x8xf32>
    }
    ```
    After:
    ```mlir
    func.func @forward(%params: memref<256xi8>, %x: memref<32xf32>, %out: memref<32xf32>) {
      %w = memref.view %params[%c0][] : memref<256xi8> to memref<64xf32>
      %y = memref.alloc() : memref<32xf32>
      gptc.kernel "linear" ins(%x, %w : ...) outs(%y : memref<32xf32>) dims [4, 8, 8] scalars []
      gptc.kernel "reluSquare" ins(%y : memref<32xf32>) outs(%out : memref<32xf32>) dims [32] scalars []
      return
    }
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect", "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def PlanMemory : Pass<"gptc-plan-memory", "::mlir::ModuleOp"> {
  let summary = "Place every intermediate buffer in one arena by liveness";
  let description = [{
    Computes each `memref.alloc`'s lifetime (its first and last use in the
    straight-line kernel sequence), assigns byte offsets so that buffers
    alive at the same time never overlap (largest first, lowest free
    offset), and replaces each alloc with a `memref.view` of a new trailing
    arena argument. The arena size and the lower bound (the most bytes alive
    at one time) are recorded as `gptc.arena_bytes` and
    `gptc.arena_lower_bound`.

    Before:
    ```mlir
    %a = memref.alloc() : memref<32xf32>
    %b = memref.alloc() : memref<32xf32>
    ```
    After:
    ```mlir
    %a = memref.view %arena[%c0][] : memref<256xi8> to memref<32xf32>
    %b = memref.view %arena[%c128][] : memref<256xi8> to memref<32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of every buffer in the arena">,
  ];
}

def ConvertToEmitC : Pass<"gptc-convert-to-emitc", "::mlir::ModuleOp"> {
  let summary = "Turn planned kernel-level functions into EmitC for C++ output";
  let description = [{
    Each planned function becomes an `emitc.func` taking raw pointers
    (`char *` for the parameter buffer and the arena, typed pointers for
    inputs and outputs); views become pointer offsets and each `gptc.kernel`
    a call of `<namespace>::<kernel>(...)`. A `gptc::ProgramInfo` describing
    the parameters, inputs, outputs and arena is emitted beside it, so that a
    generic host program can load weights and call the function.

    Before:
    ```mlir
    gptc.kernel "reluSquare" ins(%y : memref<32xf32>) outs(%out : memref<32xf32>) dims [32] scalars []
    ```
    After:
    ```mlir
    emitc.call_opaque "gptc::cpu::reluSquare"(%y, %out) {args = [0 : index, 1 : index, 32 : i64]} : (!emitc.ptr<f32>, !emitc.ptr<f32>) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::emitc::EmitCDialect"];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "Backend whose kernels are called: cpu or cuda">,
  ];
}

#endif // GPTC_PASSES_PASSES_TD
