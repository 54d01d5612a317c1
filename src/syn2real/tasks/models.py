"""Model builders: torchvision ResNet backbones and the task heads of the paper.

Backbones are ``torchvision.models.resnetXX(weights=None)`` (nothing is downloaded), with an
optional small-input stem (3 x 3 stride-1 conv, no max-pool) for 32-64 px images. Every model
exposes ``model.backbone_state()``: the backbone's weights under torchvision's key names, so
``torchvision.models.resnet50()`` loads a standard-stem checkpoint with ``strict=False``
listing only ``fc.*`` as missing (a small-stem one loads into ``build_backbone(...,
small_stem=True)``).

Tasks: ``mulclass`` / ``sinclass`` (ResNet + linear head), ``semseg`` (DeepLabV3 + auxiliary
FCN head on layer3), ``normal`` (DeepLabV3 with 3 outputs), ``objdet`` (Faster R-CNN + FPN,
settings sized for small images).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from torchvision import models as tvm

from ..registry import MODELS, STEMS

RESNETS = {"resnet18": tvm.resnet18, "resnet34": tvm.resnet34, "resnet50": tvm.resnet50,
           "resnet101": tvm.resnet101, "resnet152": tvm.resnet152}
assert set(RESNETS) == set(MODELS), "registry and torchvision builders disagree"


# stems (registry.STEMS): torchvision's 7x7/2 conv + max-pool ("imagenet"); 3x3/1 conv
# without max-pool ("small": 32 px inputs keep 4x4 at layer4, ~5x the cost); 3x3/1 conv with
# the max-pool kept ("small-pool": 2x2 at layer4).


def stem_name(small_stem: bool | str | None) -> str:
    """Normalise a stem choice: ``True`` is ``"small"``, ``False``/``None`` ``"imagenet"``."""
    if small_stem is None or small_stem is False:
        return "imagenet"
    if small_stem is True:
        return "small"
    if small_stem not in STEMS:
        raise ValueError(f"unknown stem {small_stem!r}; choose one of {STEMS}")
    return str(small_stem)


def build_backbone(arch: str = "resnet18", small_stem: bool | str = False,
                   dilated: bool = False) -> tvm.ResNet:
    """A randomly initialised torchvision ResNet (``fc`` kept, replaced by the heads).

    ``small_stem``: one of :data:`STEMS` (``True`` means ``"small"``).
    """
    if arch not in RESNETS:
        raise ValueError(f"unknown model {arch!r}; choose one of {sorted(RESNETS)}")
    net = RESNETS[arch](weights=None)
    if dilated:  # output stride 8 for dense heads; weight shapes unchanged
        _dilate(net.layer3, 2)
        _dilate(net.layer4, 4)
    stem = stem_name(small_stem)
    if stem != "imagenet":
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        if stem == "small":
            net.maxpool = nn.Identity()
    return net


def _dilate(layer: nn.Sequential, d: int) -> None:
    """Replace the stride of a ResNet stage by dilation (BasicBlock and Bottleneck alike)."""
    for m in layer.modules():
        if isinstance(m, nn.Conv2d):
            m.stride = (1, 1)
            if m.kernel_size == (3, 3):
                m.dilation = (d, d)
                m.padding = (d, d)


def _out(block: nn.Module) -> int:
    return block.conv3.out_channels if hasattr(block, "conv3") else block.conv2.out_channels


def _feature_channels(net: tvm.ResNet) -> tuple[int, int]:
    """Output channels of layer3 and layer4."""
    return _out(net.layer3[-1]), _out(net.layer4[-1])


class _WithBackbone(nn.Module):
    """Exports and loads the ResNet part under torchvision's key names (``fc.*`` excluded)."""

    def _body(self) -> nn.Module:
        raise NotImplementedError

    def backbone_state(self) -> OrderedDict:
        return OrderedDict((k, v) for k, v in self._body().state_dict().items()
                           if not k.startswith("fc."))

    def load_backbone(self, state: dict) -> None:
        missing, unexpected = self._body().load_state_dict(state, strict=False)
        _check_load(missing, unexpected, ("fc.",))


