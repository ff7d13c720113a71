//===- KernelTable.h - the runtime kernels' signatures ----------*- C++ -*-===//
//
// The signature of every runtime kernel, expanded from backends/Kernels.def,
// the one list that also declares the CPU and CUDA kernels. Ops name their
// kernel's sizes and scalars (KernelOpInterface); lowering puts them in the
// kernel's order from this table, and `gptc.kernel` calls are verified
// against it, so a call that does not match its kernel is an IR error, not
// a failure to compile the generated program.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_IR_KERNELTABLE_H
#define GPTC_IR_KERNELTABLE_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Types.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

namespace gptc {

/// One parameter of a kernel, as written in backends/Kernels.def.
struct KernelParam {
  enum Kind { Input, Output, Dim, F32, I32 };
  Kind kind;
  /// The C++ element type of a buffer ("float", "int32_t", "uint16_t" for
  /// bfloat16 bits); empty for sizes and scalars.
  llvm::StringRef elementType;
  llvm::StringRef name;

  /// Whether `value` is what this scalar parameter takes: an f32 or an i32
  /// attribute.
  bool acceptsScalar(mlir::Attribute value) const;
  /// "an f32" or "an i32", for messages.
  llvm::StringRef scalarTypeName() const;
};

/// A kernel: `name(inputs..., outputs..., dims..., scalars...)`.
struct KernelSignature {
  llvm::StringRef name;
  llvm::ArrayRef<KernelParam> params;

  /// The parameters of one kind, in call order.
  llvm::SmallVector<const KernelParam *> paramsOf(KernelParam::Kind kind) const;
  /// The scalar parameters (F32 and I32), in call order.
  llvm::SmallVector<const KernelParam *> scalars() const;
};

/// The C++ type that holds an element of a buffer of `type` elements in
/// generated code and kernel signatures: "float", "int32_t", "uint16_t"
/// (bfloat16 bits), "char" (bytes); "" for any other type.
llvm::StringRef cppElementType(mlir::Type type);

/// The kernel called `name`, or null.
const KernelSignature *lookupKernel(llvm::StringRef name);

/// Every kernel, in the list's order.
llvm::ArrayRef<KernelSignature> getKernelTable();

/// A size argument of a kernel by its name in the table ("rows").
struct NamedDim {
  llvm::StringRef name;
  int64_t value;
};
using KernelDims = llvm::SmallVector<NamedDim, 8>;

/// A scalar argument of a kernel by name: an f32 or i32 attribute.
struct NamedScalar {
  llvm::StringRef name;
  mlir::Attribute value;
};
using KernelScalars = llvm::SmallVector<NamedScalar, 4>;

/// The sizes and scalars of a call to `kernel` in its parameter order.
struct OrderedKernelArgs {
  llvm::SmallVector<int64_t> dims;
  llvm::SmallVector<mlir::Attribute> scalars;
};

/// Orders the named `dims` and `scalars` that `op` gives for `kernel` as the
/// kernel takes them. Fails, with an error on `op`, when the kernel is not
/// in the table or the names are not exactly its parameters' (a missing,
/// unknown or repeated name, or a scalar of the wrong type).
mlir::FailureOr<OrderedKernelArgs>
orderKernelArgs(mlir::Operation *op, llvm::StringRef kernel,
                llvm::ArrayRef<NamedDim> dims,
                llvm::ArrayRef<NamedScalar> scalars);

} // namespace gptc

#endif // GPTC_IR_KERNELTABLE_H
