"""Labelled images for the detector, and the split that keeps every source image on one side.

The split is a pure function of a *group* key, never of a random draw or of the order files were
found in: the same corpus gives the same train/validation/test sides on every machine, so ``eval``
can recompute exactly which images training never saw. The group is the source image: in the
shared corpus several tiles are cut from one upstream grid image, and the manifest's ``repo`` and
``path`` columns name that upstream image, so all its tiles share a side. Exact duplicates (same
bytes under two names) are dropped before splitting for the same reason.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np

from veriscan.analyzers.decode import IMAGE_MIMES, init_pillow
from veriscan.analyzers.detect.patches import PatchError, to_array
from veriscan.analyzers.filetype import HEAD_BYTES, sniff_mime

REAL: Final = "real"
AI: Final = "ai"
SPLITS: Final = ("train", "val", "test")
SPLIT_FRACTIONS: Final = (0.70, 0.15, 0.15)
MIN_SIDE: Final = 32
"""Smaller images are parser fixtures (8x8 EXIF carriers, 1-pixel metadata vectors), not pictures:
a 64-px patch reflect-padded from them holds no camera or generator trace worth learning."""


class DataError(ValueError):
    """The dataset cannot be read or has no usable images."""


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    family: str
    group: str
    name: str

    @property
    def split(self) -> str:
        return split_of(self.group)


@dataclass
class Dataset:
    samples: list[Sample]
    source: str
    skipped: Counter[str] = field(default_factory=Counter)

    def select(self, split: str) -> list[Sample]:
        """Samples of one split; ``all`` for foreign data that training never saw."""
        if split == "all":
            return list(self.samples)
        if split not in SPLITS:
            raise DataError(f"split must be one of {', '.join((*SPLITS, 'all'))}, not {split!r}")
        return [s for s in self.samples if s.split == split]

    def without(self, families: Iterable[str]) -> Dataset:
        drop = {f.casefold() for f in families}
        kept = [s for s in self.samples if s.label == 0 or s.family.casefold() not in drop]
        skipped = Counter(self.skipped)
        if len(kept) < len(self.samples):
            skipped["excluded family"] += len(self.samples) - len(kept)
        return Dataset(kept, self.source, skipped)

    def counts(self) -> dict[str, Any]:
        """What the data is, for the bundle's metadata and the evaluation report."""
        per_split: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            chosen = self.select(split)
            per_split[split] = {
                AI: sum(s.label for s in chosen),
                REAL: sum(1 - s.label for s in chosen),
            }
        return {
            "source": self.source,
            "images": {
                AI: sum(s.label for s in self.samples),
                REAL: sum(1 - s.label for s in self.samples),
            },
            "families": dict(sorted(Counter(s.family for s in self.samples).items())),
            "splits": per_split,
            "skipped": dict(sorted(self.skipped.items())),
        }


