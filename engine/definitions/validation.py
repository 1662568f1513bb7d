"""What every check of the process library shares: the :class:`Problem` it reports (severity, plain-words
message, file, element id, line), reading XML safely, and compiling code found in a diagram under the sandbox.

The checks themselves: :mod:`engine.definitions.validation_elements` (which BPMN elements the engine can run, read from the
XML), :mod:`engine.definitions.validation_diagrams` (the parsed processes: scripts, timers, user tasks, gateways) and
:mod:`engine.definitions.validation_forms` (JSON Schema forms and DMN tables). :func:`engine.definitions.library.load_library` runs them.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from lxml import etree

from .bundles import as_utf8_text
from engine.sandbox import lint

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
#: no DTD, no entities, no network: a diagram is data (an external entity would read the server's files)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
_ELEMENT_REPR = re.compile(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-fA-F]+>")
_DOCTYPE = re.compile(r"\A\ufeff?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<\?.*?\?>\s*)*<!DOCTYPE", re.S | re.I)
_OBJECT_REPR = re.compile(r"<(?:[\w.]+\.)?(\w+) object at 0x[0-9a-fA-F]+>")


@dataclass
class Problem:
    severity: str  # error | warning
    message: str
    file: str | None = None
    element_id: str | None = None
    line: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = ":".join(str(x) for x in (self.file, self.line) if x)
        elem = f" [{self.element_id}]" if self.element_id else ""
        return f"{self.severity}: {where}{elem} {self.message}".strip()


class XmlRefused(ValueError):
    """XML the engine does not read (a DTD or entity declaration)."""


def parse_xml(text: str) -> etree._Element:
    """Parse a diagram's text (stored as UTF-8, :mod:`engine.definitions.bundles`). Raises ``etree.XMLSyntaxError`` for
    malformed XML and :class:`XmlRefused` for a document type declaration (DTDs and entities are refused:
    they can read files of the server or blow up in memory)."""
    if _DOCTYPE.match(text):
        raise XmlRefused("the file declares a DTD (<!DOCTYPE …>); DTDs and entities are not allowed in diagrams")
    root = etree.fromstring(as_utf8_text(text).encode("utf-8"), _PARSER)  # the text is Unicode: its bytes UTF-8
    doc = root.getroottree().docinfo
    if doc.doctype or doc.internalDTD is not None:
        raise XmlRefused("the file declares a DTD (<!DOCTYPE …>); DTDs and entities are not allowed in diagrams")
    return root


#: longest attribute value (characters) a diagram may carry: names, ids and references are short
MAX_ATTRIBUTE = 10_000


def oversized_attribute(name: str, root) -> Problem | None:
    """An error for the first attribute longer than :data:`MAX_ATTRIBUTE` (it would be repeated in every message
    about its element), else None."""
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for attr, value in node.attrib.items():
            if len(value) > MAX_ATTRIBUTE:
                tag, attr_name = etree.QName(node).localname, etree.QName(attr).localname
                element = node.get("id") if len(node.get("id") or "") <= 200 else None
                return Problem("error", f"the attribute {attr_name} of <{tag}> is {len(value):,} characters long "
                                        f"(limit {MAX_ATTRIBUTE:,})", name, element, node.sourceline)
    return None


def plain(message: str) -> str:
    """An engine message in plain words: no Python object representations, no dangling punctuation."""
    message = _ELEMENT_REPR.sub(lambda m: f"<{m.group(1)}>", message)
    message = _OBJECT_REPR.sub(lambda m: m.group(1), message)
    message = re.sub(r"\s*\.(\s*\.)+", ".", message.strip())
    return message.rstrip(" .") or "the engine cannot read this element"


def line_index(name: str, root, lines: dict[str, tuple[str, int]], tags: dict[str, str]) -> None:
    """Record where every element with an id is (file, line) and its BPMN tag name."""
    for node in root.iter():
        node_id = node.get("id") if isinstance(node.tag, str) else None
        if node_id:
            lines.setdefault(node_id, (name, node.sourceline))
            tags.setdefault(node_id, etree.QName(node).localname)


def problem_at(lib, lines, severity, element_id, message):
    file_name, line = lines.get(element_id, (None, None))
    lib.problems.append(Problem(severity, message, file_name, element_id, line))


def lint_code(lib, lines, element_id, what, source, mode):
    if not source or not source.strip():
        return
    for msg in lint(source, mode):
        problem_at(lib, lines, "error", element_id, f"{what}: {msg}")


_WORDS = re.compile(r"(?<=[a-z])(?=[A-Z])")


def type_words(tag: str) -> str:
    """``businessRuleTask`` → ``business rule task``."""
    return _WORDS.sub(" ", tag).lower()
