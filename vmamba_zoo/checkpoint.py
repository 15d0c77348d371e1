"""Loading the original authors' checkpoints (public names).

Placeholder: re-exports the loader of ``vmamba_zoo.models._checkpoint`` until the public module
takes its place.
"""

from .models._checkpoint import (
    CheckpointMismatchError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
)

__all__ = ["CheckpointMismatchError", "extract_state_dict", "load_checkpoint_file", "load_state_dict_strict"]
