"""Does data_utils read CIFAR-10 exactly, split it the course's way, and stay small?

The CIFAR-10 files are written here, small, in the real format: protocol-2
pickled dicts with b'batch_label', b'labels', b'data', b'filenames'. Expected
pixels are computed from the stored rows by explicit index arithmetic, not
by the reshape/transpose the loader uses.
"""

from __future__ import annotations

import os
import pickle
import struct
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from cs231n_lib import data_utils
from cs231n_lib.data_utils import (
    CIFAR10_CLASSES,
    OFFLINE_CLASSES,
    get_CIFAR10_data,
    get_offline_data,
    load_CIFAR10,
    load_CIFAR_batch,
    load_course_data,
    make_offline_dataset,
)

TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
SPLIT_KEYS = {"X_train", "y_train", "X_val", "y_val", "X_test", "y_test"}

# Index of pixel (h, w, c) in a stored row: the R plane, then G, then B, each row-major.
_H, _W, _C = np.indices((32, 32, 3))
NHWC_INDEX = _C * 1024 + _H * 32 + _W  # (32, 32, 3)
_C2, _H2, _W2 = np.indices((3, 32, 32))
NCHW_INDEX = _C2 * 1024 + _H2 * 32 + _W2  # (3, 32, 32)


def write_batch(path: Path, rows: np.ndarray, labels: np.ndarray) -> None:
    """Write one batch the way the real files are laid out."""
    batch = {
        b"batch_label": f"{path.name} of a test set".encode(),
        b"labels": [int(v) for v in labels],
        b"data": rows,
        b"filenames": [f"image_{i}.png".encode() for i in range(len(rows))],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def write_cifar(root: Path, n_per_batch: int, n_test: int, seed: int) -> dict[str, np.ndarray]:
    """Write five training batches and a test batch; return the stored rows and labels."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = rng.integers(0, 256, size=(5 * n_per_batch, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5 * n_per_batch)
    for b, name in enumerate(TRAIN_FILES):
        part = slice(b * n_per_batch, (b + 1) * n_per_batch)
        write_batch(root / name, rows[part], labels[part])
    test_rows = rng.integers(0, 256, size=(n_test, 3072), dtype=np.uint8)
    test_labels = rng.integers(0, 10, size=n_test)
    write_batch(root / "test_batch", test_rows, test_labels)
    return {"rows": rows, "labels": labels, "test_rows": test_rows, "test_labels": test_labels}


@pytest.fixture
def cifar(tmp_path):
    """A 5 x 40 + 30 image CIFAR-10 directory and what was stored in it."""
    root = tmp_path / "cifar-10-batches-py"
    stored = write_cifar(root, n_per_batch=40, n_test=30, seed=0)
    stored["root"] = root
    return stored


@pytest.fixture
def no_data_env(monkeypatch):
    monkeypatch.delenv("CS231N_DATA", raising=False)


# --- load_CIFAR10 / load_CIFAR_batch -----------------------------------------


def test_load_CIFAR10_returns_the_stored_pixels_in_NHWC(cifar):
    Xtr, Ytr, Xte, Yte = load_CIFAR10(cifar["root"])
    assert Xtr.shape == (200, 32, 32, 3) and Xtr.dtype == np.float64
    assert Xte.shape == (30, 32, 32, 3) and Xte.dtype == np.float64
    np.testing.assert_array_equal(Xtr, cifar["rows"][:, NHWC_INDEX])
    np.testing.assert_array_equal(Xte, cifar["test_rows"][:, NHWC_INDEX])
    assert Ytr.dtype == np.int64 and Yte.dtype == np.int64
    np.testing.assert_array_equal(Ytr, cifar["labels"])
    np.testing.assert_array_equal(Yte, cifar["test_labels"])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_load_CIFAR10_gives_the_dtype_asked_for(cifar, dtype):
    Xtr, _, Xte, _ = load_CIFAR10(cifar["root"], dtype=dtype)
    assert Xtr.dtype == dtype and Xte.dtype == dtype
    np.testing.assert_array_equal(Xtr, cifar["rows"][:, NHWC_INDEX])


def test_load_CIFAR10_refuses_a_dtype_that_cannot_hold_255(cifar):
    with pytest.raises(TypeError, match="dtype.*int8"):
        load_CIFAR10(cifar["root"], dtype=np.int8)


def test_load_CIFAR_batch_reads_one_file(cifar):
    X, Y = load_CIFAR_batch(cifar["root"] / "data_batch_2")
    np.testing.assert_array_equal(X, cifar["rows"][40:80, NHWC_INDEX])
    np.testing.assert_array_equal(Y, cifar["labels"][40:80])


def _python2_style_pickle(rows: np.ndarray, labels: list[int]) -> bytes:
    """A batch as Python 2 + NumPy 1 wrote it: py2 str (BINSTRING) and numpy.core names."""

    def string(b: bytes) -> bytes:  # SHORT_BINSTRING: a py2 str
        return b"U" + bytes([len(b)]) + b

    array = (
        b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
        + b"K\x00\x85" + string(b"b") + b"\x87R"  # _reconstruct(ndarray, (0,), 'b')
        + b"(K\x01" + b"M" + struct.pack("<H", rows.shape[0]) + b"M\x00\x0c\x86"  # 1, (n, 3072)
        + b"cnumpy\ndtype\n" + string(b"u1") + b"\x89\x88\x87R"  # dtype('u1', False, True)
        + b"(K\x03" + string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        + b"\x89" + b"T" + struct.pack("<I", rows.nbytes) + rows.tobytes()  # BINSTRING data
        + b"tb"
    )
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return (b"\x80\x02}(" + string(b"data") + array + string(b"labels") + label_list
            + b"u.")


def test_a_python2_pickle_like_the_real_files_loads(tmp_path):
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 256, size=(5, 3072), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5]
    path = tmp_path / "data_batch_1"
    path.write_bytes(_python2_style_pickle(rows, labels))
    # The hand-made bytes must be a valid pickle of what we meant, by the stock unpickler.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 2 on numpy.core
        plain = pickle.loads(path.read_bytes(), encoding="bytes")
    np.testing.assert_array_equal(plain[b"data"], rows)

    X, Y = load_CIFAR_batch(path, dtype=np.uint8)
    np.testing.assert_array_equal(X, rows[:, NHWC_INDEX])
    np.testing.assert_array_equal(Y, labels)


class _Reduces:
    """Pickles as a call of ``func(*args)``, as a tampered batch file would."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


@pytest.mark.parametrize("func", [os.system, eval], ids=["os.system", "eval"])
def test_the_unpickler_refuses_globals_other_than_numpy_arrays(tmp_path, func):
    marker = tmp_path / "pwned"
    if func is os.system:
        payload = _Reduces(os.system, f"touch {marker}")
    else:
        payload = _Reduces(eval, f"__import__('pathlib').Path({str(marker)!r}).touch()")
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": payload, b"labels": []}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match=rf"refusing.*\.{func.__name__}"):
        load_CIFAR_batch(path)
    assert not marker.exists()


def test_a_file_that_is_not_a_batch_is_reported(tmp_path):
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": [1, 2, 3]}, f, protocol=2)
    with pytest.raises(ValueError, match="b'labels'"):
        load_CIFAR_batch(path)


# --- get_CIFAR10_data ----------------------------------------------------------


def test_splits_follow_the_course_and_are_NCHW(cifar):
    # 150 + 30 crosses the batch boundaries at 120 and 160.
    data = get_CIFAR10_data(150, 30, 20, subtract_mean=False, dtype=np.float64,
                            cifar10_dir=cifar["root"])
    assert set(data) == SPLIT_KEYS
    rows, labels = cifar["rows"], cifar["labels"]
    np.testing.assert_array_equal(data["X_train"], rows[:150, NCHW_INDEX])
    np.testing.assert_array_equal(data["X_val"], rows[150:180, NCHW_INDEX])
    np.testing.assert_array_equal(data["X_test"], cifar["test_rows"][:20, NCHW_INDEX])
    np.testing.assert_array_equal(data["y_train"], labels[:150])
    np.testing.assert_array_equal(data["y_val"], labels[150:180])
    np.testing.assert_array_equal(data["y_test"], cifar["test_labels"][:20])
    for split, n in (("train", 150), ("val", 30), ("test", 20)):
        assert data[f"X_{split}"].shape == (n, 3, 32, 32)
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].dtype == np.int64


