#!/usr/bin/env python
"""Write ``model_cards/<timm name>.md`` for every model ``vmamba_zoo`` registers with timm.

Each card is generated, never typed: the architecture and stats come from the timm registry
(the built model, its ``pretrained_cfg`` and ``feature_info``) and ``vmamba_zoo.count_flops``; the
published numbers, links, licence and citation from ``vmamba_zoo/published.py``; the measured CPU
throughput from a ``tools/benchmark.py`` JSON file given with ``--benchmark-json``:

    python tools/benchmark.py --model 'vmamba_*' --baselines tiny --format json --out bench.json
    python tools/make_model_cards.py --benchmark-json bench.json

Without a benchmark record for a model its card keeps the measured section it already has.
``tests/test_model_cards.py`` regenerates every card in memory and compares (measured section
excluded); rerun this tool whenever a model, ``count_flops`` or ``published.py`` changes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from vmamba_zoo import benchmark, published  # noqa: E402  (imports vmamba_zoo: registers models)
from vmamba_zoo.cli import ArgumentError, check_input_file, check_output_dir, fail  # noqa: E402

CARDS_DIR = os.path.join(REPO, "model_cards")
MEASURED_BEGIN = "<!-- measured:begin (tools/benchmark.py output; not checked by the tests) -->"
MEASURED_END = "<!-- measured:end -->"
_MEASURED_BLOCK = re.compile(re.escape(MEASURED_BEGIN) + r".*?" + re.escape(MEASURED_END), re.S)
_SWIN_T = "swin_tiny_patch4_window7_224"


def strip_measured(text: str) -> str:
    """A card without its measured section (what the up-to-date test compares)."""
    return _MEASURED_BLOCK.sub(MEASURED_BEGIN + "\n" + MEASURED_END, text)


def _checkpoint_url(cfg: dict) -> str | None:
    if cfg.get("url"):
        return cfg["url"]
    if cfg.get("hf_hub_id"):
        url = f"https://huggingface.co/{cfg['hf_hub_id']}"
        return url + (f" (file `{cfg['hf_hub_filename']}`)" if cfg.get("hf_hub_filename") else "")
    return None


def _feature_row(model) -> str | None:
    info = getattr(model, "feature_info", None)
    if not isinstance(info, list) or not info:
        return None
    channels = ", ".join(str(f["num_chs"]) for f in info)
    strides = ", ".join(str(f["reduction"]) for f in info)
    return f"channels {channels} at strides {strides}"


def _measured_lines(name: str, records: Sequence[dict]) -> list[str] | None:
    """The measured section from the newest CPU record of ``name`` (None if there is none)."""
    mine = [r for r in records if r.get("model") == name and r.get("device") == "cpu"
            and not r.get("error") and r.get("throughput")]
    if not mine:
        return None
    r = mine[-1]
    spread = benchmark.format_spread(r, "throughput")
    lines = [
        f"- CPU inference throughput: **{r['throughput']:.1f} img/s**{spread} (batch "
        f"{r['batch_size']}, {r['img_size']}x{r['img_size']}, {r['dtype']}, {r['threads']} threads, "
        f"scan backend {r['scan_backend']}, malloc: {r.get('malloc') or 'default'})",
        f"- Machine: {r['machine']}; measured {r.get('date') or 'on an unrecorded date'} "
        "with `tools/benchmark.py` (median of the timed repeats, spread = half the "
        "slowest-to-fastest range).",
    ]
    if r.get("latency_ms"):
        lines.append(f"- Latency at batch 1: {r['latency_ms']:.1f} ms")
    if r.get("peak_memory_mb"):
        lines.append(f"- Peak memory (inference, batch {r['batch_size']}): "
                     f"{r['peak_memory_mb']:.0f} MiB")
    swin = [s for s in records if s.get("model") == _SWIN_T and s.get("throughput")
            and s.get("batch_size") == r["batch_size"] and s.get("img_size") == r["img_size"]
            and s.get("machine") == r["machine"] and s.get("dtype") == r["dtype"]]
    if swin:
        ratio = r["throughput"] / swin[-1]["throughput"]
        lines.append(f"- Same run, timm's Swin-T: {swin[-1]['throughput']:.1f} img/s "
                     f"(this model: {ratio:.2f}x)")
    nearest = benchmark.nearest_equal_flops(r, records)
    if nearest is not None and nearest["model"] != _SWIN_T:
        lines.append(f"- Same run, the Swin / ConvNeXt of nearest FLOPs, timm's {nearest['model']}: "
                     f"{nearest['throughput']:.1f} img/s (this model: "
                     f"{r['throughput'] / nearest['throughput']:.2f}x)")
    return lines


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _opt(value, spec: str = "", suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


def _published_sections(info: published.PublishedModel | None, family) -> list[str]:
    out = ["## Published results", ""]
    if info is None:
        out += ["None: this configuration has no released weights (it is a small configuration "
                "for tests).", ""]
        return out
    if info.classification:
        out += ["### Classification", ""]
        rows = [
            [c.dataset, f"{c.resolution}x{c.resolution}", f"{c.top1:.2f}", _opt(c.top5, ".2f"),
             _opt(c.params_m, "g", "M"), _opt(c.gflops, "g", "G"), f"[source]({c.source})"
             + (f" — {c.note}" if c.note else "")]
            for c in info.classification
        ]
        out += _table(["dataset", "resolution", "top-1", "top-5", "#params", "FLOPs", "source"], rows)
        out.append("")
    for task, title in (("detection", "Detection"), ("segmentation", "Segmentation")):
        results = [d for d in info.downstream if d.task == task]
        if not results:
            continue
        out += [f"### {title}", ""]
        rows = [
            [d.dataset, d.method, d.schedule, ", ".join(f"{k} {v}" for k, v in d.metrics),
             _opt(d.params_m, "g", "M"),
             _opt(d.gflops, "g", "G") + (f" at {d.flops_input}" if d.flops_input else ""),
             f"[checkpoint]({d.checkpoint})" if d.checkpoint else "-", f"[source]({d.source})"]
            for d in results
        ]
        out += _table(["dataset", "method", "schedule", "results", "#params", "FLOPs",
                       "weights", "source"], rows)
        out.append("")
    if not info.downstream and family is not None:
        out += ["No published detection or segmentation results with released weights.", ""]
    if info.published_throughput:
        out += [f"Authors' speed: {info.published_throughput} ([source]({info.classification[0].source})).",
                ""]
    return out


def _usage(name: str, family, released: bool, cfg: dict, channels: list[int] | None) -> list[str]:
    overlay = ('pretrained=True,\n'
               '                          pretrained_cfg_overlay=dict(file="/path/to/checkpoint.pth")')
    if not released:
        create = f'model = timm.create_model("{name}")  # no released weights'
    elif cfg.get("url") or cfg.get("hf_hub_id"):
        create = (f'model = timm.create_model("{name}", pretrained=True)  # the original release\n'
                  "# or, from the original file downloaded by hand:\n"
                  f'# model = timm.create_model("{name}", {overlay.replace(chr(10), chr(10) + "# ")})')
    else:
        create = ("# the original weights cannot be fetched by URL: download them, then\n"
                  f'model = timm.create_model("{name}", {overlay})')
    out = [
        "## Usage", "", "### timm", "", "```python", "import timm", "import torch", "",
        "import vmamba_zoo  # registers the zoo's models with timm (before create_model)", "",
        create,
        "model.eval()",
        "logits = model(torch.randn(1, 3, 224, 224))",
        f'backbone = timm.create_model("{name}", features_only=True)  # NCHW maps, strides 4-32',
        "```", "",
    ]
    if family is None:
        return out
    neck = f"    neck=dict(in_channels={channels}),\n" if channels else ""
    out += [
        "### mmdet (Mask R-CNN backbone)", "", "```python",
        "_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'",
        "custom_imports = dict(imports=['vmamba_zoo.mm'], allow_failed_imports=False)",
        "model = dict(\n"
        "    backbone=dict(\n"
        "        _delete_=True,\n"
        f"        type='{family.mm_backbone}',\n"
        f"        arch='{name}',\n"
        "        out_indices=(0, 1, 2, 3),\n"
        "        init_cfg=dict(type='Pretrained', checkpoint='/path/to/original_checkpoint.pth'),\n"
        "    ),\n"
        f"{neck})",
        "```", "",
    ]
    return out


def render_card(name: str, existing: str | None = None, records: Sequence[dict] = ()) -> str:
    """The card of ``name``; the measured section comes from ``records`` (a benchmark JSON),
    else from ``existing`` (the card on disk), else says how to measure it."""
    model = benchmark.create_model(name, 224).eval()
    params = benchmark.count_params(model)
    gflops = benchmark.count_model_flops(model, 224) / 1e9
    cfg = model.pretrained_cfg or {}
    target = published.ALIASES.get(name)
    info = published.lookup(name)
    family = published.family_of(name)
    title = info.title if info else name
    features = _feature_row(model)
    info_list = getattr(model, "feature_info", None)
    channels = [f["num_chs"] for f in info_list] if isinstance(info_list, list) else None

    out = [
        f"# {title} — `{name}`", "",
        "<!-- Generated by tools/make_model_cards.py from the timm registry, vmamba_zoo.count_flops, "
        "vmamba_zoo/published.py and a tools/benchmark.py run. Do not edit by hand. -->", "",
    ]
    if target:
        out += [f"`{name}` is another name for [`{target}`]({target}.md), the paper's final model "
                "of this size.", ""]
    if family is not None:
        out += [f"**{family.title}** — [{family.paper}]({family.paper_url}), "
                f"original code: {family.code_url}", "", family.summary, ""]
    if info and info.config:
        out += [f"Configuration: {info.config}.", ""]
    for note in (family.notes if family else ()) + (info.notes if info else ()):
        out += [f"Note: {note}", ""]

    stats = [
        ["Params", f"{params:,} ({params / 1e6:.2f}M)"
         + (f"; authors' code: {info.reference_params:,}" if info and info.reference_params else "")],
        ["FLOPs (fvcore multiply-adds, 3x224x224, batch 1)", f"{gflops:.6f} G"
         + (f"; authors' code: {info.reference_gflops:.6f} G" if info and info.reference_gflops else "")],
        ["Input size (pretrained_cfg)", "x".join(str(s) for s in cfg.get("input_size", ())) or "-"],
        ["Classes", str(getattr(model, "num_classes", "-"))],
    ]
    if features:
        stats.append(["Feature maps (`features_only=True`)", features])
    stats.append(["Checkpoint", _checkpoint_url(cfg) or "none released"])
    out += ["## Model stats", ""] + _table(["", ""], stats) + [""]

    measured = _measured_lines(name, records)
    if measured is None and existing:
        match = _MEASURED_BLOCK.search(existing)
        block = match.group(0) if match else None
    else:
        block = None
    if block is None:
        body = measured or [
            "Not measured yet: `python tools/benchmark.py --model "
            f"{name} --baselines tiny --format json --out bench.json`, then "
            "`python tools/make_model_cards.py --benchmark-json bench.json`."
        ]
        block = "\n".join([MEASURED_BEGIN] + body + [MEASURED_END])
    out += ["## Measured speed", "", block, ""]

    out += _published_sections(info, family)
    out += _usage(name, family, info is not None, cfg, channels)
    out += [
        "## Licence", "",
        "Code: Apache-2.0 (vmamba_zoo, a re-implementation; no original code is included).",
        f"Original code and weights: {family.license if family else 'see the weights source'}.",
        "",
    ]
    if family is not None:
        out += ["## Citation", "", "```bibtex", family.citation, "```", ""]
    return "\n".join(out)


def card_path(name: str, cards_dir: str = CARDS_DIR) -> str:
    return os.path.join(cards_dir, f"{name}.md")


def read_records(paths: Sequence[str]) -> list[dict]:
    """The records of ``tools/benchmark.py --format json`` files (``ArgumentError`` naming the file
    when one is missing or is not such a file)."""
    records: list[dict] = []
    for path in paths:
        check_input_file(path, "--benchmark-json")
        try:
            with open(path) as f:
                data = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArgumentError(f"--benchmark-json {path} is not JSON ({exc})") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) and "model" in r for r in data):
            raise ArgumentError(f"--benchmark-json {path}: expected a list of benchmark records "
                                "(tools/benchmark.py --format json)")
        records += data
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark-json", nargs="*", default=[], metavar="FILE",
                        help="tools/benchmark.py JSON output with the measured CPU numbers")
    parser.add_argument("--model", nargs="*", default=None, metavar="NAME",
                        help="only these models (default: every registered zoo model)")
    parser.add_argument("--out-dir", default=CARDS_DIR)
    parser.add_argument("--prune", action="store_true",
                        help="delete cards of models that are no longer registered")
    args = parser.parse_args(argv)

    registered = benchmark.zoo_models()
    names = args.model if args.model is not None else registered
    try:
        if not names:
            raise ArgumentError("--model needs at least one name" if args.model is not None
                                else "no vmamba_zoo model is registered; no card to write")
        unknown = [n for n in names if n not in registered]
        if unknown:
            raise ArgumentError(f"not registered by vmamba_zoo: {', '.join(unknown)}")
        records = read_records(args.benchmark_json)
        check_output_dir(args.out_dir, "--out-dir")
    except ArgumentError as exc:
        return fail(exc)
    os.makedirs(args.out_dir, exist_ok=True)
    for name in names:
        path = card_path(name, args.out_dir)
        existing = open(path).read() if os.path.exists(path) else None
        text = render_card(name, existing, records)
        if text != existing:
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {path}")
    if args.prune:
        for file in sorted(os.listdir(args.out_dir)):
            if file.endswith(".md") and file[:-3] not in registered:
                os.remove(os.path.join(args.out_dir, file))
                print(f"removed {file} (no longer registered)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
