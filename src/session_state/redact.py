"""Remove private spans and high-confidence secrets from text before it is saved.

Stdlib only (hot tier): imported by the per-turn hooks and the transcript reader.

`redact_text` first deletes `<private>…</private>` spans (case-insensitive, across lines; an
unclosed `<private>` deletes to the end), then replaces secret shapes with
`[REDACTED:<kind>]`: provider tokens with distinctive prefixes, JWTs, PEM private keys,
credentials in URLs and `key = value` assignments whose key names a secret.

Cost model: every rule has a few literal trigger strings; a rule's regex is compiled on first
use and runs only when one of its triggers occurs in the text (a plain substring test), so
ordinary text pays a few `in` scans. Every pattern either starts at a literal or is guarded by
a look-behind that only lets it start at the left edge of a token, and all repetitions are
bounded or stop at a character class the next part cannot match, so matching is linear in the
input (no catastrophic backtracking; see tests/test_redact.py).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

__all__ = ["redact_text", "redact_obj", "is_secret_key", "PLACEHOLDER"]

PLACEHOLDER = "[REDACTED:{}]"

_PRIV_OPEN = re.compile(r"<private\s*>", re.IGNORECASE)
_PRIV_CLOSE = re.compile(r"</private\s*>", re.IGNORECASE)


def _strip_private(text: str) -> str:
    if "<" not in text:
        return text
    lowered_probe = "private" in text or "PRIVATE" in text or "rivate" in text.lower()
    if not lowered_probe:
        return text
    out: list[str] = []
    pos = 0
    while True:
        opened = _PRIV_OPEN.search(text, pos)
        if opened is None:
            out.append(text[pos:])
            break
        out.append(text[pos : opened.start()])
        closed = _PRIV_CLOSE.search(text, opened.end())
        if closed is None:
            break  # unclosed: drop everything to the end
        pos = closed.end()
    # A stray closing tag (its opening was cut off upstream) carries no content to hide.
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Rules. Each rule: (kind, triggers, pattern, flags, group). `group` is the group to replace
# (0 = whole match) and the rest of the match is kept, e.g. the key of an assignment.
# Triggers are lower-case when the rule is case-insensitive (tested against text.lower()).

_T = r"A-Za-z0-9_\-"  # token characters for most providers
_LB = r"(?<![A-Za-z0-9_\-])"  # left edge of a token
_RB = r"(?![A-Za-z0-9_\-])"  # right edge of a token

_Rule = tuple  # (kind, triggers, case_insensitive, pattern, flags, group, check)


def _mixed(value: str) -> bool:
    """A random-looking token: letters and digits (rules out words and plain hex counters)."""
    has_digit = any(c.isdigit() for c in value)
    has_alpha = any(c.isalpha() for c in value)
    return has_digit and has_alpha


def _aws_secret_check(match: re.Match, text: str) -> bool:
    value = match.group(0)
    if not (any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)):
        return False  # git SHAs (lower-case hex) and words are not AWS secrets
    context = text[max(0, match.start() - 120) : match.start()].lower()
    return "aws" in context or "amazon" in context or "secret" in context


def _openai_check(match: re.Match, text: str) -> bool:
    return _mixed(match.group(0)[3:])


_RULES: list[tuple] = [
    # PEM private keys: the whole block, or from BEGIN to the end of the base64 run when cut off.
    (
        "private_key",
        ("PRIVATE KEY-----",),
        False,
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[A-Za-z0-9+/=\s:,.\\\-]*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,.\\]*)",
        0,
        0,
        None,
    ),
    # scheme://user:password@host -> scheme://[REDACTED:url_credentials]@host
    (
        "url_credentials",
        ("://",),
        False,
        r"(?<=://)([^\s:/?#@\"'<>\[\]\\]{1,256}:[^\s/?#@\"'<>\\]{1,512})@",
        0,
        1,
        None,
    ),
    ("slack_webhook", ("hooks.slack.com/",), False, r"(?<=hooks\.slack\.com/)(?:services|workflows|triggers)/[A-Za-z0-9_/\-]{8,300}", 0, 0, None),
    ("discord_webhook", ("/api/webhooks/",), False, r"(?<=/api/webhooks/)\d{5,30}/[A-Za-z0-9_\-]{20,200}", 0, 0, None),
    ("anthropic_api_key", ("sk-ant-",), False, _LB + r"sk-ant-[A-Za-z0-9_\-]{20,300}", 0, 0, None),
    ("openai_api_key", ("sk-",), False, _LB + r"sk-(?:proj-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_\-]{20,300}" + _RB, 0, 0, _openai_check),
    ("stripe_key", ("_live_", "_test_"), False, _LB + r"(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,247}" + _RB, 0, 0, None),
    ("stripe_webhook_secret", ("whsec_",), False, _LB + r"whsec_[A-Za-z0-9+/=]{24,100}", 0, 0, None),
    ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), False, _LB + r"gh[pousr]_[A-Za-z0-9]{30,251}" + _RB, 0, 0, None),
    ("github_token", ("github_pat_",), False, _LB + r"github_pat_[A-Za-z0-9_]{30,251}" + _RB, 0, 0, None),
    ("gitlab_token", ("gl",), False, _LB + r"gl(?:pat|dt|rt|ptt|cbt|ft|imt|soat|oas|agent)-[A-Za-z0-9_.\-]{20,300}", 0, 0, None),
    ("slack_token", ("xox",), False, _LB + r"xox[abposre](?:-[A-Za-z0-9]{1,200}){2,8}" + _RB, 0, 0, None),
    ("slack_token", ("xapp-",), False, _LB + r"xapp-\d-[A-Za-z0-9\-]{20,300}", 0, 0, None),
    ("gcp_api_key", ("AIza",), False, _LB + r"AIza[A-Za-z0-9_\-]{35}" + _RB, 0, 0, None),
    ("gcp_oauth_token", ("ya29.",), False, _LB + r"ya29\.[A-Za-z0-9_\-.]{20,2000}", 0, 0, None),
    ("gcp_oauth_secret", ("GOCSPX-",), False, _LB + r"GOCSPX-[A-Za-z0-9_\-]{20,60}", 0, 0, None),
    ("gcp_refresh_token", ("1//0",), False, r"(?<![A-Za-z0-9_/\-])1//0[A-Za-z0-9_\-]{30,500}", 0, 0, None),
    (
        "aws_access_key_id",
        ("A",),
        False,
        r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z0-9]{16}(?![A-Za-z0-9])",
        0,
        0,
        None,
    ),
    # A 40-character AWS secret access key, only near "aws"/"amazon"/"secret" (see the check).
    ("aws_secret_access_key", ("aws", "amazon", "secret"), True, r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])", 0, 0, _aws_secret_check),
    (
        "azure_storage_key",
        ("accountkey=", "sharedaccesskey=", "sharedsecret="),
        True,
        r"(?i:AccountKey|SharedAccessKey|SharedSecret)=([A-Za-z0-9+/]{20,200}={0,2})",
        0,
        1,
        None,
    ),
    ("azure_sas_signature", ("sig=",), False, r"(?<=[?&;]sig=)[A-Za-z0-9%+/]{20,200}(?:=|%3[dD]){0,2}", 0, 0, None),
    ("azure_client_secret", ("Q~",), False, r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])", 0, 0, None),
    ("npm_token", ("npm_",), False, _LB + r"npm_[A-Za-z0-9]{36}" + _RB, 0, 0, None),
    ("pypi_token", ("pypi-",), False, _LB + r"pypi-AgE[A-Za-z0-9_\-]{50,1000}", 0, 0, None),
    ("huggingface_token", ("hf_",), False, _LB + r"hf_[A-Za-z0-9]{30,60}" + _RB, 0, 0, None),
    ("groq_api_key", ("gsk_",), False, _LB + r"gsk_[A-Za-z0-9]{40,60}" + _RB, 0, 0, None),
    ("replicate_token", ("r8_",), False, _LB + r"r8_[A-Za-z0-9]{30,50}" + _RB, 0, 0, None),
    ("xai_api_key", ("xai-",), False, _LB + r"xai-[A-Za-z0-9]{60,100}" + _RB, 0, 0, None),
    ("perplexity_api_key", ("pplx-",), False, _LB + r"pplx-[A-Za-z0-9]{40,60}" + _RB, 0, 0, None),
    ("langsmith_api_key", ("lsv2_",), False, _LB + r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _RB, 0, 0, None),
    ("nvidia_api_key", ("nvapi-",), False, _LB + r"nvapi-[A-Za-z0-9_\-]{40,80}" + _RB, 0, 0, None),
    ("sendgrid_api_key", ("SG.",), False, _LB + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _RB, 0, 0, None),
    ("digitalocean_token", ("_v1_",), False, _LB + r"do[opr]_v1_[a-f0-9]{64}" + _RB, 0, 0, None),
    ("shopify_token", ("shpat_", "shpca_", "shppa_", "shpss_"), False, _LB + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _RB, 0, 0, None),
    ("vault_token", ("hvs.", "hvb."), False, _LB + r"hv[sb]\.[A-Za-z0-9_\-]{24,300}" + _RB, 0, 0, None),
    ("databricks_token", ("dapi",), False, _LB + r"dapi[a-f0-9]{32}(?:-\d)?" + _RB, 0, 0, None),
    ("linear_api_key", ("lin_api_",), False, _LB + r"lin_api_[A-Za-z0-9]{40}" + _RB, 0, 0, None),
    ("atlassian_token", ("ATATT",), False, _LB + r"ATATT[A-Za-z0-9_\-=]{50,400}", 0, 0, None),
    ("age_secret_key", ("AGE-SECRET-KEY-",), False, r"AGE-SECRET-KEY-1[0-9A-Z]{58}", 0, 0, None),
    ("telegram_bot_token", (":AA",), False, r"(?<![0-9])\d{8,10}:AA[A-Za-z0-9_\-]{33}" + _RB, 0, 0, None),
    ("mailgun_api_key", ("key-",), False, _LB + r"key-[a-f0-9]{32}" + _RB, 0, 0, None),
    # JSON Web Tokens: header and payload are base64url JSON objects ("eyJ" = '{"').
    ("jwt", ("eyJ",), False, _LB + r"eyJ[A-Za-z0-9_\-]{8,4000}\.eyJ[A-Za-z0-9_\-]{4,20000}\.[A-Za-z0-9_\-]{0,2000}", 0, 0, None),
    # Authorization headers and bare bearer tokens.
    (
        "auth_header",
        ("authorization",),
        True,
        r"(?i:authorization)[\"']?\s{0,4}[:=]\s{0,4}[\"']?(?:(?i:bearer|basic|token|digest|bot)\s{1,4})?"
        r"([A-Za-z0-9._~+/\-]{8,4000}=*)",
        0,
        1,
        None,
    ),
    ("bearer_token", ("bearer",), True, r"(?<![A-Za-z])(?i:bearer)\s{1,4}([A-Za-z0-9._~+/\-]{20,4000}=*)", 0, 1, lambda m, t: _mixed(m.group(1))),
]

# Key names that say "the value is a secret". Checked on the key text around the match.
_KEY_WORDS = (
    r"pass(?:w(?:or)?d|phrase)"
    r"|(?<![A-Za-z])pass(?![A-Za-z])"
    r"|(?<=_)pwd(?![A-Za-z])"
    r"|secret(?!ary|aries)"
    r"|token(?!s|i[sz]|e[dn])"
    r"|api[_\-]?key"
    r"|(?:access|private|secret|signing|master|encryption|auth|license|service|client)[_\-]?key"
    r"|credential"
    r"|(?<![A-Za-z])auth(?![a-zA-Z])"
    r"|client[_\-]?secret"
)
# Suffixes of keys that name something about a secret, not the secret itself.
_KEY_HARMLESS_SUFFIX = re.compile(
    r"(?i)(?:file|path|dir|directory|name|field|type|length|len|count|limit|size|url|uri|endpoint|"
    r"env|var|header|prefix|expiry|expires(?:_at|_in)?|ttl|timeout|id|ids|hint|label|placeholder|"
    r"regex|pattern|policy|mode|min|max|required|enabled|format|kind|version|provider|source|"
    r"usage|budget|estimate|index|idx|hash|sha|digest|fingerprint|rotation|lifetime|scope|scopes|"
    r"help|message|msg|text|title|description|error|prompt|input|form|visible|strength|reset|"
    r"changed|updated|created|at|on|by|store|storage|manager|helper|helpers|command|cmd|class|"
    r"model|schema|service|module|loader|validator|getter|setter)$"
)

_KV_PATTERN = (
    r"(?i:" + _KEY_WORDS + r")[A-Za-z0-9_.\-]{0,40}"  # rest of the key (the start is checked in code)
    r"(?P<kq>\\?[\"'])?"  # closing quote of a quoted key
    r"(?P<sep>[ \t]{0,4}(?::=|=>|=(?!=)|:(?![:/]))[ \t]{0,4})"
    r"(?:(?P<vq>\\?[\"'`])(?P<qval>[^\"'`\\\r\n]{1,600})"  # quoted value
    r"|(?P<val>[^\s\"'`,;&|<>(){}\[\]\\]{1,600}))"  # bare value
)

_STOP_VALUES = frozenset(
    """true false null none nil undefined yes no on off required optional include omit
    same-origin inherit string str int bool bytes any object number secret secrets password
    token redacted hidden masked mask empty default env environment auto unset not-set notset
    placeholder example sample dummy test your-token your_token your-api-key changeme
    bearer basic oauth oauth2 jwt cookie session header body query basic-auth
    self this cls args kwargs value val x y z s t k v p i n none_type optional[str]""".split()
)
_PLACEHOLDER_SHAPE = re.compile(r"(?:\$\{?[A-Za-z_]|%\(|\{\{|<[^>]*>$|\*{3}|x{4}|X{4}|\.{3}|\[REDACTED)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_ENV_KEY = re.compile(r"[A-Z][A-Z0-9_]*")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _key_start(text: str, pos: int) -> int:
    start = pos
    limit = max(0, pos - 60)
    while start > limit and text[start - 1] in _KEY_CHARS:
        start -= 1
    return start


def _harmless_key(key: str) -> bool:
    tail = re.split(r"[_.\-]", key.strip("_.-"))[-1] if key else ""
    if tail and tail != key and _KEY_HARMLESS_SUFFIX.fullmatch(tail):
        return True
    # camelCase tails: passwordField, tokenType, apiKeyEnv
    camel = re.search(r"[a-z0-9]([A-Z][a-z]+)$", key)
    return bool(camel and _KEY_HARMLESS_SUFFIX.fullmatch(camel.group(1)))


def _judge_value(value: str, key: str, *, quoted: bool, env_style: bool, at_eol: bool, next_char: str) -> bool:
    """True when `value` (assigned to secret-named `key`) should be redacted."""
    value = value.strip()
    if len(value) < 3:
        return False
    low = value.lower()
    if low in _STOP_VALUES or _PLACEHOLDER_SHAPE.match(value):
        return False
    if value.isdigit() and len(value) < 12:
        return False  # counts, ports, limits
    if len(set(value)) == 1:
        return False  # "xxxx", "----"
    if quoted:
        return not any(c.isspace() for c in value)  # prose like "Enter your password" stays
    if next_char and next_char in "([.":
        return False  # call, index or attribute: code, not a literal
    if _DOTTED.fullmatch(value):
        return False  # attribute access: self.token, os.environ
    if _IDENT.fullmatch(value):
        if low in key.lower() or key.lower().endswith(low):
            return False  # self.api_key = api_key
        return env_style or at_eol
    return True


def _kv_replace(match: re.Match, text: str) -> str | None:
    key_start = _key_start(text, match.start())
    key_end = match.start("kq") if match.group("kq") is not None else match.start("sep")
    key = text[key_start:key_end]
    if _harmless_key(key):
        return None
    sep = match.group("sep")
    quoted = match.group("qval") is not None
    value = match.group("qval") if quoted else match.group("val")
    vend = match.end()
    next_char = text[vend] if vend < len(text) else ""
    at_eol = next_char in ("", "\n", "\r")
    env_style = sep == "=" and bool(_ENV_KEY.fullmatch(key))
    if not _judge_value(value, key, quoted=quoted, env_style=env_style, at_eol=at_eol, next_char=next_char):
        return None
    vstart = match.start("qval") if quoted else match.start("val")
    return text[match.start() : vstart] + "[REDACTED:secret]"


# CLI flags: --password X, --token=X, --api-key X
_FLAG_PATTERN = (
    r"(?<![A-Za-z0-9_\-])--?[A-Za-z0-9\-]{0,30}(?i:password|passwd|token|secret|api-?key|apikey)(?![A-Za-z])"
    r"(?:=|[ \t]{1,4})(?P<q>[\"']?)(?P<val>[^\s\"'`;&|<>()]{3,600})"
)


def _flag_replace(match: re.Match, text: str) -> str | None:
    value = match.group("val")
    if value.startswith("-") or _PLACEHOLDER_SHAPE.match(value) or value.lower() in _STOP_VALUES:
        return None
    return text[match.start() : match.start("val")] + "[REDACTED:secret]"


_KV_TRIGGERS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")

# Compiled lazily: (kind, triggers, lower, regex, group, check)
_compiled: list[tuple[str, tuple, bool, "re.Pattern[str] | None", int, Any]] = [
    (kind, triggers, ci, None, group, check) for kind, triggers, ci, _p, _f, group, check in _RULES
]
_patterns: list[tuple[str, int]] = [(p, f) for _k, _t, _c, p, f, _g, _ck in _RULES]
_kv_re: "re.Pattern[str] | None" = None
_flag_re: "re.Pattern[str] | None" = None
_extra_cache: dict[tuple[str, ...], list["re.Pattern[str]"]] = {}


def _rule_regex(index: int) -> "re.Pattern[str]":
    kind, triggers, ci, regex, group, check = _compiled[index]
    if regex is None:
        pattern, flags = _patterns[index]
        regex = re.compile(pattern, flags)
        _compiled[index] = (kind, triggers, ci, regex, group, check)
    return regex


def _sub(regex: "re.Pattern[str]", text: str, kind: str, group: int, check: Callable | None) -> str:
    mark = PLACEHOLDER.format(kind)
    if group == 0 and check is None:
        return regex.sub(mark, text)

    def repl(match: re.Match) -> str:
        if check is not None and not check(match, text):
            return match.group(0)
        if group == 0:
            return mark
        start, end = match.span(group)
        base = match.start()
        whole = match.group(0)
        return whole[: start - base] + mark + whole[end - base :]

    return regex.sub(repl, text)


def _sub_callback(regex: "re.Pattern[str]", text: str, fn: Callable[[re.Match, str], str | None]) -> str:
    def repl(match: re.Match) -> str:
        out = fn(match, text)
        return match.group(0) if out is None else out

    return regex.sub(repl, text)


def _extra_regexes(extra: Sequence[str]) -> list["re.Pattern[str]"]:
    key = tuple(extra)
    cached = _extra_cache.get(key)
    if cached is None:
        cached = []
        for pattern in key:
            try:
                cached.append(re.compile(pattern))
            except (re.error, TypeError):
                continue  # config.py reports bad patterns; the hot path just skips them
        if len(_extra_cache) > 16:
            _extra_cache.clear()
        _extra_cache[key] = cached
    return cached


def redact_text(text: str, extra: Sequence[str] = ()) -> str:
    """`text` without private spans and with secrets replaced by `[REDACTED:<kind>]`."""
    global _kv_re, _flag_re
    if not text:
        return text
    if not isinstance(text, str):
        text = str(text)
    text = _strip_private(text)
    if not text:
        return text
    lower = None
    for index, (kind, triggers, ci, _regex, group, check) in enumerate(_compiled):
        if ci:
            if lower is None:
                lower = text.lower()
            hay = lower
        else:
            hay = text
        for trigger in triggers:
            if trigger in hay:
                break
        else:
            continue
        new = _sub(_rule_regex(index), text, kind, group, check)
        if new is not text and new != text:
            text = new
            lower = None
    if lower is None:
        lower = text.lower()
    if "-" in text and ("pass" in lower or "token" in lower or "secret" in lower or "key" in lower):
        if _flag_re is None:
            _flag_re = re.compile(_FLAG_PATTERN)
        text = _sub_callback(_flag_re, text, _flag_replace)
        lower = text.lower()
    for trigger in _KV_TRIGGERS:
        if trigger in lower:
            if _kv_re is None:
                _kv_re = re.compile(_KV_PATTERN)
            text = _sub_callback(_kv_re, text, _kv_replace)
            break
    if extra:
        for regex in _extra_regexes(extra):
            text = regex.sub(PLACEHOLDER.format("custom"), text)
    return text


_SECRET_KEY = re.compile(r"(?i:" + _KEY_WORDS + r")")


def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret (password, api_key, token, …), not a harmless
    attribute of one (token_count, password_field)."""
    if not isinstance(key, str) or len(key) > 100:
        return False
    return _SECRET_KEY.search(key) is not None and not _harmless_key(key)


def redact_obj(obj: Any, extra: Sequence[str] = ()) -> Any:
    """A copy of JSON-like data with every string redacted (keys too), and string values of
    secret-named keys (`{"password": "…"}`) replaced whole."""
    if isinstance(obj, str):
        return redact_text(obj, extra)
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            new_key = redact_text(key, extra) if isinstance(key, str) else key
            if isinstance(value, str) and isinstance(key, str) and is_secret_key(key):
                if _judge_value(value, key, quoted=True, env_style=False, at_eol=True, next_char=""):
                    out[new_key] = "[REDACTED:secret]"
                    continue
            out[new_key] = redact_obj(value, extra)
        return out
    if isinstance(obj, list):
        return [redact_obj(item, extra) for item in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(item, extra) for item in obj)
    return obj
