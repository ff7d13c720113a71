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
    A tensor op that runs as exactly one runtime kernel. The kernel is called
    as `name(inputs..., outputs..., dims..., scalars...)`, where the inputs are
    the op's operands and the outputs its results, all as flat buffers; the
    backends prefix the name with their namespace (`gptc::cpu::`).
  }];
  let methods = [
    InterfaceMethod<"The runtime kernel's name, e.g. \"rmsNorm\".",
      "::llvm::StringRef", "getKernelName">,
    InterfaceMethod<[{
        The kernel's size arguments, in the kernel's order, derived from the
        static operand shapes (e.g. rows and columns for a row-wise norm).
      }], "::llvm::SmallVector<int64_t>", "getKernelDims">,
    InterfaceMethod<[{
        The kernel's scalar arguments after the sizes, as typed attributes
        (f32 or i32), e.g. the epsilon of a norm.
      }], "::llvm::SmallVector<::mlir::Attribute>", "getKernelScalars",
      (ins), [{}], [{ return {}; }]>,
  ];
}

#endif // GPTC_IR_GPTCINTERFACES_TD
