#!/usr/bin/env python3
"""PyTorch `.pt` (zip format) and safetensors files in pure Python 3 (standard library only).

fairseq-signals and ECG-FM publish their weights as `torch.save` files; ecgssl reads and writes
safetensors. The converters (tools/convert_fairseq_checkpoint.py, tools/export_fairseq_checkpoint.py)
use this module so that neither PyTorch nor NumPy is needed where they run.

Reading a `.pt` file never runs code from it: the pickle is read by an Unpickler whose
`find_class` hands out only this module's own constructors for the few globals a checkpoint
needs (tensor rebuilds, storage types, OrderedDict, argparse.Namespace, NumPy scalars); any other
global is refused with an error naming it, before anything of it is called.

Format notes (PyTorch >= 1.6, `torch.save`'s default): a zip archive (entries stored, not
compressed) of `<dir>/data.pkl` (pickle protocol 2 of the object; each tensor is
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`, where
`storage` is a persistent id `('storage', torch.<Type>Storage, key, location, numel)`),
`<dir>/data/<key>` (raw little-endian storage bytes), `<dir>/version` and, since 2.x,
`<dir>/byteorder`.
"""
import array
import collections
import io
import json
import math
import pickle
import struct
import sys
import zipfile

__all__ = ["Tensor", "CheckpointError", "load_pt", "save_pt", "load_safetensors", "save_safetensors"]


class CheckpointError(Exception):
    """A file this module refuses or cannot read; the message says why and what to do."""


# storage type name -> (dtype name, element size, struct code or None)
_STORAGES = {
    "FloatStorage": ("float32", 4, "f"),
    "DoubleStorage": ("float64", 8, "d"),
    "HalfStorage": ("float16", 2, "e"),
    "BFloat16Storage": ("bfloat16", 2, None),
    "LongStorage": ("int64", 8, "q"),
    "IntStorage": ("int32", 4, "i"),
    "ShortStorage": ("int16", 2, "h"),
    "CharStorage": ("int8", 1, "b"),
    "ByteStorage": ("uint8", 1, "B"),
    "BoolStorage": ("bool", 1, "?"),
}
_DTYPE_STORAGE = {v[0]: k for k, v in _STORAGES.items()}
_ITEMSIZE = {v[0]: v[1] for v in _STORAGES.values()}