class Classifier(_WithBackbone):
    """ResNet with a new linear head (multi-label or single-label)."""

    def __init__(self, backbone: tvm.ResNet, num_classes: int) -> None:
        super().__init__()
        self.net = backbone
        self.net.fc = nn.Linear(backbone.fc.in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _body(self) -> nn.Module:
        return self.net


class DenseModel(_WithBackbone):
    """DeepLabV3 on a dilated ResNet (+ FCN auxiliary head on layer3 for segmentation)."""

    def __init__(self, backbone: tvm.ResNet, out_channels: int, aux: bool) -> None:
        super().__init__()
        from torchvision.models._utils import IntermediateLayerGetter
        from torchvision.models.segmentation.deeplabv3 import DeepLabHead
        from torchvision.models.segmentation.fcn import FCNHead

        c3, c4 = _feature_channels(backbone)
        layers = {"layer4": "out", "layer3": "aux"} if aux else {"layer4": "out"}
        self.backbone = IntermediateLayerGetter(backbone, return_layers=layers)
        self.classifier = DeepLabHead(c4, out_channels)
        self.aux_classifier = FCNHead(c3, out_channels) if aux else None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = x.shape[-2:]
        feats = self.backbone(x)
        out = {"out": nn.functional.interpolate(self.classifier(feats["out"]), size=size,
                                                mode="bilinear", align_corners=False)}
        if self.aux_classifier is not None:
            out["aux"] = nn.functional.interpolate(self.aux_classifier(feats["aux"]), size=size,
                                                   mode="bilinear", align_corners=False)
        return out

    def _body(self) -> nn.Module:
        return self.backbone


class Detector(_WithBackbone):
    """Faster R-CNN + FPN on a ResNet, sized for small images."""

    def __init__(self, backbone: tvm.ResNet, num_classes: int, image_size: int) -> None:
        super().__init__()
        from torchvision.models.detection import FasterRCNN
        from torchvision.models.detection.anchor_utils import AnchorGenerator
        from torchvision.models.detection.backbone_utils import BackboneWithFPN

        c3, c4 = _feature_channels(backbone)
        c1, c2 = _out(backbone.layer1[-1]), _out(backbone.layer2[-1])
        fpn = BackboneWithFPN(backbone, {"layer1": "0", "layer2": "1", "layer3": "2",
                                         "layer4": "3"}, [c1, c2, c3, c4], 128)
        # anchors sized for small images: 1/16 .. 1 of the image side over the 5 FPN levels
        base = max(2, image_size // 16)
        anchors = AnchorGenerator(tuple((base * 2**k,) for k in range(5)),
                                  ((0.5, 1.0, 2.0),) * 5)
        self.model = FasterRCNN(
            fpn, num_classes=num_classes + 1, min_size=image_size, max_size=image_size,
            rpn_anchor_generator=anchors,
            image_mean=[0.0, 0.0, 0.0], image_std=[1.0, 1.0, 1.0],
            rpn_pre_nms_top_n_train=300, rpn_pre_nms_top_n_test=150,
            rpn_post_nms_top_n_train=150, rpn_post_nms_top_n_test=75,
            rpn_batch_size_per_image=64, box_batch_size_per_image=64,
            box_detections_per_img=30, representation_size=256)

    def forward(self, images, targets=None):
        return self.model(images, targets)

    def _body(self) -> nn.Module:
        return self.model.backbone.body


def _check_load(missing: list[str], unexpected: list[str], allowed: tuple[str, ...]) -> None:
    bad = [k for k in missing if not k.startswith(allowed)]
    if bad or unexpected:
        raise ValueError(f"backbone checkpoint does not match this model: missing {bad[:5]}, "
                         f"unexpected {list(unexpected)[:5]}")


def build_model(task: str, arch: str = "resnet18", num_classes: int = 10,
                small_stem: bool | str = False, image_size: int = 64) -> nn.Module:
    """The model of a registered task (random initialisation): its
    :meth:`~syn2real.tasks.task.Task.build`."""
    from .task import get_task

    return get_task(task).build(arch, num_classes, small_stem, image_size)
