"""Notebook 4: wrong and differently written spatial batch norm and group norm.

Imports: the corpus's constructors.
"""

from corpus import NB4, NB4_NAMES, mutant, variant

BN_FWD, BN_BWD = "spatial_batchnorm_forward", "spatial_batchnorm_backward"
GN_FWD, GN_BWD = "spatial_groupnorm_forward", "spatial_groupnorm_backward"
TRAIN, TEST, BN_BACK = (
    "test_spatial_batchnorm_train",
    "test_spatial_batchnorm_test_mode",
    "test_spatial_batchnorm_backward",
)
GN, GN_BACK = "test_spatial_groupnorm_forward", "test_spatial_groupnorm_backward"

TEST_STATS = "mean, var = running_mean, running_var"
STD = "std = np.sqrt(var + eps)"
MEAN, VAR = "mean = x.mean(axis=(0, 2, 3))", "var = x.var(axis=(0, 2, 3))"
RUNNING = (
    "running_mean = momentum * running_mean + (1 - momentum) * mean\n"
    "        running_var = momentum * running_var + (1 - momentum) * var"
)
STORE = '    bn_param["running_mean"] = running_mean\n    bn_param["running_var"] = running_var\n'
BN_LAST_TERM = (
    "\n          - x_hat * (dx_hat * x_hat).sum(axis=(0, 2, 3), keepdims=True)) / (m * std)"
)
GROUPS = "groups = x.reshape(N, G, -1)"
GN_XHAT = "x_hat = ((groups - mean) / std).reshape(N, C, H, W)"
GN_LAST_TERM = "\n          - x_hat * (dx_hat * x_hat).sum(axis=2, keepdims=True)) / (m * std)"

