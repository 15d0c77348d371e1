"""The numbers the original authors published, each with its source, and the licences of their
code and weights, each with where it is stated.

This is data, read by ``tools/make_model_cards.py`` (the model cards) and ``tools/benchmark.py``
(``--baselines``: which timm models, by size class; ``--plot``: throughput against published
top-1). Every number has one of three kinds (:data:`KINDS`): *published* (printed by the authors,
with the URL of the table or paper), *counted* (params and FLOPs under ``reference_*``: obtained by
running the authors' own code at the commit named by its :class:`Family`, their model classes
counted with fvcore at 224², batch 1) or *measured* (by us, with ``tools/benchmark.py``: never
stored here, only in the cards' measured section).
"""

from __future__ import annotations

from dataclasses import dataclass, field

_VMAMBA_RELEASES = "https://github.com/MzeroMiko/VMamba/releases/download/"
_VMAMBA_README = "https://github.com/MzeroMiko/VMamba/blob/main/README.md"
_VMAMBA_RESULTS = "https://github.com/MzeroMiko/VMamba/blob/main/assets/performance.md"
_EFFICIENTVMAMBA_README = "https://github.com/TerryPei/EfficientVMamba/blob/main/README.md"
_GROUPMAMBA_README = "https://github.com/Amshaker/GroupMamba/blob/main/README.md"
_GROUPMAMBA_PAPER = "https://arxiv.org/abs/2407.13772"
_SPATIALMAMBA_README = "https://github.com/EdwardChasel/Spatial-Mamba/blob/main/README.md"


# The kinds of number a model card may show.
KINDS = ("published", "counted", "measured")


@dataclass(frozen=True)
class Licence:
    """A licence as its holder states it, with where it is stated."""

    id: str  # timm's ``pretrained_cfg['license']`` form: "mit", "apache-2.0", "non-commercial", "none stated"
    text: str  # what the card says, in a sentence
    source: str  # URL where the licence is stated (or where its absence was checked)
    non_commercial: bool = False


@dataclass(frozen=True)
class Classification:
    """A published image-classification result."""

    top1: float
    source: str  # URL of the table or paper the number comes from
    dataset: str = "ImageNet-1K"
    resolution: int = 224
    top5: float | None = None
    params_m: float | None = None  # as printed in the source (millions)
    gflops: float | None = None  # as printed in the source
    note: str = ""
    gflops_source: str = ""  # where the FLOPs are printed, when not in ``source``


@dataclass(frozen=True)
class Downstream:
    """A published detection or segmentation result with this backbone."""

    task: str  # "detection" | "segmentation"
    dataset: str
    method: str
    schedule: str
    metrics: tuple[tuple[str, float], ...]
    source: str
    params_m: float | None = None  # whole detector / segmentor
    gflops: float | None = None
    flops_input: str = ""
    checkpoint: str | None = None


@dataclass(frozen=True)
class Family:
    """What every model of one family shares."""

    key: str
    title: str  # display name
    paper: str  # paper title
    paper_url: str
    code_url: str
    code_licence: Licence  # the authors' code
    weights_licence: Licence  # the authors' released weights
    upstream_commit: str  # the commit of ``code_url`` whose code gave the ``reference_*`` counts
    upstream_file: str  # the file of the model classes that were counted
    citation: str  # BibTeX, as given in the authors' README
    summary: str
    mm_backbone: str  # the MMEngine backbone type registered by ``vmamba_zoo.mm``
    venue: str = ""  # where the paper appeared, only with ``venue_source``
    venue_source: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishedModel:
    """The published facts about one model, keyed by its timm name."""

    name: str
    family: str
    title: str
    config: str  # one-line architecture summary (depths, widths, scan settings)
    classification: tuple[Classification, ...] = ()
    downstream: tuple[Downstream, ...] = ()
    reference_params: int | None = None  # counted: authors' code, parameter elements
    reference_gflops: float | None = None  # counted: authors' code, fvcore MACs at 224², batch 1
    published_throughput: str = ""  # the authors' own speed claim, with its hardware
    notes: tuple[str, ...] = field(default=())

    @property
    def imagenet_top1(self) -> float | None:
        for result in self.classification:
            if result.dataset == "ImageNet-1K":
                return result.top1
        return None


