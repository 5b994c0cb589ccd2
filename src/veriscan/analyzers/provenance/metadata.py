"""Reading the metadata every provenance parser needs, once per file, with bounded sizes.

Pillow does the container work (PNG text chunks including compressed iTXt/zTXt, EXIF in JPEG, PNG
eXIf and WebP, XMP, IPTC-IIM); this module only normalises what it returns and decodes the EXIF
UserComment, whose UTF-16 byte order differs between tools.
"""

from __future__ import annotations

import functools
import io
from typing import Any

from PIL import Image, ImageFile, IptcImagePlugin, PngImagePlugin, UnidentifiedImageError

from veriscan.analyzers.decode import EXIF_IFD, UNIDENTIFIED, init_pillow
from veriscan.analyzers.failures import decode_failure, log_exception
from veriscan.analyzers.image import USER_COMMENT, user_comment
from veriscan.analyzers.provenance.base import MAX_TEXT_BYTES, ImageMetadata, ProvenanceError
from veriscan.analyzers.provenance.pngchunks import read_png_chunks

XMP_KEYS = ("xmp", "XML:com.adobe.xmp")


@functools.cache
def _init() -> None:
    init_pillow()
    PngImagePlugin.MAX_TEXT_CHUNK = MAX_TEXT_BYTES
    PngImagePlugin.MAX_TEXT_MEMORY = 4 * MAX_TEXT_BYTES


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value[:MAX_TEXT_BYTES]
    if isinstance(value, bytes | bytearray):
        raw = bytes(value[:MAX_TEXT_BYTES])
        for encoding in ("utf-8", "utf-16"):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError:
                continue
        return raw.decode("latin-1")
    return None


def read_metadata(data: bytes, name: str) -> ImageMetadata:
    """Gather text chunks, EXIF, UserComment, XMP and IPTC; raises ProvenanceError if unreadable."""
    _init()
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise ProvenanceError(f"cannot read image metadata: {UNIDENTIFIED}") from exc
    except Exception as exc:  # hostile headers raise far more than OSError inside Pillow
        log_exception("metadata", name, exc)
        wording = decode_failure(exc, "image", len(data))[1]
        raise ProvenanceError(f"cannot read image metadata: {wording}") from exc
    with img:
        meta = ImageMetadata(
            format=img.format or "unknown",
            width=img.width,
            height=img.height,
            mode=img.mode,
            name=name,
            data=data,
            pixels=functools.partial(_pixels, data),
        )
        png = read_png_chunks(data) if img.format == "PNG" else None
        texts: dict[str, Any] = dict(png.text) if png else {}
        for key, value in img.info.items():
            if isinstance(key, str) and key not in texts and isinstance(value, str | bytes):
                if key in ("exif", "icc_profile", "transparency", "dpi"):
                    continue
                texts[key] = value
        for key, value in texts.items():
            text = _text(value)
            if text is not None:
                meta.text[key] = text
        for key in XMP_KEYS:
            if key in meta.text:
                meta.xmp = meta.text[key]
                break
        if png is not None:
            meta.problems.extend(png.problems)
        try:
            exif = img.getexif() if png is None else Image.Exif()
            if png is not None and png.exif:
                exif.load(png.exif)
        except Exception as exc:  # damaged EXIF: the other signals still count
            log_exception("EXIF", name, exc)
            meta.problems.append("EXIF block malformed: unreadable")
        else:
            _read_exif(exif, meta)
        _read_iptc(img, meta)
    return meta


def _read_exif(exif: Image.Exif, meta: ImageMetadata) -> None:
    try:
        tags: dict[int, Any] = dict(exif)
        if EXIF_IFD in tags:
            tags.update(exif.get_ifd(EXIF_IFD))
    except Exception as exc:  # damaged EXIF: the other signals still count
        log_exception("EXIF", meta.name, exc)
        meta.problems.append("EXIF block malformed: unreadable")
        return
    meta.exif = tags
    comment = tags.get(USER_COMMENT)
    if comment is not None:
        order = getattr(exif, "endian", None) or "<"
        text, _ = user_comment(comment, order)
        meta.user_comment = text[:MAX_TEXT_BYTES] if text else None


def _read_iptc(img: Image.Image, meta: ImageMetadata) -> None:
    if img.format not in ("JPEG", "TIFF") or not isinstance(img, ImageFile.ImageFile):
        return
    try:
        info = IptcImagePlugin.getiptcinfo(img)
    except Exception:
        return
    for key, value in (info or {}).items():
        values = value if isinstance(value, list) else [value]
        meta.iptc[key] = [v for v in values if isinstance(v, bytes)]


def _pixels(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
