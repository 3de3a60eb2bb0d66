"""cs231n_lib: the library provided with the convolutional-networks assignment.

Modules (import the one you need; nothing heavy happens at package import):

- ``layers``        affine, relu, softmax/SVM losses, batch norm: ``(out, cache)`` contracts
- ``fast_layers``   conv and pool fast paths (im2col + GEMM, compiled col2im)
- ``layer_utils``   sandwich layers built from the two above
- ``optim``         sgd, sgd_momentum, rmsprop, adam: ``update(w, dw, config)``
- ``solver``        ``Solver(model, data, **kwargs)``
- ``gradient_check`` numeric gradients
- ``data_utils``    CIFAR-10 loader and the offline stand-in dataset
- ``vis_utils``     filter grids and training curves
- ``checks``        ``rel_error`` and the notebook's check helpers

This package imports nothing from ``autograder`` or ``assignments``.
"""

__version__ = "0.1.0"
