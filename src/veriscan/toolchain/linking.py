"""Links the models an image's metadata names to model files found on the same media.

Metadata names a model by whichever hash its tool happened to compute (AutoV1, the ten-digit
AutoV2, the twelve-digit addnet form, BLAKE3, full SHA-256) and by a name the user may have
changed, so a hash match is evidence and a name match is only a lead: each link says which it is
and how it was made, in words an examiner can repeat. Everything here is pure so the same inputs
always give the same links, in the same order, whatever the metadata contains.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MIN_PREFIX = 8
"""Shorter hex strings collide too often across a large seizure to identify a file."""

_HEX = re.compile(r"[0-9a-f]{8,128}")
_SCHEME_PREFIX = re.compile(r"^(?:0x|[a-z0-9_-]{2,20}:)")
_BRACKET_HASH = re.compile(r"\s*\[([0-9a-fA-F]{8,64})\]\s*$")
_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")
_STRENGTH_RANK = {"hash": 2, "name": 1}

_HASH_LABELS = {"autov1": "AutoV1", "autov2": "AutoV2", "addnet": "AutoV3", "addnet12": "AddNet"}
_HASH_LABELS |= {"blake3": "BLAKE3", "sha256": "SHA-256"}
_EXACT_FIELDS = tuple(_HASH_LABELS)
"""CRC32 is left out on purpose: eight hex digits of a checksum identify nothing on their own."""

_SCHEME_FIELDS: dict[str, tuple[str, ...]] = {
    "autov1": ("autov1",),
    "autov2": ("autov2", "sha256"),
    "autov3": ("addnet", "addnet12"),
    "addnet": ("addnet", "addnet12"),
    "addnet12": ("addnet12",),
    "blake3": ("blake3",),
    "sha256": ("sha256",),
    "modelspec-sha256": ("sha256",),
}

_KIND_ROLES = {"checkpoint": "checkpoint", "unet": "unet", "transformer": "unet", "lora": "lora"}
_KIND_ROLES |= {"embedding": "embedding", "textual-inversion": "embedding", "vae": "vae"}
_KIND_ROLES |= {"controlnet": "controlnet", "t2i-adapter": "controlnet"}
_DIFFUSION_ROLES = frozenset({"checkpoint", "unet"})
"""A UI's "model" field names whichever diffusion weights were loaded, whole checkpoint or not."""
_UNCLASSIFIED = frozenset({"", "unknown"})


@dataclass(frozen=True)
class ModelFile:
    """A model file as the index needs it: its content hashes and every name it went by."""

    sha256: str
    kind: str
    hashes: Mapping[str, str]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Link:
    """One model file an image's metadata points at, and how strongly."""

    model_sha256: str
    role: str
    strength: str
    via: str


@dataclass(frozen=True)
class _Reference:
    role: str
    name: str | None
    hashes: tuple[tuple[str, str | None, str], ...]
    """(digest as written, scheme, where it was written) for each hash claimed for the model."""


def role_of_kind(kind: str) -> str:
    """LyCORIS variants load through the same LoRA slot; unknown kinds keep their own name."""
    kind = kind.strip().lower()
    if kind.startswith("lycoris"):
        return "lora"
    return _KIND_ROLES.get(kind, kind or "unknown")


def name_key(value: object) -> str | None:
    """Reduces a file reference to what survives UIs: no folders, extension, case or " [hash]"."""
    if not isinstance(value, str):
        return None
    name = _BRACKET_HASH.sub("", value.strip())
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    lowered = name.lower()
    for ext in _EXTENSIONS:
        if lowered.endswith(ext):
            lowered = lowered[: -len(ext)]
            break
    return lowered.strip() or None


def hash_key(value: object) -> str | None:
    """Lowercase hex without the ``blake3:``/``0x`` decorations tools add; None if not a hash."""
    if not isinstance(value, str):
        return None
    digest = _SCHEME_PREFIX.sub("", value.strip().lower())
    return digest if _HEX.fullmatch(digest) else None


