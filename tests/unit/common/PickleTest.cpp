//===- PickleTest.cpp - the restricted unpickler, opcode by opcode --------===//
//
// Streams are written out byte by byte as CPython's pickle would write them,
// so each test states exactly which opcodes it exercises.
//
//===----------------------------------------------------------------------===//

#include "backends/common/Pickle.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace gptc;
using namespace gptc::pickle;

namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values)
    out.push_back(char(v));
  return out;
}

std::string le32(uint32_t v) {
  std::string out(4, '\0');
  std::memcpy(out.data(), &v, 4);
  return out;
}

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}

/// PROTO 2 + `body` + STOP.
std::string stream(const std::string &body) {
  return bytes({0x80, 2}) + body + ".";
}

Expected<Unpickled> load(const std::string &data,
                         Allowed allowed = Allowed::TorchStateDict) {
  return unpickle(data, "test.pkl", allowed);
}

std::string errorOf(const std::string &data,
                    Allowed allowed = Allowed::TorchStateDict) {
  Expected<Unpickled> result = load(data, allowed);
  EXPECT_FALSE(result.ok());
  return result.ok() ? "" : result.status().message();
}

const std::string kShortStr = "\x8c"; // SHORT_BINUNICODE

std::string shortStr(const std::string &s) {
  return kShortStr + char(s.size()) + s;
}

} // namespace

TEST(Pickle, Integers) {
  // BININT -5, BININT1 200, BININT2 60000, LONG1 (2 bytes) -2, LONG1 8 bytes
  // 2^40, TUPLE with MARK.
  std::string body = "(J" + le32(uint32_t(-5)) + "K" + char(200) + "M" +
                     bytes({0x60, 0xEA}) + bytes({0x8a, 2, 0xFE, 0xFF}) +
                     bytes({0x8a, 8}) + le64(1ull << 40) + bytes({0x8a, 0}) +
                     "t";
  Expected<Unpickled> r = load(stream(body));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Value &t = r->root();
  ASSERT_EQ(t.kind, Kind::Tuple);
  ASSERT_EQ(t.items.size(), 6u);
  EXPECT_EQ(t.items[0]->integer, -5);
  EXPECT_EQ(t.items[1]->integer, 200);
  EXPECT_EQ(t.items[2]->integer, 60000);
  EXPECT_EQ(t.items[3]->integer, -2);
  EXPECT_EQ(t.items[4]->integer, int64_t(1) << 40);
  EXPECT_EQ(t.items[5]->integer, 0);
  EXPECT_NE(errorOf(stream(bytes({0x8a, 9}) + std::string(9, '\1')))
                .find("does not fit in 64 bits"),
            std::string::npos);
}

TEST(Pickle, NoneBoolsFloats) {
  // NONE, NEWTRUE, NEWFALSE, BINFLOAT 1.5 (big-endian); TUPLE1/2/3.
  std::string body = "(N" + bytes({0x88, 0x89}) + "G" +
                     bytes({0x3F, 0xF8, 0, 0, 0, 0, 0, 0}) + "t";
  Expected<Unpickled> r = load(stream(body));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Value &t = r->root();
  ASSERT_EQ(t.items.size(), 4u);
  EXPECT_EQ(t.items[0]->kind, Kind::None);
  EXPECT_TRUE(t.items[1]->boolean);
  EXPECT_FALSE(t.items[2]->boolean);
  EXPECT_EQ(t.items[3]->real, 1.5);
  Expected<Unpickled> three = load(stream("NNN" + bytes({0x87})));
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->root().items.size(), 3u);
  Expected<Unpickled> two = load(stream("NN" + bytes({0x86})));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->root().items.size(), 2u);
  Expected<Unpickled> one = load(stream("N" + bytes({0x85})));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->root().items.size(), 1u);
}

TEST(Pickle, StringsAndBytes) {
  // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8, SHORT_BINBYTES, BINBYTES,
  // BINBYTES8.
  std::string body = "(" + shortStr("h\xc3\xa9") + "X" + le32(2) + "ab" +
                     bytes({0x8d}) + le64(1) + "c" + "C" + char(2) + "\xff" +
                     '\0' + "B" + le32(1) + "z" + bytes({0x8e}) + le64(0) + "t";
  Expected<Unpickled> r = load(stream(body));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto &items = r->root().items;
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0]->kind, Kind::String);
  EXPECT_EQ(items[0]->text, "h\xc3\xa9");
  EXPECT_EQ(items[1]->text, "ab");
  EXPECT_EQ(items[2]->text, "c");
  EXPECT_EQ(items[3]->kind, Kind::Bytes);
  EXPECT_EQ(items[3]->text, std::string("\xff\0", 2));
  EXPECT_EQ(items[4]->text, "z");
  EXPECT_EQ(items[5]->text, "");
  EXPECT_NE(errorOf(stream(shortStr("\xff"))).find("not valid UTF-8"),
            std::string::npos);
  // A length past the end of the stream.
  EXPECT_NE(errorOf(bytes({0x80, 2}) + "X" + le32(100) + "ab")
                .find("truncated stream"),
            std::string::npos);
  EXPECT_NE(errorOf(bytes({0x80, 2, 0x8d}) + le64(~0ull)).find("truncated"),
            std::string::npos);
}

