//===- SafetensorsTest.cpp - tests of safetensors and file I/O ------------===//
//
// Bad files are built byte by byte in a fresh temporary directory per test.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Safetensors.h"
#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

using namespace gptc;

namespace {

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

const std::string kGoldenDir =
    std::string(GPTC_SOURCE_DIR) + "/tests/golden/classic-gqa/";

void writeRaw(const std::string &path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

std::string readOk(const std::string &path) {
  Expected<std::string> contents = readFile(path);
  EXPECT_TRUE(contents.ok()) << contents.status().message();
  return contents.ok() ? *contents : std::string();
}

/// The bytes of a safetensors file with `header` and `data`.
std::string makeFile(std::string_view header, std::string_view data = "") {
  uint64_t headerSize = header.size();
  std::string bytes(sizeof(headerSize), '\0');
  std::memcpy(bytes.data(), &headerSize, sizeof(headerSize));
  bytes += header;
  bytes += data;
  return bytes;
}

/// A fresh directory per test, removed afterwards.
class FileTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "gptc-common-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir = pattern;
  }

  void TearDown() override {
    ::chmod(dir.c_str(), 0700);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }

  std::string pathOf(const std::string &name) const { return dir + "/" + name; }

  /// The names in the directory, sorted.
  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto &entry : std::filesystem::directory_iterator(dir, error))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir;
};

/// Limits the size of files this process writes, so a write fails midway
/// with EFBIG (root ignores permissions, not this).
class FileSizeLimit {
public:
  explicit FileSizeLimit(rlim_t bytes) {
    previousHandler = std::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &previous);
    rlimit limit = previous;
    limit.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &previous);
    std::signal(SIGXFSZ, previousHandler);
  }

private:
  rlimit previous;
  void (*previousHandler)(int);
};

//===----------------------------------------------------------------------===//
// FileUtil
//===----------------------------------------------------------------------===//

using FileUtilTest = FileTest;

TEST_F(FileUtilTest, ReadFileContents) {
  std::string contents;
  for (int i = 0; i < 300000; ++i)
    contents.push_back(static_cast<char>(i * 7));
  writeRaw(pathOf("big"), contents);
  EXPECT_EQ(readOk(pathOf("big")), contents);
  writeRaw(pathOf("empty"), "");
  EXPECT_EQ(readOk(pathOf("empty")), "");
}

TEST_F(FileUtilTest, ReadFileErrors) {
  Expected<std::string> missing = readFile(pathOf("missing"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            pathOf("missing") + ": cannot open: No such file or directory");
  Expected<std::string> directory = readFile(dir);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().message(),
            dir + ": is a directory, expected a file");
}

TEST_F(FileUtilTest, AtomicWriteCreatesAndReplaces) {
  std::string path = pathOf("out");
  ASSERT_TRUE(writeFileAtomically(path, {"ab", "", "cd"}).ok());
  EXPECT_EQ(readOk(path), "abcd");
  ASSERT_TRUE(writeFileAtomically(path, {"x"}).ok());
  EXPECT_EQ(readOk(path), "x");
  EXPECT_EQ(listDir(), std::vector<std::string>{"out"});
}

TEST_F(FileUtilTest, AtomicWriteIntoMissingDirectoryFails) {
  std::string path = pathOf("missing/out");
  Status status = writeFileAtomically(path, {"x"});
  ASSERT_FALSE(status.ok());
  EXPECT_CONTAINS(status.message(), path + ": cannot create temporary file");
  EXPECT_CONTAINS(status.message(), "No such file or directory");
  EXPECT_TRUE(listDir().empty());
}

TEST_F(FileUtilTest, FailedRenameRemovesTemporaryFile) {
  // Renaming a file over a directory fails after all data is written.
  ASSERT_EQ(::mkdir(pathOf("target").c_str(), 0700), 0);
  Status status = writeFileAtomically(pathOf("target"), {"data"});
  ASSERT_FALSE(status.ok());
  EXPECT_CONTAINS(status.message(), "cannot rename temporary file");
  EXPECT_EQ(listDir(), std::vector<std::string>{"target"});
}

TEST_F(FileUtilTest, UnwritableDirectoryKeepsExistingFile) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root ignores directory permissions";
  std::string path = pathOf("out");
  writeRaw(path, "old");
  ASSERT_EQ(::chmod(dir.c_str(), 0500), 0);
  Status status = writeFileAtomically(path, {"new"});
  ::chmod(dir.c_str(), 0700);
  ASSERT_FALSE(status.ok());
  EXPECT_CONTAINS(status.message(), "Permission denied");
  EXPECT_EQ(readOk(path), "old");
  EXPECT_EQ(listDir(), std::vector<std::string>{"out"});
}

