//===- GptcInterfaces.td - per-op knowledge as interfaces --*- tablegen -*-===//
//
// Passes never switch on op kinds: what an op means to a pass is asked
// through these interfaces.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_GPTCINTERFACES_TD
#define GPTC_IR_GPTCINTERFACES_TD

include "mlir/IR/OpBase.td"

def Gptc_KernelOpInterface : OpInterface<"KernelOpInterface"> {
  let cppNamespace = "::gptc";
  let description = [{
    A tensor op that runs as exactly one runtime kernel of
    backends/Kernels.def. The kernel is called as
    `name(inputs..., outputs..., dims..., scalars...)`, where the inputs are
    the op's operands and the outputs its results, all as flat buffers; the
    backends prefix the name with their namespace (`gptc::cpu::`). The op
    names its sizes and scalars as the kernel's parameters are named, and
    lowering orders them as the kernel takes them (ir/KernelTable.h), so an
    op cannot pass two sizes in the wrong order.
  }];
  let methods = [
    InterfaceMethod<"The runtime kernel's name, e.g. \"rmsNorm\".",
      "::llvm::StringRef", "getKernelName">,
    InterfaceMethod<[{
        The kernel's size arguments by name, derived from the static operand
        shapes (e.g. rows and cols for a row-wise norm).
      }], "::gptc::KernelDims", "getKernelDims">,
    InterfaceMethod<[{
        The kernel's scalar arguments by name, as typed attributes (f32 or
        i32), e.g. the eps of a norm.
      }], "::gptc::KernelScalars", "getKernelScalars",
      (ins), [{}], [{ return {}; }]>,
  ];
}

def Gptc_VJPOpInterface : OpInterface<"VJPOpInterface"> {
  let cppNamespace = "::gptc";
  let description = [{
    The op's vector-Jacobian product: given the gradients of the loss with
    respect to its results, build the gradients with respect to its operands.
    gptc-autodiff walks the graph backwards and asks each op this, so an op's
    gradient rule lives with the op (ir/VJP.cpp), not in the pass.
  }];
  let methods = [
    InterfaceMethod<[{
        Builds the operand gradients at the builder's insertion point.
        `resultGrads` has one entry per result, null where no gradient flows.
        Returns one value per operand, null for operands that are not
        differentiable (token ids, targets).
      }], "::llvm::SmallVector<::mlir::Value>", "buildVJP",
      (ins "::mlir::OpBuilder &":$b,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads)>,
  ];
}

def Gptc_CostOpInterface : OpInterface<"CostOpInterface"> {
  let cppNamespace = "::gptc";
  let description = [{
    What an op costs: the floating-point operations of one execution, and
    whether recomputing it in the backward pass is cheap (elementwise or
    row-wise work proportional to its output) or not (matrix products,
    attention). `gptc explain` and the recompute policies use it.
  }];
  let methods = [
    InterfaceMethod<"Floating-point operations of one execution.",
      "int64_t", "getFlops">,
    InterfaceMethod<"True when recomputing costs about one pass over the data.",
      "bool", "isCheapToRecompute", (ins), [{}], [{ return true; }]>,
  ];
}

def Gptc_InPlaceOpInterface : OpInterface<"InPlaceOpInterface"> {
  let cppNamespace = "::gptc";
  let description = [{
    An op whose single result is its tied operand updated in place (the KV
    cache after a write, the lengths after an advance). In value semantics it
    is a new value; at the kernel level the kernel writes into the operand's
    buffer, which it does not take as an input.
  }];
  let methods = [
    InterfaceMethod<"The operand whose buffer the result reuses.",
      "unsigned", "getTiedOperandIndex">,
  ];
}

#endif // GPTC_IR_GPTCINTERFACES_TD
