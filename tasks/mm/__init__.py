"""The bridge to OpenMMLab's toolboxes (MMEngine, MMSegmentation, MMDetection) for the dense tasks.

Only this package imports ``mm*`` (in ``backbones``, ``compat``, ``heads``, ``losses``, ``metrics``
and inside ``runner``'s functions), and only when a dense task runs: :mod:`tasks.segmentation` and
:mod:`tasks.detection` import ``seg``/``det`` and ``runner`` inside ``evaluate``. The modules
without a toolbox import, ``trunk`` and ``prepare``, may be imported at module level (torch and
PIL only); :mod:`tasks.segmentation` does so for ``prepare``'s sampling helper. Modules:

- :mod:`~tasks.mm.trunk`: a method's ResNet trunk saved as spec + weights, rebuilt without the method;
- :mod:`~tasks.mm.compat`: weights-only loading of MMEngine checkpoints under torch >= 2.6;
- :mod:`~tasks.mm.backbones`: ``BenchResNet``, the trunk as an MMSeg/MMDet backbone;
- :mod:`~tasks.mm.heads`: ``BenchUNetHead``, a U-Net decoder as an MMSeg decode head;
- :mod:`~tasks.mm.losses`: ``BenchMixedLoss``, MGCA's focal x10 - log-Dice segmentation loss;
- :mod:`~tasks.mm.metrics`: the tasks' metrics as MMEngine evaluators;
- :mod:`~tasks.mm.prepare`: records -> PNG images/masks, list files and COCO json;
- :mod:`~tasks.mm.runner`, :mod:`~tasks.mm.seg`, :mod:`~tasks.mm.det`: configs and runs.
"""
