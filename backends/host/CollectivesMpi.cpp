//===- CollectivesMpi.cpp - Collectives.h over Open MPI on host memory ----===//
//
// For the targets whose device memory is host memory: the CPU and the CUDA
// emulator. MPI's collectives return when they are done.
//
//===----------------------------------------------------------------------===//

#include "backends/host/Collectives.h"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <mpi.h>

using namespace gptc;
using namespace gptc::host;

namespace {

int worldSize() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

int worldRank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

/// `value` as an MPI count; a shard of 2^31 floats or more stops the job.
int mpiCount(int64_t value) {
  if (value > INT_MAX) {
    std::fprintf(stderr,
                 "rank %d: error: a shard of %lld floats exceeds MPI's count "
                 "limit; run on more ranks\n",
                 worldRank(), (long long)value);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return int(value);
}

} // namespace

Status gptc::host::startCollectives() { return Status::success(); }

void gptc::host::stopCollectives() {}

std::string gptc::host::collectivesDescription() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, size_t(length));
  // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4".
  if (size_t comma = text.find(','); comma != std::string::npos)
    text.resize(comma);
  return text + " (host memory)";
}

void gptc::host::exchangeShards(const float *send, const int64_t *offsets,
                                const int64_t *counts, float *recv,
                                int64_t stride) {
  const int size = worldSize(), rank = worldRank();
  std::vector<int> sendCounts(size), sendOffsets(size); // [ranks]
  std::vector<int> recvCounts(size), recvOffsets(size); // [ranks]
  for (int r = 0; r < size; ++r) {
    sendCounts[r] = mpiCount(counts[r]);
    sendOffsets[r] = mpiCount(offsets[r]);
    recvCounts[r] = mpiCount(counts[rank]);
    recvOffsets[r] = mpiCount(int64_t(r) * stride);
  }
  MPI_Alltoallv(send, sendCounts.data(), sendOffsets.data(), MPI_FLOAT, recv,
                recvCounts.data(), recvOffsets.data(), MPI_FLOAT,
                MPI_COMM_WORLD);
}

void gptc::host::allGatherShards(float *buffer, const int64_t *offsets,
                                 const int64_t *counts) {
  const int size = worldSize();
  std::vector<int> mpiCounts(size), mpiOffsets(size); // [ranks]
  for (int r = 0; r < size; ++r) {
    mpiCounts[r] = mpiCount(counts[r]);
    mpiOffsets[r] = mpiCount(offsets[r]);
  }
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buffer, mpiCounts.data(),
                 mpiOffsets.data(), MPI_FLOAT, MPI_COMM_WORLD);
}

void gptc::host::broadcastFloats(float *buffer, int64_t count, int root) {
  MPI_Bcast(buffer, mpiCount(count), MPI_FLOAT, root, MPI_COMM_WORLD);
}

void gptc::host::finishCollectives() {}
