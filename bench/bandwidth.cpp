// Read bandwidth of this machine over a working set of a given size, the
// ceiling of a bandwidth-bound decode step (every weight read once a token).
// usage: bandwidth <bytes>   prints GB/s, the best of 20 passes, all threads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <bytes>\n", argv[0]);
    return 1;
  }
  size_t n = std::strtoull(argv[1], nullptr, 10) / sizeof(float);
  std::vector<float> data(n, 1.0f);
  double best = 0;
  for (int pass = 0; pass < 20; ++pass) {
    auto start = std::chrono::steady_clock::now();
    float sum = 0;
#pragma omp parallel for reduction(+ : sum)
    for (size_t i = 0; i < n; ++i)
      sum += data[i];
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (sum < 0) // keeps the loop
      std::printf("impossible\n");
    best = std::max(best, n * sizeof(float) / seconds / 1e9);
  }
  std::printf("%.1f\n", best);
  return 0;
}
