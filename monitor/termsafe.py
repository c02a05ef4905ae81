"""Text that is safe to print on a terminal (issue #11.13).

Titles, texts and error messages come from the outside world.  An outlet's title
holding ``ESC ] 0 ; … BEL`` would retitle the analyst's window, ``ESC [ 2 J`` would
clear the screen, and U+202E would print the rest of the line backwards.  The CLI
passes every human (non-JSON) line through `term_safe`; JSON output goes through
`json_safe`, which keeps the data and only escapes what JSON leaves raw.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# An escape sequence: CSI (ESC [ params final), OSC/DCS/PM/APC/SOS (ESC ] … BEL or
# ESC \), or any other two-character escape.  Their 8-bit C1 forms count too.
_SEQUENCE = (
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
)
# C0 controls except tab and newline, DEL, C1 controls, and the bidi embeddings,
# overrides and isolates (U+202A-202E, U+2066-2069).
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_UNSAFE = re.compile(f"{_SEQUENCE}|{_CONTROL}")
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def term_safe(text: str) -> str:
    """Neutralise escape sequences, control and bidi characters in `text`.

    Each escape sequence, and each other control or bidi-override character,
    becomes one U+FFFD, so the reader sees that something was there.  Newlines
    and tabs are kept; a CRLF line end becomes LF.

    Example:
        >>> term_safe("a\\x1b]0;owned\\x07b \\u202eevil")
        'a\\ufffdb \\ufffdevil'
    """
    if text.isprintable():
        return text  # the common case, fast
    return _UNSAFE.sub(REPLACEMENT, text.replace("\r\n", "\n"))


def json_safe(text: str) -> str:
    """Escape, in JSON text, the characters `json.dumps` leaves raw but a terminal
    obeys (DEL, C1, bidi controls, line/paragraph separators).

    The result is the same JSON value: only ``\\uXXXX`` escapes are added, and
    those characters can only occur inside JSON strings.
    """
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
