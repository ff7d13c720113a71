//===- Pickle.cpp - a restricted Python unpickler and a small pickler -----===//

#include "backends/common/Pickle.h"

#include "backends/common/Json.h"

#include <cstring>
#include <map>

using namespace gptc;
using namespace gptc::pickle;

std::string_view pickle::kindName(Kind kind) {
  switch (kind) {
  case Kind::None:
    return "None";
  case Kind::Bool:
    return "bool";
  case Kind::Int:
    return "int";
  case Kind::Float:
    return "float";
  case Kind::String:
    return "str";
  case Kind::Bytes:
    return "bytes";
  case Kind::Tuple:
    return "tuple";
  case Kind::List:
    return "list";
  case Kind::Dict:
    return "dict";
  case Kind::Global:
    return "global";
  case Kind::Storage:
    return "storage";
  case Kind::Tensor:
    return "tensor";
  case Kind::Object:
    return "object";
  }
  return "value";
}

const Value *Value::findEntry(std::string_view name) const {
  for (const auto &[k, v] : entries)
    if (k->kind == Kind::String && k->text == name)
      return v;
  return nullptr;
}

namespace {

/// torch's typed storage classes and their element types.
constexpr std::pair<std::string_view, DType> kStorages[] = {
    {"DoubleStorage", DType::F64}, {"FloatStorage", DType::F32},
    {"HalfStorage", DType::F16},   {"BFloat16Storage", DType::BF16},
    {"LongStorage", DType::I64},   {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},
    {"ByteStorage", DType::U8},    {"BoolStorage", DType::Bool},
};

constexpr std::string_view kOrderedDict = "collections.OrderedDict";
constexpr std::string_view kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr std::string_view kRebuildParameter =
    "torch._utils._rebuild_parameter";
constexpr std::string_view kEncoding = "tiktoken.core.Encoding";

/// Pickle opcodes, as named in CPython's pickle.py.
enum Op : uint8_t {
  MARK = '(',
  STOP = '.',
  POP = '0',
  POP_MARK = '1',
  DUP = '2',
  BININT = 'J',
  BININT1 = 'K',
  BININT2 = 'M',
  NONE = 'N',
  BINPERSID = 'Q',
  REDUCE = 'R',
  BINUNICODE = 'X',
  APPEND = 'a',
  BUILD = 'b',
  GLOBAL = 'c',
  DICT = 'd',
  EMPTY_DICT = '}',
  APPENDS = 'e',
  GET = 'g',
  BINGET = 'h',
  LONG_BINGET = 'j',
  LIST = 'l',
  EMPTY_LIST = ']',
  PUT = 'p',
  BINPUT = 'q',
  LONG_BINPUT = 'r',
  SETITEM = 's',
  TUPLE = 't',
  EMPTY_TUPLE = ')',
  SETITEMS = 'u',
  BINFLOAT = 'G',
  BINBYTES = 'B',
  SHORT_BINBYTES = 'C',
  PROTO = 0x80,
  NEWOBJ = 0x81,
  TUPLE1 = 0x85,
  TUPLE2 = 0x86,
  TUPLE3 = 0x87,
  NEWTRUE = 0x88,
  NEWFALSE = 0x89,
  LONG1 = 0x8a,
  SHORT_BINUNICODE = 0x8c,
  BINUNICODE8 = 0x8d,
  BINBYTES8 = 0x8e,
  STACK_GLOBAL = 0x93,
  MEMOIZE = 0x94,
  FRAME = 0x95,
};

} // namespace

namespace gptc::pickle {

/// The interpreter. Every failure is a one-line Status naming the stream,
/// the byte offset of the opcode and what is wrong.
class Unpickler {
public:
  Unpickler(std::string_view data, std::string_view what, Allowed allowed)
      : data(data), what(what), allowed(allowed) {}

  Expected<Unpickled> run();

private:
  template <typename... Args>
  Status fail(fmt::format_string<Args...> format, Args &&...args) {
    return Status::error("{}: pickle byte {}: {}", what, opStart,
                         fmt::format(format, std::forward<Args>(args)...));
  }

