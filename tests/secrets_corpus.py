"""Fake secrets with real shapes, planted where Claude Code sessions carry them.

Every value is generated at test time from a seeded `random.Random`: right prefixes, lengths,
alphabets and, where the provider defines one, checksum (GitHub and npm tokens end in the
base62 CRC32 of their body). Nothing here is a real credential.

`planted_secrets(rng)` returns `Planted` items: the exact secret string, its kind, and a text
that carries it the way a session would (a prompt sentence, a shell command, a file written
with Write/Edit, a tool output). `build_session(...)` assembles a Claude Code 2.1.x transcript
(JSONL: user prompt lines, assistant tool_use lines, user tool_result lines, subagent file) plus
the matching hook payloads (UserPromptSubmit prompt, Stop and SubagentStop
last_assistant_message), so an end-to-end test can run every hook and grep the state folder.

`ORDINARY` holds prose and code that mention secrets without containing any: redaction must
leave it unchanged.
"""

from __future__ import annotations

import base64
import functools
import json
import random
import string
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"
B32 = string.ascii_uppercase + "234567"


@dataclass
class Planted:
    kind: str  # family, e.g. "github_token"; the redactor's label may be a sibling kind
    secret: str  # must not survive anywhere
    text: str  # the carrier text (contains `secret`)
    where: str = "prompt"  # prompt | bash | write | edit | output | assistant
    path: str = ""  # file path for write/edit carriers
    extra: dict = field(default_factory=dict)
    form: str = ""  # the kind of secret and its form, e.g. "github_token:ghs-in-url" (distinct per kind counted)
    detector: bool = False  # caught by the full tier's detector (detect-secrets), not the built-in rules alone

    def __post_init__(self) -> None:
        self.form = self.form or f"{self.kind}:{self.where}"


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random, but guaranteed to hold an upper, a lower and a digit (as real keys nearly always do)."""
    while True:
        value = _r(rng, alphabet, n)
        if any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value):
            return value


def _b62(n: int, width: int) -> str:
    out = ""
    while n:
        n, d = divmod(n, 62)
        out = B62[d] + out
    return out.rjust(width, "0")


def github_token(rng: random.Random, prefix: str = "ghp_") -> str:
    body = _mixed(rng, ALNUM, 30)
    return prefix + body + _b62(zlib.crc32(body.encode()), 6)


def github_pat(rng: random.Random) -> str:
    return "github_pat_" + _mixed(rng, ALNUM, 22) + "_" + _mixed(rng, ALNUM, 59)


def npm_token(rng: random.Random) -> str:
    body = _mixed(rng, ALNUM, 30)
    return "npm_" + body + _b62(zlib.crc32(body.encode()), 6)


def aws_key_id(rng: random.Random, prefix: str = "AKIA") -> str:
    return prefix + _r(rng, B32, 16)


def aws_secret(rng: random.Random) -> str:
    while True:
        value = _mixed(rng, ALNUM + "+/", 40)
        if value[0] not in "+/":
            return value


def gcp_api_key(rng: random.Random) -> str:
    return "AIza" + _mixed(rng, URLSAFE, 35)


def b64(rng: random.Random, nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(rng: random.Random) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(
        json.dumps({"sub": str(rng.randrange(10**9)), "name": "Fake User", "iat": 1_700_000_000 + rng.randrange(10**6), "nonce": _r(rng, ALNUM, 16)}).encode()
    )
    return f"{header}.{payload}.{b64url(rng.randbytes(32))}"


def pem_body(rng: random.Random, nbytes: int = 600) -> str:
    raw = b64(rng, nbytes)
    return "\n".join(raw[i : i + 64] for i in range(0, len(raw), 64))


def pem_block(rng: random.Random, label: str = "RSA PRIVATE KEY") -> tuple[str, str]:
    body = pem_body(rng)
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----", body


def password(rng: random.Random, n: int = 16) -> str:
    """A password usable bare in .env/YAML/shell (no quotes, separators or leading symbol)."""
    return _mixed(rng, ALNUM, 3) + _mixed(rng, ALNUM + "!@%^*+-_.~", n - 3)


def azure_client_secret(rng: random.Random) -> str:
    return _r(rng, ALNUM, 3) + str(rng.randrange(10)) + "Q~" + _mixed(rng, ALNUM + "_~.-", 34)


def slack_token(rng: random.Random, kind: str = "b") -> str:
    return f"xox{kind}-{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{_mixed(rng, ALNUM, 24)}"


def planted_secrets(rng: random.Random) -> list[Planted]:
    """At least 50 secrets across every kind redact.py promises, in realistic carriers."""
    P: list[Planted] = []

    def add(kind: str, secret: str, text: str, where: str = "prompt", path: str = "", form: str = "", detector: bool = False, **extra) -> None:
        assert secret in text, (kind, secret, text)
        P.append(Planted(kind, secret, text, where, path, dict(extra), form, detector))

    # --- AWS
    kid, sec = aws_key_id(rng), aws_secret(rng)
    creds = f"[default]\naws_access_key_id = {kid}\naws_secret_access_key = {sec}\nregion = eu-west-1\n"
    add("aws_access_key_id", kid, creds, "write", "/home/user/.aws/credentials")
    add("aws_secret_access_key", sec, creds, "write", "/home/user/.aws/credentials")
    kid2, sec2 = aws_key_id(rng, "ASIA"), aws_secret(rng)
    add("aws_access_key_id", kid2, f"export AWS_ACCESS_KEY_ID={kid2}\nexport AWS_SECRET_ACCESS_KEY={sec2}", "bash")
    add("aws_secret_access_key", sec2, f"export AWS_ACCESS_KEY_ID={kid2}\nexport AWS_SECRET_ACCESS_KEY={sec2}", "bash")
    kid3, sec3 = aws_key_id(rng), aws_secret(rng)
    csv = f"User name,Access key ID,Secret access key\nci-bot,{kid3},{sec3}\n"
    add("aws_access_key_id", kid3, csv, "output")
    add("aws_secret_access_key", sec3, csv, "output")
    sec4 = aws_secret(rng)
    add("aws_secret_access_key", sec4, f'my aws secret is {sec4} can you configure the cli with it?', "prompt")

    # --- GCP
    key = gcp_api_key(rng)
    add("gcp_api_key", key, f'curl "https://maps.googleapis.com/maps/api/geocode/json?address=Paris&key={key}"', "bash")
    key2 = gcp_api_key(rng)
    add("gcp_api_key", key2, f"GOOGLE_API_KEY={key2}\nGEMINI_MODEL=gemini-2.5-pro\n", "write", "/home/user/work/proj/.env")
    block, body = pem_block(rng, "PRIVATE KEY")
    pkid = _r(rng, HEX, 40)
    sa = json.dumps(
        {
            "type": "service_account",
            "project_id": "fake-project-123",
            "private_key_id": pkid,
            "private_key": block + "\n",
            "client_email": "bot@fake-project-123.iam.gserviceaccount.com",
            "client_id": str(rng.randrange(10**20, 10**21)),
            "token_uri": "https://oauth2.googleapis.com/token",
        },
        indent=2,
    )
    for line in body.split("\n")[:3]:
        add("private_key", line, sa, "write", "/home/user/work/proj/sa.json")
    oauth = "ya29." + _mixed(rng, URLSAFE, 120)
    add("gcp_oauth_token", oauth, f"$ gcloud auth print-access-token\n{oauth}\n", "output")
    gsecret = "GOCSPX-" + _mixed(rng, URLSAFE, 28)
    add("gcp_oauth_secret", gsecret, f'client_secret = "{gsecret}"', "edit", "/home/user/work/proj/settings.py")

    # --- Azure
    acct = b64(rng, 64)
    conn = f"DefaultEndpointsProtocol=https;AccountName=fakestore;AccountKey={acct};EndpointSuffix=core.windows.net"
    add("azure_storage_key", acct, f'AZURE_STORAGE_CONNECTION_STRING="{conn}"', "write", "/home/user/work/proj/.env.local")
    sbkey = b64(rng, 32)
    add(
        "azure_storage_key",
        sbkey,
        f"Endpoint=sb://fake-bus.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={sbkey}",
        "output",
    )
    sig = b64(rng, 32).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    add("azure_sas_signature", sig, f"https://fakestore.blob.core.windows.net/c/b.txt?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01&sig={sig}", "bash")
    csec = azure_client_secret(rng)
    add("azure_client_secret", csec, f"az login --service-principal -u 0000-app -p {csec} --tenant fake", "bash")

    # --- GitHub
    for prefix in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"):
        tok = github_token(rng, prefix)
        add("github_token", tok, f"git clone https://x-access-token:{tok}@github.com/org/repo.git", "bash") if prefix == "ghs_" else add(
            "github_token", tok, f"here is my token {tok} please push the branch", "prompt"
        )
    pat = github_pat(rng)
    add("github_token", pat, f"GITHUB_TOKEN: {pat}\n", "edit", "/home/user/work/proj/.github/workflows/ci.yml")
    pat2 = github_token(rng)
    add("github_token", pat2, f'{{"token": "{pat2}", "scopes": ["repo"]}}', "output")

    # --- GitLab
    gl = "glpat-" + _mixed(rng, URLSAFE, 20)
    add("gitlab_token", gl, f'curl --header "PRIVATE-TOKEN: {gl}" https://gitlab.com/api/v4/projects', "bash")
    gl2 = "gldt-" + _mixed(rng, URLSAFE, 20)
    add("gitlab_token", gl2, f"deploy token: {gl2}", "output")

    # --- Slack
    for k in ("b", "p"):
        tok = slack_token(rng, k)
        add("slack_token", tok, f"SLACK_BOT_TOKEN={tok}", "write", "/home/user/work/proj/.env")
    hook_path = f"T{_r(rng, B32, 8)}/B{_r(rng, B32, 10)}/{_mixed(rng, ALNUM, 24)}"
    add("slack_webhook", hook_path, f"curl -X POST -d '{{\"text\":\"hi\"}}' https://hooks.slack.com/services/{hook_path}", "bash")
    xapp = f"xapp-1-A{_r(rng, B32, 10)}-{rng.randrange(10**12, 10**13)}-{_r(rng, HEX, 64)}"
    add("slack_token", xapp, f"SLACK_APP_TOKEN={xapp}", "prompt")

    # --- model providers
    ant = "sk-ant-api03-" + _mixed(rng, URLSAFE, 93) + "AA"
    add("anthropic_api_key", ant, f"export ANTHROPIC_API_KEY={ant}", "bash")
    ant2 = "sk-ant-admin01-" + _mixed(rng, URLSAFE, 93) + "AA"
    add("anthropic_api_key", ant2, f"use this admin key {ant2} for the usage report", "prompt")
    oa = "sk-proj-" + _mixed(rng, URLSAFE, 74) + "T3BlbkFJ" + _mixed(rng, URLSAFE, 74)
    add("openai_api_key", oa, f'client = OpenAI(api_key="{oa}")', "write", "/home/user/work/proj/app.py")
    oa_legacy = "sk-" + _mixed(rng, ALNUM, 20) + "T3BlbkFJ" + _mixed(rng, ALNUM, 20)
    add("openai_api_key", oa_legacy, f"OPENAI_API_KEY={oa_legacy}", "output")
    oa_svc = "sk-svcacct-" + _mixed(rng, URLSAFE, 60)
    add("openai_api_key", oa_svc, f"the service account key is {oa_svc}", "assistant")
    orr = "sk-or-v1-" + _r(rng, HEX, 64)
    add("openrouter_api_key", orr, f"OPENROUTER_API_KEY={orr}", "bash")
    hf = "hf_" + _mixed(rng, ALNUM, 34)
    add("huggingface_token", hf, f"huggingface-cli login --token {hf}", "bash")
    gsk = "gsk_" + _mixed(rng, ALNUM, 52)
    add("groq_api_key", gsk, f"GROQ_API_KEY = '{gsk}'", "edit", "/home/user/work/proj/config.py")
    r8 = "r8_" + _mixed(rng, ALNUM, 37)
    add("replicate_token", r8, f"REPLICATE_API_TOKEN={r8}", "prompt")
    xai = "xai-" + _mixed(rng, ALNUM, 80)
    add("xai_api_key", xai, f"xai key {xai}", "output")
    pplx = "pplx-" + _mixed(rng, ALNUM, 48)
    add("perplexity_api_key", pplx, f"Authorization: Bearer {pplx}", "output")

    # --- payments, registries, other services
    sk_live = "sk_live_" + _mixed(rng, ALNUM, 99)
    add("stripe_key", sk_live, f"Stripe.api_key = '{sk_live}'", "write", "/home/user/work/proj/config/initializers/stripe.rb")
    rk_live = "rk_live_" + _mixed(rng, ALNUM, 24)
    add("stripe_key", rk_live, f"stripe listen --api-key {rk_live}", "bash")
    whsec = "whsec_" + _mixed(rng, ALNUM, 32)
    add("stripe_webhook_secret", whsec, f"Ready! Your webhook signing secret is {whsec} (^C to quit)", "output")
    npm = npm_token(rng)
    add("npm_token", npm, f"//registry.npmjs.org/:_authToken={npm}\n", "write", "/home/user/.npmrc")
    npm2 = npm_token(rng)
    add("npm_token", npm2, f"npm config set //registry.npmjs.org/:_authToken {npm2}", "bash")
    pypi = "pypi-AgEIcHlwaS5vcmc" + _mixed(rng, URLSAFE, 140)
    add("pypi_token", pypi, f"twine upload -u __token__ -p {pypi} dist/*", "bash")
    sg = "SG." + _mixed(rng, URLSAFE, 22) + "." + _mixed(rng, URLSAFE, 43)
    add("sendgrid_api_key", sg, f"SENDGRID_API_KEY={sg}", "output")
    dop = "dop_v1_" + _r(rng, HEX, 64)
    add("digitalocean_token", dop, f"doctl auth init -t {dop}", "bash")
    hvs = "hvs." + _mixed(rng, URLSAFE, 90)
    add("vault_token", hvs, f"VAULT_TOKEN={hvs} vault kv get secret/app", "bash")
    lin = "lin_api_" + _mixed(rng, ALNUM, 40)
    add("linear_api_key", lin, f"linear key: {lin}", "prompt")
    dapi = "dapi" + _r(rng, HEX, 32)
    add("databricks_token", dapi, f"databricks configure --token {dapi}", "bash")
    shp = "shpat_" + _r(rng, HEX, 32)
    add("shopify_token", shp, f"X-Shopify-Access-Token: {shp}", "output")
    tg = f"{rng.randrange(10**9, 10**10)}:AA{_mixed(rng, URLSAFE, 33)}"
    add("telegram_bot_token", tg, f"https://api.telegram.org/bot{tg}/getMe", "bash")
    age = "AGE-SECRET-KEY-1" + _r(rng, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".upper(), 58)
    add("age_secret_key", age, f"# created: 2026-01-01\n# public key: age1xyz\n{age}\n", "write", "/home/user/.config/sops/age/keys.txt")

    # --- JWT and bearer tokens
    j = jwt(rng)
    add("jwt", j, f"curl -H 'Authorization: Bearer {j}' https://api.example.com/me", "bash")
    j2 = jwt(rng)
    add("jwt", j2, f'{{"access_token": "{j2}", "expires_in": 3600}}', "output")
    opaque = _mixed(rng, ALNUM, 40)
    add("auth_header", opaque, f"Authorization: token {opaque}", "prompt")

    # --- PEM private keys (the body lines are the secret)
    for label, where in (("RSA PRIVATE KEY", "write"), ("OPENSSH PRIVATE KEY", "output"), ("EC PRIVATE KEY", "prompt")):
        block, body = pem_block(rng, label)
        carrier = f"here is the key:\n{block}\n" if where == "prompt" else block + "\n"
        line = body.split("\n")[1]
        add("private_key", line, carrier, where, "/home/user/.ssh/id_test" if where == "write" else "")
    block, body = pem_block(rng, "ENCRYPTED PRIVATE KEY")
    cut = block[: len(block) // 2]  # a truncated tool output: no END line
    add("private_key", body.split("\n")[1], cut, "output")

    # --- credentials in URLs
    pw = _mixed(rng, ALNUM, 18)
    add("url_credentials", pw, f"DATABASE_URL=postgres://app:{pw}@db.internal:5432/app", "write", "/home/user/work/proj/.env")
    pw2 = _mixed(rng, ALNUM, 14)
    add("url_credentials", pw2, f"redis-cli -u redis://:{pw2}@cache.internal:6379/0 ping", "bash")
    pw3 = _mixed(rng, ALNUM, 20)
    add("url_credentials", pw3, f"pip install --index-url https://deploy:{pw3}@pypi.internal.example/simple pkg", "bash")

    # --- secret-named assignments
    pw4 = password(rng)
    add("secret", pw4, f"DB_PASSWORD={pw4}\nDB_HOST=localhost\n", "write", "/home/user/work/proj/.env")
    pw5 = password(rng)
    add("secret", pw5, f"export MYSQL_PWD={pw5}; mysql -u root app < dump.sql", "bash")
    pw6 = password(rng)
    add("secret", pw6, f'{{"username": "admin", "password": "{pw6}"}}', "output")
    pw7 = password(rng)
    add("secret", pw7, f"database:\n  user: app\n  password: {pw7}\n", "edit", "/home/user/work/proj/config/database.yml")
    pw8 = password(rng)
    add("secret", pw8, f"mysql --password={pw8} -h db app", "bash")
    pw9 = _mixed(rng, ALNUM, 32)
    add("secret", pw9, f"SECRET_KEY = '{pw9}'", "edit", "/home/user/work/proj/settings.py")
    pw10 = _mixed(rng, ALNUM, 24)
    add("secret", pw10, f"the api_key: {pw10}", "prompt")
    pw11 = _mixed(rng, ALNUM, 28)
    add("secret", pw11, f"client_secret={pw11}", "assistant")
    pw12 = _mixed(rng, ALNUM, 20)
    add("secret", pw12, f'const config = {{ apiKey: "{pw12}", region: "eu" }};', "write", "/home/user/work/proj/src/config.ts")
    pw13 = password(rng)
    add("secret", pw13, f"X-Api-Key: {pw13}", "output")

    # --- <private> spans: everything inside is dropped, whatever it is
    priv = "my SSN is " + "-".join(str(rng.randrange(100, 999)) for _ in range(3)) + " " + _r(rng, string.ascii_lowercase, 12)
    add("private", priv, f"note <private>{priv}</private> and go on", "prompt")
    priv2 = "home address " + _r(rng, string.ascii_lowercase, 14)
    add("private", priv2, f"<PRIVATE>\n{priv2}\n</Private> done", "prompt")
    priv3 = "unterminated " + _r(rng, string.ascii_lowercase, 14)
    add("private", priv3, f"keep this <private>{priv3}", "prompt")
    _more_secrets(rng, add)
    return P


def _more_secrets(rng: random.Random, add) -> None:
    """Kinds grown from detect-secrets' plugin list and the forms issue 9 found getting through.

    Each `form` names one kind of secret in one form; values are built here from random parts.
    """
    def tok(prefix: str, n: int, alphabet: str = ALNUM) -> str:
        return prefix + _mixed(rng, alphabet, n)

    # --- detect-secrets plugins (and their variants) -------------------------------------
    v = tok("AKC", 70)
    add("artifactory", v, f"ARTIFACTORY_API_KEY={v}", "bash", form="artifactory:api_token")
    v = "AP6" + _mixed(rng, ALNUM, 20)
    add("artifactory", v, f"artifactory password: {v}", "output", form="artifactory:password", detector=True)
    v = f"{_r(rng, 'MNO', 1)}{_mixed(rng, URLSAFE, 23)}.{_mixed(rng, URLSAFE, 6)}.{_mixed(rng, URLSAFE, 27)}"
    add("discord_bot_token", v, f"client.login('{v}')", "edit", "/home/user/work/bot/main.js", form="discord:bot_token", detector=True)
    for prefix, n in (("glrt-", 20), ("glft-", 20), ("glsoat-", 20), ("glcbt-", 24), ("glimt-", 25), ("glptt-", 40), ("glagent-", 50), ("gloas-", 64), ("GR1348941", 20)):
        v = tok(prefix, n, URLSAFE)
        add("gitlab_token", v, f"gitlab token {v} for the runner", "prompt", form=f"gitlab:{prefix.rstrip('-')}", detector=prefix == "GR1348941")
    v = _r(rng, string.ascii_lowercase + string.digits, 32) + f"-us{rng.randrange(1, 21)}"
    add("mailchimp", v, f"MAILCHIMP_API_KEY={v}", "write", "/home/user/work/proj/.env.mail", form="mailchimp:api_key")
    v = "sq0csp-" + _mixed(rng, URLSAFE, 43)
    add("square_oauth", v, f"square secret {v}", "output", form="square:oauth_secret", detector=True)
    v = "pypi-AgENdGVzdC5weXBpLm9yZw" + _mixed(rng, URLSAFE, 70)
    add("pypi_token", v, f"TWINE_PASSWORD={v}", "bash", form="pypi:test_pypi")
    for kind in ("a", "o", "s", "r"):
        v = slack_token(rng, kind)
        add("slack_token", v, f"slack token xox{kind}: {v}", "output", form=f"slack:xox{kind}")
    v = "xoxc-" + "-".join(str(rng.randrange(10**11, 10**12)) for _ in range(3)) + "-" + _r(rng, HEX, 64)
    add("slack_token", v, f"the browser token is {v}", "prompt", form="slack:xoxc")
    v = "xoxd-" + b64(rng, 90).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    add("slack_token", v, f"curl -H 'Cookie: d={v}' https://slack.com/api/auth.test", "bash", form="slack:xoxd_cookie")
    v = "xoxe.xoxp-1-" + _mixed(rng, ALNUM, 140)
    add("slack_token", v, f"refresh: {v}", "output", form="slack:xoxe")
    v = f"T{_r(rng, B32, 8)}/A{_r(rng, B32, 10)}/{rng.randrange(10**17, 10**18)}/{_r(rng, HEX, 32)}"
    add("slack_webhook", v, f"https://hooks.slack.com/workflows/{v}", "output", form="slack:workflow_webhook")
    v = "SK" + _r(rng, HEX, 32)
    add("twilio", v, f"TWILIO_API_KEY={v}", "write", "/home/user/work/proj/.env.twilio", form="twilio:api_key_sk")
    v = "SK" + _r(rng, HEX.upper() + HEX, 32)
    add("twilio", v, f"the twilio key is {v}", "prompt", form="twilio:api_key_sk_mixed_case")
    v = "AC" + _r(rng, HEX, 32)
    add("twilio", v, f"client = Client('{v}', token)", "edit", "/home/user/work/proj/sms.py", form="twilio:account_sid")
    for prefix in ("ABIA", "ACCA"):
        v = aws_key_id(rng, prefix)
        add("aws_access_key_id", v, f"aws key id {v}", "output", form=f"aws:{prefix.lower()}")
    v = aws_secret(rng)
    add("aws_secret_access_key", v, f'aws_secret = "{v}"', "edit", "/home/user/work/proj/deploy.py", form="aws:secret_in_code")
    v = tok("sk_test_", 24)
    add("stripe_key", v, f"STRIPE_SECRET_KEY={v}", "bash", form="stripe:sk_test")
    v = tok("rk_test_", 24)
    add("stripe_key", v, f"restricted test key {v}", "prompt", form="stripe:rk_test")
    block, body = pem_block(rng, "DSA PRIVATE KEY")
    add("private_key", body.split("\n")[1], block, "output", form="private_key:dsa")
    block, body = pem_block(rng, "PGP PRIVATE KEY BLOCK")
    add("private_key", body.split("\n")[1], block, "write", "/home/user/keys/secret.asc", form="private_key:pgp_block")
    block, body = pem_block(rng, "PRIVATE KEY")
    add("private_key", body.split("\n")[2], json.dumps({"key": block}), "output", form="private_key:json_escaped")
    # keyword rules: secret-named keys in config formats
    for key, fmt in (
        ("api_key", "{k}: {v}"), ("auth_key", "{k} = {v}"), ("service_key", "{k}={v}"), ("account_key", "{k}: '{v}'"),
        ("db_key", "{k}={v}"), ("database_key", "{k} = \"{v}\""), ("priv_key", "{k}: {v}"), ("client_key", "{k}={v}"),
        ("db_pass", "{k}={v}"), ("database_pass", "{k}: {v}"), ("key_pass", "{k} = {v}"), ("passwd", "{k}={v}"),
        ("pwd", "{k}: {v}"), ("secret", "{k}: {v}"), ("DB_PASSWORD", "export {k}='{v}'"), ("password", "<{k}>{v}</{k}>"),
        ("client_secret", '"{k}": "{v}"'), ("app_secret", "{k} := \"{v}\""), ("encryption_key", "{k} => '{v}'"),
        ("signing_key", "--{k}={v}"), ("master_key", "{k}: {v}"), ("access_token", "{k}={v}"), ("refresh_token", '"{k}":"{v}"'),
        ("jwt_secret", "{k}={v}"), ("session_secret", "{k}: {v}"), ("webhook_secret", "{k}={v}"),
    ):
        v = _mixed(rng, ALNUM, 24)
        add("secret", v, fmt.format(k=key, v=v), "write" if len(key) % 2 else "output", "/home/user/work/proj/config.ini",
            form=f"keyword:{key}:{fmt.split('{v}')[0].replace('{k}', '')[:3].strip() or 'bare'}", detector=True)

    # --- providers the detector has no plugin for (built-in rules) ------------------------
    for form, v in (
        ("anthropic:oauth", tok("sk-ant-oat01-", 90, URLSAFE) + "AA"),
        ("openai:admin", tok("sk-admin-", 60, URLSAFE)),
        ("gcp:refresh_token", tok("1//0", 90, URLSAFE)),
        ("atlassian:api_token", tok("ATATT3xFfGF0", 180, URLSAFE)),
        ("langsmith:api_key", "lsv2_pt_" + _r(rng, HEX, 32) + "_" + _r(rng, HEX, 10)),
        ("nvidia:api_key", tok("nvapi-", 64, URLSAFE)),
        ("shopify:shpca", "shpca_" + _r(rng, HEX, 32)),
        ("shopify:shppa", "shppa_" + _r(rng, HEX, 32)),
        ("shopify:shpss", "shpss_" + _r(rng, HEX, 32)),
        ("vault:batch_token", tok("hvb.", 120, URLSAFE)),
        ("digitalocean:oauth", "doo_v1_" + _r(rng, HEX, 64)),
        ("digitalocean:refresh", "dor_v1_" + _r(rng, HEX, 64)),
        ("mailgun:api_key", "key-" + _r(rng, HEX, 32)),
        ("github:fine_grained_in_env", github_pat(rng)),
        ("gcp:oauth_secret_in_json", tok("GOCSPX-", 28, URLSAFE)),
    ):
        add(form.split(":")[0], v, f"{form.split(':')[1].replace('_', ' ')} -> {v}", "output" if len(form) % 2 else "prompt", form=form)
    did, dtok = rng.randrange(10**17, 10**18), _mixed(rng, URLSAFE, 68)
    add("discord_webhook", f"{did}/{dtok}", f"https://discord.com/api/webhooks/{did}/{dtok}", "bash", form="discord:webhook")
    tg = f"{rng.randrange(10**7, 10**8)}:AA{_mixed(rng, URLSAFE, 33)}"
    add("telegram_bot_token", tg, f"TELEGRAM_TOKEN={tg}", "output", form="telegram:8_digit_id")

    # --- credentials in URLs, any characters in the password ---------------------------------
    for form, pw, scheme in (
        ("url:hash_in_password", _mixed(rng, ALNUM, 8) + "#" + _mixed(rng, ALNUM, 8), "postgres"),
        ("url:slash_in_password", _mixed(rng, ALNUM, 8) + "/" + _mixed(rng, ALNUM, 8), "mysql"),
        ("url:at_in_password", _mixed(rng, ALNUM, 8) + "@" + _mixed(rng, ALNUM, 8), "mongodb+srv"),
        ("url:all_specials", _mixed(rng, ALNUM, 6) + "#/@?:" + _mixed(rng, ALNUM, 6), "amqp"),
        ("url:percent_encoded", _mixed(rng, ALNUM, 8) + "%40%23" + _mixed(rng, ALNUM, 8), "redis"),
        ("url:ftp", _mixed(rng, ALNUM, 14), "ftp"),
        ("url:smtp_in_json", _mixed(rng, ALNUM, 14), "smtps"),
        ("url:ldap", _mixed(rng, ALNUM, 6) + "!" + _mixed(rng, ALNUM, 6), "ldaps"),
    ):
        url = f"{scheme}://svc_user:{pw}@host-{_r(rng, string.ascii_lowercase, 5)}.internal:1234/db"
        text = json.dumps({"url": url}) if "json" in form else f"connect with {url} please"
        add("url_credentials", pw, text, "prompt" if "hash" in form or "at_" in form else "bash", form=form)

    # --- password flags on command lines ---------------------------------------------------
    for form, fmt in (
        ("flag:curl_-u", "curl -u deploy:{v} https://api.internal/v1"),
        ("flag:curl_--user", "curl --user deploy:{v} -X POST https://api.internal/v1"),
        ("flag:wget_--user", "wget --user=deploy:{v} https://files.internal/a.tgz"),
        ("flag:mysql_-p", "mysql -h db -u root -p{v} app"),
        ("flag:mysqldump_-p_quoted", "mysqldump -uroot -p'{v}' app > dump.sql"),
        ("flag:mariadb_-p", "mariadb -u app -p{v} -e 'select 1'"),
        ("flag:sshpass", "sshpass -p {v} ssh admin@10.0.0.5"),
        ("flag:sshpass_quoted", "sshpass -p \"{v}\" scp a b:"),
        ("flag:docker_login", "docker login -u bot -p {v} registry.example.com"),
        ("flag:podman_login", "podman login --password {v} -u bot quay.io"),
        ("flag:helm_registry_login", "helm registry login ghcr.io --username bot --password {v}"),
        ("flag:redis_cli_-a", "redis-cli -h cache -a {v} INFO"),
        ("flag:mongosh_-p", "mongosh --host db -u admin -p {v} --authenticationDatabase admin"),
        ("flag:ldapsearch_-w", "ldapsearch -x -D cn=admin,dc=ex -w {v} -b dc=ex"),
        ("flag:sqlcmd_-P", "sqlcmd -S db -U sa -P {v} -Q 'select 1'"),
        ("flag:htpasswd_-b", "htpasswd -bc .htpasswd admin {v}"),
        ("flag:lftp_-u", "lftp -u deploy,{v} sftp://files.internal"),
        ("flag:smbclient_-U", "smbclient //fs/share -U admin%{v}"),
        ("flag:openssl_passin", "openssl rsa -in key.pem -passin pass:{v} -out plain.pem"),
        ("flag:keytool_storepass", "keytool -list -keystore app.jks -storepass {v}"),
        ("flag:echo_password_stdin", "echo {v} | docker login -u bot --password-stdin ghcr.io"),
        ("flag:echo_sudo_-S", "echo '{v}' | sudo -S systemctl restart app"),
        ("flag:psql_env", "PGPASSWORD={v} psql -h db -U app"),
        ("flag:git_credential_url", "git remote set-url origin https://bot:{v}@git.internal/org/repo.git"),
    ):
        v = password(rng, 14)
        add("password_flag", v, fmt.format(v=v), "bash", form=form)

    # --- prose and .netrc ------------------------------------------------------------------
    for form, fmt in (
        ("prose:the_password_is", "the password is {v} for the staging box"),
        ("prose:my_password_was", "My password was {v} until yesterday"),
        ("prose:passphrase_is", "the passphrase is {v}"),
        ("prose:api_key_is", "the API key is {v}, keep it safe"),
        ("prose:token_is_now", "the token is now {v}"),
        ("prose:password_for_host", "password for db-prod is {v}"),
        ("prose:pin_is", "the PIN is {v}"),
        ("netrc:one_line", "machine api.internal login bot password {v}"),
        ("netrc:multi_line", "machine git.internal\n  login bot\n  password {v}\n"),
        ("netrc:bare_password_line", "default\npassword {v}\n"),
    ):
        v = password(rng, 12)
        add("password_prose", v, fmt.format(v=v), "prompt" if "prose" in form else "write", "/home/user/.netrc", form=form)

    # --- signed URLs, query secrets, cookies, base64-wrapped keys ------------------------------
    v = _r(rng, HEX, 64)
    add("url_signature", v, f"https://bkt.s3.amazonaws.com/a.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-Signature={v}", "output", form="s3:presigned_signature")
    v = b64(rng, 120).replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    add("url_signature", v, f"https://bkt.s3.amazonaws.com/a.zip?X-Amz-Security-Token={v}&X-Amz-Expires=60", "output", form="s3:security_token")
    v = _r(rng, HEX, 128)
    add("url_signature", v, f"https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature={v}", "bash", form="gcs:signed_url")
    for kind, form, n, where, fmt in (
        ("url_secret_param", "query:access_token", 40, "output", "https://app.example.com/callback#state=1&access_token={v}&token_type=bearer"),
        ("url_secret_param", "query:api_key", 30, "bash", "curl 'https://api.example.com/v1/items?api_key={v}&page=2'"),
        ("cookie", "cookie:header", 36, "output", "Cookie: _ga=GA1.2.3; sessionid={v}; csrftoken=abc"),
        ("cookie", "cookie:set_cookie", 36, "output", "Set-Cookie: session={v}; Path=/; HttpOnly"),
        ("cookie", "cookie:curl_-b", 36, "bash", "curl -b 'connect.sid={v}' https://app.internal/me"),
        ("cookie", "cookie:json_header", 36, "output", '{{"headers": {{"cookie": "sid={v}"}}}}'),
    ):
        v = _mixed(rng, URLSAFE, n)
        add(kind, v, fmt.format(v=v), where, form=form)
    for form, inner in (
        ("base64:github_token", github_token(rng)),
        ("base64:anthropic_key", "sk-ant-api03-" + _mixed(rng, URLSAFE, 93) + "AA"),
        ("base64:aws_key_id", aws_key_id(rng)),
        ("base64:k8s_secret_url", f"postgres://app:{_mixed(rng, ALNUM, 16)}@db:5432/app"),
    ):
        wrapped = base64.b64encode(inner.encode()).decode()
        text = f"apiVersion: v1\nkind: Secret\ndata:\n  value: {wrapped}\n" if "k8s" in form else f"echo {wrapped} | base64 -d"
        add("base64_secret", wrapped, text, "output", form=form)

    # --- places beyond prompts and tool calls ----------------------------------------------
    v = github_token(rng)
    add("github_token", v, f"/home/user/work/proj/tokens/{v}.txt", "read_path", form="place:file_path")
    v = tok("sk-ant-api03-", 93, URLSAFE) + "AA"
    add("anthropic_api_key", v, f"Rotate the key {v} before release", "task_subject", form="place:task_subject")
    v = github_token(rng, "gho_")
    add("github_token", v, f"check {v} still works", "todo", form="place:todo_item")
    v = "xoxb-" + f"{rng.randrange(10**11, 10**12)}-{rng.randrange(10**11, 10**12)}-{_mixed(rng, ALNUM, 24)}"
    add("slack_token", v, f"/compact keep the slack token {v}", "compact", form="place:compact_instructions")
    v = github_token(rng, "ghu_")
    add("github_token", v, f"feature/{v}", "branch", form="place:git_branch")
    v = github_token(rng, "ghr_")
    add("github_token", v, f"reviewer-{v}", "agent_type", form="place:subagent_type", detector=True)
    v = "sk-ant-api03-" + _mixed(rng, URLSAFE, 93) + "AA"
    add("anthropic_api_key", v, f"claude-opus-5 {v}", "model", form="place:sessionstart_model")


ORDINARY: list[str] = [
    'password_field = form.get("password")',
    "def check_password(user, password):\n    return bcrypt.checkpw(password.encode(), user.password_hash)",
    "self.api_key = api_key\nself.token = token\n",
    "token = None",
    'headers = {"Authorization": f"Bearer {token}"}',
    "if not os.environ.get('GITHUB_TOKEN'):\n    raise SystemExit('set GITHUB_TOKEN first')",
    "max_tokens: 4096\ninput_tokens: 1234\noutput_tokens = 77",
    '{"input_tokens": 4, "cache_creation_input_tokens": 12312, "output_tokens": 10}',
    "The author: Jane Doe\nAuthorization is handled by the gateway.",
    "Use `--password-stdin` so the password never appears in the shell history.",
    "Secrets are stored in the vault; see docs/secrets.md for rotation policy.",
    "tokenizer = tiktoken.get_encoding('cl100k_base')\ntokens = tokenizer.encode(text)",
    "git log --oneline -5\n04752c6 Add intent\n9f1c2ab3d4e5f60718293a4b5c6d7e8f90a1b2c3",
    "commit 9f1c2ab3d4e5f60718293a4b5c6d7e8f90a1b2c3\nAuthor: Dev <dev@example.com>",
    "postgres://localhost:5432/app and https://example.com/path?q=1",
    "ssh git@github.com:org/repo.git",
    "password: str = Field(min_length=8)",
    "credentials: 'include'",
    "secrets: inherit",
    "PWD=/home/user/work/proj",
    "token_count = len(tokens)\ntoken_type: bearer",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
    "export PATH=$HOME/.local/bin:$PATH\nexport API_KEY=${API_KEY:?missing}",
    "The session id is ef958aa1-0e93-49f0-bb71-150f63befcd1 and the request id req_011CaBJYwjyYseVKPw8pL51a.",
    "Run `pytest -q` to check; 42 passed in 1.3s. sha256: 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b",
    "The task-list skill and the disk-usage checker both passed.",
    "<div class=\"private\">not a private tag</div>",
    "Bearer tokens are sent in the Authorization header.",
    "api_key = os.environ['OPENAI_API_KEY']",
    "token: Optional[str] = None",
    "password=password",
]


# ---------------------------------------------------------------------------------------------
# Transcript and hook payloads


def _ts(i: int) -> str:
    return f"2026-11-22T02:{i // 60 % 60:02d}:{i % 60:02d}.000Z"


class _Lines:
    def __init__(self, session_id: str, cwd: str, *, sidechain: bool = False, agent_id: str | None = None) -> None:
        self.session_id, self.cwd = session_id, cwd
        self.sidechain, self.agent_id = sidechain, agent_id
        self.lines: list[dict] = []
        self.parent: str | None = None
        self.n = 0
        self.branch = "main"

    def _base(self, kind: str) -> dict:
        self.n += 1
        line = {
            "parentUuid": self.parent,
            "isSidechain": self.sidechain,
            "type": kind,
            "uuid": str(uuid.UUID(int=random.Random(f"{self.session_id}{self.agent_id}{self.n}").getrandbits(128), version=4)),
            "timestamp": _ts(self.n),
            "userType": "external",
            "entrypoint": "cli",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": "2.1.330",
            "gitBranch": self.branch,
        }
        if self.agent_id:
            line["agentId"] = self.agent_id
        self.parent = line["uuid"]
        return line

    def prompt(self, text: str) -> None:
        line = self._base("user")
        line["message"] = {"role": "user", "content": text}
        line["promptId"] = str(uuid.uuid4())
        self.lines.append(line)

    def assistant(self, blocks: list[dict], n_in: int = 1000) -> None:
        line = self._base("assistant")
        line["message"] = {
            "id": f"msg_fake_{self.n:06d}",
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-5-5",
            "content": blocks,
            "stop_reason": "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 4,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": n_in,
                "output_tokens": 50,
                "service_tier": "standard",
            },
        }
        line["requestId"] = f"req_fake_{self.n:06d}"
        self.lines.append(line)

    def tool_result(self, tool_id: str, text: str, result: dict) -> None:
        line = self._base("user")
        line["message"] = {"role": "user", "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": text, "is_error": False}]}
        line["toolUseResult"] = result
        self.lines.append(line)

    def jsonl(self) -> str:
        return "".join(json.dumps(line) + "\n" for line in self.lines)


@dataclass
class Session:
    session_id: str
    cwd: str
    transcript: str  # JSONL text of the main transcript
    subagent_id: str
    subagent_transcript: str  # JSONL text of <session>/subagents/agent-<id>.jsonl
    payloads: dict  # event name -> list of stdin payloads
    planted: list  # list[Planted]

    def write(self, projects_dir: Path) -> Path:
        """Write the transcript files under `projects_dir`; return the main transcript path and
        point every payload's transcript paths at the written files."""
        main = projects_dir / f"{self.session_id}.jsonl"
        main.parent.mkdir(parents=True, exist_ok=True)
        main.write_text(self.transcript, encoding="utf-8")
        sub = projects_dir / self.session_id / "subagents" / f"agent-{self.subagent_id}.jsonl"
        sub.parent.mkdir(parents=True, exist_ok=True)
        sub.write_text(self.subagent_transcript, encoding="utf-8")
        for payloads in self.payloads.values():
            for payload in payloads:
                payload["transcript_path"] = str(main)
                if "agent_transcript_path" in payload:
                    payload["agent_transcript_path"] = str(sub)
        return main

    def secrets(self) -> list[str]:
        return [p.secret for p in self.planted]


