//===- FileUtil.h - whole-file reads and atomic writes ----------*- C++ -*-===//
//
// Reading a file whole, and replacing a file atomically: readers see either
// the old contents or the complete new contents, never a partial write, even
// if the process or the machine dies halfway.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_FILEUTIL_H
#define GPTC_BACKENDS_COMMON_FILEUTIL_H

#include "backends/common/Status.h"

#include <string>
#include <string_view>
#include <vector>

namespace gptc {

/// Reads the whole file at `path` into memory. Only regular files are read
/// (a FIFO, a device or a directory is an error, without blocking on it), and
/// only files that fit in this machine's memory. Errors name the path and the
/// reason, e.g. "runs/x.bin: cannot open: No such file or directory".
Expected<std::string> readFile(const std::string &path);

/// An error unless `path` names a regular file (symbolic links followed)
/// of at most `maxBytes` bytes; `what` says what the file is for.
Status checkInputFile(const std::string &path, int64_t maxBytes,
                      const char *what);

/// The bytes of physical memory of this machine.
int64_t physicalMemoryBytes();

/// Writes the concatenation of `chunks` to `path` atomically: the bytes go to
/// a temporary file next to `path` (same directory, hence same file system),
/// which is fsync'ed and then renamed over `path`; the directory is fsync'ed
/// last so the rename itself is durable. On failure the temporary file is
/// removed and a file already at `path` is left untouched. Only a regular
/// file is replaced: a device, a FIFO, a socket or a symbolic link at `path`
/// is an error.
Status writeFileAtomically(const std::string &path,
                           const std::vector<std::string_view> &chunks);

/// An error when `output` exists and is not a regular file (symbolic links
/// not followed), or is the same file as `input`; `flag` names the option
/// that gave `output`.
Status checkOutputFile(const std::string &output, const std::string &input,
                       const char *flag);

/// Removes the temporary files that writeFileAtomically left in `dir` when
/// its process was killed (those of processes no longer running); returns
/// their names.
std::vector<std::string> removeStaleTemporaries(const std::string &dir);

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_FILEUTIL_H
