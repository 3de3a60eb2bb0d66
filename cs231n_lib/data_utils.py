"""CIFAR-10 loading, and an offline stand-in dataset for demos and CI.

Two sources give the same dictionary of splits (``X_train``, ``y_train``,
``X_val``, ``y_val``, ``X_test``, ``y_test``, images in NCHW):

- ``get_CIFAR10_data`` reads the CIFAR-10 *python* batches, fetched once with
  ``bash cs231n_lib/datasets/get_datasets.sh``;
- ``get_offline_data`` draws ten classes of synthetic shapes and textures, so
  the kit runs where CIFAR-10 cannot be downloaded.

``load_course_data`` picks between them. The batches are pickles, so they are
read with an unpickler that builds NumPy arrays and nothing else.

Imports: NumPy and the standard library only.
"""

from __future__ import annotations

import codecs
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from cs231n_lib._validation import check_int

__all__ = [
    "CIFAR10_CLASSES",
    "OFFLINE_CLASSES",
    "get_CIFAR10_data",
    "get_offline_data",
    "load_CIFAR10",
    "load_CIFAR_batch",
    "load_course_data",
    "make_offline_dataset",
]

CIFAR10_CLASSES = (
    "plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)

OFFLINE_CLASSES = (
    "circle", "square", "triangle", "ring", "cross",
    "horizontal stripes", "vertical stripes", "diagonal stripes", "checkerboard", "dots",
)

_DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
DEFAULT_CIFAR10_DIR = _DATASETS_DIR / "cifar-10-batches-py"
GET_DATASETS_SCRIPT = _DATASETS_DIR / "get_datasets.sh"
DATA_ENV_VAR = "CS231N_DATA"

_TRAIN_FILES = tuple(f"data_batch_{b}" for b in range(1, 6))
_TEST_FILE = "test_batch"
_IMAGE_SHAPE = (3, 32, 32)  # (C, H, W)
_PIXELS = 3 * 32 * 32

# ---------------------------------------------------------------------------
# Reading the pickled batches
# ---------------------------------------------------------------------------

# The reconstructor NumPy itself pickles arrays with. Taken from __reduce__
# rather than imported, because its module moved (numpy.core -> numpy._core)
# and importing numpy.core warns under NumPy 2.
_NDARRAY_RECONSTRUCT = np.ndarray(0).__reduce__()[0]

_ALLOWED_GLOBALS = {
    # Python 2 pickles (the real CIFAR-10 files) name numpy.core.multiarray;
    # NumPy 2 pickles name numpy._core.multiarray.
    ("numpy.core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _NDARRAY_RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(str, "latin1").
    ("_codecs", "encode"): codecs.encode,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays, dicts, lists and scalars, and nothing else.

    A pickle runs whatever callables it names; refusing every global outside
    ``_ALLOWED_GLOBALS`` means a tampered batch file fails to load instead of
    running code.
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch holds only "
                "NumPy arrays, lists and bytes"
            ) from None


def _missing_data_message(path: Path, origin: str) -> str:
    return (
        f"CIFAR-10 not found: {path} does not exist (location from {origin}). "
        f"Download it with `bash {GET_DATASETS_SCRIPT}` "
        "(cs231n_lib/datasets/get_datasets.sh, about 163 MB; it extracts into "
        f"{DEFAULT_CIFAR10_DIR}), or set {DATA_ENV_VAR} to a directory holding "
        f"{', '.join(_TRAIN_FILES)} and {_TEST_FILE}."
    )


def _read_batch(filename: Path,
                origin: str = "the filename argument") -> tuple[np.ndarray, np.ndarray]:
    """Read one batch file as stored: uint8 rows (n, 3072) and int64 labels (n,)."""
    filename = Path(filename)
    if not filename.is_file():
        raise FileNotFoundError(_missing_data_message(filename, origin))
    with open(filename, "rb") as f:
        # The batches were written by Python 2; 'bytes' keeps its str as bytes.
        batch = _ArrayOnlyUnpickler(f, encoding="bytes").load()
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(
            f"{filename} is not a CIFAR-10 batch: expected a dict with keys b'data' and "
            f"b'labels'; got {type(batch).__name__}"
            + (f" with keys {sorted(map(repr, batch))}" if isinstance(batch, dict) else "")
        )
    data, labels = batch[b"data"], batch[b"labels"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == _PIXELS):
        raise ValueError(
            f"{filename}: b'data' must be a uint8 array of shape (n, {_PIXELS}); got "
            f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}"
        )
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{filename}: b'labels' must hold one label per row of b'data' "
            f"({data.shape[0]}); got shape {labels.shape}"
        )
    return data, labels


