//===- CollectivesNccl.cu - Collectives.h over NCCL on the GPU ------------===//
//
// One NCCL communicator over the ranks of MPI_COMM_WORLD, one GPU per rank:
// rank 0 makes the unique id and MPI broadcasts it. Every collective is
// queued on gptc's compute stream, so it runs in order with the kernels
// around it without a host synchronisation; finishCollectives waits for
// the stream. A failing NCCL call prints one line naming the rank and the
// call, and aborts the MPI job.
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"
#include "backends/cuda/Launch.h"
#include "backends/host/Collectives.h"

#include <cstdio>
#include <vector>

#include <mpi.h>
#include <nccl.h>

using namespace gptc;
using namespace gptc::host;

namespace {

ncclComm_t communicator = nullptr;
int rankOfThis = 0, numRanks = 1;

void checkNccl(ncclResult_t result, const char *what) {
  if (result == ncclSuccess)
    return;
  std::fprintf(stderr, "rank %d: error: NCCL %s failed: %s\n", rankOfThis, what,
               ncclGetErrorString(result));
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

} // namespace

Status gptc::host::startCollectives() {
  MPI_Comm_rank(MPI_COMM_WORLD, &rankOfThis);
  MPI_Comm_size(MPI_COMM_WORLD, &numRanks);
  ncclUniqueId id;
  if (rankOfThis == 0)
    checkNccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
  ncclResult_t result =
      ncclCommInitRank(&communicator, numRanks, id, rankOfThis);
  if (result != ncclSuccess)
    return Status::error("NCCL could not connect the {} ranks: {} (NCCL_DEBUG="
                         "INFO tells more)",
                         numRanks, ncclGetErrorString(result));
  return Status::success();
}

void gptc::host::stopCollectives() {
  if (communicator)
    ncclCommDestroy(communicator);
  communicator = nullptr;
}

std::string gptc::host::collectivesDescription() {
  int version = 0;
  ncclGetVersion(&version);
  // NCCL_VERSION(X, Y, Z) = X * 10000 + Y * 100 + Z since 2.9.
  return "NCCL " + std::to_string(version / 10000) + "." +
         std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100) + " (GPU memory, the compute stream)";
}

void gptc::host::exchangeShards(const float *send, const int64_t *offsets,
                                const int64_t *counts, float *recv,
                                int64_t stride) {
  checkNccl(ncclGroupStart(), "ncclGroupStart");
  for (int peer = 0; peer < numRanks; ++peer) {
    checkNccl(ncclSend(send + offsets[peer], size_t(counts[peer]), ncclFloat,
                       peer, communicator, cuda::stream()),
              "ncclSend");
    checkNccl(ncclRecv(recv + int64_t(peer) * stride,
                       size_t(counts[rankOfThis]), ncclFloat, peer,
                       communicator, cuda::stream()),
              "ncclRecv");
  }
  checkNccl(ncclGroupEnd(), "ncclGroupEnd (exchanging gradient shards)");
}

void gptc::host::allGatherShards(float *buffer, const int64_t *offsets,
                                 const int64_t *counts) {
  // Shards differ in size, which ncclAllGather does not allow: one
  // broadcast per owner, fused into one group.
  checkNccl(ncclGroupStart(), "ncclGroupStart");
  for (int owner = 0; owner < numRanks; ++owner)
    checkNccl(ncclBroadcast(buffer + offsets[owner], buffer + offsets[owner],
                            size_t(counts[owner]), ncclFloat, owner,
                            communicator, cuda::stream()),
              "ncclBroadcast");
  checkNccl(ncclGroupEnd(), "ncclGroupEnd (gathering the parameters)");
}

void gptc::host::broadcastFloats(float *buffer, int64_t count, int root) {
  checkNccl(ncclBroadcast(buffer, buffer, size_t(count), ncclFloat, root,
                          communicator, cuda::stream()),
            "ncclBroadcast");
}

void gptc::host::finishCollectives() { cuda::synchronize(); }
