"""What crosses the jail's wall, seen from the grader: calls going in, reports and arrays out.

Calls are encoded as JSON with arrays saved as ``.npy`` files beside them. Everything that comes
back is hostile data: one JSON line per report, checked field by field, and ``.npy`` files whose
headers are validated before a byte of data is read (plain numeric or bool dtypes, non-negative
dimensions, a size that matches the file), opened without following links, capped in bytes.
A bad output raises :class:`Broken`, which costs the call it came with and nothing else.

Imports: NumPy and the standard library.
"""

import json
import math
import os
import stat
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ARRAY_KINDS = "biufc"  # bool, int, uint, float, complex
MAX_LINE_BYTES = 64 << 20  # one JSON line from the jail
REASON_CHARS = 300
MAX_HEADER_BYTES = 10_000  # as NumPy's own default for untrusted files
MAX_NDIM = 32


@dataclass(frozen=True)
class Call:
    """One grader-chosen call: ``run(ns, *args, **kwargs)`` from ``driver``, run in the jail.

    ``driver`` is trusted Python source that defines ``run`` (a ``def`` or an assignment), which
    calls the student's code found in the namespace ``ns`` and returns a list of outputs.
    ``args`` and ``kwargs`` hold ndarrays of numbers or bools and JSON data (lists, tuples,
    dicts with str keys, numbers, strings, None, bool), nested as needed.
    """

    test_id: str
    driver: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


class Broken(Exception):
    """What came out of the jail cannot be taken as data; the message is the call's reason."""