def _pixel_dtype(dtype: Any) -> np.dtype:
    """The dtype to return pixels in: any integer or float type that holds 0..255 exactly."""
    dt = np.dtype(dtype)
    if dt.kind not in "uif" or not np.can_cast(np.uint8, dt, casting="safe"):
        raise TypeError(
            f"dtype must be an integer or float type that holds 0..255, such as uint8, "
            f"float32 or float64; got {dt}"
        )
    return dt


def load_CIFAR_batch(filename: str | os.PathLike, dtype: Any = np.float64,
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Load one CIFAR-10 python batch file.

    Parameters
    ----------
    filename : str or path
        A ``data_batch_<i>`` or ``test_batch`` file.
    dtype : dtype, default float64
        Pixel dtype of ``X``: uint8 keeps the stored bytes, a float type
        holds the same values 0..255.

    Returns
    -------
    X : ndarray of shape (n, 32, 32, 3), NHWC
    Y : ndarray of shape (n,), int64
        Labels in 0..9, indexing ``CIFAR10_CLASSES``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist; the message says how to download the data.
    pickle.UnpicklingError
        If the file names any global other than the NumPy array machinery.
    """
    dt = _pixel_dtype(dtype)
    data, labels = _read_batch(Path(filename))
    # (n, 3072) -> (n, 3, 32, 32): each row is the R, G, B planes in turn.
    X = data.reshape(-1, *_IMAGE_SHAPE).transpose(0, 2, 3, 1).astype(dt)  # (n, 32, 32, 3)
    return X, labels


def load_CIFAR10(root: str | os.PathLike, dtype: Any = np.float64,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load all of CIFAR-10 from a ``cifar-10-batches-py`` directory.

    Parameters
    ----------
    root : str or path
        Directory holding ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``.
    dtype : dtype, default float64
        Pixel dtype of ``Xtr`` and ``Xte`` (uint8, float32, float64, ...).

    Returns
    -------
    Xtr : ndarray of shape (50000, 32, 32, 3), NHWC
    Ytr : ndarray of shape (50000,), int64
    Xte : ndarray of shape (10000, 32, 32, 3), NHWC
    Yte : ndarray of shape (10000,), int64

    Notes
    -----
    The sizes are the real dataset's; smaller batch files give smaller arrays.
    """
    dt = _pixel_dtype(dtype)
    root = Path(root)
    _check_cifar10_dir(root, "the root argument")
    parts = [_read_batch(root / name) for name in _TRAIN_FILES]
    n_train = sum(len(labels) for _, labels in parts)
    Xtr = np.empty((n_train, 32, 32, 3), dtype=dt)
    start = 0
    for data, _ in parts:
        stop = start + len(data)
        Xtr[start:stop] = data.reshape(-1, *_IMAGE_SHAPE).transpose(0, 2, 3, 1)  # NHWC
        start = stop
    Ytr = np.concatenate([labels for _, labels in parts])
    del parts
    Xte, Yte = load_CIFAR_batch(root / _TEST_FILE, dtype=dt)
    return Xtr, Ytr, Xte, Yte


def _resolve_cifar10_dir(cifar10_dir: str | os.PathLike | None) -> tuple[Path, str]:
    """Where to look for CIFAR-10, and which setting said so."""
    if cifar10_dir is not None:
        return Path(cifar10_dir), "the cifar10_dir argument"
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env), f"the {DATA_ENV_VAR} environment variable"
    return DEFAULT_CIFAR10_DIR, "the package default"


def _check_cifar10_dir(root: Path, origin: str) -> None:
    """Raise FileNotFoundError naming the first missing directory or batch file."""
    if not root.is_dir():
        raise FileNotFoundError(_missing_data_message(root, origin))
    for name in (*_TRAIN_FILES, _TEST_FILE):
        if not (root / name).is_file():
            raise FileNotFoundError(_missing_data_message(root / name, origin))


def _cifar10_found(cifar10_dir: str | os.PathLike | None) -> tuple[bool, Path, str]:
    root, origin = _resolve_cifar10_dir(cifar10_dir)
    try:
        _check_cifar10_dir(root, origin)
    except FileNotFoundError:
        return False, root, origin
    return True, root, origin


