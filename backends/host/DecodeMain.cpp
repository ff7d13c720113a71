//===- DecodeMain.cpp - the decode program's main -------------------------===//
//
// Every input is checked before the first call: the program's buffers, the
// flags and the prompt, then the weights.
//
//===----------------------------------------------------------------------===//

#include "backends/host/DecodeMain.h"

#include "backends/host/DecodeArgs.h"
#include "backends/host/DecodeSession.h"
#include "backends/host/Decoder.h"
#include "backends/host/GeneratedPrograms.h"
#include "backends/host/HostCommon.h"

#include <cerrno>
#include <cstring>
#include <system_error>

#include <omp.h>

using namespace gptc;
using namespace gptc::host;

Status gptc::host::runDecode(int argc, char **argv, std::FILE *input) {
  Expected<DecodeShape> shape = readDecodeShape();
  if (!shape.ok())
    return shape.status();
  Expected<Args> args = Args::parse(argc, argv, decodeUsage(argv[0], *shape),
                                    decodeFlags(*shape));
  if (!args.ok())
    return args.status();
  // After the arguments: --help needs no device.
  if (Status status = initDevice(); !status.ok())
    return status;
  Expected<DecodeOptions> options = readDecodeOptions(*args, *shape);
  if (!options.ok())
    return options.status();
  if (options->threads > 0)
    omp_set_num_threads(int(options->threads));

  Expected<DeviceBuffer> params =
      loadParametersToDevice(prefill_program, options->weights);
  if (!params.ok())
    return params.status();
  DecodeSession session(*options,
                        Decoder(*shape, options->rows, std::move(*params)));
  return session.run(input);
}

int gptc::host::decodeMain(int argc, char **argv) {
  Status status;
  try {
    status = runDecode(argc, argv, stdin);
  } catch (const std::system_error &error) {
    // fmt reports a failed write to stdout (a full disk, a closed pipe).
    status = Status::error("cannot write the generated text: {}", error.what());
  }
  if (status.ok() && (std::fflush(stdout) != 0 || std::ferror(stdout)))
    status = Status::error("cannot write the generated text: {}",
                           std::strerror(errno));
  return status.ok() ? 0 : fail(argv[0], status);
}
