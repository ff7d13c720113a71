//===- KernelTableTest.cpp - the kernel table and named arguments ---------===//

#include "ir/KernelTable.h"
#include "ir/GptcDialect.h"
#include "ir/GptcOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace mlir;

namespace gptc {
namespace {

TEST(KernelTable, FollowsTheCallingConvention) {
  // Every kernel: inputs, then at least one output, then sizes, then
  // scalars; parameter names unique within a kernel; kernel names unique.
  std::set<std::string> kernelNames;
  ASSERT_FALSE(getKernelTable().empty());
  for (const KernelSignature &kernel : getKernelTable()) {
    EXPECT_TRUE(kernelNames.insert(kernel.name.str()).second)
        << kernel.name.str();
    std::set<std::string> paramNames;
    int previous = KernelParam::Input;
    for (const KernelParam &param : kernel.params) {
      int order =
          param.kind == KernelParam::I32 ? KernelParam::F32 : param.kind;
      EXPECT_GE(order, previous)
          << kernel.name.str() << ": " << param.name.str();
      previous = order;
      EXPECT_TRUE(paramNames.insert(param.name.str()).second)
          << kernel.name.str() << ": " << param.name.str();
      bool isBuffer =
          param.kind == KernelParam::Input || param.kind == KernelParam::Output;
      EXPECT_EQ(isBuffer, !param.elementType.empty()) << kernel.name.str();
    }
    EXPECT_FALSE(kernel.paramsOf(KernelParam::Output).empty())
        << kernel.name.str();
  }
}

TEST(KernelTable, LooksKernelsUp) {
  const KernelSignature *rmsNorm = lookupKernel("rmsNorm");
  ASSERT_NE(rmsNorm, nullptr);
  ASSERT_EQ(rmsNorm->params.size(), 5u);
  EXPECT_EQ(rmsNorm->params[0].name, "x");
  EXPECT_EQ(rmsNorm->params[0].elementType, "float");
  EXPECT_EQ(rmsNorm->params[2].name, "rows");
  EXPECT_EQ(rmsNorm->params[3].name, "cols");
  EXPECT_EQ(rmsNorm->params[4].kind, KernelParam::F32);
  EXPECT_EQ(lookupKernel("kvAppendBf16")->params[2].elementType, "uint16_t");
  EXPECT_EQ(lookupKernel("rmsnorm"), nullptr);
}

/// An op to attach diagnostics to, and the messages they carry.
class OrderKernelArgsTest : public ::testing::Test {
protected:
  OrderKernelArgsTest()
      : handler(&context, [this](Diagnostic &diagnostic) {
          messages.push_back(diagnostic.str());
          return success();
        }) {
    context.loadDialect<GptcDialect>();
    module = ModuleOp::create(UnknownLoc::get(&context));
  }
  ~OrderKernelArgsTest() override { module->erase(); }

  MLIRContext context;
  ScopedDiagnosticHandler handler;
  ModuleOp module;
  std::vector<std::string> messages;
};

TEST_F(OrderKernelArgsTest, OrdersSizesAndScalarsAsTheKernelTakesThem) {
  Builder b(&context);
  // cachedAttention takes L, R, Cap, Hkv, D, T, H, then layer, scale.
  FailureOr<OrderedKernelArgs> args = orderKernelArgs(
      module, "cachedAttention",
      {{"H", 7},
       {"T", 6},
       {"D", 5},
       {"Hkv", 4},
       {"Cap", 3},
       {"R", 2},
       {"L", 1}},
      {{"scale", b.getF32FloatAttr(0.5f)}, {"layer", b.getI32IntegerAttr(3)}});
  ASSERT_TRUE(succeeded(args));
  EXPECT_EQ(args->dims, (SmallVector<int64_t>{1, 2, 3, 4, 5, 6, 7}));
  ASSERT_EQ(args->scalars.size(), 2u);
  EXPECT_EQ(args->scalars[0], b.getI32IntegerAttr(3));
  EXPECT_EQ(args->scalars[1], b.getF32FloatAttr(0.5f));
  EXPECT_TRUE(messages.empty());
}

TEST_F(OrderKernelArgsTest, RefusesSizesThatAreNotTheKernels) {
  Builder b(&context);
  EXPECT_TRUE(
      failed(orderKernelArgs(module, "rmsNorm", {{"rows", 2}, {"columns", 3}},
                             {{"eps", b.getF32FloatAttr(1e-6f)}})));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "'builtin.module' op gives kernel 'rmsNorm' the "
                         "sizes (rows, columns), but it takes (rows, cols)");
  // A repeated name is as wrong as a missing one.
  EXPECT_TRUE(
      failed(orderKernelArgs(module, "rmsNorm", {{"rows", 2}, {"rows", 3}},
                             {{"eps", b.getF32FloatAttr(1e-6f)}})));
  EXPECT_TRUE(failed(orderKernelArgs(module, "rmsNorm", {{"rows", 2}},
                                     {{"eps", b.getF32FloatAttr(1e-6f)}})));
}

TEST_F(OrderKernelArgsTest, RefusesScalarsThatAreNotTheKernels) {
  Builder b(&context);
  EXPECT_TRUE(failed(orderKernelArgs(module, "scale", {{"n", 4}},
                                     {{"scale", b.getF32FloatAttr(2.0f)}})));
  EXPECT_TRUE(failed(orderKernelArgs(module, "scale", {{"n", 4}}, {})));
  EXPECT_TRUE(failed(orderKernelArgs(module, "scale", {{"n", 4}},
                                     {{"factor", b.getI32IntegerAttr(2)}})));
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0], "'builtin.module' op gives kernel 'scale' the "
                         "scalars (scale), but it takes (factor)");
  EXPECT_EQ(messages[2], "'builtin.module' op gives kernel 'scale' the "
                         "scalar 'factor' as 2 : i32, but it takes an f32");
}

TEST_F(OrderKernelArgsTest, RefusesUnknownKernels) {
  EXPECT_TRUE(failed(orderKernelArgs(module, "softmx", {}, {})));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0], "'builtin.module' op names kernel 'softmx', which is "
                         "not in backends/Kernels.def");
}

} // namespace
} // namespace gptc
