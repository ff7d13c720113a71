//===- JsonTest.cpp - tests of the strict JSON parser and writer ----------===//

#include "backends/common/Json.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

using namespace gptc;

namespace {

Json parseOk(std::string_view text) {
  Expected<Json> json = parseJson(text, "test.json");
  EXPECT_TRUE(json.ok()) << json.status().message();
  return json.ok() ? *json : Json();
}

/// The error for `text`, which must not parse.
std::string parseError(std::string_view text) {
  Expected<Json> json = parseJson(text, "test.json");
  EXPECT_FALSE(json.ok()) << "parsed: " << text;
  std::string message = json.status().message();
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.rfind("test.json: invalid JSON at line ", 0), 0u)
      << message;
  return message;
}

#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "'" << (haystack) << "' does not contain '" << (needle) << "'"

TEST(JsonTest, Scalars) {
  EXPECT_TRUE(parseOk("null").isNull());
  EXPECT_TRUE(parseOk("true").getBool());
  EXPECT_FALSE(parseOk(" false ").getBool());
  EXPECT_EQ(parseOk("\"hi\"").getString(), "hi");
  EXPECT_EQ(parseOk("-12").getInteger(), -12);
  EXPECT_EQ(parseOk("-0").getInteger(), 0);
  EXPECT_DOUBLE_EQ(parseOk("1.5").getNumber(), 1.5);
  EXPECT_DOUBLE_EQ(parseOk("-2.5E-3").getNumber(), -2.5e-3);
  EXPECT_DOUBLE_EQ(parseOk("1e3").getNumber(), 1000);
}

