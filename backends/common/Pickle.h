//===- Pickle.h - a restricted Python unpickler and a small pickler -*- C++
//-*-===//
//
// Python's pickle format is a program for a stack machine; a stock unpickler
// imports any module-level name the stream mentions and calls it, so loading
// an untrusted pickle can run arbitrary code. This unpickler never imports or
// calls anything: it interprets the data opcodes (ints, floats, strings,
// bytes, tuples, lists, dicts, the memo, marks, frames) and a fixed list of
// globals, each replaced by a built-in rule:
//
//   collections.OrderedDict()                 -> an empty dict
//   torch._utils._rebuild_tensor_v2(s, ...)   -> a tensor view of storage s
//   torch._utils._rebuild_parameter(t, ...)   -> t
//   torch.<Type>Storage in a persistent id    -> a storage record
//   tiktoken.core.Encoding (NEWOBJ + BUILD)   -> an object holding its state
//
// which of them a stream may use is chosen by the caller (a checkpoint may
// not build an Encoding, a tokenizer may not hold tensors). Any other global
// (os.system, builtins.eval, ...) and any opcode outside the list (INST, OBJ,
// EXT*, PERSID, sets, out-of-band buffers, ...) is refused with one line
// naming it, as torch.load(weights_only=True) refuses them.
//
// Values live in an arena owned by the result, so memo references, shared
// storages and even cyclic structures built by a hostile stream cost nothing
// to free.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_BACKENDS_COMMON_PICKLE_H
#define GPTC_BACKENDS_COMMON_PICKLE_H

#include "backends/common/Safetensors.h"
#include "backends/common/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gptc::pickle {

/// What a value is.
enum class Kind {
  None,
  Bool,
  Int,
  Float,
  String, // str, UTF-8
  Bytes,  // bytes
  Tuple,
  List,
  Dict,    // dict or collections.OrderedDict, in insertion order
  Global,  // an allowed global itself, e.g. torch.FloatStorage
  Storage, // a torch storage named by a persistent id
  Tensor,  // a strided view of a Storage
  Object,  // an allowed class instance made by NEWOBJ, with its BUILD state
};

/// The name of `kind` for error messages ("tuple", "dict", ...).
std::string_view kindName(Kind kind);

/// One unpickled value. Containers point into the same arena.
struct Value {
  Kind kind = Kind::None;
  bool boolean = false; // Bool
  int64_t integer = 0;  // Int
  double real = 0;      // Float
  /// String and Bytes: the contents; Global and Object: the qualified class
  /// name ("torch.FloatStorage", "tiktoken.core.Encoding").
  std::string text;
  /// Tuple and List elements.
  std::vector<Value *> items;
  /// Dict entries, in insertion order (duplicate keys are kept; consumers
  /// that care refuse them).
  std::vector<std::pair<Value *, Value *>> entries;
  /// Object: the BUILD state (nullptr before BUILD).
  Value *state = nullptr;

  // Storage: element type, archive key ("0", "1", ...), location ("cpu",
  // "cuda:0") and element count, from the persistent id.
  DType dtype = DType::F32;
  std::string key;
  std::string location;
  int64_t numel = 0;

  // Tensor: its storage, and the view: element offset, sizes, strides (in
  // elements).
  Value *storage = nullptr;
  int64_t offset = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;

  /// The Dict entry whose key is the String `name`, or nullptr.
  const Value *findEntry(std::string_view name) const;
};

/// The globals a stream may use.
enum class Allowed {
  /// A torch state_dict: OrderedDict, the tensor and parameter rebuilders and
  /// the typed storages.
  TorchStateDict,
  /// A pickled tiktoken.core.Encoding.
  TiktokenEncoding,
};

/// An unpickled stream: its top value and the arena that owns every value.
class Unpickled {
public:
  const Value &root() const { return *top; }

private:
  friend class Unpickler;
  std::vector<std::unique_ptr<Value>> arena;
  Value *top = nullptr;
};

/// Interprets the pickle `data` (protocols 0 to 5, the opcodes above).
/// `what` names the stream in errors, e.g. "model_000100.pt: data.pkl".
Expected<Unpickled> unpickle(std::string_view data, std::string_view what,
                             Allowed allowed);

/// The torch storage class of `dtype` ("FloatStorage", "BFloat16Storage"),
/// or an empty view if torch has none.
std::string_view storageClassName(DType dtype);

/// Writes pickles (protocol 2, as torch.save does) opcode by opcode.
class Pickler {
public:
  Pickler();
  void mark();
  void none();
  void boolean(bool value);
  void integer(int64_t value);
  void string(std::string_view value);
  /// GLOBAL: pushes module.name.
  void global(std::string_view module, std::string_view name);
  /// Pops the items since the last mark into a tuple.
  void tupleFromMark();
  void emptyTuple();
  void emptyDict();
  /// Pops the key/value pairs since the last mark into the dict below them.
  void setItems();
  /// Calls the callable below the argument tuple on top.
  void reduce();
  /// Pops a persistent id tuple and pushes what it names.
  void persistentId();
  /// Ends the stream and returns it.
  std::string finish();

private:
  std::string out;
};

} // namespace gptc::pickle

#endif // GPTC_BACKENDS_COMMON_PICKLE_H
