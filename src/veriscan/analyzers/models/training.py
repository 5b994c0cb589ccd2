"""Investigative leads in the training metadata kohya-ss sd-scripts writes into every LoRA it saves.

A LoRA trained on specific images carries the dataset folder names, per-folder image counts, the
caption tags it learned (often naming a subject), when training ran and which base checkpoint it
started from. Every value is a claim by whoever ran the trainer: hashes in the file are kept apart
as untrusted, and malformed JSON becomes a note in ``problems`` instead of an exception.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from veriscan.domain import JSON

MAX_JSON_CHARS = 8 * 1024 * 1024
MAX_FOLDERS = 1_000
TOP_TAGS = 20

_PLAIN = {
    "output_name": "ss_output_name",
    "session_id": "ss_session_id",
    "base_model_version": "ss_base_model_version",
    "v2": "ss_v2",
    "resolution": "ss_resolution",
    "network_module": "ss_network_module",
    "network_dim": "ss_network_dim",
    "network_alpha": "ss_network_alpha",
}
_EMBEDDED_HASHES = ("sshs_model_hash", "sshs_legacy_hash", "modelspec.hash_sha256")


def training_leads(metadata: Mapping[str, str]) -> dict[str, JSON]:
    problems: list[str] = []
    leads: dict[str, JSON] = {}
    for lead, key in _PLAIN.items():
        if metadata.get(key):
            leads[lead] = metadata[key]

    folders = _dataset_folders(metadata, problems)
    tag_frequency = _tag_frequency(metadata, problems)
    for name in tag_frequency:
        if name not in folders and len(folders) < MAX_FOLDERS:
            folders[name] = {"name": name, "images": None, "repeats": None}
    if folders:
        leads["dataset_folders"] = list(folders.values())
    counts = [f["images"] for f in folders.values() if not f.get("regularization")]
    if counts and all(isinstance(c, int) for c in counts):
        leads["image_count"] = sum(counts)
    train_images = _int(metadata.get("ss_num_train_images"))
    if train_images is not None:
        leads["train_images_with_repeats"] = train_images

    totals: Counter[str] = Counter()
    for tags in tag_frequency.values():
        totals.update(tags)
    if totals:
        ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP_TAGS]
        leads["top_tags"] = [[tag, count] for tag, count in ranked]

    for lead, key in (
        ("trained_from", "ss_training_started_at"),
        ("trained_to", "ss_training_finished_at"),
    ):
        when = _iso(metadata.get(key), key, problems)
        if when is not None:
            leads[lead] = when

    base = {
        "name": metadata.get("ss_sd_model_name"),
        "hash": metadata.get("ss_sd_model_hash"),
        "new_hash": metadata.get("ss_new_sd_model_hash"),
    }
    if any(base.values()):
        leads["base_model"] = base
    hashes = {key: metadata[key] for key in _EMBEDDED_HASHES if metadata.get(key)}
    if hashes:
        # Written by the trainer or any later tool; only a hash veriscan computed is evidence.
        leads["embedded_hashes"] = {**hashes, "trusted": False}
    modelspec = {k: v for k, v in metadata.items() if k.startswith("modelspec.")}
    if modelspec:
        leads["modelspec"] = modelspec
    if problems:
        leads["problems"] = problems
    leads["raw"] = dict(metadata)
    return leads


def _json(metadata: Mapping[str, str], key: str, problems: list[str]) -> Any:
    text = metadata.get(key)
    if not text:
        return None
    if len(text) > MAX_JSON_CHARS:
        problems.append(f"{key}: {len(text)} characters, over the {MAX_JSON_CHARS} limit")
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        problems.append(f"{key}: not JSON ({type(exc).__name__})")
        return None


def _dataset_folders(
    metadata: Mapping[str, str], problems: list[str]
) -> dict[str, dict[str, JSON]]:
    """Folder name -> {name, images, repeats}; kohya records them in up to three places."""
    folders: dict[str, dict[str, JSON]] = {}

    def add(name: Any, images: Any, repeats: Any, regularization: bool) -> None:
        if not isinstance(name, str) or len(folders) >= MAX_FOLDERS:
            return
        entry = folders.setdefault(name, {"name": name, "images": None, "repeats": None})
        entry["images"] = entry["images"] if _int(images) is None else _int(images)
        entry["repeats"] = entry["repeats"] if _int(repeats) is None else _int(repeats)
        if regularization:
            entry["regularization"] = True

    for key, regularization in (("ss_dataset_dirs", False), ("ss_reg_dataset_dirs", True)):
        dirs = _json(metadata, key, problems)
        if dirs is None:
            continue
        if not isinstance(dirs, dict):
            problems.append(f"{key}: not an object")
            continue
        for name, info in dirs.items():
            info = info if isinstance(info, dict) else {}
            add(name, info.get("img_count"), info.get("n_repeats"), regularization)

    datasets = _json(metadata, "ss_datasets", problems)
    if datasets is not None and not isinstance(datasets, list):
        problems.append("ss_datasets: not a list")
    for dataset in datasets if isinstance(datasets, list) else []:
        subsets = dataset.get("subsets") if isinstance(dataset, dict) else None
        for subset in subsets if isinstance(subsets, list) else []:
            if isinstance(subset, dict):
                name = subset.get("image_dir")
                images, repeats = subset.get("img_count"), subset.get("num_repeats")
                add(name, images, repeats, subset.get("is_reg") is True)
    return folders


def _tag_frequency(metadata: Mapping[str, str], problems: list[str]) -> dict[str, dict[str, int]]:
    """Per-folder caption tag counts, from ss_tag_frequency or, in newer kohya, ss_datasets."""
    raw = _json(metadata, "ss_tag_frequency", problems)
    if raw is None:
        datasets = _json(metadata, "ss_datasets", [])  # its problems were noted already
        raw = {}
        for dataset in datasets if isinstance(datasets, list) else []:
            freq = dataset.get("tag_frequency") if isinstance(dataset, dict) else None
            if isinstance(freq, dict):
                raw.update(freq)
    if not isinstance(raw, dict):
        problems.append("ss_tag_frequency: not an object")
        return {}
    result: dict[str, dict[str, int]] = {}
    skipped = 0
    for folder, tags in list(raw.items())[:MAX_FOLDERS]:
        if not isinstance(tags, dict):
            skipped += 1
            continue
        clean: dict[str, int] = {}
        for tag, count in tags.items():
            value = _int(count)
            if value is None or value < 0:
                skipped += 1
            else:
                clean[tag.strip()] = clean.get(tag.strip(), 0) + value
        result[folder] = clean
    if skipped:
        problems.append(f"ss_tag_frequency: {skipped} malformed entries skipped")
    return result


def _int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
        return int(value)
    return None


def _iso(text: str | None, key: str, problems: list[str]) -> str | None:
    if not text:
        return None
    try:
        seconds = float(text)
        if not math.isfinite(seconds):
            raise ValueError("not finite")
        return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):
        problems.append(f"{key}: {text[:40]!r} is not POSIX seconds")
        return None
