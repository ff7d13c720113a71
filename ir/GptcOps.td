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
// The number format of a matrix product's inputs: "f32" or "bf16".
defvar Gptc_PrecisionAttr = StrAttr;
def Gptc_I32Tensor : RankedTensorOf<[I32]>;

// An op that is one runtime kernel, without or with scalar arguments.
defvar Gptc_Kernel = DeclareOpInterfaceMethods<Gptc_KernelOpInterface>;
defvar Gptc_KernelWithScalars =
    DeclareOpInterfaceMethods<Gptc_KernelOpInterface, ["getKernelScalars"]>;
// An op with a gradient rule (ir/VJP.cpp).
defvar Gptc_VJP = DeclareOpInterfaceMethods<Gptc_VJPOpInterface>;
// An op's cost: cheap to recompute, or not (matrix products, attention).
defvar Gptc_Cost = DeclareOpInterfaceMethods<Gptc_CostOpInterface>;
defvar Gptc_ExpensiveCost =
    DeclareOpInterfaceMethods<Gptc_CostOpInterface, ["isCheapToRecompute"]>;

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
    Gptc_VJP, Gptc_Cost, Gptc_Kernel]> {
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

def Gptc_RMSNormOp : Gptc_UnaryOp<"rms_norm", [Gptc_VJP, Gptc_Cost, Gptc_KernelWithScalars]> {
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
    Gptc_VJP, Gptc_ExpensiveCost, Gptc_Kernel]> {
  let summary = "Bias-free linear layer: y[..., N] = x[..., K] · w[N, K]ᵀ";
  let description = [{
    `precision = "bf16"` rounds x and w to bfloat16 for the product, which
    still accumulates in float32 (gptc-matmul-precision sets it).

    ```mlir
    %q = gptc.linear %u, %wq : tensor<2x16x64xf32>, tensor<64x64xf32> -> tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_F32Tensor:$weight,
                       DefaultValuedAttr<Gptc_PrecisionAttr, "\"f32\"">:$precision);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $x `,` $weight attr-dict `:` type($x) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Gptc_ReshapeOp : Gptc_Op<"reshape", [Pure, Gptc_VJP,
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

def Gptc_RopeOp : Gptc_UnaryOp<"rope", [Gptc_VJP, Gptc_Cost, Gptc_KernelWithScalars]> {
  let summary = "Rotary position embedding on [B, T, H, D] at positions 0..T-1";
  let description = [{
    nanochat's convention: channel j pairs with channel j + D/2 and
    `out = concat(a·cos + b·sin, −a·sin + b·cos)` with angle
    `t / base^(2j/D)` computed in float32. `round_bf16` rounds the cos/sin
    tables to bfloat16 first, as nanochat's launch model does. `inverse`
    rotates by the opposite angle: the transpose, which is RoPE's gradient.

    ```mlir
    %qr = gptc.rope %q {base = 1.0e+04 : f32, round_bf16 = false} : tensor<2x16x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, F32Attr:$base, BoolAttr:$round_bf16,
                       DefaultValuedAttr<BoolAttr, "false">:$inverse);
  let hasVerifier = 1;
}

def Gptc_AttnScoresOp : Gptc_Op<"attn_scores", [Pure, InferTypeOpAdaptor,
    Gptc_ExpensiveCost, Gptc_KernelWithScalars]> {
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

def Gptc_CausalMaskOp : Gptc_UnaryOp<"causal_mask", [Gptc_Cost, Gptc_Kernel]> {
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

def Gptc_SoftmaxOp : Gptc_UnaryOp<"softmax", [Gptc_Cost, Gptc_Kernel]> {
  let summary = "Softmax over the last axis";
  let description = [{
    ```mlir
    %p = gptc.softmax %m : tensor<2x4x16x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x);
}

def Gptc_AttnApplyOp : Gptc_Op<"attn_apply", [Pure, InferTypeOpAdaptor,
    Gptc_ExpensiveCost, Gptc_Kernel]> {
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
    Gptc_VJP, Gptc_ExpensiveCost, Gptc_KernelWithScalars]> {
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

def Gptc_ScaleOp : Gptc_UnaryOp<"scale", [Gptc_VJP, Gptc_Cost, Gptc_KernelWithScalars]> {
  let summary = "Multiply by a constant factor";
  let description = [{
    ```mlir
    %y = gptc.scale %x {factor = 1.2 : f32} : tensor<2x16x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, F32Attr:$factor);
}

def Gptc_AddOp : Gptc_Op<"add", [Pure, Commutative, SameOperandsAndResultType,
    Gptc_VJP, Gptc_Cost, Gptc_Kernel]> {
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

def Gptc_ReluSquareOp : Gptc_UnaryOp<"relu_square", [Gptc_VJP, Gptc_Cost, Gptc_Kernel]> {
  let summary = "Squared ReLU, relu(x)², nanochat's MLP activation";
  let description = [{
    ```mlir
    %h = gptc.relu_square %fc : tensor<2x16x256xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x);
}

def Gptc_SoftcapOp : Gptc_UnaryOp<"softcap", [Gptc_Cost, Gptc_KernelWithScalars]> {
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
    Gptc_Cost, Gptc_KernelWithScalars]> {
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
// Fused lm_head + soft-cap + cross-entropy
//===----------------------------------------------------------------------===//

def Gptc_LmHeadLossOp : Gptc_Op<"lm_head_loss", [Pure, InferTypeOpAdaptor,
    Gptc_VJP, Gptc_ExpensiveCost, Gptc_KernelWithScalars]> {
  let summary = "Mean cross-entropy of softcap(x · wᵀ), in token chunks";
  let description = [{
    `linear` → `softcap` → `cross_entropy` as one op whose kernel works on a
    few rows at a time, so the [B, T, V] logits never exist.
    `precision = "bf16"` rounds x and w to bfloat16 for the logits' product,
    which still accumulates in float32 (gptc-matmul-precision sets it).

    ```mlir
    %loss = gptc.lm_head_loss %x, %w, %targets {cap = 1.5e+01 : f32, ignore_index = -1 : i32}
        : tensor<2x16x64xf32>, tensor<97x64xf32>, tensor<2x16xi32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_F32Tensor:$weight,
                       Gptc_I32Tensor:$targets, F32Attr:$cap,
                       I32Attr:$ignore_index,
                       DefaultValuedAttr<Gptc_PrecisionAttr, "\"f32\"">:$precision);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $x `,` $weight `,` $targets attr-dict `:` type($x) `,` type($weight) `,`
    type($targets) `->` type($loss)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gradients (built by the ops' VJPs)
//===----------------------------------------------------------------------===//

def Gptc_FillOp : Gptc_Op<"fill", [Pure, Gptc_Cost, Gptc_KernelWithScalars]> {
  let summary = "A tensor with every element set to a constant";
  let description = [{
    Seeds autodiff (d loss / d loss = 1) and zero gradients.

    ```mlir
    %one = gptc.fill {value = 1.0 : f32} : tensor<f32>
    ```
  }];
  let arguments = (ins F32Attr:$value);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Gptc_EmbeddingGradOp : Gptc_Op<"embedding_grad", [Pure, Gptc_Cost,
    Gptc_Kernel]> {
  let summary = "Table gradient of an embedding: scatter-add rows of dy by id";
  let description = [{
    `dtable[v, :] = Σ over positions p with ids[p] = v of dy[p, :]`.

    ```mlir
    %dwte = gptc.embedding_grad %idx, %dx : tensor<2x16xi32>, tensor<2x16x64xf32> -> tensor<97x64xf32>
    ```
  }];
  let arguments = (ins Gptc_I32Tensor:$ids, Gptc_F32Tensor:$grad);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $ids `,` $grad attr-dict `:` type($ids) `,` type($grad) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Gptc_RMSNormGradOp : Gptc_Op<"rms_norm_grad", [Pure,
    AllTypesMatch<["x", "grad", "result"]>, Gptc_Cost,
    Gptc_KernelWithScalars]> {
  let summary = "Input gradient of the weight-free RMSNorm";
  let description = [{
    With r = 1/sqrt(mean(x²) + eps) and y = x·r per row:
    `dx = r·(dy − y·mean(dy∘y))`.

    ```mlir
    %dx = gptc.rms_norm_grad %x, %dy {eps = 1.1920929e-07 : f32} : tensor<2x16x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_F32Tensor:$grad, F32Attr:$eps);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = "$x `,` $grad attr-dict `:` type($result)";
}

def Gptc_LinearGradOp : Gptc_Op<"linear_grad", [Pure, InferTypeOpAdaptor,
    Gptc_ExpensiveCost, Gptc_Kernel]> {
  let summary = "Gradients of y = x·wᵀ: dx = dy·w and dw = dyᵀ·x";
  let description = [{
    ```mlir
    %dx, %dw = gptc.linear_grad %dy, %x, %w
        : tensor<2x16x64xf32>, tensor<2x16x32xf32>, tensor<64x32xf32> -> tensor<2x16x32xf32>, tensor<64x32xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$grad, Gptc_F32Tensor:$x,
                       Gptc_F32Tensor:$weight,
                       DefaultValuedAttr<Gptc_PrecisionAttr, "\"f32\"">:$precision);
  let results = (outs Gptc_F32Tensor:$grad_x, Gptc_F32Tensor:$grad_weight);
  let assemblyFormat = [{
    $grad `,` $x `,` $weight attr-dict `:` type($grad) `,` type($x) `,`
    type($weight) `->` type($grad_x) `,` type($grad_weight)
  }];
  let hasVerifier = 1;
}

def Gptc_CausalAttentionGradOp : Gptc_Op<"causal_attention_grad", [Pure,
    InferTypeOpAdaptor, Gptc_ExpensiveCost, Gptc_KernelWithScalars]> {
  let summary = "Fused causal attention backward (FlashAttention-2)";
  let description = [{
    From q, k, v, the forward output o and its log-sum-exp, and the output
    gradient: D = rowsum(do∘o), P recomputed per tile from the LSE, and
    dq, dk, dv without a T×T buffer. GQA key/value gradients sum over the
    query heads of their group.

    ```mlir
    %dq, %dk, %dv = gptc.causal_attention_grad %q, %k, %v, %o, %lse, %do {scale = 0.25 : f32}
        : tensor<2x16x4x16xf32>, tensor<2x16x2x16xf32>, tensor<2x16x2x16xf32>,
          tensor<2x16x4x16xf32>, tensor<2x4x16xf32>, tensor<2x16x4x16xf32>
        -> tensor<2x16x4x16xf32>, tensor<2x16x2x16xf32>, tensor<2x16x2x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$q, Gptc_F32Tensor:$k, Gptc_F32Tensor:$v,
                       Gptc_F32Tensor:$out, Gptc_F32Tensor:$lse,
                       Gptc_F32Tensor:$grad_out, F32Attr:$scale);
  let results = (outs Gptc_F32Tensor:$grad_q, Gptc_F32Tensor:$grad_k,
                      Gptc_F32Tensor:$grad_v);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $out `,` $lse `,` $grad_out attr-dict `:`
    type($q) `,` type($k) `,` type($v) `,` type($out) `,` type($lse) `,`
    type($grad_out) `->` type($grad_q) `,` type($grad_k) `,` type($grad_v)
  }];
}

def Gptc_ReluSquareGradOp : Gptc_Op<"relu_square_grad", [Pure,
    AllTypesMatch<["x", "grad", "result"]>, Gptc_Cost, Gptc_Kernel]> {
  let summary = "Input gradient of relu(x)²: 2·relu(x)·dy";
  let description = [{
    ```mlir
    %dh = gptc.relu_square_grad %h, %dg : tensor<2x16x256xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_F32Tensor:$grad);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = "$x `,` $grad attr-dict `:` type($result)";
}

def Gptc_LmHeadLossGradOp : Gptc_Op<"lm_head_loss_grad", [Pure,
    InferTypeOpAdaptor, Gptc_ExpensiveCost, Gptc_KernelWithScalars]> {
  let summary = "Gradients of lm_head_loss, chunked over tokens";
  let description = [{
    Per chunk of rows: logits z = x·wᵀ, s = cap·tanh(z/cap), then
    dz = dloss·(softmax(s) − onehot(target))·(1 − (s/cap)²)/N, consumed at
    once by dx = dz·w and dw += dzᵀ·x. N counts non-ignored targets.
    `precision = "bf16"` rounds the inputs of the three products (x, w and
    dz) to bfloat16; they still accumulate in float32.

    ```mlir
    %dx, %dw = gptc.lm_head_loss_grad %x, %w, %targets, %dloss {cap = 1.5e+01 : f32, ignore_index = -1 : i32}
        : tensor<2x16x64xf32>, tensor<97x64xf32>, tensor<2x16xi32>, tensor<f32>
        -> tensor<2x16x64xf32>, tensor<97x64xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_F32Tensor:$weight,
                       Gptc_I32Tensor:$targets, 0DTensorOf<[F32]>:$grad_loss,
                       F32Attr:$cap, I32Attr:$ignore_index,
                       DefaultValuedAttr<Gptc_PrecisionAttr, "\"f32\"">:$precision);
  let results = (outs Gptc_F32Tensor:$grad_x, Gptc_F32Tensor:$grad_weight);
  let assemblyFormat = [{
    $x `,` $weight `,` $targets `,` $grad_loss attr-dict `:` type($x) `,`
    type($weight) `,` type($targets) `,` type($grad_loss) `->` type($grad_x)
    `,` type($grad_weight)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Decode: incremental ops over an explicit KV cache
//===----------------------------------------------------------------------===//

defvar Gptc_InPlace = DeclareOpInterfaceMethods<Gptc_InPlaceOpInterface>;

// The KV cache [L, R, Cap, Hkv, D]: float32, or bfloat16 to halve it.
def Gptc_KVCacheTensor : TensorRankOf<[F32, BF16], [5]>;

def Gptc_RopeAtOp : Gptc_Op<"rope_at", [Pure,
    AllTypesMatch<["x", "result"]>, Gptc_Cost, Gptc_KernelWithScalars]> {
  let summary = "RoPE on [R, T, H, D] at per-row positions lengths[r] + t";
  let description = [{
    `gptc.rope` for tokens that continue a cached prefix: row r's token t
    sits at position `positions[r] + t`.

    ```mlir
    %qr = gptc.rope_at %q, %lengths {base = 1.0e+04 : f32, round_bf16 = false}
        : tensor<1x1x4x16xf32>, tensor<1xi32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$x, Gptc_I32Tensor:$positions,
                       F32Attr:$base, BoolAttr:$round_bf16);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $x `,` $positions attr-dict `:` type($x) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Gptc_KVAppendOp : Gptc_Op<"kv_append", [Pure,
    AllTypesMatch<["cache", "result"]>, Gptc_InPlace, Gptc_Cost,
    Gptc_KernelWithScalars]> {
  let summary = "Write new keys or values into one layer of the KV cache";
  let description = [{
    The cache is [L, R, Cap, Hkv, D]; `new` [R, T, Hkv, D] goes into layer
    `layer`, slots `lengths[r] .. lengths[r] + T − 1` of row r. The result is
    the updated cache (in place at the kernel level). The program's host
    checks `lengths[r] + T <= Cap` before it runs the graph.

    ```mlir
    %kc1 = gptc.kv_append %kc, %lengths, %k {layer = 0 : i64}
        : tensor<2x1x64x2x16xf32>, tensor<1xi32>, tensor<1x1x2x16xf32>
    ```
  }];
  let arguments = (ins Gptc_KVCacheTensor:$cache, Gptc_I32Tensor:$lengths,
                       Gptc_F32Tensor:$new_entries, I64Attr:$layer);
  let results = (outs Gptc_KVCacheTensor:$result);
  let assemblyFormat = [{
    $cache `,` $lengths `,` $new_entries attr-dict `:` type($cache) `,`
    type($lengths) `,` type($new_entries)
  }];
  let hasVerifier = 1;
}

def Gptc_CachedAttentionOp : Gptc_Op<"cached_attention", [Pure,
    Gptc_ExpensiveCost, Gptc_KernelWithScalars]> {
  let summary = "Attention of new queries over the cached prefix";
  let description = [{
    q [R, T, H, D] holds the queries of the T newest tokens of each row,
    whose keys and values are already in layer `layer` of the caches
    [L, R, Cap, Hkv, D] at slots `lengths[r] ..`. Query t of row r attends
    over slots `0 .. lengths[r] + t` (causal, aligned to the bottom right),
    `lengths` being the lengths before this chunk. GQA: query head h reads
    key/value head h / (H / Hkv).

    ```mlir
    %o = gptc.cached_attention %q, %kc, %vc, %lengths {layer = 0 : i64, scale = 0.25 : f32}
        : tensor<1x1x4x16xf32>, tensor<2x1x64x2x16xf32>, tensor<2x1x64x2x16xf32>, tensor<1xi32>
        -> tensor<1x1x4x16xf32>
    ```
  }];
  let arguments = (ins Gptc_F32Tensor:$q, Gptc_KVCacheTensor:$k_cache,
                       Gptc_KVCacheTensor:$v_cache, Gptc_I32Tensor:$lengths,
                       I64Attr:$layer, F32Attr:$scale);
  let results = (outs Gptc_F32Tensor:$result);
  let assemblyFormat = [{
    $q `,` $k_cache `,` $v_cache `,` $lengths attr-dict `:` type($q) `,`
    type($k_cache) `,` type($v_cache) `,` type($lengths) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Gptc_KVAdvanceOp : Gptc_Op<"kv_advance", [Pure,
    AllTypesMatch<["lengths", "result"]>, Gptc_InPlace, Gptc_Cost,
    Gptc_KernelWithScalars]> {
  let summary = "Advance every row's cache length by the tokens just written";
  let description = [{
    ```mlir
    %l1 = gptc.kv_advance %lengths {by = 1 : i64} : tensor<1xi32>
    ```
  }];
  let arguments = (ins Gptc_I32Tensor:$lengths, I64Attr:$by);
  let results = (outs Gptc_I32Tensor:$result);
  let assemblyFormat = "$lengths attr-dict `:` type($lengths)";
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
  let extraClassDeclaration = [{
    /// The size the kernel's parameter `name` gets (a GPTC_DIM of
    /// backends/Kernels.def, e.g. "D"), or nullopt if it has none.
    std::optional<int64_t> getDim(::llvm::StringRef name);
  }];
  let hasVerifier = 1;
}

#endif // GPTC_IR_GPTCOPS_TD
