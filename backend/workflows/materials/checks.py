"""Content checks of an uploaded file, each in time linear in its size, refusing with a reason.

The type comes from the first bytes (operations.detect_type). Then:

- every file: no HTML in its first KB (an HTML/PDF or HTML/image polyglot that a browser could
  be talked into rendering as a page);
- PDF: parsed by qpdf through pikepdf, under qpdf's resource limits and bounds of our own
  (objects, inflated bytes, page-tree depth, a time budget), to count the pages and to refuse
  active content, looked for in every object of the file, those inside compressed object
  streams included;
- JPEG and PNG: headers decoded by Pillow, declared dimensions capped before anything is
  decoded, the structure verified (PNG: every chunk's CRC to IEND; JPEG: a scan and an end).

Why pikepdf (qpdf) and not pypdf: qpdf is C++, has been fuzzed continuously in OSS-Fuzz since
2019 (which reports inputs that time out as bugs), reads compressed object streams and
cross-reference streams, rebuilds a damaged cross-reference table in one pass, and exposes
limits (nesting, errors, inflated size per stream, warnings) that we set below. pypdf is pure
Python, tens of times slower on the same file, and has had several denial-of-service advisories
for crafted files (loops and quadratic parsing) in its parser. Nothing here scans untrusted bytes
with a regular expression that has nested quantifiers: the only expressions left are literal
alternations over the first KB.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import pikepdf
from PIL import JpegImagePlugin, PngImagePlugin

from ...errors import ApiError
from .. import messages as wmsg
from . import messages as msg
from .models import MaterialType

log = logging.getLogger(__name__)

# A document of at most MATERIAL_MAX_PDF_PAGES (50) pages from any office suite, scanner or phone
# has a few thousand objects; 20,000 leaves room for tagged (accessible) PDFs and bounds qpdf's
# work on a file of many tiny objects.
MAX_OBJECTS = 20_000
# Inflated bytes of all object streams together (each one is also capped by qpdf below): a zip
# bomb of many small object streams cannot make us inflate more than this.
MAX_INFLATE = 32 * 1024 * 1024
# Real page trees are a few levels deep (qpdf and Acrobat write at most 3-4 for thousands of
# pages); a deeper one is crafted to exhaust a recursive reader.
MAX_PAGE_TREE_DEPTH = 64
# Token boundaries (PDF whitespace and delimiters, ISO 32000-1 7.2.2): qpdf's parsing costs about
# 0.5 us per token, and a token other than the first follows a boundary byte or is one, so their
# count bounds its work: 1,000,000 is about 0.5 s. An ordinary PDF is mostly compressed stream
# data, where any byte is a boundary with probability 16/256: 10 MB of it counts about 625,000.
# Counted over the file and the inflated object streams, at memory speed (bytes.translate).
MAX_TOKENS = 1_000_000
_BOUNDARIES = b"\x00\t\n\x0c\r ()<>[]{}/%"
# Wall-clock budget for the object scan, checked between objects: a safety net should qpdf
# ever be slow on some construct, not the bound we rely on (the object and inflate caps are).
CHECK_SECONDS = 5.0

# qpdf's limits are process-wide (pikepdf.settings.set_qpdf_limits says to set them once, at
# import). flate_max_memory: one stream never inflates beyond MAX_INFLATE. Nesting (499), errors
# per object (15) and container size in a damaged file (5,000) keep qpdf's defaults.
# doc_max_warnings is left alone: with it set, opening a file walks its page tree in qpdf
# (getAllPages), which our own bounded walk (_count_pages) is there to replace.
pikepdf.settings.set_qpdf_limits(flate_max_memory=MAX_INFLATE)

# HTML a browser could be made to render: tags from WHATWG MIME Sniffing 7.1 (the HTML patterns
# of "identifying a resource with an unknown MIME type") that run or load something, plus svg,
# object, embed, meta and img. Searched in the first KB, not only at the start, as older
# browsers sniffed; short generic tags (<a, <b, <p) are left out: binary data holds them by
# chance. A literal alternation over at most 1 KB.
_HTML_TAG = re.compile(
    rb"<\s{0,8}(!doctype\s|html|head|body|script|iframe|svg|object|embed|meta|img|style)[\s/>]", re.I
)
_FIRST_BYTES = 1024

# Names that make a PDF do something by itself (ISO 32000-1:2008 12.6.4 action types, 12.6.3
# trigger events /AA, 7.11.4 embedded file streams, 12.7.8 XFA; RichMedia: Adobe Supplement to
# ISO 32000, BaseVersion 1.7 ExtensionLevel 3). Matched as whole JSON strings in qpdf's JSON of
# each object, where a name is "/Name" (with #xx escapes resolved) and a PDF string is "u:..."
# or "b:...": a string that merely mentions "/JavaScript" is not a match.
_ACTIVE: tuple[tuple[bytes, str], ...] = (
    (b"/JavaScript", "javascript"),
    (b"/JS", "javascript"),
    (b"/AA", "auto_action"),
    (b"/Launch", "launch"),
    (b"/EmbeddedFiles", "embedded_file"),
    (b"/EmbeddedFile", "embedded_file"),
    (b"/EF", "embedded_file"),
    (b"/RichMedia", "rich_media"),
    (b"/RichMediaContent", "rich_media"),
    (b"/RichMediaExecute", "rich_media"),
    (b"/XFA", "xfa"),
)
# One pass over each object's JSON; a literal alternation between quotes, no nested quantifier.
_ACTIVE_NAME = re.compile(b'"(' + b"|".join(re.escape(name) for name, _ in _ACTIVE) + b')"')
_OPEN_ACTION = b'"/OpenAction"'
_REF = re.compile(r"^(\d{1,10}) (\d{1,5}) R$")


def _refused(message: str, *, code: str, details: dict[str, Any] | None = None) -> ApiError:
    """The file was received whole but is not acceptable: 422, the API's error shape."""
    return ApiError(message, code=code, status=422, details=details)