  Value *make(Kind kind) {
    result.arena.push_back(std::make_unique<Value>());
    result.arena.back()->kind = kind;
    return result.arena.back().get();
  }

  /// Reads `n` bytes of operand, or fails on a truncated stream.
  bool take(size_t n, std::string_view &bytes) {
    if (data.size() - pos < n)
      return false;
    bytes = data.substr(pos, n);
    pos += n;
    return true;
  }
  template <typename T> bool takeLE(T &value) {
    std::string_view bytes;
    if (!take(sizeof(T), bytes))
      return false;
    std::memcpy(&value, bytes.data(), sizeof(T));
    return true;
  }
  /// Reads a newline-terminated text operand (GLOBAL, GET, PUT).
  bool takeLine(std::string_view &line) {
    size_t end = data.find('\n', pos);
    if (end == std::string_view::npos)
      return false;
    line = data.substr(pos, end - pos);
    pos = end + 1;
    return true;
  }

  Expected<Value *> pop() {
    if (stack.size() <= markFloor())
      return fail("stack underflow");
    Value *value = stack.back();
    stack.pop_back();
    return value;
  }
  size_t markFloor() const { return marks.empty() ? 0 : marks.back(); }
  /// Pops everything above the last mark, and the mark.
  Expected<std::vector<Value *>> popMark() {
    if (marks.empty())
      return fail("no mark on the stack");
    std::vector<Value *> items(stack.begin() + marks.back(), stack.end());
    stack.resize(marks.back());
    marks.pop_back();
    return items;
  }
  Status memoPut(uint64_t index) {
    if (stack.size() <= markFloor())
      return fail("memo store from an empty stack");
    memo[index] = stack.back();
    return Status::success();
  }
  Status memoGet(uint64_t index) {
    auto it = memo.find(index);
    if (it == memo.end())
      return fail("memo entry {} was never stored", index);
    stack.push_back(it->second);
    return Status::success();
  }

  Status pushString(Kind kind, std::string_view bytes) {
    if (kind == Kind::String && !isValidUtf8(bytes))
      return fail("string is not valid UTF-8");
    Value *value = make(kind);
    value->text = bytes;
    stack.push_back(value);
    return Status::success();
  }
  Status pushInt(int64_t v) {
    Value *value = make(Kind::Int);
    value->integer = v;
    stack.push_back(value);
    return Status::success();
  }

  Status global(std::string_view module, std::string_view name);
  Status setItems(Value *dict, const std::vector<Value *> &items);
  Status append(Value *list, const std::vector<Value *> &items);
  Status reduce(Value *callable, Value *args);
  Status newObject(Value *cls, Value *args);
  Status build(Value *object, Value *state);
  Status persistentLoad(Value *pid);
  Status step(uint8_t op);

  std::string_view data;
  std::string_view what;
  Allowed allowed;
  size_t pos = 0;
  size_t opStart = 0;
  std::vector<Value *> stack;
  std::vector<size_t> marks;
  std::map<uint64_t, Value *> memo;
  Unpickled result;
  bool stopped = false;
};

} // namespace gptc::pickle

Status Unpickler::global(std::string_view module, std::string_view name) {
  std::string qualified = fmt::format("{}.{}", module, name);
  bool ok = false;
  if (allowed == Allowed::TorchStateDict) {
    ok = qualified == kOrderedDict || qualified == kRebuildTensor ||
         qualified == kRebuildParameter;
    if (module == "torch")
      for (const auto &storage : kStorages)
        ok |= name == storage.first;
  } else {
    ok = qualified == kEncoding;
  }
  if (!ok)
    return fail(
        "refused global {}: {} may only use {}", quoteForMessage(qualified),
        allowed == Allowed::TorchStateDict ? "a checkpoint" : "a tokenizer",
        allowed == Allowed::TorchStateDict
            ? "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
              "torch._utils._rebuild_parameter and torch storages"
            : "tiktoken.core.Encoding");
  Value *value = make(Kind::Global);
  value->text = std::move(qualified);
  stack.push_back(value);
  return Status::success();
}

