//===- Nanochat.h - gptc's nanochat checkpoint commands ---------*- C++ -*-===//

#ifndef GPTC_COMPILER_GPTC_NANOCHAT_H
#define GPTC_COMPILER_GPTC_NANOCHAT_H

#include <optional>

namespace gptc {

/// Runs `gptc import-nanochat` or `gptc export-nanochat` if the parsed
/// command line selected one; returns the process exit code, or nullopt if
/// neither was selected.
std::optional<int> runNanochatCommand();

} // namespace gptc

#endif // GPTC_COMPILER_GPTC_NANOCHAT_H
