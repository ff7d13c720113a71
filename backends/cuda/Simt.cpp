//===- Simt.cpp - fibers, rendezvous and tensor-core emulation ------------===//

#include "backends/cuda/Simt.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "the SIMT emulator's fiber switch is written for x86-64"
#endif

// Switches fibers: pushes the callee-saved registers of the System V x86-64
// ABI on the running stack, stores its stack pointer in *from, loads `to`
// and pops the registers saved there. Nothing else (signal masks, as
// swapcontext would, with two system calls) needs saving between fibers
// of one OS thread.
extern "C" void gptcSimtSwitch(void **from, void *to);
asm(R"(
  .text
  .globl gptcSimtSwitch
  .type gptcSimtSwitch, @function
gptcSimtSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size gptcSimtSwitch, .-gptcSimtSwitch
)");

namespace gptc::simt {
namespace {

enum class State { Running, AtBarrier, AtWarp, Done };

struct Fiber {
  void *stackPointer; // saved by gptcSimtSwitch while suspended
  dim3 index;
  State state = State::Running;
  alignas(16) unsigned char exchange[kExchangeBytes];
};

/// Stack bytes per emulated thread: kernels keep their register tiles (an
/// attention row block's accumulators) on it.
constexpr size_t kStackBytes = 96 * 1024;

/// Bytes of canary before and after every shared array: 0xff bytes (the NaN
/// poison, so that a read past an array's end sees NaNs too) that must still
/// be 0xff when the block exits.
constexpr size_t kCanaryBytes = 64;

/// The static shared memory a block may declare, as on every CUDA GPU.
constexpr size_t kStaticSharedBytes = 48 * 1024;

/// The most static shared arrays a block may declare.
constexpr size_t kMaxStaticArrays = 64;

/// A static shared array of the running block.
struct StaticArray {
  const void *site; // the declaration
  const char *name;
  size_t offset, bytes; // in Worker::staticShared
};

/// What one OS thread needs to run blocks: fibers and stacks are reused from
/// block to block and launch to launch.
struct Worker {
  std::vector<Fiber> fibers;
  std::unique_ptr<char[]> stacks;
  size_t stackCapacity = 0;          // fibers the stacks can hold
  std::vector<unsigned char> shared; // dynamic, then a canary
  size_t sharedBytes = 0;
  // The static shared arrays, each between canaries.
  std::unique_ptr<unsigned char[]> staticShared{
      new unsigned char[kStaticSharedBytes +
                        (kMaxStaticArrays + 1) * (kCanaryBytes + 16)]};
  std::vector<StaticArray> staticArrays;
  size_t staticEnd = 0; // of the last array's canary
  void *scheduler;      // the OS thread's stack pointer while a fiber runs
  int current = -1;
  int numThreads = 0;
  const char *name = "";
  dim3 block, blockDims, gridDims;
  const std::function<void()> *body = nullptr;
};

thread_local Worker *running = nullptr;

Fiber &self() { return running->fibers[running->current]; }

void suspend(State state) {
  Fiber &fiber = self();
  fiber.state = state;
  gptcSimtSwitch(&fiber.stackPointer, running->scheduler);
}

/// Where a fiber starts: gptcSimtSwitch "returns" into it.
[[noreturn]] void fiberEntry() {
  (*running->body)();
  suspend(State::Done);
  __builtin_unreachable(); // a finished fiber is never resumed
}

/// A fresh stack whose first switch-in starts fiberEntry: six zero
/// registers, then fiberEntry as the return address, placed so that the
/// stack is aligned as after a call.
void *initialStack(char *base, size_t bytes) {
  auto top = reinterpret_cast<uintptr_t>(base + bytes) & ~uintptr_t(15);
  auto *slots = reinterpret_cast<void **>(top) - 8;
  for (int i = 0; i < 6; ++i)
    slots[i] = nullptr;
  slots[6] = reinterpret_cast<void *>(&fiberEntry);
  slots[7] = nullptr;
  return slots;
}

[[noreturn]] void fail(const Worker &w, const char *what) {
  int counts[4] = {0, 0, 0, 0};
  for (int i = 0; i < w.numThreads; ++i)
    ++counts[static_cast<int>(w.fibers[i].state)];
  std::fprintf(stderr,
               "simt: kernel '%s' block (%u,%u,%u): %s (threads: %d running, "
               "%d at __syncthreads, %d at a warp collective, %d exited)\n",
               w.name, w.block.x, w.block.y, w.block.z, what, counts[0],
               counts[1], counts[2], counts[3]);
  std::abort();
}

/// Lets each warp whose live lanes all wait at a warp collective go on.
bool releaseWarps(Worker &w) {
  bool released = false;
  for (int first = 0; first < w.numThreads; first += kWarpSize) {
    int last = std::min(w.numThreads, first + kWarpSize);
    int waiting = 0, exited = 0;
    for (int i = first; i < last; ++i) {
      waiting += w.fibers[i].state == State::AtWarp;
      exited += w.fibers[i].state == State::Done;
    }
    if (waiting == 0 || waiting + exited < last - first)
      continue;
    if (exited > 0)
      fail(w, "a warp collective (shuffle, mma, __syncwarp) was reached "
              "while other lanes of the warp had exited");
    for (int i = first; i < last; ++i)
      w.fibers[i].state = State::Running;
    released = true;
  }
  return released;
}

/// Whether the canary at `bytes[0, kCanaryBytes)` is intact.
bool canaryIntact(const unsigned char *bytes) {
  for (size_t i = 0; i < kCanaryBytes; ++i)
    if (bytes[i] != 0xff)
      return false;
  return true;
}

/// Aborts if a thread of the block wrote outside its shared arrays.
void checkCanaries(const Worker &w) {
  char what[256];
  if (!canaryIntact(w.shared.data() + w.sharedBytes)) {
    std::snprintf(what, sizeof(what),
                  "a write past the end of the %zu bytes of dynamic shared "
                  "memory",
                  w.sharedBytes);
    fail(w, what);
  }
  for (size_t i = 0; i < w.staticArrays.size(); ++i) {
    const StaticArray &array = w.staticArrays[i];
    const unsigned char *base = w.staticShared.get();
    if (i == 0 && !canaryIntact(base)) {
      std::snprintf(what, sizeof(what),
                    "a write before the start of static shared array '%s'",
                    array.name);
      fail(w, what);
    }
    if (!canaryIntact(base + array.offset + array.bytes)) {
      std::snprintf(what, sizeof(what),
                    "a write past the end of static shared array '%s' (%zu "
                    "bytes)",
                    array.name, array.bytes);
      fail(w, what);
    }
  }
}

void runBlock(Worker &w) {
  std::memset(w.shared.data(), 0xff, w.shared.size()); // NaN poison, canary
  w.staticArrays.clear();
  w.staticEnd = kCanaryBytes;
  std::memset(w.staticShared.get(), 0xff, kCanaryBytes);
  for (int i = 0; i < w.numThreads; ++i) {
    Fiber &fiber = w.fibers[i];
    fiber.state = State::Running;
    fiber.index = dim3(i % w.blockDims.x, (i / w.blockDims.x) % w.blockDims.y,
                       i / (w.blockDims.x * w.blockDims.y));
    fiber.stackPointer =
        initialStack(w.stacks.get() + size_t(i) * kStackBytes, kStackBytes);
  }
  // Between two rendezvous the threads run one after the other, so a
  // missing barrier goes unnoticed when the writer happens to run before the
  // reader. The order flips from round to round and from block to block:
  // either way round, some block of a kernel runs the reader first.
  bool reverse = (w.block.x + w.block.y + w.block.z) % 2 == 1;
  for (;; reverse = !reverse) {
    bool progressed = false;
    for (int k = 0; k < w.numThreads; ++k) {
      const int i = reverse ? w.numThreads - 1 - k : k;
      if (w.fibers[i].state != State::Running)
        continue;
      w.current = i;
      gptcSimtSwitch(&w.scheduler, w.fibers[i].stackPointer);
      progressed = true;
    }
    progressed |= releaseWarps(w);
    int done = 0, atBarrier = 0;
    for (int i = 0; i < w.numThreads; ++i) {
      done += w.fibers[i].state == State::Done;
      atBarrier += w.fibers[i].state == State::AtBarrier;
    }
    if (done == w.numThreads) {
      checkCanaries(w);
      return;
    }
    if (atBarrier + done == w.numThreads) {
      if (done > 0)
        fail(w, "__syncthreads was reached while other threads of the block "
                "had exited");
      for (int i = 0; i < w.numThreads; ++i)
        w.fibers[i].state = State::Running;
      continue;
    }
    if (!progressed)
      fail(w, "deadlock: threads wait at different barriers (a "
              "__syncthreads or warp collective under divergent control "
              "flow?)");
  }
}

Worker &workerFor(int numThreads, size_t sharedBytes) {
  thread_local Worker worker;
  if (worker.stackCapacity < size_t(numThreads)) {
    worker.stacks.reset(new char[size_t(numThreads) * kStackBytes]);
    worker.stackCapacity = numThreads;
  }
  if (worker.fibers.size() < size_t(numThreads))
    worker.fibers.resize(numThreads);
  worker.shared.resize(sharedBytes + kCanaryBytes);
  worker.sharedBytes = sharedBytes;
  worker.numThreads = numThreads;
  return worker;
}

/// A device allocation: a mapping whose last page is the guard.
struct Allocation {
  char *user;    // what allocateDevice returned
  size_t bytes;  // asked for
  size_t length; // of the mapping, guard page included
  std::string what;
};

std::mutex allocationsMutex;
std::map<uintptr_t, Allocation> allocations; // by the mapping's address

size_t pageBytes() {
  static const size_t bytes = size_t(sysconf(_SC_PAGESIZE));
  return bytes;
}

/// Reports a segmentation fault in a kernel, or in a device allocation's
/// guard page, and aborts; any other fault crashes as it would without us.
/// Runs on the faulting fiber's stack, so `running` is the faulting block.
void onFault(int, siginfo_t *info, void *) {
  const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
  char allocation[320] = "";
  if (allocationsMutex.try_lock()) { // not if the host faulted holding it
    auto it = allocations.upper_bound(address);
    if (it != allocations.begin()) {
      --it;
      const Allocation &a = it->second;
      const auto end = reinterpret_cast<uintptr_t>(a.user) + a.bytes;
      if (address < it->first + a.length && address >= end)
        std::snprintf(allocation, sizeof(allocation),
                      " (%zu bytes past the end of the %zu-byte device "
                      "allocation '%s')",
                      size_t(address - end), a.bytes, a.what.c_str());
    }
    allocationsMutex.unlock();
  }
  char message[768];
  int length;
  if (running && running->current >= 0) {
    const Worker &w = *running;
    const dim3 &thread = w.fibers[w.current].index;
    length = std::snprintf(
        message, sizeof(message),
        "simt: kernel '%s' block (%u,%u,%u) thread (%u,%u,%u): invalid "
        "memory access at %p%s\n",
        w.name, w.block.x, w.block.y, w.block.z, thread.x, thread.y, thread.z,
        info->si_addr, allocation);
  } else if (allocation[0]) {
    length = std::snprintf(message, sizeof(message),
                           "simt: invalid memory access at %p%s outside any "
                           "kernel\n",
                           info->si_addr, allocation);
  } else {
    signal(SIGSEGV, SIG_DFL); // returning re-runs the access: a plain crash
    return;
  }
  [[maybe_unused]] ssize_t written =
      write(STDERR_FILENO, message,
            size_t(std::min(length, int(sizeof(message)) - 1)));
  std::abort();
}

void installFaultHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action = {};
    action.sa_sigaction = onFault;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, nullptr);
  });
}

} // namespace

