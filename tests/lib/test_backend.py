"""Which col2im runs, and what happens when the compiled one cannot be built?"""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def run_python(code, env_extra=None, cwd=None, pythonpath=None):
    """Run ``code`` in a new interpreter; with ``pythonpath``, only that path and site-packages.

    ``-S`` skips site hooks, so an editable install of the kit in this
    environment cannot shadow the copy under test.
    """
    env = {k: v for k, v in os.environ.items() if k != "CS231N_BACKEND"}
    env.update(env_extra or {})
    flags = ["-W", "default"]
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, sysconfig.get_paths()["purelib"]])
        flags.append("-S")
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO,
        timeout=120,
    )


def test_env_var_forces_numpy_without_warning():
    res = run_python(
        "import cs231n_lib.fast_layers as f; print(f.BACKEND)", {"CS231N_BACKEND": "numpy"}
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "numpy"
    assert "RuntimeWarning" not in res.stderr


def test_unknown_env_value_is_named():
    res = run_python("import cs231n_lib.fast_layers", {"CS231N_BACKEND": "fortran"})
    assert res.returncode != 0
    assert "CS231N_BACKEND='fortran' is not one of 'auto', 'cython', 'numpy'" in res.stderr


HIDE_COMPILED = (
    "import sys; sys.modules['cs231n_lib._im2col'] = None\n"  # makes the import fail
    "import cs231n_lib.fast_layers as f\n"
    "from cs231n_lib.fast_layers import conv_backward_fast\n"  # a second import must not warn again
    "print(f.BACKEND)\n"
)


def test_missing_kernel_falls_back_and_warns_once_with_the_fix():
    res = run_python(HIDE_COMPILED)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "numpy"
    assert res.stderr.count("RuntimeWarning") == 1, res.stderr
    assert "install a C compiler" in res.stderr
    assert "pip install -e ." in res.stderr


def test_forcing_cython_without_the_kernel_is_an_import_error():
    res = run_python(HIDE_COMPILED, {"CS231N_BACKEND": "cython"})
    assert res.returncode != 0
    assert (
        "ImportError: CS231N_BACKEND=cython, but cs231n_lib: the compiled col2im kernel"
        in res.stderr
    )


def test_set_backend_rejects_unknown_names():
    from cs231n_lib import fast_layers

    with pytest.raises(
        ValueError, match=r"backend must be one of \('cython', 'numpy'\); got 'gpu'"
    ):
        fast_layers.set_backend("gpu")


def test_compiled_kernel_refuses_integer_arrays():
    compiled = pytest.importorskip("cs231n_lib._im2col")
    cols = np.zeros((1, 2, 2, 1, 2, 2), dtype=np.int64)
    with pytest.raises(TypeError, match="cols must be float32 or float64; got dtype int64"):
        compiled.col2im_6d(cols, 3, 3, 0, 1)
    with pytest.raises(TypeError, match="x must be float32 or float64; got dtype int64"):
        compiled.im2col_6d(np.zeros((1, 1, 3, 3), dtype=np.int64), 2, 2, 0, 1)
    with pytest.raises(ValueError, match="bad window 5x2, pad 0, stride 1"):
        compiled.im2col_6d(np.zeros((1, 1, 3, 3)), 5, 2, 0, 1)
    with pytest.raises(ValueError, match="do not fit H=2"):
        compiled.col2im_6d(cols.astype(np.float64), 2, 2, 0, 1)
    with pytest.raises(TypeError, match="x must be float32 or float64; got dtype int32"):
        compiled.max_pool_argmax(np.zeros((1, 1, 4, 4), dtype=np.int32), 2, 2, 2)
    with pytest.raises(ValueError, match="bad window 5x2 stride 1"):
        compiled.max_pool_argmax(np.zeros((1, 1, 4, 4)), 5, 2, 1)


def test_compiled_pool_scatter_refuses_what_would_write_out_of_bounds():
    # The kernel writes where argmax points, without bounds checks: the wrapper must refuse
    # an index past the window and windows that do not fit x_shape.
    compiled = pytest.importorskip("cs231n_lib._im2col")
    dout = np.ones((1, 1, 2, 2))
    argmax = np.zeros((1, 1, 2, 2), dtype=np.uint8)
    np.testing.assert_array_equal(
        compiled.max_pool_scatter(dout, argmax, (1, 1, 4, 4), 2, 2, 2)[0, 0],
        [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]],
    )
    with pytest.raises(ValueError, match=r"argmax has an index >= ph \* pw = 4"):
        compiled.max_pool_scatter(dout, argmax + 4, (1, 1, 4, 4), 2, 2, 2)
    with pytest.raises(ValueError, match=r"do not fit x_shape \(1, 1, 3, 4\)"):
        compiled.max_pool_scatter(dout, argmax, (1, 1, 3, 4), 2, 2, 2)
    with pytest.raises(ValueError, match="do not fit"):
        compiled.max_pool_scatter(dout, argmax, (1, 2, 4, 4), 2, 2, 2)


@pytest.mark.slow
def test_install_without_a_compiler_succeeds_and_selects_numpy(tmp_path):
    """`CC=false pip install .` must succeed; the installed kit then runs on the NumPy col2im."""
    src = tmp_path / "src"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True
    )
    if listed.returncode != 0:
        pytest.skip("needs the git checkout to copy the sources")
    for rel in listed.stdout.splitlines():
        path = REPO / rel
        if path.is_file() and not rel.endswith((".so", "_im2col.c")):
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / rel)
    target = tmp_path / "site"
    env = dict(os.environ, CC="false", PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-build-isolation",
            "--no-deps",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert not list((target / "cs231n_lib").glob("_im2col*.so")), (
        "nothing should have been compiled"
    )
    res = run_python(
        "import numpy as np, cs231n_lib.fast_layers as f\n"
        "x = np.ones((1, 1, 4, 4)); w = np.ones((1, 1, 3, 3))\n"
        "out, cache = f.conv_forward_fast(x, w, np.zeros(1), {'stride': 1, 'pad': 1})\n"
        "dx = f.conv_backward_fast(np.ones_like(out), cache)[0]\n"
        "print(f.BACKEND, dx[0, 0, 0, 0], f.__file__)",
        cwd=tmp_path,
        pythonpath=str(target),
    )
    assert res.returncode == 0, res.stderr
    backend, corner, module_file = res.stdout.split()
    assert module_file.startswith(str(target)), f"imported {module_file}, not the fresh install"
    assert (backend, corner) == ("numpy", "4.0")  # a corner pixel is in 4 of the 3x3 windows
    assert "install a C compiler" in res.stderr
