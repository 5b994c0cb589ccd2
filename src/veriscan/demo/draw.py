"""Procedural drawing for the demo evidence: landscapes that hash like photographs, and diagrams.

Every picture is drawn from a numpy random generator, so a seed always gives the same pixels; the
random draws happen in a fixed order, which is why these functions are never reordered lightly.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["DIAGRAM_KINDS", "RGB", "Rng", "landscape", "line_chart", "star"]

Rng = np.random.Generator
RGB = tuple[int, int, int]
_Canvas = ImageDraw.ImageDraw


# --- landscapes -----------------------------------------------------------------------------------


_PALETTES: tuple[tuple[RGB, RGB, RGB], ...] = (  # sky top, horizon, sun
    ((38, 92, 172), (172, 206, 236), (255, 250, 222)),
    ((58, 48, 118), (246, 150, 84), (255, 218, 150)),
    ((88, 138, 198), (238, 212, 182), (255, 240, 204)),
    ((24, 56, 110), (120, 170, 210), (250, 246, 236)),
)


def _jitter(rng: Rng, color: RGB, amount: int = 14) -> RGB:
    r, g, b = (int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)
    return r, g, b


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    r, g, bl = (round(x * (1 - t) + y * t) for x, y in zip(a, b, strict=True))
    return r, g, bl


def landscape(rng: Rng, width: int, height: int) -> Image.Image:
    """A lake-and-mountains scene; layout and palette vary enough that PDQ keeps scenes apart."""
    top, horizon_col, sun_col = (_jitter(rng, c) for c in _PALETTES[rng.integers(len(_PALETTES))])
    horizon = int(height * rng.uniform(0.42, 0.62))

    pixels = np.empty((height, width, 3), np.float32)
    t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
    pixels[:horizon] = (np.array(top) * (1 - t) + np.array(horizon_col) * t)[:, None, :]
    near, far = _jitter(rng, (92, 124, 62), 20), _jitter(rng, (44, 74, 34), 16)
    t = np.linspace(0.0, 1.0, height - horizon, dtype=np.float32)[:, None]
    pixels[horizon:] = (np.array(near) * (1 - t) + np.array(far) * t)[:, None, :]
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)

    sun_r = width * rng.uniform(0.03, 0.07)
    sun_x, sun_y = width * rng.uniform(0.1, 0.9), horizon * rng.uniform(0.15, 0.7)
    draw.ellipse((sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r), fill=sun_col)
    for _ in range(int(rng.integers(0, 5))):
        _cloud(rng, draw, width * rng.uniform(0, 1), horizon * rng.uniform(0.1, 0.6), width)

    mountain = _jitter(rng, (88, 96, 120), 24)
    for depth, (lift, amplitude) in enumerate(((0.28, 0.3), (0.12, 0.22))):
        colour = _mix(horizon_col, mountain, 0.55 + 0.35 * depth)
        ridge = _ridge(rng, width, horizon - horizon * lift, horizon * amplitude)
        draw.polygon([(0, horizon), *ridge, (width, horizon)], fill=colour)

    ground = height - horizon
    lake = (
        width * rng.uniform(0.15, 0.65),
        horizon + ground * rng.uniform(0.08, 0.3),
        width * rng.uniform(0.18, 0.35),
        ground * rng.uniform(0.1, 0.2),
    )
    cx, cy, rx, ry = lake
    water = _mix(horizon_col, (30, 60, 110), 0.45)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=water)
    glint = _mix(water, sun_col, 0.5)
    for k in range(int(rng.integers(3, 8))):
        y = cy - ry * 0.6 + k * ry * 0.25
        half = rx * rng.uniform(0.05, 0.25)
        draw.line((cx - half, y, cx + half, y), fill=glint, width=max(2, height // 400))

    trees = [
        (float(rng.uniform(0, width)), float(horizon + ground * rng.uniform(0.02, 1.0)))
        for _ in range(int(rng.integers(12, 40)))
    ]
    for x, y in sorted(trees, key=lambda p: p[1]):  # far trees first, so near ones overlap them
        if ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1.3:
            continue
        _tree(rng, draw, x, y, height * (0.05 + 0.25 * (y - horizon) / ground))

    image = image.filter(ImageFilter.GaussianBlur(1.4))
    # Ground texture, sensor noise and lens vignetting make the drawing compress, decode and hash
    # like a photograph rather than like flat vector art.
    pixels = np.asarray(image, dtype=np.float32) * _vignette(width, height)
    pixels[horizon:] += _texture(rng, width, ground)[:, :, None]
    grain = np.full((height, 1, 1), _SKY_GRAIN, np.float32)
    grain[horizon:] = _GROUND_GRAIN
    pixels += rng.standard_normal((height, width, 3), dtype=np.float32) * grain
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


_SKY_GRAIN, _GROUND_GRAIN, _TEXTURE = 3.0, 7.0, 14.0


def _texture(rng: Rng, width: int, height: int) -> np.ndarray:
    coarse = rng.standard_normal((max(1, height // 3), max(1, width // 3)), dtype=np.float32)
    smooth = Image.fromarray(coarse, "F").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(smooth, dtype=np.float32) * np.float32(_TEXTURE)


def _ridge(rng: Rng, width: int, base: float, amplitude: float) -> list[tuple[float, float]]:
    # Midpoint displacement: cheap, and reads as a mountain range at any scale.
    points = 65
    heights = np.zeros(points)
    heights[[0, -1]] = rng.uniform(0, 1, 2)
    step, scale = points - 1, 1.0
    while step > 1:
        half = step // 2
        for i in range(half, points - 1, step):
            heights[i] = (heights[i - half] + heights[i + half]) / 2 + rng.uniform(-scale, scale)
        step, scale = half, scale * 0.55
    heights = (heights - heights.min()) / max(float(np.ptp(heights)), 1e-6)
    xs = np.linspace(0, width, points)
    return [(float(x), float(base - amplitude * h)) for x, h in zip(xs, heights, strict=True)]


def _cloud(rng: Rng, draw: _Canvas, x: float, y: float, width: int) -> None:
    shade = _jitter(rng, (236, 238, 242), 10)
    size = width * rng.uniform(0.03, 0.06)
    for _ in range(int(rng.integers(4, 8))):
        ox, oy = rng.uniform(-2.2, 2.2) * size, rng.uniform(-0.5, 0.5) * size
        r = size * rng.uniform(0.6, 1.1)
        draw.ellipse((x + ox - r * 1.4, y + oy - r, x + ox + r * 1.4, y + oy + r), fill=shade)


def _tree(rng: Rng, draw: _Canvas, x: float, y: float, size: float) -> None:
    trunk = _jitter(rng, (82, 56, 34), 10)
    leaves = _jitter(rng, (30, 72, 38), 14)
    draw.rectangle((x - size * 0.04, y - size * 0.2, x + size * 0.04, y), fill=trunk)
    for tier in range(3):
        base = y - size * (0.15 + 0.25 * tier)
        half = size * (0.28 - 0.06 * tier)
        draw.polygon([(x - half, base), (x + half, base), (x, base - size * 0.45)], fill=leaves)


@lru_cache(maxsize=8)
def _vignette(width: int, height: int) -> np.ndarray:
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)
    falloff = 1.0 - 0.22 * (xs[None, :] ** 2 + ys[:, None] ** 2) / 2
    return falloff[:, :, None]


# --- diagrams -------------------------------------------------------------------------------------


def _colour(rng: Rng) -> RGB:
    r, g, b = (int(c) for c in rng.integers(40, 230, 3))
    return r, g, b


def _blank(rng: Rng, width: int, height: int, mode: str = "RGB") -> Image.Image:
    background = _jitter(rng, (244, 244, 240), 8)
    return Image.new(mode, (width, height), (*background, 255) if mode == "RGBA" else background)


def _flowchart(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height)
    draw = ImageDraw.Draw(image)
    cols, rows = 3, 3
    boxes = []
    for row in range(rows):
        for col in range(cols):
            if rng.uniform() < 0.25:
                continue
            cx, cy = width * (col + 0.5) / cols, height * (row + 0.5) / rows
            w, h = width / cols * 0.55, height / rows * 0.4
            boxes.append((cx, cy))
            draw.rounded_rectangle(
                (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
                radius=12,
                fill=_colour(rng),
                outline=(40, 40, 40),
                width=3,
            )
    ink = (40, 40, 40)
    for (x1, y1), (x2, y2) in itertools.pairwise(boxes):
        draw.line((x1, y1, x2, y2), fill=ink, width=3)
        draw.regular_polygon((x2, y2, 10), 3, rotation=float(rng.uniform(0, 360)), fill=ink)
    return image


def _bar_chart(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height)
    draw = ImageDraw.Draw(image)
    left, bottom = width * 0.1, height * 0.9
    draw.line((left, height * 0.08, left, bottom, width * 0.95, bottom), fill=(30, 30, 30), width=4)
    bars = int(rng.integers(5, 11))
    slot = (width * 0.85) / bars
    for i in range(bars):
        top = bottom - (bottom - height * 0.1) * rng.uniform(0.1, 1.0)
        x = left + slot * i + slot * 0.15
        draw.rectangle((x, top, x + slot * 0.7, bottom - 2), fill=_colour(rng))
    return image


def _pie_chart(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height, "RGBA")
    draw = ImageDraw.Draw(image)
    shares = rng.dirichlet(np.ones(int(rng.integers(3, 7))))
    margin = min(width, height) * 0.1
    start = 0.0
    for share in shares:
        end = start + 360.0 * float(share)
        box = (margin, margin, width - margin, height - margin)
        draw.pieslice(box, start, end, fill=(*_colour(rng), 255), outline=(255, 255, 255, 255))
        start = end
    # A transparent border exercises alpha handling in decoders and thumbnails.
    draw.rectangle((0, 0, width - 1, height - 1), outline=(0, 0, 0, 0), width=int(margin // 3))
    return image


def _target(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height)
    draw = ImageDraw.Draw(image)
    cx, cy = width / 2, height / 2
    rings = int(rng.integers(4, 9))
    for i in range(rings, 0, -1):
        r = min(width, height) * 0.45 * i / rings
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_colour(rng))
    draw.line((0, cy, width, cy), fill=(20, 20, 20), width=2)
    draw.line((cx, 0, cx, height), fill=(20, 20, 20), width=2)
    return image


def _mosaic(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height)
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(20, 40))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.03, 0.12) * width
        shape = (x - r, y - r, x + r, y + r)
        if rng.uniform() < 0.5:
            draw.ellipse(shape, fill=_colour(rng), outline=(30, 30, 30), width=2)
        else:
            draw.rectangle(shape, fill=_colour(rng), outline=(30, 30, 30), width=2)
    return image


def line_chart(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height)
    draw = ImageDraw.Draw(image)
    for i in range(1, 5):
        y = height * i / 5
        draw.line((0, y, width, y), fill=(210, 210, 210), width=1)
    values = np.cumsum(rng.normal(0, 1, 24))
    values = (values - values.min()) / max(float(np.ptp(values)), 1e-6)
    xs = np.linspace(width * 0.05, width * 0.95, len(values))
    points = [(float(x), float(height * (0.9 - 0.8 * v))) for x, v in zip(xs, values, strict=True)]
    draw.line(points, fill=_colour(rng), width=5, joint="curve")
    for x, y in points:
        draw.ellipse((x - 6, y - 6, x + 6, y + 6), fill=(30, 30, 30))
    return image


def star(rng: Rng, width: int, height: int) -> Image.Image:
    image = _blank(rng, width, height)
    draw = ImageDraw.Draw(image)
    tips = int(rng.integers(5, 9))
    angles = np.linspace(0, 2 * np.pi, tips * 2, endpoint=False) + rng.uniform(0, np.pi)
    radii = np.where(np.arange(tips * 2) % 2 == 0, 0.45, 0.2) * min(width, height)
    points = [
        (float(width / 2 + r * np.cos(a)), float(height / 2 + r * np.sin(a)))
        for a, r in zip(angles, radii, strict=True)
    ]
    draw.polygon(points, fill=_colour(rng), outline=(30, 30, 30))
    return image


DIAGRAM_KINDS: tuple[Callable[[Rng, int, int], Image.Image], ...] = (
    _flowchart,
    _bar_chart,
    _pie_chart,
    _target,
    _mosaic,
)
