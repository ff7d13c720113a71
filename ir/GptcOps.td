//===- GptcOps.td - gptc tensor-graph and kernel ops -------*- tablegen -*-===//
//
// Tensor ops follow the nanochat GPT (shapes in llm.c letters: B batch,
// T time, C channels, H query heads, Hkv key/value heads, D head dim,
// V vocabulary). Every linear layer is `y = x Wᵀ` with W stored [out, in].
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTCOPS_TD
#define GPTC_IR_GPTCOPS_TD

include "ir/GptcDialect.td"
include "ir/GptcInterfaces.td"
include "mlir/IR/OpAsmInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ViewLikeInterface.td"

def Gptc_F32Tensor : RankedTensorOf<[F32]>;
def Gptc_I32Tensor : RankedTensorOf<[I32]>;

// An op that is one runtime kernel, without or with scalar arguments.
defvar Gptc_Kernel = DeclareOpInterfaceMethods<Gptc_KernelOpInterface>;
defvar Gptc_KernelWithScalars =
    DeclareOpInterfaceMethods<Gptc_KernelOpInterface, ["getKernelScalars"]>;

// An elementwise or row-wise op: one f32 operand, result of the same type.
class Gptc_UnaryOp<string mnemonic, list<Trait> traits = []>
    : Gptc_Op<mnemonic, !listconcat(traits,
                                    [Pure, SameOperandsAndResultType])> {
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

//===----------------------------------------------------------------------===//
// Embedding and normalisation
//===----------------------------------------------------------------------===//

def Gptc_EmbeddingOp : Gptc_Op<"embedding", [Pure, InferTypeOpAdaptor,
    Gptc_Kernel]> {
  let summary = "Token embedding lookup: out[..., :] = table[ids[...], :]";
  let description = [{
    Gathers rows of the table [V, C] for every token id; the result has the
    ids' shape with C appended. Ids must be in [0, V): the runtime checks
    them before the graph runs.

    ```mlir
    %x = gptc.embedding %wte, %idx : tensor<97x64xf32>, tensor<2x16xi32> -> tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$table, Gptc_I32Tensor:$ids);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` type($table) `,` type($ids) `->` type($result)
  }];
}

def Gptc_RMSNormOp : Gptc_UnaryOp<"rms_norm", [Gptc_KernelWithScalars]> {
  let summary = "Weight-free RMSNorm over the last axis";
  let description = [{
    `y = x / sqrt(mean(x², last axis) + eps)`. nanochat uses no weight and
    eps = float32 machine epsilon.

    ```mlir
    %u = gptc.rms_norm %x {eps = 1.1920929e-07 : f32} : tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, F32Attr:$eps);
}

//===----------------------------------------------------------------------===//
// Linear algebra and reshapes
//===----------------------------------------------------------------------===//

def Gptc_LinearOp : Gptc_Op<"linear", [Pure, InferTypeOpAdaptor,
    Gptc_Kernel]> {
  let summary = "Bias-free linear layer: y[..., N] = x[..., K] · w[N, K]ᵀ";
  let description = [{
    ```mlir
    %q = gptc.linear %u, %wq : tensor<2x16x64xf32>, tensor<64x64xf32> -> tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_F32Tensor:$weight);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $x `,` $weight attr-dict `:` type($x) `,` type($weight) `->` type($result)
  }];
}

def Gptc_ReshapeOp : Gptc_Op<"reshape", [Pure,
    DeclareOpInterfaceMethods<ViewLikeOpInterface>]> {
  let summary = "Reinterpret a tensor with another static shape";
  let description = [{
    Row-major reinterpretation with the same element count and type, e.g.
    splitting channels into heads. It costs nothing: at the kernel level the
    result is the operand's buffer.

    ```mlir
    %qh = gptc.reshape %q : tensor<2x16x64xf32> -> tensor<2x16x4x16xf32>
    ```
  }];
  let arguments = (ins AnyRankedTensor:$x);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def Gptc_RopeOp : Gptc_UnaryOp<"rope", [Gptc_KernelWithScalars]> {
  let summary = "Rotary position embedding on [B, T, H, D] at positions 0..T-1";
  let description = [{
    nanochat's convention: channel j pairs with channel j + D/2 and
    `out = concat(a·cos + b·sin, −a·sin + b·cos)` with angle
    `t / base^(2j/D)` computed in float32. `round_bf16` rounds the cos/sin
    tables to bfloat16 first, as nanochat's launch model does.

    ```mlir
    %qr = gptc.rope %q {base = 1.0e+04 : f32, round_bf16 = false} : tensor<2x16x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, F32Attr:$base, BoolAttr:$round_bf16);
  let hasVerifier = 1;
}

def Gptc_AttnScoresOp : Gptc_Op<"attn_scores", [Pure, InferTypeOpAdaptor,
    Gptc_KernelWithScalars]> {
  let summary = "Scaled attention scores s[B, H, T, S] = scale · q·kᵀ";
  let description = [{
    q is [B, T, H, D] and k is [B, S, Hkv, D]; query head h reads key head
    `h / (H / Hkv)` (grouped-query attention without copying keys).

    ```mlir
    %s = gptc.attn_scores %q, %k {scale = 0.25 : f32} : tensor<2x16x4x16xf32>, tensor<2x16x2x16xf32> -> tensor<2x4x16x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$q, Gptc_F32Tensor:$k, F32Attr:$scale);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $q `,` $k attr-dict `:` type($q) `,` type($k) `->` type($result)
  }];
}

