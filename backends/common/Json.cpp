//===- Json.cpp - a small strict JSON value, parser and writer ------------===//

#include "backends/common/Json.h"

#include <charconv>
#include <cmath>
#include <unordered_set>

using namespace gptc;

namespace {

/// Length of the well-formed UTF-8 sequence starting at `text[pos]`, or 0 if
/// there is none (stray continuation byte, overlong form, surrogate, value
/// above U+10FFFF, truncated sequence).
size_t utf8SequenceLength(std::string_view text, size_t pos) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  if (lead < 0x80)
    return 1;
  // Allowed range of the second byte; it is narrower than 80..BF exactly
  // where overlong forms, surrogates and values past U+10FFFF would start.
  unsigned char low = 0x80, high = 0xBF;
  size_t length;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    low = lead == 0xE0 ? 0xA0 : low;
    high = lead == 0xED ? 0x9F : high;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    low = lead == 0xF0 ? 0x90 : low;
    high = lead == 0xF4 ? 0x8F : high;
  } else {
    return 0;
  }
  if (text.size() - pos < length || byte(pos + 1) < low || byte(pos + 1) > high)
    return 0;
  for (size_t i = 2; i < length; ++i)
    if ((byte(pos + i) & 0xC0) != 0x80)
      return 0;
  return length;
}

void appendUtf8(std::string &out, uint32_t codePoint) {
  auto put = [&](uint32_t byte) { out.push_back(static_cast<char>(byte)); };
  if (codePoint < 0x80) {
    put(codePoint);
  } else if (codePoint < 0x800) {
    put(0xC0 | (codePoint >> 6));
    put(0x80 | (codePoint & 0x3F));
  } else if (codePoint < 0x10000) {
    put(0xE0 | (codePoint >> 12));
    put(0x80 | ((codePoint >> 6) & 0x3F));
    put(0x80 | (codePoint & 0x3F));
  } else {
    put(0xF0 | (codePoint >> 18));
    put(0x80 | ((codePoint >> 12) & 0x3F));
    put(0x80 | ((codePoint >> 6) & 0x3F));
    put(0x80 | (codePoint & 0x3F));
  }
}

void appendEscapedString(std::string &out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20)
        out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      else
        out.push_back(c);
    }
  }
  out.push_back('"');
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

} // namespace

namespace gptc {

/// Recursive-descent parser over one text; see parseJson().
class JsonParser {
public:
  JsonParser(std::string_view text, std::string_view what)
      : text(text), what(what) {}

  Expected<Json> parseDocument() {
    Json result;
    if (Status status = parseValue(result, 0); !status.ok())
      return status;
    skipWhitespace();
    if (pos != text.size())
      return fail(pos,
                  "unexpected " + describeAt(pos) + " after the JSON value");
    return result;
  }

private:
  Status fail(size_t offset, std::string_view problem) const {
    size_t line = 1, lineStart = 0;
    for (size_t i = 0; i < offset; ++i) {
      if (text[i] == '\n') {
        ++line;
        lineStart = i + 1;
      }
    }
    return Status::error("{}: invalid JSON at line {}, column {} (byte {}): {}",
                         what, line, offset - lineStart + 1, offset, problem);
  }

  /// The character at `offset` for an error message.
  std::string describeAt(size_t offset) const {
    if (offset >= text.size())
      return "end of input";
    char c = text[offset];
    if (c >= 0x20 && c < 0x7F)
      return fmt::format("'{}'", c);
    return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
  }

  bool peek(char c) const { return pos < text.size() && text[pos] == c; }
  bool digitAt(size_t offset) const {
    return offset < text.size() && isDigit(text[offset]);
  }
  void skipDigits() {
    while (digitAt(pos))
      ++pos;
  }

