//===- DecodeArgs.cpp - the decode program's flags ------------------------===//

#include "backends/host/DecodeArgs.h"

#include "backends/host/GeneratedPrograms.h"

#include <algorithm>

using namespace gptc;
using namespace gptc::host;

std::string gptc::host::decodeUsage(const char *argv0,
                                    const DecodeShape &shape) {
  return fmt::format(
      "usage: {} --weights W.safetensors --prompt TEXT|--prompt-tokens "
      "1,2,3 [options]\n\nGenerates text with the model\n  {}\ncompiled for "
      "prefill chunks of Tc = {} tokens, steps of R = {} rows and a KV cache "
      "of\nCap = {} tokens per row.",
      argv0, prefill_program.config, shape.Tc, shape.R, shape.Cap);
}

std::vector<Flag> gptc::host::decodeFlags(const DecodeShape &shape) {
  return {
      {"weights", "safetensors file with every parameter, e.g. a training "
                  "run's model.safetensors"},
      {"prompt", "the prompt as text: one token per byte, or with "
                 "--tokenizer its BPE tokens after <|bos|>"},
      {"prompt-tokens", "the prompt as token ids, e.g. 1,2,3"},
      {"max-tokens", "tokens to generate per row and reply", true, "128"},
      {"temperature", "softmax temperature; 0 takes the most likely token",
       true, "0.8"},
      {"top-k", "sample among the k most likely tokens; 0: among all", true,
       "50"},
      {"seed", "seed of the sampling", true, "42"},
      {"rows",
       fmt::format("continuations of the prompt generated side by side, at "
                   "most the compiled R = {}",
                   shape.R),
       true, "1"},
      {"interactive",
       "after the prompt, if any, read lines from stdin: each continues "
       "the conversation and gets a reply; an empty line or EOF ends",
       false},
      {"tokenizer",
       "nanochat tokenizer (tokenizer.pkl or .tiktoken): prompts and lines "
       "are BPE-encoded after <|bos|>, output is decoded text, generation "
       "stops at <|assistant_end|> or <|bos|>"},
      {"chat",
       "a conversation as nanochat's chat_cli renders it (needs "
       "--tokenizer): each line of stdin is a user turn, each reply ends at "
       "<|assistant_end|>; --prompt is the first turn; 'clear' starts over, "
       "'quit' or an empty line ends",
       false},
      {"threads", "OpenMP threads (default: OpenMP's choice)"},
      {"quiet", "print only the generated text (statistics go to stderr)",
       false},
  };
}

/// Loads --tokenizer; checks --chat.
static Status readTokenizer(const Args &args, const DecodeShape &shape,
                            DecodeOptions &options) {
  if (!args.has("tokenizer")) {
    if (options.chat)
      return Status::error("--chat needs --tokenizer (nanochat's "
                           "tokenizer.pkl)");
    return Status::success();
  }
  Expected<Tokenizer> tokenizer = Tokenizer::load(args.get("tokenizer"));
  if (!tokenizer.ok())
    return Status::error("--tokenizer: {}", tokenizer.status().message());
  if (int64_t(tokenizer->vocabSize()) > shape.V)
    return Status::error("--tokenizer {} has {} token ids but the model's "
                         "vocabulary is {}: they do not belong together",
                         args.get("tokenizer"), tokenizer->vocabSize(),
                         shape.V);
  if (Expected<ChatTokens> chat = chatTokens(*tokenizer);
      !chat.ok() && (options.chat || !tokenizer->special("<|bos|>")))
    return Status::error("--tokenizer {}: {}", args.get("tokenizer"),
                         chat.status().message());
  options.tokenizer = std::make_shared<const Tokenizer>(std::move(*tokenizer));
  if (options.chat) {
    if (args.has("prompt-tokens"))
      return Status::error("--chat takes text; use --prompt, not "
                           "--prompt-tokens");
    options.interactive = true;
  }
  return Status::success();
}

Expected<ChatTokens> gptc::host::chatTokens(const Tokenizer &tokenizer) {
  ChatTokens tokens;
  std::pair<const char *, int32_t *> names[] = {
      {"<|bos|>", &tokens.bos},
      {"<|user_start|>", &tokens.userStart},
      {"<|user_end|>", &tokens.userEnd},
      {"<|assistant_start|>", &tokens.assistantStart},
      {"<|assistant_end|>", &tokens.assistantEnd}};
  for (auto [name, id] : names) {
    std::optional<uint32_t> found = tokenizer.special(name);
    if (!found)
      return Status::error("the tokenizer has no {} token", name);
    *id = int32_t(*found);
  }
  return tokens;
}

