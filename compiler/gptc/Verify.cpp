//===- Verify.cpp - `gptc verify <bundle>` --------------------------------===//
//
// Compiles a reference bundle's model for the --target, runs the programs on
// the bundle's batch and prompt and compares with the float64 reference:
// logits and loss, the training step's loss and gradients under every
// recompute policy, and the greedy decode through the KV cache (its step
// logits, its tokens, and chunked prefill against one token at a time).
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Compile.h"
#include "compiler/gptc/Options.h"

#include "backends/common/Program.h"
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

/// Prints each check's line and remembers whether all passed.
class Report {
public:
  void add(const Check &check) {
    llvm::outs() << llvm::format("  %-32s max |diff| = %.3e  (tolerance "
                                 "%.1e)  %s\n",
                                 check.name.c_str(), check.error,
                                 check.tolerance, check.ok() ? "ok" : "FAIL");
    allOk &= check.ok();
  }
  /// A check without a tolerance, printed by the caller.
  void add(bool ok) { allOk &= ok; }
  bool ok() const { return allOk; }

private:
  bool allOk = true;
};

/// The float64 reference of a bundle's batch.
struct Reference {
  SafetensorsFile file;
  int64_t B = 0, T = 0;
  std::vector<int64_t> logitsShape; // [B, T, V]
  std::vector<double> logits;       // [B, T, V]
  double loss = 0;
  bool hasGradients = false;
};