# ---------------------------------------------------------------------------
# The course's splits
# ---------------------------------------------------------------------------


def _float_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(
            f"dtype must be float32 or float64 (the dtypes the layers accept); got {dt}"
        )
    return dt


def _check_counts(num_training: Any, num_validation: Any, num_test: Any,
                  ) -> tuple[int, int, int]:
    return (
        check_int("num_training", num_training, 1),
        check_int("num_validation", num_validation, 0),
        check_int("num_test", num_test, 0),
    )


def _empty_splits(num_training: int, num_validation: int, num_test: int,
                  dt: np.dtype) -> dict[str, np.ndarray]:
    data = {}
    for split, n in (("train", num_training), ("val", num_validation), ("test", num_test)):
        data[f"X_{split}"] = np.empty((n, *_IMAGE_SHAPE), dtype=dt)
        data[f"y_{split}"] = np.empty(n, dtype=np.int64)
    return data


def _subtract_mean(data: dict[str, np.ndarray], pixel_sum: np.ndarray) -> None:
    """Subtract the training split's per-pixel mean from every split, in place.

    ``pixel_sum`` (3, 32, 32) is the exact sum of the training pixels (int64,
    or float64 holding whole numbers), so the mean is the float64 mean of the
    stored bytes.
    """
    mean = (pixel_sum / len(data["X_train"])).astype(data["X_train"].dtype)
    for split in ("train", "val", "test"):
        data[f"X_{split}"] -= mean  # broadcasts over N, no temporary