FAMILIES: dict[str, Family] = {
    "vmamba": Family(
        key="vmamba",
        title="VMamba",
        paper="VMamba: Visual State Space Model",
        paper_url="https://arxiv.org/abs/2401.10166",
        code_url="https://github.com/MzeroMiko/VMamba",
        code_licence=Licence("mit", "MIT", "https://github.com/MzeroMiko/VMamba/blob/main/LICENSE"),
        weights_licence=Licence(
            "mit",
            "MIT: released as assets of the repository's GitHub releases, which state no licence of "
            "their own (the repository's licence applies)",
            "https://github.com/MzeroMiko/VMamba/releases",
        ),
        upstream_commit="2ed52ead062a51a64521ed3871d52914bf532876",
        upstream_file="classification/models/vmamba.py",
        venue="NeurIPS 2024 (spotlight)",
        venue_source=_VMAMBA_README,
        citation=(
            "@article{liu2024vmamba,\n"
            "  title={VMamba: Visual State Space Model},\n"
            "  author={Liu, Yue and Tian, Yunjie and Zhao, Yuzhong and Yu, Hongtian and Xie, Lingxi"
            " and Wang, Yaowei and Ye, Qixiang and Liu, Yunfan},\n"
            "  journal={arXiv preprint arXiv:2401.10166},\n"
            "  year={2024}\n"
            "}"
        ),
        summary=(
            "A hierarchical (4-stage, strides 4/8/16/32) backbone whose token mixer is SS2D: the "
            "feature map is flattened along four routes (row-major, column-major and both reversed), "
            "each route runs a selective scan (S6), and the four outputs are merged back."
        ),
        mm_backbone="VMamba",
    ),
    "efficientvmamba": Family(
        key="efficientvmamba",
        title="EfficientVMamba",
        paper="EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba",
        paper_url="https://arxiv.org/abs/2403.09977",
        code_url="https://github.com/TerryPei/EfficientVMamba",
        code_licence=Licence(
            "apache-2.0",
            "Apache-2.0, as the authors' README states (the repository carries no LICENSE file)",
            _EFFICIENTVMAMBA_README,
        ),
        weights_licence=Licence(
            "apache-2.0",
            "Apache-2.0: the project licence the README states; the README links the weights "
            "(Hugging Face, TerryPei/EfficientVMamba-*) and states no separate weights licence",
            _EFFICIENTVMAMBA_README,
        ),
        upstream_commit="0bc5ee288b402d648641f5494b73e9d152e0c62b",
        upstream_file="classification/models/vmamba_efficient.py",
        citation=(
            "@article{pei2024efficientvmamba,\n"
            "  title={EfficientVMamba: Atrous Selective Scan for Light Weight Visual Mamba},\n"
            "  author={Pei, Xiaohuan and Huang, Tao and Xu, Chang},\n"
            "  journal={arXiv preprint arXiv:2403.09977},\n"
            "  year={2024}\n"
            "}"
        ),
        summary=(
            "A light-weight hierarchical backbone: stages 1-2 use EVSS blocks (an SS2D whose four "
            "routes scan the map with stride 2 — the atrous scan — next to a depthwise-conv branch, "
            "joined by a shared channel gate); stages 3-4 use MobileNetV2 inverted residuals with SE."
        ),
        mm_backbone="EfficientVMamba",
        notes=(
            "The repository releases no detection or segmentation results or weights; the paper's "
            "downstream numbers are not reproduced here.",
        ),
    ),
    "groupmamba": Family(
        key="groupmamba",
        title="GroupMamba",
        paper="GroupMamba: Efficient Group-Based Visual State Space Model",
        paper_url=_GROUPMAMBA_PAPER,
        code_url="https://github.com/Amshaker/GroupMamba",
        code_licence=Licence("mit", "MIT", "https://github.com/Amshaker/GroupMamba/blob/main/LICENSE"),
        weights_licence=Licence(
            "non-commercial",
            "Non-commercial: the Hugging Face weight cards (GroupMamba-Tiny, -Small, -Base) say "
            "\"Non-commercial license\" in their text, although their metadata tag says mit; the "
            "stricter statement is the one to follow",
            "https://huggingface.co/Abdelrahman-shaker/GroupMamba-Tiny",
            non_commercial=True,
        ),
        upstream_commit="c1800ed262e995de3c645348e7e0202e8385f334",
        upstream_file="classification/models/groupmamba.py",
        citation=(
            "@article{shaker2024groupmamba,\n"
            "  title={GroupMamba: Parameter-Efficient and Accurate Group Visual State Space Model},\n"
            "  author={Shaker, Abdelrahman and Wasim, Syed Talal and Khan, Salman and Gall, J{\\\"u}rgen"
            " and Khan, Fahad Shahbaz},\n"
            "  journal={arXiv preprint arXiv:2407.13772},\n"
            "  year={2024}\n"
            "}"
        ),
        summary=(
            "A hierarchical backbone whose Modulated Group Mamba layer splits the channels into four "
            "groups, scans each group along one of four directions with a small single-direction "
            "SS2D, and re-weights the concatenated groups with a channel-affinity gate."
        ),
        mm_backbone="GroupMamba",
        notes=(
            "The published ImageNet models were trained with distillation; the repository releases "
            "no detection or segmentation code, results or weights.",
        ),
    ),
    "spatialmamba": Family(
        key="spatialmamba",
        title="Spatial-Mamba",
        paper="Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State Fusion",
        paper_url="https://arxiv.org/abs/2410.15091",
        code_url="https://github.com/EdwardChasel/Spatial-Mamba",
        code_licence=Licence(
            "apache-2.0", "Apache-2.0", "https://github.com/EdwardChasel/Spatial-Mamba/blob/main/LICENSE"
        ),
        weights_licence=Licence(
            "apache-2.0",
            "Apache-2.0: the project licence the README states; the README links the weights "
            "(Google Drive) and states no separate weights licence",
            _SPATIALMAMBA_README,
        ),
        upstream_commit="71221ebfaa5fe797445be0292f0ec7048fe457c1",
        upstream_file="classification/models/spatialmamba.py",
        citation=(
            "@article{xiao2024spatialmamba,\n"
            "  title={Spatial-Mamba: Effective Visual State Space Models via Structure-Aware State"
            " Fusion},\n"
            "  author={Chaodong Xiao and Minghan Li and Zhengqiang Zhang and Deyu Meng and Lei Zhang},\n"
            "  journal={arXiv preprint arXiv:2410.15091},\n"
            "  year={2024}\n"
            "}"
        ),
        summary=(
            "A hierarchical backbone that runs one row-major selective scan, keeps all its hidden "
            "states, and fuses them over the 2-D neighbourhood with dilated depthwise convolutions "
            "(structure-aware state fusion) before the output projection."
        ),
        mm_backbone="SpatialMamba",
    ),
    "resvmamba": Family(
        key="resvmamba",
        title="Res-VMamba",
        paper=(
            "Res-VMamba: Fine-Grained Food Category Visual Classification Using Selective State "
            "Space Models with Deep Residual Learning"
        ),
        paper_url="https://arxiv.org/abs/2402.15761",
        code_url="https://github.com/ChiShengChen/ResVMamba",
        code_licence=Licence(
            "none stated",
            "none stated: the repository has no LICENSE file and its README no licence notice",
            "https://github.com/ChiShengChen/ResVMamba",
        ),
        weights_licence=Licence(
            "mit",
            "MIT, as the Hugging Face weights repository is tagged (license: mit)",
            "https://huggingface.co/ms57rd/Res-VMamba",
        ),
        upstream_commit="b7a080df1b99ea655c3b55be2528ff02f4849063",
        upstream_file="models/resvmamba.py",
        venue="PLOS ONE (2025)",
        venue_source="https://doi.org/10.1371/journal.pone.0322695",
        citation=(
            "@article{chen2024res,\n"
            "  title={Res-vmamba: Fine-grained food category visual classification using selective"
            " state space models with deep residual learning},\n"
            "  author={Chen, Chi-Sheng and Chen, Guan-Ying and Zhou, Dong and Jiang, Di and Chen,"
            " Dai-Shi},\n"
            "  journal={arXiv preprint arXiv:2402.15761},\n"
            "  year={2024}\n"
            "}"
        ),
        summary=(
            "Vanilla VMamba-S with a stage-skip path: each of the first three stages' input is "
            "max-pooled, projected by a 1x1 convolution and added after the stage's patch merging. "
            "Trained for 241-class fine-grained food recognition (CNFOOD-241)."
        ),
        mm_backbone="ResVMamba",
        notes=(
            "The original code re-draws the three 1x1 skip projections at random on every forward; "
            "ours draws them once from a fixed seed (`per_call_random_projections=True` restores the "
            "original behaviour).",
        ),
    ),
}


