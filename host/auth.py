"""Shared-secret authentication of agent connections (stdlib hmac/secrets/hashlib; numpy-free).

Mutual HMAC-SHA256 challenge-response, run at the start of every TCP connection and every serial session
(RFC 2104 HMAC; the labels keep the two proofs distinct, so neither side can reflect the other's):

    host  -> agent  AUTH       {client_nonce: Nc}                     (32 random bytes, hex)
    agent -> host   CHALLENGE  {agent_nonce: Na, agent_proof: HMAC(key, "oscf-agent" | Nc | Na)}
    host  -> agent  PROVE      {client_proof: HMAC(key, "oscf-client" | Na | Nc)}
    agent -> host   OK {authenticated: true}   or   ERROR kind=auth, and the agent closes the session

The host checks agent_proof before it sends anything else, so a look-alike agent without the key cannot
feed it results. It is authentication only: frames are not encrypted, and after the handshake they are not
signed one by one (see docs/host.md, "Security and reliability").

The key is 32 random bytes stored as 64 hex digits in a file that only its owner may read (mode 0600).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat

KEY_ENV = "OSC_AGENT_KEY"  # path of the key file, for hosts and agents that are not given one explicitly
KEY_BYTES = 32
NONCE_BYTES = 32
MIN_KEY_BYTES = 16


class KeyFileError(ValueError):
    """A key file that is missing, readable by others or not a key; the message says what to do."""


def make_key(path: str) -> str:
    """Create a new random key file at `path` (mode 0600, never overwriting); returns the path."""
    if os.path.isdir(path):
        raise KeyFileError(f"{path} is a directory; give the path of the new key file, e.g. "
                           f"{os.path.join(path, 'agent.key')}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{path} already exists: keep it, or delete it first to make a new key") from None
    except OSError as e:
        raise KeyFileError(f"cannot create key file {path}: {e.strerror}") from None
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # whatever the umask was
        f.write(secrets.token_hex(KEY_BYTES) + "\n")
    return path


def load_key(path: str) -> bytes:
    """The key in `path`. Refuses a file that group or others can read or write (chmod 600), a non-regular
    file and anything that is not 32..512 hex digits."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist: create one with "
                           f"`python -m host.agent --make-key {path}`") from None
    except OSError as e:
        raise KeyFileError(f"cannot open key file {path}: {e.strerror} (it must be a regular file, not a link)") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # before fdopen, which refuses a directory with a bare IsADirectoryError
        os.close(fd)
        raise KeyFileError(f"key file {path} is {'a directory' if stat.S_ISDIR(st.st_mode) else 'not a regular file'}"
                           f"; give the key file itself (make one with `python -m host.agent --make-key PATH`)")
    with os.fdopen(fd, "rb") as f:
        if st.st_mode & 0o077:
            raise KeyFileError(f"key file {path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):04o}): "
                               f"run `chmod 600 {path}`")
        raw = f.read(1025)
    text = raw.strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if not MIN_KEY_BYTES <= len(key) <= 512:
        raise KeyFileError(f"key file {path} does not hold a key ({2 * MIN_KEY_BYTES}..1024 hex digits): "
                           "make one with `python -m host.agent --make-key PATH`")
    return key


def key_from(path: str | None) -> bytes | None:
    """The key in `path`, else in the file named by $OSC_AGENT_KEY, else None."""
    path = path or os.environ.get(KEY_ENV) or None
    return None if path is None else load_key(path)


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def _proof(key: bytes, label: bytes, a: str, b: str) -> str:
    return hmac.new(key, label + b"|" + bytes.fromhex(a) + bytes.fromhex(b), hashlib.sha256).hexdigest()


def agent_proof(key: bytes, client_nonce: str, agent_nonce: str) -> str:
    return _proof(key, b"oscf-agent", client_nonce, agent_nonce)


def client_proof(key: bytes, client_nonce: str, agent_nonce: str) -> str:
    return _proof(key, b"oscf-client", agent_nonce, client_nonce)


def verify(expected: str, got: str) -> bool:
    """Constant-time comparison of two proofs."""
    return hmac.compare_digest(expected.encode(), got.encode())