Status Unpickler::setItems(Value *dict, const std::vector<Value *> &items) {
  if (dict->kind != Kind::Dict)
    return fail("SETITEM(S) on a {}, not a dict", kindName(dict->kind));
  if (items.size() % 2)
    return fail("SETITEMS with an odd number of items");
  for (size_t i = 0; i < items.size(); i += 2)
    dict->entries.emplace_back(items[i], items[i + 1]);
  return Status::success();
}

Status Unpickler::append(Value *list, const std::vector<Value *> &items) {
  if (list->kind != Kind::List)
    return fail("APPEND(S) on a {}, not a list", kindName(list->kind));
  list->items.insert(list->items.end(), items.begin(), items.end());
  return Status::success();
}

/// Reads a tuple of non-negative ints (a tensor's size or stride).
static bool intTuple(const Value *value, std::vector<int64_t> &out) {
  if (value->kind != Kind::Tuple)
    return false;
  out.clear();
  for (const Value *item : value->items) {
    if (item->kind != Kind::Int || item->integer < 0)
      return false;
    out.push_back(item->integer);
  }
  return true;
}

Status Unpickler::reduce(Value *callable, Value *args) {
  if (callable->kind != Kind::Global)
    return fail("REDUCE calls a {}, not an allowed global",
                kindName(callable->kind));
  if (args->kind != Kind::Tuple)
    return fail("REDUCE arguments of {} are a {}, not a tuple", callable->text,
                kindName(args->kind));
  const std::vector<Value *> &a = args->items;
  if (callable->text == kOrderedDict) {
    if (!a.empty())
      return fail("collections.OrderedDict called with arguments");
    stack.push_back(make(Kind::Dict));
    return Status::success();
  }
  if (callable->text == kRebuildTensor) {
    // (storage, storage_offset, size, stride, requires_grad, backward_hooks
    //  [, metadata])
    if (a.size() != 6 && a.size() != 7)
      return fail("{} takes 6 or 7 arguments, got {}", kRebuildTensor,
                  a.size());
    Value *tensor = make(Kind::Tensor);
    if (a[0]->kind != Kind::Storage)
      return fail("{}: argument 1 is a {}, not a storage", kRebuildTensor,
                  kindName(a[0]->kind));
    if (a[1]->kind != Kind::Int || a[1]->integer < 0)
      return fail("{}: storage offset is not a non-negative int",
                  kRebuildTensor);
    if (!intTuple(a[2], tensor->shape) || !intTuple(a[3], tensor->stride) ||
        tensor->shape.size() != tensor->stride.size())
      return fail("{}: size and stride are not tuples of non-negative ints "
                  "of one length",
                  kRebuildTensor);
    if (a[5]->kind != Kind::Dict || !a[5]->entries.empty())
      return fail("{}: backward hooks are not an empty OrderedDict",
                  kRebuildTensor);
    tensor->storage = a[0];
    tensor->dtype = a[0]->dtype;
    tensor->offset = a[1]->integer;
    stack.push_back(tensor);
    return Status::success();
  }
  if (callable->text == kRebuildParameter) {
    // (data, requires_grad, backward_hooks)
    if (a.size() != 3 || a[0]->kind != Kind::Tensor)
      return fail("{} takes (tensor, requires_grad, backward_hooks)",
                  kRebuildParameter);
    stack.push_back(a[0]);
    return Status::success();
  }
  return fail("{} cannot be called", callable->text);
}

Status Unpickler::newObject(Value *cls, Value *args) {
  if (cls->kind != Kind::Global || cls->text != kEncoding)
    return fail("NEWOBJ of a {} '{}', not an allowed class",
                kindName(cls->kind), cls->text);
  if (args->kind != Kind::Tuple || !args->items.empty())
    return fail("NEWOBJ of {} with arguments", cls->text);
  Value *object = make(Kind::Object);
  object->text = cls->text;
  stack.push_back(object);
  return Status::success();
}

