//===- ConvertToEmitC.cpp - gptc-convert-to-emitc -------------------------===//
//
// Planned kernel-level functions → EmitC, which MLIR's C++ emitter prints.
// The target (compiler/Targets.h) only changes the runtime header, the
// kernels' namespace and which shapes are refused: one emitter for every
// backend.
//
//===----------------------------------------------------------------------===//

#include "compiler/Targets.h"
#include "ir/GptcAttrs.h"
#include "passes/KernelABI.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/Support/FormatVariadic.h"

namespace gptc {
#define GEN_PASS_DEF_CONVERTTOEMITC
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// What the generated code calls on a target: its kernels, and the fused
/// attention's implementation (`attention`: own or cudnn).
struct Backend {
  const TargetInfo *target;
  bool cudnnAttention;
};

static bool isTrainingAttention(StringRef kernel) {
  return kernel == "causalAttention" || kernel == "causalAttentionBackward";
}

/// Why `backend` cannot run `kernel` ("" if it can): the head dims its
/// attention kernels are built for.
static std::string unsupportedReason(const Backend &backend, KernelOp kernel) {
  const TargetInfo &target = *backend.target;
  StringRef callee = kernel.getCallee();
  std::optional<int64_t> D = kernel.getDim("D");
  if (!D)
    return "";
  // cuDNN plans the training attention itself.
  if (isTrainingAttention(callee) && !backend.cudnnAttention &&
      target.supportsAttentionHeadDim && !target.supportsAttentionHeadDim(*D))
    return ("the CUDA attention kernels support head dims " +
            target.describeAttentionHeadDims() + ", not " + Twine(*D) +
            " (--attention=cudnn may support it)")
        .str();
  if (callee.starts_with("cachedAttention") && target.supportsDecodeHeadDim &&
      !target.supportsDecodeHeadDim(*D))
    return ("the CUDA decode attention supports head dims that are " +
            target.describeDecodeHeadDims() + ", not " + Twine(*D))
        .str();
  return "";
}

/// The function a kernel call names: cuDNN's attention has its own entry
/// points with the same arguments.
static std::string calleeName(const Backend &backend, StringRef kernel) {
  std::string name = (backend.target->kernelNamespace + "::" + kernel).str();
  if (backend.cudnnAttention && isTrainingAttention(kernel))
    name += "Cudnn";
  return name;
}

/// A C++ string literal holding `text`.
static std::string cppStringLiteral(StringRef text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

static std::string cppShape(ArrayRef<int64_t> shape) {
  std::string out = "{";
  llvm::raw_string_ostream os(out);
  llvm::interleaveComma(shape, os);
  return out + "}";
}

/// The gptc::ElementType (backends/common/Program.h) of a program's buffer
/// of `type` elements.
static StringRef elementTypeEnumerator(Type type) {
  if (type.isF32())
    return "gptc::ElementType::F32";
  if (type.isBF16())
    return "gptc::ElementType::BF16";
  assert(type.isInteger(32) && "program buffers are f32, bf16 or i32");
  return "gptc::ElementType::I32";
}

/// The C++ declaration of one gptc::BufferInfo entry.
static std::string tensorInfo(StringRef name, Type elementType,
                              ArrayRef<int64_t> shape, int64_t offset,
                              IntegerAttr layer = {}) {
  return llvm::formatv("  {{{0}, {1}, {2}, {3}, {4}{5}},\n",
                       cppStringLiteral(name),
                       elementTypeEnumerator(elementType), shape.size(),
                       cppShape(shape), offset,
                       layer ? ", " + std::to_string(layer.getInt()) : "")
      .str();
}

class FunctionConversion {
public:
  FunctionConversion(func::FuncOp func, const Backend &backend)
      : func(func), backend(backend), b(func.getContext()) {}

  LogicalResult run();

private:
  FailureOr<Type> pointerType(Value buffer);
  LogicalResult convertOp(Operation *op);
  std::string programInfo();

  func::FuncOp func;
  const Backend &backend;
  OpBuilder b;
  IRMapping pointers; // memref value → emitc pointer value
};

FailureOr<Type> FunctionConversion::pointerType(Value buffer) {
  auto memref = dyn_cast<MemRefType>(buffer.getType());
  if (!memref || cppElementType(memref.getElementType()).empty())
    return failure();
  Type element = memref.getElementType();
  if (element.isInteger(8) || element.isBF16())
    element = emitc::OpaqueType::get(b.getContext(),
                                     cppElementType(memref.getElementType()));
  return Type(emitc::PointerType::get(element));
}

LogicalResult FunctionConversion::convertOp(Operation *op) {
  Location loc = op->getLoc();
  if (isa<arith::ConstantIndexOp, func::ReturnOp>(op))
    return success(); // offsets are folded into the views below
  if (auto view = dyn_cast<memref::ViewOp>(op)) {
    std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
    FailureOr<Type> type = pointerType(view.getResult());
    if (!shift || failed(type))
      return view.emitError("expects a constant byte shift and f32/i32 type");
    if (auto name = dyn_cast<NameLoc>(loc))
      b.create<emitc::VerbatimOp>(
          loc, b.getStringAttr("// " + name.getName().str()));
    auto call = b.create<emitc::CallOpaqueOp>(
        loc, TypeRange{*type}, "gptc::view",
        ValueRange{pointers.lookup(view.getSource())},
        b.getArrayAttr({b.getIndexAttr(0), b.getI64IntegerAttr(*shift)}),
        b.getArrayAttr({emitc::OpaqueAttr::get(
            b.getContext(), cppElementType(view.getType().getElementType()))}));
    pointers.map(view.getResult(), call.getResult(0));
    return success();
  }
  if (auto kernel = dyn_cast<KernelOp>(op)) {
    if (std::string reason = unsupportedReason(backend, kernel);
        !reason.empty())
      return kernel.emitError(reason);
    // The op's location names the model part; keep it as a comment.
    b.create<emitc::VerbatimOp>(loc,
                                b.getStringAttr("// " + describeLocation(loc)));

    SmallVector<Value> operands;
    SmallVector<Attribute> args;
    for (Value buffer : kernel->getOperands()) {
      args.push_back(b.getIndexAttr(operands.size()));
      operands.push_back(pointers.lookup(buffer));
    }
    for (int64_t dim : kernel.getDims())
      args.push_back(b.getI64IntegerAttr(dim));
    llvm::append_range(args, kernel.getScalars());
    b.create<emitc::CallOpaqueOp>(loc, TypeRange{},
                                  calleeName(backend, kernel.getCallee()),
                                  operands, b.getArrayAttr(args), ArrayAttr());
    return success();
  }
  return op->emitError("'") << op->getName()
                            << "' cannot be emitted; run gptc-lower-to-kernels "
                               "and gptc-plan-memory first";
}

/// gptc::ProgramInfo for the host: what the buffers hold.
std::string FunctionConversion::programInfo() {
  std::string name = func.getName().str();
  std::string params, inputs, outputs;
  if (auto table = func->getAttrOfType<ArrayAttr>(kParamsAttrName))
    for (auto entry : table.getAsRange<DictionaryAttr>())
      params +=
          tensorInfo(entry.getAs<StringAttr>("name").getValue(), b.getF32Type(),
                     entry.getAs<DenseI64ArrayAttr>("shape").asArrayRef(),
                     entry.getAs<IntegerAttr>("offset").getInt(),
                     entry.getAs<IntegerAttr>("layer"));
  for (BlockArgument arg : func.getArguments()) {
    auto io =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kIONameAttrName);
    if (!io)
      continue;
    auto shape = func.getArgAttrOfType<DenseI64ArrayAttr>(arg.getArgNumber(),
                                                          kShapeAttrName);
    auto type = cast<MemRefType>(arg.getType());
    std::string entry =
        tensorInfo(io.getValue(), type.getElementType(),
                   shape ? shape.asArrayRef() : type.getShape(), 0);
    bool isOutput =
        func.getArgAttr(arg.getArgNumber(), kOutputAttrName) != nullptr;
    (isOutput ? outputs : inputs) += entry;
  }
  auto config = func->getParentOfType<ModuleOp>()->getAttrOfType<StringAttr>(
      kConfigAttrName);
  auto intAttr = [&](StringRef attr) {
    auto value = func->getAttrOfType<IntegerAttr>(attr);
    return value ? value.getInt() : int64_t(0);
  };
  auto array = [&](StringRef arrayName, const std::string &body) {
    return body.empty()
               ? std::string()
               : llvm::formatv("static const gptc::BufferInfo {0}_{1}[] "
                               "= {{\n{2}};\n",
                               name, arrayName, body)
                     .str();
  };
  auto ref = [&](StringRef arrayName, const std::string &body) {
    return body.empty()
               ? std::string("nullptr, 0")
               : llvm::formatv("{0}_{1}, std::size({0}_{1})", name, arrayName)
                     .str();
  };
  return array("params", params) + array("inputs", inputs) +
         array("outputs", outputs) +
         llvm::formatv("extern const gptc::ProgramInfo {0}_program = {{\n"
                       "  {1}, {2},\n  {3}, {4},\n  {5},\n  {6},\n  {7}};\n",
                       name, cppStringLiteral(name),
                       cppStringLiteral(config ? config.getValue() : "{}"),
                       intAttr(kParamBytesAttrName),
                       intAttr(kArenaBytesAttrName), ref("params", params),
                       ref("inputs", inputs), ref("outputs", outputs))
             .str();
}

LogicalResult FunctionConversion::run() {
  if (!func->hasAttr(kArenaBytesAttrName))
    return func.emitError("expects a planned function; run gptc-plan-memory "
                          "first");
  // State updated in place is `void *` at the ABI (its element type is a
  // compile option); the body reads it through a typed view.
  auto isState = [&](BlockArgument arg) {
    return func.getArgAttr(arg.getArgNumber(), kInOutAttrName) != nullptr;
  };
  Type voidPointer =
      emitc::PointerType::get(emitc::OpaqueType::get(b.getContext(), "void"));
  SmallVector<Type> argTypes;
  for (BlockArgument arg : func.getArguments()) {
    FailureOr<Type> type = pointerType(arg);
    if (failed(type))
      return func.emitError("argument ")
             << arg.getArgNumber()
             << " is not an f32, bf16, i32 or byte buffer";
    argTypes.push_back(isState(arg) ? voidPointer : *type);
  }
  b.setInsertionPoint(func);
  auto emitted = b.create<emitc::FuncOp>(func.getLoc(), func.getName(),
                                         b.getFunctionType(argTypes, {}));
  Block *entry = emitted.addEntryBlock();
  b.setInsertionPointToStart(entry);
  for (BlockArgument arg : func.getArguments()) {
    Value pointer = entry->getArgument(arg.getArgNumber());
    if (isState(arg))
      pointer =
          b.create<emitc::CallOpaqueOp>(
               func.getLoc(), TypeRange{*pointerType(arg)}, "gptc::view",
               ValueRange{pointer},
               b.getArrayAttr({b.getIndexAttr(0), b.getI64IntegerAttr(0)}),
               b.getArrayAttr({emitc::OpaqueAttr::get(
                   b.getContext(),
                   cppElementType(
                       cast<MemRefType>(arg.getType()).getElementType()))}))
              .getResult(0);
    pointers.map(arg, pointer);
  }

  for (Operation &op : func.getBody().front())
    if (failed(convertOp(&op)))
      return failure();
  b.create<emitc::ReturnOp>(func.getLoc(), Value());

  b.setInsertionPointAfter(emitted);
  b.create<emitc::VerbatimOp>(func.getLoc(), b.getStringAttr(programInfo()));
  func.erase();
  return success();
}

struct ConvertToEmitC : gptc::impl::ConvertToEmitCBase<ConvertToEmitC> {
  using ConvertToEmitCBase::ConvertToEmitCBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    const TargetInfo *info = &getTargetInfo(target);
    bool cudnn = attention == AttentionImpl::Cudnn;
    if (cudnn && !info->hasCudnnAttention) {
      module.emitError("attention 'cudnn' needs a CUDA target, not '")
          << info->name << "'";
      return signalPassFailure();
    }
    Backend backend{info, cudnn};
    OpBuilder b(module.getBodyRegion());
    b.create<emitc::IncludeOp>(module.getLoc(), info->runtimeHeader, false);
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    for (func::FuncOp func : funcs)
      if (!func.isExternal() && failed(FunctionConversion(func, backend).run()))
        return signalPassFailure();
  }
};

} // namespace