TEST(Pickle, ListsAndDicts) {
  // EMPTY_LIST + APPEND + MARK/APPENDS; LIST; EMPTY_DICT + SETITEM +
  // MARK/SETITEMS; DICT.
  std::string list = "]K\x01"
                     "a(K\x02K\x03"
                     "e";
  std::string literalList = "(K\x04l";
  std::string dict = "}" + shortStr("a") + "K\x01s(" + shortStr("b") + "K\x02" +
                     shortStr("c") + "K\x03u";
  std::string literalDict = "(" + shortStr("d") + "Nd";
  Expected<Unpickled> r =
      load(stream("(" + list + literalList + dict + literalDict + "t"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto &items = r->root().items;
  ASSERT_EQ(items.size(), 4u);
  ASSERT_EQ(items[0]->items.size(), 3u);
  EXPECT_EQ(items[0]->items[2]->integer, 3);
  EXPECT_EQ(items[1]->kind, Kind::List);
  EXPECT_EQ(items[1]->items[0]->integer, 4);
  ASSERT_EQ(items[2]->entries.size(), 3u);
  EXPECT_EQ(items[2]->findEntry("c")->integer, 3);
  EXPECT_EQ(items[2]->findEntry("zz"), nullptr);
  EXPECT_EQ(items[3]->findEntry("d")->kind, Kind::None);
  EXPECT_NE(errorOf(stream("NK\x01"
                           "a"))
                .find("APPEND(S) on a None"),
            std::string::npos);
  EXPECT_NE(errorOf(stream("](K\x01u")).find("SETITEM(S) on a list"),
            std::string::npos);
  EXPECT_NE(errorOf(stream("}(K\x01u")).find("odd number"), std::string::npos);
}

TEST(Pickle, MemoAndStack) {
  // BINPUT/BINGET, LONG_BINPUT/LONG_BINGET, MEMOIZE (index = memo size),
  // PUT/GET (text), DUP, POP, POP_MARK, FRAME.
  std::string body = bytes({0x95}) + le64(0) + "(" + shortStr("x") + "q\x07" +
                     "h\x07" + shortStr("y") + "r" + le32(70000) + "j" +
                     le32(70000) + shortStr("z") + bytes({0x94}) + "h\x02" +
                     shortStr("w") + "p9\n" + "g9\n" + "2" + "N0" + "(NN1" +
                     "t";
  Expected<Unpickled> r = load(stream(body));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto &items = r->root().items;
  ASSERT_EQ(items.size(), 9u);
  const char *expected[] = {"x", "x", "y", "y", "z", "z", "w", "w", "w"};
  for (size_t i = 0; i < 9; ++i)
    EXPECT_EQ(items[i]->text, expected[i]) << i;
  EXPECT_EQ(items[0], items[1]); // the memo shares the value
  EXPECT_NE(errorOf(stream("h\x05")).find("memo entry 5 was never stored"),
            std::string::npos);
  EXPECT_NE(errorOf(stream("g1x\n")).find("bad memo index"), std::string::npos);
  EXPECT_NE(errorOf(stream("0")).find("stack underflow"), std::string::npos);
  EXPECT_NE(errorOf(stream("1")).find("no mark"), std::string::npos);
  EXPECT_NE(errorOf(stream("NN")).find("STOP with 2 values"),
            std::string::npos);
  EXPECT_NE(errorOf(bytes({0x80, 2}) + "N").find("no STOP opcode"),
            std::string::npos);
  EXPECT_NE(errorOf(bytes({0x80, 6}) + "N.").find("protocol 6"),
            std::string::npos);
  // A mark hides the values below it from POP.
  EXPECT_NE(errorOf(stream("N(0")).find("stack underflow"), std::string::npos);
}

TEST(Pickle, OrderedDictAndBuild) {
  // GLOBAL collections.OrderedDict, EMPTY_TUPLE, REDUCE, SETITEMS, and the
  // BUILD of its __dict__ (torch's _metadata), which is ignored.
  std::string body = "ccollections\nOrderedDict\n)R(" + shortStr("k") +
                     "K\x01u}" + shortStr("_metadata") + "}sb";
  Expected<Unpickled> r = load(stream(body));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->root().kind, Kind::Dict);
  EXPECT_EQ(r->root().findEntry("k")->integer, 1);
  // STACK_GLOBAL spells the same global from two strings.
  Expected<Unpickled> s =
      load(stream(shortStr("collections") + shortStr("OrderedDict") +
                  bytes({0x93}) + ")R"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->root().kind, Kind::Dict);
  EXPECT_NE(errorOf(stream("ccollections\nOrderedDict\nK\x01\x85R"))
                .find("called with arguments"),
            std::string::npos);
  EXPECT_NE(errorOf(stream("NNR")).find("REDUCE calls a None"),
            std::string::npos);
  EXPECT_NE(errorOf(stream("NNb")).find("BUILD of a None"), std::string::npos);
}

/// The pickle torch writes for one tensor: _rebuild_tensor_v2((storage pid),
/// offset, size, stride, False, OrderedDict()).
static std::string tensorPickle(const std::string &storageClass, int64_t offset,
                                const std::string &sizeTuple,
                                const std::string &strideTuple) {
  return "ctorch._utils\n_rebuild_tensor_v2\n((" + shortStr("storage") +
         "ctorch\n" + storageClass + "\n" + shortStr("0") + shortStr("cpu") +
         "K\x0ctQ" + "K" + char(offset) + sizeTuple + strideTuple +
         bytes({0x89}) + "ccollections\nOrderedDict\n)Rt" + "R";
}

TEST(Pickle, TensorsAndStorages) {
  // BINPERSID with a torch storage record, then _rebuild_tensor_v2 and
  // _rebuild_parameter.
  std::string tensor =
      tensorPickle("BFloat16Storage", 2, "K\x02K\x03\x86", "K\x03K\x01\x86");
  Expected<Unpickled> r = load(stream(tensor));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Value &t = r->root();
  ASSERT_EQ(t.kind, Kind::Tensor);
  EXPECT_EQ(t.dtype, DType::BF16);
  EXPECT_EQ(t.offset, 2);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(t.stride, (std::vector<int64_t>{3, 1}));
  ASSERT_EQ(t.storage->kind, Kind::Storage);
  EXPECT_EQ(t.storage->key, "0");
  EXPECT_EQ(t.storage->location, "cpu");
  EXPECT_EQ(t.storage->numel, 12);

  Expected<Unpickled> p =
      load(stream("ctorch._utils\n_rebuild_parameter\n(" + tensor +
                  bytes({0x88}) + "ccollections\nOrderedDict\n)RtR"));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->root().kind, Kind::Tensor);

  for (auto [name, dtype] : std::vector<std::pair<std::string, DType>>{
           {"FloatStorage", DType::F32},
           {"HalfStorage", DType::F16},
           {"DoubleStorage", DType::F64},
           {"LongStorage", DType::I64}}) {
    Expected<Unpickled> s =
        load(stream(tensorPickle(name, 0, "K\x04\x85", "K\x01\x85")));
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->root().dtype, dtype) << name;
  }
  // Size and stride of different ranks; a negative stride.
  EXPECT_NE(errorOf(stream(tensorPickle("FloatStorage", 0, "K\x04\x85",
                                        "K\x01K\x01\x86")))
                .find("of one length"),
            std::string::npos);
  EXPECT_NE(errorOf(stream(tensorPickle("FloatStorage", 0, "K\x04\x85",
                                        "J" + le32(uint32_t(-1)) + "\x85")))
                .find("non-negative"),
            std::string::npos);
  // A persistent id that is not a storage record.
  EXPECT_NE(
      errorOf(stream(shortStr("x") + "\x85Q")).find("not a torch storage"),
      std::string::npos);
  EXPECT_NE(
      errorOf(stream("(" + shortStr("storage") + "ccollections\nOrderedDict\n" +
                     shortStr("0") + shortStr("cpu") + "K\x01tQ"))
          .find("not a storage class"),
      std::string::npos);
}

