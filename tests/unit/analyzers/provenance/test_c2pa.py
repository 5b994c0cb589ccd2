"""C2PA reading: own fixtures signed offline, tampering, trust, the labelled corpus, no network."""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import platform
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from veriscan.analyzers.filetype import sniff_mime
from veriscan.analyzers.provenance.base import ProvenanceError
from veriscan.analyzers.provenance.c2pa import (
    MAX_INGREDIENT_DEPTH,
    OFFLINE_SETTINGS,
    read_c2pa,
    summarise,
)
from veriscan.analyzers.provenance.iptc import IPTC_BASE

REPO = Path(__file__).resolve().parents[4]
SHARED = REPO.parent / "shared" / "data"
CORPUS = SHARED / "c2pa"
TRAINED = IPTC_BASE + "trainedAlgorithmicMedia"


def _name(cn: str) -> x509.Name:
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "veriscan tests")
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), org])


def _usage(sign: bool) -> x509.KeyUsage:
    # digital_signature for the signer; key_cert_sign and crl_sign for the root
    return x509.KeyUsage(sign, False, False, False, False, not sign, not sign, False, False)


def make_chain() -> dict[str, bytes]:
    """A throwaway root and ES256 signer made in memory: anyone can make one, which is the point
    of keeping "Valid" (integrity) apart from "Trusted" (a configured anchor)."""
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())

    def build(subject: str, issuer: x509.Name, public: Any, ca: bool) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(issuer)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_usage(sign=not ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )

    root = build("veriscan test root", _name("veriscan test root"), root_key.public_key(), True)
    root_cert = root.sign(root_key, hashes.SHA256())
    leaf = (
        build("veriscan test signer", root_cert.subject, key.public_key(), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return {
        "certs": leaf.public_bytes(pem) + root_cert.public_bytes(pem),
        "key": key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "root": root_cert.public_bytes(pem),
    }


@pytest.fixture(scope="module")
def chain() -> dict[str, bytes]:
    return make_chain()


def gradient(fmt: str) -> bytes:
    img = Image.linear_gradient("L").convert("RGB").resize((96, 64))
    buf = io.BytesIO()
    img.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


def sign(
    chain: dict[str, bytes],
    asset: bytes,
    mime: str,
    source_type: str | None = TRAINED,
    action: str = "c2pa.created",
    ingredient: bytes | None = None,
) -> bytes:
    entry: dict[str, Any] = {"action": action, "softwareAgent": {"name": "test-model"}}
    if source_type:
        entry["digitalSourceType"] = source_type
    if ingredient is not None:
        entry["parameters"] = {"ingredientIds": ["parent"]}
    manifest = {
        "claim_generator_info": [{"name": "veriscan-test-generator", "version": "1.0"}],
        "title": "gradient",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [entry]}}],
    }
    settings = {**OFFLINE_SETTINGS, "builder": {"thumbnail": {"enabled": False}}}
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain["certs"], chain["key"], None)
    with (
        c2pa.Context.from_dict(settings) as context,
        c2pa.Builder(json.dumps(manifest), context) as builder,
        c2pa.Signer.from_info(info) as signer,
    ):
        if ingredient is not None:
            parent = {"title": "parent", "relationship": "parentOf", "label": "parent"}
            builder.add_ingredient(parent, mime, io.BytesIO(ingredient))
        out = io.BytesIO()
        builder.sign(signer, mime, io.BytesIO(asset), out)
    return out.getvalue()