def _vmamba_cls(top1: float, params_m: float, gflops: float, old_gflops: float | None = None):
    note = f"an older FLOP count, {old_gflops}G, is struck through in the same table" if old_gflops else ""
    return (Classification(top1, _VMAMBA_RESULTS, params_m=params_m, gflops=gflops, note=note),)


def _vmamba_det(schedule: str, params_m: float, gflops: float, box: tuple, mask: tuple, ckpt: str):
    names = ("AP^b", "AP^b50", "AP^b75", "AP^m", "AP^m50", "AP^m75")
    return Downstream(
        task="detection", dataset="COCO val2017", method="Mask R-CNN", schedule=schedule,
        metrics=tuple(zip(names, box + mask)), source=_VMAMBA_RESULTS, params_m=params_m,
        gflops=gflops, flops_input="1280x800", checkpoint=_VMAMBA_RELEASES + ckpt,
    )


def _vmamba_seg(params_m: float, gflops: float, ss: float, ms: float, ckpt: str):
    return Downstream(
        task="segmentation", dataset="ADE20K val", method="UperNet", schedule="160k, 512x512",
        metrics=(("mIoU (SS)", ss), ("mIoU (MS)", ms)), source=_VMAMBA_RESULTS, params_m=params_m,
        gflops=gflops, flops_input="512x2048", checkpoint=_VMAMBA_RELEASES + ckpt,
    )