Status Unpickler::build(Value *object, Value *state) {
  if (object->kind == Kind::Object) {
    if (object->state)
      return fail("BUILD of {} twice", object->text);
    object->state = state;
    return Status::success();
  }
  // An OrderedDict's state is its instance __dict__ (torch's state_dict
  // carries `_metadata` there); it holds nothing gptc reads.
  if (object->kind == Kind::Dict && state->kind == Kind::Dict)
    return Status::success();
  return fail("BUILD of a {}", kindName(object->kind));
}

Status Unpickler::persistentLoad(Value *pid) {
  // torch.save: ('storage', <torch.XStorage>, key, location, numel).
  const std::vector<Value *> &a = pid->items;
  if (allowed != Allowed::TorchStateDict || pid->kind != Kind::Tuple ||
      a.size() != 5 || a[0]->kind != Kind::String || a[0]->text != "storage")
    return fail("persistent id is not a torch storage record");
  if (a[1]->kind != Kind::Global || a[2]->kind != Kind::String ||
      a[3]->kind != Kind::String || a[4]->kind != Kind::Int ||
      a[4]->integer < 0)
    return fail("malformed torch storage record");
  Value *storage = make(Kind::Storage);
  std::string_view cls = a[1]->text;
  bool found = false;
  for (const auto &[name, dtype] : kStorages)
    if (cls == fmt::format("torch.{}", name)) {
      storage->dtype = dtype;
      found = true;
    }
  if (!found)
    return fail("persistent id names {}, not a storage class", cls);
  storage->key = a[2]->text;
  storage->location = a[3]->text;
  storage->numel = a[4]->integer;
  stack.push_back(storage);
  return Status::success();
}