def tamper_jpeg(data: bytes) -> bytes:
    """Change entropy-coded bytes in the middle of the scan: new pixels, same manifest segment."""
    sos = data.index(b"\xff\xda")
    out = bytearray(data)
    changed = 0
    for i in range(sos + (len(data) - sos) // 2, len(data) - 2):
        if out[i] not in (0x00, 0xFE, 0xFF) and out[i - 1] != 0xFF and changed < 16:
            out[i] ^= 0x01
            changed += 1
    assert changed == 16
    return bytes(out)


def tamper_png(signed: bytes) -> bytes:
    """Swap the IDAT data for re-encoded, visibly changed pixels; every other chunk (the C2PA
    caBX chunk included) is kept byte for byte."""
    img = Image.open(io.BytesIO(signed)).convert("RGB")
    img.paste((255, 0, 0), (10, 10, 40, 40))
    row = img.width * 3
    pixels = img.tobytes()
    body = zlib.compress(
        b"".join(b"\x00" + pixels[y * row : (y + 1) * row] for y in range(img.height))
    )
    idat = (
        struct.pack(">I", len(body))
        + b"IDAT"
        + body
        + struct.pack(">I", zlib.crc32(b"IDAT" + body))
    )
    first = signed.index(b"IDAT") - 4
    last = signed.rindex(b"IDAT") - 4
    (length,) = struct.unpack(">I", signed[last : last + 4])
    assert b"caBX" in signed[:first] + signed[last + 12 + length :]
    return signed[:first] + idat + signed[last + 12 + length :]


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png")])
def test_signed_ai_image_is_conclusive(chain: dict[str, bytes], fmt: str, mime: str) -> None:
    result = read_c2pa(sign(chain, gradient(fmt), mime), mime)
    assert result is not None
    assert (result.validation_state, result.trusted) == ("Valid", False)
    assert result.ai_declared and result.content_matches
    assert result.claim_generator == "veriscan-test-generator 1.0"
    assert result.signer == "veriscan test signer (veriscan tests)"
    assert result.digital_source_types == ["trainedAlgorithmicMedia"]
    assert result.manifests == 1
    (action,) = result.actions
    assert action["action"] == "c2pa.created" and action["digitalSourceType"] == TRAINED
    assert action["softwareAgent"] == "test-model"
    (ev,) = result.evidence()
    assert (ev.signal, ev.strength) == ("c2pa", "conclusive")
    assert ev.generator == "c2pa:veriscan-test-generator 1.0"
    assert "not on a configured trust list" in ev.summary
    assert ev.details["validation_state"] == "Valid"


def test_trust_anchor_from_pem_text_or_local_file(chain: dict[str, bytes], tmp_path: Path) -> None:
    signed = sign(chain, gradient("JPEG"), "image/jpeg")
    pem_file = tmp_path / "anchors.pem"
    pem_file.write_bytes(chain["root"])
    for anchors in (chain["root"].decode(), str(pem_file)):
        result = read_c2pa(signed, "image/jpeg", anchors)
        assert result is not None and (result.validation_state, result.trusted) == ("Trusted", True)
        (ev,) = result.evidence()
        assert ev.strength == "conclusive" and "chains to a configured trust anchor" in ev.summary


def test_unusable_trust_anchors_are_a_configuration_error(tmp_path: Path) -> None:
    jpeg = gradient("JPEG")
    with pytest.raises(ProvenanceError, match="unreadable"):
        read_c2pa(jpeg, "image/jpeg", str(tmp_path / "missing.pem"))
    (tmp_path / "empty.pem").write_text("no certificate here")
    with pytest.raises(ProvenanceError, match="no PEM"):
        read_c2pa(jpeg, "image/jpeg", str(tmp_path / "empty.pem"))
    bad = "-----BEGIN CERTIFICATE-----\n!!! not base64 !!!\n-----END CERTIFICATE-----\n"
    with pytest.raises(ProvenanceError, match="rejected"):
        read_c2pa(jpeg, "image/jpeg", bad)


@pytest.mark.parametrize(
    ("fmt", "mime", "tamper"),
    [("JPEG", "image/jpeg", tamper_jpeg), ("PNG", "image/png", tamper_png)],
)
def test_pixels_changed_after_signing(
    chain: dict[str, bytes], fmt: str, mime: str, tamper: Any
) -> None:
    changed = tamper(sign(chain, gradient(fmt), mime))
    Image.open(io.BytesIO(changed)).load()  # still a decodable image
    result = read_c2pa(changed, mime)
    assert result is not None
    assert result.validation_state == "Invalid"
    assert not result.content_matches and result.ai_declared
    assert any(r.startswith("assertion.dataHash.mismatch") for r in result.validation_reasons)
    (ev,) = result.evidence()
    assert ev.strength == "strong"
    assert "manifest present, content does not match" in ev.summary
    assert "assertion.dataHash.mismatch" in ev.summary


@pytest.mark.parametrize(
    ("term", "action", "strength", "ai"),
    [
        ("digitalCapture", "c2pa.created", "none", False),
        ("algorithmicMedia", "c2pa.created", "indicative", False),
        ("compositeWithTrainedAlgorithmicMedia", "c2pa.created", "conclusive", True),
        (None, "c2pa.opened", "none", False),
    ],
)
def test_declared_source_type_decides_strength(
    chain: dict[str, bytes], term: str | None, action: str, strength: str, ai: bool
) -> None:
    uri = IPTC_BASE + term if term else None
    parent = gradient("JPEG") if action == "c2pa.opened" else None  # opened needs an ingredient
    signed = sign(chain, gradient("JPEG"), "image/jpeg", uri, action, parent)
    result = read_c2pa(signed, "image/jpeg")
    assert result is not None and result.ai_declared is ai
    (ev,) = result.evidence()
    assert ev.strength == strength
    if strength == "none":
        assert "never proves an image real" in ev.summary and ev.generator is None


def test_ai_claim_is_followed_through_ingredients(chain: dict[str, bytes]) -> None:
    generated = sign(chain, gradient("JPEG"), "image/jpeg")
    edited = sign(chain, gradient("JPEG"), "image/jpeg", None, "c2pa.opened", generated)
    result = read_c2pa(edited, "image/jpeg")
    assert result is not None and result.manifests == 2
    assert result.ai_declared and result.digital_source_types == ["trainedAlgorithmicMedia"]
    assert [a["action"] for a in result.actions] == ["c2pa.opened", "c2pa.created"]
    assert result.evidence()[0].strength == "conclusive"


def test_ingredient_walk_is_bounded_and_cycle_safe() -> None:
    def manifest(i: int) -> dict[str, Any]:
        return {
            "claim_generator": f"tool {i}",
            "ingredients": [{"active_manifest": f"m{(i + 1) % 500}"}],
            "assertions": [
                {"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.edited"}]}}
            ],
        }

    store = {"active_manifest": "m0", "manifests": {f"m{i}": manifest(i) for i in range(500)}}
    store["manifests"]["m499"]["assertions"][0]["data"]["actions"][0]["digitalSourceType"] = TRAINED
    result = summarise(store)
    assert result.manifests == 500
    assert len(result.actions) == MAX_INGREDIENT_DEPTH + 1
    assert not result.ai_declared  # beyond the depth bound, never reached
    store["manifests"]["m2"]["ingredients"] = [{"active_manifest": "m0"}]
    assert len(summarise(store).actions) == 3


