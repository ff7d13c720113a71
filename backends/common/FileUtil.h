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

/// Reads the whole file at `path` into memory. Errors name the path and the
/// system's reason, e.g. "runs/x.bin: cannot open: No such file or directory".
Expected<std::string> readFile(const std::string &path);

/// Writes the concatenation of `chunks` to `path` atomically: the bytes go to
/// a temporary file next to `path` (same directory, hence same file system),
/// which is fsync'ed and then renamed over `path`; the directory is fsync'ed
/// last so the rename itself is durable. On failure the temporary file is
/// removed and a file already at `path` is left untouched.
Status writeFileAtomically(const std::string &path,
                           const std::vector<std::string_view> &chunks);

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_FILEUTIL_H
