"""One writer per dataset format; each writes ``n`` images into its root in the real layout.

``WRITERS`` maps the dataset name to (writer, share): the writer gets ``round(share * studies)``
studies (at least :data:`MINIMUM`). A writer returns (counts, manifest entries).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.data.synth.writers import chexpert, covidx, mimic, object_cxr, rsna, siim
from bench.data.synth.writers.common import SynthContext

Writer = Callable[[Path, int, SynthContext], "tuple[dict[str, Any], list[dict[str, Any]]]"]
MINIMUM = 8
WRITERS: dict[str, tuple[Writer, float]] = {
    mimic.NAME: (mimic.write, 1.0),
    chexpert.NAME: (chexpert.write, 1.0),  # plus valid: 20 % of that, at least 40
    rsna.NAME: (rsna.write, 0.5),
    siim.NAME: (siim.write, 0.5),
    covidx.NAME: (covidx.write, 0.5),
    object_cxr.NAME: (object_cxr.write, 0.5),
}


def count_for(name: str, studies: int) -> int:
    return max(MINIMUM, int(round(WRITERS[name][1] * studies)))
