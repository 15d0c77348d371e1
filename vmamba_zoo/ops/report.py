"""``python -m vmamba_zoo.ops.report``: which op backends this installation can run, and why not."""

from __future__ import annotations

import torch

from .backends import available_backends


def main() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        print(f"vmamba_zoo.ops backends on {device}:")
        for name, reason in available_backends(device).items():
            print(f"  {name:<7} {'available' if reason is None else 'unavailable: ' + reason}")


if __name__ == "__main__":
    main()
