//===- Tokenize.h - `gptc tokenize` -----------------------------*- C++ -*-===//

#ifndef GPTC_COMPILER_GPTC_TOKENIZE_H
#define GPTC_COMPILER_GPTC_TOKENIZE_H

#include <optional>

namespace gptc {

/// Runs `gptc tokenize` if the parsed command line selected it; returns the
/// process exit code, or nullopt if it was not selected.
std::optional<int> runTokenizeCommand();

} // namespace gptc

#endif // GPTC_COMPILER_GPTC_TOKENIZE_H
