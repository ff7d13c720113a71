//===- TokenFile.h - the pre-tokenized training data format -----*- C++ -*-===//
//
// A GPTCTOK1 file, all little-endian:
//   offset 0   8 bytes      the magic "GPTCTOK1"
//   offset 8   u32          bytes per token: 2 (u16 tokens) or 4 (u32)
//   offset 12  N x width    the tokens
// `gptc tokenize --input ... -o` writes it; the training program reads it.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_TOKENFILE_H
#define GPTC_BACKENDS_COMMON_TOKENFILE_H

#include <cstddef>

namespace gptc {

/// The 8 bytes that open a pre-tokenized file.
constexpr char kTokenFileMagic[] = "GPTCTOK1";
/// The magic and the u32 width.
constexpr size_t kTokenFileHeaderBytes = 12;

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_TOKENFILE_H
