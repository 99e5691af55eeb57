"""Remove private spans and high-confidence secrets from text before it is saved.

Stdlib only: the built-in rules. The full tier's one redaction step (`redactor.redact_text`)
runs them first and detect-secrets after; alone they are the documented fallback where the
full environment does not exist yet (its output must say so: `FALLBACK_LABEL`).

`redact_text` first deletes `<private>…</private>` spans (case-insensitive, across lines; an
unclosed `<private>` deletes to the end), then replaces secret shapes with
`[REDACTED:<kind>]`: provider tokens with distinctive prefixes, JWTs, PEM private keys,
credentials in URLs (any character in the password, `#` `/` `@` included), password flags of
command-line tools, "the password is X" prose and `.netrc` lines, cookies, signed-URL
signatures and secret query parameters, base64-wrapped keys, `Authorization:` / bearer values,
and assignments (`KEY=value`, `key: value`, `"key": "value"`, `--password x`,
`<password>x</password>`) whose key names a secret.

Cost model (measured in tests/test_redact.py): importing compiles nothing; each rule has
literal trigger strings and its regex is compiled on first use and run only when a trigger
occurs in the text (a plain substring scan). Token patterns start with their literal prefix,
so the regex engine skips ahead with a fast literal search, and the "left edge of a token"
check is a fixed-width look-behind placed after the prefix. Every repetition is bounded, and
a match can only start at a token's left edge, so run time is linear in the input: no
catastrophic backtracking on adversarial text.

Assignments are found by a case-sensitive literal probe for the secret words (`token`,
`Token`, `TOKEN`, …); only at a hit is the key read backwards and the separator and value
matched forwards. Values that look like code rather than literals (`form.get("password")`,
`self.token = token`, `token = None`, `max_tokens: 4096`) are kept.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:  # no typing import at run time: this module is on the per-turn path
    from typing import Any, Callable, Sequence

__all__ = ["redact_text", "redact_obj", "made_up", "FALLBACK_LABEL"]

_MARK = "[REDACTED:{}]"
# What a text redacted by these rules alone (no full environment yet) must carry.
FALLBACK_LABEL = "redacted with session-state's built-in rules only (the secret detector is not installed yet)"

# ---------------------------------------------------------------------------------------------
# Token rules: (kind, trigger literal, prefix, rest of the pattern, check or None).
# `prefix` is a fixed-width regex; the pattern is  prefix (?<![A-Za-z0-9_-]prefix) rest : a
# match starts only where the prefix is not glued to a preceding token character, and the
# engine can skip ahead to the literal start of the prefix. The whole match is replaced.

_TOK = r"A-Za-z0-9_\-"
_END = r"(?![A-Za-z0-9_\-])"


def _mixed(value: str) -> bool:
    """A random-looking token has both letters and digits (words and version strings may not)."""
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


def _check_openai(match: "re.Match[str]", text: str) -> bool:
    body = match.group(0)[3:]
    return _mixed(body) and any(c.isupper() for c in body) and any(c.islower() for c in body)


_TOKEN_RULES: list[tuple[str, str | None, str, str, Callable[[re.Match[str], str], bool] | None]] = [
    ("anthropic_api_key", "sk-ant-", r"sk-ant-", r"[A-Za-z0-9_\-]{20,300}", None),
    ("openai_api_key", "sk-", r"sk-", r"(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,300}", None),
    ("openrouter_api_key", "sk-or-v1-", r"sk-or-v1-", r"[a-f0-9]{64}" + _END, None),
    ("openai_api_key", "sk-", r"sk-", r"[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}" + _END, None),  # legacy shape
    ("openai_api_key", "sk-", r"sk-", r"[A-Za-z0-9]{32,200}" + _END, _check_openai),
    ("stripe_key", "k_live_", r"[sr]k_live_", r"[A-Za-z0-9]{16,247}" + _END, None),
    ("stripe_key", "k_test_", r"[sr]k_test_", r"[A-Za-z0-9]{16,247}" + _END, None),
    ("stripe_webhook_secret", "whsec_", r"whsec_", r"[A-Za-z0-9+/=]{24,100}", None),
    ("github_token", "gh", r"gh[pousr]_", r"[A-Za-z0-9]{30,251}" + _END, None),
    ("github_token", "github_pat_", r"github_pat_", r"[A-Za-z0-9_]{30,251}" + _END, None),
    ("gitlab_token", "gl", r"gl", r"(?:pat|dt|rt|ptt|cbt|ft|imt|soat|oas|agent)-[A-Za-z0-9_.\-]{20,300}", None),
    ("slack_token", "xox", r"xox[abposre]-", r"[A-Za-z0-9]{1,200}(?:-[A-Za-z0-9]{1,200}){1,8}" + _END, None),
    ("slack_token", "xoxe.xox", r"xoxe\.xox", r"[a-z]-\d-[A-Za-z0-9\-]{20,400}", None),
    # browser-session tokens: xoxc- (client) and xoxd- (the "d" cookie, URL-encoded)
    ("slack_token", "xox", r"xox[cd]-", r"[A-Za-z0-9%._+/=\-]{20,400}", None),
    ("slack_token", "xapp-", r"xapp-", r"\d-[A-Za-z0-9\-]{20,300}", None),
    ("gcp_api_key", "AIza", r"AIza", r"[A-Za-z0-9_\-]{35}" + _END, None),
    ("gcp_oauth_token", "ya29.", r"ya29\.", r"[A-Za-z0-9_\-.]{20,2000}", None),
    ("gcp_oauth_secret", "GOCSPX-", r"GOCSPX-", r"[A-Za-z0-9_\-]{20,60}", None),
    (
        "aws_access_key_id",
        None,  # always run: the first letter "A" is the engine's prefix
        r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)",
        r"[A-Z0-9]{16}(?![A-Za-z0-9])",
        None,
    ),
    ("npm_token", "npm_", r"npm_", r"[A-Za-z0-9]{36}" + _END, None),
    ("pypi_token", "pypi-AgE", r"pypi-AgE", r"[A-Za-z0-9_\-]{50,1000}", None),
    ("huggingface_token", "hf_", r"hf_", r"[A-Za-z0-9]{30,60}" + _END, lambda m, t: _mixed(m.group(0)[3:])),
    ("groq_api_key", "gsk_", r"gsk_", r"[A-Za-z0-9]{40,60}" + _END, None),
    ("replicate_token", "r8_", r"r8_", r"[A-Za-z0-9]{30,50}" + _END, None),
    ("xai_api_key", "xai-", r"xai-", r"[A-Za-z0-9]{60,100}" + _END, None),
    ("perplexity_api_key", "pplx-", r"pplx-", r"[A-Za-z0-9]{40,60}" + _END, None),
    ("langsmith_api_key", "lsv2_", r"lsv2_", r"(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}" + _END, None),
    ("nvidia_api_key", "nvapi-", r"nvapi-", r"[A-Za-z0-9_\-]{40,80}" + _END, None),
    ("sendgrid_api_key", "SG.", r"SG\.", r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _END, None),
    ("digitalocean_token", "_v1_", r"do[opr]_v1_", r"[a-f0-9]{64}" + _END, None),
    ("shopify_token", "shp", r"shp(?:at|ca|pa|ss)_", r"[a-fA-F0-9]{32}" + _END, None),
    ("vault_token", "hv", r"hv[sb]\.", r"[A-Za-z0-9_\-]{24,300}" + _END, None),
    ("databricks_token", "dapi", r"dapi", r"[a-f0-9]{32}(?:-\d)?" + _END, None),
    ("linear_api_key", "lin_api_", r"lin_api_", r"[A-Za-z0-9]{40}" + _END, None),
    ("atlassian_token", "ATATT", r"ATATT", r"[A-Za-z0-9_\-=]{50,400}", None),
    ("mailgun_api_key", "key-", r"key-", r"[a-f0-9]{32}" + _END, None),
    ("twilio_api_key", "SK", r"SK", r"[0-9a-fA-F]{32}" + _END, None),
    ("twilio_account_sid", "AC", r"AC", r"[0-9a-f]{32}" + _END, None),
    ("age_secret_key", "AGE-SECRET-KEY-1", r"AGE-SECRET-KEY-1", r"[0-9A-Z]{58}", None),
    ("gcp_refresh_token", "1//0", r"1//0", r"[A-Za-z0-9_\-]{30,500}", None),
    # JSON Web Tokens: header and payload are base64url JSON objects ("eyJ" is '{"').
    ("jwt", "eyJ", r"eyJ", r"[A-Za-z0-9_\-]{8,4000}\.eyJ[A-Za-z0-9_\-]{4,20000}\.[A-Za-z0-9_\-]{0,2000}", None),
]

# A command-line argument: single-quoted, double-quoted or bare (one of three groups matches).
_ARG = r"(?:\\?'([^'\n\\]{1,256})\\?'|\\?\"([^\"\n\\]{1,256})\\?\"|([^\s'\"\\]{1,256}))"
# Start of a command word: not glued to a word, or just after a JSON/shell "\n" escape.
_CMD = r"(?:(?<![\w-])|(?<=\\[nrt]))"


def made_up(value: str) -> bool:
    """A value people invent for a secret (a digit, a symbol or an inner capital), not a word."""
    value = value.rstrip(".,;:!?)")
    if len(value) < 4 or value.lower() in _STOP_VALUES:
        return False
    if any(c.isdigit() for c in value) or any(c.isupper() for c in value[1:]):
        return True
    return not value.replace("-", "").replace("_", "").replace("'", "").isalpha()  # "one-time" is a word


# Rules with their own shape: (kind, triggers, pattern, group to replace, check or None).
_SHAPE_RULES: list[tuple[str, str | tuple[str, ...], str, int | tuple[int, ...], Callable[[re.Match[str], str], bool] | None]] = [
    # PEM private keys: the whole block, or from BEGIN to the end of the body when cut off. The
    # body (base64, headers such as "Proc-Type: 4,ENCRYPTED", JSON "\\n" escapes) is matched
    # atomically up to the next "-----", so a run of BEGIN lines costs linear time.
    (
        "private_key",
        ("PRIVATE KEY-----", "PRIVATE KEY BLOCK-----"),
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?=(?P<pem>(?:[A-Za-z0-9+/=\s:,.\\]|-(?!----)){0,20000}))(?P=pem)"  # atomic: stops at the next "-----"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?",
        0,
        None,
    ),
    # <password>…</password> and the like in XML and HTML configuration
    (
        "secret",
        ("assword>", "asswd>", "ecret>", "oken>", "ey>"),
        r"<((?:[A-Za-z]{1,30}[_\-]?)?(?:[Pp]assword|[Pp]asswd|[Ss]ecret|[Tt]oken|[Aa]pi[_\-]?[Kk]ey|[Aa]ccess[_\-]?[Kk]ey|[Pp]rivate[_\-]?[Kk]ey))>"
        r"([^<\n]{1,256})</\1>",
        2,
        None,
    ),
    # scheme://user:password@host -> scheme://[REDACTED:url_credentials]@host. The password may
    # hold any character, "#", "/" and "@" included: the greedy run backs off to the last "@"
    # that a host name follows, so nothing of the password is left before the host.
    (
        "url_credentials",
        "://",
        r"://([^\s:/?#@\"'<>\[\]\\]{0,256}:(?!\[REDACTED:)(?!\d{1,5}(?:/|$))[^\s\"'<>\\]{1,512})"
        r"@(?=[A-Za-z0-9_.\-\[\]]{1,253}(?::\d{1,5})?(?:[/?#\s\"'<>\\,;)]|$))",
        1,
        None,
    ),
    # Password flags and arguments of command-line tools (one alternative group is the value).
    ("password_flag", ("curl", "wget"), _CMD + r"(?:curl|wget)\b[^\n]{0,400}?\s(?:-u ?|--user[= ])['\"]?[^\s:'\"]{0,128}:([^\s'\"]{1,256})", 1, None),
    (
        "password_flag",
        ("mysql", "mariadb"),
        _CMD + r"(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump)\b[^\n]{0,300}?"
        r"\s-p" + _ARG,
        (1, 2, 3),
        None,
    ),
    ("password_flag", "sshpass", _CMD + r"sshpass\b[^\n]{0,200}?\s-p ?" + _ARG, (1, 2, 3), None),
    (
        "password_flag",
        " login",
        _CMD + r"(?:docker|podman|buildah|skopeo|nerdctl|oras|crane|registry)\s+login\b[^\n]{0,300}?\s(?:-p|--password)[ =]" + _ARG,
        (1, 2, 3),
        None,
    ),
    ("password_flag", "redis-cli", _CMD + r"redis-cli\b[^\n]{0,300}?\s(?:-a|--pass)\s+" + _ARG, (1, 2, 3), None),
    ("password_flag", "mongo", _CMD + r"mongo(?:sh|dump|restore|import|export|stat|top)?\b[^\n]{0,300}?\s(?:-p|--password)[ =]" + _ARG, (1, 2, 3), None),
    ("password_flag", "ldap", _CMD + r"ldap(?:search|add|modify|delete|passwd|whoami|compare)\b[^\n]{0,300}?\s-w\s+" + _ARG, (1, 2, 3), None),
    ("password_flag", ("sqlcmd", "bcp ", "osql"), _CMD + r"(?:sqlcmd|bcp|osql)\b[^\n]{0,300}?\s-P ?" + _ARG, (1, 2, 3), None),
    ("password_flag", "htpasswd", _CMD + r"htpasswd\b[^\n]{0,60}?\s-[a-zA-Z]*b[a-zA-Z]*\s+\S+\s+\S+\s+" + _ARG, (1, 2, 3), None),
    ("password_flag", "lftp", _CMD + r"lftp\b[^\n]{0,300}?\s-u\s+['\"]?[^\s,'\"]{1,128},([^\s'\"]{1,256})", 1, None),
    ("password_flag", " -U", r"\s-U\s+['\"]?[^\s%'\"]{1,128}%([^\s'\"]{1,256})", 1, None),  # smbclient user%password
    ("password_flag", "pass:", r"\s-pass(?:in|out)?\s+['\"]?pass:([^\s'\"]{1,256})", 1, None),  # openssl
    ("password_flag", "pass ", r"\s-(?:store|key|srcstore|deststore|srckey|destkey)pass\s+" + _ARG, (1, 2, 3), None),  # keytool
    # echo secret | docker login --password-stdin / sudo -S
    (
        "password_flag",
        ("-stdin", "sudo -S"),
        _CMD + r"echo\s+(?:-n\s+)?" + _ARG + r"\s*\|\s*(?:sudo\s+-S|[^\n|]{0,200}--password-stdin)",
        (1, 2, 3),
        None,
    ),
    # Prose: "the password is X" (only values that look made up, not "is required"); .netrc.
    (
        "password_prose",
        ("assword", "ASSWORD", "asswd", "assphrase", "asscode", "pwd", "ecret is", "ecret was", "oken is", "oken was",
         "PIN is", "pin is", "ey is", "ey was", "EY is"),
        r"(?i:\b(?:password|passwd|passphrase|passcode|pass ?word|pwd|pin|secret|token|api[ _-]?key|access[ _-]?key)"
        r"(?:\s+(?:for|of|to)\s+\S{1,80})?\s+(?:is|was|are|will\s+be|should\s+be)\s+"
        r"(?:now\s+|still\s+|set\s+to\s+|just\s+)?)" + _ARG,
        (1, 2, 3),
        lambda m, t: made_up(m.group(m.lastindex or 0)),
    ),
    ("netrc_password", "machine", r"\bmachine\s+\S{1,253}(?:\s+login\s+\S{1,256})?\s+password\s+" + _ARG, (1, 2, 3), None),
    (
        "netrc_password",
        ("password", "passwd"),
        r"(?m:(?:^|(?<=\\n))[ \t]*(?:password|passwd)[ \t]+([^\s'\"\\]{1,256})[ \t]*(?:$|(?=\\[nr])))",
        1,
        None,
    ),
    # Signed URLs: S3 / GCS presigned signatures and session tokens.
    (
        "url_signature",
        ("X-Amz-", "x-amz-", "X-Goog-", "x-goog-", "ignature="),
        r"(?i:x-amz-signature|x-amz-security-token|x-goog-signature|x-goog-credential|(?<=[?&])signature)"
        r"=([A-Za-z0-9%+/=_.\-]{16,4000})",
        1,
        None,
    ),
    (
        "url_secret_param",
        ("token=", "key=", "secret=", "password=", "passwd="),
        r"[?&;](?:access_token|refresh_token|id_token|auth_token|api_key|apikey|api-key|client_secret|password|passwd|secret|token)"
        r"=([^&\s\"'#<>]{8,4000})",
        1,
        lambda m, t: not _rx("placeholder_word").fullmatch(m.group(1)),
    ),
    # Cookie headers and cookie flags: the whole value (it carries the session).
    (
        "cookie",
        ("ookie", "OOKIE"),
        r"(?i:\b(?:set-)?cookie)\\?[\"']?[ \t]{0,4}:[ \t]{0,4}\\?[\"']?([^\r\n\"'\\]{1,4000})",
        1,
        lambda m, t: "=" in m.group(1),
    ),
    ("cookie", ("curl", "wget"), _CMD + r"(?:curl|wget)\b[^\n]{0,400}?\s(?:-b|--cookie)[ =]" + _ARG, (1, 2, 3), lambda m, t: "=" in m.group(m.lastindex or 0)),
    ("slack_webhook", "hooks.slack.com/", r"hooks\.slack\.com/((?:services|workflows|triggers)/[A-Za-z0-9_/\-]{8,300})", 1, None),
    ("discord_webhook", "/api/webhooks/", r"/api/webhooks/(\d{5,30}/[A-Za-z0-9_\-]{20,200})", 1, None),
    (
        "azure_storage_key",
        ("ccountKey=", "ccessKey=", "haredSecret=", "ccountkey=", "CCOUNTKEY="),
        r"(?:AccountKey|SharedAccessKey|SharedSecret|accountkey|ACCOUNTKEY)=([A-Za-z0-9+/]{20,200}={0,2})",
        1,
        None,
    ),
    ("azure_sas_signature", "sig=", r"sig=(?<=[?&;]sig=)([A-Za-z0-9%+/]{20,200}(?:=|%3[dD]){0,2})", 1, None),
    (
        "azure_client_secret",
        "Q~",
        r"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}(?![A-Za-z0-9_~.\-])",
        0,
        None,
    ),
    ("telegram_bot_token", ":AA", r"(?<![0-9])\d{8,10}:AA[A-Za-z0-9_\-]{33}" + _END, 0, None),
    (
        "auth_header",
        ("uthorization", "UTHORIZATION"),
        r"(?:Authorization|authorization|AUTHORIZATION)[\"']?[ \t]{0,4}[:=][ \t]{0,4}[\"']?"
        r"(?:(?:Bearer|bearer|BEARER|Basic|basic|BASIC|Token|token|Digest|Bot)[ \t]{1,4})?"
        r"([A-Za-z0-9._~+/\-]{8,4000}=*)",
        1,
        lambda m, t: _mixed(m.group(1)) or len(m.group(1)) >= 20,
    ),
    (
        "bearer_token",
        ("earer", "EARER"),
        r"(?:Bearer|bearer|BEARER)(?<![A-Za-z][Bb][Ee][Aa][Rr][Ee][Rr])[ \t]{1,4}([A-Za-z0-9._~+/\-]{20,4000}=*)",
        1,
        lambda m, t: _mixed(m.group(1)),
    ),
]

# A 40-character AWS secret access key is only recognised near "aws", "amazon" or "secret".
_AWS_SECRET = r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"

# ---------------------------------------------------------------------------------------------
# Assignments whose key names a secret.

# Case-sensitive probe: where a secret word might be (lower, Title for camelCase, UPPER).
_PROBE_WORDS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")
_PROBE = "|".join(w for word in _PROBE_WORDS for w in (word, word.title(), word.upper()))
# The key (found around a probe hit) must contain one of these, in this sense.
_KEY_WORDS = (
    r"pass(?:w(?:or)?d|phrase)"
    r"|(?<![a-z])pass(?![a-z])"
    r"|(?<=_)pwd(?![a-z])"
    r"|secret(?!ary|aries)"
    r"|token(?!s|i[sz]|e[dn])"
    r"|api[_\-]?key"
    r"|(?:access|private|secret|signing|master|encryption|auth|license|service|client|account|app)[_\-]?key"
    r"|credential"
    r"|(?<![a-z])auth(?![a-z])"
)
# Last words of keys that name something about a secret, not the secret itself.
_HARMLESS_TAIL = (
    r"file|path|dir|directory|name|field|type|length|len|count|limit|size|url|uri|endpoint|host|"
    r"env|var|header|prefix|suffix|expiry|expires|expiration|ttl|timeout|id|ids|hint|label|"
    r"placeholder|regex|pattern|policy|mode|min|max|required|enabled|disabled|format|kind|"
    r"version|provider|source|usage|budget|estimate|index|idx|hash|sha|digest|fingerprint|"
    r"rotation|lifetime|scope|scopes|help|message|msg|text|title|description|error|errors|prompt|"
    r"input|form|visible|strength|reset|changed|updated|created|at|on|by|store|storage|manager|"
    r"helper|helpers|command|cmd|class|model|schema|module|loader|validator|getter|setter|"
    r"location|ref|method|methods|flow|grant|request|response|status|state|valid|invalid|"
    r"exists|present|set|missing|check|test|tests|spec|example|sample|template|config|"
    r"py|js|ts|tsx|jsx|mjs|cjs|ex|exs|rb|go|rs|java|kt|c|h|cc|cpp|hpp|cs|php|swift|sh|md|txt|"
    r"json|yaml|yml|toml|ini|cfg|conf|log|lock|html|css|erb|tmpl|tpl|sql|proto|gpg|asc|pub|crt|csr"
)
_SEP = r"(?P<kq>\\?[\"'])?(?P<sep>[ \t]{0,4}(?::=|=>|=(?!=)|:(?![:/]))[ \t]{0,4})"
_VALUE = r"(?:(?P<vq>\\?[\"'`])(?P<qval>[^\"'`\\\r\n]{1,600})|(?P<val>[^\s\"'`,;&|<>(){}\[\]\\]{1,600}))"
_FLAG_VALUE = r"(?P<sep>=|[ \t]{1,4})(?P<vq>[\"']?)(?P<val>[^\s\"'`;&|<>()]{3,600})"

_STOP_VALUES = frozenset(
    """true false null none nil undefined yes no on off required optional include omit
    same-origin inherit string str int bool bytes any object number secret secrets password
    token redacted hidden masked mask empty default env environment auto unset not-set notset
    placeholder example sample dummy test your-token your_token your-api-key changeme
    bearer basic oauth oauth2 jwt cookie session header body query basic-auth
    self this cls args kwargs value val none_type boolean integer float text""".split()
)

_SOURCES = {
    "priv_open": r"(?i)<private\s*>",
    "priv_close": r"(?i)</private\s*>",
    "probe": _PROBE,
    "keyrun": r"[A-Za-z0-9_.\-]*",
    "tail": _SEP + _VALUE,
    "flag_tail": _FLAG_VALUE,
    "secret_key": r"(?i:" + _KEY_WORDS + r")",
    "harmless": r"(?i:" + _HARMLESS_TAIL + r")",
    "placeholder": r"(?:\$\{?[A-Za-z_]|%\(|\{\{|<[^>]*>$|\*{3}|x{4}|X{4}|\.{3}|\[REDACTED)",
    "ident": r"[A-Za-z_][A-Za-z0-9_]*",
    "placeholder_word": r"[A-Za-z_\-]+|\{\{.*\}\}|<[^>]*>|\$\{?\w+\}?|x+|X+|\*+",
    "b64_run": r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{24,8192}={0,2}(?![A-Za-z0-9+/=_\-])",
    "dotted": r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+",
    "env_key": r"[A-Z][A-Z0-9_]*",
    "key_split": r"[_.\-]+",
    "camel_tail": r"[a-z0-9]([A-Z][a-z]+)$",
    "aws_secret": _AWS_SECRET,
    "aws_context": r"aws|AWS|Aws|amazon|Amazon|AMAZON|secret|Secret|SECRET",
}
_lazy: dict[str, re.Pattern[str]] = {}


def _rx(name: str) -> "re.Pattern[str]":
    """Compile a module pattern on first use (import stays cheap for every hook process)."""
    regex = _lazy.get(name)
    if regex is None:
        regex = _lazy[name] = re.compile(_SOURCES[name])
    return regex


# Flattened rule table: [kind, triggers, pattern source, group, check, compiled or None]; a list
# (not a tuple) because the compiled pattern is filled in on first use.
_TABLE: list[list[Any]] = []
for _kind, _trigger, _prefix, _rest, _check in _TOKEN_RULES:
    # left edge: not glued to a token character, except the "n" of a JSON/shell "\n" escape
    _edge = r"(?:(?<![A-Za-z0-9_\-]" + _prefix + r")|(?<=\\[nrt]" + _prefix + "))"
    _TABLE.append([_kind, _trigger, _prefix + _edge + _rest, 0, _check, None])
for _kind, _triggers, _pattern, _group, _check in _SHAPE_RULES:
    _TABLE.append([_kind, _triggers, _pattern, _group, _check, None])
del _kind, _trigger, _triggers, _prefix, _rest, _check, _pattern, _group, _edge

def _strip_private(text: str) -> str:
    if "<" not in text:
        return text
    opener, closer = _rx("priv_open"), _rx("priv_close")
    if opener.search(text) is None:
        return text
    out: list[str] = []
    pos = 0
    while True:
        opened = opener.search(text, pos)
        if opened is None:
            out.append(text[pos:])
            break
        out.append(text[pos : opened.start()])
        closed = closer.search(text, opened.end())
        if closed is None:
            break  # unclosed: drop everything to the end
        pos = closed.end()
    return "".join(out)


def _apply(row: list[Any], text: str) -> str:
    kind, _triggers, pattern, group, check = row[:5]
    regex: re.Pattern[str] | None = row[5]
    if regex is None:
        regex = row[5] = re.compile(pattern)
    mark = _MARK.format(kind)
    if group == 0 and check is None:
        return regex.sub(mark, text)

    def repl(match: "re.Match[str]") -> str:
        if check is not None and not check(match, text):
            return match.group(0)
        if group == 0:
            return mark
        which = group if group.__class__ is int else next((g for g in group if match.start(g) >= 0), 0)
        if which == 0:
            return mark
        base = match.start()
        start, end = match.span(which)
        whole = match.group(0)
        return whole[: start - base] + mark + whole[end - base :]

    return regex.sub(repl, text)


def _aws_secrets(text: str) -> str:
    """40-character AWS secret keys within 160 characters after "aws", "amazon" or "secret"."""
    context = _rx("aws_context")
    windows: list[list[int]] = []
    for hit in context.finditer(text):
        start, end = hit.end(), min(len(text), hit.end() + 160)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    if not windows:
        return text
    candidate = _rx("aws_secret")
    spans: list[tuple[int, int]] = []
    for start, end in windows:
        lo = max(0, start - 1)  # let the look-behind see one character before the window
        for match in candidate.finditer(text, lo, min(len(text), end + 41)):
            value = match.group(0)
            after = text[match.end() : match.end() + 1]
            if after and after in _B64:
                continue  # the run goes on past the window: longer than 40
            if not (any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)):
                continue  # git SHAs (lower-case hex), words
            if spans and match.start() < spans[-1][1]:
                continue
            spans.append((match.start(), match.end()))
    if not spans:
        return text
    out: list[str] = []
    done = 0
    for start, end in spans:
        out.append(text[done:start])
        out.append("[REDACTED:aws_secret_access_key]")
        done = end
    out.append(text[done:])
    return "".join(out)


def _base64_secrets(text: str) -> str:
    """Base64-wrapped keys (a Kubernetes Secret, `echo … | base64`): a run of 24 to 8,192
    base64 characters that decodes to printable text in which a token rule fires is replaced
    whole. Hashes, UUIDs and binary data decode to non-text and are left alone."""

    def repl(match: "re.Match[str]") -> str:
        import base64
        import binascii

        run = match.group(0)
        body = run.rstrip("=")
        padded = body + "=" * (-len(body) % 4)
        try:
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            return run
        if len(decoded) < 12 or sum(c.isprintable() or c in "\n\r\t" for c in decoded) < len(decoded):
            return run
        return "[REDACTED:base64_secret]" if _token_rules(decoded) != decoded else run

    return _rx("b64_run").sub(repl, text)


# Rules that match within one line and start with an alternation (no literal prefix for the
# regex engine to skip ahead with): on all but short texts they run only on the lines holding
# a trigger.
_LINE_KINDS = frozenset(
    ("password_flag", "password_prose", "netrc_password", "url_signature", "url_secret_param", "cookie")
)


def _token_rules(text: str) -> str:
    for row in _TABLE:
        trigger = row[1]
        if trigger is None or (trigger in text if trigger.__class__ is str else any(t in text for t in trigger)):
            text = _apply_lines(row, text) if row[0] in _LINE_KINDS and len(text) > 256 else _apply(row, text)
    return text


def _apply_lines(row: list[Any], text: str) -> str:
    """`_apply` on each line that holds one of the row's triggers (line order kept)."""
    triggers = (row[1],) if row[1].__class__ is str else row[1]
    starts: set[int] = set()
    for trigger in triggers:
        pos = text.find(trigger)
        while pos >= 0:
            start = text.rfind("\n", 0, pos) + 1
            starts.add(start)
            end = text.find("\n", pos)
            pos = -1 if end < 0 else text.find(trigger, end)
    out: list[str] = []
    done = 0
    for start in sorted(starts):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        out.append(text[done:start])
        out.append(_apply(row, text[start:end]))
        done = end
    out.append(text[done:])
    return "".join(out)


