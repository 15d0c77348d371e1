"""mmpretrain integration: the zoo's timm models as mmpretrain classifiers.

``custom_imports = dict(imports=['vmamba_zoo.mm.pretrain'])`` registers, in mmpretrain's registries:

* ``ZooClassifier`` (``MODELS``, :mod:`.classifier`): mmpretrain's ``TimmClassifier`` around
  ``timm.create_model``, so the model is the one timm implementation (``import vmamba_zoo``
  registered it). Original releases load through the model's own safe and strict loader, at
  training start (``init_cfg``, for fine-tuning) or from ``load_from``. It adds the two training
  losses of the papers that mmpretrain lacks (:mod:`.losses`): DeiT distillation from a frozen
  teacher (GroupMamba) and MESA self-distillation from the EMA model (Spatial-Mamba).
* ``ReleasedCheckpointHook`` (``HOOKS``, :mod:`.hooks`): lets ``load_from`` (``tools/test.py
  CONFIG CHECKPOINT``) be a checkpoint exactly as the authors released it (weights under
  ``model``/``model_ema``, a pickled yacs config...), whose weights MMEngine's loader would not
  find (it reads ``state_dict``).
* ``MESAHook`` (``HOOKS``, :mod:`.hooks`): hands the EMA model to the classifier as MESA teacher
  from the configured epoch on.
* ``EpochSeedHook`` (``HOOKS``) and the dataloader ``worker_init_fn`` ``zoo_seed_worker``
  (``FUNCTIONS``), :mod:`vmamba_zoo.mm.seeding` (shared with mmdet / mmseg): reseed every random generator at the start of each epoch from
  (seed, epoch, rank), so that ``--resume`` after an interruption continues exactly as an
  uninterrupted run.
"""

from .classifier import ZooClassifier
from .hooks import MESAHook, ReleasedCheckpointHook
from ..seeding import EpochSeedHook, zoo_seed_worker

__all__ = ["ZooClassifier", "ReleasedCheckpointHook", "EpochSeedHook", "MESAHook", "zoo_seed_worker"]
