"""The one policy for withholding generation-parameter text: prompts, workflows, infotext.

Prompts are evidence of intent and may be disturbing, so every output (JSONL, the HTML report,
`show`, the review app) passes its fact tree through :func:`redact` unless prompts were asked
for. The decision looks at the value as well as at the key: a parser added later, or a generator
that hides its graph in EXIF Make, cannot carry a prompt past it under an innocent name.

Three rules, applied to every string and structure in the tree (locations excepted: they name the
evidence):

- by key: fields whose name says they hold prompt text or free text a generator writes prompts
  into (``prompt``, ``negative_prompt``, ``workflow``, ``user_comment``, ``description``, ...);
- by content: text that reads as A1111 infotext, a ComfyUI/InvokeAI/NovelAI/SwarmUI JSON blob
  (also behind a ``workflow:``/``prompt:`` prefix), a Midjourney or Dream command line;
- by quotation: any other text that quotes a withheld prompt (a summary, a problem message).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from veriscan.domain import JSON

WITHHELD = "[withheld: may contain a prompt; ask for prompts explicitly]"

_ALWAYS = frozenset(
    {
        "workflow",
        "workflows",
        "infotext",
        "usercomment",
        "usercommenthex",
        "imagedescription",
        "xpcomment",
        "xpsubject",
        "xpkeywords",
        "caption",
        "captions",
        "captionabstract",
        "description",
        "descriptions",
        "comment",
        "comments",
        "uc",
        "dream",
        "sdmetadata",
        "invokeaimetadata",
        "invokeaigraph",
        "invokeaiworkflow",
        "suiimageparams",
        "trailingtext",
        "template",
        "negativetemplate",
        "0x9286",
        "0x010e",
        "0x9c9c",
        "0x9c9e",
        "0x9c9f",
    }
)
# Names that also mean something innocent elsewhere (an IPTC term's raw form, a C2PA action's
# parameters): withheld by name only inside generation parameters, elsewhere by content.
_IN_PARAMS = frozenset({"raw", "parameters", "positive", "negative", "text", "textg", "textl"})

_STEPS = re.compile(r"\bSteps:\s*\d+")
_INFOTEXT_FIELD = re.compile(r"\b(?:Sampler|CFG scale|Seed|Size|Model hash|Model|Schedule type):")
_NEGATIVE = re.compile(r"\bNegative prompt:", re.IGNORECASE)
_PREFIX = re.compile(r"^\s*(?:workflow|prompt|parameters|comment|description)\s*:\s*", re.I)
_MJ_FLAG = re.compile(r"(?:^|\s)--(ar|v|niji|stylize|chaos|seed|style|weird|tile|no|q|s|c)\s+\S")
_JOB_ID = re.compile(r"Job ID:\s*[0-9a-f]{8}-[0-9a-f]{4}", re.IGNORECASE)
_DREAM_OPT = re.compile(r"(?:^|\s)-([sSWHCA])\s*[\w.]+")
_JSON_MARKERS = (
    '"class_type"',
    '"widgets_values"',
    '"prompt"',
    '"negative_prompt"',
    '"uc"',
    '"sui_image_params"',
    '"positive_prompt"',
)
_MAX_JSON = 8 << 20
_MAX_NODES = 200_000
_MIN_QUOTE = 16
_QUOTE_PREFIX = 40
_MAX_NEEDLES = 5000
_MAX_DEPTH = 64
_FILE = re.compile(r"\.(?:safetensors|ckpt|pt|pth|bin|gguf|sft|onnx|yaml|png|jpe?g|webp)\b", re.I)


def _norm(key: str) -> str:
    last = re.split(r"[.:/]", key)[-1]
    return re.sub(r"[^0-9a-z]", "", last.lower())


def is_prompt_key(key: str, in_params: bool = False) -> bool:
    """Whether a field of this name holds prompt text (or free text that may be one)."""
    name = _norm(key)
    return "prompt" in name or name in _ALWAYS or (in_params and name in _IN_PARAMS)


def _json_doc(text: str) -> tuple[bool, JSON]:
    body = _PREFIX.sub("", text, count=1).strip()
    if not body.startswith(("{", "[")) or len(body) > _MAX_JSON:
        return False, None
    try:
        return True, json.loads(body)
    except (ValueError, RecursionError):
        return True, None


def _substantial(value: JSON) -> bool:
    """Numbers and flags (``prompt_strength``) are parameters, not text to withhold."""
    return value not in (None, "", [], {}) and not isinstance(value, int | float | bool)


def _doc_has_generation(doc: JSON, depth: int) -> bool:
    stack, seen = [doc], 0
    while stack and seen < _MAX_NODES:
        node = stack.pop()
        seen += 1
        if isinstance(node, dict):
            keys = set(node)
            if "class_type" in keys or {"nodes", "links"} <= keys:
                return True
            for key, value in node.items():
                if is_prompt_key(str(key)) and _substantial(value):
                    return True
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and depth < 3 and is_generation_text(node, depth + 1):
            return True
    return False


def is_generation_text(text: str, depth: int = 0) -> bool:
    """Whether text reads as generation parameters whatever field it was found in."""
    if len(text) < 8:
        return False
    if _NEGATIVE.search(text) or (_STEPS.search(text) and _INFOTEXT_FIELD.search(text)):
        return True
    if _JOB_ID.search(text) or len({m.group(1) for m in _MJ_FLAG.finditer(text)}) >= 2:
        return True
    if len({m.group(1) for m in _DREAM_OPT.finditer(text)}) >= 3:
        return True
    looks_json, doc = _json_doc(text)
    if not looks_json:
        return False
    if doc is None:
        return any(marker in text for marker in _JSON_MARKERS)
    return _doc_has_generation(doc, depth)


@dataclass(frozen=True)
class WithheldField:
    """One withheld value: where it sat (``exif.make``, ``ai.params[0].prompt``) and its text."""

    path: str
    text: str


@dataclass(frozen=True)
class Redaction:
    value: JSON
    fields: list[WithheldField]


def _as_text(value: JSON) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    except (RecursionError, ValueError, TypeError):
        return "[a structure nested too deeply to display]"


def _prompt_leaves(value: JSON) -> Iterator[str]:
    """The prompt-like text inside a withheld value: the value itself when it is plain text, else
    the strings under prompt-like names (``text``, ``widgets_values``, ``prompt``, ``uc``...)."""
    stack: list[tuple[str | None, JSON]] = [(None, value)]
    seen = 0
    while stack and seen < _MAX_NODES:
        key, node = stack.pop()
        seen += 1
        if isinstance(node, str):
            looks_json, doc = _json_doc(node)
            if looks_json and doc is not None:
                stack.append((None, doc))
            elif key is None or key == "widgets_values" or is_prompt_key(key, in_params=True):
                yield node
                yield from node.splitlines()
        elif isinstance(node, dict):
            stack.extend((str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((key, item) for item in node)


def _needles(withheld: list[JSON]) -> list[str]:
    """Phrases of withheld text long and wordy enough that finding one elsewhere is a quotation
    (model file names are parameters, not quotations, even when they hold spaces)."""
    found: set[str] = set()
    for value in withheld:
        for leaf in _prompt_leaves(value):
            text = leaf.strip()
            if len(text) >= _MIN_QUOTE and re.search(r"\s", text) and not _FILE.search(text):
                found.add(text[:_QUOTE_PREFIX])
                if len(found) >= _MAX_NEEDLES:
                    return sorted(found)
    return sorted(found)


class _Walker:
    def __init__(self) -> None:
        self.verdicts: dict[str, bool] = {}
        self.withheld: list[JSON] = []
        self.fields: list[WithheldField] = []
        self.needles: list[str] = []

    def generation(self, text: str) -> bool:
        if text not in self.verdicts:
            self.verdicts[text] = is_generation_text(text)
        return self.verdicts[text]

    def hides(self, key: str | None, value: JSON, in_params: bool, depth: int) -> bool:
        if not _substantial(value):
            return False
        if depth > _MAX_DEPTH:
            return True
        if key is not None and is_prompt_key(key, in_params):
            return True
        return isinstance(value, str) and self.generation(value)

    def collect(self, value: JSON, key: str | None, in_params: bool, depth: int = 0) -> None:
        if self.hides(key, value, in_params, depth):
            self.withheld.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                if self.generation(str(k)):
                    self.withheld.append(str(k))
                self.collect(v, str(k), in_params or k == "params", depth + 1)
        elif isinstance(value, list):
            for item in value:
                self.collect(item, key, in_params, depth + 1)

    def quotes(self, text: str) -> bool:
        return any(n in text for n in self.needles)

    def rebuild(
        self, value: JSON, key: str | None, path: str, in_params: bool, depth: int = 0
    ) -> JSON:
        if self.hides(key, value, in_params, depth) or (
            isinstance(value, str) and self.quotes(value)
        ):
            self.fields.append(WithheldField(path, _as_text(value)))
            return WITHHELD
        if isinstance(value, dict):
            out: dict[str, JSON] = {}
            for k, v in value.items():
                name, where = str(k), f"{path}.{k}" if path else str(k)
                if not path and name == "locations":
                    out[name] = v
                elif self.generation(name) or self.quotes(name):
                    self.fields.append(WithheldField(where, _as_text({name: v})))
                    out[f"{WITHHELD} #{len(self.fields)}"] = WITHHELD
                else:
                    deeper = in_params or name == "params"
                    out[name] = self.rebuild(v, name, where, deeper, depth + 1)
            return out
        if isinstance(value, list):
            return [
                self.rebuild(item, key, f"{path}[{i}]", in_params, depth + 1)
                for i, item in enumerate(value)
            ]
        return value


def redact(tree: JSON) -> Redaction:
    """A copy of ``tree`` with generation-parameter text replaced by :data:`WITHHELD`, and what
    was replaced. The input is left untouched."""
    walker = _Walker()
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key != "locations":
                walker.collect(value, str(key), key == "params", 1)
    else:
        walker.collect(tree, None, False)
    walker.needles = _needles(walker.withheld)
    value = walker.rebuild(tree, None, "", False)
    return Redaction(value, walker.fields)


def withhold(obj: dict[str, JSON]) -> dict[str, JSON]:
    """``obj`` as an output may carry it when prompts were not asked for."""
    value = redact(obj).value
    assert isinstance(value, dict)
    return value


def withheld_fields(obj: JSON) -> list[WithheldField]:
    """Every value :func:`withhold` would replace, with its text: what a logged reveal shows."""
    return redact(obj).fields


def withhold_text(text: str) -> str:
    """A free-standing message (a problem's) as an output may carry it without prompts."""
    return WITHHELD if is_generation_text(text) else text