Status Unpickler::step(uint8_t op) {
  std::string_view bytes;
  auto truncated = [&] { return fail("truncated stream"); };
  switch (op) {
  case PROTO: {
    uint8_t proto;
    if (!takeLE(proto))
      return truncated();
    if (proto > 5)
      return fail("unsupported pickle protocol {}", proto);
    return Status::success();
  }
  case FRAME: { // Framing only groups opcodes; the stream is all in memory.
    uint64_t length;
    if (!takeLE(length))
      return truncated();
    return Status::success();
  }
  case STOP:
    stopped = true;
    return Status::success();
  case MARK:
    marks.push_back(stack.size());
    return Status::success();
  case POP: {
    Expected<Value *> v = pop();
    return v.ok() ? Status::success() : v.status();
  }
  case POP_MARK: {
    Expected<std::vector<Value *>> items = popMark();
    return items.ok() ? Status::success() : items.status();
  }
  case DUP:
    if (stack.size() <= markFloor())
      return fail("DUP of an empty stack");
    stack.push_back(stack.back());
    return Status::success();
  case NONE:
    stack.push_back(make(Kind::None));
    return Status::success();
  case NEWTRUE:
  case NEWFALSE: {
    Value *value = make(Kind::Bool);
    value->boolean = op == NEWTRUE;
    stack.push_back(value);
    return Status::success();
  }
  case BININT: {
    int32_t v;
    if (!takeLE(v))
      return truncated();
    return pushInt(v);
  }
  case BININT1: {
    uint8_t v;
    if (!takeLE(v))
      return truncated();
    return pushInt(v);
  }
  case BININT2: {
    uint16_t v;
    if (!takeLE(v))
      return truncated();
    return pushInt(v);
  }
  case LONG1: {
    uint8_t n;
    if (!takeLE(n) || !take(n, bytes))
      return truncated();
    if (n > 8)
      return fail("integer of {} bytes does not fit in 64 bits", n);
    // Little-endian two's complement of n bytes.
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i)
      v |= uint64_t(uint8_t(bytes[i])) << (8 * i);
    if (n > 0 && n < 8 && (uint8_t(bytes[n - 1]) & 0x80))
      v |= ~uint64_t(0) << (8 * n);
    return pushInt(int64_t(v));
  }
  case BINFLOAT: { // big-endian IEEE double
    if (!take(8, bytes))
      return truncated();
    uint64_t bits = 0;
    for (char c : bytes)
      bits = (bits << 8) | uint8_t(c);
    Value *value = make(Kind::Float);
    std::memcpy(&value->real, &bits, 8);
    stack.push_back(value);
    return Status::success();
  }
  case SHORT_BINUNICODE:
  case SHORT_BINBYTES: {
    uint8_t n;
    if (!takeLE(n) || !take(n, bytes))
      return truncated();
    return pushString(op == SHORT_BINUNICODE ? Kind::String : Kind::Bytes,
                      bytes);
  }
  case BINUNICODE:
  case BINBYTES: {
    uint32_t n;
    if (!takeLE(n) || !take(n, bytes))
      return truncated();
    return pushString(op == BINUNICODE ? Kind::String : Kind::Bytes, bytes);
  }
  case BINUNICODE8:
  case BINBYTES8: {
    uint64_t n;
    if (!takeLE(n) || n > data.size() - pos || !take(n, bytes))
      return truncated();
    return pushString(op == BINUNICODE8 ? Kind::String : Kind::Bytes, bytes);
  }
  case EMPTY_TUPLE:
  case EMPTY_LIST:
  case EMPTY_DICT:
    stack.push_back(make(op == EMPTY_TUPLE  ? Kind::Tuple
                         : op == EMPTY_LIST ? Kind::List
                                            : Kind::Dict));
    return Status::success();
  case TUPLE1:
  case TUPLE2:
  case TUPLE3: {
    size_t n = op - TUPLE1 + 1;
    if (stack.size() < markFloor() + n)
      return fail("stack underflow");
    Value *tuple = make(Kind::Tuple);
    tuple->items.assign(stack.end() - n, stack.end());
    stack.resize(stack.size() - n);
    stack.push_back(tuple);
    return Status::success();
  }
  case TUPLE:
  case LIST:
  case DICT: {
    Expected<std::vector<Value *>> items = popMark();
    if (!items.ok())
      return items.status();
    Value *value = make(op == TUPLE  ? Kind::Tuple
                        : op == LIST ? Kind::List
                                     : Kind::Dict);
    stack.push_back(value);
    if (op == DICT)
      return setItems(value, *items);
    value->items = std::move(*items);
    return Status::success();
  }
  case APPEND: {
    Expected<Value *> item = pop();
    if (!item.ok())
      return item.status();
    if (stack.size() <= markFloor())
      return fail("APPEND without a list");
    return append(stack.back(), {*item});
  }
  case APPENDS:
  case SETITEMS: {
    Expected<std::vector<Value *>> items = popMark();
    if (!items.ok())
      return items.status();
    if (stack.size() <= markFloor())
      return fail("{} without a container",
                  op == APPENDS ? "APPENDS" : "SETITEMS");
    return op == APPENDS ? append(stack.back(), *items)
                         : setItems(stack.back(), *items);
  }
  case SETITEM: {
    Expected<Value *> value = pop();
    if (!value.ok())
      return value.status();
    Expected<Value *> key = pop();
    if (!key.ok())
      return key.status();
    if (stack.size() <= markFloor())
      return fail("SETITEM without a dict");
    return setItems(stack.back(), {*key, *value});
  }
  case BINPUT: {
    uint8_t i;
    if (!takeLE(i))
      return truncated();
    return memoPut(i);
  }
  case LONG_BINPUT: {
    uint32_t i;
    if (!takeLE(i))
      return truncated();
    return memoPut(i);
  }
  case MEMOIZE:
    return memoPut(memo.size());
  case PUT:
  case GET: {
    std::string_view line;
    if (!takeLine(line))
      return truncated();
    uint64_t i = 0;
    if (line.empty() || line.size() > 18)
      return fail("bad memo index");
    for (char c : line) {
      if (c < '0' || c > '9')
        return fail("bad memo index");
      i = i * 10 + uint64_t(c - '0');
    }
    return op == PUT ? memoPut(i) : memoGet(i);
  }
  case BINGET: {
    uint8_t i;
    if (!takeLE(i))
      return truncated();
    return memoGet(i);
  }
  case LONG_BINGET: {
    uint32_t i;
    if (!takeLE(i))
      return truncated();
    return memoGet(i);
  }
  case GLOBAL: {
    std::string_view module, name;
    if (!takeLine(module) || !takeLine(name))
      return truncated();
    return global(module, name);
  }
  case STACK_GLOBAL: {
    Expected<Value *> name = pop();
    if (!name.ok())
      return name.status();
    Expected<Value *> module = pop();
    if (!module.ok())
      return module.status();
    if ((*module)->kind != Kind::String || (*name)->kind != Kind::String)
      return fail("STACK_GLOBAL of non-strings");
    return global((*module)->text, (*name)->text);
  }
  case REDUCE:
  case NEWOBJ:
  case BUILD: {
    Expected<Value *> second = pop();
    if (!second.ok())
      return second.status();
    Expected<Value *> first = pop();
    if (!first.ok())
      return first.status();
    if (op == REDUCE)
      return reduce(*first, *second);
    if (op == NEWOBJ)
      return newObject(*first, *second);
    stack.push_back(*first); // BUILD leaves the object on the stack
    return build(*first, *second);
  }
  case BINPERSID: {
    Expected<Value *> pid = pop();
    if (!pid.ok())
      return pid.status();
    return persistentLoad(*pid);
  }
  default:
    if (op >= 0x20 && op < 0x7f)
      return fail("opcode '{}' (0x{:02x}) is not allowed", char(op), op);
    return fail("opcode 0x{:02x} is not allowed", op);
  }
}

