"""Keep freed heap memory for reuse, so that repeated layer calls stop page-faulting.

NumPy takes every array from the C library's ``malloc``. glibc's ``malloc``
hands out fresh pages from the kernel for blocks above its *mmap threshold*,
and gives the free memory at the top of its heap back to the kernel once
that exceeds its *trim threshold*; both thresholds move at run time with the
sizes it has seen. A layer that allocates and frees a few megabytes on every
call can therefore fault in every page of them, zero-filled by the kernel, on
every call. Measured on the notebook's conv shape (x (100,3,31,31) float64):
~1,800 page faults per ``conv_forward_fast`` call and ~2,000 per backward
call, which made both 3-4x slower than with the thresholds fixed; whether it
happens depends on what the process allocated before.

:func:`keep_freed_memory` fixes the two thresholds: blocks up to 32 MiB (the
largest mmap threshold glibc accepts) come from the heap, and up to 1 GiB of
free heap is kept for the next allocation instead of being returned. The
peak memory of a run does not change; memory freed after the peak is kept by
the process rather than returned. :mod:`cs231n_lib.fast_layers` calls it at
import unless ``CS231N_KEEP_FREED_MEMORY=0``. Where the C library is not glibc
it does nothing.

Imports: the standard library only.
"""

from __future__ import annotations

import ctypes
import platform
import sys

# mallopt parameter numbers, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024  # glibc refuses more than HEAP_MAX_SIZE / 2 = 32 MiB
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Fix glibc's mmap and trim thresholds (see the module docstring); True if both took.

    False, changing nothing, on a C library other than glibc.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # Fixing either threshold stops glibc moving the other, so both are set.
    took_mmap = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    took_trim = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    return took_mmap and took_trim