def _tp(inference: int, train: int) -> str:
    return f"{inference} img/s inference, {train} img/s training (A100, batch 128, authors' table)"


_V0 = "d_state 16, ssm_ratio 2.0, no MLP, patch-embed stem and patch merging (Vanilla VMamba)"
_V2 = "d_state 1, MLP ratio 4, conv stem and overlapping conv downsampling"

_VMAMBA_MODELS = (
    PublishedModel(
        name="vmamba_tiny_v0", family="vmamba", title="Vanilla-VMamba-T",
        config=f"depths 2-2-9-2, widths 96-192-384-768, {_V0}",
        classification=_vmamba_cls(82.2, 23, 5.6, 4.5),
        downstream=(
            _vmamba_det("1x", 42, 286, (46.5, 68.5, 50.7), (42.1, 65.5, 45.3),
                        "%23v0det/vssmtiny_mask_rcnn_swin_fpn_coco_epoch_12.pth"),
            _vmamba_det("3x MS", 42, 286, (48.5, 70.0, 52.7), (43.2, 66.9, 46.4),
                        "%23v0det/vssmtiny_mask_rcnn_swin_fpn_coco_ms_3x_epoch_34.pth"),
            _vmamba_seg(55, 964, 47.3, 48.3,
                        "%23v0seg/vssmtiny_upernet_4xb4-160k_ade20k-512x512_iter_160000.pth"),
        ),
        reference_params=22_893_448, reference_gflops=5.626895, published_throughput=_tp(638, 195),
    ),
    PublishedModel(
        name="vmamba_small_v0", family="vmamba", title="Vanilla-VMamba-S",
        config=f"depths 2-2-27-2, widths 96-192-384-768, {_V0}",
        classification=_vmamba_cls(83.5, 44, 11.2, 9.1),
        downstream=(
            _vmamba_det("1x", 64, 400, (48.2, 69.7, 52.5), (43.0, 66.6, 46.4),
                        "%23v0det/vssmsmall_mask_rcnn_swin_fpn_coco_epoch_12.pth"),
            _vmamba_det("3x MS", 64, 400, (49.7, 70.4, 54.2), (44.0, 67.6, 47.3),
                        "%23v0det/vssmsmall_mask_rcnn_swin_fpn_coco_ms_3x_epoch_34.pth"),
            _vmamba_seg(76, 1081, 49.5, 50.5,
                        "%23v0seg/vssmsmall_upernet_4xb4-160k_ade20k-512x512_iter_160000.pth"),
        ),
        reference_params=44_417_416, reference_gflops=11.231523, published_throughput=_tp(359, 111),
    ),
    PublishedModel(
        name="vmamba_base_v0", family="vmamba", title="Vanilla-VMamba-B",
        config=f"depths 2-2-27-2, widths 128-256-512-1024, {_V0}",
        classification=_vmamba_cls(83.7, 76, 18.0, 15.2),
        downstream=(
            _vmamba_det("1x", 96, 540, (48.6, 70.0, 53.1), (43.3, 67.1, 46.7),
                        "%23v0det/vssmbase_mask_rcnn_swin_fpn_coco_epoch_12.pth"),
            _vmamba_seg(110, 1226, 50.0, 51.3,
                        "%23v0seg/vssmbase_upernet_4xb4-160k_ade20k-512x512_iter_128000.pth"),
        ),
        reference_params=76_254_056, reference_gflops=18.020115, published_throughput=_tp(268, 84),
    ),
    PublishedModel(
        name="vmamba_tiny_s2l5", family="vmamba", title="VMamba-T [s2l5]",
        config=f"depths 2-2-5-2, widths 96-192-384-768, ssm_ratio 2.0, {_V2}",
        classification=_vmamba_cls(82.5, 31, 4.9),
        downstream=(
            _vmamba_det("1x", 50, 270, (47.4, 69.5, 52.0), (42.7, 66.3, 46.0),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_tiny_epoch_12.pth"),
            _vmamba_det("3x MS", 50, 270, (48.9, 70.6, 53.6), (43.7, 67.7, 46.8),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_tiny_ms_3x_epoch_36.pth"),
            _vmamba_seg(62, 948, 48.3, 48.6,
                        "%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_tiny_iter_160000.pth"),
        ),
        reference_params=30_705_832, reference_gflops=4.857742, published_throughput=_tp(1340, 464),
    ),
    PublishedModel(
        name="vmamba_small_s2l15", family="vmamba", title="VMamba-S [s2l15]",
        config=f"depths 2-2-15-2, widths 96-192-384-768, ssm_ratio 2.0, {_V2}",
        classification=_vmamba_cls(83.6, 50, 8.7),
        downstream=(
            _vmamba_det("1x", 70, 384, (48.7, 70.0, 53.4), (43.7, 67.3, 47.0),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_small_epoch_11.pth"),
            _vmamba_det("3x MS", 70, 384, (49.9, 70.9, 54.7), (44.2, 68.2, 47.7),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_small_ms_3x_epoch_32.pth"),
            _vmamba_seg(82, 1028, 50.6, 51.2,
                        "%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_small_iter_144000.pth"),
        ),
        reference_params=50_147_752, reference_gflops=8.715775, published_throughput=_tp(877, 314),
    ),
    PublishedModel(
        name="vmamba_base_s2l15", family="vmamba", title="VMamba-B [s2l15]",
        config=f"depths 2-2-15-2, widths 128-256-512-1024, ssm_ratio 2.0, {_V2}",
        classification=_vmamba_cls(83.9, 89, 15.4),
        downstream=(
            _vmamba_det("1x", 108, 485, (49.2, 71.4, 54.0), (44.1, 68.3, 47.7),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_base_epoch_11.pth"),
            _vmamba_seg(122, 1170, 51.0, 51.6,
                        "%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_base_iter_160000.pth"),
        ),
        reference_params=88_557_800, reference_gflops=15.358944, published_throughput=_tp(646, 247),
    ),
    PublishedModel(
        name="vmamba_tiny_s1l8", family="vmamba", title="VMamba-T [s1l8]",
        config=f"depths 2-2-8-2, widths 96-192-384-768, ssm_ratio 1.0, {_V2}",
        classification=_vmamba_cls(82.6, 30, 4.9),
        downstream=(
            _vmamba_det("1x", 50, 271, (47.3, 69.3, 52.0), (42.7, 66.4, 45.9),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_tiny_s_epoch_12.pth"),
            _vmamba_det("3x MS", 50, 271, (48.8, 70.4, 53.5), (43.7, 67.4, 47.0),
                        "%23v2det/mask_rcnn_vssm_fpn_coco_tiny_ms_3x_s_epoch_31.pth"),
            _vmamba_seg(62, 949, 47.9, 48.8,
                        "%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_tiny_s_iter_160000.pth"),
        ),
        reference_params=30_249_064, reference_gflops=4.905610, published_throughput=_tp(1686, 571),
    ),
    PublishedModel(
        name="vmamba_small_s1l20", family="vmamba", title="VMamba-S [s1l20]",
        config=f"depths 2-2-20-2, widths 96-192-384-768, ssm_ratio 1.0, {_V2}",
        classification=_vmamba_cls(83.3, 49, 8.6),
        reference_params=49_012_840, reference_gflops=8.612211, published_throughput=_tp(1106, 390),
    ),
    PublishedModel(
        name="vmamba_base_s1l20", family="vmamba", title="VMamba-B [s1l20]",
        config=f"depths 2-2-20-2, widths 128-256-512-1024, ssm_ratio 1.0, {_V2}",
        classification=_vmamba_cls(83.8, 87, 15.2),
        reference_params=86_614_504, reference_gflops=15.220860, published_throughput=_tp(827, 313),
    ),
)

_EVSS = (
    "stages 1-2 EVSS (atrous SS2D, d_state 16, ssm_ratio 2, + conv branch and SE gate), "
    "stages 3-4 inverted residuals (expand 4, SE 0.125)"
)
_EFFICIENTVMAMBA_MODELS = (
    PublishedModel(
        name="efficientvmamba_tiny", family="efficientvmamba", title="EfficientVMamba-T",
        config=f"depths 2-2-4-2, widths 48-96-192-384, {_EVSS}",
        classification=(
            Classification(76.5, _EFFICIENTVMAMBA_README, params_m=6, gflops=0.8),
        ),
        reference_params=6_493_660, reference_gflops=0.806431,
    ),
    PublishedModel(
        name="efficientvmamba_small", family="efficientvmamba", title="EfficientVMamba-S",
        config=f"depths 2-2-4-2, widths 64-128-256-512, {_EVSS}",
        classification=(
            Classification(78.7, _EFFICIENTVMAMBA_README, params_m=11, gflops=1.3),
        ),
        reference_params=11_273_688, reference_gflops=1.342576,
        notes=(
            "The released Small model has base width 64; the repository's Small yaml says 96, "
            "which does not match the checkpoint or the published numbers.",
        ),
    ),
    PublishedModel(
        name="efficientvmamba_base", family="efficientvmamba", title="EfficientVMamba-B",
        config=f"depths 2-2-9-2, widths 96-192-384-768, {_EVSS}",
        classification=(
            Classification(81.8, _EFFICIENTVMAMBA_README, params_m=33, gflops=4.0),
        ),
        reference_params=33_717_136, reference_gflops=3.996668,
    ),
)

_GROUP = "4 channel groups each scanned in one direction, d_state 1, MLP ratios 8-8-4-4, CAM gate"
_GROUPMAMBA_NOTE = (
    "Top-1 and #params from the authors' README; FLOPs from the paper's ImageNet-1K classification "
    "table (the README prints none). fvcore with the scan handle counts 0.2-0.3G more on the "
    "authors' own code (how the paper counted is not published)."
)
_GROUPMAMBA_MODELS = (
    PublishedModel(
        name="groupmamba_tiny", family="groupmamba", title="GroupMamba-T",
        config=f"depths 3-4-9-3, widths 64-128-348-448, {_GROUP}",
        classification=(
            Classification(83.3, _GROUPMAMBA_README, params_m=23, gflops=4.5, note=_GROUPMAMBA_NOTE,
                           gflops_source=_GROUPMAMBA_PAPER),
        ),
        reference_params=23_361_917, reference_gflops=4.705847,
    ),
    PublishedModel(
        name="groupmamba_small", family="groupmamba", title="GroupMamba-S",
        config=f"depths 3-4-16-3, widths 64-128-348-512, {_GROUP}",
        classification=(
            Classification(83.9, _GROUPMAMBA_README, params_m=34, gflops=7.0, note=_GROUPMAMBA_NOTE,
                           gflops_source=_GROUPMAMBA_PAPER),
        ),
        reference_params=34_781_555, reference_gflops=7.280968,
    ),
    PublishedModel(
        name="groupmamba_base", family="groupmamba", title="GroupMamba-B",
        config=f"depths 3-6-21-3, widths 96-192-424-512, {_GROUP}",
        classification=(
            Classification(84.5, _GROUPMAMBA_README, params_m=57, gflops=14.0, note=_GROUPMAMBA_NOTE,
                           gflops_source=_GROUPMAMBA_PAPER),
        ),
        reference_params=57_150_838, reference_gflops=14.186456,
    ),
)

_SPATIAL = "one row-major scan, d_state 1, ssm_ratio 2, MLP ratio 4, structure-aware state fusion"
_DRIVE = "https://drive.google.com/file/d/{}/view"


def _spatial_det(schedule: str, box: float, mask: float, params_m: float, gflops: float, ckpt: str):
    return Downstream(
        task="detection", dataset="COCO val2017", method="Mask R-CNN", schedule=schedule,
        metrics=(("AP^b", box), ("AP^m", mask)), source=_SPATIALMAMBA_README, params_m=params_m,
        gflops=gflops, checkpoint=_DRIVE.format(ckpt),
    )


def _spatial_seg(ss: float, ms: float, params_m: float, gflops: float, ckpt: str):
    return Downstream(
        task="segmentation", dataset="ADE20K val", method="UperNet", schedule="160k, 512x512",
        metrics=(("mIoU (SS)", ss), ("mIoU (MS)", ms)), source=_SPATIALMAMBA_README,
        params_m=params_m, gflops=gflops, checkpoint=_DRIVE.format(ckpt),
    )


_SPATIALMAMBA_MODELS = (
    PublishedModel(
        name="spatialmamba_tiny", family="spatialmamba", title="Spatial-Mamba-T",
        config=f"depths 2-4-8-4, widths 64-128-256-512, {_SPATIAL}",
        classification=(Classification(83.5, _SPATIALMAMBA_README, params_m=27, gflops=4.5),),
        downstream=(
            _spatial_det("1x", 47.6, 42.9, 46, 261, "1lmA0_pBQbvuMkJD1R5m3oS_2jXaSy3N3"),
            _spatial_det("3x", 49.3, 43.6, 46, 261, "1PY0_8ZCwogssmaULdc6MzVbCTGm_83Ew"),
            _spatial_seg(48.6, 49.4, 57, 936, "1ngRweMh6vLjfZ43fb_o_ZyHs6psxb6Ix"),
        ),
        reference_params=26_748_862, reference_gflops=4.467681,
    ),
    PublishedModel(
        name="spatialmamba_small", family="spatialmamba", title="Spatial-Mamba-S",
        config=f"depths 2-4-21-5, widths 64-128-256-512, {_SPATIAL}",
        classification=(Classification(84.6, _SPATIALMAMBA_README, params_m=43, gflops=7.1),),
        downstream=(
            _spatial_det("1x", 49.2, 44.0, 63, 315, "1pzjz1A6nWA9W2FW2Ymg5JSAMbvxmc2hP"),
            _spatial_det("3x", 50.5, 44.6, 63, 315, "19fDAk8cyMplgVRKqU0BC_3l1NxXzHYl_"),
            _spatial_seg(50.6, 51.4, 73, 992, "1Ve07Um4dIPCcdg0mdNLjGxJtxKNWB_Sy"),
        ),
        reference_params=43_074_280, reference_gflops=7.116974,
    ),
    PublishedModel(
        name="spatialmamba_base", family="spatialmamba", title="Spatial-Mamba-B",
        config=f"depths 2-4-21-5, widths 96-192-384-768, {_SPATIAL}",
        classification=(Classification(85.3, _SPATIALMAMBA_README, params_m=96, gflops=15.8),),
        downstream=(
            _spatial_det("1x", 50.4, 45.1, 115, 494, "1oTyT0q88ernqc1_IyqBWHrVJJPGNRN8r"),
            _spatial_seg(51.8, 52.6, 127, 1176, "1DLSC20TiSfzWrdgLRSdgrhnDn79nruB6"),
        ),
        reference_params=95_745_592, reference_gflops=15.800638,
    ),
)

_RESVMAMBA_MODELS = (
    PublishedModel(
        name="resvmamba_small", family="resvmamba", title="Res-VMamba-S",
        config=(
            "Vanilla-VMamba-S (depths 2-2-27-2, widths 96-192-384-768, d_state 16, no MLP) "
            "+ stage-skip 1x1 projections; 241 classes"
        ),
        classification=(
            Classification(
                79.54, "https://arxiv.org/abs/2402.15761", dataset="CNFOOD-241",
                note="arXiv v3 abstract, trained without pretrained weights",
            ),
            Classification(
                81.70, "https://doi.org/10.1371/journal.pone.0322695", dataset="CNFOOD-241",
                top5=96.83, note="PLOS ONE 2025 abstract",
            ),
        ),
        reference_params=43_833_745, reference_gflops=11.274292,
    ),
)

# The baselines of ``tools/benchmark.py --baselines``: timm's own models, grouped by the size class
# of ours they are compared with, each with the ImageNet-1K top-1 (224²) that its paper or official
# repository reports.
_SWIN = "https://github.com/microsoft/Swin-Transformer/blob/main/README.md"
_CONVNEXT = "https://github.com/facebookresearch/ConvNeXt/blob/main/README.md"
_MAMBAOUT = "https://github.com/yuweihao/MambaOut/blob/main/README.md"
BASELINES_BY_SIZE: dict[str, tuple[PublishedModel, ...]] = {
    "tiny": (
        PublishedModel("swin_tiny_patch4_window7_224", "swin", "Swin-T", "",
                       (Classification(81.2, _SWIN, params_m=28, gflops=4.5),)),
        PublishedModel("convnext_tiny", "convnext", "ConvNeXt-T", "",
                       (Classification(82.1, _CONVNEXT, params_m=28, gflops=4.5),)),
        PublishedModel("mambaout_tiny", "mambaout", "MambaOut-T", "",
                       (Classification(82.7, _MAMBAOUT, params_m=26.5, gflops=4.5),)),
        PublishedModel("resnet50", "resnet", "ResNet-50 (A1)", "",
                       (Classification(80.4, "https://arxiv.org/abs/2110.00476",
                                       note="ResNet strikes back, procedure A1 (timm's default "
                                            "resnet50 weights)"),)),
        PublishedModel("efficientnet_b0", "efficientnet", "EfficientNet-B0", "",
                       (Classification(77.1, "https://arxiv.org/abs/1905.11946",
                                       params_m=5.3, gflops=0.39),)),
        PublishedModel("vit_small_patch16_224", "vit", "ViT-S/16 (DeiT-S)", "",
                       (Classification(79.8, "https://arxiv.org/abs/2012.12877", params_m=22,
                                       gflops=4.6, note="DeiT-S, ImageNet-1K only; timm's default "
                                                        "vit_small weights are ImageNet-21K "
                                                        "pre-trained"),)),
    ),
    "small": (
        PublishedModel("swin_small_patch4_window7_224", "swin", "Swin-S", "",
                       (Classification(83.2, _SWIN, params_m=50, gflops=8.7),)),
        PublishedModel("convnext_small", "convnext", "ConvNeXt-S", "",
                       (Classification(83.1, _CONVNEXT, params_m=50, gflops=8.7),)),
        PublishedModel("mambaout_small", "mambaout", "MambaOut-S", "",
                       (Classification(84.1, _MAMBAOUT, params_m=48.5, gflops=9.0),)),
    ),
    "base": (
        PublishedModel("swin_base_patch4_window7_224", "swin", "Swin-B", "",
                       (Classification(83.5, _SWIN, params_m=88, gflops=15.4),)),
        PublishedModel("convnext_base", "convnext", "ConvNeXt-B", "",
                       (Classification(83.8, _CONVNEXT, params_m=89, gflops=15.4),)),
        PublishedModel("mambaout_base", "mambaout", "MambaOut-B", "",
                       (Classification(84.2, _MAMBAOUT, params_m=84.8, gflops=15.8),)),
    ),
}
# The same baselines by timm name.
BASELINES: dict[str, PublishedModel] = {
    model.name: model for group in BASELINES_BY_SIZE.values() for model in group
}

MODELS: dict[str, PublishedModel] = {
    model.name: model
    for model in (
        _VMAMBA_MODELS + _EFFICIENTVMAMBA_MODELS + _GROUPMAMBA_MODELS + _SPATIALMAMBA_MODELS
        + _RESVMAMBA_MODELS
    )
}

# timm names that are other names of a model above: the paper's final model of each size.
ALIASES: dict[str, str] = {
    "vmamba_tiny": "vmamba_tiny_s1l8",
    "vmamba_small": "vmamba_small_s2l15",
    "vmamba_base": "vmamba_base_s2l15",
}


def representative_models() -> list[str]:
    """The models that stand for the families wherever one or two per family are run (the demo,
    the shared tests, ``tools/gpu_check.py``): each family's smallest released model by parameters
    and, where :data:`ALIASES` names another ``<family>_tiny``, the paper's final tiny model after
    it (VMamba's s1l8 after the vanilla VMamba-T). A new family's rows in :data:`MODELS` enrol it."""
    names = []
    for key in FAMILIES:
        members = [model for model in MODELS.values() if model.family == key]
        if not members:
            continue
        smallest = min(members, key=lambda model: model.reference_params or float("inf"))
        names.append(smallest.name)
        final_tiny = ALIASES.get(f"{key}_tiny")
        if final_tiny is not None and final_tiny != smallest.name:
            names.append(final_tiny)
    return names


def family_of(name: str) -> Family | None:
    """The family a zoo timm name belongs to (by its name), or None."""
    # Longest key first: "resvmamba_..." and "efficientvmamba_..." also contain "vmamba".
    for key in sorted(FAMILIES, key=len, reverse=True):
        if name.startswith(key + "_"):
            return FAMILIES[key]
    return None


def lookup(name: str) -> PublishedModel | None:
    """Published facts of a zoo model or a benchmark baseline (aliases resolved), or None."""
    name = ALIASES.get(name, name)
    return MODELS.get(name) or BASELINES.get(name)
