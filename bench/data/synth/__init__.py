"""SynthCXR: the embedded default dataset, rendered chest radiographs with agreeing reports.

``generate(out, studies, seed, size, difficulty)`` writes MIMIC-CXR-JPG, CheXpert, RSNA, SIIM,
COVIDx and Object-CXR in their real on-disk layouts (so the real readers read them) plus
``synth-manifest.json`` with the per-image ground truth. ``default_data_dir`` caches it once per
generator version and parameters. Modules: ``findings`` (vocabulary and sampling), ``difficulty``
(knobs), ``anatomy`` / ``scene`` / ``render`` / ``lesions`` / ``pleura`` / ``devices`` / ``lateral``
(pixels), ``boxes`` (opacity sizes and places from the real RSNA boxes), ``phrases`` / ``reports``
(text), ``writers`` (one per dataset format), ``ids``, ``realism``.
"""

from __future__ import annotations

from bench.data.synth.cache import default_data_dir
from bench.data.synth.difficulty import DEFAULT, DIFFICULTIES, Difficulty
from bench.data.synth.generate import DATASETS, GENERATOR_VERSION, MANIFEST, generate

__all__ = [
    "DATASETS",
    "DEFAULT",
    "DIFFICULTIES",
    "GENERATOR_VERSION",
    "MANIFEST",
    "Difficulty",
    "default_data_dir",
    "generate",
]