def clip(text: str, limit: int = REASON_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- going in ------------------------------------------------------------------------------------


def _encode(value: Any, where: str, arrays: list, prefix: str) -> Any:
    """JSON for ``value``: arrays become ``{"$npy": name}`` (saved later); tuples, dicts tagged."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(
                f"{where} is an array of dtype {value.dtype}; only numeric and bool "
                "arrays can be sent to the jail"
            )
        name = f"{prefix}-{len(arrays)}.npy"
        arrays.append((name, np.asarray(value)))
        return {"$npy": name}
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_encode(v, f"{where}[{i}]", arrays, prefix) for i, v in enumerate(value)]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"{where} is a dict with a key that is not a str: {bad[0]!r}")
        items = {k: _encode(v, f"{where}[{k!r}]", arrays, prefix) for k, v in value.items()}
        return {"$dict": items}
    raise TypeError(
        f"{where} is a {type(value).__name__}; call arguments must be ndarrays or "
        "JSON data (lists, tuples, dicts, numbers, strings, None, bool)"
    )


def encode_call(index: int, call: Call) -> tuple[dict, list]:
    """The JSON spec of ``call`` and the arrays it refers to, after checking it."""
    if not isinstance(call, Call):
        raise TypeError(f"calls[{index}] must be a Call, got {type(call).__name__}")
    if not isinstance(call.test_id, str):
        raise TypeError(f"calls[{index}].test_id must be a str, got {call.test_id!r}")
    if not isinstance(call.driver, str):
        raise TypeError(
            f"call {call.test_id!r}: driver must be Python source (str), "
            f"got {type(call.driver).__name__}"
        )
    try:
        compile(call.driver, f"<driver of {call.test_id}>", "exec")
    except SyntaxError as err:
        raise ValueError(f"call {call.test_id!r}: the driver does not compile: {err}") from None
    if not isinstance(call.args, (tuple, list)) or not isinstance(call.kwargs, dict):
        raise TypeError(
            f"call {call.test_id!r}: args must be a tuple and kwargs a dict, got "
            f"{type(call.args).__name__} and {type(call.kwargs).__name__}"
        )
    arrays: list = []
    prefix = f"call-{index}"
    args = [
        _encode(v, f"call {call.test_id!r} argument {i}", arrays, prefix)
        for i, v in enumerate(call.args)
    ]
    kwargs = _encode(call.kwargs, f"call {call.test_id!r} keyword arguments", arrays, prefix)
    spec = {"test_id": call.test_id, "driver": call.driver, "args": args, "kwargs": kwargs}
    return spec, arrays


# --- coming out ----------------------------------------------------------------------------------


def parse_line(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise Broken("the jail wrote a malformed report (not JSON) on its result channel") from None


def parse_report(message: Any, index: int) -> dict:
    """The report on call ``index``, checked field by field."""
    report = message
    if type(report) is not dict or type(report.get("call")) is not int:
        raise Broken("the jail wrote a report of the wrong shape on its result channel")
    if report["call"] != index:
        raise Broken(f"the jail reported on call {report['call']} instead of call {index}")
    status, reason, kinds = report.get("status"), report.get("reason"), report.get("types")
    if status not in ("ok", "error", "memory", "bad_output") or type(reason) is not str:
        raise Broken("the jail wrote a report with an unknown status on its result channel")
    if kinds is not None and (type(kinds) is not list or not all(type(k) is str for k in kinds)):
        raise Broken("the jail reported output types that are not a list of names")
    refused = report.get("refused", [])
    if type(refused) is not list or not all(type(r) is str for r in refused):
        raise Broken("the jail reported refused calls that are not a list of names")
    report["refused"] = [clip(r, 80) for r in refused[:10]]
    report["reason"] = clip(reason)
    report["types"] = None if kinds is None else [clip(k, 200) for k in kinds[:100]]
    if status == "ok":
        outputs = report.get("outputs")
        if (
            type(outputs) is not list
            or kinds is None
            or len(kinds) != len(outputs)
            or not all(
                type(e) is dict and (e == {"npy": True} or list(e) == ["json"]) for e in outputs
            )
        ):
            raise Broken("the jail reported its outputs in the wrong shape")
    return report


def _checked_header(f: Any, k: int, name: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """The (shape, fortran_order, dtype) of a ``.npy`` header, every field validated."""
    try:
        version = np.lib.format.read_magic(f)
        read = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }[version]
        shape, fortran, dtype = read(f, max_header_size=MAX_HEADER_BYTES)
    except Exception:  # parsing untrusted bytes: any failure means "not a .npy file"
        raise Broken(f"output {k}: {name} is not a valid .npy file") from None
    if type(fortran) is not bool:
        raise Broken(f"output {k}: {name} has an invalid fortran_order in its header")
    check_shape_and_dtype(shape, dtype, f"output {k}: {name}", f"output {k}")
    return shape, fortran, dtype


def check_shape_and_dtype(shape: Any, dtype: Any, where: str, what: str) -> None:
    """Broken unless ``shape`` is a tuple of at most :data:`MAX_NDIM` non-negative ints and
    ``dtype`` a plain numeric or bool dtype (no objects, fields or sub-arrays)."""
    if (
        type(shape) is not tuple
        or len(shape) > MAX_NDIM
        or not all(type(n) is int and n >= 0 for n in shape)
    ):
        raise Broken(f"{where} has an invalid shape in its header: {clip(shape, 80)}")
    if (
        not isinstance(dtype, np.dtype)
        or dtype.kind not in ARRAY_KINDS
        or dtype.hasobject
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.itemsize <= 0
    ):
        raise Broken(
            f"{what} is an array of dtype {clip(dtype, 80)}; only plain numeric and bool "
            "arrays are accepted"
        )


def arrays_from_blob(table: Any, blob: np.ndarray | None) -> list[np.ndarray]:
    """The arrays a report packs end to end in one uint8 ``blob``: each ``table`` entry is
    ``[dtype descr, shape, offset, nbytes]``, checked as a ``.npy`` header is, and its bytes
    must lie inside the blob. Each array is a copy that owns its data."""
    if type(table) is not list or len(table) > 10_000:
        raise Broken("the report's array table is not a list")
    if table and (type(blob) is not np.ndarray or blob.dtype != np.uint8 or blob.ndim != 1):
        raise Broken("the report's array data is not one byte array")
    arrays = []
    for k, entry in enumerate(table):
        if type(entry) is not list or len(entry) != 4:
            raise Broken(f"array {k} of the report is described wrongly")
        descr, shape, offset, nbytes = entry
        if type(descr) is not str or len(descr) > 8 or type(shape) is not list:
            raise Broken(f"array {k} of the report has an invalid dtype or shape")
        try:
            dtype = np.dtype(descr)
        except TypeError:
            raise Broken(f"array {k} of the report has an invalid dtype {clip(descr, 20)}"
                         ) from None
        shape = tuple(shape)
        check_shape_and_dtype(shape, dtype, f"array {k} of the report", f"array {k}")
        if type(offset) is not int or type(nbytes) is not int or offset < 0:
            raise Broken(f"array {k} of the report has an invalid offset or size")
        if nbytes != math.prod(shape) * dtype.itemsize or offset + nbytes > blob.size:
            raise Broken(f"array {k} of the report does not fit its shape or the data")
        flat = np.frombuffer(blob, dtype=dtype, count=math.prod(shape), offset=offset)
        arrays.append(flat.reshape(shape).copy())
    return arrays


def read_array(dir_fd: int, k: int, name: str, max_bytes: int) -> np.ndarray:
    """Output ``k`` from the ``.npy`` file ``name`` in ``dir_fd``: header checked, then exactly
    its data read, no more than ``max_bytes``; the file is removed afterwards.

    Raises
    ------
    Broken
        For a missing, linked, special, oversized or malformed file.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise Broken(f"output {k} was reported as an array, but {name} does not exist") from None
    except OSError as err:
        raise Broken(f"output {k}: {name} cannot be opened ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Broken(f"output {k}: {name} is not a regular file")
        if info.st_size > max_bytes:
            raise Broken(f"output {k}: {name} is larger than the {max_bytes >> 20} MB allowed")
        with os.fdopen(fd, "rb", closefd=False) as f:
            shape, fortran, dtype = _checked_header(f, k, name)
            count = math.prod(shape)
            if count * dtype.itemsize != info.st_size - f.tell():
                raise Broken(
                    f"output {k}: {name} holds a different amount of data than its "
                    f"header says (shape {shape}, dtype {dtype})"
                )
            data = f.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise Broken(f"output {k}: {name} changed while it was read")
            flat = np.frombuffer(data, dtype=dtype, count=count)  # read-only, over data
    finally:
        os.close(fd)
        try:
            os.unlink(name, dir_fd=dir_fd)
        except OSError:
            pass
    # One copy, which owns its data and is writable (NumPy 2.5 deprecates setting .shape).
    if fortran:  # stored as the transpose, like np.load does
        return flat.reshape(shape[::-1]).T.copy(order="K")
    return flat.reshape(shape).copy()