MUTANTS = [
    mutant(
        "bn_test_uses_batch_stats", NB4, BN_FWD, "batch statistics in test mode", (TEST,),
        (TEST_STATS, f"{MEAN.replace('mean = ', 'mean, var = ')}, {VAR[6:]}"),
    ),
    mutant(
        "bn_var_without_eps", NB4, BN_FWD, "variance without eps", (TRAIN, TEST),
        (STD, "std = np.sqrt(var)"),
    ),
    mutant(
        "bn_eps_outside_sqrt", NB4, BN_FWD, "eps outside the square root", (TRAIN, TEST),
        (STD, "std = (np.sqrt(var) + eps)"),
    ),
    mutant(
        "bn_eps_ignored", NB4, BN_FWD, "bn_param['eps'] ignored", (TRAIN, TEST),
        ('eps = bn_param.get("eps", 1e-5)', "eps = 1e-5"),
    ),
    mutant(
        "bn_momentum_swapped", NB4, BN_FWD, "momentum swapped", (TRAIN,),
        (RUNNING, RUNNING.replace("= momentum *", "= (1 - momentum) *").replace(
            "+ (1 - momentum) *", "+ momentum *")),
    ),
    mutant(
        "bn_default_momentum", NB4, BN_FWD, "wrong default momentum", (TRAIN,),
        ('bn_param.get("momentum", 0.9)', 'bn_param.get("momentum", 0.99)'),
    ),
    mutant(
        "bn_running_not_stored", NB4, BN_FWD, "running averages not stored", (TRAIN,),
        (STORE, ""),
    ),
    mutant(
        "bn_test_updates_running", NB4, BN_FWD, "test mode updates the averages", (TEST,),
        (TEST_STATS, TEST_STATS + "\n        running_mean = momentum * running_mean"
         " + (1 - momentum) * x.mean(axis=(0, 2, 3))"),
    ),
    mutant(
        "bn_reshape_without_transpose", NB4, BN_FWD, "wrong axes (reshape, no transpose)",
        (TRAIN,),
        (MEAN, "mean = x.reshape(-1, C).mean(axis=0)"), (VAR, "var = x.reshape(-1, C).var(axis=0)"),
    ),
    mutant(
        "bn_per_image_variance", NB4, BN_FWD, "wrong axes (per-image variance)", (TRAIN,),
        (VAR, "var = x.var(axis=(2, 3)).mean(axis=0)"),
    ),
    mutant(
        "bn_unbiased_variance", NB4, BN_FWD, "unbiased variance", (TRAIN,),
        (VAR, "var = x.var(axis=(0, 2, 3), ddof=1)"),
    ),
    mutant(
        "bn_bwd_count_n", NB4, BN_BWD, "wrong count (N for N*H*W)", (BN_BACK,),
        ("m = N * H * W", "m = N"),
    ),
    mutant(
        "bn_bwd_missing_term", NB4, BN_BWD, "dx missing a term", (BN_BACK,),
        (BN_LAST_TERM, ") / (m * std)"),
    ),
    mutant(
        "bn_bwd_mean_dbeta", NB4, BN_BWD, "mean for sum", (BN_BACK,),
        ("dbeta = dout.sum(axis=(0, 2, 3))", "dbeta = dout.mean(axis=(0, 2, 3))"),
    ),
    mutant(
        "gn_layer_norm", NB4, GN_FWD, "wrong axes (one group)", (GN,),
        (GROUPS, "groups = x.reshape(N, 1, -1)"),
    ),
    mutant(
        "gn_instance_norm", NB4, GN_FWD, "wrong axes (a group per channel)", (GN,),
        (GROUPS, "groups = x.reshape(N, C, -1)"),
    ),
    mutant(
        "gn_interleaved_groups", NB4, GN_FWD, "wrong axes (interleaved groups)", (GN,),
        (GROUPS, "groups = x.reshape(N, C // G, G, -1).transpose(0, 2, 1, 3).reshape(N, G, -1)"),
        (GN_XHAT, "x_hat = ((groups - mean) / std).reshape(N, G, C // G, -1)"
         ".transpose(0, 2, 1, 3).reshape(N, C, H, W)"),
    ),
    mutant(
        "gn_batch_statistics", NB4, GN_FWD, "wrong axes (across the batch)", (GN,),
        ("groups.mean(axis=2, keepdims=True)", "groups.mean(axis=(0, 2), keepdims=True)"),
        ("groups.var(axis=2, keepdims=True)", "groups.var(axis=(0, 2), keepdims=True)"),
    ),
    mutant(
        "gn_var_without_eps", NB4, GN_FWD, "variance without eps", (GN,),
        ("groups.var(axis=2, keepdims=True) + eps", "groups.var(axis=2, keepdims=True)"),
    ),
    mutant(
        "gn_squeezed_gamma", NB4, GN_FWD, "squeeze (C = 1)", (GN, GN_BACK),
        ("out = gamma * x_hat + beta",
         "out = gamma.squeeze()[:, None, None] * x_hat + beta.squeeze()[:, None, None]"),
    ),
    mutant(
        "gn_bwd_flat_dgamma", NB4, GN_BWD, "parameter gradients of the wrong shape", (GN_BACK,),
        ("dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)",
         "dgamma = (dout * x_hat).sum(axis=(0, 2, 3))"),
    ),
    mutant(
        "gn_bwd_count_hw", NB4, GN_BWD, "wrong count (H*W for C/G*H*W)", (GN_BACK,),
        ("m = x_hat.shape[2]", "m = H * W"),
    ),
    mutant(
        "gn_bwd_missing_term", NB4, GN_BWD, "dx missing a term", (GN_BACK,),
        (GN_LAST_TERM, ") / (m * std)"),
    ),
]

# --------------------------------------------------------------------------- variants

