"""tasks.mm.compat: MMEngine checkpoints (numpy + HistoryBuffer metadata) load weights-only."""

from __future__ import annotations

import pickle
import pickletools
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("mmengine")

from mmengine.model import BaseModel  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.runner.checkpoint import load_checkpoint  # noqa: E402

from tasks.mm import compat  # noqa: E402

pytestmark = pytest.mark.mm


class Toy(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode="tensor"):
        x = torch.stack(inputs) if isinstance(inputs, list) else inputs
        return {"loss": self.linear(x).pow(2).mean()}


def _runner_checkpoint(tmp_path) -> str:
    data = [dict(inputs=torch.randn(2)) for _ in range(4)]
    runner = Runner(
        model=Toy(),
        work_dir=str(tmp_path),
        experiment_name=f"compat-{tmp_path.name}",
        train_dataloader=dict(
            dataset=data,
            batch_size=2,
            sampler=dict(type="DefaultSampler", shuffle=False),
            collate_fn=dict(type="default_collate"),
        ),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=2),
        default_hooks=dict(checkpoint=None),
        log_level="WARNING",
    )
    runner.train()
    runner.message_hub.update_info("numpy_meta", np.float64(0.5))
    runner.save_checkpoint(str(tmp_path), "ck.pth", meta={"array": np.arange(3)})
    return str(tmp_path / "ck.pth")


def _pickled_globals(path: str) -> set[str]:
    """The module.name of every global a torch zip checkpoint's pickle refers to."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))
    names, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            names.add(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            names.add(".".join(strings[-2:]))
    return names


def test_runner_checkpoint_with_numpy_metadata_loads_weights_only(tmp_path) -> None:
    compat.install()
    path = _runner_checkpoint(tmp_path)
    held = _pickled_globals(path)  # what made plain weights-only loading fail
    assert {"numpy._core.multiarray._reconstruct", "mmengine.logging.history_buffer.HistoryBuffer"} <= held
    assert "__builtin__.getattr" in held or "builtins.getattr" in held
    model = Toy()
    checkpoint = load_checkpoint(model, path, map_location="cpu")  # torch.load's weights_only default
    assert np.array_equal(checkpoint["meta"]["array"], np.arange(3))
    history = checkpoint["message_hub"]["log_scalars"]["train/loss"]
    assert len(history.data[0]) == 2 and np.isfinite(history.mean())
    raw = torch.load(path, map_location="cpu", weights_only=True)
    torch.testing.assert_close(raw["state_dict"]["linear.weight"], model.linear.weight.detach())


class _Sneaky:
    """Pickles as getattr(np.ndarray, "tofile"): what a hostile checkpoint would try."""

    def __reduce__(self):
        return (getattr, (np.ndarray, "tofile"))


def test_getattr_stays_restricted(tmp_path) -> None:
    compat.install()
    torch.save({"x": _Sneaky()}, tmp_path / "bad.pth")
    with pytest.raises(pickle.UnpicklingError, match="refusing getattr"):
        torch.load(tmp_path / "bad.pth", weights_only=True)


def test_install_is_idempotent() -> None:
    compat.install()
    compat.install()
    assert compat._INSTALLED
