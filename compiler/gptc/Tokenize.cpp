//===- Tokenize.cpp - `gptc tokenize`
//--------------------------------------===//
//
//   gptc tokenize --tokenizer T            text on stdin -> ids on stdout
//   gptc tokenize --tokenizer T --decode   ids on stdin -> text on stdout
//   gptc tokenize --tokenizer T --input corpus.txt [--input more.jsonl]
//                 -o tokens.bin            the training token file
//
//===----------------------------------------------------------------------===//

#include "compiler/gptc/Tokenize.h"

#include "backends/common/FileUtil.h"
#include "backends/common/Json.h"
#include "backends/common/TokenFile.h"
#include "backends/common/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <unistd.h>

using namespace gptc;
namespace cl = llvm::cl;

namespace {

cl::SubCommand tokenizeCommand(
    "tokenize",
    "Encode UTF-8 text with a nanochat BPE tokenizer (tokenizer.pkl or "
    ".tiktoken): stdin to comma-separated ids, ids back to text (--decode), "
    "or corpus files to a training token file (--input ... -o tokens.bin)");

cl::opt<std::string> tokenizerPath("tokenizer", cl::Required,
                                   cl::desc("tokenizer.pkl (nanochat) or a "
                                            ".tiktoken rank file"),
                                   cl::value_desc("file"),
                                   cl::sub(tokenizeCommand));
cl::opt<bool> decode("decode",
                     cl::desc("Read comma- or space-separated ids on stdin "
                              "and print their text"),
                     cl::init(false), cl::sub(tokenizeCommand));
cl::list<std::string>
    inputs("input",
           cl::desc("Corpus file to tokenize into -o: a .jsonl file (one "
                    "document per line, its \"text\" field) or any other "
                    "file (one document); repeatable"),
           cl::value_desc("file"), cl::sub(tokenizeCommand));
cl::opt<std::string> output("o",
                            cl::desc("With --input: the token file to write "
                                     "(GPTCTOK1, <|bos|> before each "
                                     "document)"),
                            cl::value_desc("tokens.bin"),
                            cl::sub(tokenizeCommand));
cl::opt<bool> force("force", cl::desc("Replace the -o file if it exists"),
                    cl::init(false), cl::sub(tokenizeCommand));

int fail(const std::string &message) {
  llvm::errs() << "gptc tokenize: error: " << message << "\n";
  return 1;
}

std::string readStdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin),
                     std::istreambuf_iterator<char>());
}

int encodeStdin(const Tokenizer &tok) {
  std::vector<uint32_t> ids;
  if (Status status = tok.encode(readStdin(), ids); !status.ok())
    return fail("stdin: " + status.message());
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i)
    out += (i ? "," : "") + std::to_string(ids[i]);
  llvm::outs() << out << "\n";
  return 0;
}

int decodeStdin(const Tokenizer &tok) {
  std::string text = readStdin();
  std::vector<uint32_t> ids;
  for (size_t pos = 0; pos < text.size();) {
    char c = text[pos];
    if (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      ++pos;
      continue;
    }
    size_t end = text.find_first_of(", \n\r\t", pos);
    std::string word = text.substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    bool digits = !word.empty() && word.size() <= 10 &&
                  word.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoull(word) > UINT32_MAX)
      return fail(
          fmt::format("stdin: {} is not a token id", quoteForMessage(word)));
    ids.push_back(uint32_t(std::stoull(word)));
    pos = end == std::string::npos ? text.size() : end;
  }
  Expected<std::string> decoded = tok.decode(ids.data(), ids.size());
  if (!decoded.ok())
    return fail("stdin: " + decoded.status().message());
  llvm::outs() << *decoded;
  return 0;
}

/// The documents of one --input file.
Expected<std::vector<std::string>> readDocuments(const std::string &path) {
  Expected<std::string> bytes = readFile(path);
  if (!bytes.ok())
    return bytes.status();
  if (path.size() < 6 || path.compare(path.size() - 6, 6, ".jsonl") != 0)
    return std::vector<std::string>{std::move(*bytes)};
  std::vector<std::string> docs;
  size_t line = 0;
  for (size_t pos = 0; pos < bytes->size();) {
    size_t end = bytes->find('\n', pos);
    if (end == std::string::npos)
      end = bytes->size();
    std::string_view row(bytes->data() + pos, end - pos);
    pos = end + 1;
    ++line;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos)
      continue;
    std::string what = fmt::format("{}:{}", path, line);
    Expected<Json> json = parseJson(row, what);
    if (!json.ok())
      return json.status();
    const Json *text = json->isObject() ? json->find("text") : nullptr;
    if (!text || !text->isString())
      return Status::error("{}: no \"text\" string in this line", what);
    docs.push_back(text->getString());
  }
  return docs;
}

