"""Safe, strict loading of checkpoints in the original authors' formats."""

from __future__ import annotations

import argparse
import os

import pytest
import torch
from torch import nn

from vmamba_zoo.checkpoint import (
    CheckpointFileError,
    CheckpointMismatchError,
    extract_state_dict,
    load_checkpoint_file,
    load_state_dict_strict,
    local_file,
)


class FakeCfgNode(dict):
    """Stands in for yacs' CfgNode: a dict subclass that weights_only loading refuses."""


class RunsCodeWhenUnpickled:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _official_like(tmp_path, weights, **extra):
    path = tmp_path / "ckpt.pth"
    torch.save(
        {
            "model": weights,
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3}]},
            "lr_scheduler": {"last_epoch": 3},
            "epoch": 299,
            "config": FakeCfgNode(MODEL=FakeCfgNode(NAME="vssm")),
            "args": argparse.Namespace(batch_size=128),
            **extra,
        },
        path,
    )
    return path


def test_original_format_loads_without_running_its_code(tmp_path):
    weights = {"layer.weight": torch.randn(3, 2), "layer.bias": torch.randn(3)}
    marker = tmp_path / "code-ran"
    path = _official_like(tmp_path, weights, payload=RunsCodeWhenUnpickled(str(marker)))
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)  # what timm's default loader would do
    checkpoint = load_checkpoint_file(path)
    assert not marker.exists(), "an object's reduce function was executed"
    state_dict = extract_state_dict(checkpoint)
    assert state_dict.keys() == weights.keys()
    for key in weights:
        torch.testing.assert_close(state_dict[key], weights[key])
    assert not isinstance(checkpoint["config"], FakeCfgNode)  # kept as inert data only


def test_plain_state_dict_and_ema_and_prefixes(tmp_path):
    weights = {"module.w": torch.ones(2)}
    path = tmp_path / "plain.pth"
    torch.save(weights, path)
    assert list(extract_state_dict(load_checkpoint_file(path))) == ["w"]
    ema_only = {"model_ema": {"w": torch.zeros(2)}, "epoch": 1}
    assert torch.equal(extract_state_dict(ema_only)["w"], torch.zeros(2))
    both = {"model": {"w": torch.ones(2)}, "model_ema": {"w": torch.zeros(2)}}
    assert torch.equal(extract_state_dict(both)["w"], torch.ones(2))
    assert torch.equal(extract_state_dict(both, key="model_ema")["w"], torch.zeros(2))
    with pytest.raises(CheckpointMismatchError, match="no 'state' entry"):
        extract_state_dict(both, key="state")
    with pytest.raises(FileNotFoundError):
        load_checkpoint_file(tmp_path / "missing.pth")