//===----------------------------------------------------------------------===//
// DTypes and bfloat16
//===----------------------------------------------------------------------===//

TEST(DTypeTest, NamesAndSizes) {
  EXPECT_EQ(dtypeName(DType::F8E5M2), "F8_E5M2");
  EXPECT_EQ(parseDType("BF16"), DType::BF16);
  EXPECT_EQ(parseDType("bf16"), std::nullopt);
  EXPECT_EQ(dtypeSize(DType::Bool), 1u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::I32), 4u);
  EXPECT_EQ(dtypeSize(DType::F64), 8u);
  for (DType dtype :
       {DType::Bool, DType::U8, DType::I8, DType::F8E5M2, DType::F8E4M3,
        DType::I16, DType::U16, DType::F16, DType::BF16, DType::I32, DType::U32,
        DType::F32, DType::I64, DType::U64, DType::F64})
    EXPECT_EQ(parseDType(dtypeName(dtype)), dtype);
  EXPECT_EQ(formatShape({}), "[]");
  EXPECT_EQ(formatShape({3, 4}), "[3, 4]");
}

float floatFromBits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(Bf16Test, Conversions) {
  EXPECT_EQ(bf16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(bf16ToF32(0xC040), -3.0f);
  EXPECT_EQ(f32ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(f32ToBf16(-0.0f), 0x8000);
  // Halfway cases round to even; anything above half rounds up.
  EXPECT_EQ(f32ToBf16(floatFromBits(0x3F808000)), 0x3F80);
  EXPECT_EQ(f32ToBf16(floatFromBits(0x3F818000)), 0x3F82);
  EXPECT_EQ(f32ToBf16(floatFromBits(0x3F808001)), 0x3F81);
  EXPECT_EQ(f32ToBf16(floatFromBits(0x3F807FFF)), 0x3F80);
  // Overflow goes to infinity; infinities stay.
  EXPECT_EQ(f32ToBf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(f32ToBf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  // NaNs stay NaN, even when only low mantissa bits are set.
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(floatFromBits(0x7F800001)))));
  EXPECT_EQ(f32ToBf16(floatFromBits(0xFF800001)) & 0x8000, 0x8000);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(std::nanf("")))));
}

TEST(Bf16Test, EveryValueRoundTrips) {
  for (uint32_t bits = 0; bits <= 0xFFFF; ++bits) {
    float value = bf16ToF32(static_cast<uint16_t>(bits));
    if (std::isnan(value))
      EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(value))));
    else
      EXPECT_EQ(f32ToBf16(value), bits);
  }
}

//===----------------------------------------------------------------------===//
// Safetensors: valid files
//===----------------------------------------------------------------------===//

/// Tensors of every writable dtype, and the data they point into.
struct Sample {
  std::vector<float> f32 = {1.5f, -2.25f, 3e-8f, 0.1f, 1e30f, -0.0f};
  std::vector<uint16_t> bf16 = {f32ToBf16(1.0f), f32ToBf16(-2.0f),
                                f32ToBf16(0.5f), f32ToBf16(3.140625f)};
  std::vector<double> f64 = {0.1, -1e-300, 2.5};
  std::vector<int32_t> i32 = {-1, 2, std::numeric_limits<int32_t>::max()};
  std::vector<int64_t> i64 = {9007199254740993, -5, 0,
                              std::numeric_limits<int64_t>::min()};
  float scalar = 42.0f;
  std::map<std::string, std::string> metadata = {
      {"format", "test/1"}, {"json", "{\"a\": 1}"}, {"unicode", "\xC3\xA9"}};

  std::vector<TensorRef> tensors() const {
    return {{"f32", DType::F32, {2, 3}, f32.data()},
            {"bf16", DType::BF16, {4}, bf16.data()},
            {"f64", DType::F64, {3}, f64.data()},
            {"i32", DType::I32, {3}, i32.data()},
            {"i64", DType::I64, {2, 2}, i64.data()},
            {"scalar", DType::F32, {}, &scalar},
            {"empty", DType::F32, {0, 5}, nullptr}};
  }

  Status write(const std::string &path) const {
    return writeSafetensors(path, tensors(), metadata);
  }
};

