//===- Status.h - error values for the runtime libraries --------*- C++ -*-===//
//
// The runtime and the compiler are built with -fno-exceptions, so fallible
// functions return a Status (success, or failure with a message) or an
// Expected<T> (a value, or a failed Status). A message is one line that names
// the file, the tensor or field at fault and the problem, e.g.
//   weights.safetensors: no tensor 'lm_head.weight' in file
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_STATUS_H
#define GPTC_BACKENDS_COMMON_STATUS_H

#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace gptc {

/// Success, or failure with a one-line message.
class [[nodiscard]] Status {
public:
  /// Success.
  Status() = default;

  static Status success() { return Status(); }

  /// Failure whose message is `format` formatted with `args` (libfmt syntax).
  template <typename... Args>
  static Status error(fmt::format_string<Args...> format, Args &&...args) {
    Status status;
    status.failed = true;
    status.text = fmt::format(format, std::forward<Args>(args)...);
    return status;
  }

  bool ok() const { return !failed; }

  /// The failure message; empty on success.
  const std::string &message() const { return text; }

private:
  bool failed = false;
  std::string text;
};

/// A value of type T, or a failed Status saying why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : stored(std::move(value)) {}

  /// `error` must be a failure.
  Expected(Status error) : failure(std::move(error)) {
    assert(!failure.ok() && "Expected built from a successful Status");
  }

  bool ok() const { return stored.has_value(); }

  /// The failure; success when ok().
  const Status &status() const { return failure; }

  /// The value; aborts with the failure message when !ok().
  T &operator*() {
    checkOk();
    return *stored;
  }
  const T &operator*() const {
    checkOk();
    return *stored;
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }

private:
  void checkOk() const {
    if (!stored) {
      std::fprintf(stderr, "gptc: used the value of a failed Expected: %s\n",
                   failure.message().c_str());
      std::abort();
    }
  }

  std::optional<T> stored;
  Status failure;
};

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_STATUS_H
