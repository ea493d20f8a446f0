"""Remove credentials from text before it leaves the process (logs, audit previews, error messages).

Masks the value of anything named like a secret, however it is spelt: `DB_PASSWORD=…`,
`client_secret: …`, `"api_key": "…"`, `'token': '…'`, `export GITHUB_TOKEN=…`, `?access_token=…&`,
`x-api-key: …`, `Authorization: Basic …`, `Cookie: …`; and credential shapes wherever they are:
URL passwords (`scheme://user:secret@host`), bearer credentials, this project's API keys, JWTs and
PEM private keys. It is a safety net, not a licence to put secrets in messages.
"""

from __future__ import annotations

import re

SECRET_NAME_PARTS = (
    "pass",  # password, passwd, passphrase, passcode (and `paß`, which case-folds to `pass`)
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "privatekey",
    "private_key",
    "private-key",
    "accesskey",
    "access_key",
    "access-key",
    "credential",
    "signature",
    "authorization",
    "cookie",
)
"""A name containing one of these (case-folded) names a secret: `DB_PASSWORD`, `x-api-key`,
`AWS_SECRET_ACCESS_KEY`, `Set-Cookie`. Some harmless names match too (`max_tokens`); `author`
and `idempotency_key` do not."""

_HEADER_PARTS = ("authorization", "cookie")
"""Their unquoted values run to the end of the line: `Digest a="b", c="d"`, `Cookie: a=1; b=2`."""
_SCHEMES = ("basic", "bearer", "digest", "negotiate", "ntlm", "token", "dpop", "hoba", "mutual", "aws4-hmac-sha256")
"""Authorization schemes worth keeping in sight (`Authorization: Basic ***`)."""

_OTHER_PARTS = "|".join(re.escape(part) for part in SECRET_NAME_PARTS if part not in _HEADER_PARTS)
_NAMED_VALUE = re.compile(
    # Matched from the secret word on (a name's start, such as `DB_`, stays as it is), so it can be
    # tried only where `str.find` saw a secret word. Quotes may come escaped (`\"password\": `, in
    # text quoting JSON); a quoted value ends at a quote escaped as its opening one was, so a repr
    # of JSON (`"a=\\"b\\""`) is masked whole; a value cut off before its end is masked to the end
    # of the line: no value is required to be complete.
    rf"(?i)(?P<head>(?:(?P<header>{'|'.join(_HEADER_PARTS)})|{_OTHER_PARTS})[\w.-]*+"
    r"\\*[\"']?[ \t]*(?:[:=]|%3[ad])[ \t]*)"
    r"(?:(?P<esc>\\*)(?P<quote>[\"'])(?:(?!(?<!\\)(?P=esc)(?P=quote))[^\r\n])*+"
    rf"|(?(header)(?P<scheme>(?:{'|'.join(_SCHEMES)})[ \t]+)?[^\r\n]+"
    r"|[^\s&;,\"']+))"
)
_NAME_END = re.compile(r"[^\w.-]")
_NAMED_MASK = r"\g<head>\g<esc>\g<quote>\g<scheme>***"
_PRIVATE_KEY = re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z ]*PRIVATE KEY-----|\Z)")
_SHAPES = (  # what a credential shape needs in the text (case-folded or not), its pattern, its mask
    ("@", False, re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]+@"), r"\1:***@"),
    ("bearer", True, re.compile(r"(?i)\b(bearer\s+)[a-z0-9._~+/=-]{8,}"), r"\1***"),
    ("mcpk_", False, re.compile(r"mcpk_[A-Za-z0-9_-]{8,}"), "mcpk_***"),
    ("eyJ", False, re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<jwt>"),
)


def _folded(text: str) -> str:
    return text.lower() if text.isascii() else text.casefold()  # the same for ASCII, and faster


def _names_a_secret(text: str, folded: str) -> bool:
    return ("=" in text or ":" in text or "%3" in text) and any(part in folded for part in SECRET_NAME_PARTS)


def might_hold_credential(text: str) -> bool:
    """Whether `redact` could change `text` (False means it certainly would not).

    Substring tests, not a regex: they run on every log record and audited argument, and cost a
    tenth of a regex alternation on long text. A named value needs a separator and a secret
    name, so ordinary text (`MCP request POST /mcp -> 200`, ids) never reaches a pattern.
    """
    if "@" in text or "mcpk_" in text or "eyJ" in text or "-----BEGIN" in text:
        return True
    folded = _folded(text)
    return "bearer" in folded or _names_a_secret(text, folded)


def redact(text: str, limit: int | None = None) -> str:
    """`text` with every recognised credential replaced; with `limit`, first cut to about that many
    characters (so a huge text costs no more than a short one), the cut said at the end."""
    if limit is not None and len(text) > limit:
        head = text[:limit]
        if head and not head[-1].isspace() and not text[limit].isspace():
            # A word cut in two is dropped whole: a pattern may need the word's end (the `@` of a
            # URL password, a JWT's dots), and half a credential must not slip past unmatched.
            head = head[: len(head) - len(head.rsplit(None, 1)[-1])]
        return f"{redact(head)}…[truncated {len(text) - len(head)} chars]"
    if not might_hold_credential(text):  # the common case: nothing credential-shaped, no rewriting
        return text
    if "-----BEGIN" in text:  # first: a named value would mask only the key's first line
        text = _PRIVATE_KEY.sub("<private key>", text)
    folded = _folded(text)
    if _names_a_secret(text, folded):
        text = _mask_named_values(text, folded)
    for needle, case_folded, pattern, replacement in _SHAPES:  # each pattern only where it could match
        if needle in (folded if case_folded else text):
            text = pattern.sub(replacement, text)
    return text


def _mask_named_values(text: str, folded: str) -> str:
    if len(folded) != len(text):  # case-folding moved characters (`ß` is `ss`): let the regex search
        return _NAMED_VALUE.sub(_NAMED_MASK, text)
    # A case-insensitive search tries every secret word at every character, ten times slower
    # than finding each word (in the folded text); a match can only start at one of them.
    starts: list[int] = []
    for part in SECRET_NAME_PARTS:
        at = folded.find(part)
        while at >= 0:
            starts.append(at)
            at = folded.find(part, at + 1)
    pieces: list[str] = []
    done = name_end = 0
    headers_may_match = False
    for at in sorted(starts):
        header = folded.startswith(_HEADER_PARTS, at)
        if at < name_end and not (header and headers_may_match):
            continue  # a later word of a name that failed fails the same way (save a header's value)
        match = _NAMED_VALUE.match(text, at)
        if match is None:
            after = _NAME_END.search(text, at)
            name_end = len(text) if after is None else after.start()
            headers_may_match = not header
            continue
        head, esc, quote, scheme = match.group("head", "esc", "quote", "scheme")
        pieces += (text[done:at], head, esc or "", quote or "", scheme or "", "***")
        done = name_end = match.end()
        headers_may_match = False
    return "".join(pieces) + text[done:] if pieces else text