def build_session(seed: int = 0, session_id: str | None = None, cwd: str = "/home/user/work/proj") -> Session:
    """A session that carries every planted secret in prompts, tool inputs, tool outputs,
    assistant text, the subagent transcript and the hook payloads."""
    rng = random.Random(seed)
    planted = planted_secrets(rng)
    session_id = session_id or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    agent_id = "a" + _r(rng, HEX, 16)
    main = _Lines(session_id, cwd)
    sub = _Lines(session_id, cwd, sidechain=True, agent_id=agent_id)
    payloads: dict[str, list[dict]] = {
        "UserPromptSubmit": [], "Stop": [], "SubagentStop": [], "PreToolUse": [], "PostToolUse": [], "SessionStart": [], "PreCompact": [],
    }
    agent_type = "general-purpose"
    common = {"session_id": session_id, "transcript_path": "", "cwd": cwd, "permission_mode": "default"}
    tool_n = 0

    def tool(lines: _Lines, name: str, tool_input: dict, output: str, result: dict) -> None:
        nonlocal tool_n
        tool_n += 1
        tid = f"toolu_fake{tool_n:08d}"
        lines.assistant([{"type": "text", "text": f"Running {name}."}, {"type": "tool_use", "id": tid, "name": name, "input": tool_input}])
        lines.tool_result(tid, output, result)
        payloads["PreToolUse"].append({**common, "hook_event_name": "PreToolUse", "tool_name": name, "tool_input": tool_input, "tool_use_id": tid})
        payloads["PostToolUse"].append(
            {**common, "hook_event_name": "PostToolUse", "tool_name": name, "tool_input": tool_input, "tool_response": result, "tool_use_id": tid}
        )

    for i, p in enumerate(planted):
        lines = sub if i % 7 == 3 else main  # some secrets travel through the subagent
        if p.where == "prompt":
            lines.prompt(p.text)
            if lines is main:
                payloads["UserPromptSubmit"].append({**common, "hook_event_name": "UserPromptSubmit", "prompt": p.text})
        elif p.where == "bash":
            tool(lines, "Bash", {"command": p.text, "description": "run it"}, "ok", {"stdout": "ok", "stderr": "", "interrupted": False, "isImage": False})
        elif p.where == "output":
            cmd = "cat config.out"
            tool(lines, "Bash", {"command": cmd, "description": "show"}, p.text, {"stdout": p.text, "stderr": "", "interrupted": False, "isImage": False})
        elif p.where == "write":
            tool(
                lines,
                "Write",
                {"file_path": p.path, "content": p.text},
                f"File created successfully at: {p.path}",
                {"type": "create", "filePath": p.path, "content": p.text, "structuredPatch": []},
            )
        elif p.where == "edit":
            tool(
                lines,
                "Edit",
                {"file_path": p.path, "old_string": "# settings", "new_string": p.text, "replace_all": False},
                f"The file {p.path} has been updated.",
                {"filePath": p.path, "oldString": "# settings", "newString": p.text, "originalFile": "# settings\n", "structuredPatch": []},
            )
        elif p.where == "read_path":
            tool(lines, "Read", {"file_path": p.text}, "1\tcontent", {"type": "text", "file": {"filePath": p.text, "content": "content"}})
        elif p.where == "task_subject":
            tool(lines, "TaskCreate", {"subject": p.text, "description": p.text, "activeForm": "Rotating"}, "Task #1 created",
                 {"task": {"id": str(tool_n + 1), "subject": p.text}})
        elif p.where == "todo":
            tool(lines, "TodoWrite", {"todos": [{"content": p.text, "status": "in_progress", "activeForm": p.text}]}, "ok", {"newTodos": []})
        elif p.where == "compact":
            args = p.text.removeprefix("/compact ")
            lines.prompt(f"<command-name>/compact</command-name>\n<command-message>compact</command-message>\n<command-args>{args}</command-args>")
            payloads["PreCompact"].append({**common, "hook_event_name": "PreCompact", "trigger": "manual", "custom_instructions": args})
        elif p.where == "branch":
            main.branch = p.text
        elif p.where == "agent_type":
            agent_type = p.text
        elif p.where == "model":
            payloads["SessionStart"].append({**common, "hook_event_name": "SessionStart", "source": "startup", "model": p.text})
        elif p.where == "assistant":
            lines.assistant([{"type": "text", "text": p.text}])
            payloads["Stop" if lines is main else "SubagentStop"].append(
                {**common, "hook_event_name": "Stop" if lines is main else "SubagentStop", "stop_hook_active": False, "last_assistant_message": p.text}
            )
        # every few secrets, the assistant echoes one back in its reply (as models do)
        if i % 5 == 0:
            lines.assistant([{"type": "text", "text": f"Done. For reference: {p.text[:4000]}"}])
            payloads["Stop"].append(
                {**common, "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": f"Done. For reference: {p.text[:4000]}"}
            )
    # the subagent's final report carries secrets too; the main chain gets its tool result
    report = "Subagent report:\n" + "\n".join(p.text for p in planted[1::9])
    sub.assistant([{"type": "text", "text": report}])
    payloads["SubagentStop"].append(
        {
            **common,
            "hook_event_name": "SubagentStop",
            "stop_hook_active": False,
            "agent_id": agent_id,
            "agent_type": agent_type,
            "agent_transcript_path": "",
            "last_assistant_message": report,
        }
    )
    tool(
        main,
        "Agent",
        {"description": "look around", "prompt": planted[0].text, "subagent_type": "general-purpose"},
        report,
        {"status": "completed", "agentId": agent_id, "content": [{"type": "text", "text": report}]},
    )
    main.assistant([{"type": "text", "text": "All set."}])
    payloads["Stop"].append({**common, "hook_event_name": "Stop", "stop_hook_active": False, "last_assistant_message": "All set."})
    return Session(session_id, cwd, main.jsonl(), agent_id, sub.jsonl(), payloads, planted)


def leaks(secret: str, text: str, window: int = 12) -> bool:
    """True when `secret`, or any `window`-character piece of it, occurs in `text` (a partial
    redaction that left the tail of a token behind counts as a leak)."""
    if secret in text:
        return True
    if len(secret) <= window:
        return False
    pieces = _pieces(text, window)
    return any(secret[i : i + window] in pieces for i in range(len(secret) - window + 1))


@functools.lru_cache(maxsize=4)
def _pieces(text: str, window: int) -> frozenset[str]:
    """Every `window`-character piece of `text`, built once per text: the suites ask the same
    redacted blob about hundreds of secrets, and a substring scan per piece made that quadratic."""
    return frozenset(text[i : i + window] for i in range(len(text) - window + 1))