def _scheme_hint(value: str, scheme: str | None) -> str | None:
    """InvokeAI writes the scheme into the digest; it outranks a scheme guessed from length."""
    written = value.strip().lower().partition(":")
    if written[1] and written[0] in _SCHEME_FIELDS:
        return written[0]
    return scheme.lower() if isinstance(scheme, str) else None


class ModelIndex:
    """Hash and name lookups over the model files of one case, built once, queried per image."""

    def __init__(self, models: Iterable[ModelFile]) -> None:
        self._kinds: dict[str, str] = {}
        self._exact: dict[str, dict[str, set[str]]] = {f: {} for f in _EXACT_FIELDS}
        self._names: dict[str, set[str]] = {}
        for model in models:
            sha = model.sha256.strip().lower()
            if not sha:
                continue
            self._kinds[sha] = model.kind
            for field in _EXACT_FIELDS:
                value = sha if field == "sha256" else hash_key(model.hashes.get(field))
                if value:
                    self._exact[field].setdefault(value, set()).add(sha)
            for name in model.names:
                key = name_key(name)
                if key:
                    self._names.setdefault(key, set()).add(sha)
        self._sorted_sha = sorted(self._kinds)

    def link(self, params: Sequence[Mapping[str, Any]]) -> list[Link]:
        """Every model file the metadata points at, strongest evidence per file and role."""
        best: dict[tuple[str, str], Link] = {}
        for link in self._links(params):
            key = (link.model_sha256, link.role)
            held = best.get(key)
            # Hash beats name; between equals the alphabetically first wording, so runs agree.
            if held is None or (_rank(link), held.via) > (_rank(held), link.via):
                best[key] = link
        return sorted(best.values(), key=lambda x: (x.role, x.model_sha256, x.strength, x.via))

    def _links(self, params: Sequence[Mapping[str, Any]]) -> Iterator[Link]:
        if not isinstance(params, Sequence) or isinstance(params, str | bytes):
            return
        for entry in params:
            if not isinstance(entry, Mapping):
                continue
            for ref in _references(entry):
                yield from self._resolve(ref)
            extra = entry.get("extra")
            graph = extra.get("graph_models") if isinstance(extra, Mapping) else None
            if isinstance(graph, list):
                for file_name in graph:
                    yield from self._graph_links(file_name)

    def _resolve(self, ref: _Reference) -> Iterator[Link]:
        """Hashes first; a name is consulted only when none of the reference's hashes matched."""
        found = False
        for written, scheme, context in ref.hashes:
            for sha, field in self._by_hash(written, scheme):
                found = True
                via = f"{_label(field, written)} {written.strip()} ({context})"
                yield Link(sha, ref.role, "hash", via)
        key = name_key(ref.name)
        if found or key is None:
            return
        for sha in sorted(self._names.get(key, ())):
            if _compatible(ref.role, self._kinds[sha]):
                yield Link(sha, ref.role, "name", f"file name {ref.name}")

    def _graph_links(self, file_name: object) -> Iterator[Link]:
        """A ComfyUI graph names files without saying what they are; the file itself says."""
        key = name_key(file_name)
        if key is None:
            return
        for sha in sorted(self._names.get(key, ())):
            yield Link(sha, role_of_kind(self._kinds[sha]), "name", f"file name {file_name}")

    def _by_hash(self, written: str, scheme: str | None) -> list[tuple[str, str]]:
        """(sha256, matching field); the scheme's own fields win so prefixes collide less."""
        digest = hash_key(written)
        if digest is None:
            return []
        preferred = _SCHEME_FIELDS.get(_scheme_hint(written, scheme) or "", ())
        rest = tuple(f for f in _EXACT_FIELDS if f not in preferred)
        for fields in (preferred, rest):
            hits: dict[str, str] = {}
            for field in fields:
                for sha in self._exact[field].get(digest, ()):
                    hits.setdefault(sha, field)
                if field == "sha256" and len(digest) < 64:
                    for sha in self._sha_prefix(digest):
                        hits.setdefault(sha, "sha256")
            if hits:
                return sorted(hits.items())
        return []

    def _sha_prefix(self, prefix: str) -> list[str]:
        start = bisect.bisect_left(self._sorted_sha, prefix)
        out: list[str] = []
        for sha in self._sorted_sha[start:]:
            if not sha.startswith(prefix):
                break
            out.append(sha)
        return out