@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 1e-4)])
def test_the_training_mean_image_is_subtracted_from_every_split(cifar, dtype, tol):
    data = get_CIFAR10_data(100, 50, 30, dtype=dtype, cifar10_dir=cifar["root"])
    raw = cifar["rows"].astype(np.float64)
    mean = raw[:100].mean(axis=0)  # per pixel, over the training split only
    expect = {
        "train": (raw[:100] - mean)[:, NCHW_INDEX],
        "val": (raw[100:150] - mean)[:, NCHW_INDEX],
        "test": (cifar["test_rows"] - mean)[:, NCHW_INDEX],
    }
    for split, want in expect.items():
        got = data[f"X_{split}"]
        assert got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=tol, err_msg=f"X_{split}")


def test_the_default_dtype_is_float32(cifar):
    data = get_CIFAR10_data(10, 5, 5, cifar10_dir=cifar["root"])
    assert {data[f"X_{s}"].dtype for s in ("train", "val", "test")} == {np.dtype(np.float32)}


def test_argument_beats_env_var_beats_package_default(tmp_path, monkeypatch):
    dirs = {}
    for seed, name in enumerate(("arg", "env", "default")):
        dirs[name] = tmp_path / name
        write_cifar(dirs[name], n_per_batch=4, n_test=2, seed=seed + 10)

    def source_of(data):
        for name, root in dirs.items():
            X, _ = load_CIFAR_batch(root / "data_batch_1", dtype=np.uint8)
            if np.array_equal(data["X_train"], X.transpose(0, 3, 1, 2)):
                return name
        return None

    def load(**kwargs):
        return get_CIFAR10_data(4, 0, 0, subtract_mean=False, **kwargs)

    monkeypatch.setattr(data_utils, "DEFAULT_CIFAR10_DIR", dirs["default"])
    monkeypatch.delenv("CS231N_DATA", raising=False)
    assert source_of(load()) == "default"
    monkeypatch.setenv("CS231N_DATA", str(dirs["env"]))
    assert source_of(load()) == "env"
    assert source_of(load(cifar10_dir=dirs["arg"])) == "arg"


