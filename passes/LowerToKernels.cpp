//===- LowerToKernels.cpp - gptc-lower-to-kernels -------------------------===//
//
// Tensor graph → kernel level. Every value gets a flat buffer:
//   parameter argument  → a view of the packed parameter buffer (argument 0),
//   other argument      → an input buffer argument,
//   returned value      → an output buffer argument, written in place,
//   other kernel result → a memref.alloc (placed later by gptc-plan-memory),
//   reshape result      → its operand's buffer.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/KernelABI.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace gptc {
#define GEN_PASS_DEF_LOWERTOKERNELS
#include "passes/Passes.h.inc"
} // namespace gptc

using namespace mlir;
using namespace gptc;

namespace {

/// The flat buffer type holding a tensor: memref<numel x elt>.
static MemRefType flatBufferType(Type tensorType) {
  auto tensor = cast<RankedTensorType>(tensorType);
  return MemRefType::get({tensor.getNumElements()}, tensor.getElementType());
}

/// Follows reshapes back to the value that owns the buffer.
static Value bufferRoot(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// The attributes of an input or output buffer argument: the tensor's own
/// (its gptc.name) plus the shape it holds and whether it is an output.
static DictionaryAttr bufferAttrs(OpBuilder &b, DictionaryAttr attrs,
                                  Type tensorType, bool isOutput) {
  NamedAttrList list(attrs);
  list.set(kShapeAttrName, b.getDenseI64ArrayAttr(
                               cast<RankedTensorType>(tensorType).getShape()));
  if (isOutput)
    list.set(kOutputAttrName, b.getUnitAttr());
  return list.getDictionary(b.getContext());
}

static int64_t alignTo(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

/// Lowers one tensor-level function into a new kernel-level function.
class FunctionLowering {
public:
  explicit FunctionLowering(func::FuncOp func) : func(func) {}

  FailureOr<func::FuncOp> run();

private:
  LogicalResult buildSignature(OpBuilder &b);
  LogicalResult assignOutputs();
  LogicalResult lowerOp(OpBuilder &b, Operation *op);

  func::FuncOp func;
  func::FuncOp lowered;
  IRMapping buffers;            // tensor value → flat buffer
  DenseMap<Value, Value> outputOf; // returned root value → output argument
  SmallVector<Attribute> paramTable;
  int64_t paramBytes = 0;
};

LogicalResult FunctionLowering::buildSignature(OpBuilder &b) {
  MLIRContext *ctx = func.getContext();
  FunctionType type = func.getFunctionType();
  // Pack the parameters first: their offsets size the parameter buffer.
  SmallVector<std::pair<BlockArgument, int64_t>> paramOffsets;
  for (BlockArgument arg : func.getArguments()) {
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                  kParamAttrName);
    if (!name)
      continue;
    auto tensor = dyn_cast<RankedTensorType>(arg.getType());
    if (!tensor || !tensor.hasStaticShape())
      return func.emitError("parameter '")
             << name.getValue() << "' must be a statically shaped tensor";
    paramOffsets.push_back({arg, paramBytes});
    paramTable.push_back(DictionaryAttr::get(
        ctx, {b.getNamedAttr("name", name),
              b.getNamedAttr("shape", b.getDenseI64ArrayAttr(tensor.getShape())),
              b.getNamedAttr("offset", b.getI64IntegerAttr(paramBytes))}));
    paramBytes += alignTo(tensor.getNumElements() *
                              tensor.getElementTypeBitWidth() / 8,
                          kBufferAlignment);
  }

  SmallVector<Type> argTypes{MemRefType::get({paramBytes}, b.getI8Type())};
  SmallVector<DictionaryAttr> argAttrs{b.getDictionaryAttr(
      b.getNamedAttr(kBufferRoleAttrName, b.getStringAttr("params")))};
  for (BlockArgument arg : func.getArguments()) {
    if (func.getArgAttr(arg.getArgNumber(), kParamAttrName))
      continue;
    if (!isa<RankedTensorType>(arg.getType()))
      return func.emitError("argument ")
             << arg.getArgNumber() << " must be a ranked tensor";
    argTypes.push_back(flatBufferType(arg.getType()));
    argAttrs.push_back(bufferAttrs(b, func.getArgAttrDict(arg.getArgNumber()),
                                   arg.getType(), /*isOutput=*/false));
  }
  for (auto [i, resultType] : llvm::enumerate(type.getResults())) {
    if (!isa<RankedTensorType>(resultType))
      return func.emitError("result ") << i << " must be a ranked tensor";
    argTypes.push_back(flatBufferType(resultType));
    argAttrs.push_back(bufferAttrs(b, func.getResultAttrDict(i), resultType,
                                   /*isOutput=*/true));
  }

  b.setInsertionPoint(func);
  lowered = b.create<func::FuncOp>(func.getLoc(), func.getName(),
                                   b.getFunctionType(argTypes, {}));
  lowered.setAllArgAttrs(argAttrs);
  lowered->setAttr(kParamsAttrName, b.getArrayAttr(paramTable));
  lowered->setAttr(kParamBytesAttrName, b.getI64IntegerAttr(paramBytes));
  for (NamedAttribute attr : func->getDiscardableAttrs())
    lowered->setAttr(attr.getName(), attr.getValue());

  Block *entry = lowered.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value paramBuffer = entry->getArgument(0);
  for (auto [arg, offset] : paramOffsets) {
    // The view is named after the parameter it holds.
    Location loc = NameLoc::get(func.getArgAttrOfType<StringAttr>(
        arg.getArgNumber(), kParamAttrName));
    Value byteShift = b.create<arith::ConstantIndexOp>(loc, offset);
    buffers.map(arg, b.create<memref::ViewOp>(loc,
                                              flatBufferType(arg.getType()),
                                              paramBuffer, byteShift,
                                              ValueRange{}));
  }
  unsigned next = 1;
  for (BlockArgument arg : func.getArguments())
    if (!func.getArgAttr(arg.getArgNumber(), kParamAttrName))
      buffers.map(arg, entry->getArgument(next++));
  return success();
}

/// Decides which kernel writes each output buffer: the one producing the
/// returned value (through reshapes). Returning an argument, or one value
/// twice, would need a copy kernel the runtime does not have.
LogicalResult FunctionLowering::assignOutputs() {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  unsigned firstOutput = lowered.getNumArguments() - ret.getNumOperands();
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    Value root = bufferRoot(value);
    if (isa<BlockArgument>(root))
      return ret.emitError("result ")
             << i << " returns a function argument; only computed values can "
                     "be results";
    if (!outputOf.try_emplace(root, lowered.getArgument(firstOutput + i))
             .second)
      return ret.emitError("result ") << i << " returns a value twice";
  }
  return success();
}

LogicalResult FunctionLowering::lowerOp(OpBuilder &b, Operation *op) {
  if (isa<func::ReturnOp>(op)) {
    b.create<func::ReturnOp>(op->getLoc());
    return success();
  }
  if (auto view = dyn_cast<ViewLikeOpInterface>(op)) {
    buffers.map(op->getResult(0), buffers.lookup(view.getViewSource()));
    return success();
  }
  auto kernel = dyn_cast<KernelOpInterface>(op);
  if (!kernel)
    return op->emitError("'")
           << op->getName() << "' has no runtime kernel; run the passes that "
                               "rewrite it first";

  SmallVector<Value> inputs, outputs;
  for (Value operand : op->getOperands())
    inputs.push_back(buffers.lookup(operand));
  for (Value result : op->getResults()) {
    if (!isa<RankedTensorType>(result.getType()) ||
        !cast<RankedTensorType>(result.getType()).hasStaticShape())
      return op->emitError("results must be statically shaped tensors");
    Value buffer = outputOf.lookup(result);
    if (!buffer)
      buffer = b.create<memref::AllocOp>(
          op->getLoc(), flatBufferType(result.getType()));
    buffers.map(result, buffer);
    outputs.push_back(buffer);
  }
  b.create<KernelOp>(op->getLoc(), kernel.getKernelName(), inputs, outputs,
                     b.getDenseI64ArrayAttr(kernel.getKernelDims()),
                     b.getArrayAttr(kernel.getKernelScalars()));
  return success();
}

FailureOr<func::FuncOp> FunctionLowering::run() {
  if (!func.getBody().hasOneBlock())
    return func.emitError("expects a function with one block");
  OpBuilder b(func.getContext());
  if (failed(buildSignature(b)) || failed(assignOutputs()))
    return failure();
  for (Operation &op : func.getBody().front())
    if (failed(lowerOp(b, &op)))
      return failure();
  return lowered;
}

struct LowerToKernels : gptc::impl::LowerToKernelsBase<LowerToKernels> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs(getOperation().getOps<func::FuncOp>());
    for (func::FuncOp func : funcs) {
      if (func.isExternal())
        continue;
      FailureOr<func::FuncOp> lowered = FunctionLowering(func).run();
      if (failed(lowered))
        return signalPassFailure();
      func.erase();
    }
  }
};

} // namespace
