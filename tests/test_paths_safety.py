"""paths.safe_id / session_dir against hostile ids, fsutil against planted symlinks, and modes.

Env: SESSION_STATE_SAFE_ID_EXAMPLES (hypothesis examples, default 1500),
SESSION_STATE_SAFE_ID_SAMPLE (injectivity sample size, default 100,000).
"""

from __future__ import annotations

import os
import random
import re
import stat
import string
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_state.core import fsutil, paths
from session_state.core.paths import ensure_dir, safe_id, session_dir

EXAMPLES = int(os.environ.get("SESSION_STATE_SAFE_ID_EXAMPLES", "1500"))
SAMPLE = int(os.environ.get("SESSION_STATE_SAFE_ID_SAMPLE", "100000"))
NAME = re.compile(r"[A-Za-z0-9._~-]{1,128}")


def assert_safe_name(name: str) -> None:
    assert NAME.fullmatch(name), name
    assert name not in (".", "..") and not name.startswith(".")


# --- safe_id ----------------------------------------------------------------------------------


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=300))
def test_safe_id_of_any_text_is_a_plain_name(value: str) -> None:
    assert_safe_name(safe_id(value))


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["utf-8", "latin-1", "utf-16-le"]))
def test_safe_id_of_decoded_bytes_is_a_plain_name(raw: bytes, encoding: str) -> None:
    assert_safe_name(safe_id(raw.decode(encoding, "surrogateescape" if encoding == "utf-8" else "replace")))


