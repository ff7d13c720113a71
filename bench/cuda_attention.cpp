//===- cuda_attention.cpp - gptc's fused attention against cuDNN's SDPA ---===//
//
// Times causal attention on the GPU through the two paths a --target=cuda
// program can take: gptc's own FlashAttention-2-style kernels
// (causalAttention[Backward]) and cuDNN's SDPA graphs
// (causalAttention[Backward]Cudnn, --attention=cudnn). Both are called as
// gptc calls them, fp32 in and out, so their conversions to and from
// bfloat16 are part of the time. For each shape it prints milliseconds and
// TFLOP/s of the forward and of the backward pass per path, gptc's speed
// relative to cuDNN's, the fraction of the H100 SXM bf16 dense peak on an
// H100, and how far the two paths' results are apart (informational: both
// round to bfloat16, differently).
//
// FLOPs count the causal half of the matrix products: forward
// 2·B·H·T²·D (half of 4·B·H·T²·D), backward 2.5 times that.
//
// Without a usable GPU it prints "skipped: <reason>" and exits 0. Linked
// against the SIMT emulator it runs too, as a smoke check of both paths
// (tiny shapes only; its timings mean nothing).
//
//===----------------------------------------------------------------------===//

#include "backends/cuda/Device.h"
#include "backends/cuda/Ops.h"

#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

/// One attention problem: q, o [B, T, H, D]; k, v [B, T, Hkv, D].
struct Shape {
  int64_t B, T, H, Hkv, D;
};

/// nanochat-like layers: d16 (C = 1024), d20 at T = 2048 (C = 1280), the
/// same with grouped-query attention, and a small model at a large batch.
const std::vector<Shape> kDefaultShapes = {{8, 1024, 16, 16, 64},
                                           {4, 2048, 10, 10, 128},
                                           {4, 2048, 16, 4, 128},
                                           {16, 512, 6, 6, 64}};

/// H100 SXM's dense bf16 tensor-core peak, TFLOP/s.
constexpr double kH100PeakTflops = 989.0;

struct Options {
  std::vector<Shape> shapes;
  int iters = 20;
  int warmup = 3;
};

void printUsage() {
  std::puts(
      "usage: cuda_attention [--shape B,T,H,Hkv,D]... [--iters N] "
      "[--warmup N]\n"
      "\n"
      "Times gptc's own fused causal attention (FlashAttention-2 style) "
      "against\n"
      "cuDNN's SDPA, forward and backward, fp32 in and out on gptc's "
      "stream.\n"
      "\n"
      "  --shape B,T,H,Hkv,D  an attention shape (repeatable; D one of 16, "
      "32, 64,\n"
      "                       128; H a multiple of Hkv). Default: "
      "8,1024,16,16,64\n"
      "                       4,2048,10,10,128 4,2048,16,4,128 "
      "16,512,6,6,64\n"
      "  --iters N            timed calls per pass and path (default 20)\n"
      "  --warmup N           untimed calls before them (default 3)\n"
      "\n"
      "Without a usable GPU prints \"skipped: <reason>\" and exits 0.");
}

/// Parses "B,T,H,Hkv,D"; false with a message on stderr if malformed.
bool parseShape(const char *text, Shape &shape) {
  int consumed = 0;
  if (std::sscanf(
          text, "%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",%" SCNd64 ",%" SCNd64 "%n",
          &shape.B, &shape.T, &shape.H, &shape.Hkv, &shape.D, &consumed) != 5 ||
      text[consumed] != '\0') {
    std::fprintf(stderr, "error: --shape wants B,T,H,Hkv,D, got '%s'\n", text);
    return false;
  }
  if (shape.B < 1 || shape.T < 1 || shape.H < 1 || shape.Hkv < 1 ||
      shape.H % shape.Hkv != 0) {
    std::fprintf(stderr,
                 "error: --shape %s: sizes must be positive and H a multiple "
                 "of Hkv\n",
                 text);
    return false;
  }
  if (shape.D != 16 && shape.D != 32 && shape.D != 64 && shape.D != 128) {
    std::fprintf(stderr, "error: --shape %s: D must be 16, 32, 64 or 128\n",
                 text);
    return false;
  }
  return true;
}

/// Parses a count of at least `least`; false with a message if it is not.
bool parseCount(const char *flag, const char *text, int least, int &count) {
  char *end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < least || value > 1000000) {
    std::fprintf(stderr, "error: %s wants an integer >= %d, got '%s'\n", flag,
                 least, text);
    return false;
  }
  count = static_cast<int>(value);
  return true;
}