def _broken(problem: str) -> ApiError:
    return _refused(msg.PDF_UNREADABLE, code="material_broken", details={"problem": problem})


def _too_complex(what: str, limit: int | float) -> ApiError:
    text = msg.TOO_COMPLEX_WHAT[what].format(limit=limit)
    return _refused(
        msg.PDF_TOO_COMPLEX.format(what=text), code="material_too_complex", details={"limit": what, "value": limit}
    )


def _active(feature: str, name: str) -> ApiError:
    return _refused(
        msg.PDF_ACTIVE[feature].format(name=name),
        code="material_active_content",
        details={"feature": feature, "name": name},
    )


def check_no_html(data: bytes) -> None:
    """Refuse a file whose first KB holds an HTML tag, whatever its type."""
    found = _HTML_TAG.search(data[:_FIRST_BYTES])
    if found:
        tag = "<" + found.group(1).decode("ascii").strip().lower()
        raise _refused(msg.POLYGLOT.format(tag=tag), code="material_polyglot", details={"tag": tag})


# --- PDF ---------------------------------------------------------------------------------------


def check_pdf(data: bytes, max_pages: int) -> int:
    """The page count of a PDF without encryption or active content, or ApiError saying why."""
    if not data.startswith(b"%PDF-"):
        raise _refused(msg.PDF_NOT_AT_START, code="material_polyglot", details={"tag": "%PDF-"})
    if b"%%EOF" not in data[-2048:]:
        raise _refused(wmsg.MATERIAL_PDF_BROKEN, code="material_broken", details={"problem": "truncated"})
    # Cheap bounds before qpdf sees the file: every object has "obj" (twice, with "endobj") and
    # every stream "stream" (twice); bytes.count runs at memory speed.
    if data.count(b"obj") > 2 * MAX_OBJECTS + 2 or data.count(b"stream") > 2 * MAX_OBJECTS + 2:
        raise _too_complex("objects", MAX_OBJECTS)
    tokens = _boundaries(data)
    if tokens > MAX_TOKENS:
        raise _too_complex("tokens", MAX_TOKENS // 10_000)
    deadline = time.monotonic() + CHECK_SECONDS
    try:
        with pikepdf.open(io.BytesIO(data), inherit_page_attributes=False, suppress_warnings=True) as pdf:
            return _inspect(pdf, max_pages, deadline, MAX_TOKENS - tokens)
    except ApiError:
        raise
    except pikepdf.PasswordError as exc:
        raise _refused(wmsg.MATERIAL_PDF_ENCRYPTED, code="material_encrypted") from exc
    except Exception as exc:
        # Whatever qpdf or pikepdf raise on a malformed file (PdfError, DataDecodingError, and the
        # ValueError, TypeError, KeyError or RuntimeError of an object of the wrong kind where a
        # reader expects another) means the same to the citizen: the file cannot be read.
        log.info("PDF refused as unreadable: %s", type(exc).__name__)
        raise _broken("unreadable") from exc


def _boundaries(data: bytes) -> int:
    return len(data) - len(data.translate(None, _BOUNDARIES))


def _inspect(pdf: pikepdf.Pdf, max_pages: int, deadline: float, tokens_left: int) -> int:
    if pdf.is_encrypted or "/Encrypt" in pdf.trailer:
        raise _refused(wmsg.MATERIAL_PDF_ENCRYPTED, code="material_encrypted")
    xref = pdf.get_xref_table()
    if len(xref) > MAX_OBJECTS:
        raise _too_complex("objects", MAX_OBJECTS)
    _inflate_object_streams(pdf, xref, tokens_left)
    pages = _count_pages(pdf, max_pages)
    _refuse_active_content(pdf, xref, deadline)
    return pages


def _inflate_object_streams(pdf: pikepdf.Pdf, xref: dict, tokens_left: int) -> None:
    """Inflate every object stream the cross-reference points into, within MAX_INFLATE bytes and
    the tokens left in all, before qpdf parses the objects in them."""
    numbers = sorted({entry.obj_stream_number for entry in xref.values() if entry.type == 2})
    budget = MAX_INFLATE
    for number in numbers:
        stream = pdf.get_object(number, 0)
        if not isinstance(stream, pikepdf.Stream):
            raise _broken("object_stream")
        inflated = stream.read_bytes()
        budget -= len(inflated)
        if budget < 0:
            raise _too_complex("inflate", MAX_INFLATE // (1024 * 1024))
        tokens_left -= _boundaries(inflated)
        if tokens_left < 0:
            raise _too_complex("tokens", MAX_TOKENS // 10_000)


def _count_pages(pdf: pikepdf.Pdf, max_pages: int) -> int:
    """Leaves of the page tree, walked without recursion, each node once (at most MAX_OBJECTS).

    A /Count above the limit is refused as such without walking (a few bytes can declare a
    billion pages)."""
    root = pdf.Root.get("/Pages")
    if not isinstance(root, pikepdf.Dictionary):
        raise _refused(wmsg.MATERIAL_PDF_NO_PAGES, code="material_broken", details={"problem": "no_page_tree"})
    declared = root.get("/Count")
    if isinstance(declared, int) and declared > max_pages:
        raise _too_many_pages(int(declared), max_pages)
    pages = 0
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array) and node.get("/Type") != pikepdf.Name.Page:
            if depth >= MAX_PAGE_TREE_DEPTH:
                raise _too_complex("depth", MAX_PAGE_TREE_DEPTH)
            stack.extend((kid, depth + 1) for kid in kids)
        elif node.get("/Type") == pikepdf.Name.Page or depth > 0:
            pages += 1
    if pages == 0:
        raise _refused(wmsg.MATERIAL_PDF_NO_PAGES, code="material_broken", details={"problem": "no_pages"})
    if pages > max_pages:
        raise _too_many_pages(pages, max_pages)
    return pages


def _too_many_pages(pages: int, limit: int) -> ApiError:
    return _refused(
        wmsg.MATERIAL_TOO_MANY_PAGES.format(pages=pages, limit=limit),
        code="material_too_many_pages",
        details={"pages": pages, "limit": limit},
    )


def _refuse_active_content(pdf: pikepdf.Pdf, xref: dict, deadline: float) -> None:
    """Every object in the file, reachable or not (another reader may repair a file differently
    and reach what qpdf does not), looked at as qpdf's JSON: a bytes search per active name."""
    for text in _objects_json(pdf, xref, deadline):
        _scan(text)
        if _OPEN_ACTION in text and not _open_action_is_a_view(pdf, json.loads(text)):
            raise _active("auto_action", "/OpenAction")


def _scan(text: bytes) -> None:
    found = {match.group(1) for match in _ACTIVE_NAME.finditer(text)}
    for name, feature in _ACTIVE:  # the first in _ACTIVE's order names the reason
        if name in found:
            raise _active(feature, name.decode())


def _objects_json(pdf: pikepdf.Pdf, xref: dict, deadline: float) -> Iterator[bytes]:
    yield pdf.trailer.to_json(dereference=True)
    for objgen in xref:
        if time.monotonic() > deadline:
            raise _too_complex("time", CHECK_SECONDS)
        # Streams give their dictionary only: content and image data are never parsed here.
        yield pdf.get_object(objgen).to_json(dereference=True)


def _values(tree: Any, key: str) -> Iterator[Any]:
    """Values of ``key`` in any dictionary of one object's JSON, walked without recursion."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if key in node:
                yield node[key]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _open_action_is_a_view(pdf: pikepdf.Pdf, tree: Any) -> bool:
    """True when every /OpenAction only says which page to show: a destination array (12.3.2)
    or a GoTo action (12.6.4.2), which office suites write to open at page 1. Any other action
    runs something on opening and is refused; a GoTo's /Next chain is an object of its own,
    scanned like every other."""
    for value in _values(tree, "/OpenAction"):
        if isinstance(value, str) and (ref := _REF.match(value)):
            text = pdf.get_object(int(ref.group(1)), int(ref.group(2))).to_json(dereference=True)
            _scan(text)  # a JavaScript action run on opening is refused as JavaScript
            value = json.loads(text)
        if isinstance(value, list):
            continue
        if isinstance(value, dict) and value.get("/S") == "/GoTo":
            continue
        return False
    return True


# --- images ------------------------------------------------------------------------------------


def check_image(data: bytes, file_type: MaterialType, max_pixels: int) -> None:
    """Refuse an image whose headers Pillow cannot decode, whose declared size is over
    ``max_pixels``, or whose structure is not that of a whole image.

    The plugin class is used rather than ``Image.open`` so that the declared size is compared
    with our limit (and refused with it in the message) before Pillow's own, process-wide
    decompression-bomb check; nothing is decoded, so nothing of that size is allocated."""
    kind = "JPEG" if file_type is MaterialType.JPEG else "PNG"
    plugin = JpegImagePlugin.JpegImageFile if file_type is MaterialType.JPEG else PngImagePlugin.PngImageFile
    try:
        image = plugin(io.BytesIO(data))
    except Exception as exc:  # SyntaxError, OSError, struct.error, ValueError...: not an image
        raise _image_broken(kind, "header") from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        raise _image_broken(kind, "no_size")
    if width * height > max_pixels:
        raise _refused(
            msg.IMAGE_TOO_MANY_PIXELS.format(width=width, height=height, limit=max_pixels // 10_000),
            code="material_too_many_pixels",
            details={"width": width, "height": height, "limit": max_pixels},
        )
    if file_type is MaterialType.JPEG:
        # Pillow stops reading at the first scan (SOS, FFDA): require one, with data after it
        # and an end-of-image marker (FFD9) after that (ITU-T T.81, B.2.1).
        scan = data.find(b"\xff\xda")
        if scan < 0 or scan + 4 >= len(data):
            raise _image_broken(kind, "no_data")
        if data.find(b"\xff\xd9", scan + 4) < 0:
            raise _image_broken(kind, "no_end")
        return
    try:
        # PNG: every chunk's CRC checked up to IEND (ISO/IEC 15948, 5.3), IDAT not inflated.
        image.verify()
    except Exception as exc:
        raise _image_broken(kind, "checksum") from exc
    if b"IDAT" not in data:
        raise _image_broken(kind, "no_data")


def _image_broken(kind: str, why: str) -> ApiError:
    return _refused(
        msg.IMAGE_BROKEN.format(kind=kind, why=msg.IMAGE_WHY[why]),
        code="material_broken",
        details={"problem": why},
    )
