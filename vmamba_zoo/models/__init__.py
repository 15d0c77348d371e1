"""timm registrations of every zoo model; importing this module registers them."""