/// Fills `options` from the command line; false after an error message.
bool parseOptions(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    const char *flag = argv[i];
    bool known = !std::strcmp(flag, "--shape") ||
                 !std::strcmp(flag, "--iters") ||
                 !std::strcmp(flag, "--warmup");
    if (!known) {
      std::fprintf(stderr, "error: unknown argument '%s' (see --help)\n", flag);
      return false;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "error: %s needs a value\n", flag);
      return false;
    }
    const char *value = argv[++i];
    if (!std::strcmp(flag, "--shape")) {
      Shape shape;
      if (!parseShape(value, shape))
        return false;
      options.shapes.push_back(shape);
    } else if (!std::strcmp(flag, "--iters")) {
      if (!parseCount(flag, value, 1, options.iters))
        return false;
    } else if (!parseCount(flag, value, 0, options.warmup)) {
      return false;
    }
  }
  if (options.shapes.empty())
    options.shapes = kDefaultShapes;
  return true;
}

/// Device memory for `count` floats, freed when it goes out of scope.
class DeviceBuffer {
public:
  DeviceBuffer(size_t count, const char *what)
      : count(count), pointer(static_cast<float *>(gptc::cuda::deviceAlloc(
                          count * sizeof(float), what))) {}
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { gptc::cuda::deviceFree(pointer); }

  float *data() const { return pointer; }

  /// Uploads values uniform in [-1, 1) drawn from `rng`.
  void fillRandom(std::mt19937 &rng) const {
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    std::vector<float> host(count);
    for (float &value : host)
      value = uniform(rng);
    gptc::cuda::copyToDevice(pointer, host.data(), count * sizeof(float));
  }

  std::vector<float> download() const {
    std::vector<float> host(count);
    gptc::cuda::copyToHost(host.data(), pointer, count * sizeof(float));
    return host;
  }

private:
  size_t count;
  float *pointer;
};

/// What one path writes: o [B, T, H, D], lse [B, H, T], dq [B, T, H, D],
/// dk and dv [B, T, Hkv, D].
struct PathOutputs {
  explicit PathOutputs(const Shape &s)
      : o(s.B * s.T * s.H * s.D, "attention o"), lse(s.B * s.H * s.T, "lse"),
        dq(s.B * s.T * s.H * s.D, "dq"), dk(s.B * s.T * s.Hkv * s.D, "dk"),
        dv(s.B * s.T * s.Hkv * s.D, "dv") {}

  DeviceBuffer o, lse, dq, dk, dv;
};

/// Milliseconds per call of `run`: `warmup` untimed calls, then the wall
/// time of `iters` calls between two synchronizations.
template <typename Run>
double millisecondsPerCall(const Options &options, Run run) {
  for (int i = 0; i < options.warmup; ++i)
    run();
  gptc::cuda::synchronize();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.iters; ++i)
    run();
  gptc::cuda::synchronize();
  std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  return elapsed.count() / options.iters;
}

/// max |a − b| / max |a| over two device buffers of one size; NaN if either
/// holds a NaN or an infinity.
double relativeDifference(const DeviceBuffer &a, const DeviceBuffer &b) {
  std::vector<float> x = a.download(), y = b.download();
  double largest = 0, difference = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
      return NAN;
    largest = std::fmax(largest, std::fabs(x[i]));
    difference = std::fmax(difference, std::fabs(double(x[i]) - y[i]));
  }
  return difference / largest;
}

struct Timing {
  double forwardMs, backwardMs;
};

/// One row of the table: a path's times, TFLOP/s and, on an H100, the
/// fraction of its peak.
void printRow(const char *shapeText, const char *path, const Timing &timing,
              double forwardFlops, bool isH100) {
  double forwardTflops = forwardFlops / (timing.forwardMs * 1e9);
  double backwardTflops = 2.5 * forwardFlops / (timing.backwardMs * 1e9);
  std::printf("%-20s %-10s %10.3f %12.4g %10.3f %12.4g", shapeText, path,
              timing.forwardMs, forwardTflops, timing.backwardMs,
              backwardTflops);
  if (isH100)
    std::printf(" %9.1f%% %9.1f%%", 100 * forwardTflops / kH100PeakTflops,
                100 * backwardTflops / kH100PeakTflops);
  std::printf("\n");
}

