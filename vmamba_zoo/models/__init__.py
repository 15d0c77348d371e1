"""timm registrations of every zoo model: importing this package imports the model file of each
family in :data:`vmamba_zoo.published.FAMILIES` (``vmamba_zoo/models/<key>.py``), whose
``@register_model`` functions register its models."""

from importlib import import_module

from ..published import FAMILIES

for _family in FAMILIES:
    import_module(f"{__name__}.{_family}")
del _family