def test_no_manifest_unsupported_type_and_garbage() -> None:
    assert read_c2pa(gradient("JPEG"), "image/jpeg") is None
    assert read_c2pa(gradient("PNG"), "image/png") is None
    assert read_c2pa(gradient("BMP"), "image/bmp") is None
    assert read_c2pa(b"\xff\xd8\xff" + os.urandom(300), "image/jpeg") is None  # corrupt, no C2PA


def _labels() -> list[Any]:
    path = CORPUS / "LABELS.tsv"
    if not path.is_file():
        reason = f"C2PA corpus not present at {CORPUS} (fresh clone): test needs its files"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [pytest.param(r, id=r["local_file"]) for r in rows]


def corpus_mime(path: Path, data: bytes) -> str:
    """veriscan's own sniffer, as in a run; a bare manifest store (.c2pa) is not an image, so
    it is named here to check the labels for those two sidecar files too."""
    return "application/c2pa" if path.suffix == ".c2pa" else sniff_mime(data[:64])


@pytest.mark.parametrize("row", _labels())
def test_corpus_matches_independent_labels(row: dict[str, str]) -> None:
    path = CORPUS / row["local_file"]
    data = path.read_bytes()
    result = read_c2pa(data, corpus_mime(path, data))
    present = result is not None and result.manifests > 0
    assert int(present) == int(row["has_c2pa_manifest"]), result
    if not present:
        # The labels' reader fetched nothing either: remote manifests and unreadable data.
        error = row["reader_error"]
        if error.startswith("Remote"):
            assert result is not None and result.validation_state == "remote-not-fetched"
            assert result.remote_url and result.remote_url.startswith("http")
        elif error and not error.startswith("ManifestNotFound") and result is not None:
            assert result.validation_state == "unreadable" and result.error
        return
    assert result is not None
    assert result.manifests == int(row["n_manifests"])
    assert result.validation_state == row["validation_state"]
    assert (result.claim_generator or "") == row["claim_generator"]
    expected = sorted(filter(None, row["digital_source_types"].split(",")))
    assert sorted(result.digital_source_types) == expected
    assert int(result.ai_declared) == int(row["ai_generated_per_manifest"])
    strengths = {e.strength for e in result.evidence()}
    assert ("conclusive" in strengths or "strong" in strengths) == result.ai_declared