class SafetensorsTest : public FileTest {
protected:
  /// The error opening a file holding `bytes`, which must be one line that
  /// starts with the path.
  std::string openError(std::string_view bytes) {
    std::string path = pathOf("bad.safetensors");
    writeRaw(path, bytes);
    Expected<SafetensorsFile> file = SafetensorsFile::open(path);
    EXPECT_FALSE(file.ok()) << "opened a bad file";
    std::string message = file.status().message();
    EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message.substr(std::min(message.size(), path.size() + 2));
  }

  /// openError for a file with `header` and `dataSize` zero bytes of data.
  std::string headerError(std::string_view header, size_t dataSize = 0) {
    return openError(makeFile(header, std::string(dataSize, '\0')));
  }

  /// The sample file's bytes.
  std::string sampleBytes() {
    std::string path = pathOf("sample.safetensors");
    EXPECT_TRUE(Sample().write(path).ok());
    return readOk(path);
  }
};

TEST_F(SafetensorsTest, RoundTrip) {
  Sample sample;
  std::string path = pathOf("sample.safetensors");
  ASSERT_TRUE(sample.write(path).ok());
  EXPECT_EQ(listDir(), std::vector<std::string>{"sample.safetensors"});

  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->getPath(), path);
  EXPECT_EQ(file->getNames(),
            (std::vector<std::string>{"f32", "bf16", "f64", "i32", "i64",
                                      "scalar", "empty"}));
  const TensorInfo *i64 = file->find("i64");
  ASSERT_NE(i64, nullptr);
  EXPECT_EQ(i64->dtype, DType::I64);
  EXPECT_EQ(i64->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(i64->numel, 4u);
  EXPECT_EQ(i64->end - i64->begin, 32u);
  EXPECT_EQ(std::memcmp(file->getRawData(*i64), sample.i64.data(), 32), 0);
  EXPECT_EQ(file->find("missing"), nullptr);

  EXPECT_EQ(file->getMetadata(),
            (std::vector<std::pair<std::string, std::string>>(
                sample.metadata.begin(), sample.metadata.end())));
  ASSERT_NE(file->findMetadata("json"), nullptr);
  EXPECT_EQ(*file->findMetadata("json"), "{\"a\": 1}");
  EXPECT_EQ(file->findMetadata("missing"), nullptr);

  std::vector<float> f32(6);
  ASSERT_TRUE(file->readF32("f32", {2, 3}, f32.data()).ok());
  EXPECT_EQ(f32, sample.f32);
  std::vector<float> bf16(4);
  ASSERT_TRUE(file->readF32("bf16", {4}, bf16.data()).ok());
  EXPECT_EQ(bf16, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.140625f}));
  std::vector<float> f64AsF32(3);
  ASSERT_TRUE(file->readF32("f64", {3}, f64AsF32.data()).ok());
  EXPECT_EQ(f64AsF32, (std::vector<float>{0.1f, -0.0f, 2.5f}));
  std::vector<double> f64(3);
  ASSERT_TRUE(file->readF64("f64", {3}, f64.data()).ok());
  EXPECT_EQ(f64, sample.f64);
  std::vector<double> f32AsF64(6);
  ASSERT_TRUE(file->readF64("f32", {2, 3}, f32AsF64.data()).ok());
  EXPECT_EQ(f32AsF64[3], double(0.1f));
  float scalar = 0;
  ASSERT_TRUE(file->readF32("scalar", {}, &scalar).ok());
  EXPECT_EQ(scalar, 42.0f);
  ASSERT_TRUE(file->readF32("empty", {0, 5}, nullptr).ok());

  std::vector<int64_t> values, shape;
  ASSERT_TRUE(file->readI64("i64", values, shape).ok());
  EXPECT_EQ(values, sample.i64);
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 2}));
  ASSERT_TRUE(file->readI64("i32", values, shape).ok());
  EXPECT_EQ(values, (std::vector<int64_t>{-1, 2, 2147483647}));
  EXPECT_EQ(shape, (std::vector<int64_t>{3}));
}

TEST_F(SafetensorsTest, WrittenHeaderLayout) {
  std::string bytes = sampleBytes();
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), sizeof(headerSize));
  EXPECT_EQ(headerSize % 8, 0u);
  Expected<Json> header =
      parseJson(std::string_view(bytes).substr(8, headerSize), "header");
  ASSERT_TRUE(header.ok()) << header.status().message();
  EXPECT_EQ(header->getObject().front().first, "__metadata__");
  const Json *bf16 = header->find("bf16");
  ASSERT_NE(bf16, nullptr);
  EXPECT_EQ(bf16->serialize(),
            R"({"dtype":"BF16","shape":[4],"data_offsets":[24,32]})");
}