  void skipWhitespace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  /// Parses the value at `pos`, which sits inside `depth` containers.
  Status parseValue(Json &out, int depth) {
    skipWhitespace();
    if (pos == text.size())
      return fail(pos, "expected a JSON value, found end of input");
    switch (text[pos]) {
    case '{':
    case '[':
      if (depth == kMaxJsonDepth)
        return fail(pos, fmt::format("arrays and objects nested deeper than "
                                     "{} levels",
                                     kMaxJsonDepth));
      return text[pos] == '{' ? parseObject(out, depth + 1)
                              : parseArray(out, depth + 1);
    case '"': {
      std::string string;
      if (Status status = parseString(string); !status.ok())
        return status;
      out = Json::string(std::move(string));
      return Status::success();
    }
    case 't':
      return parseLiteral("true", Json::boolean(true), out);
    case 'f':
      return parseLiteral("false", Json::boolean(false), out);
    case 'n':
      return parseLiteral("null", Json(), out);
    default:
      if (text[pos] == '-' || isDigit(text[pos]))
        return parseNumber(out);
      return fail(pos, "expected a JSON value, found " + describeAt(pos));
    }
  }

  Status parseLiteral(std::string_view word, Json value, Json &out) {
    if (text.substr(pos, word.size()) != word)
      return fail(pos, fmt::format("invalid literal, expected '{}'", word));
    pos += word.size();
    out = std::move(value);
    return Status::success();
  }

  Status parseNumber(Json &out) {
    size_t start = pos;
    if (peek('-'))
      ++pos;
    if (!digitAt(pos))
      return fail(pos, "expected a digit, found " + describeAt(pos));
    if (peek('0')) {
      ++pos;
      if (digitAt(pos))
        return fail(start, "numbers must not have leading zeros");
    } else {
      skipDigits();
    }
    bool integral = true;
    if (peek('.')) {
      integral = false;
      ++pos;
      if (!digitAt(pos))
        return fail(pos,
                    "expected a digit after '.', found " + describeAt(pos));
      skipDigits();
    }
    if (peek('e') || peek('E')) {
      integral = false;
      ++pos;
      if (peek('+') || peek('-'))
        ++pos;
      if (!digitAt(pos))
        return fail(pos, "expected a digit in the exponent, found " +
                             describeAt(pos));
      skipDigits();
    }

    std::string_view literal = text.substr(start, pos - start);
    const char *first = literal.data();
    const char *last = first + literal.size();
    double value;
    if (std::from_chars(first, last, value).ec != std::errc())
      return fail(start, "number " + quoteForMessage(literal) +
                             " is out of the range of a double");
    int64_t integer;
    bool exact =
        integral && std::from_chars(first, last, integer).ec == std::errc();
    out = exact ? Json::integer(integer) : Json::number(value);
    return Status::success();
  }

  Status parseString(std::string &out) {
    size_t start = pos;
    ++pos; // The opening quote.
    for (;;) {
      if (pos == text.size())
        return fail(start, "unterminated string");
      unsigned char c = text[pos];
      if (c == '"') {
        ++pos;
        return Status::success();
      }
      if (c == '\\') {
        if (Status status = parseEscape(out); !status.ok())
          return status;
        continue;
      }
      if (c < 0x20)
        return fail(pos, fmt::format("raw control character 0x{:02x} in a "
                                     "string; escape it as \\u{:04x}",
                                     c, c));
      size_t length = utf8SequenceLength(text, pos);
      if (length == 0)
        return fail(pos,
                    fmt::format("invalid UTF-8 byte 0x{:02x} in a string", c));
      out.append(text.substr(pos, length));
      pos += length;
    }
  }

