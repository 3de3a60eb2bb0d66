"""Does get_datasets.sh fetch, verify and unpack CIFAR-10, and refuse a bad download?

The script runs for real, from a copy in a temporary directory, against a
small archive this module builds and serves through a file:// URL
(CIFAR10_URL and CIFAR10_MD5 point it there). The md5 the script is given
is computed here with hashlib.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from cs231n_lib import data_utils
from cs231n_lib.data_utils import load_CIFAR10

SCRIPT = Path(data_utils.__file__).resolve().parent / "datasets" / "get_datasets.sh"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]

pytestmark = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("curl") is None or shutil.which("tar") is None,
    reason="needs bash, curl and tar",
)


@pytest.fixture
def archive(tmp_path):
    """A cifar-10-python.tar.gz in the real layout, 8 images per batch; and its pixels."""
    rng = np.random.default_rng(0)
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    rows = {}
    for name in BATCHES:
        rows[name] = rng.integers(0, 256, size=(8, 3072), dtype=np.uint8)
        batch = {b"batch_label": name.encode(), b"labels": list(range(8)),
                 b"data": rows[name], b"filenames": [b"x.png"] * 8}
        with open(src / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
    (src / "batches.meta").write_bytes(pickle.dumps({b"label_names": []}, protocol=2))
    tarball = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()
    return tarball, md5, rows


@pytest.fixture
def datasets_dir(tmp_path):
    """A copy of cs231n_lib/datasets holding only the script, so the repo is untouched."""
    where = tmp_path / "repo" / "datasets"
    where.mkdir(parents=True)
    shutil.copy2(SCRIPT, where / SCRIPT.name)
    return where


def run(datasets_dir: Path, url: str, md5: str, path: str | None = None):
    env = {**os.environ, "CIFAR10_URL": url, "CIFAR10_MD5": md5}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [shutil.which("bash"), str(datasets_dir / SCRIPT.name)],
        env=env, capture_output=True, text=True, timeout=60, cwd=datasets_dir.parent,
    )


def test_the_script_is_an_executable_strict_bash_script_with_the_published_source():
    text = SCRIPT.read_text()
    assert os.access(SCRIPT, os.X_OK)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in text
    assert "c58f30108f718f92721af3b95e74349a" in text


def test_a_good_archive_is_verified_and_extracted_next_to_the_script(archive, datasets_dir):
    tarball, md5, rows = archive
    result = run(datasets_dir, tarball.as_uri(), md5)
    assert result.returncode == 0, result.stderr
    target = datasets_dir / "cifar-10-batches-py"
    assert sorted(p.name for p in target.iterdir()) == sorted([*BATCHES, "batches.meta"])
    assert not list(datasets_dir.glob("*.tar.gz*")), "the archive should be removed"
    assert "Checked md5" in result.stdout and str(target) in result.stdout
    # And the loader reads what came out of the archive.
    Xtr, _, Xte, _ = load_CIFAR10(target, dtype=np.uint8)
    np.testing.assert_array_equal(Xtr[:8].transpose(0, 3, 1, 2).reshape(8, -1),
                                  rows["data_batch_1"])
    np.testing.assert_array_equal(Xte.transpose(0, 3, 1, 2).reshape(8, -1), rows["test_batch"])


def test_a_second_run_downloads_nothing(archive, datasets_dir):
    tarball, md5, _ = archive
    assert run(datasets_dir, tarball.as_uri(), md5).returncode == 0
    # A URL that cannot be fetched proves no download is attempted.
    again = run(datasets_dir, (tarball.parent / "gone.tar.gz").as_uri(), md5)
    assert again.returncode == 0, again.stderr
    assert "already" in again.stdout


def test_a_wrong_md5_is_refused_and_the_file_deleted(archive, datasets_dir):
    tarball, md5, _ = archive
    wrong = "0" * 32
    result = run(datasets_dir, tarball.as_uri(), wrong)
    assert result.returncode != 0
    assert "md5 mismatch" in result.stderr and wrong in result.stderr and md5 in result.stderr
    assert sorted(p.name for p in datasets_dir.iterdir()) == [SCRIPT.name]


def test_a_failed_download_leaves_nothing_behind(tmp_path, datasets_dir):
    result = run(datasets_dir, (tmp_path / "missing.tar.gz").as_uri(), "0" * 32)
    assert result.returncode != 0
    assert sorted(p.name for p in datasets_dir.iterdir()) == [SCRIPT.name]


def test_without_md5sum_it_checks_with_python(archive, datasets_dir, tmp_path):
    tools = {name: shutil.which(name) for name in ("dirname", "curl", "mv", "rm", "tar", "gzip")}
    if None in tools.values():
        pytest.skip(f"missing tools: {[n for n, p in tools.items() if p is None]}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, target in tools.items():
        (bin_dir / name).symlink_to(target)
    (bin_dir / "python3").symlink_to(sys.executable)
    tarball, md5, _ = archive

    bad = run(datasets_dir, tarball.as_uri(), "f" * 32, path=str(bin_dir))
    assert bad.returncode != 0 and md5 in bad.stderr, bad.stderr
    good = run(datasets_dir, tarball.as_uri(), md5, path=str(bin_dir))
    assert good.returncode == 0, good.stderr
    assert (datasets_dir / "cifar-10-batches-py" / "test_batch").is_file()