/// How far each result may be from the reference.
struct Tolerances {
  /// Whether attention multiplies in bf16, which the tolerances allow for.
  bool bf16Attention = false;
  double logits = 0, loss = 0, grads = 0;
  double decode = 0; // decoding attends in fp32 on every target
  double policy = 0; // one recompute policy's gradients against another's
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
static llvm::Expected<int64_t>
compileBundle(const Bundle &bundle, Mode mode, const GraphShape &shape,
              const PipelineOptions &options, const std::string &exe,
              Host host, StringRef cxx, bool arenaOnly) {
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = loadModule(ctx, bundle.dir, mode, shape);
  if (!module)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot build the bundle's model");
  if (failed(runPipeline(*module, mode, options,
                         arenaOnly ? Stage::Planned : Stage::EmitC)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the " + enumName(mode) +
                                       " pipeline failed");
  if (arenaOnly)
    return module->lookupSymbol<func::FuncOp>("train_step")
        ->getAttrOfType<IntegerAttr>("gptc.arena_bytes")
        .getInt();
  const TargetInfo &target = getTargetInfo(options.target);
  std::string source = sourcePathFor(exe, target);
  if (llvm::Error err = writeCpp(*module, source))
    return std::move(err);
  if (llvm::Error err =
          buildExecutable(source, exe, enumName(host), target, cxx))
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
static Expected<double> gradientError(const SafetensorsFile &result,
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
         {result.readF32((checks::kGradPrefix + name).str(), ref.shape, got.data()),
          reference.readF64(ref.name, ref.shape, want.data())})
      if (!s.ok())
        return s;
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

/// Opens the bundle in `dir`: golden.json, whose model gptc must be able to
/// build (a model it cannot is refused once, naming the field).
static Expected<Bundle> openBundle(const std::string &dir) {
  Bundle bundle;
  bundle.dir = dir;
  llvm::Expected<llvm::json::Object> golden =
      readJsonObject(dir + "/golden.json");
  if (!golden)
    return Status::error("{}", llvm::toString(golden.takeError()));
  bundle.golden = std::move(*golden);
  if (llvm::Expected<GPTConfig> config = loadModelConfig(dir); !config)
    return Status::error("{}", llvm::toString(config.takeError()));
  return bundle;
}

/// The bundle's batch [B, T] (which decides the compiled shape), its
/// reference logits and loss, and whether it has gradients.
static Expected<Reference> readReference(const Bundle &bundle) {
  Expected<SafetensorsFile> file = SafetensorsFile::open(bundle.goldenPath());
  if (!file.ok())
    return file.status();
  Reference reference{std::move(*file)};
  const gptc::TensorInfo *tokens = reference.file.find("tokens");
  const gptc::TensorInfo *logits = reference.file.find("logits_f64");
  if (!tokens || tokens->shape.size() != 2 || !logits)
    return Status::error("{}: expected tensors 'tokens' [B, T] and "
                         "'logits_f64'",
                         bundle.goldenPath());
  reference.B = tokens->shape[0];
  reference.T = tokens->shape[1];
  reference.logitsShape = logits->shape;
  reference.hasGradients =
      llvm::any_of(reference.file.getTensors(), [](auto &t) {
        return StringRef(t.name).starts_with("grad_f64.");
      });
  reference.logits.resize(logits->numel);
  for (const Status &s :
       {reference.file.readF64("logits_f64", logits->shape,
                               reference.logits.data()),
        reference.file.readF64("loss_f64", {}, &reference.loss)})
    if (!s.ok())
      return s;
  return reference;
}

/// The tolerances of the bundle's checks on --target, the command line's
/// where given.
static Tolerances tolerancesFor(const Bundle &bundle,
                                const DriverOptions &options) {
  Tolerances tol;
  // The CUDA backend's attention multiplies on bf16 tensor cores (8
  // significant bits, as FlashAttention and cuDNN do): its results are held
  // to bf16 tolerances, not the bundle's float32 ones, unless told otherwise.
  tol.bf16Attention = options.targetInfo().bf16Attention;
  const ToleranceOverrides &given = options.tolerances;
  auto pick = [&](std::optional<double> given, StringRef key, double fallback,
                  double bf16) {
    if (given)
      return *given;
    return tol.bf16Attention ? bf16 : bundle.tolerance(key, fallback);
  };
  tol.logits = pick(given.logits, "vs_f64_reference_logits_abs", 1e-4, 5e-2);
  tol.loss = pick(given.loss, "loss_f32_abs", 1e-5, 2e-3);
  tol.grads = pick(given.grads, "grads_f32_rel_to_max", 1e-4, 2e-2);
  // Decoding attends in fp32 on every target: the bundle's tolerance.
  tol.decode = given.logits ? *given.logits
                            : bundle.tolerance("vs_f64_reference_logits_abs",
                                               1e-4);
  // The CPU kernels are deterministic; CUDA's attention backward sums dq with
  // atomics, in an order that varies from run to run.
  tol.policy = tol.bf16Attention ? 1e-5 : 1e-6;
  return tol;
}

/// The recompute policies to train under: minimal alone without gradients;
/// otherwise none, minimal, full and auto, which gets a budget between the
/// full and minimal plans, so that it mixes the two. --target, --attention
/// and --precision come from the command line.
static Expected<std::vector<PipelineOptions>>
recomputePolicies(const Bundle &bundle, const Reference &reference,
                  const DriverOptions &options) {
  auto withPolicy = [&](RecomputePolicy recompute, int64_t budget) {
    PipelineOptions policy = options.pipeline;
    policy.recompute = recompute;
    policy.memoryBudget = budget;
    return policy;
  };
  if (!reference.hasGradients)
    return std::vector<PipelineOptions>{
        withPolicy(RecomputePolicy::Minimal, 0)};
  std::vector<PipelineOptions> policies = {
      withPolicy(RecomputePolicy::None, 0),
      withPolicy(RecomputePolicy::Minimal, 0),
      withPolicy(RecomputePolicy::Full, 0)};
  GraphShape shape{reference.B, reference.T};
  auto arenaOf = [&](const PipelineOptions &policy) {
    return compileBundle(bundle, Mode::Train, shape, policy, "",
                         Host::GradCheck, options.cxx, /*arenaOnly=*/true);
  };
  llvm::Expected<int64_t> minimal = arenaOf(policies[1]);
  llvm::Expected<int64_t> full = arenaOf(policies[2]);
  if (!minimal || !full)
    return Status::error(
        "{}", llvm::toString(minimal ? full.takeError() : minimal.takeError()));
  policies.push_back(withPolicy(RecomputePolicy::Auto, (*minimal + *full) / 2));
  return policies;
}

/// The forward pass of a gradcheck `result`: its logits and loss against the
/// reference.
static Status checkLogitsAndLoss(const SafetensorsFile &result,
                                 const Reference &reference,
                                 const Tolerances &tol, Report &report) {
  std::vector<float> logits(reference.logits.size()), loss(1);
  for (const Status &s :
       {result.readF32(checks::kLogits, reference.logitsShape, logits.data()),
        result.readF32(checks::kLoss, {}, loss.data())})
    if (!s.ok())
      return s;
  report.add({"logits", maxAbsDiff(logits, reference.logits), tol.logits});
  report.add({"loss", maxAbsDiff(loss, {reference.loss}), tol.loss});
  llvm::outs() << llvm::format("  loss %.7f (reference %.7f)\n", loss[0],
                               reference.loss);
  return Status::success();
}

/// The training step of a gradcheck `result` under the policy `label`: its
/// loss and, when the bundle has them, its gradients against the
/// reference.
static Status checkTrainingStep(const SafetensorsFile &result,
                                const Reference &reference,
                                const std::string &label, const Tolerances &tol,
                                Report &report) {
  std::vector<float> stepLoss(1);
  if (Status s = result.readF32(checks::kStepLoss, {}, stepLoss.data()); !s.ok())
    return s;
  report.add({"training-step loss, " + label,
              maxAbsDiff(stepLoss, {reference.loss}), tol.loss});
  if (!reference.hasGradients)
    return Status::success();
  std::string worstName;
  Expected<double> gradError = gradientError(result, reference.file, worstName);
  if (!gradError.ok())
    return gradError.status();
  report.add({"gradients, " + label, *gradError, tol.grads});
  llvm::outs() << "    (worst: " << worstName << ", relative to its "
               << "largest gradient)\n";
  return Status::success();
}

/// Recomputing must not change the gradients: those of `result` (policy
/// `label`) against those of `first` (policy `firstLabel`), relative to each
/// tensor's largest gradient.
static Status checkPolicyAgreement(const SafetensorsFile &first,
                                   const SafetensorsFile &result,
                                   const std::string &label,
                                   const std::string &firstLabel,
                                   const Tolerances &tol, Report &report) {
  double worst = 0;
  for (const gptc::TensorInfo &grad : first.getTensors()) {
    if (!StringRef(grad.name).starts_with(checks::kGradPrefix))
      continue;
    std::vector<float> want(grad.numel), got(grad.numel);
    for (const Status &s : {first.readF32(grad.name, grad.shape, want.data()),
                            result.readF32(grad.name, grad.shape, got.data())})
      if (!s.ok())
        return s;
    double scale = 0;
    for (float g : want)
      scale = std::max(scale, double(std::fabs(g)));
    std::vector<double> wantWide(want.begin(), want.end());
    worst =
        std::max(worst, maxAbsDiff(got, wantWide) / (scale > 0 ? scale : 1.0));
  }
  report.add({"gradients, " + label + " vs " + firstLabel, worst, tol.policy});
  return Status::success();
}

/// Compiles and runs the gradcheck program under each recompute policy in
/// `work`: the forward pass (with the first policy), then each policy's
/// training step, and each policy's gradients against the first's.
static Status verifyTraining(const Bundle &bundle, const Reference &reference,
                             const DriverOptions &options, StringRef work,
                             const Tolerances &tol, Report &report) {
  Expected<std::vector<PipelineOptions>> policies =
      recomputePolicies(bundle, reference, options);
  if (!policies.ok())
    return policies.status();
  std::optional<SafetensorsFile> first; // the first policy's results
  for (const PipelineOptions &policy : *policies) {
    std::string exe =
        (work + "/gradcheck-" + enumName(policy.recompute)).str();
    if (llvm::Expected<int64_t> built = compileBundle(
            bundle, Mode::Train, GraphShape{reference.B, reference.T}, policy,
            exe, Host::GradCheck, options.cxx, /*arenaOnly=*/false);
        !built)
      return Status::error("{}", llvm::toString(built.takeError()));
    Expected<SafetensorsFile> result = runProgram(bundle, exe);
    if (!result.ok())
      return result.status();
    const bool isFirst = &policy == &policies->front();
    if (isFirst)
      if (Status s = checkLogitsAndLoss(*result, reference, tol, report);
          !s.ok())
        return s;
    std::string label = "recompute=" + enumName(policy.recompute).str();
    if (Status s = checkTrainingStep(*result, reference, label, tol, report);
        !s.ok())
      return s;
    if (!reference.hasGradients)
      continue;
    if (isFirst) {
      first = std::move(*result);
      continue;
    }
    if (Status s = checkPolicyAgreement(
            *first, *result, label, enumName(policies->front().recompute).str(), tol,
            report);
        !s.ok())
      return s;
  }
  if (!reference.hasGradients)
    llvm::outs() << "  (the bundle has no gradients to check)\n";
  return Status::success();
}

/// The decode check's step logits against the reference's.
static Status checkDecodeSteps(const SafetensorsFile &result,
                               const Bundle &bundle, const Reference &reference,
                               const Tolerances &tol, Report &report) {
  const gptc::TensorInfo *refSteps =
      reference.file.find("decode.step_logits_f64");
  if (!refSteps)
    return Status::error("{}: no 'decode.step_logits_f64' to compare with",
                         bundle.goldenPath());
  std::vector<float> steps(refSteps->numel);
  std::vector<double> refStepLogits(refSteps->numel);
  for (const Status &s :
       {result.readF32(checks::kStepLogits, refSteps->shape, steps.data()),
        reference.file.readF64("decode.step_logits_f64", refSteps->shape,
                               refStepLogits.data())})
    if (!s.ok())
      return s;
  report.add({"decode step logits (KV cache)", maxAbsDiff(steps, refStepLogits),
              tol.decode});
  return Status::success();
}

/// The prompt's logits fed in prefill chunks against those of the same
/// prompt fed one token at a time, as the decode check measured them.
static Status checkChunkedPrefill(const SafetensorsFile &result,
                                  const Tolerances &tol, Report &report) {
  float chunkedDiff = 0;
  if (Status s = result.readF32(checks::kChunkedPrefillDiff, {}, &chunkedDiff);
      !s.ok())
    return s;
  report.add({"chunked prefill vs one token at a time", double(chunkedDiff),
              tol.decode});
  return Status::success();
}

/// The decode check's greedy tokens, which must equal the reference's.
static Status checkGreedyTokens(const SafetensorsFile &result,
                                const Reference &reference, Report &report) {
  std::vector<int64_t> refTokens, gotTokens, tokenShape;
  for (const Status &s :
       {result.readI64(checks::kTokens, gotTokens, tokenShape),
        reference.file.readI64("decode.tokens", refTokens, tokenShape)})
    if (!s.ok())
      return s;
  bool same = gotTokens == refTokens;
  llvm::outs() << "  greedy tokens: " << gotTokens.size() << " generated, "
               << (same ? "equal to the reference  ok" : "DIFFERENT  FAIL")
               << "\n";
  report.add(same);
  return Status::success();
}

/// Greedy decode of the bundle's 'decode.prompt' through the KV cache, when
/// it has one: compiles the decode check (one row, the prompt prefilled in
/// two chunks, then one token per step) in `work`, runs it and checks its
/// results.
static Status verifyDecode(const Bundle &bundle, const Reference &reference,
                           const DriverOptions &options, StringRef work,
                           const Tolerances &tol, Report &report) {
  const gptc::TensorInfo *prompt = reference.file.find("decode.prompt");
  if (!prompt)
    return Status::success();
  GraphShape shape{1, 0, /*rows=*/1,
                   /*prefillChunk=*/std::max<int64_t>(1, prompt->numel / 2)};
  std::string exe = (work + "/decodecheck").str();
  PipelineOptions decodeOptions = options.pipeline;
  decodeOptions.kvCapacity = bundle.sequenceLen();
  if (llvm::Expected<int64_t> built =
          compileBundle(bundle, Mode::Decode, shape, decodeOptions, exe,
                        Host::DecodeCheck, options.cxx, /*arenaOnly=*/false);
      !built)
    return Status::error("{}", llvm::toString(built.takeError()));
  Expected<SafetensorsFile> result = runProgram(bundle, exe);
  if (!result.ok())
    return result.status();
  if (Status s = checkDecodeSteps(*result, bundle, reference, tol, report);
      !s.ok())
    return s;
  if (Status s = checkChunkedPrefill(*result, tol, report); !s.ok())
    return s;
  return checkGreedyTokens(*result, reference, report);
}

/// --work-dir, created if needed, or a fresh temporary folder.
static Status makeWorkFolder(StringRef workDir, SmallString<128> &work) {
  work = workDir;
  if (work.empty()) {
    if (std::error_code ec =
            llvm::sys::fs::createUniqueDirectory("gptc-verify", work))
      return Status::error("cannot create a temporary folder: {}",
                           ec.message());
  } else if (std::error_code ec = llvm::sys::fs::create_directories(work)) {
    return Status::error("cannot create '{}': {}", work.str().str(),
                         ec.message());
  }
  return Status::success();
}

int gptc::runVerify(const DriverOptions &options) {
  Expected<Bundle> bundle = openBundle(options.input);
  if (!bundle.ok()) {
    llvm::errs() << bundle.status().message() << "\n";
    return 1;
  }
  Expected<Reference> reference = readReference(*bundle);
  if (!reference.ok())
    return verifyError(reference.status().message());
  SmallString<128> work;
  if (Status s = makeWorkFolder(options.workDir, work); !s.ok())
    return verifyError(s.message());
  Tolerances tol = tolerancesFor(*bundle, options);

  llvm::outs() << "verify " << bundle->dir << "  [B=" << reference->B
               << ", T=" << reference->T << "] against the float64 reference"
               << (tol.bf16Attention ? " (bf16 attention tolerances)" : "")
               << "\n";
  Report report;
  for (auto verify : {verifyTraining, verifyDecode})
    if (Status s = verify(*bundle, *reference, options, work, tol, report);
        !s.ok())
      return verifyError(s.message());
  llvm::outs() << (report.ok() ? "PASS\n" : "FAIL\n");
  if (options.workDir.empty())
    llvm::sys::fs::remove_directories(work);
  return report.ok() ? 0 : 1;
}
