"""IPTC Digital Source Type: what a file or its C2PA manifest says about where its pixels came from.

The vocabulary is https://cv.iptc.org/newscodes/digitalsourcetype/ (release 2024-10-23) plus the
two C2PA-specific terms. Tools write the term as an ``http://`` or ``https://`` URI, as a QCode
(``digsrctype:...``) or bare, in any case, and one widely copied misspelling
(``compositedWithTrainedAlgorithmicMedia``) is in the wild, so all of those are matched.

It is an XMP-only property (IPTC Extension schema): IPTC-IIM has no dataset for it, so IIM is
not read. The XMP packet is attacker-controlled text, so it is refused when it declares a DOCTYPE
or ENTITY (no entity is ever expanded), size- and depth-bounded, and parsed incrementally.

A declared source type is a claim, not proof: it is easy to write and easy to strip. An AI term
is strong evidence; a capture term is recorded as a fact and never as evidence that an image is
real.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from veriscan.analyzers.provenance.base import (
    MAX_TEXT_BYTES,
    Evidence,
    ImageMetadata,
    ProvenanceError,
)

IPTC_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_BASE = "http://c2pa.org/digitalsourcetype/"
SIGNAL = "iptc:digitalsourcetype"

# How a term bears on "was this made by AI": generated (a model trained on data), composite-ai
# (captured material combined with such output), algorithmic (made by an algorithm with no
# training data, e.g. fractals, not AI), composite-synthetic (some synthetic element of any
# kind), capture (sampled from real life), other (human-made or edited, screen captures, ...).
AI_DECLARED = frozenset({"generated", "composite-ai"})
SYNTHETIC = frozenset({"algorithmic", "composite-synthetic"})

# term -> (class, English name, retired). Names follow the IPTC labels.
VOCABULARY: dict[str, tuple[str, str, bool]] = {
    "digitalCapture": ("capture", "digital capture sampled from real life", False),
    "computationalCapture": ("capture", "multi-frame computational capture", False),
    "negativeFilm": ("capture", "digitised from a negative on film", False),
    "positiveFilm": ("capture", "digitised from a positive on film", False),
    "print": ("capture", "digitised from a print on non-transparent medium", False),
    "compositeCapture": ("capture", "composite of captured elements", False),
    "minorHumanEdits": ("other", "original media with minor human edits", True),
    "humanEdits": ("other", "human-edited media", False),
    "algorithmicallyEnhanced": ("other", "algorithmically-altered media", False),
    "softwareImage": ("other", "created by software", True),
    "digitalArt": ("other", "digital art", True),
    "digitalCreation": ("other", "created by a human using digital tools", False),
    "dataDrivenMedia": ("other", "data-driven media", False),
    "screenCapture": ("other", "screen capture", False),
    "virtualRecording": ("other", "virtual recording", False),
    "composite": ("other", "composite of elements", False),
    "compositeSynthetic": ("composite-synthetic", "composite including synthetic elements", False),
    "algorithmicMedia": ("algorithmic", "pure algorithmic media (no training data)", False),
    "trainedAlgorithmicMedia": ("generated", "created using generative AI", False),
    "compositeWithTrainedAlgorithmicMedia": (
        "composite-ai",
        "composite with elements created using generative AI",
        False,
    ),
}
C2PA_TERMS: dict[str, tuple[str, str, bool]] = {
    "trainedAlgorithmicData": ("generated", "data created using generative AI (C2PA)", False),
    "empty": ("other", "no content (C2PA)", False),
}
MISSPELLINGS = {"compositedWithTrainedAlgorithmicMedia": "compositeWithTrainedAlgorithmicMedia"}

_LOOKUP: dict[str, tuple[str, str]] = {
    **{t.lower(): (t, IPTC_BASE + t) for t in VOCABULARY},
    **{t.lower(): (t, C2PA_BASE + t) for t in C2PA_TERMS if t != "empty"},
    **{k.lower(): (v, IPTC_BASE + v) for k, v in MISSPELLINGS.items()},
}
_PREFIX = re.compile(
    r"^(?:https?://cv\.iptc\.org/newscodes/digitalsourcetype/|digsrctype:"
    r"|https?://c2pa\.org/digitalsourcetype/)",
    re.IGNORECASE,
)
_C2PA_EMPTY = re.compile(r"^https?://c2pa\.org/digitalsourcetype/empty/?$", re.IGNORECASE)

MAX_XMP_CHARS = MAX_TEXT_BYTES
MAX_XML_DEPTH = 128
MAX_XML_ELEMENTS = 200_000
MAX_VALUE_CHARS = 512
_FEED_CHUNK = 1 << 16
_HOSTILE = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]{0,200}\?>")
_RDF_RESOURCE = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
_TEXT_SCAN = re.compile(
    r"DigitalSourceType\s*(?:=\s*[\"']([^\"'<>]{1,512})[\"']|>([^<>]{1,512})<)",
    re.IGNORECASE,
)


@dataclass
class SourceType:
    """One declared source type: canonical term and URI, where it was found, and its class.

    ``raw`` is the value exactly as written, for the report.
    """

    term: str
    uri: str
    where: str
    ai: str
    raw: str = ""


def classify(value: str, where: str) -> SourceType | None:
    """The source type named by ``value`` (URI, QCode or bare term, any case); None if not one.

    An unknown term under the IPTC or C2PA scheme is kept (class ``other``): a newer vocabulary
    release must not make a declaration vanish from the report.
    """
    raw = value.strip()[:MAX_VALUE_CHARS]
    if not raw:
        return None
    if _C2PA_EMPTY.match(raw):
        return SourceType("empty", C2PA_BASE + "empty", where, "other", raw)
    prefixed = _PREFIX.match(raw)
    term = raw[prefixed.end() :] if prefixed else raw
    term = term.strip().rstrip("/")
    known = _LOOKUP.get(term.lower())
    if known is not None:
        canonical, uri = known
        table = VOCABULARY if canonical in VOCABULARY else C2PA_TERMS
        return SourceType(canonical, uri, where, table[canonical][0], raw)
    if prefixed and re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,80}", term):
        return SourceType(term, raw, where, "other", raw)
    return None


def describe(term: str) -> str:
    """The IPTC name of a term, marked when IPTC has retired it."""
    entry = VOCABULARY.get(term) or C2PA_TERMS.get(term)
    if entry is None:
        return "not in the IPTC vocabulary"
    _, name, retired = entry
    return f"{name} (retired term)" if retired else name


def source_types(meta: ImageMetadata) -> list[SourceType]:
    """Every digital source type declared in the file's XMP (JPEG, PNG iTXt, WebP, TIFF, HEIF).

    Raises ProvenanceError for an XMP packet that is hostile (DOCTYPE/ENTITY) or over the bounds;
    a merely malformed packet is scanned as text instead, because XMP in the wild is often
    truncated or hand-edited and the declaration still matters.
    """
    if not meta.xmp:
        return []
    return _dedupe(xmp_source_types(meta.xmp))


def xmp_source_types(xmp: str) -> list[SourceType]:
    """Parse one XMP packet for ``DigitalSourceType`` in any namespace, as attribute or element."""
    if len(xmp) > MAX_XMP_CHARS:
        raise ProvenanceError(
            f"XMP packet of {len(xmp)} characters is over the {MAX_XMP_CHARS} limit; not parsed"
        )
    if _HOSTILE.search(xmp):
        raise ProvenanceError(
            "XMP packet declares a DOCTYPE or ENTITY (possible entity-expansion attack); "
            "refused without parsing"
        )
    text = _XML_DECL.sub("", xmp, count=1)
    try:
        return list(_parse(text))
    except ET.ParseError:
        return list(_scan(text))


def _parse(text: str) -> Iterator[SourceType]:
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    depth = 0
    count = 0
    inside = 0  # depth of the DigitalSourceType element being read, 0 when outside one
    for start in range(0, len(text), _FEED_CHUNK):
        parser.feed(text[start : start + _FEED_CHUNK])
        for item in parser.read_events():
            event, elem = item[0], item[-1]
            if not isinstance(elem, ET.Element):
                continue
            if event == "start":
                depth += 1
                count += 1
                if depth > MAX_XML_DEPTH or count > MAX_XML_ELEMENTS:
                    raise ProvenanceError(
                        f"XMP nested deeper than {MAX_XML_DEPTH} or over {MAX_XML_ELEMENTS} "
                        "elements; not parsed"
                    )
                yield from _attributes(elem)
                if not inside and _is_dst(elem.tag):
                    inside = depth
                continue
            if inside == depth:
                yield from _element(elem)
                inside = 0
            if not inside:
                elem.clear()
            depth -= 1
    parser.close()


def _attributes(elem: ET.Element) -> Iterator[SourceType]:
    for name, value in elem.attrib.items():
        if _is_dst(name):
            found = classify(value, f"xmp attribute {_qname(name)}")
            if found is not None:
                yield found


def _element(elem: ET.Element) -> Iterator[SourceType]:
    where = f"xmp element {_qname(elem.tag)}"
    values = [elem.get(_RDF_RESOURCE, "")]
    values += [child.get(_RDF_RESOURCE, "") for child in elem.iter() if child is not elem]
    values += list(elem.itertext())  # one value per text node: rdf:Bag/Alt items stay apart
    for value in values:
        found = classify(value, where)
        if found is not None:
            yield found


def _scan(text: str) -> Iterator[SourceType]:
    for match in _TEXT_SCAN.finditer(text):
        found = classify(match.group(1) or match.group(2) or "", "xmp (malformed XML, text scan)")
        if found is not None:
            yield found


def _is_dst(name: str) -> bool:
    return name.rsplit("}", 1)[-1].lower() == "digitalsourcetype"


def _qname(name: str) -> str:
    if name.startswith("{"):
        namespace, local = name[1:].split("}", 1)
        return f"{local} ({namespace})"
    return name


def _dedupe(types: Iterable[SourceType]) -> list[SourceType]:
    seen: set[tuple[str, str]] = set()
    out: list[SourceType] = []
    for t in types:
        if (t.term, t.where) not in seen:
            seen.add((t.term, t.where))
            out.append(t)
    return out


def evidence_for(types: list[SourceType], c2pa_present: bool) -> list[Evidence]:
    """One Evidence per declared term: AI terms strong, synthetic ones indicative, the rest facts.

    ``c2pa_present`` only changes the wording: the manifest is judged on its own (signed,
    validated) by the C2PA reader, and the XMP claim keeps its strength either way, because an
    edit that added an unrelated manifest must not weaken an AI declaration that survived it.
    """
    out: list[Evidence] = []
    for t in _dedupe(types):
        details = {"term": t.term, "uri": t.uri, "raw": t.raw, "where": t.where, "class": t.ai}
        name = describe(t.term)
        also = (
            " A C2PA manifest is also present and is assessed separately." if c2pa_present else ""
        )
        if t.ai in AI_DECLARED:
            kind = "AI-generated" if t.ai == "generated" else "partly AI-generated (composite)"
            out.append(
                Evidence(
                    SIGNAL,
                    "strong",
                    f"The file's XMP declares IPTC digital source type {t.term} ({name}): "
                    f"{kind}. Unsigned metadata, so it can be written or copied by anyone, but "
                    f"cameras do not write it.{also}",
                    None,
                    details,
                )
            )
        elif t.ai in SYNTHETIC:
            out.append(
                Evidence(
                    SIGNAL,
                    "indicative",
                    f"The file's XMP declares IPTC digital source type {t.term} ({name}): "
                    f"synthetic content, but not specifically AI trained on data.{also}",
                    None,
                    details,
                )
            )
        else:
            note = (
                " Recorded as a fact only: a declared capture never proves an image is real."
                if t.ai == "capture"
                else " Recorded as a fact only."
            )
            out.append(
                Evidence(
                    SIGNAL,
                    "none",
                    f"The file's XMP declares IPTC digital source type {t.term} ({name}).{note}"
                    f"{also}",
                    None,
                    details,
                )
            )
    return out
