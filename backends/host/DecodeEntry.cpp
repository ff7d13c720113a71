//===- DecodeEntry.cpp - main() of a compiled decode program --------------===//
//
// Apart from the rest of the decode host so that tests can link the decode
// loop with a fake program and their own main().
//
//===----------------------------------------------------------------------===//

#include "backends/host/DecodeMain.h"

int main(int argc, char **argv) { return gptc::host::decodeMain(argc, argv); }
