"""Build the optional compiled kernels (col2im and the rest of cs231n_lib._im2col).

Everything else about the package is declared in pyproject.toml. The
extension is optional by design: without a C compiler (or with a broken
one) the install still succeeds and ``cs231n_lib.fast_layers`` falls back to
its NumPy col2im, warning once at import with the fix.
"""

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NOTE = (
    "\n*** cs231n_lib: the compiled col2im kernel was NOT built ({}).\n"
    "*** The kit still works, using its slower NumPy col2im.\n"
    "*** To build it: install a C compiler (Debian/Ubuntu: apt-get install gcc python3-dev;\n"
    "*** macOS: xcode-select --install) and run `pip install -e .` again.\n"
)


class OptionalBuildExt(build_ext):
    """build_ext that reports a failed compile instead of failing the install."""

    def run(self):
        try:
            super().run()
        except Exception as err:  # noqa: BLE001 - any build failure must leave a usable install
            sys.stderr.write(NOTE.format(f"{type(err).__name__}: {err}"))

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001
            sys.stderr.write(NOTE.format(f"{type(err).__name__}: {err}"))


def extensions():
    try:
        from Cython.Build import cythonize
    except ImportError as err:
        sys.stderr.write(NOTE.format(f"Cython is not importable: {err}"))
        return []
    # -O3 vectorises the kernels' inner loops; -fno-math-errno lets it vectorise the Adam
    # loop's sqrt too (the argument is never negative, so errno has nothing to report).
    ext = Extension(
        "cs231n_lib._im2col",
        ["cs231n_lib/_im2col.pyx"],
        extra_compile_args=["-O3", "-fno-math-errno"],
    )
    return cythonize([ext], compiler_directives={"language_level": "3"}, quiet=True)


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