TEST(Pickle, RefusedGlobals) {
  // The classic code-execution pickles: GLOBAL os.system / builtins.eval,
  // then REDUCE. Refused at the GLOBAL, before anything could be called.
  std::string system = stream("cos\nsystem\n" + shortStr("touch x") + "\x85R");
  std::string message = errorOf(system);
  EXPECT_EQ(message, "test.pkl: pickle byte 2: refused global 'os.system': a "
                     "checkpoint may only use collections.OrderedDict, "
                     "torch._utils._rebuild_tensor_v2, "
                     "torch._utils._rebuild_parameter and torch storages");
  EXPECT_NE(errorOf(stream("cbuiltins\neval\n" + shortStr("1") + "\x85R"))
                .find("refused global 'builtins.eval'"),
            std::string::npos);
  EXPECT_NE(
      errorOf(stream(shortStr("posix") + shortStr("system") + bytes({0x93})))
          .find("refused global 'posix.system'"),
      std::string::npos);
  EXPECT_NE(errorOf(stream("ctorch\nload\n")).find("'torch.load'"),
            std::string::npos);
  // Each policy allows only its own globals.
  EXPECT_NE(errorOf(stream("ctiktoken.core\nEncoding\n"))
                .find("refused global 'tiktoken.core.Encoding'"),
            std::string::npos);
  EXPECT_NE(
      errorOf(stream("ccollections\nOrderedDict\n"), Allowed::TiktokenEncoding)
          .find("a tokenizer may only use tiktoken.core.Encoding"),
      std::string::npos);
  // An allowed global that is not callable.
  EXPECT_NE(
      errorOf(stream("ctorch\nFloatStorage\n)R")).find("cannot be called"),
      std::string::npos);
}