Expected<Unpickled> Unpickler::run() {
  while (!stopped) {
    opStart = pos;
    if (pos >= data.size())
      return fail("truncated stream: no STOP opcode");
    uint8_t op = uint8_t(data[pos++]);
    if (Status status = step(op); !status.ok())
      return status;
  }
  if (stack.size() != 1 || !marks.empty())
    return fail("STOP with {} values and {} marks on the stack, expected one "
                "value",
                stack.size(), marks.size());
  result.top = stack.back();
  return std::move(result);
}

Expected<Unpickled> pickle::unpickle(std::string_view data,
                                     std::string_view what, Allowed allowed) {
  return Unpickler(data, what, allowed).run();
}

std::string_view pickle::storageClassName(DType dtype) {
  for (const auto &[name, d] : kStorages)
    if (d == dtype)
      return name;
  return {};
}

//===----------------------------------------------------------------------===//
// Pickler
//===----------------------------------------------------------------------===//

template <typename T> static void appendLE(std::string &out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

Pickler::Pickler() {
  out.push_back(char(PROTO));
  out.push_back(2);
}

void Pickler::mark() { out.push_back(char(MARK)); }
void Pickler::none() { out.push_back(char(NONE)); }
void Pickler::boolean(bool value) {
  out.push_back(char(value ? NEWTRUE : NEWFALSE));
}

void Pickler::integer(int64_t value) {
  if (value >= 0 && value < 256) {
    out.push_back(char(BININT1));
    out.push_back(char(value));
  } else if (value >= INT32_MIN && value <= INT32_MAX) {
    out.push_back(char(BININT));
    appendLE(out, int32_t(value));
  } else {
    out.push_back(char(LONG1));
    out.push_back(8);
    appendLE(out, value);
  }
}

void Pickler::string(std::string_view value) {
  out.push_back(char(BINUNICODE));
  appendLE(out, uint32_t(value.size()));
  out.append(value);
}

void Pickler::global(std::string_view module, std::string_view name) {
  out.push_back(char(GLOBAL));
  out.append(module);
  out.push_back('\n');
  out.append(name);
  out.push_back('\n');
}

void Pickler::tupleFromMark() { out.push_back(char(TUPLE)); }
void Pickler::emptyTuple() { out.push_back(char(EMPTY_TUPLE)); }
void Pickler::emptyDict() { out.push_back(char(EMPTY_DICT)); }
void Pickler::setItems() { out.push_back(char(SETITEMS)); }
void Pickler::reduce() { out.push_back(char(REDUCE)); }
void Pickler::persistentId() { out.push_back(char(BINPERSID)); }

std::string Pickler::finish() {
  out.push_back(char(STOP));
  return std::move(out);
}
