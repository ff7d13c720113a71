//===- Distributed.cpp - data-parallel training across processes ----------===//

#include "backends/host/Distributed.h"

#include "backends/common/Sharding.h"
#include "backends/host/Collectives.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <mpi.h>

using namespace gptc;
using namespace gptc::host;

namespace {

/// The world of this process; rank 0 of 1 until startWorld joins a job.
struct WorldState {
  bool mpi = false; // MPI_Init was called
  bool collectives = false;
  int rank = 0, size = 1, localRank = 0;
};
WorldState world;

/// The integer environment variable `name`, or `fallback` when unset.
int envInt(const char *name, int fallback) {
  const char *value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

/// FNV-1a over bytes, continuing from `hash`.
uint64_t hashBytes(uint64_t hash, const void *data, size_t size) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i)
    hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  return hash;
}
uint64_t hashString(uint64_t hash, const std::string &text) {
  // The terminating zero separates consecutive strings.
  return hashBytes(hash, text.c_str(), text.size() + 1);
}
uint64_t hashInt(uint64_t hash, int64_t value) {
  return hashBytes(hash, &value, sizeof(value));
}
uint64_t hashBuffers(uint64_t hash, const BufferInfo *buffers, size_t count) {
  hash = hashInt(hash, int64_t(count));
  for (size_t i = 0; i < count; ++i) {
    const BufferInfo &buffer = buffers[i];
    hash = hashString(hash, buffer.name);
    hash = hashString(hash, cppTypeName(buffer.dtype));
    hash = hashInt(hash, buffer.offset);
    for (int64_t d = 0; d < buffer.rank; ++d)
      hash = hashInt(hash, buffer.shape[d]);
  }
  return hash;
}
uint64_t hashProgram(uint64_t hash, const ProgramInfo &program) {
  hash = hashString(hash, program.entry);
  hash = hashString(hash, program.config);
  hash = hashInt(hash, program.paramBytes);
  hash = hashInt(hash, program.arenaBytes);
  hash = hashBuffers(hash, program.params, program.numParams);
  hash = hashBuffers(hash, program.inputs, program.numInputs);
  return hashBuffers(hash, program.outputs, program.numOutputs);
}

using Clock = std::chrono::steady_clock;

} // namespace

Status gptc::host::startWorld(int *argc, char ***argv) {
  // Open MPI's launchers set OMPI_COMM_WORLD_SIZE; a process started on its
  // own stays out of MPI, so it runs as it would without it.
  if (!std::getenv("OMPI_COMM_WORLD_SIZE"))
    return Status::success();
  if (MPI_Init(argc, argv) != MPI_SUCCESS)
    return Status::error("MPI_Init failed; start the program with Open "
                         "MPI's mpirun or on its own");
  world.mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  world.localRank = envInt("OMPI_COMM_WORLD_LOCAL_RANK", 0);
  // Errors end the job through abortWorld with a message naming the rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
  if (world.rank != 0 && !std::freopen("/dev/null", "w", stdout))
    return Status::error("rank {}: cannot discard its standard output",
                         world.rank);
  return Status::success();
}

int gptc::host::worldRank() { return world.rank; }
int gptc::host::worldSize() { return world.size; }
int gptc::host::localRank() { return world.localRank; }

void gptc::host::endWorld() {
  if (world.collectives)
    stopCollectives();
  world.collectives = false;
  if (world.mpi)
    MPI_Finalize();
  world.mpi = false;
}

void gptc::host::abortWorld(int code) {
  if (!world.mpi || world.size == 1)
    return;
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
}

Status gptc::host::checkSameOnEveryRank(uint64_t hash,
                                        const std::string &what) {
  if (world.size == 1)
    return Status::success();
  std::vector<uint64_t> hashes(static_cast<size_t>(world.size)); // [ranks]
  MPI_Allgather(&hash, 1, MPI_UINT64_T, hashes.data(), 1, MPI_UINT64_T,
                MPI_COMM_WORLD);
  for (int r = 1; r < world.size; ++r)
    if (hashes[size_t(r)] != hashes[0])
      return Status::error("rank {} was started with another {} than rank 0 "
                           "(hash {:016x}, rank 0: {:016x}); start every "
                           "rank with the same program and flags",
                           r, what, hashes[size_t(r)], hashes[0]);
  return Status::success();
}