TEST(Pickle, RefusedOpcodes) {
  // INST, OBJ, EXT1, PERSID, EMPTY_SET, NEXT_BUFFER, text INT.
  struct Case {
    std::string body;
    std::string message;
  } cases[] = {
      {"(ios\nsystem\n", "opcode 'i' (0x69) is not allowed"},
      {"(o", "opcode 'o' (0x6f) is not allowed"},
      {bytes({0x82, 1}), "opcode 0x82 is not allowed"},
      {"P0\n", "opcode 'P' (0x50) is not allowed"},
      {bytes({0x8f}), "opcode 0x8f is not allowed"},
      {bytes({0x97}), "opcode 0x97 is not allowed"},
      {"I1\n", "opcode 'I' (0x49) is not allowed"},
  };
  for (const Case &c : cases)
    EXPECT_NE(errorOf(stream(c.body)).find(c.message), std::string::npos)
        << c.message;
}

TEST(Pickle, TiktokenEncoding) {
  // What pickle.dump(tiktoken.Encoding) writes at protocol 4: STACK_GLOBAL,
  // EMPTY_TUPLE, NEWOBJ, then BUILD with the state dict.
  std::string body = bytes({0x95}) + le64(0) + shortStr("tiktoken.core") +
                     bytes({0x94}) + shortStr("Encoding") +
                     bytes({0x94, 0x93, 0x94}) + ")" + bytes({0x81, 0x94}) +
                     "}(" + shortStr("name") + shortStr("t") +
                     shortStr("mergeable_ranks") + "}(C" + char(1) +
                     std::string("aK\0u", 4) + "ub";
  Expected<Unpickled> r =
      load(bytes({0x80, 4}) + body + ".", Allowed::TiktokenEncoding);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Value &object = r->root();
  ASSERT_EQ(object.kind, Kind::Object);
  EXPECT_EQ(object.text, "tiktoken.core.Encoding");
  ASSERT_NE(object.state, nullptr);
  EXPECT_EQ(object.state->findEntry("name")->text, "t");
  const Value *ranks = object.state->findEntry("mergeable_ranks");
  ASSERT_NE(ranks, nullptr);
  EXPECT_EQ(ranks->entries[0].first->text, "a");
  EXPECT_NE(
      errorOf(stream("ctiktoken.core\nEncoding\nK\x01\x85" + bytes({0x81})),
              Allowed::TiktokenEncoding)
          .find("with arguments"),
      std::string::npos);
  EXPECT_NE(
      errorOf(stream("ctiktoken.core\nEncoding\n)" + bytes({0x81}) + "}b}b"),
              Allowed::TiktokenEncoding)
          .find("BUILD of tiktoken.core.Encoding twice"),
      std::string::npos);
}

TEST(Pickle, PicklerRoundTrip) {
  Pickler p;
  p.global("collections", "OrderedDict");
  p.emptyTuple();
  p.reduce();
  p.mark();
  p.string("a");
  p.integer(-70000);
  p.string("b");
  p.integer(int64_t(1) << 50);
  p.string("c");
  p.mark();
  p.integer(7);
  p.boolean(true);
  p.none();
  p.tupleFromMark();
  p.setItems();
  Expected<Unpickled> r = load(p.finish());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->root().findEntry("a")->integer, -70000);
  EXPECT_EQ(r->root().findEntry("b")->integer, int64_t(1) << 50);
  const Value *c = r->root().findEntry("c");
  ASSERT_EQ(c->items.size(), 3u);
  EXPECT_TRUE(c->items[1]->boolean);
  EXPECT_EQ(storageClassName(DType::BF16), "BFloat16Storage");
  EXPECT_EQ(storageClassName(DType::U32), "");
}