Expected<std::vector<int32_t>>
gptc::host::textTokens(const DecodeOptions &options, const std::string &text,
                       const std::string &source, int64_t V, bool first) {
  if (!options.tokenizer)
    return byteTokens(text, source, V);
  const Tokenizer &tok = *options.tokenizer;
  std::vector<uint32_t> ids;
  int32_t bos = int32_t(*tok.special("<|bos|>"));
  if (first)
    ids.push_back(uint32_t(bos));
  Expected<ChatTokens> chat = chatTokens(tok);
  if (options.chat)
    ids.push_back(uint32_t(chat->userStart));
  if (Status status = tok.encode(text, ids); !status.ok())
    return Status::error("{}: {}", source, status.message());
  if (options.chat) {
    ids.push_back(uint32_t(chat->userEnd));
    ids.push_back(uint32_t(chat->assistantStart));
  }
  // The tokenizer's vocabulary fits the model's (readTokenizer checked).
  return std::vector<int32_t>(ids.begin(), ids.end());
}

/// Reads --prompt or --prompt-tokens (one of them unless --interactive)
/// into options.prompt.
static Status readPrompt(const Args &args, const DecodeShape &shape,
                         DecodeOptions &options) {
  if (args.has("prompt") && args.has("prompt-tokens"))
    return Status::error("--prompt and --prompt-tokens exclude each other");
  if (args.has("prompt")) {
    std::string text = args.get("prompt");
    if (text.empty())
      return Status::error("--prompt is empty: the prompt needs at least one "
                           "token");
    Expected<std::vector<int32_t>> tokens =
        textTokens(options, text, "--prompt", shape.V, /*first=*/true);
    if (!tokens.ok())
      return tokens.status();
    options.prompt = std::move(*tokens);
  } else if (args.has("prompt-tokens")) {
    Expected<std::vector<int32_t>> tokens =
        parseTokenList(args.get("prompt-tokens"), shape.V);
    if (!tokens.ok())
      return tokens.status();
    options.prompt = std::move(*tokens);
    options.showIds = true;
  } else if (!options.interactive && !options.chat) {
    return Status::error("missing --prompt or --prompt-tokens (or "
                         "--interactive); see --help");
  }
  if (int64_t(options.prompt.size()) > shape.Cap)
    return Status::error("the prompt has {} tokens but the KV cache holds {} "
                         "per row; recompile with --kv-capacity",
                         options.prompt.size(), shape.Cap);
  return Status::success();
}

/// Reads the counts and the sampling settings into `options`.
static Status readGeneration(const Args &args, const DecodeShape &shape,
                             DecodeOptions &options) {
  if (Status s =
          args.readInts({{"max-tokens", &options.maxTokens, 1, kMaxCount},
                         {"top-k", &options.sampling.topK, 0, shape.V},
                         {"seed", &options.seed, 0, INT64_MAX},
                         {"rows", &options.rows, 1, kMaxCount},
                         {"threads", &options.threads, 1, kMaxThreads}});
      !s.ok())
    return s;
  if (options.rows > shape.R)
    return Status::error("--rows {} is more than the R = {} rows the program "
                         "was compiled for; recompile with gptc compile "
                         "--rows {}",
                         options.rows, shape.R, options.rows);
  Expected<double> temperature = args.getReal("temperature");
  if (!temperature.ok())
    return temperature.status();
  if (*temperature < 0)
    return Status::error("option '--temperature' must be >= 0, got {}",
                         *temperature);
  options.sampling.temperature = *temperature;
  return Status::success();
}

Expected<DecodeOptions>
gptc::host::readDecodeOptions(const Args &args, const DecodeShape &shape) {
  if (Status status = args.require({"weights"}); !status.ok())
    return status;
  DecodeOptions options;
  options.weights = args.get("weights");
  options.interactive = args.has("interactive");
  options.quiet = args.has("quiet");
  options.chat = args.has("chat");
  for (auto read : {readTokenizer, readPrompt, readGeneration})
    if (Status status = read(args, shape, options); !status.ok())
      return status;
  if (options.chat && options.rows != 1)
    return Status::error("--chat converses in one row; drop --rows {}",
                         options.rows);
  return options;
}

Expected<std::vector<int32_t>>
gptc::host::parseTokenList(const std::string &text, int64_t V) {
  if (text.empty())
    return Status::error("--prompt-tokens is empty: the prompt needs at least "
                         "one token");
  std::vector<int32_t> tokens;
  size_t begin = 0;
  for (int64_t position = 1;; ++position) {
    size_t end = std::min(text.find(',', begin), text.size());
    std::string item = text.substr(begin, end - begin);
    bool digits = !item.empty() &&
                  std::all_of(item.begin(), item.end(),
                              [](char c) { return c >= '0' && c <= '9'; });
    if (!digits)
      return Status::error("--prompt-tokens: item {} ('{}') is not a token id; "
                           "expected comma-separated ids such as 1,2,3",
                           position, item);
    // Digits beyond those of V cannot name a token (and would overflow).
    int64_t id = item.size() <= std::to_string(V).size()
                     ? std::strtoll(item.c_str(), nullptr, 10)
                     : V;
    if (id >= V)
      return Status::error("--prompt-tokens: item {} ({}) is outside the "
                           "model's vocabulary of {} tokens",
                           position, item, V);
    tokens.push_back(int32_t(id));
    if (end == text.size())
      return tokens;
    begin = end + 1;
  }
}
