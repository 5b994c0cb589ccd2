"""C2PA manifests: a signed account of how a file was made, read and validated fully offline.

The C2PA SDK's defaults fetch remote (cloud) manifests over the network, and can fetch OCSP
status and resolve identities online. An investigation tool must never contact anything, and a
remote manifest URL in a seized file must not be requested (it would tip off whoever hosts it),
so every network path is switched off explicitly and the SDK's own host allow-list is set to
empty, which refuses any request that a future setting might still make. A remote manifest is
reported as a lead (its URL), never fetched.

Trust is kept apart from validity: "Valid" means the signature and the content hash check out;
"Trusted" also means the signing certificate chains to an anchor the examiner configured. Without
anchors nothing is trusted, and anyone can sign with a certificate they made themselves.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from veriscan.analyzers.provenance.base import JSON, Evidence, ProvenanceError, load_json
from veriscan.analyzers.provenance.c2pa_sdk import OFFLINE_SETTINGS as OFFLINE_SETTINGS
from veriscan.analyzers.provenance.c2pa_sdk import (
    anchors_text,
    load_sdk,
    offline_context,
    supported,
)
from veriscan.analyzers.provenance.iptc import AI_DECLARED, SYNTHETIC, SourceType, classify

SIGNAL = "c2pa"
VALID_STATES = frozenset({"Valid", "Trusted"})
REMOTE = "remote-not-fetched"
UNREADABLE = "unreadable"
MAX_INGREDIENT_DEPTH = 16
MAX_MANIFESTS_WALKED = 64
MAX_WALK_NODES = 20_000
MAX_WALK_DEPTH = 32
MAX_REASONS = 100
MAX_ACTIONS = 256

# Failure codes of the active manifest's hard binding: the bytes it signed are not these bytes.
_CONTENT_MISMATCH = re.compile(
    r"^(?:assertion\.(?:dataHash|boxesHash|bmffHash|collectionHash)\.\w+|claim\.hardBindings\.missing)$"
)
_C2PA_MARK = b"c2pa"
_URL = re.compile(r"https?://[^\s\"'<>]+")


@dataclass
class C2paResult:
    """What the manifest store says and how it validated, summarised for the report."""

    validation_state: str
    claim_generator: str | None = None
    signer: str | None = None
    signed_at: str | None = None
    trusted: bool = False
    validation_reasons: list[str] = field(default_factory=list)
    actions: list[dict[str, str | None]] = field(default_factory=list)
    digital_source_types: list[str] = field(default_factory=list)
    ai_declared: bool = False
    synthetic_declared: bool = False
    content_matches: bool = True
    manifests: int = 0
    remote_url: str | None = None
    error: str | None = None

    @property
    def valid(self) -> bool:
        return self.validation_state in VALID_STATES

    def details(self) -> dict[str, JSON]:
        return asdict(self)

    def evidence(self) -> list[Evidence]:
        """Conclusive only for a valid manifest whose hash still matches and that declares AI.

        A declaration in a manifest that fails validation is strong, never conclusive: it was
        once signed, but the file or the manifest changed since. A manifest without an AI claim
        (a camera's, an editor's) is a recorded fact and never evidence that an image is real.
        """
        strength, generator = "none", None
        by = f" by {self.claim_generator}" if self.claim_generator else ""
        signed = f", signed by {self.signer}" if self.signer else ""
        types = ", ".join(self.digital_source_types) or "no digital source type"
        if self.validation_state == REMOTE:
            summary = (
                f"The file points to a C2PA manifest stored remotely at {self.remote_url}; it was "
                "not fetched (veriscan never goes online). The URL is a lead."
            )
        elif self.validation_state == UNREADABLE:
            summary = f"The C2PA reader could not read this file's C2PA data: {self.error}"
        elif self.ai_declared:
            generator = f"c2pa:{self.claim_generator}" if self.claim_generator else "c2pa"
            if self.valid and self.content_matches:
                strength = "conclusive"
                trust = (
                    "The signing certificate chains to a configured trust anchor."
                    if self.trusted
                    else "The signing certificate is not on a configured trust list: the "
                    "signature proves the file is unchanged since signing, not who signed it."
                )
                summary = (
                    f"A valid C2PA manifest{by}{signed} declares AI generation ({types}); the "
                    f"content matches what was signed. {trust}"
                )
            else:
                strength = "strong"
                why = (
                    "content does not match: the image data changed after signing"
                    if not self.content_matches
                    else "but it does not validate"
                )
                summary = (
                    f"C2PA manifest present, {why} ({self._failures()}). The manifest{by}{signed} "
                    f"declares AI generation ({types}), so this file was derived from AI output, "
                    "but the declaration is not verified for these pixels."
                )
        else:
            strength = "indicative" if self.synthetic_declared else "none"
            fact = (
                "It declares synthetic content, though not AI trained on data."
                if self.synthetic_declared
                else "Recorded as a fact: a manifest without an AI claim never proves an image "
                "real."
            )
            mismatch = "" if self.content_matches else ", content does not match"
            summary = (
                f"C2PA manifest{by}{signed}, validation {self.validation_state}{mismatch}; "
                f"digital source types: {types}. {fact}"
            )
        return [Evidence(SIGNAL, strength, summary, generator, self.details())]

    def _failures(self) -> str:
        codes = [r.split(":", 1)[0] for r in self.validation_reasons]
        shown = [c for c in codes if c != "signingCredential.untrusted"] or codes
        return ", ".join(dict.fromkeys(shown)) or self.validation_state


def read_c2pa(data: bytes, mime: str, trust_anchors_pem: str | None = None) -> C2paResult | None:
    """Read and validate the C2PA manifest store in ``data`` from memory; None if there is none.

    ``trust_anchors_pem`` is PEM text or the path of a local PEM file (the examiner's copy of the
    C2PA trust list). A manifest that cannot be parsed yields state ``unreadable`` with the error;
    a manifest stored remotely yields ``remote-not-fetched`` with its URL. Raises ProvenanceError
    only for unusable trust anchors, which is a configuration error, not a property of the file.
    """
    sdk = load_sdk()
    fmt = mime.split(";", 1)[0].strip().lower()
    if fmt not in supported():
        return None
    context = offline_context(os.getpid(), anchors_text(trust_anchors_pem or None))
    try:
        reader = sdk.Reader.try_create(fmt, io.BytesIO(data), None, context)
        if reader is None:
            return None
        with reader:
            raw = reader.json()
    except sdk.C2paError as exc:
        message = str(exc)
        if message.startswith("Remote"):
            url = _URL.search(message)
            return C2paResult(REMOTE, remote_url=url.group(0) if url else None, error=message)
        return _unreadable(data, message)
    except (OSError, ValueError) as exc:
        return _unreadable(data, str(exc))
    try:
        store = load_json(raw, "C2PA manifest store")
    except ProvenanceError as exc:
        return C2paResult(UNREADABLE, error=str(exc))
    if not isinstance(store, dict):
        return C2paResult(UNREADABLE, error="C2PA manifest store is not a JSON object")
    return summarise(store)


def _unreadable(data: bytes, error: str) -> C2paResult | None:
    """An SDK error is about C2PA data only if the file holds some (JUMBF labels say "c2pa"):
    a corrupt JPEG without any is not an unreadable manifest, and must not be reported as one."""
    return C2paResult(UNREADABLE, error=error) if _C2PA_MARK in data else None


def summarise(store: dict[str, Any]) -> C2paResult:
    """The report's view of a manifest store as the SDK returns it (``Reader.json()``)."""
    manifests = store.get("manifests")
    manifests = manifests if isinstance(manifests, dict) else {}
    active_label = store.get("active_manifest")
    active = manifests.get(active_label) if isinstance(active_label, str) else None
    active = active if isinstance(active, dict) else {}
    state = store.get("validation_state")
    result = C2paResult(
        validation_state=state if isinstance(state, str) and state else "Unknown",
        claim_generator=_generator(active),
        manifests=len(manifests),
    )
    result.trusted = result.validation_state == "Trusted"
    info = active.get("signature_info")
    if isinstance(info, dict):
        result.signer = _signer(info)
        when = info.get("time")
        result.signed_at = when if isinstance(when, str) else None
    active_codes = _validation(store, result)
    result.content_matches = not any(_CONTENT_MISMATCH.match(c) for c in active_codes)
    found: list[SourceType] = []
    for label, manifest in _chain(manifests, active_label):
        _actions(label, manifest, result.actions)
        for where, value in _source_values(manifest.get("assertions")):
            t = classify(value, f"c2pa {label} {where}")
            if t is not None:
                found.append(t)
    result.digital_source_types = list(dict.fromkeys(t.term for t in found))
    result.ai_declared = any(t.ai in AI_DECLARED for t in found)
    result.synthetic_declared = any(t.ai in SYNTHETIC for t in found)
    return result