TEST_F(SafetensorsTest, WriteWithoutTensorsOrMetadata) {
  std::string path = pathOf("empty.safetensors");
  ASSERT_TRUE(writeSafetensors(path, {}, {}).ok());
  EXPECT_EQ(readOk(path), makeFile("{}      "));
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_TRUE(file->getTensors().empty());
  EXPECT_TRUE(file->getMetadata().empty());
}

TEST_F(SafetensorsTest, ReadsHandWrittenFile) {
  // Whitespace, key order and an unaligned F64 as other writers produce.
  std::string header = R"( { "b" : {"shape": [], "data_offsets": [4, 12],)"
                       R"( "dtype": "F64"}, "a": {"dtype": "I32",)"
                       R"( "data_offsets": [0, 4], "shape": [1]} }  )";
  double b = 0.25;
  int32_t a = -7;
  std::string data(12, '\0');
  std::memcpy(data.data(), &a, 4);
  std::memcpy(data.data() + 4, &b, 8);
  std::string path = pathOf("hand.safetensors");
  writeRaw(path, makeFile(header, data));
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->getNames(), (std::vector<std::string>{"b", "a"}));
  double value = 0;
  ASSERT_TRUE(file->readF64("b", {}, &value).ok());
  EXPECT_EQ(value, 0.25);
}

TEST(SafetensorsGoldenTest, Weights) {
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(kGoldenDir + "weights.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->getTensors().size(), 14u);
  EXPECT_EQ(file->getNames().front(), "transformer.wte.weight");
  const TensorInfo *ck = file->find("transformer.h.0.attn.c_k.weight");
  ASSERT_NE(ck, nullptr);
  EXPECT_EQ(ck->dtype, DType::F32);
  EXPECT_EQ(ck->shape, (std::vector<int64_t>{32, 64}));

  std::vector<float> lmHead(97 * 64);
  ASSERT_TRUE(file->readF32("lm_head.weight", {97, 64}, lmHead.data()).ok());
  bool allFinite = true, anyNonZero = false;
  for (float value : lmHead) {
    allFinite &= std::isfinite(value);
    anyNonZero |= value != 0;
  }
  EXPECT_TRUE(allFinite);
  EXPECT_TRUE(anyNonZero);

  const std::string *config = file->findMetadata("nanochat_ref_config");
  ASSERT_NE(config, nullptr);
  Expected<Json> json = parseJson(*config, "nanochat_ref_config");
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(json->find("n_layer")->getInteger(), 2);
  EXPECT_EQ(json->find("n_kv_head")->getInteger(), 2);
  EXPECT_EQ(json->find("variant")->getString(), "classic");

  Status wrongShape = file->readF32("lm_head.weight", {64, 97}, lmHead.data());
  EXPECT_EQ(wrongShape.message(),
            kGoldenDir + "weights.safetensors: tensor 'lm_head.weight' has "
                         "shape [97, 64], expected [64, 97]");
}

TEST(SafetensorsGoldenTest, Golden) {
  Expected<SafetensorsFile> file =
      SafetensorsFile::open(kGoldenDir + "golden.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_NE(file->findMetadata("nanochat_ref_config"), nullptr);

  std::vector<int64_t> tokens, shape;
  ASSERT_TRUE(file->readI64("tokens", tokens, shape).ok());
  EXPECT_EQ(shape, (std::vector<int64_t>{2, 16}));
  EXPECT_EQ(tokens[0], 77);
  EXPECT_EQ(tokens[16], 87);
  std::vector<int64_t> targets;
  ASSERT_TRUE(file->readI64("targets", targets, shape).ok());
  EXPECT_EQ(targets[8], -1);

  float loss = 0;
  ASSERT_TRUE(file->readF32("loss", {}, &loss).ok());
  EXPECT_FLOAT_EQ(loss, 8.320168495178223f);
  double lossF64 = 0;
  ASSERT_TRUE(file->readF64("loss_f64", {}, &lossF64).ok());
  EXPECT_DOUBLE_EQ(lossF64, 8.32016889171349);

  std::vector<float> logits(2 * 16 * 97), logitsF64(2 * 16 * 97);
  ASSERT_TRUE(file->readF32("logits", {2, 16, 97}, logits.data()).ok());
  ASSERT_TRUE(file->readF32("logits_f64", {2, 16, 97}, logitsF64.data()).ok());
  float maxDiff = 0;
  for (size_t i = 0; i < logits.size(); ++i)
    maxDiff = std::max(maxDiff, std::fabs(logits[i] - logitsF64[i]));
  EXPECT_LT(maxDiff, 1e-4f);
}

//===----------------------------------------------------------------------===//
// Safetensors: typed reader errors
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, ReaderErrors) {
  std::string path = pathOf("sample.safetensors");
  ASSERT_TRUE(Sample().write(path).ok());
  Expected<SafetensorsFile> file = SafetensorsFile::open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  std::vector<float> f32(16);
  std::vector<double> f64(16);
  std::vector<int64_t> values, shape;

  EXPECT_EQ(file->readF32("x", {4, 4}, f32.data()).message(),
            path + ": no tensor 'x' in file");
  EXPECT_EQ(file->readI64("x", values, shape).message(),
            path + ": no tensor 'x' in file");
  EXPECT_EQ(file->readF32("f32", {4, 4}, f32.data()).message(),
            path + ": tensor 'f32' has shape [2, 3], expected [4, 4]");
  EXPECT_EQ(file->readF64("scalar", {1}, f64.data()).message(),
            path + ": tensor 'scalar' has shape [], expected [1]");
  EXPECT_EQ(file->readF32("i64", {2, 2}, f32.data()).message(),
            path + ": tensor 'i64' has dtype I64, but readF32 reads only "
                   "F32, BF16 and F64");
  EXPECT_EQ(file->readF64("bf16", {4}, f64.data()).message(),
            path + ": tensor 'bf16' has dtype BF16, but readF64 reads only "
                   "F64 and F32");
  EXPECT_EQ(file->readI64("f32", values, shape).message(),
            path + ": tensor 'f32' has dtype F32, but readI64 reads only "
                   "I64 and I32");
}

//===----------------------------------------------------------------------===//
// Safetensors: malformed files, one test per check
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, MissingFile) {
  Expected<SafetensorsFile> file = SafetensorsFile::open(pathOf("nope"));
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(),
            pathOf("nope") + ": cannot open: No such file or directory");
}

