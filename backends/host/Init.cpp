//===- Init.cpp - nanochat's initial weights ------------------------------===//

#include "backends/host/Init.h"

#include "backends/common/Safetensors.h"
#include "backends/host/HostCommon.h"
#include "backends/host/Random.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace gptc;
using namespace gptc::host;

namespace {

bool endsWith(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

Status gptc::host::initParameters(const ProgramInfo &program, uint64_t seed,
                                  char *params) {
  for (size_t i = 0; i < program.numParams; ++i) {
    const BufferInfo &param = program.params[i];
    std::string name = param.name;
    if (param.rank != 2)
      return Status::error("cannot initialise parameter '{}' {}: nanochat's "
                           "initialisation knows only matrices",
                           name, formatShape(shapeOf(param)));
    float *values = view<float>(params, param.offset); // [out, in]
    int64_t n = param.numel();
    if (name == "lm_head.weight" || endsWith(name, ".attn.c_proj.weight") ||
        endsWith(name, ".mlp.c_proj.weight")) {
      std::fill(values, values + n, 0.0f);
      continue;
    }
    double std = 1.0;
    if (name != "transformer.wte.weight") {
      double fanOut = double(param.shape[0]), fanIn = double(param.shape[1]);
      std = 1.0 / std::sqrt(fanIn) * std::min(1.0, std::sqrt(fanOut / fanIn));
    }
    Rng rng = Rng::forStream(seed, "init:" + name);
    for (int64_t j = 0; j < n; ++j)
      values[j] = float(std * rng.normal());
  }
  return Status::success();
}
