from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from bench.report import attention
from bench.report.build import DISPLAY, Model, attention_section
from methods.gloria.local import sentence_attention

GRID, HOT = (4, 4), (1, 2)


class OnePatch(nn.Module):
    """A planted method: every sentence puts all its attention on patch HOT of a 4x4 grid."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def tokenize(self, reports):
        return {"n_sentences": torch.tensor([len(r) for r in reports])}

    def local_attention(self, images, text):
        n = text["n_sentences"]
        maps = torch.zeros(images.shape[0], int(n.max()), *GRID)
        maps[:, :, HOT[0], HOT[1]] = 1.0
        return maps, torch.arange(int(n.max()))[None] < n[:, None]


class Cfg:
    class model:
        image_size = 32

    class data:
        mean, std = 0.5, 0.25


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.argwhere(np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 0)


def test_heat_blocks_follow_the_patches():
    grid = np.arange(12, dtype=float).reshape(3, 4)
    up = attention.heat(grid, 30, 40)
    assert up.shape == (30, 40) and up.min() == 0.0 and up.max() == 1.0
    assert (up[:10, :10] == 0).all() and (up[20:, 30:] == 1).all()
    assert np.allclose(up[10:20, 20:30], 6 / 11)
    assert (attention.heat(np.ones((2, 2)), 8, 8) == 0).all()  # a flat map colours nothing


def test_one_patch_map_lands_on_that_patch():
    grey = np.linspace(0, 1, 128 * 96, dtype=np.float32).reshape(128, 96)
    grid = np.zeros(GRID)
    grid[HOT] = 1.0
    bare, hot = attention.panel(grey, None, []), attention.panel(grey, grid, [])
    where = _changed(bare, hot)
    assert len(where) == 32 * 24  # every pixel of the patch, none elsewhere
    assert where[:, 0].min() == 32 and where[:, 0].max() == 63
    assert where[:, 1].min() == 48 and where[:, 1].max() == 71


def test_boxes_are_drawn_where_the_manifest_says():
    grey = np.zeros((64, 64), dtype=np.float32)
    rgb = attention.panel(grey, None, [("effusion", (10, 20, 30, 40))])
    green = np.argwhere((rgb[..., 1] == 255) & (rgb[..., 0] == 0))
    assert green[:, 1].min() == 10 and green[:, 1].max() == 29
    assert green[:, 0].min() == 20 and green[:, 0].max() == 39


@pytest.mark.slow
def test_planted_model_on_synthcxr_lands_on_its_patch(synth_dir, tmp_path):
    studies, source = attention.load_studies(synth_dir, Cfg, 2)
    assert len(studies) == 2 and all(s.boxes for s in studies)  # findings with drawn regions first
    again, _ = attention.load_studies(synth_dir, Cfg, 2)
    assert [s.key for s in again] == [s.key for s in studies]  # chosen deterministically
    assert len({s.record.study for s in studies}) == 2  # one image per study
    html = attention_section([Model("planted", OnePatch(), Cfg)], studies, source, tmp_path)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    truth = np.asarray(Image.open(tmp_path / "img" / "attention-0-truth.png").convert("RGB"))
    hot = np.asarray(Image.open(tmp_path / "img" / "attention-0-planted-0.png").convert("RGB"))
    assert truth.shape[:2] == (DISPLAY, DISPLAY)
    where = _changed(truth, hot)
    cell = DISPLAY // 4
    assert len(where) > 0.9 * cell * cell
    assert where[:, 0].min() >= HOT[0] * cell and where[:, 0].max() < (HOT[0] + 1) * cell
    assert where[:, 1].min() >= HOT[1] * cell and where[:, 1].max() < (HOT[1] + 1) * cell


def _official_attention(regions, words, temp1):
    """GLoRIA's ``attention_fn`` for one image and one caption: [words, regions]."""
    attn = regions @ words.t()  # [R, W]
    attn = torch.softmax(attn, dim=1)  # over words
    return torch.softmax(attn.t() * temp1, dim=1)  # [W, R], over regions


def test_gloria_sentence_attention_is_the_word_attention_averaged_per_sentence():
    torch.manual_seed(0)
    b, r, d = 2, 6, 8
    # report 0: words w0 w1 | w2 (two sentences); report 1: w0 w1 w2 w3 (one sentence)
    word_ids = torch.tensor([[-1, 0, 1, 1, 2, -1, -1], [-1, 0, 1, 2, 3, -1, -1]])
    sentence_ids = torch.tensor([[-1, 0, 0, 0, 1, -1, -1], [-1, 0, 0, 0, 0, -1, -1]])
    n_words = torch.tensor([3, 4])
    width = 6  # [CLS], up to 4 words, [SEP]
    words = torch.randn(b, width, d)
    mask = (torch.arange(width)[None] >= 1) & (torch.arange(width)[None] <= n_words[:, None])
    regions = torch.randn(b, r, d)
    text = {"word_ids": word_ids, "sentence_ids": sentence_ids, "n_sentences": torch.tensor([2, 1])}
    maps, smask = sentence_attention(regions, words, mask, text, temp1=4.0)
    assert smask.tolist() == [[True, True], [True, False]]
    a0 = _official_attention(regions[0], words[0, 1:4], 4.0)
    assert torch.allclose(maps[0, 0], a0[:2].mean(0), atol=1e-6)
    assert torch.allclose(maps[0, 1], a0[2], atol=1e-6)
    a1 = _official_attention(regions[1], words[1, 1:5], 4.0)
    assert torch.allclose(maps[1, 0], a1.mean(0), atol=1e-6)
    assert math.isclose(float(maps[0, 0].sum()), 1.0, rel_tol=1e-5)