def test_camera_photos_carry_no_ai_evidence() -> None:
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip(f"benign shared corpus not present at {SHARED}: test needs its camera photos")
    with (SHARED / "MANIFEST.tsv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["truth"] == "real"]
    assert len(rows) > 100
    for row in rows:
        data = (SHARED / row["file"]).read_bytes()
        result = read_c2pa(data, sniff_mime(data[:64]))
        if result is not None:
            assert all(e.strength == "none" for e in result.evidence()), row["file"]


def _corpus_files() -> list[Path]:
    if not (CORPUS / "LABELS.tsv").is_file():
        pytest.skip(f"C2PA corpus not present at {CORPUS}: test needs its remote-manifest files")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() != ".tsv")


def test_python_level_network_is_never_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap guard for Python code paths; the native library is covered by the seccomp test."""
    import socket

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"network use during C2PA reading: {args!r}")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for path in _corpus_files():
        data = path.read_bytes()
        read_c2pa(data, corpus_mime(path, data))


# Runs in a child process under a seccomp filter that kills the process on connect() or on
# creating an IPv4/IPv6 socket, so a native (Rust) network attempt, which Python's socket module
# never sees, ends the child with SIGSYS instead of going unnoticed.
_GUARD = r"""
import ctypes, platform, resource, struct, sys
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSYS must not leave a core file behind
ARCH = {"x86_64": (0xC000003E, 41, 42), "aarch64": (0xC00000B7, 198, 203)}
arch, nr_socket, nr_connect = ARCH[platform.machine()]
def op(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)
LD, JEQ, RET, ALLOW, KILL = 0x20, 0x15, 0x06, 0x7FFF0000, 0x80000000
program = b"".join([
    op(LD, 4), op(JEQ, arch, 0, 6), op(LD, 0), op(JEQ, nr_connect, 5, 0),
    op(JEQ, nr_socket, 0, 3), op(LD, 16), op(JEQ, 2, 2, 0), op(JEQ, 10, 1, 0),
    op(RET, ALLOW), op(RET, KILL),
])
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]
libc = ctypes.CDLL(None, use_errno=True)
prog = Prog(len(program) // 8, program)
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(prog), 0, 0):
    sys.exit(3)
mode, files = sys.argv[1], sys.argv[2:]
if mode == "python-socket":
    import socket
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
import io
if mode == "sdk-defaults":
    import c2pa
    for f in files:
        try:
            c2pa.Reader("image/jpeg", io.BytesIO(open(f, "rb").read()))
        except Exception:
            pass
else:
    from veriscan.analyzers.provenance.c2pa import read_c2pa
    from veriscan.analyzers.filetype import sniff_mime
    for f in files:
        data = open(f, "rb").read()
        read_c2pa(data, "application/c2pa" if f.endswith(".c2pa") else sniff_mime(data[:64]))
print("done")
"""


def _guarded(mode: str, files: list[Path]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", _GUARD, mode, *map(str, files)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def test_native_library_makes_no_network_attempt() -> None:
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64"):
        pytest.skip("the seccomp network guard is Linux x86_64/aarch64 only")
    files = _corpus_files()
    control = _guarded("python-socket", [])
    if control.returncode == 3:
        pytest.skip("seccomp filters cannot be installed here")
    assert control.returncode == -signal.SIGSYS, control  # the guard does catch a socket
    remote = [p for p in files if p.name == "cloud.jpg"]
    assert remote, "corpus lacks cloud.jpg (remote manifest)"
    defaults = _guarded("sdk-defaults", remote)
    assert defaults.returncode == -signal.SIGSYS, defaults  # the SDK's defaults do go online
    ours = _guarded("veriscan", files)
    assert (ours.returncode, ours.stdout.strip()) == (0, "done"), ours.stderr[-2000:]
