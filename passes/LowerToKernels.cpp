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

#include "passes/KernelABI.h"
#include "passes/Passes.h"

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

/// Follows reshapes and in-place updates back to the value that owns the
/// buffer.
static Value bufferRoot(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto view = dyn_cast<ViewLikeOpInterface>(def))
      v = view.getViewSource();
    else if (auto inPlace = dyn_cast<InPlaceOpInterface>(def))
      v = def->getOperand(inPlace.getTiedOperandIndex());
    else
      break;
  }
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

/// Creates the `gptc.kernel` call of `kernel` on the given buffers, its sizes
/// and scalars in the order of the kernel's parameters.
static LogicalResult createKernel(OpBuilder &b, KernelOpInterface kernel,
                                  ValueRange inputs, ValueRange outputs) {
  Operation *op = kernel.getOperation();
  FailureOr<OrderedKernelArgs> args =
      orderKernelArgs(op, kernel.getKernelName(), kernel.getKernelDims(),
                      kernel.getKernelScalars());
  if (failed(args))
    return failure();
  b.create<KernelOp>(op->getLoc(), kernel.getKernelName(), inputs, outputs,
                     b.getDenseI64ArrayAttr(args->dims),
                     b.getArrayAttr(args->scalars));
  return success();
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
  IRMapping buffers;                // tensor value → flat buffer
  DenseMap<Value, Value> outputOf;  // returned root value → output argument
  SmallVector<Value> resultBuffers; // per result: its output buffer (null:
                                    // an argument updated in place)
  SmallVector<Attribute> paramTable;
  int64_t paramBytes = 0;
};

