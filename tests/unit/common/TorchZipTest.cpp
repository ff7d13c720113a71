//===- TorchZipTest.cpp - zip archives and torch state_dicts --------------===//

#include "backends/common/TorchZip.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Pickle.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

using namespace gptc;

namespace {

class TorchZipTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/gptc-torchzip-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string path(const std::string &name) const { return dir + "/" + name; }

  void writeRaw(const std::string &name, const std::string &contents) {
    ASSERT_TRUE(writeFileAtomically(path(name), {contents}).ok());
  }

  std::string error(const std::string &file) {
    Expected<std::vector<TorchTensor>> tensors = readTorchStateDict(file);
    EXPECT_FALSE(tensors.ok());
    return tensors.ok() ? "" : tensors.status().message();
  }

  std::string dir;
};

/// data.pkl of {name: _rebuild_tensor_v2(storage "0" of `numel` floats,
/// offset, shape, stride)}.
std::string viewPickle(const std::string &name, int64_t numel, int64_t offset,
                       const std::vector<int64_t> &shape,
                       const std::vector<int64_t> &stride) {
  pickle::Pickler p;
  p.global("collections", "OrderedDict");
  p.emptyTuple();
  p.reduce();
  p.mark();
  p.string(name);
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.mark();
  p.mark();
  p.string("storage");
  p.global("torch", "FloatStorage");
  p.string("0");
  p.string("cuda:0");
  p.integer(numel);
  p.tupleFromMark();
  p.persistentId();
  p.integer(offset);
  p.mark();
  for (int64_t d : shape)
    p.integer(d);
  p.tupleFromMark();
  p.mark();
  for (int64_t s : stride)
    p.integer(s);
  p.tupleFromMark();
  p.boolean(false);
  p.global("collections", "OrderedDict");
  p.emptyTuple();
  p.reduce();
  p.tupleFromMark();
  p.reduce();
  p.setItems();
  return p.finish();
}

std::string floats(std::initializer_list<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

std::vector<float> asFloats(const std::string &bytes) {
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

} // namespace

TEST(Crc32, KnownValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("6789", crc32("12345")), 0xCBF43926u);
}