/// Runs, times and compares both paths on `shape`; prints its table rows.
void benchmarkShape(const Shape &s, const Options &options, bool isH100) {
  using namespace gptc::cuda;
  std::mt19937 rng(1234);
  DeviceBuffer q(s.B * s.T * s.H * s.D, "q");       // [B, T, H, D]
  DeviceBuffer k(s.B * s.T * s.Hkv * s.D, "k");     // [B, T, Hkv, D]
  DeviceBuffer v(s.B * s.T * s.Hkv * s.D, "v");     // [B, T, Hkv, D]
  DeviceBuffer dout(s.B * s.T * s.H * s.D, "dout"); // [B, T, H, D]
  q.fillRandom(rng);
  k.fillRandom(rng);
  v.fillRandom(rng);
  dout.fillRandom(rng);
  PathOutputs own(s), cudnn(s);
  float scale = 1.0f / std::sqrt(float(s.D));

  auto ownForward = [&] {
    causalAttention(q.data(), k.data(), v.data(), own.o.data(), own.lse.data(),
                    s.B, s.T, s.H, s.Hkv, s.D, scale);
  };
  auto ownBackward = [&] {
    causalAttentionBackward(q.data(), k.data(), v.data(), own.o.data(),
                            own.lse.data(), dout.data(), own.dq.data(),
                            own.dk.data(), own.dv.data(), s.B, s.T, s.H, s.Hkv,
                            s.D, scale);
  };
  auto cudnnForward = [&] {
    causalAttentionCudnn(q.data(), k.data(), v.data(), cudnn.o.data(),
                         cudnn.lse.data(), s.B, s.T, s.H, s.Hkv, s.D, scale);
  };
  auto cudnnBackward = [&] {
    causalAttentionBackwardCudnn(q.data(), k.data(), v.data(), cudnn.o.data(),
                                 cudnn.lse.data(), dout.data(), cudnn.dq.data(),
                                 cudnn.dk.data(), cudnn.dv.data(), s.B, s.T,
                                 s.H, s.Hkv, s.D, scale);
  };
  // Each backward pass uses its own path's forward results.
  Timing ownTiming{millisecondsPerCall(options, ownForward),
                   millisecondsPerCall(options, ownBackward)};
  Timing cudnnTiming{millisecondsPerCall(options, cudnnForward),
                     millisecondsPerCall(options, cudnnBackward)};

  std::string shapeText = std::to_string(s.B) + "," + std::to_string(s.T) +
                          "," + std::to_string(s.H) + "," +
                          std::to_string(s.Hkv) + "," + std::to_string(s.D);
  double forwardFlops = 2.0 * s.B * s.H * double(s.T) * s.T * s.D;
  printRow(shapeText.c_str(), "gptc", ownTiming, forwardFlops, isH100);
  printRow("", "cuDNN", cudnnTiming, forwardFlops, isH100);
  std::printf("%-20s %-10s %10s %11.2fx %10s %11.2fx\n", "", "gptc/cuDNN", "",
              cudnnTiming.forwardMs / ownTiming.forwardMs, "",
              cudnnTiming.backwardMs / ownTiming.backwardMs);
  std::printf("%-20s max|gptc - cuDNN| / max|gptc|: o %.1e, dq %.1e, dk "
              "%.1e, dv %.1e\n",
              "", relativeDifference(own.o, cudnn.o),
              relativeDifference(own.dq, cudnn.dq),
              relativeDifference(own.dk, cudnn.dk),
              relativeDifference(own.dv, cudnn.dv));
}

} // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      printUsage();
      return 0;
    }
  Options options;
  if (!parseOptions(argc, argv, options))
    return 2;
  gptc::Status status = gptc::cuda::initDevice();
  if (!status.ok()) {
    std::printf("skipped: %s\n", status.message().c_str());
    return 0;
  }

  std::string device = gptc::cuda::deviceDescription();
  bool isH100 = device.find("H100") != std::string::npos;
  std::printf("device: %s\n", device.c_str());
  if (device.find("emulator") != std::string::npos)
    std::printf("(the SIMT emulator: a smoke check of both paths; its "
                "timings mean nothing)\n");
  std::printf("%d timed calls per pass after %d warm-up calls; TFLOP/s of "
              "the causal half (fwd 2*B*H*T^2*D, bwd 2.5x fwd)",
              options.iters, options.warmup);
  if (isH100)
    std::printf("; %% of H100 SXM bf16 dense peak (%.0f TFLOP/s)",
                kH100PeakTflops);
  std::printf("\ngptc/cuDNN = cuDNN time / gptc time (above 1: gptc is "
              "faster)\n\n");

  std::printf("%-20s %-10s %10s %12s %10s %12s", "B,T,H,Hkv,D", "path",
              "fwd ms", "fwd TFLOP/s", "bwd ms", "bwd TFLOP/s");
  if (isH100)
    std::printf(" %10s %10s", "fwd %peak", "bwd %peak");
  std::printf("\n");
  for (const Shape &shape : options.shapes) {
    benchmarkShape(shape, options, isH100);
    std::fflush(stdout);
  }
  return 0;
}
