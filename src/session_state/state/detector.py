"""Token kinds found by detect-secrets, a maintained secret detector (full tier only).

Why a library: provider token shapes change faster than a private rule list can follow;
detect-secrets (Yelp) keeps a reviewed plugin per provider. Its import costs about 110 ms
(measured in benchmarks/bench_detector.py; importing one plugin module loads the whole package
through `detect_secrets/__init__`, so there is no cheaper subset), which is why only the full
tier imports this module: never Stop or UserPromptSubmit.

Used per line, through each plugin's `analyze_string` (the plugins' own regular expressions)
and detect-secrets' heuristic filters, without its file-scanning machinery: `scan_line`
rebuilds its filter list on every call and would cost ten times more. Left out on purpose:
the high-entropy string plugins (they flag git SHAs, UUIDs and lock-file hashes, which must
stay readable in a handoff) and the public-IP plugin (addresses are not secrets).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from detect_secrets.filters import heuristic
from detect_secrets.plugins import (
    artifactory,
    aws,
    azure_storage_key,
    basic_auth,
    cloudant,
    discord,
    github_token,
    gitlab_token,
    ibm_cloud_iam,
    ibm_cos_hmac,
    jwt,
    keyword,
    mailchimp,
    npm,
    openai,
    private_key,
    pypi_token,
    sendgrid,
    slack,
    softlayer,
    square_oauth,
    stripe,
    telegram_token,
    twilio,
)
from detect_secrets.plugins.base import BasePlugin

from session_state.core.redact import made_up

_PLUGINS: tuple[BasePlugin, ...] = (
    artifactory.ArtifactoryDetector(),
    aws.AWSKeyDetector(),
    azure_storage_key.AzureStorageKeyDetector(),
    basic_auth.BasicAuthDetector(),
    cloudant.CloudantDetector(),
    discord.DiscordBotTokenDetector(),
    github_token.GitHubTokenDetector(),
    gitlab_token.GitLabTokenDetector(),
    ibm_cloud_iam.IbmCloudIamDetector(),
    ibm_cos_hmac.IbmCosHmacDetector(),
    jwt.JwtTokenDetector(),
    mailchimp.MailchimpDetector(),
    npm.NpmDetector(),
    openai.OpenAIDetector(),
    private_key.PrivateKeyDetector(),
    pypi_token.PypiTokenDetector(),
    sendgrid.SendGridDetector(),
    slack.SlackDetector(),
    softlayer.SoftlayerDetector(),
    square_oauth.SquareOAuthDetector(),
    stripe.StripeDetector(),
    telegram_token.TelegramBotTokenDetector(),
    twilio.TwilioKeyDetector(),
)
_KEYWORD = keyword.KeywordDetector()
# Conversation text mixes prose, shell and config files: the config-file form of the keyword
# rules (`password: x`, `secret = x`) fits it better than the quoted code form.
_KEYWORD_RULES = keyword.CONFIG_DENYLIST_REGEX_TO_GROUP

# Values that must stay readable whatever rule fires: git SHAs and hex digests, UUIDs, file
# paths and lock-file integrity strings (see benchmarks/bench_false_positives.py).
_KEPT = re.compile(
    r"[0-9a-f]{7,128}|[0-9A-F]{32,128}"
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?:sha1|sha256|sha384|sha512|md5)-[A-Za-z0-9+/]{20,}={0,2}"
    r"|~?/?(?:[\w.@+-]+/)+[\w.@+-]*"
)
_MARK = "[REDACTED:"


def kind_of(plugin: BasePlugin) -> str:
    """'Slack Token' -> 'slack_token': the label a redaction shows."""
    return re.sub(r"[^a-z0-9]+", "_", str(plugin.secret_type).lower()).strip("_")


def kept(value: str) -> bool:
    """True for the four kinds of value never redacted (digests, UUIDs, paths, integrity)."""
    return _KEPT.fullmatch(value) is not None


def _keyword_ok(value: str, line: str) -> bool:
    """detect-secrets' own heuristics, plus: a keyword's value must look made up (a digit, a
    symbol or an inner capital), so `secrets: inherit` and `password=password` stay."""
    return made_up(value) and not (
        heuristic.is_sequential_string(value)
        or heuristic.is_potential_uuid(value)
        or heuristic.is_templated_secret(value)
        or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_indirect_reference(line)
        or heuristic.is_likely_id_string(value, line, _KEYWORD)
        or heuristic.is_not_alphanumeric_string(value)
    )


def _values(plugin: BasePlugin, line: str) -> Iterator[str]:
    """The secrets one plugin's rules match in `line`, whole.

    `analyze_string` yields a rule's capture group when it has one, which for some rules is
    only the token's prefix (GitHub's `(ghp|gho|…)_…` yields "ghp"): the longest group is
    taken when it is the secret (basic auth, AWS keyword forms), the whole match otherwise.
    """
    for regex in plugin.denylist:  # type: ignore[attr-defined]
        for match in regex.finditer(line):
            groups = [g for g in match.groups() if g] if regex.groups else []
            best = max(groups, key=len) if groups else ""
            yield best if len(best) >= 8 else match.group(0)


def find(line: str) -> Iterator[tuple[str, str]]:
    """(kind, secret value) for each secret the detector sees in one line."""
    for plugin in _PLUGINS:
        for value in _values(plugin, line):
            if isinstance(value, str) and len(value) >= 8 and _MARK not in value and not kept(value):
                yield kind_of(plugin), value
    for value in _KEYWORD.analyze_string(line, denylist_regex_to_group=_KEYWORD_RULES):
        value = value.strip("'\"` ;,\r\n\t")
        if len(value) >= 6 and _MARK not in value and not kept(value) and _keyword_ok(value, line):
            yield "secret", value


def redact(text: str) -> str:
    """`text` with every value the detector finds replaced by `[REDACTED:<kind>]`."""
    if not text:
        return text
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        for kind, value in sorted(set(find(line)), key=lambda hit: -len(hit[1])):
            line = line.replace(value, f"[REDACTED:{kind}]")
        out.append(line)
    return "".join(out)
