"""The per-label ingest lock: exclusive per label, free across labels, gone with its holder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from veriscan.store.case import Case
from veriscan.store.locks import LockHeldError, ingest_lock, lock_path


def test_second_holder_of_a_label_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    with ingest_lock(tmp_path, "phone"):
        with pytest.raises(LockHeldError) as caught, ingest_lock(tmp_path, "phone"):
            pass
        assert f"pid {os.getpid()}" in caught.value.holder
        with ingest_lock(tmp_path, "laptop"):  # another label runs side by side
            pass
    with ingest_lock(tmp_path, "phone"):  # released on exit: a re-run (resume) gets it
        pass


def test_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from veriscan.store.locks import ingest_lock\n"
        "with ingest_lock(Path(sys.argv[1]), 'phone'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    with pytest.raises(LockHeldError) as caught, ingest_lock(tmp_path, "phone"):
        pass
    assert f"pid {proc.pid}" in caught.value.holder
    proc.kill()  # as kill -9 or a power cut would: no clean-up runs
    proc.wait(10)
    with ingest_lock(tmp_path, "phone"):
        pass


@pytest.mark.parametrize("label", ["a/../../b", "téléphone 📱", "x" * 5000, ""])
def test_any_label_names_a_file_inside_the_locks_folder(tmp_path: Path, label: str) -> None:
    path = lock_path(tmp_path, label)
    assert path.parent == tmp_path / "locks"
    assert len(path.name) < 100
    with ingest_lock(tmp_path, label):
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "locks").stat().st_mode & 0o777 == 0o700


def test_team_store_lock_holds_across_case_folders(tmp_path: Path, pg_url: str) -> None:
    """Two machines whose case folders do not share locks, one database: the advisory lock
    refuses the second and names the first; other labels and other cases are not blocked."""
    first = Case.init(tmp_path / "one", "n", "e", db_url=pg_url)
    other_machine = tmp_path / "two"
    other_machine.mkdir()
    shutil.copy(tmp_path / "one" / "database.url", other_machine / "database.url")
    second = Case.open(other_machine)
    try:
        with ingest_lock(first.root, "phone", first.engine):
            with (
                pytest.raises(LockHeldError) as caught,
                ingest_lock(second.root, "phone", second.engine),
            ):
                pass
            assert f"pid {os.getpid()}" in caught.value.holder
            with ingest_lock(second.root, "laptop", second.engine):
                pass
        with ingest_lock(second.root, "phone", second.engine):  # released: a resume gets it
            pass
    finally:
        first.close()
        second.close()