def get_CIFAR10_data(num_training: int = 49000, num_validation: int = 1000,
                     num_test: int = 1000, subtract_mean: bool = True, dtype: Any = np.float32,
                     cifar10_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Load CIFAR-10 split the course's way, ready for a conv net.

    Parameters
    ----------
    num_training : int, default 49000
        The first ``num_training`` images of ``data_batch_1`` .. ``data_batch_5``.
    num_validation : int, default 1000
        The ``num_validation`` training-batch images right after the training split.
    num_test : int, default 1000
        The first ``num_test`` images of ``test_batch``.
    subtract_mean : bool, default True
        Subtract the per-pixel mean image of the training split from all splits.
    dtype : float32 or float64, default float32
        Dtype of the ``X_*`` arrays.
    cifar10_dir : str or path, optional
        The ``cifar-10-batches-py`` directory. If None, ``$CS231N_DATA``, else
        ``cs231n_lib/datasets/cifar-10-batches-py``.

    Returns
    -------
    data : dict
        ``X_train`` (num_training, 3, 32, 32), ``y_train`` (num_training,),
        ``X_val`` (num_validation, 3, 32, 32), ``y_val`` (num_validation,),
        ``X_test`` (num_test, 3, 32, 32), ``y_test`` (num_test,); X in NCHW of
        ``dtype``, y int64.

    Raises
    ------
    FileNotFoundError
        If the directory or a batch file is missing; the message names the
        path and the download script.
    ValueError
        If a count is negative (or ``num_training`` is 0), or more images are
        asked for than the batches hold.
    TypeError
        If ``dtype`` is not float32 or float64.

    Notes
    -----
    Peak memory stays below twice ``X_train.nbytes``: batches are read one at
    a time as uint8 and written straight into the preallocated NCHW outputs,
    and the mean is subtracted in place.
    """
    num_training, num_validation, num_test = _check_counts(num_training, num_validation,
                                                           num_test)
    dt = _float_dtype(dtype)
    root, origin = _resolve_cifar10_dir(cifar10_dir)
    _check_cifar10_dir(root, origin)

    data = _empty_splits(num_training, num_validation, num_test, dt)
    pixel_sum = np.zeros(_PIXELS, dtype=np.int64)
    wanted = num_training + num_validation
    filled = 0  # training-batch images consumed so far, train split first then val
    for name in _TRAIN_FILES:
        if filled == wanted:
            break
        rows, labels = _read_batch(root / name, origin)
        for split, lo, hi in (("train", 0, num_training), ("val", num_training, wanted)):
            # This batch covers overall images [filled, filled + len(rows)); copy its overlap
            # with the split's range [lo, hi).
            start, stop = max(lo, filled), min(hi, filled + len(rows))
            if start >= stop:
                continue
            src = rows[start - filled:stop - filled]
            data[f"X_{split}"][start - lo:stop - lo] = src.reshape(-1, *_IMAGE_SHAPE)
            data[f"y_{split}"][start - lo:stop - lo] = labels[start - filled:stop - filled]
            if split == "train":
                pixel_sum += src.sum(axis=0, dtype=np.int64)
        filled = min(wanted, filled + len(rows))
        del rows, labels
    if filled < wanted:
        raise ValueError(
            f"num_training + num_validation = {num_training} + {num_validation} = {wanted} "
            f"but the training batches in {root} hold only {filled} images"
        )
    if num_test:
        rows, labels = _read_batch(root / _TEST_FILE, origin)
        if len(rows) < num_test:
            raise ValueError(
                f"num_test={num_test} but {root / _TEST_FILE} holds only {len(rows)} images"
            )
        data["X_test"][:] = rows[:num_test].reshape(-1, *_IMAGE_SHAPE)
        data["y_test"][:] = labels[:num_test]
        del rows, labels
    if subtract_mean:
        _subtract_mean(data, pixel_sum.reshape(_IMAGE_SHAPE))
    return data


# ---------------------------------------------------------------------------
# The offline dataset
# ---------------------------------------------------------------------------

_CHUNK = 2048  # images drawn at a time: bounds the temporaries to ~35 MB
_NOISE = 10  # uniform integer pixel noise in [-10, 10], std ~6 (in units of 0..255)
# Min |luma(fg) - luma(bg)|: every shape stays visible in grey. In trial runs a small conv
# net reached ~40% validation accuracy after 30 Adam steps with 120, ~15-20% with 60.
_MIN_CONTRAST = 120.0
_LUMA = np.array([0.299, 0.587, 0.114])

# Pixel centres, as (1, 32, 1) rows and (1, 1, 32) columns for broadcasting with (k, 1, 1).
_YY = (np.arange(32, dtype=np.float32) + 0.5)[None, :, None]
_XX = (np.arange(32, dtype=np.float32) + 0.5)[None, None, :]


def _shape_masks(label: int, p: dict[str, np.ndarray]) -> np.ndarray:
    """Foreground masks (k, 32, 32) of class ``label``; each ``p`` entry is (k, 1, 1).

    ``r`` is the shape's radius and ``cx, cy`` its centre; the textures use
    ``period``, ``phase``, ``cell`` and the offsets ``ox, oy``.
    """
    dx, dy = _XX - p["cx"], _YY - p["cy"]
    r = p["r"]
    name = OFFLINE_CLASSES[label]
    if name == "circle":
        return dx * dx + dy * dy <= r * r
    if name == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) <= 0.8 * r
    if name == "triangle":
        # Apex at (cx, cy - r), base on y = cy + r: the half-width grows linearly downwards.
        return (np.abs(dx) <= 0.5 * (dy + r)) & (dy <= r)
    if name == "ring":
        d2 = dx * dx + dy * dy
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if name == "cross":
        t = 0.3 * r
        ax, ay = np.abs(dx), np.abs(dy)
        return ((ax <= t) & (ay <= r)) | ((ay <= t) & (ax <= r))
    wave = 2 * np.pi / p["period"]
    if name == "horizontal stripes":
        return np.sin(wave * _YY + p["phase"]) > 0
    if name == "vertical stripes":
        return np.sin(wave * _XX + p["phase"]) > 0
    if name == "diagonal stripes":
        # Either diagonal; dividing by sqrt(2) keeps the stripe spacing equal to ``period``.
        along = (_XX + p["slope"] * _YY) / np.sqrt(2)
        return np.sin(wave * along + p["phase"]) > 0
    if name == "checkerboard":
        cells = np.floor((_XX + p["ox"]) / p["cell"]) + np.floor((_YY + p["oy"]) / p["cell"])
        return cells % 2 == 0
    if name == "dots":
        spacing = p["period"] + 2  # 6..11 px between dot centres
        gx = (_XX + p["ox"]) % spacing - spacing / 2
        gy = (_YY + p["oy"]) % spacing - spacing / 2
        return gx * gx + gy * gy <= (0.3 * spacing) ** 2
    raise AssertionError(f"no mask for class {label}")  # pragma: no cover


def _colours(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Background and foreground RGB (n, 3), independent of the class, with luma contrast."""
    bg = np.empty((n, 3))
    fg = np.empty((n, 3))
    todo = np.arange(n)
    while len(todo):
        # Rejection sampling of (bg, fg) pairs: ~8% pass, so ~90 shrinking rounds per chunk.
        bg[todo] = rng.uniform(0, 255, size=(len(todo), 3))
        fg[todo] = rng.uniform(0, 255, size=(len(todo), 3))
        todo = todo[np.abs((fg[todo] - bg[todo]) @ _LUMA) < _MIN_CONTRAST]
    return bg, fg


def _draw_images(rng: np.random.Generator, labels: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out`` (k, 3, 32, 32) uint8 with one image per label of ``labels`` (k,)."""
    k = len(labels)
    size = (k, 1, 1)
    r = rng.uniform(5.0, 12.0, size=size).astype(np.float32)
    params = {
        "r": r,
        # Keep the whole shape inside the image, at least one pixel from the border.
        "cx": (r + 1 + rng.uniform(size=size) * (30 - 2 * r)).astype(np.float32),
        "cy": (r + 1 + rng.uniform(size=size) * (30 - 2 * r)).astype(np.float32),
        "period": rng.uniform(4.0, 9.0, size=size).astype(np.float32),
        "phase": rng.uniform(0, 2 * np.pi, size=size).astype(np.float32),
        "slope": rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=size),
        "cell": rng.uniform(3.0, 6.0, size=size).astype(np.float32),
        "ox": rng.uniform(0, 12.0, size=size).astype(np.float32),
        "oy": rng.uniform(0, 12.0, size=size).astype(np.float32),
    }
    bg, fg = _colours(rng, k)
    mask = np.empty((k, 32, 32), dtype=np.float32)
    for label in range(len(OFFLINE_CLASSES)):
        idx = np.flatnonzero(labels == label)
        if len(idx):
            mask[idx] = _shape_masks(label, {name: v[idx] for name, v in params.items()})
    # Integer noise: drawing int8 is ~10x faster than drawing Gaussian floats.
    img = rng.integers(-_NOISE, _NOISE + 1, size=(k, 3, 32, 32), dtype=np.int8).astype(np.float32)
    img += bg.astype(np.float32)[:, :, None, None]
    img += (fg - bg).astype(np.float32)[:, :, None, None] * mask[:, None]  # (k, 3, 32, 32)
    np.clip(np.rint(img, out=img), 0, 255, out=img)
    out[:] = img


def _offline(
    num_examples: int, rng: np.random.Generator, dtype: Any = np.uint8
) -> tuple[np.ndarray, np.ndarray]:
    n_classes = len(OFFLINE_CLASSES)
    # Balanced classes (counts differ by at most one), in random order.
    y = rng.permutation(np.arange(num_examples, dtype=np.int64) % n_classes)
    X = np.empty((num_examples, *_IMAGE_SHAPE), dtype=dtype)
    # Float images are drawn as bytes a chunk at a time and converted in place:
    # a whole uint8 copy (150 MB for 49,000 images) would otherwise sit beside
    # the float array at the memory peak.
    chunk = None if X.dtype == np.uint8 else np.empty((_CHUNK, *_IMAGE_SHAPE), dtype=np.uint8)
    for start in range(0, num_examples, _CHUNK):
        stop = min(start + _CHUNK, num_examples)
        if chunk is None:
            _draw_images(rng, y[start:stop], X[start:stop])
        else:
            _draw_images(rng, y[start:stop], chunk[: stop - start])
            X[start:stop] = chunk[: stop - start]
    return X, y


def make_offline_dataset(num_examples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw labelled synthetic images, a stand-in for CIFAR-10.

    Each image is one of ten shapes or textures (``OFFLINE_CLASSES``) at a
    random size and position, or with a random period and phase, painted in
    a random foreground colour on a random background colour, plus light
    uniform noise. Colours are drawn independently of the class, so the
    class is carried by shape alone: a classifier has to look at edges, not
    at the average colour.

    Parameters
    ----------
    num_examples : int
        N, the number of images.
    seed : int, default 0
        Seed for ``np.random.default_rng``; the same seed gives the same bytes.

    Returns
    -------
    X : ndarray of shape (N, 3, 32, 32), uint8, NCHW
    y : ndarray of shape (N,), int64
        Labels in 0..9 indexing ``OFFLINE_CLASSES``, balanced to within one.
    """
    num_examples = check_int("num_examples", num_examples, 0)
    seed = check_int("seed", seed, 0)
    return _offline(num_examples, np.random.default_rng(seed))


def get_offline_data(num_training: int = 49000, num_validation: int = 1000,
                     num_test: int = 1000, subtract_mean: bool = True, dtype: Any = np.float32,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """The offline dataset in the same splits and layout as ``get_CIFAR10_data``.

    Parameters
    ----------
    num_training, num_validation, num_test : int
        Sizes of the splits; ``num_training`` >= 1, the others >= 0.
    subtract_mean : bool, default True
        Subtract the per-pixel mean image of the training split from all splits.
    dtype : float32 or float64, default float32
    seed : int, default 0
        Each split is drawn from its own child of ``np.random.SeedSequence(seed)``,
        so validation and test images are never copies of training images.

    Returns
    -------
    data : dict
        ``X_train`` (num_training, 3, 32, 32), ``y_train`` (num_training,),
        ``X_val`` (num_validation, 3, 32, 32), ``y_val`` (num_validation,),
        ``X_test`` (num_test, 3, 32, 32), ``y_test`` (num_test,); X of ``dtype``,
        y int64. Labels index ``OFFLINE_CLASSES``.
    """
    counts = _check_counts(num_training, num_validation, num_test)
    dt = _float_dtype(dtype)
    seed = check_int("seed", seed, 0)
    children = np.random.SeedSequence(seed).spawn(3)
    data: dict[str, np.ndarray] = {}
    pixel_sum = None
    for split, n, child in zip(("train", "val", "test"), counts, children, strict=True):
        X, y = _offline(n, np.random.default_rng(child), dt)
        if split == "train":
            # Whole numbers up to 255 * n: exact in a float64 sum.
            pixel_sum = X.sum(axis=0, dtype=np.float64)  # (3, 32, 32)
        data[f"X_{split}"] = X
        data[f"y_{split}"] = y
    if subtract_mean:
        _subtract_mean(data, pixel_sum)
    return data


# ---------------------------------------------------------------------------
# Choosing a source
# ---------------------------------------------------------------------------

SOURCES = ("auto", "cifar10", "offline")


def load_course_data(source: str = "auto", num_training: int = 49000,
                     num_validation: int = 1000, num_test: int = 1000, dtype: Any = np.float32,
                     subtract_mean: bool = True, seed: int = 0,
                     cifar10_dir: str | os.PathLike | None = None,
                     ) -> tuple[dict[str, np.ndarray], str]:
    """Load CIFAR-10 if it is there, else the offline dataset, in the course's splits.

    Parameters
    ----------
    source : {'auto', 'cifar10', 'offline'}, default 'auto'
        'cifar10' requires the dataset (FileNotFoundError otherwise);
        'offline' never reads it; 'auto' uses CIFAR-10 when all six batch
        files are found and prints one line saying which source it chose and why.
    num_training, num_validation, num_test, dtype, subtract_mean
        As for ``get_CIFAR10_data``.
    seed : int, default 0
        Seed of the offline dataset; unused for CIFAR-10.
    cifar10_dir : str or path, optional
        As for ``get_CIFAR10_data``.

    Returns
    -------
    data : dict
        The six split arrays, as ``get_CIFAR10_data`` returns them.
    source_used : str
        'cifar10' or 'offline'; class names are ``CIFAR10_CLASSES`` or
        ``OFFLINE_CLASSES`` accordingly.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}")
    if source == "auto":
        found, root, origin = _cifar10_found(cifar10_dir)
        if found:
            print(f"load_course_data: using CIFAR-10 from {root} (location from {origin})")
            source = "cifar10"
        else:
            print(
                f"load_course_data: using the offline dataset because CIFAR-10 was not found "
                f"at {root} (location from {origin}); run `bash {GET_DATASETS_SCRIPT}` "
                "to download it"
            )
            source = "offline"
    if source == "cifar10":
        data = get_CIFAR10_data(num_training, num_validation, num_test,
                                subtract_mean=subtract_mean, dtype=dtype,
                                cifar10_dir=cifar10_dir)
    else:
        data = get_offline_data(num_training, num_validation, num_test,
                                subtract_mean=subtract_mean, dtype=dtype, seed=seed)
    return data, source
