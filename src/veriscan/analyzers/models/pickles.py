"""Pickle byte streams walked opcode by opcode, never loaded.

``pickle.loads`` on a seized checkpoint would run whatever callable its author named, so the
walker below models only the stack shapes it needs (strings, ints, tuples, globals, tensor rebuilds)
on top of ``pickletools.genops``, which decodes opcode arguments and nothing more. That is enough to
list every import the file would perform and the state-dict keys and tensor shapes it holds.
"""

from __future__ import annotations

import io
import pickletools
import re
from dataclasses import dataclass, field
from typing import Any

from veriscan.analyzers.failures import log_exception
from veriscan.analyzers.models.dangerous import is_dangerous

MAX_PICKLE_OPS = 2_000_000
MAX_STACK = 1_000_000
MAX_STRINGS = 100_000


@dataclass
class PickleScan:
    globals: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    end: int = 0
    complete: bool = False
    problem: str | None = None


@dataclass
class TorchInfo:
    container: str
    keys: list[str]
    shapes: dict[str, tuple[int, ...]]
    globals: list[str]
    suspicious: list[str]
    dangerous: list[str]
    complete: bool
    problems: list[str]
    members: list[str]

    def shape_map(self) -> dict[str, tuple[int, ...] | None]:
        """The form ``classify`` takes; keys whose tensor could not be traced map to None."""
        return {key: self.shapes.get(key) for key in self.keys}

    def to_json(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "keys": len(self.keys),
            "globals": self.globals,
            "suspicious": self.suspicious,
            "dangerous": self.dangerous,
            "complete": self.complete,
            "problems": self.problems,
        }


@dataclass(frozen=True)
class _Global:
    name: str


@dataclass(frozen=True)
class _Tensor:
    shape: tuple[int, ...]


class _Opaque:
    """A value the stack model does not need to know (dicts, floats, storages, call results)."""


class _BadPickleError(Exception):
    pass


