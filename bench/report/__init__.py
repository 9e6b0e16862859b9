"""``bench report``: one static HTML page of a results folder, readable offline.

Sections: the leaderboard (:mod:`bench.leaderboard`) with the run's provenance, label-efficiency
curves, ablation bars, zero-shot confusion matrices and attention maps of report sentences over
test images (methods that expose ``local_attention``; see :mod:`bench.report.attention`).
Modules: ``page`` (HTML, escaping), ``plots`` (matplotlib figures), ``sections`` (what results
alone give), ``attention`` (images, maps, overlays), ``build`` (:func:`write_report`).
"""

from __future__ import annotations

from bench.report.build import SECTIONS, write_report

__all__ = ["SECTIONS", "write_report"]
