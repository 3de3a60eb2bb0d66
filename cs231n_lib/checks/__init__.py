"""Relative error, the one comparison rule, and the check helpers the notebooks call.

A check either prints a one-line report per compared array
(``name: relative error 3.2e-09 (threshold 1e-07) OK``) and returns None, or raises
``AssertionError`` whose message says what differs -- the shape, the dtype,
NaNs, or the worst element with both values -- and, when the wrong answer
is recognised as a common mistake, a ``Likely cause:`` line naming it.

The package is one comparison core and one module per topic:

- ``core``      the comparison rule shared with the grader (:func:`compare_value`,
  :class:`Verdict`), :class:`Hint` and :func:`find_cause`, :func:`check_close`;
- ``conv``      notebook 1: convolution forward and backward;
- ``pool``      notebook 2: max pooling forward and backward;
- ``convnet``   notebook 3: the ThreeLayerConvNet's parameters, losses and gradients;
- ``norm``      notebook 4: spatial batch norm and group norm;
- ``diagnose``  :func:`likely_cause` and :func:`case_kinds` for the grader's own inputs.

The diagnoses never contain a working version of a function the students
write. They compare a wrong answer with the library's provided fast layers
run on altered inputs (a flipped kernel, a zero bias, stride 1), or test a
property of it (which values it normalised together, where its gradient landed).

Imports: NumPy and the modules of this package; ``cs231n_lib.fast_layers``,
``cs231n_lib.layers`` and ``cs231n_lib.gradient_check`` inside the helpers
that need them. Nothing from ``autograder`` or ``assignments``.
"""

from cs231n_lib.checks.conv import check_conv_backward, check_conv_forward
from cs231n_lib.checks.convnet import (
    check_convnet_params,
    check_initial_loss,
    check_model_gradients,
    check_regularization_gradient,
    check_regularized_loss,
)
from cs231n_lib.checks.core import (
    Hint,
    Verdict,
    check_array,
    check_close,
    compare_outputs,
    compare_value,
    numeric_gradient,
    rel_error,
)
from cs231n_lib.checks.diagnose import TOPICS, case_kind, case_kinds, likely_cause
from cs231n_lib.checks.norm import (
    check_norm_backward,
    check_spatial_batchnorm_forward,
    check_spatial_batchnorm_test_mode,
    check_spatial_groupnorm_forward,
)
from cs231n_lib.checks.pool import check_max_pool_backward, check_max_pool_forward

__all__ = [
    "rel_error",
    "check_array",
    "check_close",
    "numeric_gradient",
    "compare_value",
    "compare_outputs",
    "Verdict",
    "Hint",
    "likely_cause",
    "case_kinds",
    "case_kind",
    "TOPICS",
    "check_conv_forward",
    "check_conv_backward",
    "check_max_pool_forward",
    "check_max_pool_backward",
    "check_spatial_batchnorm_forward",
    "check_spatial_batchnorm_test_mode",
    "check_spatial_groupnorm_forward",
    "check_norm_backward",
    "check_convnet_params",
    "check_initial_loss",
    "check_regularization_gradient",
    "check_regularized_loss",
    "check_model_gradients",
]
