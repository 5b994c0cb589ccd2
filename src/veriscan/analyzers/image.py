"""Image header facts, a curated EXIF summary and a small thumbnail for the case folder.

The EXIF summary holds the fields an investigator compares across files (camera, capture time,
location, editing software, free-text comment). It is built from the tags of the original file, not
from a re-encoded copy, and holds only JSON values so it can go straight into the store and reports.
"""

from __future__ import annotations

import io
import math
import unicodedata
from typing import Any

from PIL import Image

from veriscan.analyzers.base import Analyzer, FileContext
from veriscan.analyzers.decode import ExifTags, Header, decoded, wants_image
from veriscan.analyzers.failures import INTERNAL, log_exception
from veriscan.domain import JSON, Artifact, Attribute, Fact, Problem, ProblemCode

MAKE = 0x010F
MODEL = 0x0110
SOFTWARE = 0x0131
DATETIME = 0x0132
CAMERA_SERIAL = 0xC62F
DATETIME_ORIGINAL = 0x9003
USER_COMMENT = 0x9286
BODY_SERIAL = 0xA431
LENS_MODEL = 0xA434
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 1, 2, 3, 4, 5, 6

THUMBNAIL_QUALITY = 80

CHARSET_ASCII = b"ASCII\0\0\0"
CHARSET_UNICODE = b"UNICODE\0"
CHARSET_JIS = b"JIS\0\0\0\0\0"
CHARSET_UNDEFINED = b"\0" * 8
_PAD = b"\0 \t\r\n"


class ImageAnalyzer(Analyzer):
    """Dimensions, format, frame count, EXIF summary and a JPEG thumbnail of each image."""

    id = "image"
    version = "1"

    def wants(self, mime: str) -> bool:
        return wants_image(mime)

    def analyze(self, ctx: FileContext) -> list[Fact]:
        try:
            return self._analyze(ctx)
        except Exception as exc:  # a parser gap must cost this file's facts, never the run
            log_exception(self.id, ctx.name, exc)
            return [
                Problem(
                    self.id, f"image analysis failed ({INTERNAL})", code=ProblemCode.ANALYZER_ERROR
                )
            ]

    def _analyze(self, ctx: FileContext) -> list[Fact]:
        # Always the fast decode: the thumbnail needs no more pixels than it gives.
        result = decoded(ctx, "fast")
        facts: list[Fact] = []
        if result.header is not None:
            facts.extend(header_facts(result.header))
            facts += [Problem(self.id, text, code=code) for code, text in result.header.damage]
        if result.failure is not None:
            facts.append(Problem(self.id, result.failure.message, code=result.failure.code))
        elif result.rgb is not None and self.settings.thumbnail_px > 0:
            data = thumbnail_jpeg(result.rgb, self.settings.thumbnail_px)
            facts.append(Artifact(name="thumbnail", data=data, suffix=".jpg"))
        return facts


def header_facts(header: Header) -> list[Fact]:
    facts: list[Fact] = [
        Attribute("width", header.width),
        Attribute("height", header.height),
        Attribute("format", header.format),
    ]
    if header.frames > 1:
        facts.append(Attribute("frames", header.frames))
    if header.source is not None:
        facts.append(Attribute("source", header.source))
    if header.exif is not None:
        summary = exif_summary(header.exif, header.orientation)
        if summary:
            facts.append(Attribute("exif", summary))
    return facts