def test_the_package_default_lives_next_to_the_module():
    here = Path(data_utils.__file__).resolve().parent
    assert data_utils.DEFAULT_CIFAR10_DIR == here / "datasets" / "cifar-10-batches-py"


def test_a_missing_dataset_names_the_path_and_the_download_script(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        get_CIFAR10_data(cifar10_dir=missing)
    message = str(err.value)
    assert str(missing) in message
    assert "bash" in message and "cs231n_lib/datasets/get_datasets.sh" in message
    with pytest.raises(FileNotFoundError, match="get_datasets.sh"):
        load_CIFAR10(missing)


def test_a_missing_batch_file_is_named(cifar):
    (cifar["root"] / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3.*get_datasets.sh"):
        get_CIFAR10_data(10, 0, 0, cifar10_dir=cifar["root"])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"num_training": -1}, ValueError, "num_training"),
        ({"num_validation": -5}, ValueError, "num_validation"),
        ({"num_test": -1}, ValueError, "num_test"),
        ({"num_training": 2.5}, TypeError, "num_training"),
        ({"num_training": 190, "num_validation": 11}, ValueError, "hold only 200"),
        ({"num_test": 31}, ValueError, "holds only 30"),
        ({"dtype": np.int32}, TypeError, "float32 or float64.*int32"),
        ({"dtype": np.float16}, TypeError, "float16"),
    ],
)
def test_bad_arguments_are_refused_with_their_names(cifar, kwargs, error, pattern):
    args = {"num_training": 100, "num_validation": 10, "num_test": 10, **kwargs}
    with pytest.raises(error, match=pattern):
        get_CIFAR10_data(cifar10_dir=cifar["root"], **args)


