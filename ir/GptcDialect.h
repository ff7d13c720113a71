//===- GptcDialect.h - the gptc dialect -------------------------*- C++ -*-===//

#ifndef GPTC_IR_GPTCDIALECT_H
#define GPTC_IR_GPTCDIALECT_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Dialect.h"

#include "ir/GptcDialect.h.inc"

#endif // GPTC_IR_GPTCDIALECT_H
