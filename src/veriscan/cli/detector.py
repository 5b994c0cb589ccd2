"""`veriscan detector ...`: train the pixel-level AI-image detector and grade a bundle.

torch, onnx and matplotlib come with the ``train`` extra and are imported only inside the
commands, so the rest of the CLI starts without them. Exit codes follow the main command: 1 when
it completed but some image files could not be read (they are counted, never fatal).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from veriscan.cli.common import err, fail, out

if TYPE_CHECKING:
    from veriscan.detector_training.data import Dataset

detector_app = typer.Typer(
    help="Train and evaluate the pixel-level AI-image detector (needs the train extra).",
    no_args_is_help=True,
)

PROBLEMS = ("missing file", "unreadable", "undecodable")

ManifestOpt = Annotated[
    Path | None,
    typer.Option("--manifest", help="MANIFEST.tsv (truth ai/real; other truths are left out)."),
]
RealOpt = Annotated[
    Path | None, typer.Option("--real", help="Folder of real photos (recursive, by content).")
]
AiOpt = Annotated[
    Path | None,
    typer.Option("--ai", help="Folder of AI images; first sub-folder = generator family."),
]


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        fail(
            f"this command needs {', '.join(missing)}: install the training extra with "
            "pip install 'veriscan[train]'"
        )


def _say(line: str) -> None:
    out.print(line, markup=False, highlight=False)


def _problems(skipped: Mapping[str, int]) -> int:
    return sum(n for reason, n in skipped.items() if reason in PROBLEMS)


def _dataset(
    manifest: Path | None, real: Path | None, ai: Path | None, exclude: list[str]
) -> Dataset:
    from veriscan.detector_training.data import DataError, load_dataset

    try:
        return load_dataset(manifest, real, ai, exclude_families=exclude)
    except DataError as exc:
        fail(str(exc))


@detector_app.command("train")
def train_cmd(
    manifest: ManifestOpt = None,
    real: RealOpt = None,
    ai: AiOpt = None,
    design: Annotated[
        str, typer.Option("--design", help="npr (neighbouring-pixel residual) or residual (SRM).")
    ] = "npr",
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 10,
    patches_per_epoch: Annotated[
        int, typer.Option("--patches-per-epoch", min=2, help="Half from each class.")
    ] = 4096,
    patch: Annotated[int, typer.Option("--patch", help="Patch side in pixels.")] = 64,
    batch_size: Annotated[int, typer.Option("--batch-size", min=2)] = 64,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (one-cycle).")] = 2e-3,
    width: Annotated[int, typer.Option("--width", min=4, help="Channels of the first stage.")] = 32,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Bundle folder (default: detector-DESIGN).")
    ] = None,
    exclude_family: Annotated[
        list[str] | None,
        typer.Option("--exclude-family", help="Leave a generator family out (repeatable)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="cpu or cuda.")] = "cpu",
    name: Annotated[str, typer.Option("--name", help="Model name (default veriscan-DESIGN).")] = "",
    version: Annotated[str, typer.Option("--version", help="Version (default: today).")] = "",
) -> None:
    """Train a detector from scratch and write detector.onnx + detector.json."""
    _require("torch", "onnx")
    from veriscan.detector_training.data import DataError
    from veriscan.detector_training.export import ExportError
    from veriscan.detector_training.nets import DESIGNS
    from veriscan.detector_training.train import TrainConfig, train_detector

    if design not in DESIGNS:
        fail(f"--design must be one of {', '.join(DESIGNS)}")
    if patch < 16 or patch % 8:
        fail("--patch must be a multiple of 8, at least 16")
    if device not in ("cpu", "cuda"):
        fail("--device must be cpu or cuda")
    dataset = _dataset(manifest, real, ai, list(exclude_family or []))
    cfg = TrainConfig(
        design=design,
        epochs=epochs,
        patches_per_epoch=patches_per_epoch,
        patch=patch,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        width=width,
        device=device,
        name=name,
        version=version,
    )
    folder = out_dir or Path(f"detector-{design}")
    try:
        result = train_detector(dataset, cfg, folder, log=_say)
    except (DataError, ExportError) as exc:
        fail(str(exc))
    skipped = dict(sorted(result.skipped.items()))
    if skipped:
        _say("left out: " + ", ".join(f"{reason} {n}" for reason, n in skipped.items()))
    if _problems(skipped):
        err.print(f"{_problems(skipped)} image files could not be read", markup=False)
        raise typer.Exit(1)


@detector_app.command("eval")
def eval_cmd(
    bundle: Annotated[Path, typer.Argument(help="Bundle folder (detector.onnx + detector.json).")],
    manifest: ManifestOpt = None,
    real: RealOpt = None,
    ai: AiOpt = None,
    split: Annotated[
        str, typer.Option("--split", help="test (default), val, train, or all for foreign data.")
    ] = "test",
    jpeg: Annotated[
        int | None,
        typer.Option("--jpeg", min=1, max=100, help="Re-encode every image (both classes) first."),
    ] = None,
    robustness: Annotated[
        bool, typer.Option("--robustness", help="Also score JPEG, resize, crop, screenshot.")
    ] = False,
    lofo: Annotated[
        bool, typer.Option("--lofo", help="Leave-one-family-out retraining (slow).")
    ] = False,
    lofo_min: Annotated[
        int, typer.Option("--lofo-min", min=1, help="Smallest family to leave out.")
    ] = 8,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Report folder (report.json, roc.png, reliability.png).")
    ] = Path("detector-eval"),
) -> None:
    """Grade a bundle through its ONNX file, on the test split by default."""
    _require("matplotlib", *(("torch", "onnx") if lofo else ()))
    from veriscan.analyzers.detect.bundle import BundleError, read_meta
    from veriscan.detector_training.data import DataError
    from veriscan.detector_training.evaluate import evaluate, write_report

    try:
        meta = read_meta(bundle)
    except BundleError as exc:
        fail(str(exc))
    dataset = _dataset(manifest, real, ai, [])
    try:
        report = evaluate(
            bundle,
            dataset,
            out_dir,
            split=split,
            jpeg_quality=jpeg,
            robustness=robustness,
            log=_say,
        )
    except DataError as exc:
        fail(str(exc))
    if lofo:
        from veriscan.detector_training.lofo import leave_one_family_out

        report["lofo"] = leave_one_family_out(
            meta, dataset, out_dir, jpeg_quality=jpeg, min_images=lofo_min, log=_say
        )
        write_report(report, out_dir)
    _print_report(report)
    _say(f"report: {out_dir / 'report.json'}")
    if _problems(report.get("skipped", {})):
        raise typer.Exit(1)


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_report(report: dict[str, object]) -> None:
    overall = report.get("overall")
    if not isinstance(overall, dict):
        _say(str(report.get("error", "nothing scored")))
        return
    _say(
        f"{overall['n_ai']} AI / {overall['n_real']} real: "
        + "  ".join(
            f"{k} {_fmt(overall[k])}"
            for k in ("auc", "accuracy", "tpr_at_fpr_1pct", "tpr_at_fpr_5pct", "ece")
        )
    )
    for group in ("families", "stored_format", "robustness"):
        rows = report.get(group)
        if isinstance(rows, dict) and rows:
            _say(f"{group}:")
            for key, row in rows.items():
                _say(f"  {key}: " + json.dumps(row, sort_keys=False))
    lofo = report.get("lofo")
    if isinstance(lofo, dict):
        _say(f"leave-one-family-out mean AUC {_fmt(lofo.get('mean_auc'))}")
