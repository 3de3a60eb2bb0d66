"""Plain loop twins of the fast layers, written for clarity, not speed.

Each loops over every output element in float64 and is the independent
reference the fast paths are compared against.
"""

import numpy as np


def conv_forward_loops(x, w, b, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, pad : pad + H, pad : pad + W] = x
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = xp[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    out[n, f, i, j] = np.sum(patch * w[f]) + b[f]
    return out


def im2col_loops(x, HH, WW, pad, stride):
    """``cols[n, c, i, j, ho, wo]`` by its definition: the input pixel under window
    offset (i, j) of output position (ho, wo), or 0 where that pixel is padding."""
    N, C, H, W = x.shape
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    cols = np.zeros((N, C, HH, WW, Ho, Wo))
    for n, c, i, j, ho, wo in np.ndindex(cols.shape):
        row, col = ho * stride + i - pad, wo * stride + j - pad
        if 0 <= row < H and 0 <= col < W:
            cols[n, c, i, j, ho, wo] = x[n, c, row, col]
    return cols


def conv_backward_loops(dout, x, w, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    xp[:, :, pad : pad + H, pad : pad + W] = x
    dxp = np.zeros_like(xp)
    dw = np.zeros(w.shape)
    db = np.zeros(F)
    _, _, Ho, Wo = dout.shape
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    g = dout[n, f, i, j]
                    rows = slice(i * stride, i * stride + HH)
                    cols = slice(j * stride, j * stride + WW)
                    dw[f] += g * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += g * w[f]
                    db[f] += g
    return dxp[:, :, pad : pad + H, pad : pad + W], dw, db


def pool_windows(x, ph, pw, stride):
    """Yield (n, c, i, j, window) for every pooling window."""
    N, C, H, W = x.shape
    Ho = 1 + (H - ph) // stride
    Wo = 1 + (W - pw) // stride
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    yield (
                        n,
                        c,
                        i,
                        j,
                        x[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw],
                    )


def max_pool_forward_loops(x, ph, pw, stride):
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride))
    for n, c, i, j, win in pool_windows(x, ph, pw, stride):
        out[n, c, i, j] = win.max()
    return out


def max_pool_backward_loops(dout, x, ph, pw, stride):
    dx = np.zeros(x.shape)
    for n, c, i, j, win in pool_windows(x, ph, pw, stride):
        a, b = np.unravel_index(np.argmax(win), win.shape)  # first maximum
        dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def avg_pool_forward_loops(x, ph, pw, stride):
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride))
    for n, c, i, j, win in pool_windows(x, ph, pw, stride):
        out[n, c, i, j] = win.mean()
    return out


def avg_pool_backward_loops(dout, x, ph, pw, stride):
    dx = np.zeros(x.shape)
    for n, c, i, j, _ in pool_windows(x, ph, pw, stride):
        dx[n, c, i * stride : i * stride + ph, j * stride : j * stride + pw] += dout[n, c, i, j] / (
            ph * pw
        )
    return dx
