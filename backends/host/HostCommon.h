//===- HostCommon.h - pieces every generated program's main shares -*- C++
//-*-===//
//
// Command-line parsing, loading a checkpoint into the packed parameter
// buffer, and aligned host buffers: the host side of the programs gptc
// writes.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_HOSTCOMMON_H
#define GPTC_BACKENDS_HOST_HOSTCOMMON_H

#include "backends/common/Program.h"
#include "backends/common/Status.h"
#include "backends/host/Device.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gptc::host {

/// The most OpenMP threads --threads may ask for: more than any machine
/// gptc runs on has cores, fewer than the runtime can start.
constexpr int64_t kMaxThreads = 1024;
/// The most steps, tokens or micro-batches a counting flag may ask for: far
/// beyond any run, well inside int64_t arithmetic.
constexpr int64_t kMaxCount = int64_t(1) << 40;

/// One command-line flag a program accepts.
struct Flag {
  std::string name; // without the leading "--"
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
  /// An error naming the first of `names` that was not given.
  Status require(std::initializer_list<const char *> names) const;

  /// An integer flag to read into `value`, in [min, max].
  struct IntFlag {
    const char *name;
    int64_t *value;
    int64_t min;
    int64_t max;
  };
  /// Reads every flag that is given or has a default; the others keep their
  /// values. An error names a flag that is empty, malformed (trailing
  /// characters, too many digits) or out of its range.
  Status readInts(std::initializer_list<IntFlag> flags) const;
  /// The value of `name` (or its default; empty when it has neither).
  std::string get(const std::string &name) const;
  /// `name` as an integer in [min, max], or an error naming the flag (also
  /// when it is given empty).
  Expected<int64_t> getInt(const std::string &name, int64_t min,
                           int64_t max) const;
  /// `name` as a finite number, or an error naming the flag.
  Expected<double> getReal(const std::string &name) const;

private:
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> defaults;
};

/// Host memory aligned for vector loads, freed on destruction.
struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;
/// A zeroed buffer of `bytes` bytes aligned to 64.
AlignedBuffer allocateBuffer(int64_t bytes);

/// Wall-clock seconds since construction or the last restart.
class Stopwatch {
public:
  Stopwatch() : start(std::chrono::steady_clock::now()) {}

  void restart() { start = std::chrono::steady_clock::now(); }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

private:
  std::chrono::steady_clock::time_point start;
};

/// Loads every parameter of `program` from the safetensors file at `path`
/// into the packed parameter buffer `params` (F32, BF16 or F64 on disk), in
/// host memory.
Status loadParameters(const ProgramInfo &program, const std::string &path,
                      char *params);

/// loadParameters into a new packed parameter buffer in device memory.
Expected<DeviceBuffer> loadParametersToDevice(const ProgramInfo &program,
                                              const std::string &path);

/// The integer `key` of the program's model config (e.g. "vocab_size").
Expected<int64_t> configInt(const ProgramInfo &program, const std::string &key);

/// The shape of a buffer as a vector.
std::vector<int64_t> shapeOf(const BufferInfo &info);

/// Reads the batch a program was compiled for from the safetensors file at
/// `path`: integer tensors "tokens" in [0, V) and "targets" in [-1, V)
/// (−1 = ignored), both of the shape of the program's first input [B, T].
Status loadBatch(const ProgramInfo &program, const std::string &path,
                 std::vector<int32_t> &tokens, std::vector<int32_t> &targets);

/// The byte-level tokenization of `bytes` (each byte one token), every byte
/// of which must be below `vocab`; errors name `source` and the offset.
Expected<std::vector<int32_t>>
byteTokens(const std::string &bytes, const std::string &source, int64_t vocab);

/// Prints "<program>: error: <message>" to stderr and returns 1.
int fail(const char *program, const Status &status);

/// What a host main that runs the program once does first: parses the
/// arguments (`--help` prints the usage and exits, needing no device),
/// checks that the `required` flags are given, then starts the device.
Expected<Args>
parseArgsAndStartDevice(int argc, char **argv, const std::string &usage,
                        const std::vector<Flag> &flags,
                        std::initializer_list<const char *> required);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_HOSTCOMMON_H
