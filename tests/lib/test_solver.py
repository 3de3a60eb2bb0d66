"""Does the Solver train, keep the course's keywords, and resume exactly from a checkpoint?"""

import json
import zipfile

import numpy as np
import pytest

from cs231n_lib.data_utils import get_offline_data
from cs231n_lib.solver import Solver
from cs231n_lib.tour import TourNet


class SoftmaxRegression:
    """A linear classifier written out here, so the mechanics tests depend on no layer."""

    def __init__(self, dim, num_classes, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {
            "W": 0.01 * rng.standard_normal((dim, num_classes)),
            "b": np.zeros(num_classes),
        }

    def loss(self, X, y=None):
        X = X.reshape(X.shape[0], -1)
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(len(y)), y]))
        dscores = probs
        dscores[np.arange(len(y)), y] -= 1
        dscores /= len(y)
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def blobs(n=200, dim=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = 3 * rng.standard_normal((classes, dim))
    y = rng.integers(0, classes, n)
    X = centers[y] + rng.standard_normal((n, dim))
    return {
        "X_train": X[: n // 2],
        "y_train": y[: n // 2],
        "X_val": X[n // 2 :],
        "y_val": y[n // 2 :],
    }


def quiet(**kwargs):
    return {"verbose": False, "progress": False, **kwargs}


def test_solver_learns_separable_blobs():
    data = blobs()
    model = SoftmaxRegression(6, 3)
    solver = Solver(
        model,
        data,
        **quiet(
            update_rule="sgd",
            optim_config={"learning_rate": 0.5},
            batch_size=20,
            num_epochs=5,
            seed=0,
        ),
    )
    solver.train()
    assert solver.loss_history[-1] < solver.loss_history[0] / 2
    assert solver.best_val_acc >= 0.9
    # The course's history lengths: one accuracy at the first iteration, then one per epoch.
    assert len(solver.loss_history) == 5 * (100 // 20)
    assert len(solver.val_acc_history) == 1 + 5


def test_sgd_step_is_w_minus_lr_times_grad():
    data = blobs()
    model = SoftmaxRegression(6, 3)
    solver = Solver(
        model, data, **quiet(optim_config={"learning_rate": 0.1}, batch_size=10, seed=3)
    )
    w0 = model.params["W"].copy()
    idx = np.random.default_rng(3).choice(100, 10)  # the draw the Solver's generator makes
    _, grads = model.loss(data["X_train"][idx], data["y_train"][idx])
    solver._step()
    np.testing.assert_allclose(model.params["W"], w0 - 0.1 * grads["W"], rtol=1e-12)


def test_lr_decay_applies_once_per_epoch():
    solver = Solver(
        SoftmaxRegression(6, 3),
        blobs(),
        **quiet(
            update_rule="sgd_momentum",
            optim_config={"learning_rate": 1e-2},
            lr_decay=0.5,
            batch_size=50,
            num_epochs=3,
            seed=0,
        ),
    )
    solver.train()
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(1e-2 * 0.5**3)


def test_unknown_keywords_are_named():
    with pytest.raises(ValueError, match=r"unknown keyword\(s\) \['learning_rate', 'numepochs'\]"):
        Solver(SoftmaxRegression(6, 3), blobs(), numepochs=3, learning_rate=1)


def test_unknown_update_rule_is_named():
    with pytest.raises(ValueError, match="nesterov"):
        Solver(SoftmaxRegression(6, 3), blobs(), update_rule="nesterov")


@pytest.mark.parametrize(
    "data,error,message",
    [
        (
            {"X_train": np.zeros((4, 2)), "y_train": np.zeros(4, int)},
            ValueError,
            r"data is missing key\(s\) \['X_val', 'y_val'\]",
        ),
        (
            {**blobs(), "y_train": np.zeros(7, int)},
            ValueError,
            r"data\['X_train'\] has 100 examples but data\['y_train'\] has shape \(7,\)",
        ),
        (
            {**blobs(), "y_val": np.zeros(100)},
            TypeError,
            r"data\['y_val'\] must hold integer labels",
        ),
    ],
)
def test_bad_data_is_named(data, error, message):
    with pytest.raises(error, match=message):
        Solver(SoftmaxRegression(6, 3), data)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1; got 0"):
        Solver(SoftmaxRegression(6, 3), blobs(), batch_size=0)


def test_model_without_loss_is_refused():
    with pytest.raises(TypeError, match="model must have a dict `params`"):
        Solver(object(), blobs())


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_resume_from_checkpoint_continues_exactly(tmp_path, rule):
    """Two epochs in one go == one epoch, a checkpoint, and a new Solver resuming for the second."""
    data = blobs()
    opts = quiet(
        update_rule=rule,
        optim_config={"learning_rate": 1e-2},
        lr_decay=0.9,
        batch_size=10,
        num_epochs=2,
        num_train_samples=30,
        seed=5,
    )
    straight = Solver(SoftmaxRegression(6, 3), data, **opts, checkpoint_name=str(tmp_path / "a"))
    straight.train()

    first = Solver(
        SoftmaxRegression(6, 3),
        data,
        **{**opts, "num_epochs": 1},
        checkpoint_name=str(tmp_path / "b"),
    )
    first.train()
    resumed_model = SoftmaxRegression(
        6, 3, seed=99
    )  # different init: everything must come from disk
    resumed = Solver(resumed_model, data, **opts, resume_from=tmp_path / "b_epoch_1.json")
    assert resumed.epoch == 1
    resumed.train()

    for name in ("W", "b"):
        np.testing.assert_array_equal(resumed_model.params[name], straight.model.params[name])
    assert resumed.loss_history == straight.loss_history
    assert resumed.val_acc_history == straight.val_acc_history
    assert resumed.train_acc_history == straight.train_acc_history


def test_checkpoint_is_npz_and_json_without_pickles(tmp_path):
    solver = Solver(
        SoftmaxRegression(6, 3),
        blobs(),
        **quiet(
            update_rule="adam", batch_size=50, num_epochs=1, checkpoint_name=str(tmp_path / "ck")
        ),
    )
    solver.train()
    state = json.loads((tmp_path / "ck_epoch_1.json").read_text())
    assert state["epoch"] == 1 and state["update_rule"] == "adam"
    with np.load(tmp_path / "ck_epoch_1.npz", allow_pickle=False) as npz:
        assert {"param/W", "optim/W/m", "optim/W/v", "best/W"} <= set(npz.files)
        assert npz["optim/W/m"].dtype == np.float64
    with zipfile.ZipFile(tmp_path / "ck_epoch_1.npz") as zf:
        for name in zf.namelist():
            assert zf.read(name)[:6] == b"\x93NUMPY"  # plain .npy members, no object arrays
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_rejects_another_model_or_rule(tmp_path):
    data = blobs()
    Solver(
        SoftmaxRegression(6, 3),
        data,
        **quiet(batch_size=50, num_epochs=1, checkpoint_name=str(tmp_path / "c")),
    ).train()
    with pytest.raises(
        ValueError,
        match=r"parameter 'W' is float64 \(6, 3\) in the checkpoint but float64 \(6, 4\)",
    ):
        Solver(SoftmaxRegression(6, 4), data, resume_from=tmp_path / "c_epoch_1.npz")
    with pytest.raises(ValueError, match="trained with update_rule='sgd', this Solver has 'adam'"):
        Solver(
            SoftmaxRegression(6, 3), data, update_rule="adam", resume_from=tmp_path / "c_epoch_1"
        )
    with pytest.raises(FileNotFoundError, match="c_epoch_7.json does not exist"):
        Solver(SoftmaxRegression(6, 3), data, resume_from=tmp_path / "c_epoch_7.json")


def test_progress_bar_and_messages(capsys):
    solver = Solver(
        SoftmaxRegression(6, 3),
        blobs(),
        batch_size=10,
        num_epochs=1,
        print_every=5,
        progress=True,
        verbose=True,
        seed=0,
    )
    solver.train()
    out = capsys.readouterr().out
    assert "training: 100%" in out and "10/10" in out
    assert "(Iteration 1 / 10) loss:" in out
    assert "(Epoch 1 / 1) train acc:" in out


def test_overfits_50_examples_with_a_small_conv_net():
    """The issue's bar: train accuracy >= 0.9 on 50 examples.

    With these settings 9 runs (3 data seeds x 3 model seeds) ended at 0.90-1.00
    after 20 epochs; the test runs 25.
    """
    data = get_offline_data(num_training=50, num_validation=50, num_test=0, seed=1)
    model = TourNet(num_filters=32, pool=4, weight_scale=0.05, seed=0)
    solver = Solver(
        model,
        data,
        **quiet(
            update_rule="adam",
            optim_config={"learning_rate": 2e-3},
            batch_size=25,
            num_epochs=25,
            seed=0,
        ),
    )
    solver.train()
    assert solver.train_acc_history[-1] >= 0.9, solver.train_acc_history


def test_small_conv_net_beats_chance_on_offline_data_in_one_short_epoch():
    """The offline dataset is learnable: one short epoch lifts validation accuracy far above 10%."""
    data = get_offline_data(num_training=2000, num_validation=500, num_test=0, seed=0)
    solver = Solver(
        TourNet(seed=0),
        data,
        **quiet(
            update_rule="adam",
            optim_config={"learning_rate": 2e-3},
            batch_size=50,
            num_epochs=1,
            seed=0,
        ),
    )
    solver.train()
    assert solver.val_acc_history[-1] >= 0.3, solver.val_acc_history