/// "1.23M" style counts for the progress line.
std::string human(double n) {
  if (n >= 1e9)
    return fmt::format("{:.2f}G", n / 1e9);
  if (n >= 1e6)
    return fmt::format("{:.2f}M", n / 1e6);
  if (n >= 1e3)
    return fmt::format("{:.1f}k", n / 1e3);
  return fmt::format("{:.0f}", n);
}

int tokenizeCorpus(const Tokenizer &tok) {
  if (output.empty())
    return fail("--input needs -o <tokens.bin>; see --help");
  std::optional<uint32_t> bos = tok.special("<|bos|>");
  if (!bos)
    return fail(tokenizerPath + ": the tokenizer has no <|bos|> token to "
                                "begin documents with");
  std::error_code ec;
  for (const std::string &input : inputs)
    if (std::filesystem::equivalent(input, output.getValue(), ec))
      return fail(fmt::format("-o {} is also an --input; it would be "
                              "replaced",
                              output.getValue()));
  if (!force && std::filesystem::exists(output.getValue(), ec))
    return fail(output + " already exists; pass --force to replace it");

  // Read everything first so that progress can show the share done.
  std::vector<std::pair<std::string, std::vector<std::string>>> files;
  size_t totalBytes = 0;
  for (const std::string &input : inputs) {
    Expected<std::vector<std::string>> docs = readDocuments(input);
    if (!docs.ok())
      return fail(docs.status().message());
    for (const std::string &doc : *docs)
      totalBytes += doc.size();
    files.emplace_back(input, std::move(*docs));
  }

  bool tty = ::isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  auto lastPrint = start;
  std::vector<uint32_t> ids;
  size_t doneBytes = 0, documents = 0;
  auto report = [&](bool last) {
    auto now = std::chrono::steady_clock::now();
    if (!last && (!tty || now - lastPrint < std::chrono::milliseconds(200)))
      return;
    lastPrint = now;
    double seconds = std::chrono::duration<double>(now - start).count();
    double share = totalBytes ? double(doneBytes) / double(totalBytes) : 1;
    int filled = int(share * 30);
    std::string line = fmt::format(
        "[{}{}] {:3.0f}%  {} of {}B  {} tokens  {} tokens/s",
        std::string(size_t(filled), '#'), std::string(size_t(30 - filled), '.'),
        share * 100, human(double(doneBytes)), human(double(totalBytes)),
        human(double(ids.size())),
        human(seconds > 0 ? double(ids.size()) / seconds : 0));
    llvm::errs() << (tty ? "\r" : "") << line << (last || !tty ? "\n" : "");
  };
  for (const auto &[path, docs] : files)
    for (size_t d = 0; d < docs.size(); ++d) {
      ids.push_back(*bos);
      const std::string &doc = docs[d];
      // Encode in slices that end where a match ends, so that progress
      // shows inside large documents; the ids are those of the whole.
      if (Status status = tok.encode(doc, ids,
                                     [&](size_t done) {
                                       doneBytes += done;
                                       report(false);
                                     });
          !status.ok())
        return fail(fmt::format(
            "{}{}: {}", path,
            docs.size() > 1 ? fmt::format(" (document {})", d + 1) : "",
            status.message()));
      ++documents;
    }
  report(true);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  uint32_t width = tok.vocabSize() <= 65536 ? 2 : 4;
  std::string body(ids.size() * width, '\0');
  for (size_t i = 0; i < ids.size(); ++i)
    std::memcpy(&body[i * width], &ids[i], width); // little-endian
  std::string header(kTokenFileMagic);
  header.append(reinterpret_cast<const char *>(&width), sizeof(width));
  if (Status status = writeFileAtomically(output, {header, body}); !status.ok())
    return fail(status.message());
  // tokens/s of the encoding alone (reading and writing excluded).
  llvm::outs() << fmt::format(
      "wrote {}: {} tokens (u{}) from {} documents, {} bytes of text, "
      "{:.0f} tokens/s\n",
      output.getValue(), ids.size(), width * 8, documents, totalBytes,
      seconds > 0 ? double(ids.size()) / seconds : 0.0);
  return 0;
}

} // namespace

std::optional<int> gptc::runTokenizeCommand() {
  if (!tokenizeCommand)
    return std::nullopt;
  Expected<Tokenizer> tok = Tokenizer::load(tokenizerPath);
  if (!tok.ok())
    return fail(tok.status().message());
  if (!inputs.empty()) {
    if (decode)
      return fail("--decode reads stdin; it does not take --input");
    return tokenizeCorpus(*tok);
  }
  if (!output.empty())
    return fail("-o needs --input <corpus>; see --help");
  return decode ? decodeStdin(*tok) : encodeStdin(*tok);
}
