"""The ID-card reader (二代居民身份证阅读器) contract, and the virtual reader.

The full contract a vendor's SDK adapter must meet is in kiosk/README.md ("ID-card reader
contract"); in short:

* a class constructed without arguments (its own settings from the environment) with
  ``poll(self) -> CardReading | None``, ``compare_face(self, reading) -> FaceComparison`` and
  ``close(self) -> None``; selected with ``KIOSK_READER=package.module:ClassName``;
* ``poll`` is called about once a second (never concurrently with itself or ``compare_face``)
  and returns a reading **once per placement of a card** (edge-triggered) and ``None``
  otherwise, within a second: the chip's name and 公民身份号码 as read through the certified
  reader's SAM module, the card's 有效期限 end (``None`` for 长期), the reader's identity;
* ``compare_face`` runs the vendor's face comparison (人证比对) between the chip photo of that
  reading and the live camera, on the kiosk PC, within 10 seconds: ``pass``, ``fail`` or
  ``not_done`` (no camera, nobody in front of it) and the vendor's score normalised to 0..1.
  The photo never leaves the PC;
* device errors (no reader, USB unplugged, SDK failure) raise ``ReaderError`` with a short
  message without personal data.

The agent (server.py) asks the platform for a one-time challenge between ``poll`` and
``compare_face`` and signs the reading with the device key (signing.py). Nothing from the page
reaches a reading. ``KIOSK_READER=virtual`` is the development and test reader below: the agent
refuses it unless started with ``--development``.
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class ReaderError(RuntimeError):
    """The reader cannot be used (not connected, SDK failure)."""


FACE_RESULTS = ("pass", "fail", "not_done")


@dataclass(frozen=True)
class CardReading:
    """What the chip says (through the SDK); nothing here comes from the page."""

    id_number: str
    name: str
    valid_until: str | None = None  # ISO date of the card's 有效期限 end; None = 长期
    reader: str = ""  # vendor / model / SAM serial, for the audit log


@dataclass(frozen=True)
class FaceComparison:
    result: str = "not_done"  # pass | fail | not_done
    score: float | None = None  # the vendor's similarity normalised to 0..1

    def __post_init__(self) -> None:
        if self.result not in FACE_RESULTS:
            raise ReaderError(f"face result must be one of {FACE_RESULTS}")


class CardReader(Protocol):
    def poll(self) -> CardReading | None: ...

    def compare_face(self, reading: CardReading) -> FaceComparison: ...

    def close(self) -> None: ...


def _card_from_dict(data: dict[str, Any]) -> tuple[CardReading, FaceComparison]:
    face = data.get("face") if isinstance(data.get("face"), dict) else {}
    score = face.get("score")
    reading = CardReading(
        id_number=str(data.get("id_number") or ""),
        name=str(data.get("name") or ""),
        valid_until=data.get("valid_until") or None,
        reader=str(data.get("reader") or "virtual"),
    )
    return reading, FaceComparison(
        str(face.get("result") or "not_done"), float(score) if isinstance(score, int | float) else None
    )


class VirtualReader:
    """A reader for development and tests: a card is "placed" by ``insert`` (the agent's
    ``POST /agent/reader/insert``, only with this reader) or by writing its JSON to ``drop_file``,
    which the reader consumes (deletes) when it reads it. The card's JSON also says what the
    face comparison will answer (``"face": {"result": "pass", "score": 0.93}``). Same contract as
    a vendor adapter."""

    def __init__(self, drop_file: str | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None
        self._faces: dict[CardReading, FaceComparison] = {}
        self._drop = Path(drop_file) if drop_file else None

    def insert(self, card: dict[str, Any]) -> None:
        with self._lock:
            self._pending = dict(card)

    def poll(self) -> CardReading | None:
        data = None
        with self._lock:
            if self._pending is not None:
                data, self._pending = self._pending, None
        if data is None and self._drop is not None and self._drop.exists():
            try:
                data = json.loads(self._drop.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ReaderError(f"virtual card file unreadable: {exc}") from exc
            finally:
                self._drop.unlink(missing_ok=True)
        if not isinstance(data, dict):
            return None
        reading, face = _card_from_dict(data)
        with self._lock:
            self._faces = {reading: face}
        return reading

    def compare_face(self, reading: CardReading) -> FaceComparison:
        with self._lock:
            return self._faces.pop(reading, FaceComparison())

    def close(self) -> None:
        return None


def load_reader(spec: str, drop_file: str | None = None) -> CardReader:
    if spec == "virtual":
        return VirtualReader(drop_file)
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ReaderError("KIOSK_READER must be 'virtual' or 'package.module:ClassName'")
    return getattr(importlib.import_module(module_name), class_name)()
