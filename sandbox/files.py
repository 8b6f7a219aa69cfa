"""Files in the stand-in Bot API: what people and the bot upload, under Telegram-like file ids
and paths (`/file/bot<token>/<file_path>`), in memory or under a directory."""

from __future__ import annotations

import hashlib
import itertools
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.telegram_text import BadRequest


@dataclass
class Upload:
    """A file part of a multipart request, before it is stored."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    mime_type: str | None
    file_name: str | None = None
    data: bytes | None = None  # in memory unless the store has a directory
    disk_path: Path | None = None

    def read(self) -> bytes:
        if self.disk_path is not None:
            return self.disk_path.read_bytes()
        return self.data or b""


class FileStore:
    def __init__(self, file_dir: Path | None = None) -> None:
        self.file_dir = Path(file_dir) if file_dir else None
        self._files: dict[str, StoredFile] = {}
        self._numbers = itertools.count(1)

    def prepare(self) -> None:
        if self.file_dir is not None:
            self.file_dir.mkdir(parents=True, exist_ok=True)

    def next_number(self) -> int:
        """The next number of the store's sequence (file names; media group ids use it too)."""
        return next(self._numbers)

    def store(
        self, data: bytes, folder: str, mime_type: str | None, filename: str | None = None
    ) -> StoredFile:
        number = self.next_number()
        digest = hashlib.sha1(data).hexdigest()[:16]
        extension = _extension(filename, mime_type, folder)
        file_id = f"SBX{folder[:2].upper()}{number:06d}{digest}"
        path = f"{folder}/file_{number}{extension}"
        if filename and (not mime_type or mime_type == "application/octet-stream"):
            mime_type = mimetypes.guess_type(filename)[0] or mime_type
        stored = StoredFile(file_id, f"U{digest}", path, len(data), mime_type, filename)
        if self.file_dir is not None:
            stored.disk_path = self.file_dir / path.replace("/", "_")
            stored.disk_path.write_bytes(data)
        else:
            stored.data = data
        self._files[file_id] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return next((f for f in self._files.values() if f.file_path == file_path), None)

    def file_bytes(self, file_id: str) -> tuple[bytes, str] | None:
        stored = self._files.get(file_id)
        if stored is None:
            return None
        return stored.read(), stored.mime_type or "application/octet-stream"

    def photo_sizes(self, stored: StoredFile) -> list[dict[str, Any]]:
        width, height = _image_size(stored.read()) or (1280, 960)
        sizes = []
        for scale in (0.25, 1.0) if max(width, height) > 320 else (1.0,):
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": max(1, int(width * scale)),
                    "height": max(1, int(height * scale)),
                    "file_size": stored.size,
                }
            )
        return sizes

    def resolve_input_file(self, ref: Any, files: dict[str, Upload], kind: str) -> StoredFile:
        """An InputFile as the bot sent it: `attach://<part>`, a URL, or a known file id."""
        if isinstance(ref, str) and ref.startswith("attach://"):
            upload = files.get(ref.removeprefix("attach://"))
            if upload is None:
                raise BadRequest(f"file must be non-empty ({kind} attach not found)")
            return self.store(upload.data, f"{kind}s", upload.content_type, upload.filename)
        if isinstance(ref, str) and ref.startswith(("http://", "https://")):
            return self.store(ref.encode(), f"{kind}s", None, ref.rsplit("/", 1)[-1])
        if isinstance(ref, str) and ref in self._files:
            return self._files[ref]
        if isinstance(ref, str) and ref:
            raise BadRequest("wrong file identifier/HTTP URL specified")
        raise BadRequest(f"there is no {kind} in the request")


def _extension(filename: str | None, mime_type: str | None, folder: str) -> str:
    if filename and "." in filename:
        return "." + re.sub(r"[^A-Za-z0-9]", "", filename.rsplit(".", 1)[-1])[:8]
    known = {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/webp": ".webp",
        "audio/ogg": ".oga",
        "audio/webm": ".webm",
        "audio/mpeg": ".mp3",
        "application/pdf": ".pdf",
    }
    if mime_type in known:
        return known[mime_type]
    return ".jpg" if folder.startswith("photo") else ".bin"


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG or JPEG, read from its header (no imaging library needed)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            length = int.from_bytes(data[index + 2 : index + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                height = int.from_bytes(data[index + 5 : index + 7], "big")
                width = int.from_bytes(data[index + 7 : index + 9], "big")
                return width, height
            index += 2 + length
    return None