LogicalResult FunctionLowering::buildSignature(OpBuilder &b) {
  MLIRContext *ctx = func.getContext();
  FunctionType type = func.getFunctionType();
  // Pack the parameters first: their offsets size the parameter buffer.
  SmallVector<std::pair<BlockArgument, int64_t>> paramOffsets;
  llvm::StringMap<std::pair<int64_t, Type>> paramByName;
  for (BlockArgument arg : func.getArguments()) {
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), kParamAttrName);
    if (!name)
      continue;
    auto tensor = dyn_cast<RankedTensorType>(arg.getType());
    if (!tensor || !tensor.hasStaticShape())
      return func.emitError("parameter '")
             << name.getValue() << "' must be a statically shaped tensor";
    paramOffsets.push_back({arg, paramBytes});
    paramByName[name.getValue()] = {paramBytes, tensor};
    paramTable.push_back(DictionaryAttr::get(
        ctx,
        {b.getNamedAttr("name", name),
         b.getNamedAttr("shape", b.getDenseI64ArrayAttr(tensor.getShape())),
         b.getNamedAttr("offset", b.getI64IntegerAttr(paramBytes))}));
    paramBytes +=
        alignTo(tensor.getNumElements() * tensor.getElementTypeBitWidth() / 8,
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
  // Results: an output argument each, except gradients, which go into one
  // buffer laid out like the parameters.
  SmallVector<std::optional<unsigned>> resultArg;
  SmallVector<int64_t> gradOffsets(type.getNumResults(), -1);
  for (auto [i, resultType] : llvm::enumerate(type.getResults())) {
    if (!isa<RankedTensorType>(resultType))
      return func.emitError("result ") << i << " must be a ranked tensor";
    if (auto of = func.getResultAttrOfType<StringAttr>(i, kGradOfAttrName)) {
      auto param = paramByName.find(of.getValue());
      if (param == paramByName.end() || param->second.second != resultType)
        return func.emitError("result ")
               << i << " is the gradient of '" << of.getValue()
               << "', which is not a parameter of type " << resultType;
      gradOffsets[i] = param->second.first;
      resultArg.push_back(std::nullopt);
      continue;
    }
    // An argument updated in place (the KV cache) is its own output.
    Value returned = func.getBody().front().getTerminator()->getOperand(i);
    if (returned != bufferRoot(returned) &&
        isa<BlockArgument>(bufferRoot(returned))) {
      resultArg.push_back(std::nullopt);
      continue;
    }
    resultArg.push_back(argTypes.size());
    argTypes.push_back(flatBufferType(resultType));
    argAttrs.push_back(bufferAttrs(b, func.getResultAttrDict(i), resultType,
                                   /*isOutput=*/true));
  }
  bool hasGrads = llvm::any_of(gradOffsets, [](int64_t o) { return o >= 0; });
  if (hasGrads) {
    argTypes.push_back(MemRefType::get({paramBytes}, b.getI8Type()));
    argAttrs.push_back(b.getDictionaryAttr(
        b.getNamedAttr(kBufferRoleAttrName, b.getStringAttr("grads"))));
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
  // A view of `buffer` at `offset` holding a tensor of `type`, named `name`.
  auto viewAt = [&](Value buffer, int64_t offset, Type type, StringRef name) {
    Location loc = NameLoc::get(b.getStringAttr(name));
    Value byteShift = b.create<arith::ConstantIndexOp>(loc, offset);
    return b
        .create<memref::ViewOp>(loc, flatBufferType(type), buffer, byteShift,
                                ValueRange{})
        .getResult();
  };
  for (auto [arg, offset] : paramOffsets)
    buffers.map(arg, viewAt(entry->getArgument(0), offset, arg.getType(),
                            func.getArgAttrOfType<StringAttr>(
                                    arg.getArgNumber(), kParamAttrName)
                                .getValue()));
  unsigned next = 1;
  for (BlockArgument arg : func.getArguments())
    if (!func.getArgAttr(arg.getArgNumber(), kParamAttrName))
      buffers.map(arg, entry->getArgument(next++));
  // Arguments returned after in-place updates are the function's state.
  for (Value returned : func.getBody().front().getTerminator()->getOperands())
    if (auto root = dyn_cast<BlockArgument>(bufferRoot(returned));
        root && root != returned)
      lowered.setArgAttr(
          cast<BlockArgument>(buffers.lookup(root)).getArgNumber(),
          kInOutAttrName, b.getUnitAttr());
  for (auto [i, resultType] : llvm::enumerate(type.getResults())) {
    if (resultArg[i]) {
      resultBuffers.push_back(entry->getArgument(*resultArg[i]));
      continue;
    }
    if (gradOffsets[i] < 0) { // updated in place: the argument's buffer
      resultBuffers.push_back(Value());
      continue;
    }
    StringRef of =
        func.getResultAttrOfType<StringAttr>(i, kGradOfAttrName).getValue();
    resultBuffers.push_back(viewAt(entry->getArguments().back(), gradOffsets[i],
                                   resultType, ("grad." + of).str()));
  }
  return success();
}

/// Decides which kernel writes each output buffer: the one producing the
/// returned value (through reshapes). Returning an argument, or one value
/// twice, would need a copy kernel the runtime does not have.
LogicalResult FunctionLowering::assignOutputs() {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    Value root = bufferRoot(value);
    if (!resultBuffers[i])
      continue; // an argument updated in place
    if (isa<BlockArgument>(root))
      return ret.emitError("result ")
             << i
             << " returns a function argument; only computed values can "
                "be results";
    if (!outputOf.try_emplace(root, resultBuffers[i]).second)
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
    return op->emitError("'") << op->getName()
                              << "' has no runtime kernel; run the passes that "
                                 "rewrite it first";

  // An in-place op writes its tied operand's buffer, which nothing may read
  // afterwards: the old value is gone.
  if (auto inPlace = dyn_cast<InPlaceOpInterface>(op)) {
    unsigned tied = inPlace.getTiedOperandIndex();
    Value old = op->getOperand(tied);
    for (Operation *user : old.getUsers())
      if (user != op && op->isBeforeInBlock(user))
        return op->emitError("updates a value in place that is still read "
                             "afterwards");
    Value buffer = buffers.lookup(old);
    buffers.map(op->getResult(0), buffer);
    SmallVector<Value> inputs;
    for (auto [i, operand] : llvm::enumerate(op->getOperands()))
      if (i != tied)
        inputs.push_back(buffers.lookup(operand));
    return createKernel(b, kernel, inputs, ValueRange{buffer});
  }

  SmallVector<Value> inputs, outputs;
  for (Value operand : op->getOperands())
    inputs.push_back(buffers.lookup(operand));
  for (Value result : op->getResults()) {
    if (!isa<RankedTensorType>(result.getType()) ||
        !cast<RankedTensorType>(result.getType()).hasStaticShape())
      return op->emitError("results must be statically shaped tensors");
    Value buffer = outputOf.lookup(result);
    if (!buffer)
      buffer = b.create<memref::AllocOp>(op->getLoc(),
                                         flatBufferType(result.getType()));
    buffers.map(result, buffer);
    outputs.push_back(buffer);
  }
  return createKernel(b, kernel, inputs, outputs);
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
