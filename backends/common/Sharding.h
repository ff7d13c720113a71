//===- Sharding.h - which rank owns which parameters ------------*- C++ -*-===//
//
// A data-parallel training run splits its optimizer state across the ranks
// by whole parameters (Muon's Newton-Schulz iteration needs whole matrices):
// rank r owns parameters first[r] .. first[r+1] - 1 of the packed buffer, a
// contiguous run of about 1/ranks of the bytes. The training host and `gptc
// explain --ranks` both split with this function.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_SHARDING_H
#define GPTC_BACKENDS_COMMON_SHARDING_H

#include <algorithm>
#include <cstdint>
#include <vector>

namespace gptc {

/// first[0..ranks]: rank r owns the parameters [first[r], first[r+1]) of
/// `sizes` (each parameter's size, in buffer order). A parameter goes to the
/// rank whose equal share of the total holds the parameter's middle, so the
/// groups are contiguous and a rank may own none when there are fewer large
/// parameters than ranks.
inline std::vector<size_t> shardParameters(const std::vector<int64_t> &sizes,
                                           int64_t ranks) {
  std::vector<size_t> first(size_t(ranks) + 1, sizes.size());
  int64_t total = 0;
  for (int64_t size : sizes)
    total += size;
  int64_t before = 0;
  size_t param = 0;
  for (int64_t rank = 0; rank < ranks; ++rank) {
    first[size_t(rank)] = param;
    // Parameters whose middle lies before the end of this rank's share.
    while (param < sizes.size() &&
           (rank == ranks - 1 ||
            (2 * before + sizes[param]) * ranks < 2 * total * (rank + 1))) {
      before += sizes[param];
      ++param;
    }
  }
  first[size_t(ranks)] = sizes.size();
  return first;
}

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_SHARDING_H
