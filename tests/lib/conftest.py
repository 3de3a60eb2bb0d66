"""Shared fixtures for the library tests."""

import pytest

from cs231n_lib import fast_layers


def _compiled_available():
    try:
        import cs231n_lib._im2col  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(params=["cython", "numpy"])
def backend(request):
    """Run the test once per col2im backend, restoring the original afterwards."""
    if request.param == "cython" and not _compiled_available():
        pytest.skip("the compiled col2im is not built in this environment")
    previous = fast_layers.set_backend(request.param)
    yield request.param
    fast_layers.set_backend(previous)
