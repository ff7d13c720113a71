//===- Verify.cpp - `gptc verify <bundle>` --------------------------------===//
//
// Compiles a reference bundle's model for the CPU, runs the program on the
// bundle's batch and compares logits and loss with the float64 reference.
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Compile.h"
#include "compiler/gptc/Options.h"

#include "backends/common/Safetensors.h"

#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <cmath>

using namespace mlir;
using namespace gptc;

namespace {

/// A reference bundle: golden.json, weights.safetensors, golden.safetensors.
struct Bundle {
  std::string dir;
  llvm::json::Object golden;
  std::string weightsPath() const { return dir + "/weights.safetensors"; }
  std::string goldenPath() const { return dir + "/golden.safetensors"; }

  /// A suggested tolerance from golden.json, or `fallback`.
  double tolerance(StringRef key, double fallback) const {
    if (const llvm::json::Object *tols =
            golden.getObject("suggested_tolerances"))
      if (std::optional<double> value = tols->getNumber(key))
        return *value;
    return fallback;
  }
};

/// One comparison line: "name  max|Δ| = x  (tolerance t)  ok|FAIL".
struct Check {
  std::string name;
  double error;
  double tolerance;
  bool ok() const { return error <= tolerance; } // NaN fails
};

} // namespace

static int verifyError(const llvm::Twine &message) {
  llvm::errs() << "gptc verify: error: " << message << "\n";
  return 1;
}

static double maxAbsDiff(const std::vector<float> &a,
                         const std::vector<double> &b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = std::fabs(double(a[i]) - b[i]);
    if (std::isnan(d))
      return d;
    worst = std::max(worst, d);
  }
  return worst;
}

int gptc::runVerify(const char *argv0) {
  Bundle bundle;
  bundle.dir = options::input;
  std::string jsonPath = bundle.dir + "/golden.json";
  llvm::Expected<llvm::json::Object> golden = readJsonObject(jsonPath);
  if (!golden) {
    llvm::errs() << llvm::toString(golden.takeError()) << "\n";
    return 1;
  }
  bundle.golden = std::move(*golden);

  // The batch decides the compiled [B, T].
  Expected<SafetensorsFile> reference =
      SafetensorsFile::open(bundle.goldenPath());
  if (!reference.ok())
    return verifyError(reference.status().message());
  const gptc::TensorInfo *tokens = reference->find("tokens");
  if (!tokens || tokens->shape.size() != 2)
    return verifyError(bundle.goldenPath() +
                       ": expected a tensor 'tokens' of shape [B, T]");
  int64_t B = tokens->shape[0], T = tokens->shape[1];

  // Work in --work-dir or a fresh temporary folder.
  SmallString<128> work(options::workDir);
  if (work.empty()) {
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("gptc-verify", work))
      return verifyError("cannot create a temporary folder: " + ec.message());
  } else if (std::error_code ec = llvm::sys::fs::create_directories(work)) {
    return verifyError("cannot create '" + work + "': " + ec.message());
  }
  std::string exe = (work + "/forward").str();
  std::string out = (work + "/out.safetensors").str();

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = loadModule(ctx, bundle.dir, B, T);
  if (!module)
    return 1;
  if (failed(runPipeline(*module, PipelineOptions{"cpu"}, Stage::EmitC)))
    return 1;
  if (llvm::Error err = writeCpp(*module, exe + ".cpp"))
    return verifyError(llvm::toString(std::move(err)));
  if (llvm::Error err = buildExecutable(exe + ".cpp", exe, "forward",
                                        options::cxx))
    return verifyError(llvm::toString(std::move(err)));

  std::string weights = bundle.weightsPath(), data = bundle.goldenPath();
  StringRef args[] = {exe, "--weights", weights, "--data", data, "--out", out};
  std::string runError;
  int rc = llvm::sys::ExecuteAndWait(exe, args, std::nullopt, {}, 0, 0,
                                     &runError);
  if (rc != 0)
    return verifyError("the compiled program failed (exit " + Twine(rc) +
                       ")" + (runError.empty() ? "" : ": " + runError));

  Expected<SafetensorsFile> result = SafetensorsFile::open(out);
  if (!result.ok())
    return verifyError(result.status().message());
  std::vector<int64_t> logitsShape = {B, T,
                                      reference->find("logits")
                                          ? reference->find("logits")->shape.back()
                                          : 0};
  int64_t numLogits = B * T * logitsShape[2];
  std::vector<float> logits(numLogits), loss(1);
  std::vector<double> refLogits(numLogits), refLoss(1);
  for (const Status &s :
       {result->readF32("logits", logitsShape, logits.data()),
        result->readF32("loss", {}, loss.data()),
        reference->readF64("logits_f64", logitsShape, refLogits.data()),
        reference->readF64("loss_f64", {}, refLoss.data())})
    if (!s.ok())
      return verifyError(s.message());

  double logitsTol = options::logitsTolerance > 0
                         ? double(options::logitsTolerance)
                         : bundle.tolerance("vs_f64_reference_logits_abs", 1e-4);
  double lossTol = options::lossTolerance > 0
                       ? double(options::lossTolerance)
                       : bundle.tolerance("loss_f32_abs", 1e-5);
  std::vector<Check> checks = {
      {"logits", maxAbsDiff(logits, refLogits), logitsTol},
      {"loss", maxAbsDiff(loss, refLoss), lossTol},
  };

  llvm::outs() << "verify " << bundle.dir << "  [B=" << B << ", T=" << T
               << "] against the float64 reference\n";
  bool allOk = true;
  for (const Check &check : checks) {
    llvm::outs() << llvm::format("  %-8s max |diff| = %.3e  (tolerance %.1e)  %s\n",
                                 check.name.c_str(), check.error,
                                 check.tolerance, check.ok() ? "ok" : "FAIL");
    allOk &= check.ok();
  }
  llvm::outs() << llvm::format("  loss %.7f (reference %.7f)\n", loss[0],
                               refLoss[0]);
  llvm::outs() << (allOk ? "PASS\n" : "FAIL\n");
  if (options::workDir.empty())
    llvm::sys::fs::remove_directories(work);
  return allOk ? 0 : 1;
}