TEST_F(SafetensorsTest, ShorterThanHeaderLength) {
  EXPECT_EQ(openError("abc"), "file is 3 bytes long, too short for the "
                              "8-byte header length that starts a "
                              "safetensors file");
  EXPECT_CONTAINS(openError(""), "file is 0 bytes long");
}

TEST_F(SafetensorsTest, HeaderLengthPastEndOfFile) {
  std::string bytes = makeFile("{}");
  bytes[0] = 100;
  EXPECT_EQ(openError(bytes), "header length 100 runs past the end of the "
                              "file (10 bytes); the file is truncated or not "
                              "a safetensors file");
}

TEST_F(SafetensorsTest, HeaderLengthAbsurd) {
  std::string bytes = makeFile("{}");
  bytes[5] = 1; // 2^40 bytes.
  EXPECT_CONTAINS(openError(bytes), "header length 1099511627778 is above "
                                    "the 100 MiB limit");
  std::string maximal(8, '\xFF');
  EXPECT_CONTAINS(openError(maximal), "above the 100 MiB limit");
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  EXPECT_EQ(headerError(R"({"a": })"),
            "header: invalid JSON at line 1, column 7 (byte 6): expected a "
            "JSON value, found '}'");
  EXPECT_CONTAINS(headerError(""), "header: invalid JSON");
  EXPECT_CONTAINS(headerError(std::string("{}\0\0", 4)),
                  "unexpected byte 0x00 after the JSON value");
  EXPECT_CONTAINS(headerError("{\"\xFF\": 1}"), "invalid UTF-8 byte 0xff");
}

TEST_F(SafetensorsTest, HeaderNotObject) {
  EXPECT_EQ(headerError("[1, 2]"), "header is an array of 2 elements, "
                                   "expected an object mapping tensor names "
                                   "to entries");
}

TEST_F(SafetensorsTest, DuplicateTensor) {
  EXPECT_CONTAINS(
      headerError(
          R"({"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
          R"( "x": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
          2),
      "duplicate key 'x'");
}

TEST_F(SafetensorsTest, EntryNotObject) {
  EXPECT_EQ(headerError(R"({"x": [1]})"),
            "tensor 'x': entry is an array of 1 element, expected an object "
            "with dtype, shape and data_offsets");
}

