"""Minimal safetensors reading and writing for the e2e tests (no numpy)."""
import json
import struct

_FORMATS = {"F32": "f", "I64": "q", "F64": "d", "I32": "i"}


def read(path):
    """Returns {name: (shape, flat list of values)}."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        fmt = _FORMATS[info["dtype"]]
        count = (end - begin) // struct.calcsize(fmt)
        values = struct.unpack(f"<{count}{fmt}", blob[start + begin:start + end])
        tensors[name] = (info["shape"], list(values))
    return tensors


def write_i64(path, tensors):
    """Writes {name: (shape, flat list of ints)} as I64 tensors."""
    header, data = {}, b""
    for name, (shape, values) in tensors.items():
        chunk = struct.pack(f"<{len(values)}q", *values)
        header[name] = {"dtype": "I64", "shape": shape,
                        "data_offsets": [len(data), len(data) + len(chunk)]}
        data += chunk
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