  Status parseEscape(std::string &out) {
    size_t start = pos;
    ++pos; // The backslash.
    if (pos == text.size())
      return fail(start, "unterminated string");
    switch (text[pos++]) {
    case '"':
      out.push_back('"');
      return Status::success();
    case '\\':
      out.push_back('\\');
      return Status::success();
    case '/':
      out.push_back('/');
      return Status::success();
    case 'b':
      out.push_back('\b');
      return Status::success();
    case 'f':
      out.push_back('\f');
      return Status::success();
    case 'n':
      out.push_back('\n');
      return Status::success();
    case 'r':
      out.push_back('\r');
      return Status::success();
    case 't':
      out.push_back('\t');
      return Status::success();
    case 'u':
      return parseUnicodeEscape(start, out);
    default:
      return fail(start, "invalid escape: backslash followed by " +
                             describeAt(start + 1));
    }
  }

  /// Parses the digits of the \u escape starting at `start`, and of the low
  /// surrogate escape that must follow a high surrogate.
  Status parseUnicodeEscape(size_t start, std::string &out) {
    uint32_t codePoint;
    if (Status status = parseHex4(codePoint); !status.ok())
      return status;
    if (codePoint >= 0xDC00 && codePoint <= 0xDFFF)
      return fail(start,
                  fmt::format("unpaired low surrogate \\u{:04X}", codePoint));
    if (codePoint >= 0xD800 && codePoint <= 0xDBFF) {
      uint32_t low = 0;
      if (text.substr(pos, 2) == "\\u") {
        pos += 2;
        if (Status status = parseHex4(low); !status.ok())
          return status;
      }
      if (low < 0xDC00 || low > 0xDFFF)
        return fail(start, fmt::format("high surrogate \\u{:04X} is not "
                                       "followed by a low surrogate \\uDC00 "
                                       "to \\uDFFF",
                                       codePoint));
      codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, codePoint);
    return Status::success();
  }

  Status parseHex4(uint32_t &out) {
    out = 0;
    for (int i = 0; i < 4; ++i, ++pos) {
      char c = pos < text.size() ? text[pos] : '\0';
      uint32_t digit;
      if (isDigit(c))
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return fail(pos, "expected 4 hex digits after \\u, found " +
                             describeAt(pos));
      out = out * 16 + digit;
    }
    return Status::success();
  }

  Status parseArray(Json &out, int depth) {
    ++pos; // '['
    Json::Array elements;
    skipWhitespace();
    if (peek(']')) {
      ++pos;
    } else {
      for (;;) {
        Json element;
        if (Status status = parseValue(element, depth); !status.ok())
          return status;
        elements.push_back(std::move(element));
        skipWhitespace();
        if (peek(',')) {
          ++pos;
          continue;
        }
        if (peek(']')) {
          ++pos;
          break;
        }
        return fail(pos, "expected ',' or ']' after an array element, found " +
                             describeAt(pos));
      }
    }
    out.value = std::move(elements);
    return Status::success();
  }

  Status parseObject(Json &out, int depth) {
    ++pos; // '{'
    Json::Object members;
    std::unordered_set<std::string> keys;
    skipWhitespace();
    if (peek('}')) {
      ++pos;
    } else {
      for (;;) {
        skipWhitespace();
        if (!peek('"'))
          return fail(pos, "expected a string key, found " + describeAt(pos));
        size_t keyStart = pos;
        std::string key;
        if (Status status = parseString(key); !status.ok())
          return status;
        if (!keys.insert(key).second)
          return fail(keyStart, "duplicate key " + quoteForMessage(key));
        skipWhitespace();
        if (!peek(':'))
          return fail(pos, "expected ':' after an object key, found " +
                               describeAt(pos));
        ++pos;
        Json member;
        if (Status status = parseValue(member, depth); !status.ok())
          return status;
        members.emplace_back(std::move(key), std::move(member));
        skipWhitespace();
        if (peek(',')) {
          ++pos;
          continue;
        }
        if (peek('}')) {
          ++pos;
          break;
        }
        return fail(pos, "expected ',' or '}' after an object member, found " +
                             describeAt(pos));
      }
    }
    out.value = std::move(members);
    return Status::success();
  }

  std::string_view text;
  std::string_view what;
  size_t pos = 0;
};

} // namespace gptc