@settings(max_examples=EXAMPLES // 3, deadline=None)
@given(st.one_of(st.integers(), st.none(), st.floats(allow_nan=True), st.lists(st.text(max_size=5), max_size=3), st.binary(max_size=20)))
def test_safe_id_of_non_strings_is_a_plain_name(value: object) -> None:
    assert_safe_name(safe_id(value))


@settings(max_examples=EXAMPLES // 2, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60))
def test_safe_id_distinct_inputs_distinct_outputs(a: str, b: str) -> None:
    if a != b:
        assert safe_id(a) != safe_id(b)


def test_safe_id_injective_on_a_large_sample() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "._-~/\\:\x00 ..é漢\u202e"
    values = set()
    while len(values) < SAMPLE:
        kind = rng.random()
        if kind < 0.3:
            values.add(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        elif kind < 0.4:  # near-collisions: same stem, differing only in a replaced character
            values.add("x" + rng.choice("/\\: .") + str(rng.randrange(10**6)))
        else:
            values.add("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))))
    names = {safe_id(v) for v in values}
    assert len(names) == len(values)


def test_plain_ids_pass_unchanged() -> None:
    for _ in range(1000):
        sid = str(uuid.uuid4())
        assert safe_id(sid) == sid
    for agent in ("a4ca7529859c158c2", "agent-ab1e6e141221a29ab", "ef958aa1-0e93-49f0-bb71-150f63befcd1"):
        assert safe_id(agent) == agent
    assert safe_id("x" * 128) == "x" * 128
    assert safe_id("x" * 129) != "x" * 129


@pytest.mark.parametrize(
    "hostile",
    ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "\x00", "x" * 10_000, "", " ", ".hidden",
     "../../../../tmp/pwned", "C:\\Windows\\System32", "~", "~root", "a/../../b", "\u202e..", "..\\..\\x"],
)
def test_session_dir_for_hostile_ids_stays_inside_the_root(tmp_path: Path, hostile: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    before = set(tmp_path.iterdir())
    path = session_dir(root, hostile)
    assert path.is_dir()
    assert path.parent == root / "sessions"
    assert path.resolve().parent == (root / "sessions").resolve()
    assert_safe_name(path.name)
    assert set(tmp_path.iterdir()) == before  # nothing created beside the root
    fsutil.atomic_write(path / "state.json", b"{}")
    assert (root / "sessions" / path.name / "state.json").read_bytes() == b"{}"


# --- planted symlinks ---------------------------------------------------------------------------


@pytest.fixture
def planted(tmp_path: Path):
    """A state root and an outside folder with a file the attacker wants us to touch."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_bytes(b"precious")
    ensure_dir(root / "sessions")
    return root, outside, victim


def snapshot(folder: Path) -> dict[str, tuple[bytes | None, int]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        st_ = p.lstat()
        out[str(p)] = (p.read_bytes() if p.is_file() and not p.is_symlink() else None, st_.st_mode)
    return out


def test_leaf_symlink_is_not_followed(planted) -> None:
    root, outside, victim = planted
    sdir = session_dir(root, "s1")
    before = snapshot(outside)
    for name in ("state.json", "journal.jsonl", "marker", "cursor.json"):
        (sdir / name).symlink_to(victim)
    dangling = sdir / "dangling"
    dangling.symlink_to(outside / "created-by-us")

    with pytest.raises(OSError):
        fsutil.atomic_write(sdir / "state.json", b"evil")
    with pytest.raises(OSError):
        fsutil.append_record(sdir / "journal.jsonl", b"evil")
    assert fsutil.create_exclusive(sdir / "marker", b"evil") is False
    assert fsutil.create_exclusive(dangling, b"evil") is False
    with pytest.raises(OSError):
        fsutil.read_bytes(sdir / "cursor.json")
    with pytest.raises(OSError):
        fsutil.append_record(dangling, b"evil")
    assert snapshot(outside) == before
    assert not (outside / "created-by-us").exists()


def test_symlinked_session_dir_is_set_aside_and_refused_by_ensure_dir(planted) -> None:
    root, outside, victim = planted
    (root / "sessions" / "s2").symlink_to(outside, target_is_directory=True)
    (root / "sessions" / "s2b").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    with pytest.raises(OSError):
        ensure_dir(root / "sessions" / "s2b")
    with pytest.raises(OSError):
        session_dir(root, "s2", create=False)
    sdir = session_dir(root, "s2")  # the link is moved aside (never followed), a real folder made
    assert sdir.is_dir() and not sdir.is_symlink()
    assert [p.name for p in (root / "sessions").iterdir() if p.name.startswith("s2.corrupt-") and p.is_symlink()]
    assert snapshot(outside) == before




@pytest.mark.parametrize("op", ["atomic_write", "append_record", "create_exclusive", "read_bytes"])
def test_symlinked_session_dir_is_not_followed_by_file_primitives(planted, op: str) -> None:
    root, outside, victim = planted
    (root / "sessions" / "s3").symlink_to(outside, target_is_directory=True)
    sdir = root / "sessions" / "s3"  # what session_dir(create=False) returns today
    before = snapshot(outside)
    target = sdir / ("victim" if op == "read_bytes" else "state.json")
    try:
        if op == "atomic_write":
            fsutil.atomic_write(target, b"evil")
        elif op == "append_record":
            fsutil.append_record(target, b"evil")
        elif op == "create_exclusive":
            fsutil.create_exclusive(target, b"evil")
        else:
            assert fsutil.read_bytes(target) != b"precious", "read an outside file through the link"
    except OSError:
        pass
    assert snapshot(outside) == before, "something outside the root changed"




def test_symlinked_sessions_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "sessions").symlink_to(outside, target_is_directory=True)
    try:
        session_dir(root, "s4")
    except OSError:
        pass
    assert list(outside.iterdir()) == [], "session folder created outside the root"


def test_claim_does_not_follow_a_symlinked_source(planted) -> None:
    """rename moves the link itself, never its target."""
    root, outside, victim = planted
    link = root / "pending.toon"
    link.symlink_to(victim)
    assert fsutil.claim(link, root / "claimed.toon") is True
    assert (root / "claimed.toon").is_symlink()
    assert victim.read_bytes() == b"precious"


# --- modes (umask 0) --------------------------------------------------------------------------


@pytest.fixture
def umask0():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_files_are_created_0600_with_umask_0(tmp_path: Path, umask0) -> None:
    folder = tmp_path / "leaf"
    ensure_dir(folder)
    assert mode(folder) == 0o700
    fsutil.atomic_write(folder / "a.json", b"{}")
    fsutil.atomic_write(folder / "b.json", b"{}", durable=False)
    fsutil.append_record(folder / "c.jsonl", b"{}")
    fsutil.create_exclusive(folder / "d", b"x")
    fsutil.create_exclusive(folder / "e")
    for name in "a.json b.json c.jsonl d e".split():
        assert mode(folder / name) == 0o600, name
    # replacing an existing 0644 file leaves it 0600 too
    (folder / "f.json").write_bytes(b"old")
    os.chmod(folder / "f.json", 0o644)
    fsutil.atomic_write(folder / "f.json", b"new")
    assert mode(folder / "f.json") == 0o600


def test_state_root_and_session_dir_leaf_modes_with_umask_0(tmp_path: Path, umask0, monkeypatch) -> None:
    monkeypatch.delenv(paths.STATE_DIR_ENV, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    project = tmp_path / "proj"
    project.mkdir()
    root = paths.state_root(project)
    assert root.is_relative_to(tmp_path / "claude" / "session-state" / "projects")
    for level in (tmp_path / "claude", tmp_path / "claude" / "session-state", root.parent, root):
        assert mode(level) == 0o700, level
    assert mode(root / "project.json") == 0o600
    assert list(project.iterdir()) == []  # nothing in the project
    sdir = session_dir(root, str(uuid.uuid4()))
    assert mode(sdir) == 0o700


def test_intermediate_folders_are_0700_with_umask_0(tmp_path: Path, umask0) -> None:
    """Path.mkdir(parents=True) would create parents 0777 & ~umask; ensure_dir makes each level."""
    root = tmp_path / "root"
    ensure_dir(root)
    sdir = session_dir(root, "s5")
    assert mode(root / "sessions") == 0o700
    ensure_dir(sdir / "markers" / "deep" / "er")
    assert mode(sdir / "markers") == 0o700 and mode(sdir / "markers" / "deep") == 0o700




def test_project_key_is_readable_and_never_shared() -> None:
    """Slugs alone collide (`/a/b-c` and `/a-b/c`); the hash keeps projects apart, the tail stays readable."""
    a, b = paths.project_key(Path("/w/a/b-c")), paths.project_key(Path("/w/a-b/c"))
    assert a != b and a.startswith("w-a-b-c-") and b.startswith("w-a-b-c-")
    long = paths.project_key(Path("/" + "x" * 300 + "/my-project"))
    assert long.startswith("my-project-") and len(long) <= 48 + 13  # whole words of the tail
    assert paths.project_key(Path("/")) .startswith("root-")
    assert paths.project_key(Path("/w/p/")) == paths.project_key(Path("/w/p"))  # same folder, same state
    keys = {paths.project_key(Path(f"/w/{i}")) for i in range(20000)}
    assert len(keys) == 20000
    for key in keys:
        assert_safe_name(key)


def test_safe_id_is_portable_across_file_systems() -> None:
    for name in ("CON", "con", "NUL", "nul.txt", "COM1", "lpt9", "AUX", "PRN.log"):
        assert not re.fullmatch(r"(?i)(con|prn|aux|nul|com\d|lpt\d)(\..*)?", safe_id(name)), name
    for name in ("abc.", "abc-.", "x" * 20 + "."):
        assert not safe_id(name).endswith("."), name
    pairs = [("Session-A", "session-a"), ("ABC", "abc"), ("agent-AB12", "agent-ab12")]
    for a, b in pairs:
        assert safe_id(a).lower() != safe_id(b).lower(), (a, b)
    sid = str(uuid.uuid4())
    assert safe_id(sid) == sid  # Claude Code's lower-case UUIDs stay readable