# safetensors dtype names <-> ours
_ST_DTYPES = {"F32": "float32", "F64": "float64", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
              "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}
# The reference writer orders tensors by this dtype rank (descending), then by name.
_ST_RANK = {"bool": 0, "uint8": 1, "int8": 2, "int16": 3, "float16": 5, "bfloat16": 6, "int32": 7,
            "float32": 9, "float64": 10, "int64": 11}


def _prod(shape):
    n = 1
    for s in shape:
        n *= s
    return n


class Storage:
    """A typed storage: raw little-endian bytes of `numel` elements."""

    def __init__(self, dtype, data):
        self.dtype = dtype
        self.data = data

    @property
    def numel(self):
        return len(self.data) // _ITEMSIZE[self.dtype]


class Tensor:
    """A strided view into a Storage (what `_rebuild_tensor_v2` describes)."""

    def __init__(self, storage, offset, shape, strides, requires_grad=False):
        self.storage = storage
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.strides = tuple(int(s) for s in strides)
        self.requires_grad = bool(requires_grad)
        if len(self.shape) != len(self.strides):
            raise CheckpointError("tensor with %d sizes but %d strides" % (len(self.shape), len(self.strides)))
        if any(s < 0 for s in self.shape) or any(s < 0 for s in self.strides) or self.offset < 0:
            raise CheckpointError("tensor with a negative size, stride or offset")
        if self.numel and self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides)) >= storage.numel:
            raise CheckpointError("tensor of shape %s (offset %d, strides %s) reaches past its storage of %d elements"
                                  % (list(self.shape), self.offset, list(self.strides), storage.numel))

    @property
    def dtype(self):
        return self.storage.dtype

    @property
    def numel(self):
        return _prod(self.shape)

    @staticmethod
    def from_values(values, shape, dtype="float32"):
        """A contiguous tensor holding `values` (a flat sequence) as `dtype` (float32/float64)."""
        code = {"float32": "f", "float64": "d"}[dtype]
        a = array.array(code, values)
        if len(a) != _prod(shape):
            raise ValueError("%d values for shape %s" % (len(a), list(shape)))
        if sys.byteorder != "little":
            a.byteswap()
        return Tensor(Storage(dtype, a.tobytes()), 0, shape, _contiguous_strides(shape))

    @staticmethod
    def from_bytes(data, shape, dtype):
        return Tensor(Storage(dtype, bytes(data)), 0, shape, _contiguous_strides(shape))

    def is_contiguous(self):
        return self.strides == _contiguous_strides(self.shape) or self.numel <= 1

    def contiguous_bytes(self):
        """The elements in row-major order as little-endian bytes of the tensor's dtype."""
        size = _ITEMSIZE[self.dtype]
        n = self.numel
        if self.is_contiguous():
            start = self.offset * size
            return bytes(self.storage.data[start:start + n * size])
        # Strided gather element by element: slow, but only views and transposes need it.
        data = self.storage.data
        out = bytearray(n * size)
        pos = 0
        for index in _row_major_offsets(self.shape, self.strides, self.offset):
            out[pos:pos + size] = data[index * size:(index + 1) * size]
            pos += size
        return bytes(out)

    def to_float_list(self):
        """The elements in row-major order as Python floats (integers become floats)."""
        raw = self.contiguous_bytes()
        dtype = self.dtype
        if dtype == "bfloat16":
            # bfloat16 is the top half of a float32: widen by appending two zero bytes (little-endian).
            widened = bytearray(len(raw) * 2)
            widened[2::4] = raw[0::2]
            widened[3::4] = raw[1::2]
            raw, dtype = bytes(widened), "float32"
        code = _STORAGES[_DTYPE_STORAGE[dtype]][2]
        return [float(v) for v in struct.unpack("<%d%s" % (len(raw) // _ITEMSIZE[dtype], code), raw)]

    def to_float32(self):
        """A contiguous float32 copy (fp16/bf16/f64/integer storages converted)."""
        if self.dtype == "float32":
            return Tensor.from_bytes(self.contiguous_bytes(), self.shape, "float32")
        values = self.to_float_list()
        for v in values:
            if math.isfinite(v) and abs(v) > 3.4028234663852886e38:
                raise CheckpointError("a value (%g) does not fit float32" % v)
        return Tensor.from_values(values, self.shape, "float32")

    def __repr__(self):
        return "Tensor(%s, shape=%s)" % (self.dtype, list(self.shape))


def _contiguous_strides(shape):
    strides, step = [], 1
    for s in reversed(shape):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


def _row_major_offsets(shape, strides, offset):
    if not shape:
        yield offset
        return
    index = [0] * len(shape)
    total = _prod(shape)
    for _ in range(total):
        yield offset + sum(i * s for i, s in zip(index, strides))
        for d in range(len(shape) - 1, -1, -1):
            index[d] += 1
            if index[d] < shape[d]:
                break
            index[d] = 0


# ----------------------------------------------------------------------------- reading .pt

class _StorageType:
    """Stands for torch.<Type>Storage inside a persistent id; never instantiated from the file."""

    def __init__(self, name):
        self.name = name


class Namespace(dict):
    """argparse.Namespace of old fairseq `args`, read as a dict of its attributes."""

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) form
            state = state[0] or {}
        if not isinstance(state, dict):
            raise CheckpointError("argparse.Namespace with a state that is not a dict")
        self.update(state)


class _NumpyDType:
    """numpy.dtype as pickled: ('f8', False, True) plus a state tuple holding the byte order."""

    _CODES = {"f8": "d", "f4": "f", "f2": "e", "i8": "q", "i4": "i", "i2": "h", "i1": "b", "u1": "B",
              "u2": "H", "u4": "I", "u8": "Q", "b1": "?"}

    def __init__(self, name, *_):
        if name not in self._CODES:
            raise CheckpointError("NumPy dtype '%s' is not supported in a checkpoint (only numbers)" % name)
        self.code = self._CODES[name]
        self.order = "<"

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.order = "<" if state[1] in ("|", "=") else state[1]


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("a NumPy scalar of an unsupported kind")
    return struct.unpack(dtype.order + dtype.code, data)[0]


def _codecs_encode(text, encoding="utf-8"):
    # Protocol 2 pickles bytes (a NumPy scalar's payload) as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise CheckpointError("_codecs.encode is allowed only to turn latin-1 text into bytes")
    return text.encode("latin1")


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, Storage):
        raise CheckpointError("_rebuild_tensor_v2 without a storage")
    return Tensor(storage, offset, size, stride, requires_grad)


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    if not isinstance(data, Tensor):
        raise CheckpointError("_rebuild_parameter of something that is not a tensor")
    data.requires_grad = bool(requires_grad)
    return data


def _refuse_load_from_bytes(*_):
    raise CheckpointError("the checkpoint holds a storage pickled with torch.storage._load_from_bytes (a legacy "
                          "nested torch.save); this reader does not run it. Re-save the object with torch>=1.6: "
                          "torch.save(torch.load(path), path)")


_ALLOWED = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("argparse", "Namespace"): Namespace,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _NumpyDType,
    ("_codecs", "encode"): _codecs_encode,
    ("torch.storage", "_load_from_bytes"): _refuse_load_from_bytes,
}
for _name in _STORAGES:
    _ALLOWED[("torch", _name)] = _StorageType(_name)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._storages = {}

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if module.startswith("omegaconf"):
            raise CheckpointError(
                "the checkpoint pickles an OmegaConf object (%s.%s); this reader takes plain containers only. "
                "Re-save with the config converted: state['cfg'] = OmegaConf.to_container(state['cfg'], resolve=True)"
                % (module, name))
        raise CheckpointError("the checkpoint references the Python global %s.%s, which this reader does not allow "
                              "(it never runs code from a checkpoint; allowed: tensors, storages, OrderedDict, "
                              "argparse.Namespace, NumPy numbers)" % (module, name))

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError("unsupported persistent id %r (expected ('storage', type, key, location, numel))"
                                  % (pid[:1] if isinstance(pid, tuple) else type(pid).__name__,))
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType) or not isinstance(key, str):
            raise CheckpointError("malformed storage reference %r" % (key,))
        dtype = _STORAGES[storage_type.name][0]
        cached = self._storages.get(key)
        if cached is not None:
            if cached.dtype != dtype:
                raise CheckpointError("storage %s read as both %s and %s" % (key, cached.dtype, dtype))
            return cached
        entry = "%sdata/%s" % (self._prefix, key)
        try:
            data = self._archive.read(entry)
        except KeyError:
            raise CheckpointError("the archive lacks %s (storage %s)" % (entry, key)) from None
        if len(data) < numel * _ITEMSIZE[dtype]:
            raise CheckpointError("storage %s has %d bytes, fewer than %d %s elements" % (key, len(data), numel, dtype))
        storage = Storage(dtype, data[:numel * _ITEMSIZE[dtype]])
        self._storages[key] = storage
        return storage


