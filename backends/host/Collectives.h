//===- Collectives.h - data-parallel collectives ---------------*- C++ -*-===//
//
// What a data-parallel training run moves between its ranks, on the buffers
// of the device the programs run on (Device.h). The implementation is chosen
// at link time, like Device.h's:
//   CollectivesMpi.cpp               Open MPI on host memory: the CPU and the
//                                    CUDA emulator
//                                    (libgptc_host_collectives_mpi.a);
//   backends/cuda/CollectivesNccl.cu NCCL on the compute stream, its unique id
//                                    broadcast over MPI
//                                    (libgptc_host_collectives_nccl.a).
// Every rank of MPI_COMM_WORLD makes the same calls in the same order; ranges
// are in floats, counts[r] and offsets[r] for each rank r.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_COLLECTIVES_H
#define GPTC_BACKENDS_HOST_COLLECTIVES_H

#include "backends/common/Status.h"

#include <cstdint>
#include <string>

namespace gptc::host {

/// Connects the ranks of MPI_COMM_WORLD (MPI is initialised, the device
/// started); called once by every rank.
Status startCollectives();

/// Ends what startCollectives set up, before MPI_Finalize.
void stopCollectives();

/// "MPI (host memory)" or "NCCL 2.21.5".
std::string collectivesDescription();

/// Every rank r sends send[offsets[d], + counts[d]) to each rank d and
/// receives, from each rank s, its send[offsets[r], + counts[r]) into
/// recv[s * stride, + counts[r]).
void exchangeShards(const float *send, const int64_t *offsets,
                    const int64_t *counts, float *recv, int64_t stride);

/// Afterwards buffer[offsets[r], + counts[r]) on every rank holds what rank
/// r had there.
void allGatherShards(float *buffer, const int64_t *offsets,
                     const int64_t *counts);

/// buffer[0, count) of rank `root` on every rank.
void broadcastFloats(float *buffer, int64_t count, int root);

/// Waits until the collectives issued so far are done (a no-op where they
/// return done), so that their time can be measured.
void finishCollectives();

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_COLLECTIVES_H