TEST_F(SafetensorsTest, MissingKey) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [1]}})"),
            "tensor 'x': missing key 'data_offsets'");
  EXPECT_EQ(headerError(R"({"x": {"shape": [1], "data_offsets": [0, 4]}})", 4),
            "tensor 'x': missing key 'dtype'");
}

TEST_F(SafetensorsTest, ExtraKey) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                        R"("data_offsets": [0, 4], "offset": 0}})",
                        4),
            "tensor 'x': unexpected key 'offset' (an entry has exactly "
            "dtype, shape and data_offsets)");
}

TEST_F(SafetensorsTest, UnknownDType) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F128", "shape": [1], )"
                        R"("data_offsets": [0, 16]}})",
                        16),
            "tensor 'x': unknown dtype 'F128' (known: BOOL, U8, I8, F8_E5M2, "
            "F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64)");
}

TEST_F(SafetensorsTest, DTypeNotString) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": 4, "shape": [1], )"
                        R"("data_offsets": [0, 4]}})",
                        4),
            "tensor 'x': dtype is 4, expected a string such as \"F32\"");
}

TEST_F(SafetensorsTest, ShapeNotList) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": 3, )"
                        R"("data_offsets": [0, 12]}})",
                        12),
            "tensor 'x': shape is 3, expected a list of non-negative "
            "integers");
}

TEST_F(SafetensorsTest, ShapeNegative) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [2, -1], )"
                        R"("data_offsets": [0, 0]}})"),
            "tensor 'x': shape[1] is -1, expected a non-negative integer");
}

TEST_F(SafetensorsTest, ShapeNotInteger) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [2.5], )"
                        R"("data_offsets": [0, 0]}})"),
            "tensor 'x': shape[0] is 2.5 (not an int64 integer), expected a "
            "non-negative integer");
  EXPECT_CONTAINS(headerError(R"({"x": {"dtype": "F32", "shape": ["2"], )"
                              R"("data_offsets": [0, 8]}})",
                              8),
                  "shape[0] is the string '2', expected a non-negative");
  EXPECT_CONTAINS(headerError(R"({"x": {"dtype": "F32", "shape": [2e0], )"
                              R"("data_offsets": [0, 8]}})",
                              8),
                  "shape[0] is 2 (not an int64 integer)");
}

TEST_F(SafetensorsTest, ElementCountOverflow) {
  EXPECT_EQ(
      headerError(R"({"x": {"dtype": "U8", "shape": )"
                  R"([4294967296, 4294967296], "data_offsets": [0, 0]}})"),
      "tensor 'x': shape [4294967296, 4294967296] of U8 is larger than "
      "2^64 bytes");
  // The element count fits, the byte count does not.
  EXPECT_CONTAINS(
      headerError(R"({"x": {"dtype": "F64", "shape": )"
                  R"([4611686018427387904], "data_offsets": [0, 0]}})"),
      "larger than 2^64 bytes");
}

TEST_F(SafetensorsTest, OffsetsNotPair) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                        R"("data_offsets": [0, 4, 8]}})",
                        8),
            "tensor 'x': data_offsets is an array of 3 elements, expected "
            "[begin, end]");
  EXPECT_CONTAINS(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                              R"("data_offsets": {"begin": 0}}})"),
                  "data_offsets is an object, expected [begin, end]");
}

TEST_F(SafetensorsTest, OffsetsNotIntegers) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                        R"("data_offsets": [0, null]}})",
                        4),
            "tensor 'x': data_offsets[1] is null, expected a non-negative "
            "integer");
  EXPECT_CONTAINS(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                              R"("data_offsets": [-4, 0]}})"),
                  "data_offsets[0] is -4, expected a non-negative integer");
  EXPECT_CONTAINS(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                              R"("data_offsets": [0, 18446744073709551620]}})"),
                  "data_offsets[1] is 1.8446744073709552e+19 (not an int64 "
                  "integer)");
}

TEST_F(SafetensorsTest, OffsetsReversed) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [1], )"
                        R"("data_offsets": [8, 4]}})",
                        8),
            "tensor 'x': data_offsets [8, 4] end before they begin");
}

TEST_F(SafetensorsTest, ByteSizeMismatch) {
  EXPECT_EQ(headerError(R"({"lm_head.weight": {"dtype": "F32", "shape": )"
                        R"([10, 20], "data_offsets": [0, 400]}})",
                        400),
            "tensor 'lm_head.weight': data_offsets [0, 400] do not match "
            "shape [10, 20] of F32 (800 bytes)");
}