_B64 = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=")


# --- assignments ---------------------------------------------------------------------------

_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _harmless_key(key: str) -> bool:
    parts = [p for p in _rx("key_split").split(key) if p]
    if len(parts) > 1 and _rx("harmless").fullmatch(parts[-1]):
        return True
    camel = _rx("camel_tail").search(key)  # passwordField, tokenType, apiKeyEnv
    return bool(camel and camel.start(1) > 0 and _rx("harmless").fullmatch(camel.group(1)))


def _secret_key(key: object) -> bool:
    """True when a mapping key names a secret (password, api_key, authToken, …), not something
    about one (max_tokens, token_count, password_field)."""
    if not isinstance(key, str) or not key or len(key) > 100:
        return False
    known = _key_cache.get(key)
    if known is None:
        probe = key.lower()
        known = (
            any(word in probe for word in _PROBE_WORDS)
            and _rx("secret_key").search(_decamel(key)) is not None
            and not _harmless_key(key)
        )
        if len(_key_cache) >= 4096:
            _key_cache.clear()
        _key_cache[key] = known
    return known


_key_cache: dict[str, bool] = {}
# What may follow a bare value that ends its line: end of text, a newline, or the closing quote
# or "\n" escape when the text is itself a JSON or shell string.
_EOL = ("", "\n", "\r", '"', "'", "\\")


