"""The text of an env file as a mapping (pure): the one parser of ``KEY=VALUE`` text.

It reads the host's ``MONITORED_ENV_FILE``, the CLI's ``--env-file`` and the environment text that a
create or drift request sends (the web UI sends what was typed, never a parsed copy).
"""

from __future__ import annotations

import re
from typing import Final

from behaviour_profiles.errors import InvalidRequest

__all__ = ["parse_env_file"]

_ENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")
_ESCAPES: Final = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\", "$": "$", "`": "`"}


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body, flags=re.DOTALL)


def _closing_quote(text: str, quote: str) -> int:
    """Index of the closing quote in ``text`` (after the opening one), or -1."""
    i = 0
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def parse_env_file(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines of an env file, as a mapping (a later line wins).

    Blank lines and ``#`` comments are skipped; ``export`` is allowed; values may be unquoted (an inline
    comment needs a space before ``#``), single-quoted (literal) or double-quoted (``\\n``, ``\\"``,
    ``\\\\`` escapes); a quoted value may span lines, as a PEM block does. A malformed line raises
    :class:`InvalidRequest` naming its number, never its content.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: dict[str, str] = {}
    i = 0
    while i < len(lines):
        number, line = i + 1, lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise InvalidRequest(
                f"env file line {number} is not KEY=VALUE (a name of letters, digits and _, then =, then the value)"
            )
        name, rest = match.group(1), match.group(2)
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            end = _closing_quote(body, quote)
            while end < 0 and i < len(lines):
                body += "\n" + lines[i]
                i += 1
                end = _closing_quote(body, quote)
            if end < 0:
                raise InvalidRequest(f"env file line {number}: the quoted value of {name} is never closed")
            trailing = body[end + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                raise InvalidRequest(f"env file line {number}: unexpected text after the quoted value of {name}")
            value = body[:end]
            out[name] = _unescape(value) if quote == '"' else value
        else:
            out[name] = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
    return out
