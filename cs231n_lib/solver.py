"""Solver: trains a model with minibatch gradient descent, the course's way.

A model is any object with

- ``model.params``: dict of name -> ndarray, updated in place by the Solver;
- ``model.loss(X, y=None)``: scores (N, num_classes) when ``y`` is None, else
  ``(loss, grads)`` with ``grads`` keyed like ``params``.

Beyond the course's keywords this Solver takes ``seed`` (its own random
generator: minibatches and subsamples are reproducible), ``progress`` (a
progress bar over iterations), and ``resume_from`` (a checkpoint written
by an earlier Solver). Checkpoints are an ``.npz`` of arrays plus a ``.json``
of everything else; nothing is pickled, so a checkpoint from elsewhere can be
loaded without running code.

Imports: NumPy, tqdm, ``cs231n_lib.optim``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cs231n_lib import optim

CHECKPOINT_FORMAT = 1

_DEFAULTS: dict[str, Any] = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "print_every": 10,
    "verbose": True,
    "seed": None,
    "progress": True,
    "resume_from": None,
}


class Solver:
    """Minibatch training of a classification model, with checkpoints.

    Parameters
    ----------
    model : object
        Has ``params`` (dict of ndarrays) and ``loss(X, y=None)``.
    data : dict
        ``X_train`` (N_train, ...), ``y_train`` (N_train,), ``X_val`` (N_val, ...),
        ``y_val`` (N_val,); labels are integers in [0, num_classes).
    update_rule : str or callable, default "sgd"
        A name in :data:`cs231n_lib.optim.UPDATE_RULES` ("sgd", "sgd_momentum",
        "rmsprop", "adam") or a function ``update(w, dw, config) -> (next_w, config)``.
    optim_config : dict, optional
        Hyperparameters given to the update rule for every parameter (e.g.
        ``{"learning_rate": 1e-3}``); each parameter keeps its own copy.
    lr_decay : float, default 1.0
        ``learning_rate`` is multiplied by this after every epoch.
    batch_size : int, default 100
    num_epochs : int, default 10
    num_train_samples : int or None, default 1000
        Training examples used to measure training accuracy at each epoch
        (None: all).
    num_val_samples : int or None, default None
        Validation examples used to measure validation accuracy (None: all).
    checkpoint_name : str, optional
        If given, ``{checkpoint_name}_epoch_{e}.npz`` and ``.json`` are written
        after every epoch.
    print_every : int, default 10
        Print the loss every this many iterations (when ``verbose``).
    verbose : bool, default True
    seed : int, optional
        Seed of the Solver's random generator (minibatches, subsamples).
    progress : bool, default True
        Show a progress bar over iterations.
    resume_from : str or Path, optional
        A checkpoint (its ``.json`` or ``.npz`` path) to continue from: the
        model's parameters, the optimiser state, the histories, the epoch and
        the random generator are restored, and :meth:`train` runs the
        remaining epochs.

    Attributes
    ----------
    loss_history : list of float
        The loss of every iteration.
    train_acc_history, val_acc_history : list of float
        Accuracies measured at the first iteration and at each epoch end.
    best_val_acc : float
    best_params : dict of ndarray
        Parameters with the best validation accuracy; ``train`` leaves them in
        ``model.params`` when it ends, as the course's Solver does.
    epoch : int
        Epochs completed.

    Raises
    ------
    ValueError
        For unknown keywords (all named), missing data keys, mismatched data
        lengths, or bad values.
    """

    def __init__(self, model: Any, data: Mapping[str, np.ndarray], **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(_DEFAULTS))
        if unknown:
            raise ValueError(
                f"Solver got unknown keyword(s) {unknown}; valid keywords are {sorted(_DEFAULTS)}"
            )
        opts = {**_DEFAULTS, **kwargs}
        self.model = model
        self._check_model(model)
        self.X_train, self.y_train, self.X_val, self.y_val = self._check_data(data)

        rule = opts["update_rule"]
        if isinstance(rule, str):
            self.update_rule_name = rule
            self.update_rule: Callable = optim.get_update_rule(rule)
        elif callable(rule):
            self.update_rule_name = getattr(rule, "__name__", "custom")
            self.update_rule = rule
        else:
            raise TypeError(f"update_rule must be a name or a function; got {type(rule).__name__}")
        if opts["optim_config"] is not None and not isinstance(opts["optim_config"], Mapping):
            raise TypeError(
                f"optim_config must be a dict; got {type(opts['optim_config']).__name__}"
            )
        self.optim_config = dict(opts["optim_config"] or {})
        self.lr_decay = float(opts["lr_decay"])
        self.batch_size = _positive_int("batch_size", opts["batch_size"])
        self.num_epochs = _positive_int("num_epochs", opts["num_epochs"], minimum=0)
        self.num_train_samples = _optional_count("num_train_samples", opts["num_train_samples"])
        self.num_val_samples = _optional_count("num_val_samples", opts["num_val_samples"])
        self.checkpoint_name = opts["checkpoint_name"]
        self.print_every = _positive_int("print_every", opts["print_every"])
        self.verbose = bool(opts["verbose"])
        self.progress = bool(opts["progress"])
        self.rng = np.random.default_rng(opts["seed"])

        self._reset()
        if opts["resume_from"] is not None:
            self._load_checkpoint(opts["resume_from"])

    # ------------------------------------------------------------------ checks

    @staticmethod
    def _check_model(model: Any) -> None:
        params = getattr(model, "params", None)
        if not isinstance(params, dict) or not callable(getattr(model, "loss", None)):
            raise TypeError(
                "model must have a dict `params` and a method `loss(X, y=None)`; "
                f"got {type(model).__name__}"
            )

    @staticmethod
    def _check_data(data: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        needed = ("X_train", "y_train", "X_val", "y_val")
        if not isinstance(data, Mapping):
            raise TypeError(
                f"data must be a dict with keys {list(needed)}; got {type(data).__name__}"
            )
        missing = [k for k in needed if k not in data]
        if missing:
            raise ValueError(f"data is missing key(s) {missing}; it needs {list(needed)}")
        arrays = [np.asarray(data[k]) for k in needed]
        for split, X, y in (("train", arrays[0], arrays[1]), ("val", arrays[2], arrays[3])):
            if y.ndim != 1 or X.shape[:1] != y.shape:
                raise ValueError(
                    f"data['X_{split}'] has {X.shape[0] if X.ndim else 0} examples but "
                    f"data['y_{split}'] has shape {y.shape}; expected ({X.shape[0]},)"
                )
            if y.dtype.kind not in "iu":
                raise TypeError(f"data['y_{split}'] must hold integer labels; got dtype {y.dtype}")
        if arrays[0].shape[0] == 0:
            raise ValueError("data['X_train'] is empty")
        return tuple(arrays)

    # ------------------------------------------------------------------ training

    def _reset(self) -> None:
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, np.ndarray] = {}
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self) -> None:
        """One minibatch: loss and gradients, then one update of every parameter."""
        idx = self.rng.choice(self.X_train.shape[0], self.batch_size)
        loss, grads = self.model.loss(self.X_train[idx], self.y_train[idx])
        self.loss_history.append(float(loss))
        for name, w in self.model.params.items():
            if name not in grads:
                raise KeyError(f"model.loss returned no gradient for parameter {name!r}")
            next_w, self.optim_configs[name] = self.update_rule(
                w, grads[name], self.optim_configs[name]
            )
            self.model.params[name] = next_w

    def check_accuracy(
        self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None, batch_size: int = 100
    ) -> float:
        """Fraction of examples whose highest score is the true label.

        Parameters
        ----------
        X : ndarray of shape (N, ...)
        y : ndarray of shape (N,)
        num_samples : int, optional
            Score only this many random examples (drawn with the Solver's generator).
        batch_size : int, default 100
            Examples scored at once, to bound memory.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            idx = self.rng.choice(N, num_samples, replace=False)
            X, y = X[idx], y[idx]
            N = num_samples
        preds = np.empty(N, dtype=np.int64)
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            preds[start : start + batch_size] = np.argmax(scores, axis=1)
        return float(np.mean(preds == y)) if N else 0.0

    def train(self) -> None:
        """Run the remaining epochs; leave the best validation parameters in the model."""
        num_train = self.X_train.shape[0]
        per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * per_epoch
        start = self.epoch * per_epoch
        bar = _progress_bar(num_iterations, start, enabled=self.progress)
        say = bar.write if bar is not None else print
        try:
            for t in range(start, num_iterations):
                self._step()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(
                        loss=f"{self.loss_history[-1]:.3f}", epoch=self.epoch + 1, refresh=False
                    )
                if self.verbose and t % self.print_every == 0:
                    say(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")
                epoch_end = (t + 1) % per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for config in self.optim_configs.values():
                        if "learning_rate" in config:
                            config["learning_rate"] *= self.lr_decay
                if t == 0 or t == num_iterations - 1 or epoch_end:
                    self._record_accuracy(say)
                if epoch_end:
                    self._save_checkpoint(say)
        finally:
            if bar is not None:
                bar.close()
        if self.best_params:
            self.model.params = {k: v.copy() for k, v in self.best_params.items()}

    def _record_accuracy(self, say: Callable[[str], None]) -> None:
        # Scoring in batches no larger than the training batch keeps the peak
        # memory of a run at that of a training step.
        batch = min(100, self.batch_size)
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, self.num_train_samples, batch_size=batch
        )
        val_acc = self.check_accuracy(
            self.X_val, self.y_val, self.num_val_samples, batch_size=batch
        )
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if self.verbose:
            say(
                f"(Epoch {self.epoch} / {self.num_epochs}) "
                f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
            )
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = max(val_acc, self.best_val_acc)
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_paths(self, epoch: int) -> tuple[Path, Path]:
        """The ``.npz`` and ``.json`` paths of the checkpoint written after ``epoch``."""
        stem = f"{self.checkpoint_name}_epoch_{epoch}"
        return Path(stem + ".npz"), Path(stem + ".json")

    def _save_checkpoint(self, say: Callable[[str], None] = print) -> None:
        if self.checkpoint_name is None:
            return
        arrays: dict[str, np.ndarray] = {}
        for name, w in self.model.params.items():
            arrays[f"param/{name}"] = w
        for name, w in self.best_params.items():
            arrays[f"best/{name}"] = w
        scalars: dict[str, dict[str, Any]] = {}
        for name, config in self.optim_configs.items():
            scalars[name] = {}
            for key, value in config.items():
                if isinstance(value, np.ndarray):
                    arrays[f"optim/{name}/{key}"] = value
                elif isinstance(value, (bool, int, float, np.integer, np.floating)):
                    scalars[name][key] = value.item() if isinstance(value, np.generic) else value
                else:
                    raise TypeError(
                        f"optim config value {name}/{key} of type {type(value).__name__} "
                        "cannot be checkpointed (only arrays and numbers can)"
                    )
        state = {
            "format": CHECKPOINT_FORMAT,
            "update_rule": self.update_rule_name,
            "epoch": self.epoch,
            "num_epochs": self.num_epochs,
            "batch_size": self.batch_size,
            "lr_decay": self.lr_decay,
            "best_val_acc": self.best_val_acc,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
            "optim_scalars": scalars,
            "param_names": list(self.model.params),
            "rng_state": self.rng.bit_generator.state,
        }
        npz_path, json_path = self.checkpoint_paths(self.epoch)
        # Write both under temporary names, then rename: a crash never leaves half a checkpoint.
        _atomic_write(npz_path, lambda f: np.savez(f, **arrays))
        _atomic_write(json_path, lambda f: f.write(json.dumps(state).encode()))
        if self.verbose:
            say(f"Saved checkpoint {json_path} (+ {npz_path.name})")

    def _load_checkpoint(self, path: str | os.PathLike) -> None:
        path = Path(path)
        stem = path.with_suffix("") if path.suffix in (".json", ".npz") else path
        json_path, npz_path = stem.with_suffix(".json"), stem.with_suffix(".npz")
        for p in (json_path, npz_path):
            if not p.is_file():
                raise FileNotFoundError(f"resume_from: checkpoint file {p} does not exist")
        state = json.loads(json_path.read_text())
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"resume_from: {json_path} is not a checkpoint of format {CHECKPOINT_FORMAT}"
            )
        if state["update_rule"] != self.update_rule_name:
            raise ValueError(
                f"resume_from: the checkpoint was trained with update_rule="
                f"{state['update_rule']!r}, this Solver has {self.update_rule_name!r}"
            )
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        params = self.model.params
        if sorted(state["param_names"]) != sorted(params):
            raise ValueError(
                f"resume_from: the checkpoint has parameters {sorted(state['param_names'])}, "
                f"the model has {sorted(params)}"
            )
        for name in params:
            saved = arrays[f"param/{name}"]
            if saved.shape != params[name].shape or saved.dtype != params[name].dtype:
                raise ValueError(
                    f"resume_from: parameter {name!r} is {saved.dtype} {saved.shape} in the "
                    f"checkpoint but {params[name].dtype} {params[name].shape} in the model"
                )
            params[name] = saved
        self.best_params = {n: arrays[f"best/{n}"] for n in params if f"best/{n}" in arrays}
        self.optim_configs = {}
        for name in params:
            config = dict(state["optim_scalars"][name])
            prefix = f"optim/{name}/"
            config.update({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
            self.optim_configs[name] = config
        self.epoch = int(state["epoch"])
        self.best_val_acc = float(state["best_val_acc"])
        self.loss_history = list(state["loss_history"])
        self.train_acc_history = list(state["train_acc_history"])
        self.val_acc_history = list(state["val_acc_history"])
        self.rng.bit_generator.state = state["rng_state"]
        if self.verbose:
            print(f"Resumed from {json_path} after epoch {self.epoch}")


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else _positive_int(name, value)


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    # A terminal or a notebook redraws the bar in place; a log file would get a
    # new copy on every redraw, so there it is redrawn rarely.
    live = sys.stdout.isatty() or "ipykernel" in sys.modules
    return tqdm(
        total=total,
        initial=initial,
        unit="it",
        file=sys.stdout,
        desc="training",
        dynamic_ncols=True,
        mininterval=0.5 if live else 15.0,
    )


def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)
