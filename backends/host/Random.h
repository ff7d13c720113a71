//===- Random.h - the training program's deterministic RNG ------*- C++ -*-===//
//
// splitmix64 (Steele, Lea and Flood, 2014): one 64-bit word of state, so a
// checkpoint can store it whole and a resumed run draws exactly the numbers
// an uninterrupted run would. Every draw is defined here bit for bit (no
// <random> distributions, whose results differ between standard libraries).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_HOST_RANDOM_H
#define GPTC_BACKENDS_HOST_RANDOM_H

#include <cmath>
#include <cstdint>
#include <string_view>

namespace gptc::host {

class Rng {
public:
  explicit Rng(uint64_t state) : state(state) {}

  /// An independent stream for `purpose` ("batches", "init:lm_head.weight",
  /// ...) derived from the run's seed.
  static Rng forStream(uint64_t seed, std::string_view purpose) {
    uint64_t hash = 0xcbf29ce484222325ull; // FNV-1a
    for (char c : purpose)
      hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return Rng(Rng(seed).next() ^ hash);
  }

  uint64_t getState() const { return state; }

  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, n), n > 0, without modulo bias (rejection sampling).
  uint64_t below(uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
      x = next();
    while (x >= limit);
    return x % n;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return (next() >> 11) * 0x1.0p-53; }

  /// Standard normal by Box-Muller; the pair's second value is dropped so
  /// the state stays one word.
  double normal() {
    double u1 = 1.0 - uniform(); // (0, 1]: log(u1) is finite
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

private:
  uint64_t state;
};

} // namespace gptc::host

#endif // GPTC_BACKENDS_HOST_RANDOM_H