def _generator(manifest: dict[str, Any]) -> str | None:
    generator = manifest.get("claim_generator")
    if isinstance(generator, str) and generator.strip():
        return generator.strip()
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        parts = [infos[0].get("name"), infos[0].get("version")]
        text = " ".join(str(p) for p in parts if isinstance(p, str | int | float) and str(p))
        return text or None
    return None


def _signer(info: dict[str, Any]) -> str | None:
    name, org = info.get("common_name"), info.get("issuer")
    name = name if isinstance(name, str) and name else None
    org = org if isinstance(org, str) and org else None
    if name and org and name != org:
        return f"{name} ({org})"
    return name or org


def _validation(store: dict[str, Any], result: C2paResult) -> list[str]:
    """Fill ``validation_reasons``; return the active manifest's own failure codes."""
    results = store.get("validation_results")
    active_failures: list[Any] = []
    if isinstance(results, dict):
        active = results.get("activeManifest")
        if isinstance(active, dict) and isinstance(active.get("failure"), list):
            active_failures = active["failure"]
        _reasons(active_failures, "", result.validation_reasons)
        deltas = results.get("ingredientDeltas")
        for delta in deltas if isinstance(deltas, list) else []:
            if not isinstance(delta, dict) or not isinstance(delta.get("validationDeltas"), dict):
                continue
            uri = str(delta.get("ingredientAssertionURI", "")).rsplit("/", 1)[-1]
            failures = delta["validationDeltas"].get("failure")
            if isinstance(failures, list):
                _reasons(failures, f" (ingredient {uri})", result.validation_reasons)
    else:
        legacy = store.get("validation_status")
        active_failures = legacy if isinstance(legacy, list) else []
        _reasons(active_failures, "", result.validation_reasons)
    return [f["code"] for f in active_failures if isinstance(f, dict) and "code" in f]


