//===- HostCommon.h - pieces every generated program's main shares -*- C++ -*-===//
//
// Command-line parsing, loading a checkpoint into the packed parameter
// buffer, and aligned buffers: the host side of the programs gptc writes.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_HOSTCOMMON_H
#define GPTC_BACKENDS_HOST_HOSTCOMMON_H

#include "backends/common/Program.h"
#include "backends/common/Status.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gptc::host {

/// One command-line flag a program accepts.
struct Flag {
  std::string name;    // without the leading "--"
  std::string help;
  bool takesValue = true;
  std::string defaultValue; // empty: none
};

/// Parsed `--name value` / `--name=value` / `--switch` arguments.
class Args {
public:
  /// Parses argv against `flags`; unknown flags and missing values are
  /// errors. `--help` prints the usage and exits 0.
  static Expected<Args> parse(int argc, char **argv, const std::string &usage,
                              const std::vector<Flag> &flags);

  bool has(const std::string &name) const { return values.count(name) != 0; }
  /// The value of `name` (or its default; empty when it has neither).
  std::string get(const std::string &name) const;
  /// `name` as an integer in [min, max], or an error naming the flag.
  Expected<int64_t> getInt(const std::string &name, int64_t min,
                           int64_t max) const;

private:
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> defaults;
};

/// Memory aligned for vector loads, freed on destruction.
struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;
/// A zeroed buffer of `bytes` bytes aligned to 64.
AlignedBuffer allocateBuffer(int64_t bytes);

/// Loads every parameter of `program` from the safetensors file at `path`
/// into the packed parameter buffer `params` (F32, BF16 or F64 on disk).
Status loadParameters(const ProgramInfo &program, const std::string &path,
                      char *params);

/// Prints "<program>: error: <message>" to stderr and returns 1.
int fail(const char *program, const Status &status);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_HOSTCOMMON_H