TEST_F(TorchZipTest, StateDictRoundTrip) {
  std::vector<float> a{1, 2, 3, 4, 5, 6};
  uint16_t b[] = {0x3F80, 0x4000, 0xC000, 0x0000};
  std::vector<TensorRef> refs{{"w.a", DType::F32, {2, 3}, a.data()},
                              {"w.b", DType::BF16, {4}, b},
                              {"w.s", DType::F32, {}, a.data()}};
  ASSERT_TRUE(writeTorchStateDict(path("m.pt"), "m", refs).ok());
  Expected<ZipReader> zip = ZipReader::open(path("m.pt"));
  ASSERT_TRUE(zip.ok()) << zip.status().message();
  EXPECT_NE(zip->find("m/data.pkl"), nullptr);
  EXPECT_NE(zip->find("m/version"), nullptr);
  for (const ZipEntry &entry : zip->getEntries())
    if (entry.name.find("/data/") != std::string::npos)
      EXPECT_EQ(entry.dataOffset % 64, 0u) << entry.name;
  Expected<std::vector<TorchTensor>> tensors = readTorchStateDict(path("m.pt"));
  ASSERT_TRUE(tensors.ok()) << tensors.status().message();
  ASSERT_EQ(tensors->size(), 3u);
  EXPECT_EQ((*tensors)[0].name, "w.a");
  EXPECT_EQ((*tensors)[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(asFloats((*tensors)[0].data), a);
  EXPECT_EQ((*tensors)[1].dtype, DType::BF16);
  EXPECT_EQ((*tensors)[1].data, std::string(reinterpret_cast<char *>(b), 8));
  EXPECT_TRUE((*tensors)[2].shape.empty());
  EXPECT_EQ(asFloats((*tensors)[2].data), std::vector<float>{1});
}

TEST_F(TorchZipTest, ViewsAtOffsetsAndStrides) {
  // Storage of 10 floats, under "archive/" as older torch names the folder;
  // a transposed 2x3 view at offset 3: element [i][j] = storage[3 + i + 2j].
  std::string storage = floats({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  std::string pkl = viewPickle("t", 10, 3, {2, 3}, {1, 2});
  ASSERT_TRUE(writeZip(path("v.pt"), {{"archive/data.pkl", pkl},
                                      {"archive/data/0", storage},
                                      {"archive/version", "3\n"}})
                  .ok());
  Expected<std::vector<TorchTensor>> tensors = readTorchStateDict(path("v.pt"));
  ASSERT_TRUE(tensors.ok()) << tensors.status().message();
  EXPECT_EQ(asFloats((*tensors)[0].data),
            (std::vector<float>{3, 5, 7, 4, 6, 8}));
  // An empty view needs no storage at all.
  ASSERT_TRUE(writeZip(path("e.pt"),
                       {{"e/data.pkl", viewPickle("t", 0, 0, {0, 5}, {5, 1})},
                        {"e/data/0", ""}})
                  .ok());
  Expected<std::vector<TorchTensor>> empty = readTorchStateDict(path("e.pt"));
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_TRUE((*empty)[0].data.empty());
}

TEST_F(TorchZipTest, ViewPastTheStorageEnd) {
  std::string storage = floats({0, 1, 2, 3});
  ASSERT_TRUE(
      writeZip(path("o.pt"), {{"o/data.pkl", viewPickle("t", 4, 2, {3}, {1})},
                              {"o/data/0", storage}})
          .ok());
  EXPECT_EQ(error(path("o.pt")),
            path("o.pt") + ": tensor 't' of shape [3] at offset 2 runs past "
                           "the end of its storage (4 elements)");
  // A stride that overflows.
  ASSERT_TRUE(
      writeZip(path("s.pt"),
               {{"s/data.pkl", viewPickle("t", 4, 0, {2}, {int64_t(1) << 62})},
                {"s/data/0", storage}})
          .ok());
  EXPECT_NE(error(path("s.pt")).find("runs past the end of its storage"),
            std::string::npos);
}

TEST_F(TorchZipTest, StorageSmallerThanItsRecord) {
  // The record says 10 floats, the entry holds 4.
  ASSERT_TRUE(writeZip(path("small.pt"),
                       {{"small/data.pkl", viewPickle("t", 10, 0, {4}, {1})},
                        {"small/data/0", floats({0, 1, 2, 3})}})
                  .ok());
  EXPECT_EQ(error(path("small.pt")),
            path("small.pt") + ": tensor 't': storage 'small/data/0' holds 16 "
                               "bytes, smaller than its 10 elements of F32");
  ASSERT_TRUE(writeZip(path("missing.pt"),
                       {{"missing/data.pkl", viewPickle("t", 4, 0, {4}, {1})}})
                  .ok());
  EXPECT_EQ(error(path("missing.pt")),
            path("missing.pt") +
                ": tensor 't': storage entry 'missing/data/0' is missing");
}

TEST_F(TorchZipTest, TruncatedAndCorruptArchives) {
  std::vector<float> a(100, 1.5f);
  ASSERT_TRUE(writeTorchStateDict(path("m.pt"), "m",
                                  {{"w", DType::F32, {100}, a.data()}})
                  .ok());
  Expected<std::string> whole = readFile(path("m.pt"));
  ASSERT_TRUE(whole.ok());
  // Every truncation is an error, never a crash.
  for (size_t cut : {size_t(0), size_t(10), whole->size() / 2,
                     whole->size() - 23, whole->size() - 1}) {
    writeRaw("cut.pt", whole->substr(0, cut));
    EXPECT_NE(error(path("cut.pt")).find("cut.pt: "), std::string::npos) << cut;
  }
  writeRaw("cut.pt", whole->substr(0, whole->size() - 1));
  EXPECT_NE(error(path("cut.pt")).find("no end of central directory"),
            std::string::npos);

  // A flipped data byte fails the CRC.
  Expected<ZipReader> zip = ZipReader::open(path("m.pt"));
  ASSERT_TRUE(zip.ok());
  const ZipEntry *data = zip->find("m/data/0");
  ASSERT_NE(data, nullptr);
  std::string flipped = *whole;
  flipped[data->dataOffset + 5] ^= 1;
  writeRaw("flip.pt", flipped);
  EXPECT_EQ(error(path("flip.pt")),
            path("flip.pt") +
                ": entry 'm/data/0' is corrupt (CRC-32 mismatch)");

  // A compressed (deflate) entry: method 8 in the central directory.
  std::string deflated = *whole;
  size_t central = deflated.find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  deflated[central + 10] = 8;
  writeRaw("deflate.pt", deflated);
  EXPECT_EQ(error(path("deflate.pt")),
            path("deflate.pt") + ": entry 'm/data.pkl' is compressed (method "
                                 "8); torch checkpoints store entries "
                                 "uncompressed");

  // A legacy (pre-zip) torch.save file starts with a pickle.
  writeRaw("legacy.pt",
           std::string("\x80\x02\x8a\x0a", 4) + std::string(40, 0x20));
  EXPECT_NE(error(path("legacy.pt")).find("legacy torch.save"),
            std::string::npos);
  EXPECT_NE(error(path("nope.pt")).find("cannot open"), std::string::npos);
}

TEST_F(TorchZipTest, NotAStateDict) {
  pickle::Pickler list;
  list.mark();
  list.tupleFromMark();
  ASSERT_TRUE(writeZip(path("l.pt"), {{"l/data.pkl", list.finish()}}).ok());
  EXPECT_EQ(error(path("l.pt")),
            path("l.pt") + ": the checkpoint holds a tuple, not a state_dict");
  pickle::Pickler intValue;
  intValue.global("collections", "OrderedDict");
  intValue.emptyTuple();
  intValue.reduce();
  intValue.mark();
  intValue.string("step");
  intValue.integer(3);
  intValue.setItems();
  ASSERT_TRUE(writeZip(path("i.pt"), {{"i/data.pkl", intValue.finish()}}).ok());
  EXPECT_EQ(error(path("i.pt")),
            path("i.pt") + ": 'step' is a int, not a tensor");
  ASSERT_TRUE(writeZip(path("n.pt"), {{"n/other.pkl", "x"}}).ok());
  EXPECT_NE(error(path("n.pt")).find("no <folder>/data.pkl entry"),
            std::string::npos);
  ASSERT_TRUE(
      writeZip(path("b.pt"), {{"b/data.pkl", viewPickle("t", 0, 0, {0}, {1})},
                              {"b/byteorder", "big"}})
          .ok());
  EXPECT_NE(error(path("b.pt")).find("byte order 'big'"), std::string::npos);
}
