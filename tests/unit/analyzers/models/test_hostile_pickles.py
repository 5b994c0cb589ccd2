"""Plain pickles and late data.pkl members with code-execution payloads are flagged, never run.

Issue 15 item 17: bare pickles named .ckpt/.pt/.pth/.pkl (protocols 0-5) and a PyTorch zip whose
data.pkl comes after 20 members were not flagged at all.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from support.hostile_models import (
    EXTENSIONS,
    PROTOCOLS,
    eval_pickle,
    late_pickle_zip,
    system_pickle,
)
from veriscan.analyzers.models.analyzer import ModelAnalyzer
from veriscan.analyzers.models.dangerous import is_dangerous
from veriscan.domain import Attribute, Fact, Problem
from veriscan.settings import Settings


def analyze(name: str, data: bytes, chunk: int = 65536) -> list[Fact]:
    state = ModelAnalyzer(Settings()).begin(name)
    for start in range(0, len(data), chunk):
        state.update(data[start : start + chunk])
    return state.finish()


def code_execution(facts: list[Fact]) -> list[Problem]:
    return [f for f in facts if isinstance(f, Problem) and f.code == "model-code-execution"]


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(("make", "callable_"), [(system_pickle, "system"), (eval_pickle, "eval")])
def test_plain_pickle_payloads_are_flagged(
    tmp_path: Path, ext: str, protocol: int, make: object, callable_: str
) -> None:
    marker = tmp_path / "ran"
    data = make(marker, protocol)  # type: ignore[operator]
    facts = analyze(f"model{ext}", data, chunk=7)
    problems = code_execution(facts)
    assert len(problems) == 1 and callable_ in problems[0].message, facts
    model = next(f for f in facts if isinstance(f, Attribute)).value
    assert model["format"] == "pickle" and model["pickle"]["complete"] is True
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_protocol_header_is_enough_whatever_the_name(tmp_path: Path, protocol: int) -> None:
    assert code_execution(analyze("notes.txt", system_pickle(tmp_path / "m", protocol)))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("weights.bin", bytes(range(256)) * 64),
        ("table.dat", b"1,2,3\n4,5,6\n" * 500),
        ("readme.pkl", b"this is a text file, not a pickle\n" * 50),
        ("photo.jpg", b"\x80\x02" + b"\xff" * 4000),
    ],
)
def test_files_that_are_not_pickles_get_no_model_facts(name: str, data: bytes) -> None:
    assert analyze(name, data) == []


def test_benign_pickle_is_described_not_flagged() -> None:
    facts = analyze("config.pkl", pickle.dumps({"lr": 0.1, "layers": [1, 2]}, protocol=2))
    assert code_execution(facts) == []
    assert next(f for f in facts if isinstance(f, Attribute)).value["format"] == "pickle"


@pytest.mark.parametrize("chunk", [100, 4096, 65536])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_zip_with_data_pkl_after_24_members_is_flagged(
    tmp_path: Path, chunk: int, protocol: int
) -> None:
    data = late_pickle_zip(system_pickle(tmp_path / "ran", protocol))
    assert data.index(b"archive/data.pkl") > 24 * 1024
    facts = analyze("checkpoint.pt", data, chunk)
    problems = code_execution(facts)
    assert len(problems) == 1 and "system" in problems[0].message
    model = next(f for f in facts if isinstance(f, Attribute)).value
    assert model["format"] == "pytorch-zip"
    assert not (tmp_path / "ran").exists()


def test_zip_with_late_benign_data_pkl_is_not_flagged() -> None:
    facts = analyze("checkpoint.pt", late_pickle_zip(pickle.dumps({"a": 1}, protocol=2)))
    assert code_execution(facts) == []
    assert next(f for f in facts if isinstance(f, Attribute)).value["format"] == "pytorch-zip"


@pytest.mark.parametrize(
    "name",
    [
        "posix.system",
        "nt.system",
        "builtins.eval",
        "__builtin__.exec",
        "subprocess.Popen",
        "functools.partial",
        "operator.attrgetter",
        "ssl.get_server_certificate",
        "pydoc.locate",
        "torch.serialization.load",
        "code.InteractiveInterpreter.runcode",
        "torch._inductor.codecache.compile_file",
        "numpy.testing._private.utils.runstring",
        "<unresolved>",
    ],
)
def test_dangerous_table_covers_picklescan_entries(name: str) -> None:
    assert is_dangerous(name)


@pytest.mark.parametrize(
    "name",
    ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "builtins.set", "osx.x"],
)
def test_ordinary_rebuild_globals_are_not_dangerous(name: str) -> None:
    assert not is_dangerous(name)
