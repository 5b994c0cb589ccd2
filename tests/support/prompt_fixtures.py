"""Drawn images carrying benign prompts the way generators write them, one per parser family.

Every prompt here is about landscapes and objects; the pictures are shapes. Used to prove that
prompt text is withheld from every output unless asked for, without the shared corpus.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo

A1111_PROMPT = "a quiet mountain lake with pine trees at sunrise"
A1111_NEGATIVE = "blurry, low quality, oversaturated colours"
JPEG_PROMPT = "a wooden rowing boat on a calm river in autumn"
COMFY_PROMPT = "a field of sunflowers under a clear blue summer sky"
COMFY_NEGATIVE = "grey clouds, rain, dark winter evening"
NOVELAI_PROMPT = "a snowy village with paper lanterns at night"
SWARM_PROMPT = "a stone bridge over a mossy creek in spring"
MIDJOURNEY_PROMPT = "a red kite flying above sand dunes"
CAMERA_MAKE, CAMERA_MODEL = "Canon", "Canon EOS 5D Mark IV"

PROMPTS = (
    A1111_PROMPT,
    A1111_NEGATIVE,
    JPEG_PROMPT,
    COMFY_PROMPT,
    COMFY_NEGATIVE,
    NOVELAI_PROMPT,
    SWARM_PROMPT,
    MIDJOURNEY_PROMPT,
)


def infotext(prompt: str, negative: str | None = None, seed: int = 1234) -> str:
    neg = f"Negative prompt: {negative}\n" if negative else ""
    return (
        f"{prompt}\n{neg}Steps: 24, Sampler: DPM++ 2M, CFG scale: 6.5, Seed: {seed}, "
        "Size: 512x512, Model hash: 0123456789, Model: demoLandscapes_v1, Version: v1.10.1"
    )


def comfy_api_graph() -> dict[str, object]:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "demo.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": COMFY_PROMPT, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": COMFY_NEGATIVE, "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": 42,
                "steps": 20,
                "cfg": 7.0,
                "sampler_name": "euler",
                "scheduler": "normal",
                "denoise": 1.0,
                "model": ["4", 0],
                "positive": ["6", 0],
                "negative": ["7", 0],
                "latent_image": ["5", 0],
            },
        },
    }


def comfy_ui_workflow() -> dict[str, object]:
    nodes = [
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["demo.safetensors"]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": [COMFY_PROMPT]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": [COMFY_NEGATIVE]},
        {"id": 3, "type": "KSampler", "widgets_values": [42, "fixed", 20, 7.0, "euler", "normal"]},
    ]
    return {"last_node_id": 7, "nodes": nodes, "links": [[1, 6, 0, 3, 1, "CONDITIONING"]]}


def _scene(seed: int, size: tuple[int, int] = (256, 192)) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size, (110 + seed * 9 % 80, 170, 240))
    d = ImageDraw.Draw(img)
    d.ellipse([w * 0.7, h * 0.1, w * 0.85, h * 0.3], fill=(255, 220, 80))
    d.polygon([(0, h), (0, h * 0.6), (w * 0.4, h * 0.45), (w, h * 0.7), (w, h)], fill=(40, 120, 60))
    d.rectangle([w * 0.1 + seed, h * 0.7, w * 0.2 + seed, h * 0.9], fill=(120, 80, 40))
    return img


def _png(img: Image.Image, chunks: dict[str, str]) -> bytes:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def _user_comment_jpeg(text: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\0" + text.encode("utf-16-be")
    out = io.BytesIO()
    _scene(2).save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def _comfy_webp() -> bytes:
    """ComfyUI's SaveAnimatedWEBP: the UI workflow in Make (0x010F), the API graph in Model."""
    exif = Image.Exif()
    exif[0x010F] = "workflow:" + json.dumps(comfy_ui_workflow())
    exif[0x0110] = "prompt:" + json.dumps(comfy_api_graph())
    frames = [_scene(3), _scene(9)]
    out = io.BytesIO()
    frames[0].save(
        out, "WEBP", save_all=True, append_images=frames[1:], duration=200, exif=exif.tobytes()
    )
    return out.getvalue()


def _camera_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = CAMERA_MAKE, CAMERA_MODEL
    out = io.BytesIO()
    _scene(5, (320, 240)).save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def write_prompt_fixtures(root: Path) -> dict[str, Path]:
    """One file per way of carrying a prompt, plus a camera photo; returns name -> path."""
    novelai_comment = {"prompt": NOVELAI_PROMPT, "uc": "lowres, blurry", "steps": 28, "seed": 7}
    swarm = {"sui_image_params": {"prompt": SWARM_PROMPT, "negativeprompt": "", "seed": 9}}
    uuid = "0f2b1c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    files = {
        "a1111.png": _png(_scene(1), {"parameters": infotext(A1111_PROMPT, A1111_NEGATIVE)}),
        "usercomment.jpg": _user_comment_jpeg(infotext(JPEG_PROMPT, seed=77)),
        "comfy_animated.webp": _comfy_webp(),
        "novelai.png": _png(
            _scene(4),
            {
                "Title": "AI generated image",
                "Description": NOVELAI_PROMPT,
                "Software": "NovelAI",
                "Source": "Stable Diffusion XL C1E1DE52",
                "Comment": json.dumps(novelai_comment),
            },
        ),
        "swarmui.png": _png(_scene(6), {"parameters": json.dumps(swarm)}),
        "midjourney.png": _png(
            _scene(7), {"Description": f"{MIDJOURNEY_PROMPT} --ar 4:3 --v 6.1 Job ID: {uuid}"}
        ),
        "camera.jpg": _camera_jpeg(),
    }
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, data in files.items():
        (root / name).write_bytes(data)
        out[name] = root / name
    return out
