"""Notebook 3: wrong and differently written ThreeLayerConvNet.

Imports: the corpus's constructors.
"""

from corpus import NB3, NB3_NAMES, mutant, variant

NET = "ThreeLayerConvNet"
PARAMS, SCORES, INITIAL, REGULARIZED, GRADIENTS = (
    "test_convnet_params",
    "test_convnet_scores",
    "test_convnet_initial_loss",
    "test_convnet_regularized_loss",
    "test_convnet_gradients",
)
LOSSES = (SCORES, INITIAL, REGULARIZED, GRADIENTS)
WITH_REG = (REGULARIZED, GRADIENTS)

HIDDEN = "hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)"
SCORES_LINE = "scores, out_cache = affine_forward(hidden, W3, b3)"
REG_GRADS = (
    '        grads["W1"] += self.reg * W1\n'
    '        grads["W2"] += self.reg * W2\n'
    '        grads["W3"] += self.reg * W3\n'
)

MUTANTS = [
    mutant(
        "net_reg_without_half", NB3, NET, "regularisation without 0.5", WITH_REG,
        ("loss += 0.5 * self.reg *", "loss += self.reg *"),
    ),
    mutant(
        "net_reg_gradient_missing", NB3, NET, "regularisation gradient missing", WITH_REG,
        (REG_GRADS, ""),
    ),
    mutant(
        "net_squared_sum", NB3, NET, "np.sum(W)**2 for np.sum(W * W)", WITH_REG,
        ("np.sum(W3 * W3)", "np.sum(W3) ** 2"),
    ),
    mutant(
        "net_reg_biases", NB3, NET, "biases regularised", WITH_REG,
        ("np.sum(W3 * W3))", "np.sum(W3 * W3) + np.sum(b1 * b1) + np.sum(b2 * b2))"),
        (REG_GRADS, REG_GRADS + '        grads["b1"] += self.reg * b1\n'
         '        grads["b2"] += self.reg * b2\n'),
    ),
    mutant(
        "net_init_square_input", NB3, NET, "square input (H for W)", (PARAMS,),
        ("F * (H // 2) * (W // 2)", "F * (H // 2) * (H // 2)"),
    ),
    mutant(
        "net_loss_square_input", NB3, NET, "square input (H for W)", LOSSES,
        (HIDDEN, "N, F, H = X.shape[0], W1.shape[0], X.shape[2]\n"
         "        flat = pooled.reshape(N, F * (H // 2) * (H // 2))\n"
         "        hidden, hidden_cache = affine_relu_forward(flat, W2, b2)"),
    ),
    mutant(
        "net_weight_scale_ignored", NB3, NET, "weight scale ignored", (PARAMS,),
        ('self.params["W1"] = weight_scale *', 'self.params["W1"] = 1e-3 *'),
        ('self.params["W2"] = weight_scale *', 'self.params["W2"] = 1e-3 *'),
        ('self.params["W3"] = weight_scale *', 'self.params["W3"] = 1e-3 *'),
    ),
    mutant(
        "net_three_channels", NB3, NET, "hard-coded sizes (C = 3)", (PARAMS,),
        ("np.random.randn(F, C, filter_size", "np.random.randn(F, 3, filter_size"),
    ),
    mutant(
        "net_hidden_without_relu", NB3, NET, "missing relu", LOSSES,
        (HIDDEN, "hidden, hidden_cache = affine_forward(pooled, W2, b2)"),
        ("affine_relu_backward(dhidden, hidden_cache)", "affine_backward(dhidden, hidden_cache)"),
    ),
    mutant(
        "net_pad_one", NB3, NET, "hard-coded padding", LOSSES,
        ("conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)",
         'conv_relu_pool_forward(X, W1, b1, {"stride": 1, "pad": 1}, pool_param)'),
    ),
    mutant(
        "net_squeezed_scores", NB3, NET, "squeeze (N = 1)", LOSSES,
        (SCORES_LINE, SCORES_LINE + "\n        scores = scores.squeeze()"),
    ),
]

# --------------------------------------------------------------------------- variants

LAYER_BY_LAYER = '''
from cs231n_lib.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n_lib.layers import relu_backward, relu_forward


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, one layer at a time."""

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7,
                 hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float32):
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dim
        shapes = {
            "W1": (num_filters, C, filter_size, filter_size),
            "W2": (num_filters * (H // 2) * (W // 2), hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        for name, shape in shapes.items():
            self.params[name] = np.random.normal(0.0, weight_scale, size=shape)
            self.params["b" + name[1]] = np.zeros(shape[0] if name == "W1" else shape[1])
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        a1, c1 = conv_forward_fast(X, W1, b1, conv_param)
        r1, rc1 = relu_forward(a1)
        p1, pc1 = max_pool_forward_fast(r1, pool_param)
        flat = p1.reshape(p1.shape[0], -1)
        a2 = flat @ W2 + b2
        r2, rc2 = relu_forward(a2)
        scores = r2 @ W3 + b3
        if y is None:
            return scores

        y = np.asarray(y)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        N = X.shape[0]
        loss = -log_p[np.arange(N), y].mean()
        dscores = np.exp(log_p)
        dscores[np.arange(N), y] -= 1
        dscores /= N

        grads = {}
        for name in ("W1", "W2", "W3"):
            loss += 0.5 * self.reg * np.sum(self.params[name] ** 2)
        grads["W3"] = r2.T @ dscores
        grads["b3"] = dscores.sum(axis=0)
        da2 = relu_backward(dscores @ W3.T, rc2)
        grads["W2"] = flat.T @ da2
        grads["b2"] = da2.sum(axis=0)
        dp1 = (da2 @ W2.T).reshape(p1.shape)
        da1 = relu_backward(max_pool_backward_fast(dp1, pc1), rc1)
        _, grads["W1"], grads["b1"] = conv_backward_fast(da1, c1)
        for name in ("W1", "W2", "W3"):
            grads[name] = grads[name] + self.reg * self.params[name]
        return loss, grads
'''

BARE_RELU = '''
class ThreeLayerConvNet:
    """The sandwich layers of the course, with relu_forward and relu_backward by bare name."""

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7,
                 hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float32):
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dim
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size,
                                                           filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2),
                                                           hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X, y=None):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2, "need_dx": False}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        pooled, conv_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        a2, fc_cache = affine_forward(pooled, W2, b2)
        hidden, relu_cache = relu_forward(a2)
        scores, out_cache = affine_forward(hidden, W3, b3)
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(W * W) for W in (W1, W2, W3))
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, out_cache)
        da2 = relu_backward(dhidden, relu_cache)
        dpooled, grads["W2"], grads["b2"] = affine_backward(da2, fc_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, conv_cache)
        grads["W1"] += self.reg * W1
        grads["W2"] += self.reg * W2
        grads["W3"] += self.reg * W3
        return loss, grads
'''

VARIANTS = [
    variant("net_layer_by_layer", NB3, NET,
            "own imports of fast layers, own softmax", LAYER_BY_LAYER),
    variant("net_bare_relu", NB3, NET, "relu_forward/relu_backward by bare name", BARE_RELU,
            depends=NB3_NAMES),
]

IMPLS = MUTANTS + VARIANTS
