"""Valid chain identifiers for tests, made with the same libraries the code uses.

Deterministic: each value is derived from a label, so a test names what it
needs ("btc-1") and gets the same address every run.
"""

from __future__ import annotations

import hashlib

import base58
import bech32m  # type: ignore[import-untyped]

from router.understand.entities import eip55


def _bytes(label: str, n: int) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def btc_p2pkh(label: str) -> str:
    return base58.b58encode_check(b"\x00" + _bytes(label, 20)).decode()


def btc_p2sh(label: str) -> str:
    return base58.b58encode_check(b"\x05" + _bytes(label, 20)).decode()


def btc_bech32(label: str) -> str:
    return str(bech32m.encode("bc", 0, _bytes(label, 20)))


def btc_taproot(label: str) -> str:
    return str(bech32m.encode("bc", 1, _bytes(label, 32)))


def tron(label: str) -> str:
    return base58.b58encode_check(b"\x41" + _bytes(label, 20)).decode()


def xrp(label: str) -> str:
    return base58.b58encode_check(b"\x00" + _bytes(label, 20), alphabet=base58.XRP_ALPHABET).decode()


def eth(label: str) -> str:
    return eip55("0x" + _bytes(label, 20).hex())


def solana(label: str) -> str:
    for i in range(100):  # retry until both letter cases and a digit show (the detector needs them)
        s = base58.b58encode(_bytes(f"{label}#{i}", 32)).decode()
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s
    raise AssertionError("no mixed-case Solana address")


def solana_sig(label: str) -> str:
    return base58.b58encode(_bytes(label, 64)).decode()


def hex64(label: str) -> str:
    return _bytes(label, 32).hex()


def mutate(value: str, pos: int = -5) -> str:
    """The same value with one character changed (to another of its alphabet)."""
    c = value[pos]
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    if all(ch in "0123456789abcdef" for ch in value.lower().removeprefix("0x")):
        alphabet = "0123456789abcdef" if value[pos].islower() or value[pos].isdigit() else "0123456789ABCDEF"
    elif value.lower().startswith("bc1"):
        alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    repl = alphabet[(alphabet.index(c) + 1) % len(alphabet)] if c in alphabet else alphabet[0]
    return value[:pos] + repl + value[pos + 1:] if pos != -1 else value[:pos] + repl