def _reasons(failures: list[Any], suffix: str, out: list[str]) -> None:
    for f in failures:
        if isinstance(f, dict) and isinstance(f.get("code"), str) and len(out) < MAX_REASONS:
            explanation = f.get("explanation")
            text = f"{f['code']}: {explanation}" if isinstance(explanation, str) else f["code"]
            out.append(text + suffix)


def _chain(manifests: dict[str, Any], active: Any) -> list[tuple[str, dict[str, Any]]]:
    """The active manifest and, recursively, those of its ingredients, bounded and cycle-safe."""
    out: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    stack: list[tuple[Any, int]] = [(active, 0)]
    while stack and len(out) < MAX_MANIFESTS_WALKED:
        label, depth = stack.pop()
        if not isinstance(label, str) or label in seen or depth > MAX_INGREDIENT_DEPTH:
            continue
        manifest = manifests.get(label)
        if not isinstance(manifest, dict):
            continue
        seen.add(label)
        out.append((label, manifest))
        ingredients = manifest.get("ingredients")
        for ingredient in reversed(ingredients if isinstance(ingredients, list) else []):
            if isinstance(ingredient, dict):
                stack.append((ingredient.get("active_manifest"), depth + 1))
    return out


def _actions(label: str, manifest: dict[str, Any], out: list[dict[str, str | None]]) -> None:
    assertions = manifest.get("assertions")
    for assertion in assertions if isinstance(assertions, list) else []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith(
            "c2pa.actions"
        ):
            continue
        data = assertion.get("data")
        data = data if isinstance(data, dict) else {}
        agents = data.get("softwareAgents")
        actions = data.get("actions")
        for action in actions if isinstance(actions, list) else []:
            if not isinstance(action, dict) or len(out) >= MAX_ACTIONS:
                continue
            agent = action.get("softwareAgent")
            index = action.get("softwareAgentIndex")
            if agent is None and isinstance(index, int) and isinstance(agents, list):
                agent = agents[index] if 0 <= index < len(agents) else None
            out.append(
                {
                    "action": _text(action.get("action")),
                    "digitalSourceType": _text(action.get("digitalSourceType")),
                    "softwareAgent": _agent(agent),
                    "when": _text(action.get("when")),
                    "manifest": label,
                }
            )


def _agent(agent: Any) -> str | None:
    if isinstance(agent, dict):
        parts = [_text(agent.get("name")), _text(agent.get("version"))]
        return " ".join(p for p in parts if p) or None
    return _text(agent)


def _text(value: Any) -> str | None:
    return value[:512] if isinstance(value, str) else None


def _source_values(node: Any) -> list[tuple[str, str]]:
    """Every ``digitalSourceType`` value under the assertions (actions, IPTC and other
    assertions), iteratively and bounded: the JSON is the file's, however the SDK parsed it."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(node, "", 0)]
    visited = 0
    while stack and visited < MAX_WALK_NODES:
        value, path, depth = stack.pop()
        visited += 1
        if depth > MAX_WALK_DEPTH:
            continue
        if isinstance(value, dict):
            label = value.get("label")
            for key, child in value.items():
                where = f"{path}/{label}" if isinstance(label, str) and not path else path
                if key.replace("_", "").lower().endswith("digitalsourcetype"):
                    for v in child if isinstance(child, list) else [child]:
                        v = v.get("@id") if isinstance(v, dict) else v
                        if isinstance(v, str):
                            found.append((f"{where}/{key}".lstrip("/"), v))
                else:
                    stack.append((child, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((child, path, depth + 1) for child in reversed(value))
    return found