def Gptc_CausalMaskOp : Gptc_UnaryOp<"causal_mask", [Gptc_Kernel]> {
  let summary = "Mask scores [..., T, T] so that query i sees keys j <= i";
  let description = [{
    Entries above the diagonal become −inf.

    ```mlir
    %m = gptc.causal_mask %s : tensor<2x4x16x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x);
  let hasVerifier = 1;
}

def Gptc_SoftmaxOp : Gptc_UnaryOp<"softmax", [Gptc_Kernel]> {
  let summary = "Softmax over the last axis";
  let description = [{
    ```mlir
    %p = gptc.softmax %m : tensor<2x4x16x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x);
}

def Gptc_AttnApplyOp : Gptc_Op<"attn_apply", [Pure, InferTypeOpAdaptor,
    Gptc_Kernel]> {
  let summary = "Attention output o[B, T, H, D] = p[B, H, T, S] · v[B, S, Hkv, D]";
  let description = [{
    ```mlir
    %o = gptc.attn_apply %p, %v : tensor<2x4x16x16xf32>, tensor<2x16x2x16xf32> -> tensor<2x16x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$probs, Gptc_F32Tensor:$v);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $probs `,` $v attr-dict `:` type($probs) `,` type($v) `->` type($result)
  }];
}

def Gptc_CausalAttentionOp : Gptc_Op<"causal_attention", [Pure,
    InferTypeOpAdaptor,
    Gptc_KernelWithScalars]> {
  let summary = "Fused causal attention that also returns the log-sum-exp";
  let description = [{
    Equivalent to `attn_scores` → `causal_mask` → `softmax` → `attn_apply`
    without materialising the T×T scores. `lse[B, H, T]` is the natural
    log-sum-exp of each query row's scaled scores, saved for the backward.

    ```mlir
    %o, %lse = gptc.causal_attention %q, %k, %v {scale = 0.25 : f32}
        : tensor<2x16x4x16xf32>, tensor<2x16x2x16xf32>, tensor<2x16x2x16xf32>
        -> tensor<2x16x4x16xf32>, tensor<2x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$q, Gptc_F32Tensor:$k,
                       Gptc_F32Tensor:$v, F32Attr:$scale);
  let results = (outs Gptc_F32Tensor:$out, Gptc_F32Tensor:$lse);
  let assemblyFormat = [{
    $q `,` $k `,` $v attr-dict `:` type($q) `,` type($k) `,` type($v)
    `->` type($out) `,` type($lse)
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

def Gptc_ScaleOp : Gptc_UnaryOp<"scale", [Gptc_KernelWithScalars]> {
  let summary = "Multiply by a constant factor";
  let description = [{
    ```mlir
    %y = gptc.scale %x {factor = 1.2 : f32} : tensor<2x16x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, F32Attr:$factor);
}

def Gptc_AddOp : Gptc_Op<"add", [Pure, Commutative, SameOperandsAndResultType,
    Gptc_Kernel]> {
  let summary = "Elementwise sum of two tensors of the same type";
  let description = [{
    ```mlir
    %x1 = gptc.add %x0, %attn : tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$lhs, Gptc_F32Tensor:$rhs);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Gptc_ReluSquareOp : Gptc_UnaryOp<"relu_square", [Gptc_Kernel]> {
  let summary = "Squared ReLU, relu(x)², nanochat's MLP activation";
  let description = [{
    ```mlir
    %h = gptc.relu_square %fc : tensor<2x16x256xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x);
}

def Gptc_SoftcapOp : Gptc_UnaryOp<"softcap", [Gptc_KernelWithScalars]> {
  let summary = "Logit soft-cap: cap · tanh(x / cap)";
  let description = [{
    ```mlir
    %logits = gptc.softcap %raw {cap = 1.5e+01 : f32} : tensor<2x16x97xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, F32Attr:$cap);
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def Gptc_CrossEntropyOp : Gptc_Op<"cross_entropy", [Pure, InferTypeOpAdaptor,
    Gptc_KernelWithScalars]> {
  let summary = "Mean cross-entropy of logits [..., V] against targets [...]";
  let description = [{
    The mean over positions whose target is not `ignore_index` of
    `logsumexp(logits) − logits[target]`; NaN when every target is ignored.

    ```mlir
    %loss = gptc.cross_entropy %logits, %targets {ignore_index = -1 : i32}
        : tensor<2x16x97xf32>, tensor<2x16xi32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$logits, Gptc_I32Tensor:$targets,
                       I32Attr:$ignore_index);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $logits `,` $targets attr-dict `:` type($logits) `,` type($targets)
    `->` type($loss)
  }];
}

//===----------------------------------------------------------------------===//
// Kernel level
//===----------------------------------------------------------------------===//

def Gptc_KernelOp : Gptc_Op<"kernel", [AttrSizedOperandSegments]> {
  let summary = "One runtime kernel call on flat buffers";
  let description = [{
    The kernel level of gptc: every tensor op that implements
    `KernelOpInterface` becomes one `gptc.kernel` whose inputs and outputs
    are flat memrefs (views of the parameter buffer, the planned arena or
    the program's inputs and outputs). The call is
    `name(inputs..., outputs..., dims..., scalars...)`.

    ```mlir
    gptc.kernel "rmsNorm" ins(%x : memref<2048xf32>) outs(%y : memref<2048xf32>)
        dims [32, 64] scalars [1.1920929e-07 : f32]
    ```
  }];
  let arguments = (ins StrAttr:$callee,
                       Variadic<AnyMemRef>:$inputs,
                       Variadic<AnyMemRef>:$outputs,
                       DenseI64ArrayAttr:$dims,
                       ArrayAttr:$scalars);
  let assemblyFormat = [{
    $callee (`ins` `(` $inputs^ `:` type($inputs) `)`)?
    `outs` `(` $outputs `:` type($outputs) `)`
    `dims` $dims `scalars` $scalars attr-dict
  }];
  let hasVerifier = 1;
}

#endif // GPTC_IR_GPTCOPS_TD