TEST_F(SafetensorsTest, OffsetsBeyondDataSection) {
  EXPECT_EQ(headerError(R"({"x": {"dtype": "F32", "shape": [4], )"
                        R"("data_offsets": [0, 16]}})",
                        8),
            "tensor 'x': data_offsets [0, 16] run past the end of the data "
            "section (8 bytes); the file is truncated or corrupt");
  // Offsets near 2^63 must not wrap around.
  EXPECT_CONTAINS(
      headerError(R"({"x": {"dtype": "U8", "shape": [8], "data_offsets": )"
                  R"([9223372036854775800, 9223372036854775807]}})",
                  8),
      "do not match shape [8] of U8 (8 bytes)");
  EXPECT_CONTAINS(
      headerError(R"({"x": {"dtype": "U8", "shape": [7], "data_offsets": )"
                  R"([9223372036854775800, 9223372036854775807]}})",
                  8),
      "run past the end of the data section");
}

TEST_F(SafetensorsTest, TensorsOverlap) {
  EXPECT_EQ(headerError(R"({"a": {"dtype": "F32", "shape": [2], )"
                        R"("data_offsets": [0, 8]}, "b": {"dtype": "F32", )"
                        R"("shape": [2], "data_offsets": [4, 12]}})",
                        12),
            "tensors 'a' (data_offsets [0, 8]) and 'b' (data_offsets [4, 12]) "
            "overlap");
  // The same range twice, in any header order.
  EXPECT_CONTAINS(
      headerError(R"({"b": {"dtype": "I32", "shape": [1], )"
                  R"("data_offsets": [0, 4]}, "a": {"dtype": )"
                  R"("F32", "shape": [1], "data_offsets": [0, 4]}})",
                  4),
      "overlap");
}

TEST_F(SafetensorsTest, GapBetweenTensors) {
  EXPECT_EQ(headerError(R"({"a": {"dtype": "F32", "shape": [1], )"
                        R"("data_offsets": [0, 4]}, "b": {"dtype": "F32", )"
                        R"("shape": [1], "data_offsets": [8, 12]}})",
                        12),
            "bytes [4, 8) of the data section belong to no tensor (the next "
            "is 'b'); safetensors files store tensors without gaps");
}

TEST_F(SafetensorsTest, TrailingData) {
  EXPECT_EQ(headerError(R"({"a": {"dtype": "F32", "shape": [1], )"
                        R"("data_offsets": [0, 4]}})",
                        8),
            "the data section has 8 bytes but its tensors end at byte 4; the "
            "file has trailing garbage");
}

TEST_F(SafetensorsTest, MetadataNotObject) {
  EXPECT_EQ(headerError(R"({"__metadata__": ["a"]})"),
            "__metadata__ is an array of 1 element, expected an object of "
            "string values");
}

TEST_F(SafetensorsTest, MetadataValueNotString) {
  EXPECT_EQ(headerError(R"({"__metadata__": {"format": "x", "seed": 7}})"),
            "__metadata__ 'seed' is 7, expected a string (safetensors "
            "metadata values are strings)");
}

TEST_F(SafetensorsTest, HostileNamesStayOnOneLine) {
  std::string name = "evil\\nname" + std::string(200, 'x');
  std::string message = headerError("{\"" + name + "\": 1}");
  EXPECT_CONTAINS(message, "tensor 'evil\\x0aname");
  EXPECT_CONTAINS(message, "xxx...' (209 bytes): entry is 1, expected");
}

//===----------------------------------------------------------------------===//
// Safetensors: damaged files never crash
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, EveryTruncationFails) {
  std::string bytes = sampleBytes();
  for (size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_FALSE(openError(std::string_view(bytes).substr(0, cut)).empty());
}

TEST_F(SafetensorsTest, TruncatedGoldenFileFails) {
  std::string bytes = readOk(kGoldenDir + "weights.safetensors");
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), sizeof(headerSize));
  std::vector<size_t> cuts = {7,
                              8,
                              9,
                              8 + headerSize - 1,
                              8 + headerSize,
                              8 + headerSize + 1,
                              bytes.size() - 1};
  for (size_t i = 1; i < 48; ++i)
    cuts.push_back(bytes.size() * i / 48);
  for (size_t cut : cuts)
    EXPECT_FALSE(openError(std::string_view(bytes).substr(0, cut)).empty());
}