TEST(JsonTest, IntegersAreExact) {
  // 2^53 + 1 is not a double; it must survive as an integer.
  Json big = parseOk("9007199254740993");
  EXPECT_EQ(big.getInteger(), 9007199254740993);
  EXPECT_EQ(parseOk("9223372036854775807").getInteger(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parseOk("-9223372036854775808").getInteger(),
            std::numeric_limits<int64_t>::min());
  // Beyond int64, or not written as an integer: a double only.
  Json huge = parseOk("9223372036854775808");
  EXPECT_FALSE(huge.getInteger());
  EXPECT_DOUBLE_EQ(huge.getNumber(), 9223372036854775808.0);
  EXPECT_FALSE(parseOk("1.0").getInteger());
  EXPECT_FALSE(parseOk("1e3").getInteger());
}

TEST(JsonTest, Escapes) {
  EXPECT_EQ(parseOk(R"("\"\\\/\b\f\n\r\t")").getString(), "\"\\/\b\f\n\r\t");
  EXPECT_EQ(parseOk(R"("\u00e9\u20AC")").getString(), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(parseOk(R"("a\u0000b")").getString(), std::string("a\0b", 3));
  EXPECT_EQ(parseOk("\"raw \xC3\xA9 \xF0\x9F\x98\x80\"").getString(),
            "raw \xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(JsonTest, SurrogatePairs) {
  EXPECT_EQ(parseOk(R"("\uD83D\uDE00")").getString(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(parseOk(R"("\udbff\udfff")").getString(), "\xF4\x8F\xBF\xBF");
  EXPECT_CONTAINS(parseError(R"("\uD83D")"), "high surrogate \\uD83D");
  EXPECT_CONTAINS(parseError(R"("\uD83Dx")"), "high surrogate");
  EXPECT_CONTAINS(parseError(R"("\uD83D\u0041")"), "high surrogate");
  EXPECT_CONTAINS(parseError(R"("\uDE00")"), "unpaired low surrogate \\uDE00");
}

TEST(JsonTest, BadStrings) {
  EXPECT_CONTAINS(parseError(R"("\x")"), "invalid escape");
  EXPECT_CONTAINS(parseError(R"("\u12G4")"), "expected 4 hex digits");
  EXPECT_CONTAINS(parseError(R"("\u12)"), "expected 4 hex digits");
  EXPECT_CONTAINS(parseError("\"abc"), "unterminated string");
  EXPECT_CONTAINS(parseError("\"abc\\"), "unterminated string");
  EXPECT_CONTAINS(parseError("\"a\nb\""), "raw control character 0x0a");
  EXPECT_CONTAINS(parseError("\"\xFF\""), "invalid UTF-8 byte 0xff");
  EXPECT_CONTAINS(parseError("\"\xC0\xAF\""), "invalid UTF-8"); // Overlong.
  EXPECT_CONTAINS(parseError("\"\xED\xA0\x80\""),
                  "invalid UTF-8");                             // Surrogate.
  EXPECT_CONTAINS(parseError("\"\xE2\x82\""), "invalid UTF-8"); // Truncated.
  EXPECT_CONTAINS(parseError("\"\xF4\x90\x80\x80\""), "invalid UTF-8");
}

TEST(JsonTest, ObjectsKeepOrderAndRejectDuplicateKeys) {
  Json object = parseOk(R"({"b": 1, "a": [true, null], "c": {}})");
  ASSERT_TRUE(object.isObject());
  const Json::Object &members = object.getObject();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].first, "b");
  EXPECT_EQ(members[1].first, "a");
  EXPECT_EQ(members[2].first, "c");
  EXPECT_EQ(object.find("a")->getArray().size(), 2u);
  EXPECT_EQ(object.find("zzz"), nullptr);
  EXPECT_EQ(Json::integer(3).find("a"), nullptr);

  std::string message = parseError(R"({"a": 1, "b": 2, "a": 3})");
  EXPECT_CONTAINS(message, "duplicate key 'a'");
  EXPECT_CONTAINS(message, "byte 17");
  // Keys compare after unescaping.
  EXPECT_CONTAINS(parseError(R"({"a": 1, "\u0061": 2})"), "duplicate key 'a'");
}

TEST(JsonTest, DepthLimit) {
  std::string ok =
      std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parseOk(ok).isArray());
  std::string deep = "[" + ok + "]";
  EXPECT_CONTAINS(parseError(deep), "nested deeper than 64 levels");
  std::string objects;
  for (int i = 0; i <= kMaxJsonDepth; ++i)
    objects += "{\"a\":";
  EXPECT_CONTAINS(parseError(objects), "nested deeper than 64 levels");
  // Far deeper than any stack could recurse.
  EXPECT_CONTAINS(parseError(std::string(1000000, '[')), "nested deeper");
}

TEST(JsonTest, TrailingGarbage) {
  EXPECT_CONTAINS(parseError("{} x"), "unexpected 'x' after the JSON value");
  EXPECT_CONTAINS(parseError("1 2"), "unexpected '2' after the JSON value");
  EXPECT_CONTAINS(parseError(std::string_view("{}\0", 3)),
                  "unexpected byte 0x00");
  EXPECT_TRUE(parseOk(" \t\r\n{}  \n").isObject());
}

TEST(JsonTest, Malformed) {
  EXPECT_CONTAINS(parseError(""), "expected a JSON value, found end of input");
  EXPECT_CONTAINS(parseError("  "),
                  "expected a JSON value, found end of input");
  EXPECT_CONTAINS(parseError("[1,]"), "expected a JSON value, found ']'");
  EXPECT_CONTAINS(parseError(R"({"a":1,})"),
                  "expected a string key, found '}'");
  EXPECT_CONTAINS(parseError("{a:1}"), "expected a string key, found 'a'");
  EXPECT_CONTAINS(parseError("[1 2]"), "expected ',' or ']'");
  EXPECT_CONTAINS(parseError(R"({"a" 1})"), "expected ':' after an object key");
  EXPECT_CONTAINS(parseError(R"({"a":1 "b":2})"), "expected ',' or '}'");
  EXPECT_CONTAINS(parseError("[1"), "found end of input");
  EXPECT_CONTAINS(parseError("tru"), "invalid literal, expected 'true'");
  EXPECT_CONTAINS(parseError("nul"), "expected 'null'");
  EXPECT_CONTAINS(parseError("NaN"), "expected a JSON value, found 'N'");
  EXPECT_CONTAINS(parseError("'a'"), "expected a JSON value, found '''");
  EXPECT_CONTAINS(parseError("01"), "leading zeros");
  EXPECT_CONTAINS(parseError("-"), "expected a digit, found end of input");
  EXPECT_CONTAINS(parseError("+1"), "found '+'");
  EXPECT_CONTAINS(parseError(".5"), "found '.'");
  EXPECT_CONTAINS(parseError("1."), "expected a digit after '.'");
  EXPECT_CONTAINS(parseError("1e"), "expected a digit in the exponent");
  EXPECT_CONTAINS(parseError("1e+"), "expected a digit in the exponent");
  EXPECT_CONTAINS(parseError("1e400"), "number '1e400' is out of the range");
}

TEST(JsonTest, ErrorPositions) {
  EXPECT_EQ(parseError("{\n  \"a\": 1,\n  \"b\" 2\n}"),
            "test.json: invalid JSON at line 3, column 7 (byte 18): expected "
            "':' after an object key, found '2'");
}

TEST(JsonTest, Build) {
  Json object = Json::object();
  object.set("x", Json::integer(1));
  object.set("y", Json::string("s"));
  object.set("x", Json::boolean(false)); // Replaces, keeping the position.
  Json list = Json::array();
  list.push(Json::number(0.5));
  list.push(Json());
  object.set("list", list);
  EXPECT_EQ(object.serialize(), R"({"x":false,"y":"s","list":[0.5,null]})");
  EXPECT_EQ(object.find("list")->getArray()[0].getNumber(), 0.5);
}

TEST(JsonTest, Serialize) {
  EXPECT_EQ(Json::string("q\"b\\n\n\x01\x7F\xC3\xA9").serialize(),
            "\"q\\\"b\\\\n\\n\\u0001\x7F\xC3\xA9\"");
  EXPECT_EQ(Json::integer(9007199254740993).serialize(), "9007199254740993");
  EXPECT_EQ(Json::number(0.1).serialize(), "0.1");
  EXPECT_EQ(Json::number(1).serialize(), "1.0");
  EXPECT_EQ(Json::number(-0.0).serialize(), "-0.0");
  EXPECT_EQ(Json::number(1e300).serialize(), "1e+300");
  EXPECT_EQ(Json::number(std::nan("")).serialize(), "null");
  EXPECT_EQ(Json::number(INFINITY).serialize(), "null");
  EXPECT_EQ(Json::array().serialize(), "[]");
  EXPECT_EQ(Json::object().serialize(), "{}");
}

TEST(JsonTest, RoundTrip) {
  std::string text = R"({"name":"w\u00e9\n","n":[1,-2,9007199254740993,)"
                     R"(0.1,1.0,2.5e-300],"nested":{"t":true,"f":false,)"
                     R"("z":null,"e":{},"a":[]},"emoji":"\ud83d\ude00"})";
  Json json = parseOk(text);
  Json again = parseOk(json.serialize());
  EXPECT_EQ(json, again);
  EXPECT_EQ(again.serialize(), json.serialize());
  EXPECT_NE(json, parseOk(R"({"name":"w"})"));
  // An integer and the same value as a double differ.
  EXPECT_NE(parseOk("1"), parseOk("1.0"));
}

TEST(JsonTest, Utf8Validation) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("plain \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\x80"));
  EXPECT_FALSE(isValidUtf8("\xC3"));
  EXPECT_FALSE(isValidUtf8("\xE0\x80\x80")); // Overlong.
  EXPECT_FALSE(isValidUtf8("\xED\xBF\xBF")); // Surrogate.
  EXPECT_FALSE(isValidUtf8("\xF5\x80\x80\x80"));
}

TEST(JsonTest, Quoted) {
  EXPECT_EQ(quoteForMessage("lm_head.weight"), "'lm_head.weight'");
  EXPECT_EQ(quoteForMessage("a\nb\xFF\xC3\xA9"), "'a\\x0ab\\xff\xC3\xA9'");
  std::string longText(300, 'x');
  EXPECT_EQ(quoteForMessage(longText),
            "'" + std::string(100, 'x') + "...' (300 bytes)");
}

} // namespace