void launch(const char *name, dim3 grid, dim3 block, size_t sharedBytes,
            const std::function<void()> &body) {
  installFaultHandler();
  const int numThreads = int(block.x * block.y * block.z);
  if (numThreads <= 0 || numThreads > 1024 || grid.x == 0 || grid.y == 0 ||
      grid.z == 0) {
    std::fprintf(stderr,
                 "simt: kernel '%s': invalid launch grid (%u,%u,%u) block "
                 "(%u,%u,%u)\n",
                 name, grid.x, grid.y, grid.z, block.x, block.y, block.z);
    std::abort();
  }
  const int64_t numBlocks = int64_t(grid.x) * grid.y * grid.z;
#pragma omp parallel for schedule(dynamic)
  for (int64_t linear = 0; linear < numBlocks; ++linear) {
    Worker &w = workerFor(numThreads, sharedBytes);
    w.name = name;
    w.body = &body;
    w.blockDims = block;
    w.gridDims = grid;
    w.block =
        dim3(unsigned(linear % grid.x), unsigned((linear / grid.x) % grid.y),
             unsigned(linear / (int64_t(grid.x) * grid.y)));
    running = &w;
    runBlock(w);
    running = nullptr;
  }
}

const dim3 &threadIndex() { return self().index; }
const dim3 &blockIndex() { return running->block; }
const dim3 &blockDimensions() { return running->blockDims; }
const dim3 &gridDimensions() { return running->gridDims; }
void *dynamicShared() { return running->shared.data(); }