_OPAQUE = _Opaque()
_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE"}
_STRING_OPS |= {"SHORT_BINUNICODE", "BINUNICODE8"}
_INT_OPS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"}
_PUSH_OPAQUE = {"BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "NEXT_BUFFER", "NONE"}
_PUSH_OPAQUE |= {"NEWTRUE", "NEWFALSE", "FLOAT", "BINFLOAT", "EMPTY_LIST", "EMPTY_DICT"}
_PUSH_OPAQUE |= {"EMPTY_SET", "PERSID"}
_NO_STACK = {"PROTO", "FRAME", "READONLY_BUFFER", "STOP"}
_NEWOBJ_POPS = {"NEWOBJ": 2, "NEWOBJ_EX": 3}
_TENSOR_REBUILDERS = {"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2"}


def scan_pickle(data: bytes, start: int = 0) -> PickleScan:
    """Globals, strings and tensor shapes of one pickle, learned without constructing anything."""
    scan = PickleScan()
    seen: set[str] = set()
    # MARK opens a fresh stack the way CPython's unpickler does, so closing one is O(1).
    frames: list[list[Any]] = [[]]
    memo: dict[int, Any] = {}

    def push(value: Any) -> None:
        frames[-1].append(value)

    def pop() -> Any:
        if not frames[-1]:
            raise _BadPickleError("stack underflow")
        return frames[-1].pop()

    def pop_mark() -> list[Any]:
        if len(frames) == 1:
            raise _BadPickleError("no MARK on the stack")
        return frames.pop()

    def note_global(name: str) -> _Global:
        if name not in seen:
            seen.add(name)
            scan.globals.append(name)
        return _Global(name)

    def set_items(items: list[Any]) -> None:
        for key, value in zip(items[::2], items[1::2], strict=False):
            if isinstance(key, str) and isinstance(value, _Tensor):
                scan.shapes[key] = value.shape

    def step(name: str, arg: Any) -> None:
        if name in _STRING_OPS:
            if len(scan.strings) < MAX_STRINGS and len(arg) <= 1024:
                scan.strings.append(arg)
            push(arg)
        elif name in _INT_OPS:
            push(int(arg))
        elif name in _PUSH_OPAQUE:
            push(_OPAQUE)
        elif name == "MARK":
            frames.append([])
        elif name == "EMPTY_TUPLE":
            push(())
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            push(tuple(reversed([pop() for _ in range(n)])))
        elif name == "TUPLE":
            push(tuple(pop_mark()))
        elif name in ("LIST", "FROZENSET"):
            pop_mark()
            push(_OPAQUE)
        elif name == "DICT":
            set_items(pop_mark())
            push(_OPAQUE)
        elif name == "SETITEM":
            value, key = pop(), pop()
            set_items([key, value])
        elif name == "SETITEMS":
            set_items(pop_mark())
        elif name in ("APPENDS", "ADDITEMS", "POP_MARK"):
            pop_mark()
        elif name in ("APPEND", "BUILD", "POP"):
            pop()
        elif name == "DUP":
            push(frames[-1][-1] if frames[-1] else pop())
        elif name == "GLOBAL":
            push(note_global(str(arg).replace(" ", ".", 1)))
        elif name == "STACK_GLOBAL":
            attr, module = pop(), pop()
            ok = isinstance(attr, str) and isinstance(module, str)
            push(note_global(f"{module}.{attr}" if ok else "<unresolved>"))
        elif name == "INST":
            pop_mark()
            note_global(str(arg).replace(" ", ".", 1))
            push(_OPAQUE)
        elif name in ("EXT1", "EXT2", "EXT4"):
            push(note_global(f"<extension {arg}>"))
        elif name == "REDUCE":
            args, func = pop(), pop()
            push(_reduce(func, args))
        elif name in ("OBJ", "NEWOBJ", "NEWOBJ_EX"):
            _ = pop_mark() if name == "OBJ" else [pop() for _ in range(_NEWOBJ_POPS[name])]
            push(_OPAQUE)
        elif name == "BINPERSID":
            pop()
            push(_OPAQUE)
        elif name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            if not frames[-1]:
                raise _BadPickleError("memo store with an empty stack")
            memo[len(memo) if name == "MEMOIZE" else int(arg)] = frames[-1][-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            push(memo.get(int(arg), _OPAQUE))
        elif name == "STOP" and not frames[-1]:
            raise _BadPickleError("STOP with nothing to return")
        elif name not in _NO_STACK:
            raise _BadPickleError(f"unhandled opcode {name}")

    stream = io.BytesIO(data)
    stream.seek(start)
    lost = False
    try:
        # genops decodes each opcode's argument only; any failure inside it is hostile or cut
        # input, so the broad catch below is deliberate and turns it into a reported problem.
        for count, (op, raw_arg, pos) in enumerate(pickletools.genops(stream)):
            if count >= MAX_PICKLE_OPS or len(frames[-1]) > MAX_STACK or len(frames) > MAX_STACK:
                raise _BadPickleError("pickle too large to walk")
            scan.end = (pos or 0) + 1
            if not lost:
                try:
                    step(op.name, raw_arg)
                    continue
                except _BadPickleError as exc:
                    # The stack model lost track; keep listing imports so none can hide after.
                    lost, scan.problem = True, f"pickle walk lost the stack: {exc}"
            if op.name in ("GLOBAL", "INST"):
                note_global(str(raw_arg).replace(" ", ".", 1))
            elif op.name == "STACK_GLOBAL":
                note_global("<unresolved>")
            elif op.name in ("EXT1", "EXT2", "EXT4"):
                note_global(f"<extension {raw_arg}>")
        scan.complete = not lost
    except _BadPickleError as exc:
        scan.problem = f"pickle walk stopped: {exc}"
    except Exception as exc:
        log_exception("pickle walk", "pickle", exc)
        scan.problem = (
            f"pickle walk stopped at byte {scan.end}: the opcode stream is damaged or cut short"
        )
    return scan


def _reduce(func: Any, args: Any) -> Any:
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        return _OPAQUE
    if func.name in _TENSOR_REBUILDERS and len(args) >= 3:
        size = args[2]
        if isinstance(size, tuple) and all(type(d) is int for d in size):
            return _Tensor(size)
    if func.name == "torch._utils._rebuild_parameter" and args and isinstance(args[0], _Tensor):
        return args[0]
    return _OPAQUE


def pickle_globals(pickle_bytes: bytes) -> list[str]:
    """Every callable the pickle would import, in first-seen order ("module.name")."""
    return scan_pickle(pickle_bytes).globals


_ALLOWED_GLOBALS = frozenset(
    {"collections.OrderedDict", "torch.Size", "torch.device", "_codecs.encode"}
    | {f"torch._utils._rebuild_{s}" for s in ("tensor", "tensor_v2", "tensor_v3", "parameter")}
    | {f"torch._utils._rebuild_{s}" for s in ("parameter_with_state", "qtensor", "sparse_tensor")}
    | {"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_wrapper_subclass"}
    | {"torch._utils._rebuild_device_tensor_from_numpy", "torch._tensor._rebuild_from_type_v2"}
    | {f"numpy.{c}multiarray.{f}" for c in ("core.", "_core.") for f in ("_reconstruct", "scalar")}
    | {"numpy.ndarray", "numpy.dtype"}
    | {f"builtins.{n}" for n in ("set", "frozenset", "bytearray", "slice", "complex")}
)
_ALLOWED_PATTERN = re.compile(
    r"torch\.(?:cuda\.)?\w*Storage|numpy\.dtypes\.\w+DType"
    r"|torch\.(?:b?float\d+(?:_e\d+m\d+\w*)?|q?u?int\d+(?:x\d+)?|complex\d+|bool|half|double"
    r"|long|short|cfloat|cdouble)"
)


def is_allowed_global(name: str) -> bool:
    """Torch, collections and numpy rebuild callables: what a plain state dict needs to load."""
    return name in _ALLOWED_GLOBALS or _ALLOWED_PATTERN.fullmatch(name) is not None


def is_dangerous_global(name: str) -> bool:
    """Callables that give a loader's victim arbitrary code execution, file or network access."""
    return is_dangerous(name)


_KEY = re.compile(r"[A-Za-z_][\w\-]*(?:\.[\w\-]+)+")
_BARE_KEYS = {"string_to_param", "string_to_token", "emb_params", "clip_l", "clip_g"}
_BARE_KEYS |= {"state_dict", "layer_structure", "activation_func"}


def torch_info(container: str, scans: list[PickleScan], members: list[str]) -> TorchInfo:
    globals_ = list(dict.fromkeys(g for s in scans for g in s.globals))
    modules = {g.rpartition(".")[0] for g in globals_} | set(globals_)
    keys: dict[str, None] = {}
    for s in scans:
        for text in s.strings:
            if (text in _BARE_KEYS or _KEY.fullmatch(text)) and text not in modules:
                keys[text] = None
    shapes = {k: v for s in scans for k, v in s.shapes.items()}
    keys |= dict.fromkeys(shapes)
    suspicious = [g for g in globals_ if not is_allowed_global(g)]
    return TorchInfo(
        container=container,
        keys=list(keys),
        shapes=shapes,
        globals=globals_,
        suspicious=suspicious,
        dangerous=[g for g in suspicious if is_dangerous_global(g)],
        complete=all(s.complete for s in scans),
        problems=[s.problem for s in scans if s.problem],
        members=members,
    )
