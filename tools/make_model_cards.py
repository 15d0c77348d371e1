#!/usr/bin/env python
"""Write ``model_cards/<timm name>.md`` for every model ``vmamba_zoo`` registers with timm.

Each card is generated, never typed: the architecture and stats come from the timm registry
(the built model, its ``pretrained_cfg`` and ``feature_info``) and ``vmamba_zoo.count_flops``; the
published numbers, links, licences (code and weights, each with its source) and citation from
``vmamba_zoo/published.py``; the measured CPU throughput from a ``tools/benchmark.py`` JSON file
given with ``--benchmark-json``. Every number is labelled with its kind (``published.KINDS``:
published by the authors, counted by running code, or measured by us) and its source:

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
from vmamba_zoo.checkpoint import CACHE_ENV, google_drive_file_id  # noqa: E402
from vmamba_zoo.cli import ArgumentError, check_input_file, check_output_dir, fail  # noqa: E402

CARDS_DIR = os.path.join(REPO, "model_cards")
MEASURED_BEGIN = "<!-- measured:begin (tools/benchmark.py output; not checked by the tests) -->"
MEASURED_END = "<!-- measured:end -->"
_MEASURED_BLOCK = re.compile(re.escape(MEASURED_BEGIN) + r".*?" + re.escape(MEASURED_END), re.S)
_SWIN_T = "swin_tiny_patch4_window7_224"
_PYPROJECT = "../pyproject.toml"
OUR_LICENCE = published.Licence(
    "apache-2.0", "Apache-2.0 (vmamba_zoo, a re-implementation; no original code is included)", _PYPROJECT
)
MEASURED_KIND = "Kind: **measured** by us with `tools/benchmark.py` (machine and date on each line)."


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


def _link(url: str, text: str = "source") -> str:
    return f"[{text}]({url})"


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
             _opt(c.params_m, "g", "M"), _opt(c.gflops, "g", "G"), "published",
             _link(c.source) + (f"; FLOPs: {_link(c.gflops_source, 'paper')}" if c.gflops_source else "")
             + (f" — {c.note}" if c.note else "")]
            for c in info.classification
        ]
        out += _table(["dataset", "resolution", "top-1", "top-5", "#params", "FLOPs", "kind", "source"], rows)
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
             f"[checkpoint]({d.checkpoint})" if d.checkpoint else "-", "published", _link(d.source)]
            for d in results
        ]
        out += _table(["dataset", "method", "schedule", "results", "#params", "FLOPs",
                       "weights", "kind", "source"], rows)
        out.append("")
    if not info.downstream and family is not None:
        out += ["No published detection or segmentation results with released weights.", ""]
    if info.published_throughput:
        out += [f"Authors' speed (kind: **published**): {info.published_throughput} "
                f"({_link(info.classification[0].source)}).", ""]
    return out


def _stats_rows(info: published.PublishedModel | None, family, params: int, gflops: float) -> list[list[str]]:
    """The params / FLOPs rows: ours counted on the built model, the authors' counted on their code."""
    rows = [["Params", f"{params:,} ({params / 1e6:.2f}M)", "counted",
             "this model (vmamba_zoo), `vmamba_zoo.benchmark.count_params`"],
            ["FLOPs (fvcore multiply-adds, 3x224x224, batch 1)", f"{gflops:.6f} G", "counted",
             "this model (vmamba_zoo), `vmamba_zoo.count_flops`"]]
    if info is not None and family is not None and (info.reference_params or info.reference_gflops):
        repo = family.code_url.removeprefix("https://github.com/")
        code = _link(f"{family.code_url}/blob/{family.upstream_commit}/{family.upstream_file}",
                     f"{repo}@{family.upstream_commit[:7]}")
        by_authors_code = f"by running the authors' code, {code} (fvcore, 224², batch 1)"
        if info.reference_params:
            rows.insert(1, ["Params, authors' code", f"{info.reference_params:,}", "counted", by_authors_code])
        if info.reference_gflops:
            rows.append(["FLOPs, authors' code", f"{info.reference_gflops:.6f} G", "counted", by_authors_code])
    return rows


def _licence_lines(family) -> list[str]:
    """The licence summary of the card's first lines (a non-commercial warning first)."""
    if family is None:
        return [f"**Licences** — this re-implementation: {OUR_LICENCE.text}; the weights: see their source.", ""]
    weights, code = family.weights_licence, family.code_licence
    out = []
    if weights.non_commercial:
        out += [f"> **Non-commercial weights.** {weights.text} ({_link(weights.source)}). The original "
                f"code's licence ({code.id}) does not extend to them: do not use them commercially.", ""]
    out += [f"**Licences** — released weights: **{weights.id}** ({_link(weights.source)}); original code: "
            f"**{code.id}** ({_link(code.source)}); this re-implementation: **Apache-2.0**. "
            "Details under [Licence](#licence).", ""]
    return out


