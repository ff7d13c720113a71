//===- Json.h - a small strict JSON value, parser and writer ----*- C++ -*-===//
//
// Enough JSON for safetensors headers, run metadata and JSON Lines metrics.
// The parser is strict (RFC 8259): no comments, no trailing commas, no NaN,
// strings must be valid UTF-8 without raw control characters, lone
// surrogates in \u escapes are rejected and so are duplicate object keys.
// Numbers keep their exact value when written as an integer literal, so
// int64 byte offsets beyond 2^53 survive. Objects keep their key order.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_JSON_H
#define GPTC_BACKENDS_COMMON_JSON_H

#include "backends/common/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace gptc {

/// Containers nested deeper than this are rejected, so hostile input cannot
/// overflow the parser's stack.
constexpr int kMaxJsonDepth = 64;

class Json {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  /// null.
  Json() = default;
  static Json boolean(bool value);
  /// A number that is not known to be an integer; see integer().
  static Json number(double value);
  /// An integer, written and read back exactly.
  static Json integer(int64_t value);
  static Json string(std::string value);
  static Json array(Array elements = {});
  /// An empty object; add members with set().
  static Json object();

  Kind kind() const { return static_cast<Kind>(value.index()); }
  bool isNull() const { return kind() == Kind::Null; }
  bool isBool() const { return kind() == Kind::Bool; }
  bool isNumber() const { return kind() == Kind::Number; }
  bool isString() const { return kind() == Kind::String; }
  bool isArray() const { return kind() == Kind::Array; }
  bool isObject() const { return kind() == Kind::Object; }

  // The accessors below require the matching kind (they abort otherwise).
  bool getBool() const;
  double getNumber() const;
  /// The exact value of a number written as an integer literal (or made by
  /// integer()); nullopt for 1.5, 1e3, 2.0 and integers outside int64.
  std::optional<int64_t> getInteger() const;
  const std::string &getString() const;
  const Array &getArray() const;
  const Object &getObject() const;

  /// The member named `key` of an object, or nullptr.
  const Json *find(std::string_view key) const;
  /// Appends to an array.
  void push(Json element);
  /// Sets member `key` of an object: replaces its value if present, else
  /// appends it last.
  void set(std::string key, Json member);

  /// Compact JSON text (no whitespace), members in order. NaN and infinities
  /// have no JSON form and are written as null.
  std::string serialize() const;

  friend bool operator==(const Json &lhs, const Json &rhs) {
    return lhs.value == rhs.value;
  }
  friend bool operator!=(const Json &lhs, const Json &rhs) {
    return !(lhs == rhs);
  }

private:
  friend class JsonParser;

  struct Number {
    double value = 0;
    std::optional<int64_t> integer;
    friend bool operator==(const Number &lhs, const Number &rhs) {
      return lhs.value == rhs.value && lhs.integer == rhs.integer;
    }
  };

  void serializeTo(std::string &out) const;

  // Alternatives in Kind order.
  std::variant<std::monostate, bool, Number, std::string, Array, Object> value;
};

/// Parses `text`, which must hold exactly one JSON value (whitespace around
/// it allowed). Errors start with `what` and give the position and what was
/// expected, e.g. "run.json: invalid JSON at line 3, column 7 (byte 41):
/// expected ',' or '}' after an object member, found ']'".
Expected<Json> parseJson(std::string_view text, std::string_view what);

/// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool isValidUtf8(std::string_view text);
/// The length of the longest prefix of `text` that is well-formed UTF-8:
/// the offset of the first bad byte, or text.size().
size_t validUtf8Prefix(std::string_view text);

/// `text` in single quotes for an error message, kept to one readable line:
/// control characters and invalid UTF-8 bytes are escaped and text past 100
/// bytes is elided.
std::string quoteForMessage(std::string_view text);

} // namespace gptc

#endif // GPTC_BACKENDS_COMMON_JSON_H