def load_pt(path):
    """The object a zip-format `torch.save` file holds, tensors as `Tensor`, containers as dicts/lists."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not zipfile.is_zipfile(path):
        if head[:1] == b"\x80":
            raise CheckpointError("%s is a legacy (non-zip) torch.save file, written by torch<1.6 or with "
                                  "_use_new_zipfile_serialization=False; re-save it with torch>=1.6: "
                                  "torch.save(torch.load(path), path)" % path)
        raise CheckpointError("%s is not a PyTorch checkpoint (not a zip archive)" % path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
        if not pickles:
            if any(n.endswith("/constants.pkl") for n in names):
                raise CheckpointError("%s is a TorchScript archive, not a torch.save checkpoint" % path)
            raise CheckpointError("%s has no <dir>/data.pkl: not a torch.save checkpoint" % path)
        prefix = pickles[0][:-len("data.pkl")]
        if prefix + "byteorder" in names and archive.read(prefix + "byteorder").strip() != b"little":
            raise CheckpointError("%s stores big-endian tensors; re-save it on a little-endian machine" % path)
        data = archive.read(pickles[0])
        try:
            return _RestrictedUnpickler(io.BytesIO(data), archive, prefix).load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError) as e:
            raise CheckpointError("%s: malformed data.pkl (%s)" % (path, e)) from None


# ----------------------------------------------------------------------------- writing .pt

class _PickleWriter:
    """Emits pickle protocol 2 opcodes for the plain objects and tensors of a checkpoint."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.storages = []  # (key, Storage)
        self._storage_keys = {}

    def _global(self, module, name):
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    def _str(self, s):
        b = s.encode("utf-8")
        self.out += b"X" + struct.pack("<I", len(b)) + b

    def _int(self, v):
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        elif -2 ** 31 <= v < 2 ** 31:
            self.out += b"J" + struct.pack("<i", v)
        else:
            n = (v.bit_length() + 8) // 8
            b = v.to_bytes(n, "little", signed=True)
            self.out += (b"\x8a" + bytes([n]) if n < 256 else b"\x8b" + struct.pack("<I", n)) + b

    def _tuple(self, items):
        self.out += b"("
        for item in items:
            self.dump(item)
        self.out += b"t"

    def dump(self, obj):
        if obj is None:
            self.out += b"N"
        elif obj is True:
            self.out += b"\x88"
        elif obj is False:
            self.out += b"\x89"
        elif isinstance(obj, int):
            self._int(obj)
        elif isinstance(obj, float):
            self.out += b"G" + struct.pack(">d", obj)
        elif isinstance(obj, str):
            self._str(obj)
        elif isinstance(obj, Tensor):
            self._tensor(obj)
        elif isinstance(obj, (list, tuple)):
            if isinstance(obj, tuple):
                self._tuple(obj)
            else:
                self.out += b"](" if obj else b"]"
                if obj:
                    for item in obj:
                        self.dump(item)
                    self.out += b"e"
        elif isinstance(obj, dict):
            if isinstance(obj, collections.OrderedDict):
                self._global("collections", "OrderedDict")
                self.out += b")R"
            else:
                self.out += b"}"
            if obj:
                self.out += b"("
                for k, v in obj.items():
                    if not isinstance(k, (str, int)):
                        raise TypeError("dict key %r: only str and int keys are written" % (k,))
                    self.dump(k)
                    self.dump(v)
                self.out += b"u"
        else:
            raise TypeError("cannot write a %s into a .pt file" % type(obj).__name__)

    def _tensor(self, t):
        key = self._storage_keys.get(id(t.storage))
        if key is None:
            key = str(len(self.storages))
            self._storage_keys[id(t.storage)] = key
            self.storages.append((key, t.storage))
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out += b"("
        # persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel), as torch.save writes it
        self.out += b"("
        self._str("storage")
        self._global("torch", _DTYPE_STORAGE[t.dtype])
        self._str(key)
        self._str("cpu")
        self._int(t.storage.numel)
        self.out += b"tQ"
        self._int(t.offset)
        self._tuple(t.shape)
        self._tuple(t.strides)
        self.out += b"\x88" if t.requires_grad else b"\x89"
        self._global("collections", "OrderedDict")
        self.out += b")R"
        self.out += b"tR"


