//===- StopSignals.h - stopping a training run at a step boundary -*- C++ -*-===//
//
// SIGINT, SIGTERM and SIGHUP ask a training run to stop: the run finishes
// the step it is in, saves a checkpoint and exits with 128 + the signal's
// number (130, 143, 129), as a shell reports a process killed by it. A
// second of these signals ends the process at once, as if no handler were
// installed.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_STOPSIGNALS_H
#define GPTC_BACKENDS_HOST_STOPSIGNALS_H

namespace gptc::host {

/// Installs the handlers, forgetting an earlier request; called before the
/// first step.
void installStopHandlers();

/// The signal that asked the run to stop, or 0.
int requestedStopSignal();

/// "SIGINT", "SIGTERM" or "SIGHUP".
const char *stopSignalName(int signal);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_STOPSIGNALS_H
