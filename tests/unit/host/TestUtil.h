//===- TestUtil.h - temporary folders and training runs --------*- C++ -*-===//

#ifndef GPTC_TESTS_UNIT_HOST_TESTUTIL_H
#define GPTC_TESTS_UNIT_HOST_TESTUTIL_H

#include "FakeProgram.h"
#include "backends/common/FileUtil.h"
#include "backends/host/TrainMain.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace gptc::host::test {

/// A fresh folder under /tmp, removed with everything in it on destruction.
class TempDir {
public:
  TempDir() {
    char name[] = "/tmp/gptc-host-test-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  /// `name` inside the folder.
  std::string operator/(const std::string &name) const {
    return path + "/" + name;
  }

private:
  std::string path;
};

/// Writes `contents` to `path`.
inline void writeTestFile(const std::string &path,
                          const std::string &contents) {
  ASSERT_TRUE(writeFileAtomically(path, {contents}).ok()) << path;
}

/// The contents of `path` ("" when it cannot be read).
inline std::string readTestFile(const std::string &path) {
  Expected<std::string> contents = readFile(path);
  return contents.ok() ? *contents : "";
}

/// Runs the training program with `args` against the fake program, whose
/// train_step returns NaN from call `nanFromCall` on (-1: never), and
/// returns the outcome; stdout goes to `output` when given, the exit status
/// to `exitCode`.
inline Status train(const std::vector<std::string> &args,
                    std::string *output = nullptr, int64_t nanFromCall = -1,
                    int *exitCode = nullptr) {
  std::vector<std::string> storage = {"gptc-train"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (std::string &arg : storage)
    argv.push_back(arg.data());
  fake::trainStepCalls = 0;
  fake::nanFromCall = nanFromCall;
  testing::internal::CaptureStdout();
  Expected<int> result = runTraining(int(argv.size()), argv.data());
  Status status = result.ok() ? Status::success() : result.status();
  if (exitCode)
    *exitCode = result.ok() ? *result : 1;
  std::string printed = testing::internal::GetCapturedStdout();
  if (output)
    *output = printed;
  return status;
}

/// Text with enough structure for the fake bigram model to learn.
inline std::string repetitiveText(size_t bytes) {
  const std::string line = "the quick brown fox jumps over the lazy dog\n";
  std::string text;
  while (text.size() < bytes)
    text += line;
  return text.substr(0, bytes);
}

} // namespace gptc::host::test

#endif // GPTC_TESTS_UNIT_HOST_TESTUTIL_H
