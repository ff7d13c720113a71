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

def MakeTrainStep : Pass<"gptc-make-train-step", "::mlir::ModuleOp"> {
  let summary = "Derive the training step's forward from the forward function";
  let description = [{
    Clones `@forward` into `@train_step` keeping only the result named
    "loss"; what only fed the logits becomes dead and canonicalization drops
    it. `@forward` stays for evaluation. gptc-autodiff then adds the
    gradients.

    Before:
    ```mlir
    func.func @forward(...) -> (tensor<2x16x97xf32> {gptc.name = "logits"}, tensor<f32> {gptc.name = "loss"})
    ```
    After:
    ```mlir
    func.func @forward(...) -> (tensor<2x16x97xf32> {gptc.name = "logits"}, tensor<f32> {gptc.name = "loss"})
    func.func @train_step(...) -> (tensor<f32> {gptc.name = "loss"})
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect", "::mlir::func::FuncDialect"];
}

def FuseLmHeadLoss : Pass<"gptc-fuse-lm-head-loss", "::mlir::ModuleOp"> {
  let summary = "Fuse lm_head → soft-cap → cross-entropy into one chunked op";
  let description = [{
    When the logits feed only the loss, `linear` → `softcap` →
    `cross_entropy` becomes `gptc.lm_head_loss`, whose kernels work on a few
    token rows at a time: the [B, T, V] logits are never stored, forward or
    backward. Logits that are also returned are left alone.

    Before:
    ```mlir
    %z = gptc.linear %x, %w : tensor<2x16x64xf32>, tensor<97x64xf32> -> tensor<2x16x97xf32>
    %s = gptc.softcap %z {cap = 1.5e+01 : f32} : tensor<2x16x97xf32>
    %loss = gptc.cross_entropy %s, %t {ignore_index = -1 : i32} : ... -> tensor<f32>
    ```
    After:
    ```mlir
    %loss = gptc.lm_head_loss %x, %w, %t {cap = 1.5e+01 : f32, ignore_index = -1 : i32} : ... -> tensor<f32>
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect"];
}

def Autodiff : Pass<"gptc-autodiff", "::mlir::ModuleOp"> {
  let summary = "Append the gradient of the loss for every parameter";
  let description = [{
    Reverse-mode differentiation of a function whose single result is a
    scalar loss: walks the ops backwards asking each for its gradient rule
    (VJPOpInterface), sums the gradients of values used more than once, and
    returns after the loss one gradient per parameter argument, marked
    `gptc.grad_of = "<parameter name>"`. An op on the path from a parameter
    to the loss without a gradient rule is an error naming it.

    Before:
    ```mlir
    func.func @train_step(%x: tensor<4x8xf32>, %w: tensor<8x8xf32> {gptc.param = "w"}) -> tensor<f32> {
      %y = gptc.relu_square %x : ...
      ...
    ```
    After:
    ```mlir
    func.func @train_step(...) -> (tensor<f32>, tensor<8x8xf32> {gptc.grad_of = "w"}) {
      ...
      %one = gptc.fill {value = 1.0 : f32} : tensor<f32>
      %dx, %dw = gptc.linear_grad ...
      return %loss, %dw : ...
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect"];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The function to differentiate">,
  ];
}

def Recompute : Pass<"gptc-recompute", "::mlir::ModuleOp"> {
  let summary = "Recompute forward values in the backward instead of keeping them";
  let description = [{
    Activation checkpointing on a differentiated function. A forward value
    the backward reads is either kept alive from the forward until its last
    backward use, or recomputed: its op is cloned just before the backward
    needs it, so the original dies early and the memory planner reuses its
    bytes. Policies:
      * `none`: keep everything;
      * `minimal`: recompute the ops that are cheap to redo (norms, RoPE,
        relu², reshapes; CostOpInterface) from values that are kept anyway;
        costs almost no FLOPs;
      * `full`: per layer (the ops with one `gptc.layer`) keep only
        the layer's inputs and recompute the whole layer, matmuls and
        attention included, before its backward: one extra forward;
      * `auto`: the fewest `full` layers (the rest `minimal`) whose planned
        arena fits `memory-budget` bytes.
    The function records `gptc.recompute` (the choice per layer) and
    `gptc.recompute_flops` (the FLOPs added to one step).

    Before (`minimal`):
    ```mlir
    %n = gptc.rms_norm %x ...             // kept until the backward
    ... backward ...
    %dx, %dw = gptc.linear_grad %dq, %n, %w {gptc.backward}
    ```
    After:
    ```mlir
    %n = gptc.rms_norm %x ...             // dies after its forward uses
    ... backward ...
    %n2 = gptc.rms_norm %x ...            // recomputed
    %dx, %dw = gptc.linear_grad %dq, %n2, %w {gptc.backward}
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect"];
  let options = [
    Option<"policy", "policy", "::gptc::RecomputePolicy",
           /*default=*/"::gptc::kDefaultRecompute",
           "What to keep of the forward's activations",
           "::gptc::enumValues<::gptc::RecomputePolicy>()">,
    Option<"memoryBudget", "memory-budget", "int64_t", /*default=*/"0",
           "auto: the most arena bytes the plan may use">,
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The differentiated function">,
  ];
}

def MakeDecode : Pass<"gptc-make-decode", "::mlir::ModuleOp"> {
  let summary = "Turn forward functions into incremental decode functions";
  let description = [{
    Training and the forward pass see the whole sequence at once; decoding
    sees a few new tokens at a time and must keep every earlier key and
    value. For each function returning "logits" and taking "tokens"
    [R, T], this pass adds an explicit KV cache, two tensors
    [L, R, Cap, Hkv, D] ("k_cache", "v_cache"), and per-row lengths [R]
    ("lengths"), and rewrites the graph to use them:
      * RoPE rotates at the rows' positions (`gptc.rope_at`, positions
        lengths[r] + t);
      * each causal attention writes its new keys and values into its layer
        of the cache (`gptc.kv_append`) and attends over the cached prefix
        (`gptc.cached_attention`, causal aligned to the bottom right);
      * the lengths advance by T once per call (`gptc.kv_advance`).
    The function returns the logits of the new tokens and the updated cache
    and lengths; the loss and the targets go. The cache holds float32, or
    bfloat16 with `kv-dtype=bf16` (half the bytes to read per step). The
    cache holds `capacity` tokens per row, by default the model's
    `sequence_len` (the module's `gptc.config`). Run after
    gptc-fuse-causal-attention.

    Before:
    ```mlir
    %q2 = gptc.rope %q {...} : tensor<1x1x4x16xf32>
    %o, %lse = gptc.causal_attention %q2, %k2, %v {scale = 0.25 : f32} : ...
    ```
    After:
    ```mlir
    %q2 = gptc.rope_at %q, %lengths {...} : tensor<1x1x4x16xf32>, tensor<1xi32>
    %kc1 = gptc.kv_append %kc, %lengths, %k2 {layer = 0 : i64} : ...
    %vc1 = gptc.kv_append %vc, %lengths, %v {layer = 0 : i64} : ...
    %o = gptc.cached_attention %q2, %kc1, %vc1, %lengths {layer = 0 : i64, scale = 0.25 : f32} : ...
    ...
    %l1 = gptc.kv_advance %lengths {by = 1 : i64} : tensor<1xi32>
    return %logits, %kc2, %vc2, %l1 : ...
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect"];
  let options = [
    Option<"capacity", "capacity", "int64_t", /*default=*/"0",
           "KV-cache slots per row (Cap); 0: the model's sequence_len, "
           "from the module's gptc.config">,
    Option<"kvDtype", "kv-dtype", "::gptc::FloatFormat",
           /*default=*/"::gptc::kDefaultKVDtype",
           "Element type of the cache",
           "::gptc::enumValues<::gptc::FloatFormat>()">,
  ];
}

def MatmulPrecision : Pass<"gptc-matmul-precision", "::mlir::ModuleOp"> {
  let summary = "Choose the number format of every matrix product";
  let description = [{
    Sets `precision` on every `gptc.linear`, `gptc.lm_head_loss` and their
    gradients `gptc.linear_grad` and `gptc.lm_head_loss_grad`: `bf16` rounds
    the inputs of their matrix products to bfloat16 (the weights stay
    float32 master copies, products accumulate in float32; the lm_head
    loss's soft-cap and cross-entropy stay float32), `f32` keeps them exact.
    Attention stays in float32.

    Before:
    ```mlir
    %q = gptc.linear %u, %wq : tensor<2x16x64xf32>, tensor<64x64xf32> -> tensor<2x16x64xf32>
    %loss = gptc.lm_head_loss %x, %w, %targets {cap = 1.5e+01 : f32, ignore_index = -1 : i32}
        : tensor<2x16x64xf32>, tensor<97x64xf32>, tensor<2x16xi32> -> tensor<f32>
    ```
    After (`precision=bf16`):
    ```mlir
    %q = gptc.linear %u, %wq {precision = "bf16"} : tensor<2x16x64xf32>, tensor<64x64xf32> -> tensor<2x16x64xf32>
    %loss = gptc.lm_head_loss %x, %w, %targets {cap = 1.5e+01 : f32, ignore_index = -1 : i32, precision = "bf16"}
        : tensor<2x16x64xf32>, tensor<97x64xf32>, tensor<2x16xi32> -> tensor<f32>
    ```
  }];
  let dependentDialects = ["::gptc::GptcDialect"];
  let options = [
    Option<"precision", "precision", "::gptc::FloatFormat",
           /*default=*/"::gptc::kDefaultPrecision",
           "Number format of the products' inputs",
           "::gptc::enumValues<::gptc::FloatFormat>()">,
  ];
  let statistics = [
    Statistic<"numProducts", "products", "Matrix products set">,
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
    Option<"alignment", "alignment", "int64_t", /*default=*/"kBufferAlignment",
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
    With `target=cuda` (or `cuda-emulator`) the calls go to `gptc::cuda::`
    (device pointers, one stream), the file includes
    `backends/cuda/Runtime.h` and head dims the CUDA kernels lack are
    refused;
    `attention=cudnn` calls `causalAttentionCudnn` and
    `causalAttentionBackwardCudnn` instead of gptc's own attention kernels.
  }];
  let dependentDialects = ["::mlir::emitc::EmitCDialect"];
  let options = [
    Option<"target", "target", "::gptc::Target",
           /*default=*/"::gptc::Target::Cpu",
           "Target whose kernels are called (compiler/Targets.h)",
           "::gptc::enumValues<::gptc::Target>()">,
    Option<"attention", "attention", "::gptc::AttentionImpl",
           /*default=*/"::gptc::kDefaultAttention",
           "Fused attention kernels (cudnn: CUDA targets only)",
           "::gptc::enumValues<::gptc::AttentionImpl>()">,
  ];
}

#endif // GPTC_PASSES_PASSES_TD
