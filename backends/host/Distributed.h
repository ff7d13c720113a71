//===- Distributed.h - data-parallel training across processes --*- C++ -*-===//
//
// A training program started by Open MPI's mpirun runs data-parallel: every
// rank holds all parameters, computes its share of every optimizer step's
// micro-batches, and owns the optimizer state of a contiguous run of whole
// parameters (Sharding.h; ZeRO-1). One step on W ranks:
//   1. global micro-batch m (m = 0 .. --batch / B - 1) runs on rank m % W;
//      every rank draws every batch from the same RNG and keeps its own, so
//      the data are those of one process, split disjointly;
//   2. after each local micro-batch, the ranks exchange its gradient by
//      shard (Collectives.h) and each owner adds the W pieces to its sum in
//      global micro-batch order: the same float additions, in the same order,
//      as one process accumulating micro-batch after micro-batch;
//   3. each owner averages and clips its shard (the norm's per-parameter
//      sums of squares, in double, are combined exactly and added in
//      parameter order) and updates its parameters;
//   4. the owners' parameters are gathered on every rank.
// So W ranks with T threads each compute bitwise what one process with T
// threads computes for the same --batch. A process started without mpirun
// is rank 0 of 1 and never calls MPI.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_DISTRIBUTED_H
#define GPTC_BACKENDS_HOST_DISTRIBUTED_H

#include "backends/common/Program.h"
#include "backends/common/Status.h"
#include "backends/host/Device.h"
#include "backends/host/Optimizer.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gptc::host {

//===----------------------------------------------------------------------===//
// The processes of a run
//===----------------------------------------------------------------------===//

/// Joins the MPI job when mpirun started this process (Open MPI's
/// OMPI_COMM_WORLD_SIZE is set); otherwise the process is rank 0 of 1. The
/// standard output of every rank but 0 is discarded: rank 0 alone reports.
Status startWorld(int *argc, char ***argv);

/// This process's rank, the number of ranks, and the rank among those on
/// this machine (which GPU a rank uses).
int worldRank();
int worldSize();
int localRank();

/// Leaves the MPI job after a run that succeeded on every rank.
void endWorld();

/// Ends the whole MPI job with exit status `code` after a failure on this
/// rank (its message printed); returns when this process is alone.
void abortWorld(int code);

/// An error unless every rank passes the same `hash`; the message names the
/// first rank whose hash differs from rank 0's, and `what` they hash.
Status checkSameOnEveryRank(uint64_t hash, const std::string &what);

/// A hash of the compiled programs' description (config, batch, parameter
/// layout, arenas) and of the flags that must agree on every rank.
uint64_t runHash(const ProgramInfo &train, const ProgramInfo &eval,
                 const std::map<std::string, std::string> &flags);

//===----------------------------------------------------------------------===//
// One optimizer step across the ranks
//===----------------------------------------------------------------------===//

/// The gradients of a step and how they, the losses and the parameters are
/// shared among the ranks (see the file comment); on one rank, plain
/// gradient accumulation.
class DataParallel {
public:
  /// Plans a run of `microBatches` micro-batches per step over the ranks of
  /// the world and connects them (startCollectives). An error when the
  /// micro-batches cannot be split evenly.
  static Expected<DataParallel> create(const ProgramInfo &program,
                                       int64_t microBatches, int64_t B);

  bool isRoot() const { return rank == 0; }
  int numRanks() const { return size; }
  /// The parameters whose optimizer state this rank keeps.
  ParamRange ownedParams() const { return owned; }

  /// Whether global micro-batch `micro` runs here, as local micro-batch
  /// micro / W.
  bool isLocal(int64_t micro) const { return micro % size == rank; }
  int64_t numLocalMicroBatches() const { return microBatches / size; }

  /// Where train_step writes the gradient of local micro-batch `local`.
  char *gradientsOf(int64_t local) const;
  /// Adds the gradient of local micro-batch `local`, just computed, to the
  /// step's sum (each rank sums its own parameters' gradients).
  void accumulate(int64_t local);
  /// Averages the summed gradients, clips their global norm to `maxNorm` and
  /// returns the norm before clipping.
  double finishGradients(double maxNorm);
  /// The step's gradients, final in the owned parameters.
  const char *gradients() const { return grads.get(); }

  /// The losses of every micro-batch [microBatches] in global order, from
  /// this rank's [numLocalMicroBatches()] (host memory).
  std::vector<float> gatherLosses(const float *local) const;
  /// After the owners updated their parameters: every rank's copy whole.
  void shareParameters(char *params);
  /// Rank 0's parameters on every rank.
  void broadcastParameters(char *params);
  /// Completes, on rank 0, `values` (the whole state of `optimizer`, as
  /// downloadState() lays it out) with every rank's own part; every rank
  /// calls it.
  void gatherOptimizerState(const Optimizer &optimizer,
                            std::vector<float> &values) const;

  /// The largest of every rank's `signal` (0: none), so that all ranks stop
  /// after the same step when any of them was asked to; every rank calls it.
  int agreeOnStop(int signal) const;

  /// Seconds spent in communication since the last call.
  double takeCommSeconds();

private:
  int rank = 0, size = 1;
  int64_t microBatches = 1;
  const ProgramInfo *program = nullptr;
  ParamRange owned;
  std::vector<size_t> first; // [ranks + 1]: rank r owns first[r] .. first[r+1]
  std::vector<int64_t> shardOffsets, shardCounts; // [ranks], in floats
  std::vector<int64_t> stateOffsets, stateCounts; // [ranks], in floats
  int64_t shardStride = 0; // the largest shard, in floats
  double commSeconds = 0;
  DeviceBuffer grads;      // paramBytes: the step's sum
  DeviceBuffer microGrads; // paramBytes: one micro-batch's gradient
  DeviceBuffer received;   // [ranks, shardStride]: its pieces of the ranks'
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_DISTRIBUTED_H
