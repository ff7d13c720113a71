//===- EnumOption.h - enum-valued command-line and pass options -*- C++ -*-===//
//
// Each enum that an option takes has one table of its spellings
// (`EnumTraits<E>::entries()`), from which everything else comes: the
// option's accepted values and --help lines, messages that list the values,
// printing a value back (IR attributes, pass pipelines, `gptc explain`).
//
//   cl::opt<RecomputePolicy, false, EnumParser<RecomputePolicy>> policy(
//       "recompute", cl::init(kDefaultRecompute));
//
// Pass options declared in ODS take the table as a modifier instead
// (`enumValues<E>()`), since ODS cannot name a parser class.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_COMPILER_ENUMOPTION_H
#define GPTC_COMPILER_ENUMOPTION_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace gptc {

/// One spelling of an enum value.
template <typename E> struct EnumEntry {
  E value;
  llvm::StringRef name;        // as the option spells it
  llvm::StringRef description; // for --help
};

/// Specialised for each option enum: `static ArrayRef<EnumEntry<E>>
/// entries()`, the default value first where there is one.
template <typename E> struct EnumTraits;

/// The spelling of `value`.
template <typename E> llvm::StringRef enumName(E value) {
  for (const EnumEntry<E> &entry : EnumTraits<E>::entries())
    if (entry.value == value)
      return entry.name;
  return "";
}

/// The value spelled `name`, if any.
template <typename E> std::optional<E> parseEnum(llvm::StringRef name) {
  for (const EnumEntry<E> &entry : EnumTraits<E>::entries())
    if (entry.name == name)
      return entry.value;
  return std::nullopt;
}

/// "a, b and c" (with `conjunction` "and"), for messages.
inline std::string joinWords(llvm::ArrayRef<std::string> words,
                             llvm::StringRef conjunction) {
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0)
      text += i + 1 == words.size() ? " " + conjunction.str() + " " : ", ";
    text += words[i];
  }
  return text;
}

/// The spellings for messages: "none, minimal, full or auto".
template <typename E> std::string describeEnumNames() {
  std::vector<std::string> names;
  for (const EnumEntry<E> &entry : EnumTraits<E>::entries())
    names.push_back(entry.name.str());
  return joinWords(names, "or");
}

/// The parser of an enum option: the table's spellings, and a message that
/// lists them for anything else.
template <typename E> class EnumParser : public llvm::cl::parser<E> {
public:
  using llvm::cl::parser<E>::parser;

  void initialize() {
    llvm::cl::parser<E>::initialize();
    for (const EnumEntry<E> &entry : EnumTraits<E>::entries())
      this->addLiteralOption(entry.name, entry.value, entry.description);
  }

  bool parse(llvm::cl::Option &option, llvm::StringRef name,
             llvm::StringRef value, E &result) {
    if (std::optional<E> parsed = parseEnum<E>(value)) {
      result = *parsed;
      return false;
    }
    return option.error("unknown value '" + value + "'; expected " +
                        describeEnumNames<E>());
  }

  /// How MLIR prints a pass pipeline's option values.
  static void print(llvm::raw_ostream &os, E value) { os << enumName(value); }
};

/// A modifier giving an option the table's spellings as its values, for
/// pass options declared in ODS: `enumValues<E>()` as the option's extra
/// flags.
template <typename E> struct EnumValues {
  template <typename Opt> void apply(Opt &option) const {
    for (const EnumEntry<E> &entry : EnumTraits<E>::entries())
      option.getParser().addLiteralOption(entry.name, entry.value,
                                          entry.description);
  }
};
template <typename E> EnumValues<E> enumValues() { return {}; }

} // namespace gptc

#endif // GPTC_COMPILER_ENUMOPTION_H
