"""Does reading a solution reveal the usual ways of fooling in-notebook checks?"""

import pytest

from autograder.tamper import find_tamper_signs


@pytest.mark.parametrize(
    "code,phrase",
    [
        ("rel_error = lambda x, y: 0.0", "rebinds the check helper rel_error"),
        ("def check_conv_forward(*a):\n    pass", "redefines the check helper check_conv_forward"),
        ("np.allclose = lambda *a, **k: True", "assigns to np.allclose"),
        (
            "import cs231n_lib.checks\ncs231n_lib.checks.check_close = print",
            "assigns to cs231n_lib.checks.check_close",
        ),
        ("setattr(np, 'max', min)", "calls setattr on np"),
        ("class A(np.ndarray):\n    pass", "defines an ndarray subclass A"),
        ("class A:\n    def __eq__(self, o):\n        return True", "class A overrides __eq__"),
        (
            "import os\nx = os.environ.get('NBGRADER_EXECUTION')",
            "reads the environment (os.environ)",
        ),
        ("exec('x = 1')", "calls exec"),
    ],
)
def test_each_pattern_is_found(code, phrase):
    signs = find_tamper_signs("g", code)
    assert any(phrase in s.message for s in signs), [s.message for s in signs]


def test_honest_solution_has_no_signs():
    code = (
        "def conv_forward_naive(x, w, b, conv_param):\n"
        "    out = np.zeros((1,))\n"
        "    return out, (x, w, b, conv_param)\n"
        "class ThreeLayerConvNet:\n"
        "    def __init__(self):\n"
        "        self.params = {}\n"
    )
    assert find_tamper_signs("g", code) == []


def test_syntax_error_is_not_an_exception():
    assert find_tamper_signs("g", "def (:") == []