def _usage(name: str, family, released: bool, cfg: dict, channels: list[int] | None) -> list[str]:
    overlay = ('pretrained=True,\n'
               '                          pretrained_cfg_overlay=dict(file="/path/to/checkpoint.pth")')
    drive_id = google_drive_file_id(cfg.get("url") or "")
    if not released:
        create = f'model = timm.create_model("{name}")  # no released weights'
    elif drive_id:
        create = (f"# the original weights are a Google Drive page (file ID {drive_id}), not a download:\n"
                  "# fetch the file by hand, then\n"
                  f'model = timm.create_model("{name}", {overlay})')
    elif cfg.get("url") or cfg.get("hf_hub_id"):
        create = (f'model = timm.create_model("{name}", pretrained=True)  # the original release\n'
                  "# or, from the original file downloaded by hand:\n"
                  f'# model = timm.create_model("{name}", {overlay.replace(chr(10), chr(10) + "# ")})\n'
                  f"# offline: {CACHE_ENV}=DIR names a download cache filled on another machine")
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
    out += _licence_lines(family)
    if target:
        out += [f"`{name}` is another name for [`{target}`]({target}.md), the paper's final model "
                "of this size.", ""]
    if family is not None:
        venue = f", {family.venue} ({_link(family.venue_source)})" if family.venue else ""
        out += [f"**{family.title}** — [{family.paper}]({family.paper_url}){venue}, "
                f"original code: {family.code_url}", "", family.summary, ""]
    if info and info.config:
        out += [f"Configuration: {info.config}.", ""]
    for note in (family.notes if family else ()) + (info.notes if info else ()):
        out += [f"Note: {note}", ""]

    out += ["## Model stats", ""]
    out += _table(["", "value", "kind", "source"], _stats_rows(info, family, params, gflops)) + [""]
    settings = [
        ["Input size (pretrained_cfg)", "x".join(str(s) for s in cfg.get("input_size", ())) or "-"],
        ["Classes", str(getattr(model, "num_classes", "-"))],
    ]
    if features:
        settings.append(["Feature maps (`features_only=True`)", features])
    settings.append(["Checkpoint", _checkpoint_url(cfg) or "none released"])
    settings.append(["`pretrained_cfg['license']` (the weights)", cfg.get("license") or "-"])
    out += _table(["setting", "value"], settings) + [""]

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
    out += ["## Measured speed", "", MEASURED_KIND, "", block, ""]

    out += _published_sections(info, family)
    out += _usage(name, family, info is not None, cfg, channels)
    licences = [["This re-implementation (vmamba_zoo)", OUR_LICENCE.text, _link(OUR_LICENCE.source, "pyproject.toml")]]
    if family is not None:
        licences = [
            ["Released weights", family.weights_licence.text, _link(family.weights_licence.source)],
            ["Original code", family.code_licence.text, _link(family.code_licence.source)],
        ] + licences
    out += ["## Licence", ""] + _table(["what", "licence", "stated in"], licences) + [""]
    if family is not None:
        out += ["## Citation", "", "```bibtex", family.citation, "```", ""]
    return "\n".join(out)


_LINK = re.compile(r"\[[^\]]+\]\([^)\s]+\)")
_LICENCE_SUMMARY = re.compile(
    r"^\*\*Licences\*\* — released weights: \*\*([^*]+)\*\* \(\[source\]\([^)]+\)\); original code: "
    r"\*\*([^*]+)\*\* \(\[source\]\([^)]+\)\)"
)
_UNLABELLED_TABLES = ("setting", "what")  # configuration and licence tables: no results in them


def _tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    tables, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            tables.append((rows[0], rows[2:]))
            rows = []
    return tables


def card_problems(text: str) -> list[str]:
    """What a family card lacks: both licences with their sources in its first lines (a
    non-commercial warning before them where it applies), the licence table, and a kind
    (``published.KINDS``) and a source on every row of every table of numbers."""
    problems = []
    head = text.split("\n## ", 1)[0].splitlines()
    summary = next((m for m in map(_LICENCE_SUMMARY.match, head) if m), None)
    if summary is None:
        problems.append("no licence summary (released weights and original code, each with a source) "
                        "before the first section")
    elif "non-commercial" in summary.group(1) and not any(
            line.startswith("> **Non-commercial weights.**") for line in head):
        problems.append("non-commercial weights without the warning in the card's first lines")
    licence_rows = {}
    for header, rows in _tables(text):
        if header[0] == "what":
            licence_rows = {row[0]: row for row in rows}
            continue
        if header[0] in _UNLABELLED_TABLES:
            continue
        if "kind" not in header or "source" not in header:
            problems.append(f"a table without kind and source columns: {' | '.join(header)}")
            continue
        kind, source = header.index("kind"), header.index("source")
        for row in rows:
            if row[kind] not in published.KINDS:
                problems.append(f"row {row[0]!r}: kind {row[kind]!r} is not one of {published.KINDS}")
            if not (_LINK.search(row[source]) or "`" in row[source]):
                problems.append(f"row {row[0]!r}: no source ({row[source]!r})")
    for what in ("Released weights", "Original code", "This re-implementation (vmamba_zoo)"):
        row = licence_rows.get(what)
        if row is None or not row[1] or row[1] == "-" or not _LINK.search(row[2]):
            problems.append(f"licence table: no licence with a source for {what!r}")
    if MEASURED_BEGIN in text and MEASURED_KIND not in text.split(MEASURED_BEGIN)[0].split("## Measured speed")[-1]:
        problems.append("the measured section does not say its kind (measured)")
    for line in text.splitlines():
        if line.startswith("Authors' speed") and "kind: **published**" not in line:
            problems.append("the authors' speed line does not say its kind (published)")
    return problems


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
        problems = card_problems(text)
        if problems:
            raise RuntimeError(f"the card of {name} would mislead: " + "; ".join(problems))
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