def test_strict_loading_names_every_problem():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 4))
    good = model.state_dict()
    load_state_dict_strict(model, good)
    bad = dict(good)
    bad.pop("0.bias")
    bad["extra.weight"] = torch.zeros(1)
    bad["1.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointMismatchError) as excinfo:
        load_state_dict_strict(model, bad)
    message = str(excinfo.value)
    assert "missing keys (1): 0.bias" in message
    assert "unexpected keys (1): extra.weight" in message
    assert "1.weight (checkpoint (5, 3) vs model (4, 3))" in message


def test_local_file_paths_urls_and_cache(tmp_path, monkeypatch):
    assert local_file("checkpoints/a.pth") == "checkpoints/a.pth"
    assert local_file(f"file://{tmp_path}/my%20model.pth") == f"{tmp_path}/my model.pth"
    with pytest.raises(ValueError, match="unsupported URL scheme 's3'"):
        local_file("s3://bucket/model.pth")
    with pytest.raises(ValueError, match="no host"):
        local_file("file://server/model.pth")

    downloads = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        downloads.append(url)
        with open(dst, "w") as f:
            f.write(url)

    monkeypatch.delenv("VMAMBA_ZOO_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    first = local_file("https://example.org/a/model.pth")
    second = local_file("https://example.org/b/model.pth")
    assert os.path.basename(first) == os.path.basename(second) == "model.pth"
    assert first != second  # one cache entry per URL, not per file name
    assert open(first).read() == "https://example.org/a/model.pth"
    assert local_file("https://example.org/a/model.pth") == first
    assert downloads == ["https://example.org/a/model.pth", "https://example.org/b/model.pth"]


class _Payload:
    """Pickles as a call of ``func(*args)``: what a hostile checkpoint would run on loading."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)

    def __call__(self, *args):  # pickle only accepts callables as the first item of a reduce tuple
        raise AssertionError("never called: a stand-in for the call its unpickling makes")


class _StateHook:
    def __setstate__(self, state):  # would run on unpickling if the class were imported
        os.mkdir(state["marker"])


def _payloads(marker: str):
    import functools
    import subprocess

    yield "os.system", _Payload(os.system, f"mkdir {marker}")
    yield "eval", _Payload(eval, f"__import__('os').mkdir({marker!r})")
    yield "exec", _Payload(exec, f"import os; os.mkdir({marker!r})")
    yield "subprocess.Popen", _Payload(subprocess.Popen, ["mkdir", marker])
    yield "functools.partial", _Payload(functools.partial(os.mkdir, marker))
    yield "getattr chain", _Payload(_Payload(getattr, _Payload(__import__, "os"), "mkdir"), marker)
    state_hook = _StateHook()
    state_hook.__dict__["marker"] = marker
    yield "__setstate__", state_hook


@pytest.mark.parametrize("payload", [name for name, _ in _payloads("x")])
def test_no_payload_runs_and_the_weights_still_load(tmp_path, payload):
    marker = str(tmp_path / "code-ran")
    obj = dict(_payloads(marker))[payload]
    weights = {"w": torch.randn(3)}
    for path in (_official_like(tmp_path, weights, payload=obj), tmp_path / "legacy.pth"):
        if path.name == "legacy.pth":
            torch.save({"model": weights, "payload": obj}, path, _use_new_zipfile_serialization=False)
        try:
            state_dict = extract_state_dict(load_checkpoint_file(path))
        except CheckpointFileError as exc:  # refused (e.g. an inert stand-in called as a function)
            assert str(path) in str(exc)
            state_dict = None
        assert not os.path.exists(marker), f"{payload}: code ran while loading {path.name}"
        if state_dict is not None:
            assert torch.equal(state_dict["w"], weights["w"])


def _serve_from(tmp_path, monkeypatch, content: bytes):
    """download_url_to_file, fetching ``content`` through torch hub's own code (file:// URL), so that
    its hash check and temporary-file handling are the real ones."""
    source = tmp_path / "served.bin"
    source.write_bytes(content)
    real = torch.hub.download_url_to_file
    downloads = []

    def download(url, dst, hash_prefix=None, progress=True):
        downloads.append(url)
        real(source.as_uri(), dst, hash_prefix=hash_prefix, progress=False)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    return downloads


def test_downloads_are_checked_against_a_known_hash(tmp_path, monkeypatch):
    import hashlib

    from vmamba_zoo.checkpoint import CheckpointFileError, cache_path

    monkeypatch.setenv("VMAMBA_ZOO_WEIGHTS", str(tmp_path / "cache"))
    content = b"weights" * 100
    digest = hashlib.sha256(content).hexdigest()
    _serve_from(tmp_path, monkeypatch, content)
    url = "https://example.org/release/model.pth"
    with pytest.raises(CheckpointFileError, match="does not match its expected SHA-256"):
        local_file(url, sha256="0" * 12)
    assert not os.path.exists(cache_path(url))  # a failed download is not kept
    assert open(local_file(url, sha256=digest[:10]), "rb").read() == content
    # the cached copy is checked again when a hash is given; a damaged cache entry is named
    with open(cache_path(url), "ab") as f:
        f.write(b"x")
    with pytest.raises(CheckpointFileError, match=rf"{cache_path(url)} has SHA-256 .* expected {digest[:10]}"):
        local_file(url, sha256=digest[:10])
    # torch hub's convention: a hash prefix in the file name is checked on download
    with pytest.raises(CheckpointFileError, match="expected SHA-256"):
        local_file("https://example.org/release/model-0123456789ab.pth")
    assert local_file(f"https://example.org/release/model-{digest[:12]}.pth")
    with pytest.raises(ValueError, match="8 to 64 hex digits"):
        local_file(url, sha256="abc")


def test_cache_location_env_and_root(tmp_path, monkeypatch):
    from vmamba_zoo.checkpoint import cache_dir, cache_path

    monkeypatch.delenv("VMAMBA_ZOO_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert cache_dir() == str(tmp_path / "hub" / "checkpoints" / "vmamba_zoo")
    monkeypatch.setenv("VMAMBA_ZOO_WEIGHTS", str(tmp_path / "seeded"))
    url = "https://example.org/a/model.pth"
    assert cache_path(url).startswith(str(tmp_path / "seeded") + os.sep)
    assert cache_path(url, root=tmp_path / "other").startswith(str(tmp_path / "other") + os.sep)
    drive = cache_path("https://drive.google.com/file/d/1AbC_d-9/view")
    assert os.path.basename(drive) == "1AbC_d-9.pth"
    assert cache_path("https://drive.google.com/file/d/2XyZ/view") != drive  # never a shared "view"
    # a pre-seeded cache serves the file without any download
    downloads = _serve_from(tmp_path, monkeypatch, b"unused")
    os.makedirs(os.path.dirname(cache_path(url)))
    open(cache_path(url), "wb").write(b"seeded")
    assert open(local_file(url), "rb").read() == b"seeded" and not downloads
    os.makedirs(os.path.dirname(drive))
    open(drive, "wb").write(b"by hand")
    assert local_file("https://drive.google.com/file/d/1AbC_d-9/view") == drive


def test_pretrained_overlay_fetches_through_the_zoo_cache(tmp_path, monkeypatch):
    import timm

    from vmamba_zoo.checkpoint import cache_path, pretrained_file_overlay

    monkeypatch.setenv("VMAMBA_ZOO_WEIGHTS", str(tmp_path / "cache"))
    model = timm.create_model("vmamba_tiny_s1l8", depths=(1, 1, 1, 1))
    path = tmp_path / "released.pth"
    torch.save({"model": model.state_dict()}, path)
    downloads = _serve_from(tmp_path, monkeypatch, path.read_bytes())
    url = model.pretrained_cfg["url"]
    assert pretrained_file_overlay("vmamba_tiny_s1l8.in1k") == {"file": cache_path(url)}
    assert downloads == [url]
    own = {"file": str(path)}
    assert pretrained_file_overlay("vmamba_tiny_s1l8", pretrained_cfg_overlay=own) == own
    loaded = timm.create_model("vmamba_tiny_s1l8", pretrained=True, depths=(1, 1, 1, 1))
    assert loaded.pretrained_cfg["file"] == cache_path(url) and downloads == [url]  # cached once
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


@pytest.mark.parametrize("name", ["vmamba_tiny_s1l8"])
def test_timm_load_and_resume_checkpoint(tmp_path, name):
    """timm's own ``load_checkpoint`` / ``resume_checkpoint`` on a zoo model's state dict, a timm
    training checkpoint and the authors' ``{'model': ...}`` layout (the authors' files with pickled
    config objects need ``pretrained_cfg_overlay=dict(file=...)``: timm loads weights only)."""
    import timm
    from timm.models import load_checkpoint, resume_checkpoint

    trained = timm.create_model(name, depths=(1, 1, 1, 1))
    optimizer = torch.optim.AdamW(trained.parameters())
    trained(torch.randn(1, 3, 64, 64)).sum().backward()
    optimizer.step()
    expected = trained.state_dict()

    def same(model):
        return all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())

    torch.save(expected, tmp_path / "state_dict.pth")
    model = timm.create_model(name, depths=(1, 1, 1, 1))
    load_checkpoint(model, str(tmp_path / "state_dict.pth"))
    assert same(model)

    torch.save({"epoch": 3, "arch": name, "state_dict": expected, "optimizer": optimizer.state_dict(),
                "version": 2}, tmp_path / "train.pth")
    model = timm.create_model(name, depths=(1, 1, 1, 1))
    resumed_optimizer = torch.optim.AdamW(model.parameters())
    assert resume_checkpoint(model, str(tmp_path / "train.pth"), resumed_optimizer, log_info=False) == 4
    assert same(model) and resumed_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()

    torch.save({"model": expected, "epoch": 299}, tmp_path / "released.pth")
    model = timm.create_model(name, depths=(1, 1, 1, 1))
    load_checkpoint(model, str(tmp_path / "released.pth"), filter_fn=model.checkpoint_filter_fn)
    assert same(model)
