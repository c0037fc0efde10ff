"""Fetching a corpus archive: download, verify, unpack, each step all or nothing.

As the download scripts of Kaldi and ESPnet recipes do, with the standard library only: the
archive is fetched into a temporary folder beside the destination, its size and SHA-256 are
checked when they are known, and it is unpacked there with tarfile's ``data`` filter (no
absolute paths, no links or files outside the folder, no devices). Only then is the corpus
folder renamed into place, so a failed, interrupted or mismatched download leaves nothing
behind, and a folder at the destination is always a complete copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from tqdm import tqdm

from phonelstm.data.corpus import DataError

log = logging.getLogger("phonelstm.data")

_CHUNK = 1 << 20  # bytes read per step
_TIMEOUT = 60  # seconds without an answer before a download fails


def fetch(url: str, dest: Path, sha256: str = "", size: int = 0) -> None:
    """Download ``url`` to ``dest``; a wrong ``size`` (bytes) or ``sha256`` (hex) is an error.

    An empty ``sha256`` or a zero ``size`` is not checked."""
    digest = hashlib.sha256()
    written = 0
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT) as response, open(dest, "wb") as out:
            total = size or int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=None) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"{url}: download failed ({reason}); download and unpack it by hand "
                        "and set data.root to its folder") from None
    if size and written != size:
        raise DataError(f"{url}: downloaded {written} bytes, expected {size} "
                        "(an interrupted transfer or a changed archive); nothing was kept")
    if sha256 and digest.hexdigest() != sha256.lower():
        raise DataError(f"{url}: SHA-256 {digest.hexdigest()} does not match the expected "
                        f"{sha256}; nothing was kept")


def unpack(archive: Path, into: Path, where: str) -> None:
    """Unpack a tar archive (any compression) safely into the folder ``into``."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{where}: cannot unpack the archive ({err}); nothing was kept") from None


def download_corpus(url: str, dest: Path, top: str, sha256: str = "", size: int = 0,
                    metadata: Sequence[str] = ()) -> Path:
    """Download the tarball at ``url`` and make its folder ``top`` (a path in the archive) the
    new folder ``dest``; the archive's files ``metadata`` go beside ``dest`` unless there."""
    if dest.exists():
        raise DataError(f"{dest}: already exists; remove it to download again")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        archive = work / (Path(urlparse(url).path).name or "archive")
        log.info("downloading %s to %s", url, dest)
        fetch(url, archive, sha256, size)
        unpack(archive, work / "unpacked", url)
        folder = work / "unpacked" / top
        if not folder.is_dir():
            raise DataError(f"{url}: the archive has no {top}/ folder; nothing was kept")
        for name in metadata:
            source, target = work / "unpacked" / name, dest.parent / Path(name).name
            if source.is_file() and not target.exists():
                os.replace(source, target)
        os.replace(folder, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest
