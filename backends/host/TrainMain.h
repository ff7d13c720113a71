//===- TrainMain.h - the training program's command line --------*- C++ -*-===//
//
// The host side of the training executable gptc writes: it parses the
// command line, loads data, initialises or resumes, and runs the generated
// train_step (gradients of one micro-batch) and forward (evaluation) in a
// loop with gradient accumulation, clipping, AdamW/Muon and checkpoints,
// on the memory of the device the programs are compiled for (Device.h).
// See docs/TRAINING.md.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_TRAINMAIN_H
#define GPTC_BACKENDS_HOST_TRAINMAIN_H

#include "backends/common/Status.h"

namespace gptc::host {

/// Trains the compiled model as the command line asks and returns the exit
/// status: 0, or 128 + the signal that stopped the run after a checkpoint.
/// A failure's message is one line.
Expected<int> runTraining(int argc, char **argv);

/// main() of the training program: initDevice, then runTraining, printing
/// a failure of either as "<program>: error: <message>" and returning 1.
int trainMain(int argc, char **argv);

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_TRAINMAIN_H
