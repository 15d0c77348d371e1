"""The shared op library: selective scan (and its all-hidden-states variant) and cross-scan /
cross-merge, each with ``"torch"``, ``"cpu"``, ``"triton"`` and ``"cuda"`` backends behind one
custom op, plus two chains fused on the CPU for inference: the cross selective scan of SS2D
blocks and Spatial-Mamba's state fusion.
``backend="auto"`` (the default) picks the fastest available backend on CPU tensors and the
verified one on CUDA tensors (see :mod:`.backends`);
``VMAMBA_ZOO_BACKEND`` overrides it; an unavailable backend is an error."""

from .backends import BACKENDS, available_backends
from .cross_scan import MODES as CROSS_SCAN_MODES
from .cross_scan import cross_merge, cross_scan
from .cross_selective_scan import cross_selective_scan
from .selective_scan import selective_scan, selective_scan_states
from .state_fusion import state_fusion

__all__ = [
    "BACKENDS",
    "CROSS_SCAN_MODES",
    "available_backends",
    "cross_merge",
    "cross_scan",
    "cross_selective_scan",
    "selective_scan",
    "selective_scan_states",
    "state_fusion",
]