uint64_t gptc::host::runHash(const ProgramInfo &train, const ProgramInfo &eval,
                             const std::map<std::string, std::string> &flags) {
  uint64_t hash = 0xcbf29ce484222325ull;
  hash = hashProgram(hash, train);
  hash = hashProgram(hash, eval);
  for (const auto &[flag, value] : flags)
    hash = hashString(hashString(hash, flag), value);
  return hash;
}

Expected<DataParallel> DataParallel::create(const ProgramInfo &program,
                                            int64_t microBatches, int64_t B) {
  DataParallel parallel;
  parallel.rank = world.rank;
  parallel.size = world.size;
  parallel.microBatches = microBatches;
  parallel.program = &program;
  const size_t paramBytes = size_t(program.paramBytes);
  parallel.grads = allocateDevice(paramBytes, "the gradients");
  if (world.size == 1) {
    if (microBatches > 1)
      parallel.microGrads =
          allocateDevice(paramBytes, "the micro-batch gradients");
    return parallel;
  }
  if (microBatches % world.size != 0)
    return Status::error(
        "--batch {} is {} micro-batch{} of B = {}, which {} ranks cannot "
        "share evenly; use a --batch that is a multiple of B x ranks = {}",
        microBatches * B, microBatches, microBatches == 1 ? "" : "es", B,
        world.size, B * world.size);

  // Shards of whole parameters; their bytes run from a parameter's offset
  // to the next owner's first, so that they tile the buffer.
  std::vector<int64_t> sizes; // [numParams]
  for (size_t i = 0; i < program.numParams; ++i) {
    if (i > 0 && program.params[i].offset <= program.params[i - 1].offset)
      return Status::error("the program's parameters are not laid out in "
                           "order; recompile it");
    sizes.push_back(program.params[i].numel());
  }
  std::vector<size_t> first = shardParameters(sizes, world.size);
  auto offsetOf = [&](size_t param) -> int64_t {
    int64_t bytes = param < program.numParams ? program.params[param].offset
                                              : program.paramBytes;
    return bytes / int64_t(sizeof(float));
  };
  for (int r = 0; r < world.size; ++r) {
    int64_t begin = offsetOf(first[size_t(r)]);
    int64_t end = offsetOf(first[size_t(r) + 1]);
    parallel.shardOffsets.push_back(begin);
    parallel.shardCounts.push_back(end - begin);
    parallel.shardStride = std::max(parallel.shardStride, end - begin);
  }
  parallel.owned = {first[size_t(world.rank)], first[size_t(world.rank) + 1]};
  parallel.microGrads = allocateDevice(paramBytes, "the micro-batch gradients");
  parallel.received =
      allocateDevice(sizeof(float) * size_t(parallel.shardStride * world.size),
                     "the received gradient shards");
  parallel.first = std::move(first);
  if (Status status = startCollectives(); !status.ok())
    return status;
  world.collectives = true;
  return parallel;
}

char *DataParallel::gradientsOf(int64_t local) const {
  return size == 1 && local == 0 ? grads.get() : microGrads.get();
}

