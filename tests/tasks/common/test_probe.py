from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.preprocessing import StandardScaler
from support.planted import small_cfg

from tasks.common.probe import EarlyStopping, fit_linear, objective, predict, standardisation


def test_early_stopping_keeps_the_best_state():
    model = torch.nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    losses = [3.0, 2.0, 2.5, 1.9, 2.0, 2.1]
    stops = []
    for epoch, loss in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(epoch)
        stops.append(stopper.step(epoch, loss, model))
    assert stops == [False, False, False, False, False, True]
    assert stopper.best_epoch == 3 and stopper.state["weight"].item() == 3.0


def test_probe_stops_early_on_noise_labels():
    g = torch.Generator().manual_seed(0)
    x, vx = torch.randn(64, 32, generator=g), torch.randn(64, 32, generator=g)
    y, vy = (torch.rand(64, generator=g) > 0.5).float(), (torch.rand(64, generator=g) > 0.5).float()
    cfg = small_cfg(**{"eval.probe_epochs": "300", "eval.probe_patience": "5", "eval.probe_lr": "0.05"})
    fit = fit_linear((x, y), (vx, vy), 1, "binary", cfg, seed=0)
    assert fit.epochs < 300  # memorising noise raises the validation loss: training stops
    assert fit.epochs == fit.best_epoch + 1 + 5
    # the returned weights are the best epoch's: their val loss is the best one recorded
    loss = objective("binary").loss()(fit.model(vx), vy[:, None]).item()
    assert loss == pytest.approx(fit.best_val_loss, rel=1e-5)


def test_probe_learns_a_separable_multiclass_problem():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(90) % 3
    x = torch.nn.functional.one_hot(y, 3).float() * 5 + 0.1 * torch.randn(90, 3, generator=g)
    fit = fit_linear((x, y), (x, y), 3, "multiclass", small_cfg(), seed=0)
    probs = predict(fit.model, [x], "multiclass", "cpu")
    assert torch.allclose(probs.sum(1), torch.ones(90), atol=1e-5)
    assert (probs.argmax(1) == y).all()


def test_probe_is_deterministic_for_a_seed():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(40, 5, generator=g), (torch.rand(40, 2, generator=g) > 0.5).float()
    cfg = small_cfg(**{"eval.probe_epochs": "20", "eval.probe_batch_size": "8"})
    a = fit_linear((x, y), (x, y), 2, "multilabel", cfg, seed=5).model.linear.weight
    b = fit_linear((x, y), (x, y), 2, "multilabel", cfg, seed=5).model.linear.weight
    c = fit_linear((x, y), (x, y), 2, "multilabel", cfg, seed=6).model.linear.weight
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_unknown_label_kind_is_named():
    with pytest.raises(ValueError, match="regression"):
        objective("regression")


def _dead_features(n: int, seed: int) -> torch.Tensor:
    """Random columns plus columns constant on this set: 0 (a dead ReLU), 0.1 and 1000.1 (float32
    rounding leaves a tiny non-zero std), each constant at another value on other sets."""
    g = torch.Generator().manual_seed(seed)
    live = torch.randn(n, 4, generator=g) * torch.tensor([1.0, 3.0, 0.01, 50.0])
    dead = torch.tensor([0.0, 0.1, 1000.1]) * (1 + seed)
    return torch.cat([live, dead.expand(n, 3)], dim=1).float()


def test_standardisation_is_sklearns_standard_scaler_with_scale_one_for_constant_features():
    x, other = _dead_features(64, 0), _dead_features(32, 1)
    scaler = StandardScaler().fit(x.double().numpy())
    mean, scale = standardisation(x)
    assert np.allclose(mean.numpy(), scaler.mean_, rtol=1e-6)
    assert np.allclose(scale.numpy(), scaler.scale_, rtol=1e-6)
    assert scale[4:].tolist() == [1.0, 1.0, 1.0]  # the clamp to 1e-6 made these ~1e6 z-scores
    z = ((other - mean) / scale).double().numpy()
    assert np.allclose(z, scaler.transform(other.double().numpy()), rtol=1e-5, atol=1e-4)


def test_probe_on_features_dead_in_training_stays_bounded_on_test():
    x, vx, tx = _dead_features(64, 0), _dead_features(64, 0), _dead_features(64, 2)
    g = torch.Generator().manual_seed(3)
    y = (x[:, 0] + 0.3 * torch.randn(64, generator=g) > 0).float()
    cfg = small_cfg(**{"eval.probe_epochs": "30"})
    fit = fit_linear((x, y), (vx, y), 1, "binary", cfg, seed=0)
    assert fit.model.std[4:].tolist() == [1.0, 1.0, 1.0]
    z = (tx - fit.model.mean) / fit.model.std
    assert z[:, 4:].abs().max() <= 2 * 1000.1 * 1.001  # the raw difference, not divided by ~0
    scores = predict(fit.model, [tx], "binary", "cpu")
    assert torch.isfinite(scores).all()
