"""IPTC digital source type from XMP: every written form, hostile XML, bounds, evidence wording."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from veriscan.analyzers.provenance.base import ImageMetadata, ProvenanceError
from veriscan.analyzers.provenance.iptc import (
    AI_DECLARED,
    C2PA_TERMS,
    IPTC_BASE,
    MAX_XMP_CHARS,
    VOCABULARY,
    classify,
    evidence_for,
    source_types,
    xmp_source_types,
)
from veriscan.analyzers.provenance.metadata import read_metadata

REPO = Path(__file__).resolve().parents[4]
SHARED = REPO.parent / "shared" / "data"
EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def packet(description: str, prefix: str = "Iptc4xmpExt", ns: str = EXT) -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" xmlns:{prefix}="{ns}" {description}'
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )


def attribute(value: str, prefix: str = "Iptc4xmpExt", ns: str = EXT) -> str:
    return packet(f'{prefix}:DigitalSourceType="{value}"/>', prefix, ns)


def element(value: str) -> str:
    return packet(
        f"><Iptc4xmpExt:DigitalSourceType>{value}</Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    )


def meta_with(xmp: str | None) -> ImageMetadata:
    return ImageMetadata(format="PNG", width=8, height=8, mode="RGB", name="x.png", xmp=xmp)


def terms(xmp: str) -> list[tuple[str, str]]:
    return [(t.term, t.ai) for t in xmp_source_types(xmp)]


@pytest.mark.parametrize(
    "value",
    [
        IPTC_BASE + "trainedAlgorithmicMedia",
        "https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "HTTP://CV.IPTC.ORG/newscodes/digitalsourcetype/TRAINEDALGORITHMICMEDIA/",
        "trainedAlgorithmicMedia",
        "trainedalgorithmicmedia",
        "digsrctype:trainedAlgorithmicMedia",
        "  trainedAlgorithmicMedia\n",
    ],
)
def test_every_written_form_of_a_term_is_matched(value: str) -> None:
    assert terms(attribute(value)) == [("trainedAlgorithmicMedia", "generated")]
    assert terms(element(value)) == [("trainedAlgorithmicMedia", "generated")]


def test_attribute_element_and_rdf_resource_forms() -> None:
    uri = IPTC_BASE + "compositeWithTrainedAlgorithmicMedia"
    resource = packet(f'><Iptc4xmpExt:DigitalSourceType rdf:resource="{uri}"/></rdf:Description>')
    for xmp in (attribute(uri), element(uri), resource):
        found = xmp_source_types(xmp)
        assert [(t.term, t.ai, t.uri) for t in found] == [
            ("compositeWithTrainedAlgorithmicMedia", "composite-ai", uri)
        ]
        assert EXT in found[0].where


def test_other_namespace_prefixes_are_matched() -> None:
    plus = "http://ns.useplus.org/ldf/xmp/1.0/"
    assert terms(attribute("trainedAlgorithmicMedia", "ext2", EXT)) == [
        ("trainedAlgorithmicMedia", "generated")
    ]
    found = xmp_source_types(attribute("algorithmicMedia", "plus", plus))
    assert [(t.term, t.ai) for t in found] == [("algorithmicMedia", "algorithmic")]
    assert plus in found[0].where


def test_in_the_wild_misspelling_is_read_as_composite_ai() -> None:
    found = xmp_source_types(element(IPTC_BASE + "compositedWithTrainedAlgorithmicMedia"))
    assert [(t.term, t.ai) for t in found] == [
        ("compositeWithTrainedAlgorithmicMedia", "composite-ai")
    ]
    assert found[0].raw.endswith("compositedWithTrainedAlgorithmicMedia")


def test_whole_vocabulary_is_classified() -> None:
    assert len(VOCABULARY) == 20
    for term, (klass, _, _) in {**VOCABULARY, **C2PA_TERMS}.items():
        found = classify(
            term if term != "empty" else "http://c2pa.org/digitalsourcetype/empty", "t"
        )
        assert found is not None and found.term == term and found.ai == klass
    generated = {t for t, (k, _, _) in VOCABULARY.items() if k in AI_DECLARED}
    assert generated == {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"}
    assert classify("algorithmicMedia", "t").ai == "algorithmic"  # type: ignore[union-attr]
    for capture in (
        "digitalCapture",
        "computationalCapture",
        "negativeFilm",
        "positiveFilm",
        "print",
        "compositeCapture",
    ):
        assert classify(capture, "t").ai == "capture"  # type: ignore[union-attr]


def test_unknown_scheme_term_is_kept_and_free_text_is_not() -> None:
    newer = classify(IPTC_BASE + "someFutureTerm", "t")
    assert newer is not None and newer.term == "someFutureTerm" and newer.ai == "other"
    assert classify("a photo of a lighthouse", "t") is None
    assert classify("", "t") is None
    empty = classify("http://c2pa.org/digitalsourcetype/empty", "t")
    assert empty is not None and empty.term == "empty"


def billion_laughs() -> str:
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    return (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{"".join(entities)}]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>'
    )


@pytest.mark.parametrize(
    "hostile",
    [
        billion_laughs(),
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>',
        '<!doctype x><x Iptc4xmpExt:DigitalSourceType="trainedAlgorithmicMedia"/>',
        attribute("trainedAlgorithmicMedia").replace("<x:xmpmeta", '<!ENTITY e "e"><x:xmpmeta'),
    ],
)
def test_hostile_xml_is_refused_without_expansion(hostile: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ProvenanceError, match="DOCTYPE or ENTITY"):
        source_types(meta_with(hostile))
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target


def test_oversized_xmp_is_bounded() -> None:
    filler = "<rdf:li>" + "x" * 100 + "</rdf:li>"
    huge = attribute("trainedAlgorithmicMedia").replace(
        "</rdf:RDF>", filler * (10_000_000 // len(filler)) + "</rdf:RDF>"
    )
    assert len(huge) > 10_000_000 > MAX_XMP_CHARS
    start = time.perf_counter()
    with pytest.raises(ProvenanceError, match="over the"):
        xmp_source_types(huge)
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target


def test_deep_nesting_and_element_count_are_bounded() -> None:
    deep = "<a>" * 5000 + "</a>" * 5000
    with pytest.raises(ProvenanceError, match="nested deeper"):
        xmp_source_types(deep)
    many = "<r>" + "<a/>" * 300_000 + "</r>"
    with pytest.raises(ProvenanceError, match="elements"):
        xmp_source_types(many)


def test_malformed_xmp_is_scanned_as_text() -> None:
    truncated = attribute(IPTC_BASE + "trainedAlgorithmicMedia").split("</rdf:RDF>")[0]
    found = xmp_source_types(truncated)
    assert [(t.term, t.ai) for t in found] == [("trainedAlgorithmicMedia", "generated")]
    assert "text scan" in found[0].where
    broken_element = "<x><Iptc4xmpExt:DigitalSourceType> digitalCapture </Iptc4xmpExt:Digital"
    assert terms(broken_element) == [("digitalCapture", "capture")]
    bag = packet(
        "><Iptc4xmpExt:DigitalSourceType><rdf:Bag><rdf:li>digitalCapture</rdf:li>"
        "<rdf:li>humanEdits</rdf:li></rdf:Bag></Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    )
    assert terms(bag) == [("digitalCapture", "capture"), ("humanEdits", "other")]


def test_text_scan_of_hostile_malformed_xmp_is_linear() -> None:
    start = time.perf_counter()
    for hostile in ("<x>" + "DigitalSourceType>" * 400_000, "<x DigitalSourceType" + " " * 10**6):
        assert xmp_source_types(hostile) == []
    assert time.perf_counter() - start < 10.0  # hang guard, not a speed target


def test_no_xmp_and_xmp_without_source_type() -> None:
    assert source_types(meta_with(None)) == []
    assert source_types(meta_with(packet('dc:format="image/png"/>'))) == []


def _gradient() -> Image.Image:
    return Image.linear_gradient("L").convert("RGB").resize((64, 48))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_xmp_embedded_in_image_files_is_read(fmt: str) -> None:
    xmp = element(IPTC_BASE + "trainedAlgorithmicMedia")
    buf = io.BytesIO()
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp, zip=True)
        _gradient().save(buf, fmt, pnginfo=info)
    else:
        _gradient().save(buf, fmt, xmp=xmp.encode())
    meta = read_metadata(buf.getvalue(), f"gradient.{fmt.lower()}")
    assert [(t.term, t.ai) for t in source_types(meta)] == [
        ("trainedAlgorithmicMedia", "generated")
    ]


def test_duplicates_are_reported_once() -> None:
    uri = IPTC_BASE + "trainedAlgorithmicMedia"
    xmp = packet(
        f'Iptc4xmpExt:DigitalSourceType="{uri}"><Iptc4xmpExt:DigitalSourceType>{uri}'
        "</Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    )
    found = source_types(meta_with(xmp))
    assert len(found) == 2  # one per place it was written
    assert len(evidence_for(found + found, c2pa_present=False)) == 2


def test_ai_source_type_is_strong_evidence() -> None:
    types = source_types(meta_with(attribute("trainedAlgorithmicMedia")))
    (ev,) = evidence_for(types, c2pa_present=False)
    assert (ev.signal, ev.strength) == ("iptc:digitalsourcetype", "strong")
    assert "trainedAlgorithmicMedia" in ev.summary and "AI-generated" in ev.summary
    assert ev.details["class"] == "generated"
    (with_c2pa,) = evidence_for(types, c2pa_present=True)
    assert with_c2pa.strength == "strong" and "C2PA manifest is also present" in with_c2pa.summary
    (composite,) = evidence_for([classify("compositedWithTrainedAlgorithmicMedia", "x")], False)  # type: ignore[list-item]
    assert composite.strength == "strong" and "composite" in composite.summary


def test_capture_is_a_fact_never_proof_of_real() -> None:
    (ev,) = evidence_for(source_types(meta_with(element("digitalCapture"))), c2pa_present=False)
    assert ev.strength == "none"
    assert "never proves an image is real" in ev.summary


def test_synthetic_but_not_trained_is_indicative() -> None:
    for term in ("algorithmicMedia", "compositeSynthetic"):
        (ev,) = evidence_for([classify(term, "x")], c2pa_present=False)  # type: ignore[list-item]
        assert ev.strength == "indicative" and "not specifically AI" in ev.summary
    (retired,) = evidence_for([classify("softwareImage", "x")], c2pa_present=False)  # type: ignore[list-item]
    assert retired.strength == "none" and "retired" in retired.summary


def test_camera_photos_declare_no_ai_source_type() -> None:
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip(f"benign shared corpus not present at {SHARED}: test needs its camera photos")
    with (SHARED / "MANIFEST.tsv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["truth"] == "real"]
    assert len(rows) > 100
    read = 0
    for row in rows:
        try:
            meta = read_metadata((SHARED / row["file"]).read_bytes(), row["file"])
        except ProvenanceError:
            continue  # raw formats Pillow cannot open: nothing to read XMP from
        read += 1
        for ev in evidence_for(source_types(meta), c2pa_present=False):
            assert ev.strength == "none", (row["file"], ev.summary)
    assert read > 100
