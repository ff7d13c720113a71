//===- StopSignals.cpp - stopping a training run at a step boundary -------===//

#include "backends/host/StopSignals.h"

#include <csignal>

using namespace gptc::host;

namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

volatile std::sig_atomic_t requested = 0;

/// Records the first signal and restores the default actions, so that the
/// next one ends the process. sigaction is async-signal-safe.
extern "C" void onStopSignal(int signal) {
  requested = signal;
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int stop : kStopSignals)
    sigaction(stop, &action, nullptr);
}

} // namespace

void gptc::host::installStopHandlers() {
  requested = 0;
  struct sigaction action = {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  // Blocking the others while the handler runs keeps a burst of signals
  // from interrupting it; they arrive after it has reset the actions.
  for (int stop : kStopSignals)
    sigaddset(&action.sa_mask, stop);
  action.sa_flags = SA_RESTART; // file writes and MPI calls go on
  for (int stop : kStopSignals)
    sigaction(stop, &action, nullptr);
}

int gptc::host::requestedStopSignal() { return requested; }

const char *gptc::host::stopSignalName(int signal) {
  switch (signal) {
  case SIGINT:
    return "SIGINT";
  case SIGTERM:
    return "SIGTERM";
  case SIGHUP:
    return "SIGHUP";
  default:
    return "a signal";
  }
}
