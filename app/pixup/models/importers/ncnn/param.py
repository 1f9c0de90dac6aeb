"""Parse ncnn's text `.param` format.

Layout (ncnn's ParamDict text reader):

    7767517                                  magic
    <layer_count> <blob_count>
    <Type> <name> <n_bottom> <n_top> <bottom...> <top...> <id>=<value> ...

A value holding '.', 'e' or 'E' is a float, otherwise an int. Array params are written with the id
`-(23300 + id)` and the value `<count>,<v1>,<v2>,...`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pixup.errors import ModelError

MAGIC = 7767517
ARRAY_ID_BASE = -23300

Scalar = int | float
ParamValue = Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class ParamLayer:
    """One layer line of a `.param` file."""

    type: str
    """ncnn layer type ("Convolution", "Interp", ...)."""
    name: str
    """Layer name (unique in the file; used in error messages)."""
    bottoms: tuple[str, ...]
    """Input blob names, in order."""
    tops: tuple[str, ...]
    """Output blob names, in order."""
    params: Mapping[int, ParamValue] = field(default_factory=dict)
    """Param id → value; arrays are tuples (their id is the plain id, not the -233xx form)."""
    line: int = 0
    """1-based line number in the file, for error messages."""

    def describe(self) -> str:
        """'layer NAME (Type, line N)': how errors point at a layer."""
        return f"layer {self.name!r} ({self.type}, line {self.line})"

    def has(self, pid: int) -> bool:
        return pid in self.params

    def get_int(self, pid: int, default: int) -> int:
        value = self.params.get(pid, default)
        if isinstance(value, tuple):
            raise ModelError(f"ncnn {self.describe()}: param {pid} is an array, expected a number")
        return int(value)

    def get_float(self, pid: int, default: float) -> float:
        value = self.params.get(pid, default)
        if isinstance(value, tuple):
            raise ModelError(f"ncnn {self.describe()}: param {pid} is an array, expected a number")
        return float(value)

    def get_array(self, pid: int) -> tuple[Scalar, ...]:
        """The array param `pid`, or () when absent. A lone number counts as a 1-element array."""
        value = self.params.get(pid)
        if value is None:
            return ()
        if isinstance(value, tuple):
            return value
        return (value,)


@dataclass(frozen=True)
class ParamFile:
    """A parsed `.param` file."""

    layers: tuple[ParamLayer, ...]
    """Layers in file order (which is also the order their weights appear in the `.bin`)."""
    blob_count: int
    """Number of blobs the header declares."""
    source: str
    """Where it came from (file name), for error messages."""


def _is_float(text: str) -> bool:
    return any(ch in text for ch in ".eE")


def _scalar(text: str, where: str) -> Scalar:
    try:
        return float(text) if _is_float(text) else int(text)
    except ValueError:
        raise ModelError(f"{where}: cannot read the value {text!r}") from None


def _parse_param(token: str, where: str) -> tuple[int, ParamValue]:
    key, sep, value = token.partition("=")
    if not sep:
        raise ModelError(f"{where}: expected id=value, got {token!r}")
    try:
        pid = int(key)
    except ValueError:
        raise ModelError(f"{where}: bad param id {key!r}") from None
    if pid > ARRAY_ID_BASE:
        return pid, _scalar(value, where)
    pid = ARRAY_ID_BASE - pid
    parts = value.split(",")
    try:
        count = int(parts[0])
    except ValueError:
        raise ModelError(f"{where}: bad array length in {token!r}") from None
    items = parts[1:]
    if count != len(items):
        raise ModelError(f"{where}: array param {pid} declares {count} values, has {len(items)}")
    # ncnn types the whole array float as soon as one element looks like a float.
    as_float = any(_is_float(item) for item in items)
    try:
        array = tuple(float(item) if as_float else int(item) for item in items)
    except ValueError:
        raise ModelError(f"{where}: cannot read array {token!r}") from None
    return pid, array


def _parse_layer(tokens: list[str], line_no: int, source: str) -> ParamLayer:
    where = f"{source} line {line_no}"
    if len(tokens) < 4:
        raise ModelError(f"{where}: a layer line needs type, name, bottom and top counts")
    layer_type, name = tokens[0], tokens[1]
    try:
        n_bottom, n_top = int(tokens[2]), int(tokens[3])
    except ValueError:
        raise ModelError(f"{where}: bad blob counts in layer {name!r}") from None
    blobs_end = 4 + n_bottom + n_top
    if n_bottom < 0 or n_top < 0 or len(tokens) < blobs_end:
        raise ModelError(f"{where}: layer {name!r} lists fewer blobs than it declares")
    bottoms = tuple(tokens[4 : 4 + n_bottom])
    tops = tuple(tokens[4 + n_bottom : blobs_end])
    params: dict[int, ParamValue] = {}
    for token in tokens[blobs_end:]:
        pid, value = _parse_param(token, f"{where} (layer {name!r})")
        params[pid] = value
    return ParamLayer(layer_type, name, bottoms, tops, params, line_no)


def parse_param_text(text: str, source: str = "<param>") -> ParamFile:
    """Parse the text of a `.param` file. Raises ModelError on anything malformed."""
    lines = [(i + 1, line.split()) for i, line in enumerate(text.splitlines())]
    lines = [(i, tokens) for i, tokens in lines if tokens]
    if not lines or lines[0][1] != [str(MAGIC)]:
        raise ModelError(f"{source}: not an ncnn text .param file (magic number {MAGIC} missing)")
    if len(lines) < 2 or len(lines[1][1]) != 2:
        raise ModelError(f"{source}: missing the '<layer_count> <blob_count>' line")
    try:
        layer_count, blob_count = (int(t) for t in lines[1][1])
    except ValueError:
        raise ModelError(f"{source}: bad layer/blob counts") from None
    layers = tuple(_parse_layer(tokens, i, source) for i, tokens in lines[2:])
    if len(layers) != layer_count:
        raise ModelError(f"{source}: header declares {layer_count} layers, file has {len(layers)}")
    return ParamFile(layers, blob_count, source)


def read_param(path: Path) -> ParamFile:
    """Read and parse a `.param` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ModelError(
            f"{path.name}: not a text .param file (binary .param.bin is not supported)"
        ) from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_param_text(text, path.name)
