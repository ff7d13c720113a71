//===- TrainEntry.cpp - main() of a compiled training program -------------===//
//
// Apart from the rest of the training host so that tests can link the
// training loop with a fake program and their own main().
//
//===----------------------------------------------------------------------===//

#include "backends/host/TrainMain.h"

int main(int argc, char **argv) { return gptc::host::trainMain(argc, argv); }