def thumbnail_jpeg(rgb: Image.Image, max_px: int) -> bytes:
    """An RGB JPEG no larger than ``max_px`` on its longer side; small images are never enlarged.

    A box ``reduce`` by an integer factor does most of the shrinking: it costs a fraction of a
    filtered resize, and thumbnails are shown blurred anyway.
    """
    width, height = rgb.size
    longer = max(width, height)
    thumb = rgb
    if longer > max_px:
        scale = max_px / longer
        size = (
            min(max_px, max(1, round(width * scale))),
            min(max_px, max(1, round(height * scale))),
        )
        factor = min(longer // max_px, width, height)
        if factor > 1:
            thumb = thumb.reduce(factor)
        if thumb.size != size:
            thumb = thumb.resize(size, Image.Resampling.BILINEAR)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def exif_summary(tags: ExifTags, orientation: int | None = None) -> dict[str, JSON]:
    """The investigator-facing EXIF fields; absent or blank fields are left out."""
    fields = {
        "make": exif_text(tags.ifd0.get(MAKE)),
        "model": exif_text(tags.ifd0.get(MODEL)),
        "datetime_original": _date(tags.exif.get(DATETIME_ORIGINAL))
        or _date(tags.ifd0.get(DATETIME)),
        "software": exif_text(tags.ifd0.get(SOFTWARE)),
        "lens_model": exif_text(tags.exif.get(LENS_MODEL)),
        "serial": exif_text(tags.exif.get(BODY_SERIAL)) or exif_text(tags.ifd0.get(CAMERA_SERIAL)),
    }
    summary: dict[str, JSON] = {key: text for key, text in fields.items() if text}
    if orientation is not None:
        summary["orientation"] = orientation
    gps = gps_position(tags.gps)
    if gps is not None:
        summary["gps"] = gps
    comment = tags.exif.get(USER_COMMENT)
    if comment is not None:
        text, raw_hex = user_comment(comment, tags.byte_order)
        if text:
            summary["user_comment"] = text
        elif raw_hex:
            summary["user_comment_hex"] = raw_hex
    return summary


def exif_text(value: Any) -> str | None:
    """A tag value as clean text, or None when it is blank or not text at all.

    Pillow decodes ASCII tags as Latin-1, so UTF-8 written by phones and editors is re-decoded here.
    Text ends at the first NUL, as in C, which drops the padding some cameras leave after it.
    """
    if isinstance(value, str):
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            return _clean(value)
    elif isinstance(value, bytes):
        raw = value
    else:
        return None
    raw = raw.split(b"\0", 1)[0]
    try:
        return _clean(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return _clean(raw.decode("latin-1"))


def _clean(text: str) -> str | None:
    text = text.split("\0", 1)[0].strip()
    return text or None


def _date(value: Any) -> str | None:
    """EXIF date text; the spec's 'unknown' forms (only blanks or zeros) count as absent."""
    text = exif_text(value)
    if text is None or not text.strip(" :0"):
        return None
    return " ".join(text.split())


def gps_position(gps: dict[int, Any]) -> dict[str, JSON] | None:
    """Signed decimal degrees; None unless both latitude and longitude are present and in range."""
    lat = _degrees(gps.get(GPS_LAT))
    lon = _degrees(gps.get(GPS_LON))
    if lat is None or lon is None:
        return None
    if _ref(gps.get(GPS_LAT_REF)) == "S":
        lat = -lat
    if _ref(gps.get(GPS_LON_REF)) == "W":
        lon = -lon
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    alt = _number(gps.get(GPS_ALT))
    if alt is not None and _byte(gps.get(GPS_ALT_REF)) == 1:
        alt = -alt
    return {"lat": lat, "lon": lon, "alt": alt}


def _number(value: Any) -> float | None:
    """A finite float from a rational; a zero denominator (NaN in Pillow) means no value."""
    if isinstance(value, tuple | list):
        if len(value) != 1:
            return None
        value = value[0]
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: Any) -> float | None:
    """Degrees, minutes, seconds (some writers give only one or two of them) as decimal degrees."""
    parts = list(value) if isinstance(value, tuple | list) else [value]
    if not 1 <= len(parts) <= 3:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None or n < 0 for n in numbers):
        return None
    return math.fsum(n / 60.0**i for i, n in enumerate(numbers) if n is not None)


def _ref(value: Any) -> str | None:
    text = exif_text(value)
    return text[:1].upper() if text else None


def _byte(value: Any) -> int | None:
    if isinstance(value, bytes):
        return value[0] if value else None
    if isinstance(value, tuple | list):
        return _byte(value[0]) if value else None
    return value if isinstance(value, int) else None


def user_comment(value: Any, byte_order: str = "<") -> tuple[str | None, str | None]:
    """(text, None) when the comment decodes, (None, hex) when it does not, (None, None) when empty.

    The first 8 bytes name the character set. For UNICODE the EXIF standard gives no byte order:
    writers use the TIFF header's order, big-endian (A1111, piexif) or a BOM, so the order is taken
    from a BOM when there is one and otherwise from whichever reading looks like text.
    """
    if isinstance(value, str):
        return exif_text(value), None
    if not isinstance(value, bytes):
        return None, None
    prefix, body = value[:8], value[8:]
    text: str | None
    if prefix == CHARSET_UNICODE:
        text = _utf16_text(body, byte_order)
    elif prefix in (CHARSET_ASCII, CHARSET_UNDEFINED):
        text = _8bit_text(body, "utf-8")
    elif prefix == CHARSET_JIS:
        text = _8bit_text(body, "shift_jis")  # what piexif, the usual writer, produces
    else:
        text = _8bit_text(value, "utf-8")
    if text is not None:
        return (text or None), None
    raw = value.strip(_PAD)
    return None, (value.hex() if raw else None)


def _8bit_text(body: bytes, encoding: str) -> str | None:
    """Decoded text, '' for padding only, None when the bytes are not plausible text."""
    body = body.strip(_PAD).split(b"\0", 1)[0]
    try:
        text = body.decode(encoding).strip()
    except UnicodeDecodeError:
        return None
    return text if _plausible(text) else None


def _utf16_text(body: bytes, byte_order: str) -> str | None:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        orders = ["utf-16-le" if body[:2] == b"\xff\xfe" else "utf-16-be"]
        body = body[2:]
    else:
        native = "utf-16-be" if byte_order == ">" else "utf-16-le"
        orders = [native, "utf-16-be" if native == "utf-16-le" else "utf-16-le"]
    if len(body) % 2:
        body = body[:-1]
    best: tuple[int, str] | None = None
    for order in orders:
        try:
            text = body.decode(order).strip("\0 \t\r\n").split("\0", 1)[0].strip()
        except UnicodeDecodeError:
            continue
        if not _plausible(text):
            continue
        score = sum(_char_score(c) for c in text)
        if best is None or score > best[0]:  # ties keep the earlier, preferred order
            best = (score, text)
    return best[1] if best else None


def _char_score(char: str) -> int:
    """Latin text read in the wrong byte order turns into CJK ideographs, which are letters too, so
    plausibility alone cannot decide; counting ASCII double lets the right order win."""
    return 2 if char.isascii() else 1


def _plausible(text: str) -> bool:
    """No control, unassigned, private-use or surrogate code points: such text is binary data."""
    return all(char in "\t\n\r" or unicodedata.category(char) not in _NOT_TEXT for char in text)


_NOT_TEXT = frozenset({"Cc", "Cs", "Co", "Cn"})
