// The practical fp32 ceiling of this machine: GFLOP/s of a large oneDNN
// sgemm (2048³), the best of 5, on all threads. Training's roofline in
// bench/train.sh is measured against it, in the same run.
#include <dnnl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main() {
  const dnnl_dim_t n = 2048;
  std::vector<float> a(n * n, 1.0f), b(n * n, 0.5f), c(n * n);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto start = std::chrono::steady_clock::now();
    if (dnnl_sgemm('N', 'N', n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f,
                   c.data(), n) != dnnl_success)
      return 1;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    best = std::max(best, 2.0 * n * n * n / seconds / 1e9);
  }
  std::printf("%.1f\n", best);
  return 0;
}
