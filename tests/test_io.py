"""Atomic writes: all or nothing, with the permissions the umask gives."""

import os

import pytest

from phonelstm.data.manifest import Utterance, write_manifest
from phonelstm.io import atomic_write, atomic_write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_files_follow_the_umask(tmp_path, umask_022):
    atomic_write_text(tmp_path / "a.txt", "x\n")
    write_manifest(tmp_path / "m.jsonl", [Utterance("u", str(tmp_path / "a.wav"), "s", ["h#"])])
    for name in ("a.txt", "m.jsonl"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644
    os.umask(0o077)
    atomic_write_text(tmp_path / "private.txt", "x\n")
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "report.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