BN_LIBRARY_FWD = '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """The library's batchnorm_forward (by bare name) on one row per pixel."""
    N, C, H, W = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)  # (N*H*W, C)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    out = out.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, cache
'''

BN_LIBRARY_BWD = '''
def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
'''

BN_STAGED_FWD = '''
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """keepdims statistics; the cache keeps the inputs for a step-by-step backward pass."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    C = x.shape[1]
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    if mode == "train":
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = ((x - mu) ** 2).mean(axis=(0, 2, 3), keepdims=True)
        bn_param["running_mean"] = (momentum * bn_param.get("running_mean", np.zeros(C))
                                    + (1 - momentum) * mu.ravel())
        bn_param["running_var"] = (momentum * bn_param.get("running_var", np.zeros(C))
                                   + (1 - momentum) * var.ravel())
    else:
        mu = bn_param["running_mean"].reshape(1, C, 1, 1)
        var = bn_param["running_var"].reshape(1, C, 1, 1)
    inv = 1.0 / np.sqrt(var + eps)
    out = g * (x - mu) * inv + b
    return out, (x, mu, var, eps, g)
'''

BN_STAGED_BWD = '''
def spatial_batchnorm_backward(dout, cache):
    """The chain rule one step at a time, through the mean and the variance."""
    x, mu, var, eps, g = cache
    N, C, H, W = x.shape
    m = N * H * W
    axes = (0, 2, 3)
    xc = x - mu
    inv = 1.0 / np.sqrt(var + eps)
    x_hat = xc * inv
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    dx_hat = dout * g
    dvar = (dx_hat * xc).sum(axis=axes, keepdims=True) * -0.5 * inv ** 3
    dmu = -(dx_hat * inv).sum(axis=axes, keepdims=True) - 2.0 * dvar * xc.mean(
        axis=axes, keepdims=True)
    dx = dx_hat * inv + dvar * 2.0 * xc / m + dmu / m
    return dx, dgamma, dbeta
'''

GN_LOOP_FWD = '''
def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """One group of channels at a time."""
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    per = C // G
    x_hat = np.empty_like(x)
    inv = np.empty((N, G))
    for g in range(G):
        part = x[:, g * per:(g + 1) * per]  # (N, per, H, W)
        mu = part.mean(axis=(1, 2, 3), keepdims=True)
        var = part.var(axis=(1, 2, 3), keepdims=True)
        inv[:, g] = 1.0 / np.sqrt(var.ravel() + eps)
        x_hat[:, g * per:(g + 1) * per] = (part - mu) * inv[:, g].reshape(N, 1, 1, 1)
    out = gamma * x_hat + beta
    return out, {"x_hat": x_hat, "inv": inv, "gamma": gamma, "G": G}
'''

GN_LOOP_BWD = '''
def spatial_groupnorm_backward(dout, cache):
    x_hat, inv, gamma, G = cache["x_hat"], cache["inv"], cache["gamma"], cache["G"]
    N, C, H, W = dout.shape
    per = C // G
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3)).reshape(1, C, 1, 1)
    dbeta = np.sum(dout, axis=(0, 2, 3)).reshape(1, C, 1, 1)
    dx = np.empty_like(dout)
    for g in range(G):
        sl = slice(g * per, (g + 1) * per)
        d = (dout * gamma)[:, sl]
        xh = x_hat[:, sl]
        mean_d = d.mean(axis=(1, 2, 3), keepdims=True)
        mean_dx = (d * xh).mean(axis=(1, 2, 3), keepdims=True)
        dx[:, sl] = inv[:, g].reshape(N, 1, 1, 1) * (d - mean_d - xh * mean_dx)
    return dx, dgamma, dbeta
'''

VARIANTS = [
    variant("bn_library_bare_names", NB4, BN_FWD, "batchnorm_forward/backward by bare name",
            BN_LIBRARY_FWD, more=((BN_BWD, BN_LIBRARY_BWD),), depends=NB4_NAMES),
    variant("bn_staged_chain_rule", NB4, BN_FWD, "keepdims statistics, staged backward",
            BN_STAGED_FWD, more=((BN_BWD, BN_STAGED_BWD),)),
    variant("gn_group_loop", NB4, GN_FWD, "a loop over groups, a dict cache", GN_LOOP_FWD,
            more=((GN_BWD, GN_LOOP_BWD),)),
]

IMPLS = MUTANTS + VARIANTS