def _decamel(key: str) -> str:
    """apiKey -> api_Key, dbPassword -> db_Password: camelCase humps become word edges."""
    if key.islower() or key.isupper():
        return key
    out = []
    prev = ""
    for ch in key:
        if ch.isupper() and prev.islower():
            out.append("_")
        out.append(ch)
        prev = ch
    return "".join(out)


def _code_word(word: str) -> bool:
    """An identifier as people write them (no digits, or snake_case with digits), not a
    random run like "L7Mf3b"."""
    return not any(c.isdigit() for c in word) or word.lower() == word or word.upper() == word


def _judge_value(value: str, key: str, *, quoted: bool, env_style: bool, at_eol: bool, next_char: str) -> bool:
    """True when `value`, assigned to the secret-named `key`, is a literal worth hiding."""
    value = value.strip()
    if len(value) < 3:
        return False
    low = value.lower()
    if low in _STOP_VALUES or _rx("placeholder").match(value):
        return False
    if value.isdigit() and len(value) < 12:
        return False  # counts, ports, limits
    if len(set(value)) == 1:
        return False  # "xxxx", "----"
    if quoted:
        return not any(c.isspace() for c in value)  # prose like "Enter your password" stays
    if next_char and next_char in "([.":
        return False  # a call, an index or an attribute: code, not a literal
    if _rx("dotted").fullmatch(value) and all(_code_word(part) for part in value.split(".")):
        return False  # attribute access: self.token, os.environ, settings.API_KEY
    if _rx("ident").fullmatch(value):
        if low in key.lower():
            return False  # self.api_key = api_key
        if len(value) >= 12 and not _code_word(value):
            return True  # a random-looking run (mixed case and digits) is a literal, not a name
        return env_style or at_eol
    return True


