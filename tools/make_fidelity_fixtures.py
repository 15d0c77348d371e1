"""Record the golden fixtures under tests/data/fidelity/ from the authors' own code.

    VMAMBA_ZOO_UPSTREAM=/path/to/mirrors python tools/make_fidelity_fixtures.py [VARIANT ...]

``$VMAMBA_ZOO_UPSTREAM`` holds bare git mirrors of the original repositories as
``<owner>+<repo>/repo`` (e.g. ``MzeroMiko+VMamba/repo``). For each released variant (all of them
by default) the authors' model is built on the CPU, given the fixture's deterministic weights and
run on the fixture's inputs; its logits, backbone maps, parameter and FLOP counts are written to
``tests/data/fidelity/<variant>.json`` and ``.npz`` (format: tests/fidelity.py). The recording
machinery is shared with the tests (tests/upstream.py). ``tests/test_fidelity.py`` then checks
our models against these files on any machine, without the mirrors.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import upstream  # noqa: E402  (tests/upstream.py)


def main(argv: list[str] | None = None) -> int:
    all_variants = [v for spec in upstream.FAMILIES.values() for v in spec.variants]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", metavar="VARIANT", help=f"default: all ({', '.join(all_variants)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.variants) - set(all_variants))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose from {all_variants}")
    variants = args.variants or all_variants

    for family, spec in upstream.FAMILIES.items():
        chosen = [v for v in spec.variants if v in variants]
        if not chosen:
            continue
        reason = upstream.missing_reason(family)
        if reason:
            parser.error(f"cannot load the {family} code: {reason}")
        with upstream.load(family) as loaded:
            for variant in chosen:
                start = time.perf_counter()
                fixture = upstream.record(loaded, variant)
                paths = fixture.save()
                size = sum(p.stat().st_size for p in paths) / 1024
                print(
                    f"{variant}: {len(fixture.tensors)} tensors, {fixture.official_params:,} params, "
                    f"{fixture.official_flops:,} FLOPs, cases {[c.name for c in fixture.cases]}, "
                    f"{size:.0f} KiB, {time.perf_counter() - start:.1f} s",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
