//===- GptcDialect.td - the gptc dialect definition --------*- tablegen -*-===//
//
// The gptc dialect models a GPT at two levels:
//  * the tensor graph: value-semantics ops on ranked f32/i32 tensors with
//    static shapes (what the frontend builds and the graph passes rewrite);
//  * the kernel level: `gptc.kernel`, one call of a runtime kernel on flat
//    memref views of a planned arena (what the backends emit code from).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTCDIALECT_TD
#define GPTC_IR_GPTCDIALECT_TD

include "mlir/IR/OpBase.td"

def Gptc_Dialect : Dialect {
  let name = "gptc";
  let cppNamespace = "::gptc";
  let summary = "A dataflow graph of a nanochat GPT, from tensors to kernels.";
  let description = [{
    Tensor-level ops carry the model's math (RMSNorm, RoPE, attention, ...),
    verify their shapes and infer their result types. Each op that maps onto
    one runtime kernel implements `KernelOpInterface`, so lowering to the
    kernel level is generic.

    Discardable attributes (ir/GptcAttrs.h), verified by the dialect:
      * `gptc.layer = <i> : i64` on an op, or on a parameter argument next to
        its `gptc.param` name: the transformer block `transformer.h.<i>` the
        op computes or the parameter belongs to. The frontend sets it; passes
        carry it over to the ops they create (gradient ops, recomputed
        clones, fused ops, `gptc.kernel`) and read it instead of the
        location (gptc-recompute's layers, `gptc explain`), and the training
        program's optimizer groups parameters by it.
      * `gptc.config` on the module: the model config as JSON.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
}

class Gptc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Gptc_Dialect, mnemonic, traits>;

#endif // GPTC_IR_GPTCDIALECT_TD
