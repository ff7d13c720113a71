//===- DecodeMain.h - the decode program's main -----------------*- C++ -*-===//
//
// The host side of the decode executable gptc writes (--mode=decode): reads
// the flags (DecodeArgs.h), loads the weights into a Decoder (Decoder.h) and
// runs a DecodeSession (DecodeSession.h) on stdin. See docs/DECODING.md.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DECODEMAIN_H
#define GPTC_BACKENDS_HOST_DECODEMAIN_H

#include "backends/common/Status.h"

#include <cstdio>

namespace gptc::host {

/// Generates as the command line asks, reading --interactive lines from
/// `input`; a failure's message is one line.
Status runDecode(int argc, char **argv, std::FILE *input);

/// main() of the decode program: initDevice, then runDecode on stdin,
/// printing a failure of either as "<program>: error: <message>" and
/// returning 1.
int decodeMain(int argc, char **argv);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DECODEMAIN_H