def save_pt(obj, path, archive_name="archive"):
    """Writes `obj` (dicts, lists, tuples, str, int, float, bool, None, Tensor) as torch.save does."""
    writer = _PickleWriter()
    writer.dump(obj)
    writer.out += b"."
    prefix = archive_name + "/"
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(prefix + "data.pkl", bytes(writer.out))
        z.writestr(prefix + "byteorder", b"little")
        for key, storage in writer.storages:
            z.writestr(prefix + "data/" + key, storage.data)
        z.writestr(prefix + "version", b"3\n")
    import os
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- safetensors

def load_safetensors(path):
    """(tensors: dict name -> Tensor, metadata: dict str -> str) of a .safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise CheckpointError("%s: too short for a safetensors file" % path)
    n = struct.unpack("<Q", blob[:8])[0]
    if n > len(blob) - 8 or n > 100_000_000:
        raise CheckpointError("%s: header length %d exceeds the file" % (path, n))
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError("%s: header is not JSON (%s)" % (path, e)) from None
    if not isinstance(header, dict):
        raise CheckpointError("%s: header is not a JSON object" % path)
    data = memoryview(blob)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError("%s: __metadata__ is not a string map" % path)
    tensors, spans = {}, []
    for name, info in header.items():
        try:
            dtype = _ST_DTYPES[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise CheckpointError("%s: %s: malformed entry or unsupported dtype %r" % (path, name, info)) from None
        if not 0 <= begin <= end <= len(data) or end - begin != _prod(shape) * _ITEMSIZE[dtype]:
            raise CheckpointError("%s: %s.data_offsets %s do not match its shape %s" % (path, name, [begin, end], shape))
        spans.append((begin, end, name))
        tensors[name] = Tensor.from_bytes(data[begin:end], shape, dtype)
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise CheckpointError("%s: %s.data_offsets leave a gap or overlap" % (path, name))
        pos = end
    if pos != len(data):
        raise CheckpointError("%s: trailing bytes after the last tensor" % path)
    return tensors, dict(metadata)


def save_safetensors(tensors, path, metadata=None):
    """Writes contiguous copies of `tensors` (name -> Tensor) like the reference writer does."""
    order = sorted(tensors, key=lambda k: (-_ST_RANK[tensors[k].dtype], k))
    header, chunks, pos = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in order:
        t = tensors[name]
        raw = t.contiguous_bytes()
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [pos, pos + len(raw)]}
        chunks.append(raw)
        pos += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    import os
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)
    os.replace(tmp, path)