void *staticShared(const void *site, const char *name, size_t bytes) {
  Worker &w = *running;
  for (const StaticArray &array : w.staticArrays)
    if (array.site == site)
      return w.staticShared.get() + array.offset;
  size_t total = bytes;
  for (const StaticArray &array : w.staticArrays)
    total += array.bytes;
  if (total > kStaticSharedBytes || w.staticArrays.size() == kMaxStaticArrays) {
    char what[160];
    std::snprintf(what, sizeof(what),
                  "static shared array '%s' makes the block's static shared "
                  "memory %zu bytes (at most %zu in %zu arrays)",
                  name, total, kStaticSharedBytes, kMaxStaticArrays);
    fail(w, what);
  }
  const size_t offset = (w.staticEnd + 15) / 16 * 16;
  w.staticArrays.push_back({site, name, offset, bytes});
  // NaN poison for the array, 0xff for its canary.
  std::memset(w.staticShared.get() + w.staticEnd, 0xff,
              offset - w.staticEnd + bytes + kCanaryBytes);
  w.staticEnd = offset + bytes + kCanaryBytes;
  return w.staticShared.get() + offset;
}

void syncBlock() { suspend(State::AtBarrier); }
void syncWarp() { suspend(State::AtWarp); }

int laneId() { return running->current % kWarpSize; }
void *exchangeSlot() { return self().exchange; }
const void *laneSlot(int lane) {
  return running->fibers[running->current - laneId() + lane].exchange;
}

