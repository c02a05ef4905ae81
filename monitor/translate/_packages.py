"""Argos package management inside ``translate.models_dir`` (issue #3).

Layout of ``models_dir`` (everything argostranslate would put under $HOME):

    models_dir/packages/<package>/     unpacked packages (ARGOS_PACKAGES_DIR)
    models_dir/argos/{data,config,cache}   XDG folders for argostranslate

Installing and listing never import argostranslate: a package is a zip of one
folder holding ``metadata.json``, ``model/`` (CTranslate2) and
``sentencepiece.model``, and that is all we need to read.  The folders still
follow argostranslate's layout, so `argostranslate` itself (benchmarks,
`argospm`) sees the same packages once `argos_environment` is applied.
Nothing here touches the network except `install_from_index`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import TranslateError

if TYPE_CHECKING:  # httpx loads only to download: listing packages needs none
    import httpx

logger = logging.getLogger(__name__)

DEFAULT_INDEX_URL = (
    "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json"
)
# Where argostranslate would look for an index: somewhere that cannot answer
# (TCP port 9 is "discard"), so an accidental update fails at once, offline.
HARMLESS_INDEX_URL = "http://127.0.0.1:9/"
MAX_PACKAGE_BYTES = 2_000_000_000
MAX_INDEX_BYTES = 20_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class InstalledPackage:
    """One installed Argos translation package."""

    code: str  # e.g. "translate-ru_en"
    from_code: str
    to_code: str
    version: str
    path: Path
    target_prefix: str = ""

    @property
    def model_id(self) -> str:
        """Engine + model id, used in cache keys: changes when the model does."""
        return f"argos:{self.code}-{self.version}"


def packages_dir(models_dir: Path) -> Path:
    """Where unpacked packages live (ARGOS_PACKAGES_DIR)."""
    return models_dir / "packages"


def argos_environment(models_dir: Path) -> dict[str, str]:
    """Environment that keeps argostranslate inside `models_dir` and offline.

    Apply it (``os.environ.update``) BEFORE the first ``import argostranslate``:
    argostranslate reads its settings at import.  ``ARGOS_CHUNK_TYPE=SPACY``
    plus an existing ``$XDG_CACHE_HOME/argos-translate/spacy/senter/model``
    folder stops the MiniSBD/spaCy downloads (PROVENANCE.md).
    """
    base = models_dir.resolve()
    argos = base / "argos"
    senter = argos / "cache" / "argos-translate" / "spacy" / "senter" / "model"
    senter.mkdir(parents=True, exist_ok=True)
    packages_dir(base).mkdir(parents=True, exist_ok=True)
    return {
        "ARGOS_PACKAGES_DIR": str(packages_dir(base)),
        "XDG_DATA_HOME": str(argos / "data"),
        "XDG_CONFIG_HOME": str(argos / "config"),
        "XDG_CACHE_HOME": str(argos / "cache"),
        "ARGOS_PACKAGE_INDEX": HARMLESS_INDEX_URL,
        "ARGOS_CHUNK_TYPE": "SPACY",
        "ARGOS_DEVICE_TYPE": "cpu",
        "HF_HUB_OFFLINE": "1",
        "STANZA_RESOURCES_DIR": str(argos / "stanza"),
    }


def apply_argos_environment(models_dir: Path) -> None:
    """Apply `argos_environment` to ``os.environ`` (before importing argostranslate)."""
    os.environ.update(argos_environment(models_dir))


def list_installed(models_dir: Path) -> list[InstalledPackage]:
    """Return the packages installed under `models_dir`, sorted by pair.

    Folders that are not valid packages are skipped with a warning.
    """
    root = packages_dir(models_dir)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir()):
        if not path.is_dir() or path.name.startswith("."):
            continue  # files, and install staging folders
        try:
            found.append(read_package(path))
        except TranslateError as e:
            logger.warning("skipping invalid package path=%s error=%s", path, e)
    return sorted(found, key=lambda p: (p.from_code, p.to_code, p.version))


def read_package(path: Path) -> InstalledPackage:
    """Read and check an unpacked package folder.

    Raises:
        TranslateError: no/invalid metadata.json, not a translate package, no
            CTranslate2 model or no SentencePiece model.
    """
    meta = _read_metadata(path)
    if meta.get("type", "translate") != "translate":
        raise TranslateError(
            f"not a translate package (type {meta.get('type')!r})", resource=path
        )
    if not (path / "model" / "model.bin").is_file():
        raise TranslateError("no CTranslate2 model (model/model.bin)", resource=path)
    if not (path / "sentencepiece.model").is_file():
        raise TranslateError(
            "no sentencepiece.model (BPE packages are not supported)", resource=path
        )
    return InstalledPackage(
        code=str(
            meta.get("code") or f"translate-{meta['from_code']}_{meta['to_code']}"
        ),
        from_code=str(meta["from_code"]),
        to_code=str(meta["to_code"]),
        version=str(meta.get("package_version", "0")),
        path=path,
        target_prefix=str(meta.get("target_prefix", "")),
    )


def _read_metadata(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TranslateError(
            "no metadata.json: not an Argos package", resource=path
        ) from None
    except (OSError, ValueError) as e:
        raise TranslateError(f"unreadable metadata.json: {e}", resource=path) from e
    if (
        not isinstance(meta, dict)
        or not meta.get("from_code")
        or not meta.get("to_code")
    ):
        raise TranslateError("metadata.json lacks from_code/to_code", resource=path)
    return meta


def install_from_path(path: Path, models_dir: Path) -> InstalledPackage:
    """Install a package from a ``.argosmodel`` file or an unpacked package folder.

    The air-gapped route: no network.  An existing package with the same folder
    name is replaced.

    Args:
        path: the ``.argosmodel`` zip, or a folder holding ``metadata.json``.
        models_dir: ``translate.models_dir``.

    Returns:
        The installed package.

    Raises:
        TranslateError: the path is missing or is not a valid package.
    """
    path = Path(path)
    if not path.exists():
        raise TranslateError("no such file or folder", resource=path)
    dest_root = packages_dir(models_dir)
    dest_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_root, prefix=".install-") as tmp:
        staged = _stage(path, Path(tmp))
        try:
            pkg = read_package(staged)  # validate before touching the installed set
        except TranslateError as e:
            raise TranslateError(e.message, resource=path) from None
        final = dest_root / staged.name
        if final.exists():
            shutil.rmtree(final)
        staged.rename(final)
    installed = read_package(final)
    logger.info(
        "installed package=%s pair=%s-%s path=%s",
        installed.code,
        pkg.from_code,
        pkg.to_code,
        final,
    )
    return installed


def remove_installed(models_dir: Path, src: str, dst: str) -> list[InstalledPackage]:
    """Remove every installed src→dst package (`monitor models remove`).

    Returns:
        The packages removed (empty when none was installed).
    """
    removed = []
    for pkg in list_installed(models_dir):
        if (pkg.from_code, pkg.to_code) == (src, dst):
            shutil.rmtree(pkg.path)
            logger.info("removed package=%s path=%s", pkg.code, pkg.path)
            removed.append(pkg)
    return removed


def _stage(path: Path, tmp: Path) -> Path:
    """Copy or unzip the package into `tmp`; return its folder."""
    if path.is_dir():
        target = tmp / path.name
        shutil.copytree(path, target)
        return target
    if not zipfile.is_zipfile(path):
        raise TranslateError(
            "not an Argos package (.argosmodel must be a zip archive)", resource=path
        )
    with zipfile.ZipFile(path) as zf:
        names = [n for n in zf.namelist() if n.strip("/")]
        tops = {n.split("/", 1)[0] for n in names}
        if len(tops) != 1 or any(
            n.startswith("/") or ".." in n.split("/") for n in names
        ):
            raise TranslateError(
                "archive must hold exactly one package folder", resource=path
            )
        zf.extractall(tmp)
    return tmp / tops.pop()


def install_from_index(
    src: str,
    dst: str,
    models_dir: Path,
    index_url: str = DEFAULT_INDEX_URL,
    *,
    client: httpx.Client | None = None,
    timeout: float = 60.0,
) -> InstalledPackage:
    """Download the src→dst package listed in an Argos package index and install it.

    The only function in this package that uses the network, and only when the
    user asks for a download (``monitor models install ru en``).

    Args:
        src: source language code, e.g. ``"ru"``.
        dst: target language code, e.g. ``"en"``.
        models_dir: ``translate.models_dir``.
        index_url: URL of the index JSON (a list of package metadata objects
            with ``links``).
        client: an httpx client to use (default: a new one with `timeout`).
        timeout: seconds, for the default client.

    Raises:
        TranslateError: the index cannot be read, lists no such pair, or the
            download fails verification (size, sha256 when listed, package
            checks, pair mismatch).
    """
    own = client is None
    import httpx

    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        entry = _find_in_index(_get_index(http, index_url), src, dst, index_url)
        with tempfile.TemporaryDirectory(prefix="monitor-argos-") as tmp:
            file = _download(http, entry, Path(tmp))
            pkg = install_from_path(file, models_dir)
    finally:
        if own:
            http.close()
    if (pkg.from_code, pkg.to_code) != (src, dst):
        raise TranslateError(
            f"downloaded package is {pkg.from_code}→{pkg.to_code}, not {src}→{dst}",
            resource=pkg.path,
        )
    return pkg


def _get_index(http: httpx.Client, url: str) -> list[Mapping[str, Any]]:
    import httpx

    try:
        response = http.get(url)
        response.raise_for_status()
        if len(response.content) > MAX_INDEX_BYTES:
            raise TranslateError("package index is too large", resource=url)
        index = response.json()
    except httpx.HTTPError as e:
        raise TranslateError(
            f"cannot download the package index: {e}", resource=url
        ) from e
    except ValueError as e:
        raise TranslateError(f"package index is not JSON: {e}", resource=url) from e
    if not isinstance(index, list):
        raise TranslateError("package index is not a JSON list", resource=url)
    return [e for e in index if isinstance(e, dict)]


def _find_in_index(
    index: list[Mapping[str, Any]], src: str, dst: str, url: str
) -> Mapping[str, Any]:
    matches = [
        e
        for e in index
        if e.get("from_code") == src
        and e.get("to_code") == dst
        and e.get("type", "translate") == "translate"
    ]
    if not matches:
        raise TranslateError(
            f"the package index lists no {src}→{dst} package", resource=url
        )
    return max(matches, key=lambda e: _version_key(str(e.get("package_version", "0"))))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _download(http: httpx.Client, entry: Mapping[str, Any], tmp: Path) -> Path:
    links = [link for link in entry.get("links", []) if isinstance(link, str)]
    if not links:
        raise TranslateError(
            "index entry has no download links", resource=entry.get("code")
        )
    errors = []
    for link in links:
        try:
            return _download_one(http, link, entry, tmp)
        except TranslateError as e:
            logger.warning("download failed url=%s error=%s", link, e.message)
            errors.append(f"{link}: {e.message}")
    raise TranslateError(
        "every download link failed: " + "; ".join(errors), resource=entry.get("code")
    )


def _download_one(
    http: httpx.Client, url: str, entry: Mapping[str, Any], tmp: Path
) -> Path:
    target = tmp / (url.rstrip("/").rsplit("/", 1)[-1] or "package.argosmodel")
    digest = hashlib.sha256()
    size = 0
    import httpx

    try:
        with http.stream("GET", url) as response, target.open("wb") as out:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_PACKAGE_BYTES:
                    raise TranslateError(
                        "package larger than the size cap", resource=url
                    )
                digest.update(chunk)
                out.write(chunk)
    except httpx.HTTPError as e:
        raise TranslateError(f"download failed: {e}", resource=url) from e
    _verify(entry, size, digest.hexdigest(), url)
    return target


def _verify(entry: Mapping[str, Any], size: int, sha256: str, url: str) -> None:
    want = entry.get("sha256") or entry.get("checksum")
    if isinstance(want, str) and want.lower() != sha256:
        raise TranslateError(
            f"sha256 mismatch (got {sha256}, index says {want})", resource=url
        )
    want_size = entry.get("size")
    if isinstance(want_size, int) and want_size != size:
        raise TranslateError(
            f"size mismatch (got {size} bytes, index says {want_size})", resource=url
        )
