//===- Verify.cpp - `gptc verify <bundle>` --------------------------------===//
//
// Compiles a reference bundle's model for the CPU, runs the program on the
// bundle's batch and compares logits and loss with the float64 reference.
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Compile.h"
#include "compiler/gptc/Options.h"

#include "backends/common/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
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

  /// The model's sequence_len.
  int64_t sequenceLen() const {
    const llvm::json::Object *config = golden.getObject("config");
    return config ? config->getInteger("sequence_len").value_or(0) : 0;
  }

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

/// Compiles the bundle's model in `mode` at `shape` under `options` into the
/// program `exe` with the host main `host`, or returns the planned arena of
/// @train_step when `arenaOnly`.
static llvm::Expected<int64_t> compileBundle(const Bundle &bundle, Mode mode,
                                             const GraphShape &shape,
                                             const PipelineOptions &options,
                                             const std::string &exe,
                                             StringRef host, bool arenaOnly) {
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = loadModule(ctx, bundle.dir, mode, shape);
  if (!module)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot build the bundle's model");
  if (failed(runPipeline(*module, mode, options,
                         arenaOnly ? Stage::Planned : Stage::EmitC)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the " + modeName(mode) +
                                       " pipeline failed");
  if (arenaOnly)
    return module->lookupSymbol<func::FuncOp>("train_step")
        ->getAttrOfType<IntegerAttr>("gptc.arena_bytes")
        .getInt();
  std::string source = sourcePathFor(exe, options::target);
  if (llvm::Error err = writeCpp(*module, source))
    return std::move(err);
  if (llvm::Error err =
          buildExecutable(source, exe, host, options::target, options::cxx))
    return std::move(err);
  return 0;
}

/// Runs `exe --weights W --data D --out <exe>.safetensors` and opens the
/// output.
static Expected<SafetensorsFile> runProgram(const Bundle &bundle,
                                            const std::string &exe) {
  std::string weights = bundle.weightsPath(), data = bundle.goldenPath();
  std::string out = exe + ".safetensors";
  StringRef args[] = {exe, "--weights", weights, "--data", data, "--out", out};
  std::string runError;
  int rc =
      llvm::sys::ExecuteAndWait(exe, args, std::nullopt, {}, 0, 0, &runError);
  if (rc != 0)
    return Status::error("the compiled program {} failed (exit {}){}", exe, rc,
                         runError.empty() ? "" : ": " + runError);
  return SafetensorsFile::open(out);
}

/// The worst gradient error over all parameters, relative to the largest
/// reference gradient of each tensor; `worstName` names that tensor.
static llvm::Expected<double> gradientError(const SafetensorsFile &result,
                                            const SafetensorsFile &reference,
                                            std::string &worstName) {
  double worst = 0;
  for (const gptc::TensorInfo &ref : reference.getTensors()) {
    StringRef name = ref.name;
    if (!name.consume_front("grad_f64."))
      continue;
    std::vector<float> got(ref.numel);
    std::vector<double> want(ref.numel);
    for (const Status &s :
         {result.readF32(("grad." + name).str(), ref.shape, got.data()),
          reference.readF64(ref.name, ref.shape, want.data())})
      if (!s.ok())
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       s.message());
    double scale = 0;
    for (double w : want)
      scale = std::max(scale, std::fabs(w));
    double error = maxAbsDiff(got, want) / (scale > 0 ? scale : 1.0);
    if (std::isnan(error) || error > worst) {
      worst = error;
      worstName = name.str();
    }
    if (std::isnan(error))
      break;
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
  // A model gptc cannot build is refused once, naming the field.
  if (llvm::Expected<GPTConfig> config = loadModelConfig(bundle.dir); !config) {
    llvm::errs() << llvm::toString(config.takeError()) << "\n";
    return 1;
  }

  // The batch decides the compiled [B, T].
  Expected<SafetensorsFile> reference =
      SafetensorsFile::open(bundle.goldenPath());
  if (!reference.ok())
    return verifyError(reference.status().message());
  const gptc::TensorInfo *tokens = reference->find("tokens");
  const gptc::TensorInfo *refLogitsInfo = reference->find("logits_f64");
  if (!tokens || tokens->shape.size() != 2 || !refLogitsInfo)
    return verifyError(bundle.goldenPath() +
                       ": expected tensors 'tokens' [B, T] and 'logits_f64'");
  int64_t B = tokens->shape[0], T = tokens->shape[1];
  bool hasGradients = llvm::any_of(reference->getTensors(), [](auto &t) {
    return StringRef(t.name).starts_with("grad_f64.");
  });

  // Work in --work-dir or a fresh temporary folder.
  SmallString<128> work(options::workDir);
  if (work.empty()) {
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("gptc-verify", work))
      return verifyError("cannot create a temporary folder: " + ec.message());
  } else if (std::error_code ec = llvm::sys::fs::create_directories(work)) {
    return verifyError("cannot create '" + work + "': " + ec.message());
  }

  // Every recompute policy must give the same gradients; auto gets a budget
  // between the full and minimal plans, so that it mixes the two.
  // --target, --attention and --precision come from the command line.
  auto withPolicy = [](StringRef recompute, int64_t budget) {
    PipelineOptions policy = pipelineOptions(0);
    policy.recompute = recompute.str();
    policy.memoryBudget = budget;
    return policy;
  };
  std::vector<PipelineOptions> policies = {withPolicy("minimal", 0)};
  if (hasGradients) {
    policies = {withPolicy("none", 0), withPolicy("minimal", 0),
                withPolicy("full", 0)};
    llvm::Expected<int64_t> minimal =
        compileBundle(bundle, Mode::Train, GraphShape{B, T}, policies[1], "",
                      "", /*arenaOnly=*/true);
    llvm::Expected<int64_t> full =
        compileBundle(bundle, Mode::Train, GraphShape{B, T}, policies[2], "",
                      "", /*arenaOnly=*/true);
    if (!minimal || !full)
      return verifyError(
          llvm::toString(minimal ? full.takeError() : minimal.takeError()));
    policies.push_back(withPolicy("auto", (*minimal + *full) / 2));
  }

  // The CUDA backend's attention multiplies on bf16 tensor cores (8
  // significant bits, as FlashAttention and cuDNN do): its results are held
  // to bf16 tolerances, not the bundle's float32 ones, unless told otherwise.
  bool bf16Attention = options::target != "cpu";
  auto pick = [&](double given, StringRef key, double fallback, double bf16) {
    if (given > 0)
      return given;
    return bf16Attention ? bf16 : bundle.tolerance(key, fallback);
  };
  double logitsTol =
      pick(options::logitsTolerance, "vs_f64_reference_logits_abs", 1e-4, 5e-2);
  double lossTol = pick(options::lossTolerance, "loss_f32_abs", 1e-5, 2e-3);
  double gradTol =
      pick(options::gradsTolerance, "grads_f32_rel_to_max", 1e-4, 2e-2);
  // Decoding attends in fp32 on every target: the bundle's tolerance.
  double decodeTol =
      options::logitsTolerance > 0
          ? double(options::logitsTolerance)
          : bundle.tolerance("vs_f64_reference_logits_abs", 1e-4);
  // The CPU kernels are deterministic; CUDA's attention backward sums dq with
  // atomics, in an order that varies from run to run.
  double policyTol = options::target == "cpu" ? 1e-6 : 1e-5;
  std::vector<double> refLogits(refLogitsInfo->numel), refLoss(1);
  for (const Status &s : {reference->readF64("logits_f64", refLogitsInfo->shape,
                                             refLogits.data()),
                          reference->readF64("loss_f64", {}, refLoss.data())})
    if (!s.ok())
      return verifyError(s.message());

  llvm::outs() << "verify " << bundle.dir << "  [B=" << B << ", T=" << T
               << "] against the float64 reference"
               << (bf16Attention ? " (bf16 attention tolerances)" : "") << "\n";
  bool allOk = true;
  auto report = [&](const Check &check) {
    llvm::outs() << llvm::format("  %-32s max |diff| = %.3e  (tolerance "
                                 "%.1e)  %s\n",
                                 check.name.c_str(), check.error,
                                 check.tolerance, check.ok() ? "ok" : "FAIL");
    allOk &= check.ok();
  };
  std::optional<SafetensorsFile> firstPolicy; // the first policy's results
  for (const PipelineOptions &policy : policies) {
    std::string exe = (work + "/gradcheck-" + policy.recompute).str();
    if (llvm::Expected<int64_t> built =
            compileBundle(bundle, Mode::Train, GraphShape{B, T}, policy, exe,
                          "gradcheck", /*arenaOnly=*/false);
        !built)
      return verifyError(llvm::toString(built.takeError()));
    Expected<SafetensorsFile> result = runProgram(bundle, exe);
    if (!result.ok())
      return verifyError(result.status().message());
    std::vector<float> logits(refLogitsInfo->numel), loss(1), stepLoss(1);
    for (const Status &s :
         {result->readF32("logits", refLogitsInfo->shape, logits.data()),
          result->readF32("loss", {}, loss.data()),
          result->readF32("step_loss", {}, stepLoss.data())})
      if (!s.ok())
        return verifyError(s.message());
    if (&policy == &policies.front()) {
      report({"logits", maxAbsDiff(logits, refLogits), logitsTol});
      report({"loss", maxAbsDiff(loss, refLoss), lossTol});
      llvm::outs() << llvm::format("  loss %.7f (reference %.7f)\n", loss[0],
                                   refLoss[0]);
    }
    std::string label = "recompute=" + policy.recompute;
    report({"training-step loss, " + label, maxAbsDiff(stepLoss, refLoss),
            lossTol});
    if (!hasGradients)
      continue;
    std::string worstName;
    llvm::Expected<double> gradError =
        gradientError(*result, *reference, worstName);
    if (!gradError)
      return verifyError(llvm::toString(gradError.takeError()));
    report({"gradients, " + label, *gradError, gradTol});
    llvm::outs() << "    (worst: " << worstName << ", relative to its "
                 << "largest gradient)\n";
    // Recomputing must not change the gradients: each policy against the
    // first, relative to each tensor's largest gradient.
    if (&policy == &policies.front()) {
      firstPolicy = std::move(*result);
      continue;
    }
    double worst = 0;
    for (const gptc::TensorInfo &grad : firstPolicy->getTensors()) {
      if (!StringRef(grad.name).starts_with("grad."))
        continue;
      std::vector<float> first(grad.numel), got(grad.numel);
      for (const Status &s :
           {firstPolicy->readF32(grad.name, grad.shape, first.data()),
            result->readF32(grad.name, grad.shape, got.data())})
        if (!s.ok())
          return verifyError(s.message());
      double scale = 0;
      for (float g : first)
        scale = std::max(scale, double(std::fabs(g)));
      std::vector<double> firstWide(first.begin(), first.end());
      worst = std::max(worst,
                       maxAbsDiff(got, firstWide) / (scale > 0 ? scale : 1.0));
    }
    report({"gradients, " + label + " vs " + policies.front().recompute, worst,
            policyTol});
  }
  if (!hasGradients)
    llvm::outs() << "  (the bundle has no gradients to check)\n";

  // Greedy decode through the KV cache: prefill the prompt in two chunks,
  // then one token per step.
  if (const gptc::TensorInfo *prompt = reference->find("decode.prompt")) {
    int64_t promptLen = prompt->numel;
    GraphShape shape{1, 0, /*rows=*/1,
                     /*prefillChunk=*/std::max<int64_t>(1, promptLen / 2)};
    std::string exe = (work + "/decodecheck").str();
    PipelineOptions decodeOptions = pipelineOptions(bundle.sequenceLen());
    if (llvm::Expected<int64_t> built =
            compileBundle(bundle, Mode::Decode, shape, decodeOptions, exe,
                          "decodecheck", /*arenaOnly=*/false);
        !built)
      return verifyError(llvm::toString(built.takeError()));
    Expected<SafetensorsFile> result = runProgram(bundle, exe);
    if (!result.ok())
      return verifyError(result.status().message());
    const gptc::TensorInfo *refSteps =
        reference->find("decode.step_logits_f64");
    std::vector<int64_t> refTokens, gotTokens, tokenShape;
    if (!refSteps)
      return verifyError(bundle.goldenPath() +
                         ": no 'decode.step_logits_f64' to compare with");
    std::vector<float> steps(refSteps->numel), chunkedDiff(1);
    std::vector<double> refStepLogits(refSteps->numel);
    for (const Status &s :
         {result->readF32("step_logits", refSteps->shape, steps.data()),
          result->readF32("chunked_prefill_diff", {}, chunkedDiff.data()),
          result->readI64("tokens", gotTokens, tokenShape),
          reference->readI64("decode.tokens", refTokens, tokenShape),
          reference->readF64("decode.step_logits_f64", refSteps->shape,
                             refStepLogits.data())})
      if (!s.ok())
        return verifyError(s.message());
    report({"decode step logits (KV cache)", maxAbsDiff(steps, refStepLogits),
            decodeTol});
    report({"chunked prefill vs one token at a time", double(chunkedDiff[0]),
            decodeTol});
    bool same = gotTokens == refTokens;
    llvm::outs() << "  greedy tokens: " << gotTokens.size() << " generated, "
                 << (same ? "equal to the reference  ok" : "DIFFERENT  FAIL")
                 << "\n";
    allOk &= same;
  }
  llvm::outs() << (allOk ? "PASS\n" : "FAIL\n");
  if (options::workDir.empty())
    llvm::sys::fs::remove_directories(work);
  return allOk ? 0 : 1;
}