def split_of(group: str, fractions: Sequence[float] = SPLIT_FRACTIONS) -> str:
    """Side of the split for a source image, from a hash of its key: stable across runs."""
    digest = hashlib.sha256(group.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    edge = 0.0
    for name, fraction in zip(SPLITS, fractions, strict=True):
        edge += fraction
        if u < edge:
            return name
    return SPLITS[-1]


def read_manifest(path: Path, *, exclude_families: Iterable[str] = ()) -> Dataset:
    """Images labelled ``ai`` or ``real`` in a MANIFEST.tsv; every other truth is left out.

    ``mixed`` holds real input pixels, ``unknown`` and ``reference`` have no pixel truth: none of
    them may teach or grade a pixel-level detector.
    """
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read manifest {path}: {exc}") from exc
    if rows and not {"file", "truth"} <= set(rows[0]):
        raise DataError(f"manifest {path} lacks the 'file' and 'truth' columns")
    root = path.parent
    skipped: Counter[str] = Counter()
    samples: list[Sample] = []
    for row in rows:
        truth = (row.get("truth") or "").strip().lower()
        rel = (row.get("file") or "").strip()
        if truth not in (AI, REAL):
            skipped[f"truth {truth or 'missing'}"] += 1
            continue
        file = root / rel
        if not rel or not file.is_file():
            skipped["missing file"] += 1
            continue
        family = REAL if truth == REAL else (row.get("generator_family") or "").strip() or "unknown"
        repo, upstream = (row.get("repo") or "").strip(), (row.get("path") or "").strip()
        group = f"{repo}/{upstream}" if repo and upstream else rel
        samples.append(Sample(file, int(truth == AI), family, group, rel))
    dataset = Dataset(samples, f"manifest:{path}", skipped)
    excluded = list(exclude_families)
    return dataset.without(excluded) if excluded else dataset


def scan_folders(real: Path, ai: Path, *, exclude_families: Iterable[str] = ()) -> Dataset:
    """Every image (by content, not name) under two folders, recursively.

    An AI image's family is its first sub-folder below ``ai`` (``ai/flux/x.png`` is ``flux``), so
    folder datasets support per-family reports and leave-one-family-out too.
    """
    skipped: Counter[str] = Counter()
    samples: list[Sample] = []
    for label, top in ((0, real), (1, ai)):
        if not top.is_dir():
            raise DataError(f"{top} is not a folder")
        for file in sorted(p for p in top.rglob("*") if p.is_file()):
            try:
                with file.open("rb") as fh:
                    head = fh.read(HEAD_BYTES)
            except OSError:
                skipped["unreadable"] += 1
                continue
            if sniff_mime(head) not in IMAGE_MIMES:
                skipped["not an image"] += 1
                continue
            rel = file.relative_to(top).as_posix()
            parts = file.relative_to(top).parts
            family = REAL if label == 0 else (parts[0] if len(parts) > 1 else AI)
            name = f"{REAL if label == 0 else AI}/{rel}"
            samples.append(Sample(file, label, family, name, name))
    dataset = Dataset(samples, f"folders:real={real},ai={ai}", skipped)
    excluded = list(exclude_families)
    return dataset.without(excluded) if excluded else dataset


def deduplicate(dataset: Dataset) -> Dataset:
    """Drop exact byte duplicates, keeping the first by name, so no image sits on two sides.

    Unreadable files are kept here; decoding reports them later with the other failures.
    """
    seen: set[bytes] = set()
    kept: list[Sample] = []
    skipped = Counter(dataset.skipped)
    for sample in sorted(dataset.samples, key=lambda s: s.name):
        try:
            digest = hashlib.sha256(sample.path.read_bytes()).digest()
        except OSError:
            kept.append(sample)
            continue
        if digest in seen:
            skipped["duplicate content"] += 1
            continue
        seen.add(digest)
        kept.append(sample)
    return Dataset(kept, dataset.source, skipped)


def load_dataset(
    manifest: Path | None,
    real: Path | None,
    ai: Path | None,
    *,
    exclude_families: Iterable[str] = (),
) -> Dataset:
    """The one way the CLI and leave-one-family-out read data, so train and eval agree."""
    if manifest is not None:
        if real is not None or ai is not None:
            raise DataError("give either --manifest or --real and --ai, not both")
        dataset = read_manifest(manifest, exclude_families=exclude_families)
    elif real is not None and ai is not None:
        dataset = scan_folders(real, ai, exclude_families=exclude_families)
    else:
        raise DataError("give --manifest, or both --real and --ai")
    dataset = deduplicate(dataset)
    if not dataset.samples:
        raise DataError(f"no usable images in {dataset.source}")
    return dataset


class UnusableError(Exception):
    """This image is skipped; the message is the reason counted in the report."""


def read_pixels(sample: Sample, *, min_side: int = MIN_SIDE) -> np.ndarray:
    """Full-resolution RGB pixels through the same decode inference uses.

    Any decoder failure is a skip, not a crash: one broken file in a seized folder must not stop a
    training run or an evaluation.
    """
    init_pillow()
    try:
        data = sample.path.read_bytes()
    except OSError as exc:
        raise UnusableError("unreadable") from exc
    try:
        pixels = to_array(data)
    except PatchError as exc:
        raise UnusableError("undecodable") from exc
    except Exception as exc:  # Pillow plugins also raise EOFError, struct.error, IndexError...
        raise UnusableError("undecodable") from exc
    if min(pixels.shape[:2]) < min_side:
        raise UnusableError(f"smaller than {min_side} px")
    return pixels


def container_of(sample: Sample) -> str:
    """The stored format, for per-format results (the corpus's real photos are mostly JPEG)."""
    try:
        with sample.path.open("rb") as fh:
            mime = sniff_mime(fh.read(HEAD_BYTES))
    except OSError:
        return "unreadable"
    return mime.removeprefix("image/")