void DataParallel::accumulate(int64_t local) {
  if (size == 1) {
    if (local > 0)
      addGradients(*program, grads.get(), microGrads.get());
    return;
  }
  Clock::time_point start = Clock::now();
  const float *micro = microGrads.as<float>();
  float *pieces = received.as<float>(); // [ranks, shardStride]
  exchangeShards(micro, shardOffsets.data(), shardCounts.data(), pieces,
                 shardStride);
  finishCollectives();
  commSeconds += std::chrono::duration<double>(Clock::now() - start).count();
  // Rank s's local micro-batch `local` is global micro-batch local * W + s:
  // adding the pieces in rank order adds the micro-batches in global order.
  const int64_t count = shardCounts[size_t(rank)];
  float *sum = grads.as<float>() + shardOffsets[size_t(rank)];
  for (int s = 0; s < size; ++s) {
    const float *piece = pieces + int64_t(s) * shardStride;
    if (local == 0 && s == 0)
      copyOnDevice(sum, piece, sizeof(float) * size_t(count));
    else
      addInPlace(sum, piece, count);
  }
}

double DataParallel::finishGradients(double maxNorm) {
  char *sum = grads.get();
  if (microBatches > 1)
    scaleGradients(*program, sum, 1.0f / float(microBatches), owned);
  std::vector<double> squares = gradientSquares(*program, sum, owned);
  if (size > 1) {
    // Each parameter's sum comes from its owner alone (the others add exact
    // zeros), so the reduction order does not matter.
    Clock::time_point start = Clock::now();
    MPI_Allreduce(MPI_IN_PLACE, squares.data(), int(squares.size()), MPI_DOUBLE,
                  MPI_SUM, MPI_COMM_WORLD);
    commSeconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  return clipToNorm(*program, sum, squares, maxNorm, owned);
}

std::vector<float> DataParallel::gatherLosses(const float *local) const {
  const int64_t count = numLocalMicroBatches();
  if (size == 1)
    return std::vector<float>(local, local + count);
  std::vector<float> byRank(
      static_cast<size_t>(microBatches)); // [ranks, local]
  MPI_Allgather(local, int(count), MPI_FLOAT, byRank.data(), int(count),
                MPI_FLOAT, MPI_COMM_WORLD);
  std::vector<float> losses(
      static_cast<size_t>(microBatches)); // [microBatches]
  for (int s = 0; s < size; ++s)
    for (int64_t j = 0; j < count; ++j)
      losses[size_t(j * size + s)] = byRank[size_t(s * count + j)];
  return losses;
}

void DataParallel::shareParameters(char *params) {
  if (size == 1)
    return;
  Clock::time_point start = Clock::now();
  allGatherShards(reinterpret_cast<float *>(params), shardOffsets.data(),
                  shardCounts.data());
  finishCollectives();
  commSeconds += std::chrono::duration<double>(Clock::now() - start).count();
}

void DataParallel::broadcastParameters(char *params) {
  if (size == 1)
    return;
  broadcastFloats(reinterpret_cast<float *>(params),
                  program->paramBytes / int64_t(sizeof(float)), 0);
  finishCollectives();
}

void DataParallel::gatherOptimizerState(const Optimizer &optimizer,
                                        std::vector<float> &values) const {
  if (size == 1)
    return;
  std::vector<int> counts(static_cast<size_t>(size)),
      offsets(static_cast<size_t>(size)); // [ranks]
  for (int r = 0; r < size; ++r) {
    auto [begin, end] =
        optimizer.stateRange({first[size_t(r)], first[size_t(r) + 1]});
    offsets[size_t(r)] = int(begin);
    counts[size_t(r)] = int(end - begin);
  }
  float *mine = values.data() + offsets[size_t(rank)];
  if (rank == 0)
    MPI_Gatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, values.data(),
                counts.data(), offsets.data(), MPI_FLOAT, 0, MPI_COMM_WORLD);
  else
    MPI_Gatherv(mine, counts[size_t(rank)], MPI_FLOAT, nullptr, nullptr,
                nullptr, MPI_FLOAT, 0, MPI_COMM_WORLD);
}

int DataParallel::agreeOnStop(int signal) const {
  if (size == 1)
    return signal;
  int agreed = 0;
  MPI_Allreduce(&signal, &agreed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return agreed;
}

double DataParallel::takeCommSeconds() {
  double seconds = commSeconds;
  commSeconds = 0;
  return seconds;
}
