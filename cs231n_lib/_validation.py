"""Input checks shared by the public layers.

Every public function of the kit checks its arguments here before it touches
them, so a wrong call fails at the boundary with a message that names the
argument, what was expected and what was received, instead of leaking a NumPy
broadcasting error from deep inside a layer.

Imports: NumPy only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(name: str, a: Any) -> np.ndarray:
    """Return ``a`` as an ndarray of float32 or float64, or raise TypeError.

    Integer, boolean, complex and float16 arrays are refused rather than cast:
    a silent cast would hide a student's bug and change the dtype of the result.
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array; got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be a float32 or float64 array; got dtype {a.dtype} "
            f"(convert it first, e.g. {name}.astype(np.float64))"
        )
    return a


def check_ndim(name: str, a: np.ndarray, ndim: int, letters: str) -> None:
    """Raise ValueError unless ``a`` has ``ndim`` axes, named by ``letters``."""
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D {letters}; got shape {a.shape}")


def check_same_dtype(*, layer: str | None = None, **arrays: np.ndarray) -> np.dtype:
    """Raise TypeError unless every array has the same dtype; return it.

    With ``layer`` (the public function's name) the first array is the
    reference: the message names the layer, each array that differs and the
    reference, and says to cast to the reference's dtype. This is the README's
    rule that the arrays meeting in a layer share a dtype, as the fast layers
    apply it to ``x``, ``w`` and ``b``. Without ``layer`` it checks a layer's
    parameters only (w and b, gamma and beta), whose shared dtype is the one
    the layer computes in (see :func:`to_dtype`).
    """
    dtypes = {name: a.dtype for name, a in arrays.items()}
    if len(set(dtypes.values())) > 1:
        if layer is not None:
            ref, ref_dtype = next(iter(dtypes.items()))
            odd = {n: d for n, d in dtypes.items() if d != ref_dtype}
            message = _mismatch_message(layer, odd, ref, ref_dtype, f".astype({ref}.dtype)")
            if "w" in odd:
                # The usual cause: float64 images into a float32 model (the course's
                # CIFAR loader gives float64 unless asked).
                message += "; a model casts its input instead: X.astype(self.dtype) in loss()"
            raise TypeError(message)
        listed = ", ".join(f"{n}.dtype={d}" for n, d in dtypes.items())
        raise TypeError(
            f"{listed}: these must share one dtype, the one the layer computes in; "
            "convert one of them with .astype(...)"
        )
    return next(iter(dtypes.values()))


def _mismatch_message(
    layer: str, odd: dict[str, np.dtype], ref: str, ref_dtype: np.dtype, cast: str
) -> str:
    """The message for arrays ``odd`` (name -> dtype) that differ from the reference ``ref``.

    ``'conv_forward_fast: w has dtype float32 but x has float64; arrays in a
    layer must share a dtype (cast with .astype(x.dtype))'``.
    """
    if len(set(odd.values())) == 1 and len(odd) > 1:
        what = f"{' and '.join(odd)} have dtype {next(iter(odd.values()))}"
    else:
        what = " and ".join(f"{n} has dtype {d}" for n, d in odd.items())
    return (
        f"{layer}: {what} but {ref} has {ref_dtype}; arrays in a layer must share a dtype "
        f"(cast with {cast})"
    )


def to_dtype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` in the layer's dtype (its parameters'), converted only if it differs.

    This is the course's convention (its models call ``X.astype(self.dtype)``):
    a float32 model fed float64 data computes in float32, and a float32
    result is never widened behind the parameters' back.
    """
    return a if a.dtype == dtype else a.astype(dtype)


def check_dout(
    dout: Any, shape: tuple[int, ...], dtype: np.dtype, *, layer: str | None = None, ref: str = "x"
) -> np.ndarray:
    """The upstream gradient, checked against the forward output's shape, in ``dtype``.

    With ``layer`` (the public backward function's name) a ``dout`` of another
    dtype than the forward pass's ``ref`` array raises TypeError, as the
    fast layers do; without, it is converted to ``dtype``.
    """
    dout = as_float_array("dout", dout)
    if dout.shape != shape:
        raise ValueError(f"dout must have the forward output's shape {shape}; got {dout.shape}")
    if layer is not None and dout.dtype != dtype:
        raise TypeError(
            _mismatch_message(
                layer,
                {"dout": dout.dtype},
                f"the forward pass's {ref}",
                dtype,
                f"dout.astype(np.{np.dtype(dtype).name})",
            )
        )
    return to_dtype(dout, dtype)


def check_real(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a Python float inside the interval from low to high, else raise.

    A Python float, not a NumPy scalar: under NumPy 2's promotion rules a
    float64 scalar would upcast a float32 array it multiplies.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{name} must be a real number; got {value!r}")
    v = float(value)
    above = low < v if low_open else low <= v
    below = v < high if high_open else v <= high
    if math.isnan(v) or not (above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be in {interval}; got {value!r}")
    return v


def check_params(
    name: str, params: Any, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> None:
    """Check a parameter dict: a Mapping with every required key and no unknown key."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{name} must be a dict; got {type(params).__name__}")
    missing = [k for k in required if k not in params]
    if missing:
        raise ValueError(f"{name} is missing key(s) {missing}; it needs {list(required)}")
    unknown = sorted(set(params) - set(required) - set(optional))
    if unknown:
        raise ValueError(
            f"{name} has unknown key(s) {unknown}; allowed keys are {sorted(required + optional)}"
        )


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``, else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)