def _rank(link: Link) -> int:
    return _STRENGTH_RANK.get(link.strength, 0)


def _label(field: str, written: str) -> str:
    """Civitai calls the ten-digit SHA-256 prefix AutoV2; other lengths are plain prefixes."""
    if field != "sha256":
        return _HASH_LABELS[field]
    length = len(hash_key(written) or "")
    return "SHA-256" if length == 64 else "AutoV2" if length == 10 else "SHA-256 prefix"


def _compatible(role: str, kind: str) -> bool:
    """A name alone must not pull a LoRA reference onto a checkpoint that shares its name."""
    if kind.strip().lower() in _UNCLASSIFIED:
        return True
    file_role = role_of_kind(kind)
    return file_role == role or {file_role, role} <= _DIFFUSION_ROLES


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _references(entry: Mapping[str, Any]) -> Iterator[_Reference]:
    """Every model reference in one GenerationParams.to_json(), whatever the tool wrote."""
    extra = entry.get("extra")
    extra = extra if isinstance(extra, Mapping) else {}
    civitai = extra.get("Hashes")
    civitai = civitai if isinstance(civitai, Mapping) else {}
    ti_hashes = extra.get("TI hashes")
    ti_hashes = ti_hashes if isinstance(ti_hashes, Mapping) else {}
    scheme = _text(entry.get("model_hash_scheme"))

    model = _text(entry.get("model"))
    claims: list[tuple[str, str | None, str]] = []
    if _text(entry.get("model_hash")):
        claims.append((entry["model_hash"], scheme, "Model hash"))
    if _text(civitai.get("model")):
        claims.append((civitai["model"], None, "Hashes: model"))
    yield _Reference("checkpoint", model, (*claims, *_bracket(model)))

    loras = entry.get("loras")
    for lora in loras if isinstance(loras, list) else ():
        if isinstance(lora, Mapping):
            name, digest = _text(lora.get("name")), _text(lora.get("hash"))
            claims = [(digest, None, f"Lora hashes: {name or '?'}")] if digest else []
            yield _Reference("lora", name, tuple(claims))

    embeddings = entry.get("embeddings")
    named = [e for e in embeddings if _text(e)] if isinstance(embeddings, list) else []
    named += [k for k in ti_hashes if _text(k) and k not in named]
    for name in named:
        digest = _text(ti_hashes.get(name))
        claims = [(digest, None, f"TI hashes: {name}")] if digest else []
        yield _Reference("embedding", name, tuple(claims))

    for key, digest in civitai.items():
        kind, _, name = str(key).partition(":")
        role = {"lora": "lora", "lyco": "lora", "embed": "embedding"}.get(kind)
        if role and name and _text(digest):
            yield _Reference(role, name, ((digest, None, f"Hashes: {key}"),))

    vae = _text(entry.get("vae"))
    vae_claims = [(extra["VAE hash"], None, "VAE hash")] if _text(extra.get("VAE hash")) else []
    yield _Reference("vae", vae, (*vae_claims, *_bracket(vae)))

    controlnets = entry.get("controlnets")
    for name in controlnets if isinstance(controlnets, list) else ():
        if _text(name):
            yield _Reference("controlnet", name, _bracket(name))


def _bracket(name: str | None) -> tuple[tuple[str, str | None, str], ...]:
    """A1111 titles end in " [shorthash]"; that hash identifies the file better than the title."""
    match = _BRACKET_HASH.search(name) if name else None
    return ((match.group(1), None, f"title {name}"),) if match else ()
