"""The two detector designs: small, trained from scratch, one logit per patch, raw pixels in.

Both compute their forensic pre-processing inside the graph, so the exported ONNX takes the same
``[0, 1]`` patches as every other veriscan detector and no NumPy pre-processing can drift between
training and inference. Both are sized for the inference budget: a 16-patch batch of 64-px patches
costs a few tens of millions of multiply-adds, far under 50 ms on one CPU core.

``npr``: the neighbouring-pixel residual of Tan et al. (CVPR 2024), ``x - up2(down2(x))`` with
nearest-neighbour resampling. Generators up-sample their latents, which leaves correlated 2x2
pixel neighbourhoods; the residual exposes exactly that and removes image content.

``residual``: fixed SRM high-pass filters from steganalysis (Fridrich and Kodovsky, 2012), with
their classic truncation, followed by a small convolutional head. The filters are frozen, so the
few parameters left learn noise statistics rather than scene content, which suits small corpora.
"""

from __future__ import annotations

from typing import Final, cast

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

DESIGNS: Final = ("npr", "residual")
WIDTH: Final = 32


def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.short(x))


class NprNet(nn.Module):
    """NPR residual into a truncated ResNet (width, 2x, 4x channels), global pooling, one logit.

    The stem keeps full resolution so the 2x2 structure is read before any stride.
    """

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(
            BasicBlock(width, 2 * width, 2),
            BasicBlock(2 * width, 4 * width, 2),
        )
        self.head = nn.Linear(4 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = F.interpolate(x[:, :, ::2, ::2], scale_factor=2.0, mode="nearest")
        npr = (x - low) * 4.0
        y = self.blocks(self.stem(npr))
        logit: torch.Tensor = self.head(torch.mean(y, dim=(2, 3)))
        return logit.squeeze(1)


def srm_kernels() -> torch.Tensor:
    """Four SRM residual kernels (5x5), applied to each colour channel on its own."""
    kb = torch.tensor([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], dtype=torch.float32) / 4.0
    kv = (
        torch.tensor(
            [
                [-1, 2, -2, 2, -1],
                [2, -6, 8, -6, 2],
                [-2, 8, -12, 8, -2],
                [2, -6, 8, -6, 2],
                [-1, 2, -2, 2, -1],
            ],
            dtype=torch.float32,
        )
        / 12.0
    )
    second = torch.tensor([1, -2, 1], dtype=torch.float32) / 2.0
    kernels = torch.zeros(4, 5, 5)
    kernels[0, 1:4, 1:4] = kb
    kernels[1] = kv
    kernels[2, 2, 1:4] = second
    kernels[3, 1:4, 2] = second
    return kernels


class ResidualNet(nn.Module):
    """Frozen SRM filters, truncation at +-3 grey levels, then four small conv stages."""

    TRUNCATE: Final = 3.0

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        kernels = srm_kernels()
        bank = kernels.unsqueeze(1).repeat(3, 1, 1, 1)
        self.register_buffer("srm", bank * 255.0)
        self.features = nn.Sequential(
            _conv_bn(3 * kernels.shape[0], width, 1),
            _conv_bn(width, width, 2),
            _conv_bn(width, 2 * width, 2),
            _conv_bn(2 * width, 4 * width, 2),
            _conv_bn(4 * width, 4 * width, 1),
        )
        self.head = nn.Linear(8 * width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        srm = cast(torch.Tensor, self.srm)
        residual = F.conv2d(x, srm, groups=3)
        residual = torch.clamp(residual, -self.TRUNCATE, self.TRUNCATE) / self.TRUNCATE
        y = self.features(residual)
        pooled = torch.cat([torch.mean(y, dim=(2, 3)), torch.amax(y, dim=(2, 3))], dim=1)
        logit: torch.Tensor = self.head(pooled)
        return logit.squeeze(1)


def build(design: str, width: int = WIDTH) -> nn.Module:
    if design == "npr":
        return NprNet(width)
    if design == "residual":
        return ResidualNet(width)
    raise ValueError(f"design must be one of {', '.join(DESIGNS)}, not {design!r}")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