def _assignments(text: str) -> str:
    """Redact values assigned to secret-named keys; see the module docstring.

    Each probe hit sits in a run of key characters; the run is examined once (the separator can
    only start where the run ends, since no separator character is a key character), so the
    work is linear in the text however many secret words it repeats.
    """
    out: list[str] = []
    done = 0  # text[:done] is settled
    skip = 0  # hits before this belong to a run already examined
    keyrun = _rx("keyrun")
    tail = flag_tail = None
    for hit in _rx("probe").finditer(text):
        pos = hit.start()
        if pos < skip:
            continue
        run = keyrun.match(text, hit.end())  # a `*` pattern: always matches, maybe empty
        run_end = hit.end() if run is None else run.end()
        skip = run_end
        key_start = pos
        limit = max(done, pos - 80)
        while key_start > limit and text[key_start - 1] in _KEY_CHARS:
            key_start -= 1
        if run_end - key_start > 120:
            continue
        key = text[key_start:run_end]
        if text[max(0, key_start - 1) : key_start] == "$" or text[max(0, key_start - 2) : key_start] == "${":
            continue  # ${API_KEY:-default}, $TOKEN: a reference, not an assignment
        if key.startswith("-"):  # a command-line flag: --password x, --token=x
            if flag_tail is None:
                flag_tail = _rx("flag_tail")
            match = flag_tail.match(text, run_end)
            if match is None:
                continue
            key = key.lstrip("-")
            value = match.group("val")
            if (
                not _secret_key(key)
                or value.startswith("-")
                or not _judge_value(value, key, quoted=True, env_style=False, at_eol=True, next_char="")
            ):
                continue
            vstart, vend = match.span("val")
        else:
            if tail is None:
                tail = _rx("tail")
            match = tail.match(text, run_end)
            if match is None or not _secret_key(key):
                continue
            quoted = match.group("qval") is not None
            value = match.group("qval") if quoted else match.group("val")
            vstart, vend = match.span("qval" if quoted else "val")
            next_char = text[vend] if vend < len(text) else ""
            env_style = match.group("sep") == "=" and bool(_rx("env_key").fullmatch(key))
            if not _judge_value(
                value, key, quoted=quoted, env_style=env_style, at_eol=next_char in _EOL, next_char=next_char
            ):
                continue
        out.append(text[done:vstart])
        out.append("[REDACTED:secret]")
        done = skip = vend
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


