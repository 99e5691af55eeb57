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

    def add(kind: str, secret: str, text: str, where: str = "prompt", path: str = "", **extra) -> None:
        assert secret in text, (kind, secret, text)
        P.append(Planted(kind, secret, text, where, path, dict(extra)))

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
    return P


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
            "gitBranch": "main",
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
    payloads: dict[str, list[dict]] = {"UserPromptSubmit": [], "Stop": [], "SubagentStop": [], "PreToolUse": [], "PostToolUse": []}
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
            "agent_type": "general-purpose",
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
    return any(secret[i : i + window] in text for i in range(len(secret) - window + 1))
