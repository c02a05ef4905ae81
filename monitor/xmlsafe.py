"""Characters XML 1.0 forbids, stripped from everything the monitor writes out.

XML 1.0 allows only ``#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
[#x10000-#x10FFFF]``.  One ``&#xFFFF;`` in a stored title made ``atom.xml``
unreadable (issue #11.12).  The input boundary strips these from new text; the
digest writers and the mailer strip them again on the way out, so rows stored
before that fix are safe too.  The same rule is applied to every format (HTML,
text, Markdown, JSON, Atom, mail): what one format cannot carry, none shows.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except tab/LF/CR, lone surrogates, U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def strip_xml_forbidden(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids (pure; fast when clean)."""
    return _FORBIDDEN.sub("", text)


def strip_xml_forbidden_data(value: Any) -> Any:
    """`strip_xml_forbidden` applied to every string in JSON-ready data (keys too)."""
    if isinstance(value, str):
        return strip_xml_forbidden(value)
    if isinstance(value, dict):
        return {
            strip_xml_forbidden_data(k): strip_xml_forbidden_data(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [strip_xml_forbidden_data(v) for v in value]
    return value