# --- user patterns (fallback only: the full tier runs them in redactor.apply_patterns) -------

_extra_cache: dict[str, Any] = {}  # pattern -> compiled `regex` pattern, or False when invalid
_UNCHECKED = "[REDACTED:custom-unchecked]"


def _extra(text: str, extra: "Sequence[str]") -> str:
    """User patterns with a time limit. Without the `regex` package (no full environment yet)
    a pattern cannot be time-limited, so a text that would need the user's patterns is
    withheld whole rather than risk either a leak or a hook stuck in backtracking."""
    try:
        import regex
    except ImportError:
        return _UNCHECKED
    for pattern in extra:
        compiled: Any = _extra_cache.get(pattern)  # `regex` ships no type information
        if compiled is None:
            try:
                compiled = regex.compile(pattern)
            except (regex.error, TypeError, ValueError, OverflowError):
                compiled = False  # config.py reports bad patterns
            if len(_extra_cache) > 64:
                _extra_cache.clear()
            _extra_cache[pattern] = compiled
        if compiled is False:
            continue
        try:
            text = compiled.sub(_MARK.format("custom"), text, timeout=0.1)
        except TimeoutError:
            return _UNCHECKED
    return text


# --- entry points ----------------------------------------------------------------------------


def redact_text(text: str, extra: "Sequence[str]" = ()) -> str:
    """`text` without private spans and with secrets replaced by `[REDACTED:<kind>]`.

    These are the built-in rules alone: the stdlib fallback where the full environment does not
    exist. Everything else goes through `redactor.redact_text`, which adds the detector.
    `extra` are additional regular expressions (user configuration); each match becomes
    `[REDACTED:custom]` (see `_extra` for the time limit). Invalid patterns are ignored here.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text:
        return text
    text = _strip_private(text)
    if not text:
        return text
    text = _base64_secrets(_token_rules(text))
    if len(text) < 65536:  # small texts: one lower() and substring tests decide what runs
        lower = text.lower()
        if "aws" in lower or "amazon" in lower or "secret" in lower:
            text = _aws_secrets(text)
        if any(word in lower for word in _PROBE_WORDS):
            text = _assignments(text)
    else:  # large texts: the case-variant regexes scan faster than lower() allocates
        text = _assignments(_aws_secrets(text))
    return _extra(text, extra) if extra else text


def redact_obj(obj: "Any", extra: "Sequence[str]" = (), *, text: "Callable[[str], str] | None" = None) -> "Any":
    """A copy of JSON-like data with every string redacted (mapping keys too), and the string
    value of a secret-named key (`{"password": "…"}`) replaced whole when it looks literal.
    `text` is the function applied to each string (default: the built-in rules with `extra`)."""
    if text is None:
        return redact_obj(obj, text=lambda value: redact_text(value, extra))
    if isinstance(obj, str):
        return text(obj)
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            new_key = text(key) if isinstance(key, str) else key
            if isinstance(value, str) and _secret_key(key):
                if _judge_value(value, key, quoted=True, env_style=False, at_eol=True, next_char=""):
                    out[new_key] = _MARK.format("secret")
                    continue
            out[new_key] = redact_obj(value, text=text)
        return out
    if isinstance(obj, list):
        return [redact_obj(item, text=text) for item in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(item, text=text) for item in obj)
    return obj
