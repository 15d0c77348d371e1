"""timm registrations of every zoo model; importing this module registers them."""
from . import vmamba  # noqa: F401
from . import efficientvmamba  # noqa: F401
from . import groupmamba  # noqa: F401
from . import resvmamba  # noqa: F401
from . import spatialmamba  # noqa: F401
