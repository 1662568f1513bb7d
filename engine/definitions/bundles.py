"""Reading process files into a *bundle* ``{file name: text}``: an HTTP upload (files or a ``.zip``), a JSON body,
or the shipped ``processes/`` + ``forms/`` directories (the CLI and start-up).

Every way in decodes the same way (:func:`decode_file`): a BPMN/DMN file is read in the encoding its byte-order
mark or XML declaration states (``<?xml version="1.0" encoding="ISO-8859-1"?>`` from another modeler is read as
Latin-1), and its declaration is rewritten to UTF-8, the encoding the engine stores and parses. Forms are UTF-8
JSON. A file that cannot be read is named with the reason in plain words, never a decoding traceback.
"""
from __future__ import annotations

import codecs
import functools
import io
import json
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from lxml import etree

from engine.errors import InvalidFormData

BUNDLE_SUFFIXES = (".bpmn", ".dmn", ".json")
#: a bundle is a few diagrams and forms; an archive of thousands of entries is refused before any is read
MAX_ARCHIVE_MEMBERS = 500
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_DECLARATION = re.compile(r"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_DECLARED = re.compile(r"""(^\s*<\?xml[^>]*?\bencoding\s*=\s*["'])([A-Za-z0-9._:-]+)(["'])""")


class UnreadableFile(ValueError):
    """A file whose bytes are not text in the encoding it declares (the message names the file)."""


def decode_file(name: str, data: bytes) -> str:
    """The text of ``data`` (a file called ``name``): BPMN/DMN in the encoding its byte-order mark or XML
    declaration names, JSON as UTF-8. Raises :class:`UnreadableFile` with a sentence naming the file."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    if encoding is None and data[:4] in (b"<\0?\0", b"\0<\0?"):  # UTF-16 without a byte-order mark
        encoding = "utf-16-le" if data[0] == 0x3C else "utf-16-be"
    if encoding is None and b"\0" in data[:4096]:
        raise UnreadableFile(f"'{name}' is a binary file, not {_kind_words(name)}")
    if encoding is None and name.endswith((".bpmn", ".dmn")):
        match = _DECLARATION.match(data[:200].decode("ascii", "replace"))
        if match:
            encoding = match.group(1)
            if not _is_charset(encoding):
                raise UnreadableFile(f"'{name}' declares the encoding '{encoding}', which is not a text encoding "
                                     f"this server knows; save it as UTF-8")
    encoding = encoding or "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"'{name}' is not {_encoding_words(encoding)} text: byte {exc.start} "
                             f"(0x{data[exc.start]:02x}) cannot be read; save the file as UTF-8 or declare its "
                             f"encoding in the XML declaration") from None
    except (UnicodeError, ValueError):  # a codec that fails without saying where
        raise UnreadableFile(f"'{name}' cannot be read as {_encoding_words(encoding)} text; save the file as "
                             f"UTF-8") from None
    return as_utf8_text(_unicode(name, text.lstrip("\ufeff")))


#: codecs Python knows that are not a character set a file can be written in: they decode escapes, domain
#: names or nothing at all (binary-to-binary and text-to-text transforms are refused by their codec's own flag)
_NOT_CHARSETS = frozenset({"punycode", "idna", "undefined", "unicode_escape", "raw_unicode_escape",
                           "unicode_internal", "string_escape", "mbcs", "oem"})


def _is_charset(encoding: str) -> bool:
    """Whether ``encoding`` names a real character set (UTF-8, Latin-1, cp1252, Shift_JIS…): not an unknown
    name, and not one of Python's codecs that only transform (rot13, base64, zlib…) or decode escapes."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        return False
    return getattr(info, "_is_text_encoding", True) and info.name.replace("-", "_") not in _NOT_CHARSETS


def _unicode(name: str, text: str) -> str:
    """Text given as a string (a JSON body) is Unicode that UTF-8 can store (JSON allows lone surrogates), and a
    form's JSON holds no ``\\ud800`` escape either: its titles and defaults reach pages, case data and the
    history, where no database can store a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnreadableFile(f"'{name}' holds a character that is not valid Unicode text (position {exc.start})") \
            from None
    found = _escaped_surrogate(text) if name.endswith(".json") and "\\u" in text else None
    if found:
        raise UnreadableFile(f"'{name}' holds a lone surrogate ({found}) in a JSON string, which is not valid "
                             f"Unicode text")
    return text


def _escaped_surrogate(text: str) -> str | None:
    """The first lone surrogate a JSON text's escapes decode to, as an escape; None for JSON that does not parse
    (validation names what is wrong with it)."""
    try:
        stack = [json.loads(text)]
    except (ValueError, RecursionError):
        return None
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and _SURROGATE.search(node):
            return f"\\u{ord(_SURROGATE.search(node).group()):04x}"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def as_utf8_text(text: str) -> str:
    """XML text whose declaration (if any) says UTF-8 — the encoding it is stored and parsed in."""
    return _DECLARED.sub(lambda m: m.group(1) + "UTF-8" + m.group(3), text, count=1)


def _encoding_words(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16",
            "utf-16-be": "UTF-16", "utf-32": "UTF-32"}.get(name, encoding)


def _kind_words(name: str) -> str:
    return "a JSON form" if name.endswith(".json") else "an XML diagram"


def bundle_from_uploads(uploads: list[tuple[str, bytes | str]], max_bytes: int = 20_000_000,
                        by_name: bool = False) -> dict[str, str]:
    """Turn uploaded files into a bundle. A ``.zip`` (e.g. a downloaded version) is unpacked. Text given as
    ``str`` (a JSON body) is taken as it is; bytes are decoded by :func:`decode_file`; anything else, or an
    archive given as text, is refused. Every problem is reported at once, one entry per file, its field
    ``/files/<i>`` (the i-th upload) or, ``by_name``, ``/files/<name>`` (a JSON body's key)."""
    files: dict[str, str] = {}
    errors: list[dict] = []
    total = 0

    def add(name: str, data: bytes | str, field: str) -> None:
        nonlocal total
        base = PurePosixPath(name.replace("\\", "/")).name
        if not base or not base.endswith(BUNDLE_SUFFIXES):
            errors.append({"field": field, "message": f"'{shown_name(name)}' is not a .bpmn, .dmn or .json file"})
            return
        if control_character(base):
            errors.append({"field": field, "message": f"'{shown_name(base)}' has a control character "
                                                      f"({control_character(base)}) in its name"})
            return
        total += len(data)
        if total > max_bytes:
            errors.append({"field": field, "message": f"the bundle is larger than {max_bytes} bytes"})
            return
        try:
            text = as_utf8_text(_unicode(base, data)) if isinstance(data, str) else decode_file(base, data)
        except UnreadableFile as exc:
            errors.append({"field": field, "message": str(exc)})
            return
        if not text.strip():
            errors.append({"field": field, "message": f"'{base}' is empty"})
            return
        if base in files:
            errors.append({"field": field, "message": f"'{base}' is in the upload twice"})
            return
        files[base] = text

    for i, (name, data) in enumerate(uploads):
        field = f"/files/{_pointer(shown_name(name or ''))}" if by_name else f"/files/{i}"
        if not isinstance(data, (bytes, str)):
            errors.append({"field": field, "message": f"'{shown_name(name)}' must be the file's text, not "
                                                      f"{type(data).__name__}"})
            continue
        if (name or "").lower().endswith(".zip"):
            if isinstance(data, str):  # a JSON body holds text: an archive's bytes come as a file (multipart)
                errors.append({"field": field, "message": f"'{shown_name(name)}' is an archive: upload it as a "
                                                          f"file (multipart/form-data), not as text"})
                continue
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    members = [i for i in z.infolist()
                               if not i.is_dir() and not PurePosixPath(i.filename).name.startswith(".")]
                    if len(members) > MAX_ARCHIVE_MEMBERS:
                        errors.append({"field": field, "message": f"'{shown_name(name)}' holds {len(members)} files; a bundle "
                                                                  f"has at most {MAX_ARCHIVE_MEMBERS}"})
                        continue
                    for info in members:
                        # the sizes an archive declares are not trusted: read what it actually produces, and
                        # stop one byte past what the bundle may still hold (a 1 MB archive lying about a 2.5 GB
                        # member costs at most the limit)
                        content = _read_bounded(z, info, max_bytes - total)
                        if content is None:
                            errors.append({"field": field, "message": f"the bundle is larger than {max_bytes} bytes"})
                            break
                        add(info.filename, content, f"{field}/{shown_name(info.filename)}")
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError,
                    ValueError, OSError, zlib.error) as exc:
                errors.append({"field": field, "message": f"'{shown_name(name)}' is not a zip archive this server can read "
                                                          f"({exc.__class__.__name__})"})
            continue
        add(name or "", data, field)
    if not files and not errors:
        errors.append({"field": "/files", "message": "upload at least one .bpmn, .dmn or .json file"})
    if errors:
        raise InvalidFormData("the upload is not a process bundle", errors)
    return files


#: characters a file name may not hold: C0 and C1 controls (line breaks, tabs, escape, DEL) and the Unicode
#: line and paragraph separators — a name is echoed in download headers and pages, where they break lines — and
#: the bidirectional embeddings, overrides and isolates, which make a name read as another one
#: ("report<U+202E>fdp.exe" shows as "reportexe.pdf")
CONTROL_CHARACTERS = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"  # a regex character class's body
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")


def control_character(name: str) -> str | None:
    """The first control character of a file name, written as an escape (``\\u000d``), or None."""
    match = _CONTROL.search(name or "")
    return f"\\u{ord(match.group()):04x}" if match else None


def shown_name(name: str) -> str:
    """A file name as a message can quote it: control characters written as escapes, not sent raw."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", name or "")


def _pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _read_bounded(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """The member's content as actually decompressed, or None once it exceeds ``limit`` bytes."""
    chunks, size = [], 0
    with z.open(info) as f:
        while True:
            chunk = f.read(64 * 1024)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)


def read_directories(processes_dir: str | Path, forms_dir: str | Path) -> dict[str, str]:
    """The shipped library as a bundle: BPMN/DMN from ``processes_dir``, JSON forms from ``forms_dir``, each
    decoded as an upload is. Raises :class:`engine.errors.InvalidFormData` naming every unreadable file."""
    paths = [p for p in sorted(Path(processes_dir).iterdir()) if p.suffix in (".bpmn", ".dmn")]
    paths += [p for p in sorted(Path(forms_dir).iterdir()) if p.suffix == ".json"]
    files: dict[str, str] = {}
    errors: list[dict] = []
    for path in paths:
        try:
            text = decode_file(path.name, path.read_bytes())
        except UnreadableFile as exc:
            errors.append({"field": str(path), "message": str(exc)})
            continue
        if not text.strip():
            errors.append({"field": str(path), "message": f"'{path.name}' is empty"})
            continue
        files[path.name] = text
    if errors:
        raise InvalidFormData("some files of the library cannot be read", errors)
    return files


@functools.lru_cache(maxsize=256)
def bpmn_ids(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(process ids defined, process ids called) by a BPMN text; empty for text that does not parse."""
    try:
        root = etree.fromstring(as_utf8_text(text).encode("utf-8"),
                                etree.XMLParser(resolve_entities=False, no_network=True))
    except (etree.XMLSyntaxError, ValueError):
        return frozenset(), frozenset()
    defined = frozenset(p.get("id") for p in root.iter(f"{BPMN}process") if p.get("id"))
    called = frozenset(c.get("calledElement") for c in root.iter(f"{BPMN}callActivity") if c.get("calledElement"))
    return defined, called


def file_kind(name: str) -> str:
    if name.endswith(".bpmn"):
        return "bpmn"
    if name.endswith(".dmn"):
        return "dmn"
    return "ui_schema" if name.endswith(".uischema.json") else "form"


def media_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/xml"
