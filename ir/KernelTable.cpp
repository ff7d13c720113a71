//===- KernelTable.cpp - the runtime kernels' signatures ------------------===//

#include "ir/KernelTable.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace gptc;

// Each kernel's parameters as an array `<name>Params`.
#define GPTC_KERNEL(name, ...)                                                 \
  static const KernelParam name##Params[] = {__VA_ARGS__};
#define GPTC_IN(type, name)                                                    \
  { KernelParam::Input, #type, #name }
#define GPTC_OUT(type, name)                                                   \
  { KernelParam::Output, #type, #name }
#define GPTC_DIM(name)                                                         \
  { KernelParam::Dim, "", #name }
#define GPTC_F32(name)                                                         \
  { KernelParam::F32, "", #name }
#define GPTC_I32(name)                                                         \
  { KernelParam::I32, "", #name }
#include "backends/Kernels.def"

static const KernelSignature kKernels[] = {
#define GPTC_KERNEL(name, ...) {#name, name##Params},
#include "backends/Kernels.def"
};

ArrayRef<KernelSignature> gptc::getKernelTable() { return kKernels; }

StringRef gptc::cppElementType(Type type) {
  if (type.isF32())
    return "float";
  if (type.isBF16()) // C++17 has no bfloat16: the bits
    return "uint16_t";
  if (type.isInteger(32))
    return "int32_t";
  if (type.isInteger(8))
    return "char";
  return "";
}

const KernelSignature *gptc::lookupKernel(StringRef name) {
  for (const KernelSignature &kernel : kKernels)
    if (kernel.name == name)
      return &kernel;
  return nullptr;
}

SmallVector<const KernelParam *>
KernelSignature::paramsOf(KernelParam::Kind kind) const {
  SmallVector<const KernelParam *> result;
  for (const KernelParam &param : params)
    if (param.kind == kind)
      result.push_back(&param);
  return result;
}

SmallVector<const KernelParam *> KernelSignature::scalars() const {
  SmallVector<const KernelParam *> result;
  for (const KernelParam &param : params)
    if (param.kind == KernelParam::F32 || param.kind == KernelParam::I32)
      result.push_back(&param);
  return result;
}

bool KernelParam::acceptsScalar(Attribute value) const {
  auto typed = dyn_cast_or_null<TypedAttr>(value);
  if (!typed)
    return false;
  return kind == F32 ? typed.getType().isF32() : typed.getType().isInteger(32);
}

StringRef KernelParam::scalarTypeName() const {
  return kind == F32 ? "an f32" : "an i32";
}

/// "(rows, cols)" for parameters or given names.
template <typename Range, typename NameOf>
static std::string nameList(const Range &range, NameOf nameOf) {
  return "(" + llvm::join(llvm::map_range(range, nameOf), ", ") + ")";
}

FailureOr<OrderedKernelArgs>
gptc::orderKernelArgs(Operation *op, StringRef kernel, ArrayRef<NamedDim> dims,
                      ArrayRef<NamedScalar> scalars) {
  const KernelSignature *signature = lookupKernel(kernel);
  if (!signature)
    return op->emitOpError("names kernel '")
           << kernel << "', which is not in backends/Kernels.def";

  OrderedKernelArgs args;
  auto dimParams = signature->paramsOf(KernelParam::Dim);
  auto byName = [](const auto &named) { return named.name.str(); };
  auto paramName = [](const KernelParam *param) { return param->name.str(); };
  auto dimsMismatch = [&] {
    return op->emitOpError("gives kernel '")
           << kernel << "' the sizes " << nameList(dims, byName)
           << ", but it takes " << nameList(dimParams, paramName);
  };
  if (dims.size() != dimParams.size())
    return dimsMismatch();
  for (const KernelParam *param : dimParams) {
    auto found = llvm::find_if(
        dims, [&](const NamedDim &dim) { return dim.name == param->name; });
    if (found == dims.end())
      return dimsMismatch();
    args.dims.push_back(found->value);
  }

  auto scalarParams = signature->scalars();
  auto scalarsMismatch = [&] {
    return op->emitOpError("gives kernel '")
           << kernel << "' the scalars " << nameList(scalars, byName)
           << ", but it takes " << nameList(scalarParams, paramName);
  };
  if (scalars.size() != scalarParams.size())
    return scalarsMismatch();
  for (const KernelParam *param : scalarParams) {
    auto found = llvm::find_if(scalars, [&](const NamedScalar &scalar) {
      return scalar.name == param->name;
    });
    if (found == scalars.end())
      return scalarsMismatch();
    if (!param->acceptsScalar(found->value))
      return op->emitOpError("gives kernel '")
             << kernel << "' the scalar '" << param->name << "' as "
             << found->value << ", but it takes " << param->scalarTypeName();
    args.scalars.push_back(found->value);
  }
  return args;
}