TEST_F(SafetensorsTest, CorruptedHeaderNeverCrashes) {
  std::string bytes = sampleBytes();
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), sizeof(headerSize));
  std::string path = pathOf("fuzz.safetensors");
  std::mt19937 random(20240607);
  const std::string_view structural = "{}[]\",:0123456789-.eE ";
  int opened = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    std::string corrupt = bytes;
    for (int flips = 1 + random() % 4; flips > 0; --flips) {
      // The length field and the header; structural characters make
      // corruptions that still parse as JSON more likely.
      char &byte = corrupt[random() % (8 + headerSize)];
      switch (random() % 3) {
      case 0:
        byte = static_cast<char>(random());
        break;
      case 1:
        byte ^= static_cast<char>(1 << (random() % 8));
        break;
      default:
        byte = structural[random() % structural.size()];
      }
    }
    writeRaw(path, corrupt);
    Expected<SafetensorsFile> file = SafetensorsFile::open(path);
    if (!file.ok()) {
      const std::string &message = file.status().message();
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      continue;
    }
    // Whatever opens must read within bounds (ASan checks this).
    ++opened;
    for (const TensorInfo &tensor : file->getTensors()) {
      std::vector<float> f32(tensor.numel);
      std::vector<double> f64(tensor.numel);
      std::vector<int64_t> values, shape;
      (void)file->readF32(tensor.name, tensor.shape, f32.data());
      (void)file->readF64(tensor.name, tensor.shape, f64.data());
      (void)file->readI64(tensor.name, values, shape);
    }
  }
  EXPECT_LT(opened, 3000);
}

//===----------------------------------------------------------------------===//
// Safetensors: writing
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, WriterRejectsBadTensors) {
  std::string path = pathOf("out.safetensors");
  float data[4] = {};
  auto writeError = [&](std::vector<TensorRef> tensors,
                        std::map<std::string, std::string> metadata = {}) {
    Status status = writeSafetensors(path, tensors, metadata);
    EXPECT_FALSE(status.ok());
    EXPECT_TRUE(listDir().empty()) << "a file was written";
    return status.message();
  };
  EXPECT_EQ(
      writeError({{"a", DType::F32, {1}, data}, {"a", DType::F32, {1}, data}}),
      path + ": tensor 'a': the name is given twice");
  EXPECT_EQ(writeError({{"__metadata__", DType::F32, {1}, data}}),
            path + ": tensor '__metadata__': the name is reserved for the "
                   "metadata");
  EXPECT_EQ(writeError({{"a", DType::F32, {2, -2}, data}}),
            path + ": tensor 'a': shape [2, -2] has a negative dimension");
  EXPECT_EQ(writeError({{"a", DType::F32, {4}, nullptr}}),
            path + ": tensor 'a': data is null");
  EXPECT_EQ(writeError({{"a\xFF", DType::F32, {1}, data}}),
            path + ": tensor 'a\\xff': the name is not valid UTF-8");
  EXPECT_EQ(writeError({{"a", DType::F32, {int64_t(1) << 62, 8}, data}}),
            path + ": tensor 'a': shape [4611686018427387904, 8] of F32 is "
                   "larger than 2^64 bytes");
  EXPECT_EQ(writeError({}, {{"key", "\xC3"}}),
            path + ": metadata 'key' is not valid UTF-8");
}

TEST_F(SafetensorsTest, WriteIntoMissingDirectoryFails) {
  std::string path = pathOf("missing/out.safetensors");
  Status status = Sample().write(path);
  ASSERT_FALSE(status.ok());
  EXPECT_CONTAINS(status.message(), path + ": cannot create temporary file");
  EXPECT_CONTAINS(status.message(), "No such file or directory");
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsTest, FailedWriteKeepsExistingFile) {
  std::string path = pathOf("model.safetensors");
  ASSERT_TRUE(Sample().write(path).ok());
  std::string before = readOk(path);

  std::vector<float> big(1 << 16, 1.0f);
  Status status;
  {
    FileSizeLimit limit(4096);
    status = writeSafetensors(path,
                              {{"big", DType::F32, {1 << 16}, big.data()}}, {});
  }
  ASSERT_FALSE(status.ok());
  EXPECT_CONTAINS(status.message(), path + ": cannot write temporary file");
  EXPECT_CONTAINS(status.message(), "File too large");
  EXPECT_EQ(readOk(path), before);
  EXPECT_EQ(listDir(), std::vector<std::string>{"model.safetensors"});
  EXPECT_TRUE(SafetensorsFile::open(path).ok());
}

} // namespace