def test_peak_memory_stays_under_twice_the_training_array(tmp_path):
    root = tmp_path / "big"
    write_cifar(root, n_per_batch=2000, n_test=100, seed=1)
    tracemalloc.start()
    try:
        data = get_CIFAR10_data(9000, 1000, 100, cifar10_dir=root)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    budget = data["X_train"].nbytes
    # The outputs themselves were allocated inside the window: proof that
    # tracemalloc sees NumPy's buffers, so the bound below means something.
    assert peak >= budget
    assert peak < 2 * budget, f"peak {peak / 2**20:.1f} MiB, X_train {budget / 2**20:.1f} MiB"


# --- the offline dataset ---------------------------------------------------------


def test_offline_images_are_deterministic_for_a_seed():
    X1, y1 = make_offline_dataset(300, seed=3)
    X2, y2 = make_offline_dataset(300, seed=3)
    X3, y3 = make_offline_dataset(300, seed=4)
    assert X1.tobytes() == X2.tobytes() and y1.tobytes() == y2.tobytes()
    assert X1.tobytes() != X3.tobytes() and y1.tobytes() != y3.tobytes()


def test_offline_shapes_dtypes_and_balanced_classes():
    X, y = make_offline_dataset(1003, seed=0)
    assert X.shape == (1003, 3, 32, 32) and X.dtype == np.uint8
    assert y.shape == (1003,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=10)
    assert len(counts) == 10 and counts.min() >= 100 and counts.max() <= 101, counts
    assert len(OFFLINE_CLASSES) == 10 and len(set(OFFLINE_CLASSES)) == 10
    # Images use the range, not a sliver of it.
    assert X.min() == 0 and X.max() == 255


def test_get_offline_data_matches_the_cifar_layout_and_never_repeats_train():
    data = get_offline_data(500, 100, 100, subtract_mean=False, dtype=np.float64, seed=1)
    assert set(data) == SPLIT_KEYS
    for split, n in (("train", 500), ("val", 100), ("test", 100)):
        assert data[f"X_{split}"].shape == (n, 3, 32, 32)
        assert data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].dtype == np.int64
        assert set(np.unique(data[f"y_{split}"])) == set(range(10))
    train = {x.tobytes() for x in data["X_train"]}
    for split in ("val", "test"):
        assert not any(x.tobytes() in train for x in data[f"X_{split}"])
    assert data["X_val"].tobytes() != data["X_test"].tobytes()


def test_get_offline_data_subtracts_the_training_mean():
    raw = get_offline_data(300, 50, 50, subtract_mean=False, dtype=np.float64, seed=2)
    centred = get_offline_data(300, 50, 50, dtype=np.float64, seed=2)
    mean = raw["X_train"].mean(axis=0)
    for split in ("train", "val", "test"):
        np.testing.assert_allclose(centred[f"X_{split}"], raw[f"X_{split}"] - mean, atol=1e-10)
        np.testing.assert_array_equal(centred[f"y_{split}"], raw[f"y_{split}"])
    assert get_offline_data(10, 0, 0).get("X_train").dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"num_training": -1}, ValueError, "num_training"),
        ({"num_test": -1}, ValueError, "num_test"),
        ({"dtype": np.uint8}, TypeError, "uint8"),
        ({"seed": -3}, ValueError, "seed"),
    ],
)
def test_get_offline_data_refuses_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        get_offline_data(**{"num_training": 10, "num_validation": 0, "num_test": 0, **kwargs})


def _nearest_class_mean_accuracy(F, y, F_val, y_val):
    means = np.stack([F[y == c].mean(axis=0) for c in range(10)])  # (10, D)
    dist = (F_val**2).sum(1)[:, None] - 2 * F_val @ means.T + (means**2).sum(1)[None]
    return float(np.mean(dist.argmin(axis=1) == y_val))


