//===- GptcDialect.cpp - the gptc dialect ---------------------------------===//

#include "ir/GptcDialect.h"
#include "ir/GptcOps.h"

using namespace mlir;
using namespace gptc;

#include "ir/GptcDialect.cpp.inc"

void GptcDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "ir/GptcOps.cpp.inc"
      >();
}