Json Json::boolean(bool value) {
  Json json;
  json.value = value;
  return json;
}

Json Json::number(double value) {
  Json json;
  json.value = Number{value, std::nullopt};
  return json;
}

Json Json::integer(int64_t value) {
  Json json;
  json.value = Number{static_cast<double>(value), value};
  return json;
}

Json Json::string(std::string value) {
  Json json;
  json.value = std::move(value);
  return json;
}

Json Json::array(Array elements) {
  Json json;
  json.value = std::move(elements);
  return json;
}

Json Json::object() {
  Json json;
  json.value = Object();
  return json;
}

bool Json::getBool() const { return std::get<bool>(value); }

double Json::getNumber() const { return std::get<Number>(value).value; }

std::optional<int64_t> Json::getInteger() const {
  return std::get<Number>(value).integer;
}

const std::string &Json::getString() const {
  return std::get<std::string>(value);
}

const Json::Array &Json::getArray() const { return std::get<Array>(value); }

const Json::Object &Json::getObject() const { return std::get<Object>(value); }

const Json *Json::find(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (const Member &member : getObject())
    if (member.first == key)
      return &member.second;
  return nullptr;
}

void Json::push(Json element) {
  std::get<Array>(value).push_back(std::move(element));
}

void Json::set(std::string key, Json member) {
  Object &members = std::get<Object>(value);
  for (Member &existing : members) {
    if (existing.first == key) {
      existing.second = std::move(member);
      return;
    }
  }
  members.emplace_back(std::move(key), std::move(member));
}

std::string Json::serialize() const {
  std::string out;
  serializeTo(out);
  return out;
}

void Json::serializeTo(std::string &out) const {
  switch (kind()) {
  case Kind::Null:
    out += "null";
    return;
  case Kind::Bool:
    out += getBool() ? "true" : "false";
    return;
  case Kind::Number: {
    const Number &number = std::get<Number>(value);
    if (number.integer) {
      out += fmt::format("{}", *number.integer);
    } else if (std::isfinite(number.value)) {
      // Shortest text that reads back as the same double; a ".0" keeps an
      // integral double from reading back as an integer.
      std::string text = fmt::format("{}", number.value);
      if (text.find_first_of(".e") == std::string::npos)
        text += ".0";
      out += text;
    } else {
      out += "null";
    }
    return;
  }
  case Kind::String:
    appendEscapedString(out, getString());
    return;
  case Kind::Array: {
    out.push_back('[');
    const char *separator = "";
    for (const Json &element : getArray()) {
      out += separator;
      element.serializeTo(out);
      separator = ",";
    }
    out.push_back(']');
    return;
  }
  case Kind::Object: {
    out.push_back('{');
    const char *separator = "";
    for (const Member &member : getObject()) {
      out += separator;
      appendEscapedString(out, member.first);
      out.push_back(':');
      member.second.serializeTo(out);
      separator = ",";
    }
    out.push_back('}');
    return;
  }
  }
}

Expected<Json> gptc::parseJson(std::string_view text, std::string_view what) {
  return JsonParser(text, what).parseDocument();
}

size_t gptc::validUtf8Prefix(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = utf8SequenceLength(text, pos);
    if (length == 0)
      break;
    pos += length;
  }
  return pos;
}

bool gptc::isValidUtf8(std::string_view text) {
  return validUtf8Prefix(text) == text.size();
}

std::string gptc::quoteForMessage(std::string_view text) {
  constexpr size_t kMaxBytes = 100;
  std::string out = "'";
  for (size_t pos = 0; pos < text.size();) {
    if (pos >= kMaxBytes) {
      out += fmt::format("...' ({} bytes)", text.size());
      return out;
    }
    unsigned char c = text[pos];
    size_t length = utf8SequenceLength(text, pos);
    if (length == 0 || c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  out += "'";
  return out;
}
