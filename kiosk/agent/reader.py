"""The ID-card reader (二代居民身份证阅读器) contract, and the virtual reader.

Contract for a vendor SDK adapter (``termb.dll`` / ``sdtapi.dll`` / ``libtermb.so`` ...):

* a class with ``poll(self) -> CardReading | None`` and ``close(self) -> None``;
* ``poll`` is called about once a second by the agent (never concurrently). It returns a
  reading **once per placement of a card** (edge-triggered: the SDKs' find-card/select-card
  succeed only for a newly placed card) and ``None`` otherwise; it must return within a second;
* the reading holds the chip's name and 居民身份证号码 as read by the certified reader (SAM
  module), the card's 有效期限 end (``None`` for 长期), and the result of the vendor's face
  comparison (人证比对) between the chip photo and the live camera: ``"pass"``, ``"fail"`` or
  ``"not_done"`` with the vendor's score when it gives one. The photo itself never leaves the
  kiosk PC;
* errors of the device (no reader, USB unplugged) raise ``ReaderError`` with a short message.

Select an adapter with ``KIOSK_READER=package.module:ClassName`` (constructed without
arguments; read its own settings from the environment). ``KIOSK_READER=virtual`` is the
development and test reader below: never use it on a kiosk in a service hall.
"""

from __future__ import annotations

import importlib
import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol


class ReaderError(RuntimeError):
    """The reader cannot be used (not connected, SDK failure)."""


@dataclass(frozen=True)
class CardReading:
    id_number: str
    name: str
    valid_until: str | None = None  # ISO date of the card's 有效期限 end; None = 长期
    face: dict[str, Any] = field(default_factory=lambda: {"result": "not_done"})
    reader: str = ""  # vendor / model / serial, for the audit log

    def as_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CardReading:
        face = data.get("face") if isinstance(data.get("face"), dict) else {"result": "not_done"}
        return cls(
            id_number=str(data.get("id_number") or ""),
            name=str(data.get("name") or ""),
            valid_until=data.get("valid_until") or None,
            face=dict(face),
            reader=str(data.get("reader") or ""),
        )


class CardReader(Protocol):
    def poll(self) -> CardReading | None: ...

    def close(self) -> None: ...


class VirtualReader:
    """A reader for development and tests: a card is "placed" by ``insert`` (the agent's
    ``POST /agent/reader/insert``) or by writing its JSON to ``drop_file``, which the reader
    consumes (deletes) when it reads it. Same contract as a vendor adapter."""

    def __init__(self, drop_file: str | None = None) -> None:
        self._lock = threading.Lock()
        self._pending: CardReading | None = None
        self._drop = Path(drop_file) if drop_file else None

    def insert(self, reading: CardReading) -> None:
        with self._lock:
            self._pending = reading

    def poll(self) -> CardReading | None:
        with self._lock:
            if self._pending is not None:
                reading, self._pending = self._pending, None
                return reading
        if self._drop is not None and self._drop.exists():
            try:
                data = json.loads(self._drop.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ReaderError(f"virtual card file unreadable: {exc}") from exc
            finally:
                self._drop.unlink(missing_ok=True)
            return CardReading.from_dict(data)
        return None

    def close(self) -> None:
        return None


def load_reader(spec: str, drop_file: str | None = None) -> CardReader:
    if spec == "virtual":
        return VirtualReader(drop_file)
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ReaderError("KIOSK_READER must be 'virtual' or 'package.module:ClassName'")
    return getattr(importlib.import_module(module_name), class_name)()