namespace {
struct MmaOperands {
  uint32_t a[4];
  uint32_t b[2];
};

float bf16Half(uint32_t reg, int high) {
  uint32_t bits = (high ? reg >> 16 : reg & 0xffffu) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

/// A(row, k) of the warp's 16x16 A tile, read from the lane that holds it.
float tileA(int row, int k) {
  const auto *lane =
      static_cast<const MmaOperands *>(laneSlot((row % 8) * 4 + (k % 8) / 2));
  return bf16Half(lane->a[(row >= 8) + 2 * (k >= 8)], k % 2);
}

/// B(k, col) of the warp's 16x8 B tile.
float tileB(int k, int col) {
  const auto *lane =
      static_cast<const MmaOperands *>(laneSlot(col * 4 + (k % 8) / 2));
  return bf16Half(lane->b[k >= 8], k % 2);
}
} // namespace

void mmaBf16(float d[4], const uint32_t a[4], const uint32_t b[2],
             const float c[4]) {
  auto *mine = static_cast<MmaOperands *>(exchangeSlot());
  std::memcpy(mine->a, a, sizeof(mine->a));
  std::memcpy(mine->b, b, sizeof(mine->b));
  syncWarp();
  const int group = laneId() / 4, inGroup = laneId() % 4;
  float result[4];
  for (int i = 0; i < 4; ++i) {
    const int row = group + 8 * (i / 2), col = 2 * inGroup + i % 2;
    float sum = c[i];
    for (int k = 0; k < 16; ++k)
      sum += tileA(row, k) * tileB(k, col);
    result[i] = sum;
  }
  syncWarp(); // every lane has read the operands before slots are reused
  std::memcpy(d, result, sizeof(result));
}

void *allocateDevice(size_t bytes, const char *what) {
  installFaultHandler();
  const size_t page = pageBytes();
  const size_t padded = (bytes + 15) / 16 * 16; // the kernels' float4 alignment
  const size_t data = std::max((padded + page - 1) / page * page, page);
  void *mapping = mmap(nullptr, data + page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED)
    return nullptr;
  char *base = static_cast<char *>(mapping);
  if (mprotect(base + data, page, PROT_NONE) != 0) {
    munmap(mapping, data + page);
    return nullptr;
  }
  char *user = base + data - padded;
  std::memset(user, 0xff, padded); // NaN poison
  std::lock_guard<std::mutex> lock(allocationsMutex);
  allocations.emplace(reinterpret_cast<uintptr_t>(base),
                      Allocation{user, bytes, data + page, what});
  return user;
}

void freeDevice(void *pointer) {
  if (!pointer)
    return;
  std::lock_guard<std::mutex> lock(allocationsMutex);
  auto it = allocations.upper_bound(reinterpret_cast<uintptr_t>(pointer));
  if (it == allocations.begin() || (--it)->second.user != pointer) {
    std::fprintf(stderr,
                 "simt: freeing %p, which is not a device "
                 "allocation\n",
                 pointer);
    std::abort();
  }
  munmap(reinterpret_cast<void *>(it->first), it->second.length);
  allocations.erase(it);
}

float atomicAddFloat(float *address, float value) {
  float old;
  __atomic_load(address, &old, __ATOMIC_RELAXED);
  float updated;
  do {
    updated = old + value;
  } while (!__atomic_compare_exchange(address, &old, &updated, true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return old;
}

int atomicAddInt(int *address, int value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}

} // namespace gptc::simt