def _shape_features(X):
    """|2-D FFT| of each image's grey level, standardised: blind to colour and position.

    Standardising removes the foreground/background colours and the contrast
    up to a sign; the FFT magnitude removes that sign and any (circular)
    shift. What is left is the shape: its outline, size and period.
    """
    grey = np.tensordot(np.array([0.299, 0.587, 0.114]), X.astype(np.float64), axes=(0, 1))
    grey -= grey.mean(axis=(1, 2), keepdims=True)
    grey /= grey.std(axis=(1, 2), keepdims=True)
    return np.abs(np.fft.fft2(grey)).reshape(len(X), -1)


@pytest.fixture(scope="module")
def offline_sample():
    X, y = make_offline_dataset(2000, seed=0)
    X_val, y_val = make_offline_dataset(1000, seed=1)
    return X, y, X_val, y_val


def test_the_offline_classes_are_not_told_apart_by_raw_pixel_means(offline_sample):
    # The class-mean image is what a linear template would learn first; if it
    # separated the classes, the dataset would teach nothing about conv nets.
    X, y, X_val, y_val = offline_sample
    acc = _nearest_class_mean_accuracy(X.reshape(len(X), -1).astype(np.float64), y,
                                       X_val.reshape(len(X_val), -1).astype(np.float64), y_val)
    assert acc < 0.25, f"nearest class mean on raw pixels scored {acc:.3f} (chance is 0.10)"


def test_the_offline_classes_are_not_told_apart_by_colour(offline_sample):
    X, y, X_val, y_val = offline_sample
    colour = X.reshape(len(X), 3, -1).mean(axis=2)  # (N, 3) mean R, G, B
    colour_val = X_val.reshape(len(X_val), 3, -1).mean(axis=2)
    # 1-nearest neighbour, stronger than class means on such a small feature.
    dist = ((colour_val[:, None, :] - colour[None]) ** 2).sum(axis=2)
    acc = float(np.mean(y[dist.argmin(axis=1)] == y_val))
    assert acc < 0.25, f"1-NN on mean colour scored {acc:.3f} (chance is 0.10)"


def test_the_offline_classes_are_separable_by_shape(offline_sample):
    X, y, X_val, y_val = offline_sample
    acc = _nearest_class_mean_accuracy(_shape_features(X), y, _shape_features(X_val), y_val)
    assert acc > 0.8, f"nearest class mean on shape features scored only {acc:.3f}"


# --- load_course_data ---------------------------------------------------------------


def test_auto_uses_cifar10_when_it_is_there(cifar, capsys):
    data, source = load_course_data("auto", num_training=50, num_validation=10, num_test=10,
                                    cifar10_dir=cifar["root"])
    assert source == "cifar10"
    np.testing.assert_array_equal(data["y_train"], cifar["labels"][:50])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "CIFAR-10" in out and str(cifar["root"]) in out


def test_auto_falls_back_to_offline_and_says_why(tmp_path, monkeypatch, capsys, no_data_env):
    monkeypatch.setattr(data_utils, "DEFAULT_CIFAR10_DIR", tmp_path / "absent")
    data, source = load_course_data(num_training=30, num_validation=10, num_test=10)
    assert source == "offline"
    assert data["X_train"].shape == (30, 3, 32, 32) and data["X_train"].dtype == np.float32
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "offline" in out and "not found" in out and str(tmp_path / "absent") in out
    assert "get_datasets.sh" in out


def test_offline_source_matches_get_offline_data(capsys):
    data, source = load_course_data("offline", 40, 10, 10, seed=5)
    assert source == "offline"
    direct = get_offline_data(40, 10, 10, seed=5)
    for key in SPLIT_KEYS:
        np.testing.assert_array_equal(data[key], direct[key])


def test_cifar10_source_requires_the_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="get_datasets.sh"):
        load_course_data("cifar10", cifar10_dir=tmp_path / "absent")


def test_an_unknown_source_lists_the_choices():
    with pytest.raises(ValueError, match=r"'auto', 'cifar10', 'offline'.*'imagenet'"):
        load_course_data("imagenet")


def test_class_name_tuples():
    assert CIFAR10_CLASSES == ("plane", "car", "bird", "cat", "deer",
                               "dog", "frog", "horse", "ship", "truck")
