"""Callback signatures and the WXBizMsgCrypt envelope of WeCom (企业微信) and WeChat.

Both platforms sign a callback with SHA-1 over the *sorted* concatenation of strings:

* plain mode (WeChat official account): ``signature = sha1(sort(token, timestamp, nonce))``;
* encrypted mode (WeCom always, WeChat "安全模式"): ``msg_signature =
  sha1(sort(token, timestamp, nonce, encrypt))``, where ``encrypt`` is the base64 AES
  envelope below.

The envelope (WXBizMsgCrypt): ``aes_key = b64decode(EncodingAESKey + "=")`` (43 characters →
32 bytes), AES-256-CBC with ``iv = aes_key[:16]``, PKCS#7 padding to **32-byte** blocks, over
``random(16) + len(msg) as 4 bytes big-endian + msg + receive_id`` (the corp id for WeCom,
the app id for WeChat). The receive id is checked, so a message for another corp or app is
refused even with a valid signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32  # WXBizMsgCrypt pads to 32 bytes, not AES's 16


class CallbackRejectedError(Exception):
    """A callback that must not be acted on: bad signature, bad envelope, wrong receiver.
    ``reason`` says which (never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedCallbackError(CallbackRejectedError):
    """The body is not the flat XML a callback is (answered 400, not 401)."""


def sha1_signature(*parts: str) -> str:
    """SHA-1 hex of the sorted, concatenated ``parts`` (both platforms' signature)."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected: str, *parts: str) -> None:
    """Raise :class:`CallbackRejectedError` unless ``expected`` signs ``parts``."""
    if not expected or not hmac.compare_digest(sha1_signature(*parts), expected.lower()):
        raise CallbackRejectedError("signature mismatch")


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of a 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not base64 (43 characters expected)") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes (43 characters expected)")
    return key


class WXBizMsgCrypt:
    """Verify, decrypt and encrypt callback envelopes for one token / key / receive id."""

    def __init__(self, *, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self._token = token
        self._key = aes_key(encoding_aes_key)
        self._receive_id = receive_id

    # ---------------------------------------------------------------- envelope

    def encrypt(self, plaintext: str, *, random16: bytes | None = None) -> str:
        """The base64 envelope of ``plaintext`` (what the platform sends; fakes use it)."""
        msg = plaintext.encode()
        raw = (random16 or os.urandom(16)) + struct.pack(">I", len(msg)) + msg
        raw += self._receive_id.encode()
        pad = _BLOCK - len(raw) % _BLOCK
        raw += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The plaintext of an envelope; :class:`CallbackRejectedError` if it is not one of
        ours (undecodable, bad padding, another receive id)."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CallbackRejectedError("the envelope is not base64") from exc
        if not data or len(data) % 16:
            raise CallbackRejectedError("the envelope is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        raw = decryptor.update(data) + decryptor.finalize()
        pad = raw[-1]
        if not 1 <= pad <= _BLOCK or len(raw) < 20 + pad:
            raise CallbackRejectedError("the envelope's padding is wrong")
        body = raw[16:-pad]
        (length,) = struct.unpack(">I", body[:4])
        msg, receive_id = body[4 : 4 + length], body[4 + length :]
        if len(msg) != length:
            raise CallbackRejectedError("the envelope's length is wrong")
        if not hmac.compare_digest(receive_id, self._receive_id.encode()):
            raise CallbackRejectedError("the envelope is for another corp or app")
        try:
            return msg.decode()
        except UnicodeDecodeError as exc:
            raise CallbackRejectedError("the envelope is not UTF-8") from exc

    # ---------------------------------------------------------------- callbacks

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """The ``msg_signature`` of ``encrypted``."""
        return sha1_signature(self._token, timestamp, nonce, encrypted)

    def verify_url(self, *, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL check (GET): verify and return the decrypted ``echostr`` to echo."""
        check_signature(msg_signature, self._token, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_message(
        self, *, msg_signature: str, timestamp: str, nonce: str, body: bytes
    ) -> str:
        """A POSTed callback: the ``<Encrypt>`` of its XML body, verified and decrypted."""
        encrypted = xml_fields(body).get("Encrypt", "")
        if not encrypted:
            raise CallbackRejectedError("the body has no <Encrypt> element")
        check_signature(msg_signature, self._token, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt_message(self, plaintext: str, *, timestamp: str, nonce: str) -> str:
        """The XML body the platform would POST for ``plaintext`` (for fakes and tests)."""
        encrypted = self.encrypt(plaintext)
        signature = self.sign(timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )


def xml_fields(body: bytes | str) -> dict[str, str]:
    """The child elements of a callback's flat ``<xml>`` document, as text.

    :class:`MalformedCallbackError` for anything that is not such XML. ElementTree (expat)
    expands no external entities, and a DOCTYPE is refused outright.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if "<!DOCTYPE" in text.upper():
        raise MalformedCallbackError("XML with a DOCTYPE is not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MalformedCallbackError(f"the body is not XML ({exc})") from exc
    return {child.tag: (child.text or "").strip() for child in root}


def xml_lists(body: bytes | str) -> list[dict[str, str]]:
    """The ``<List>`` items nested in a callback (subscribe-message events carry one per
    template: ``<SubscribeMsgSentEvent><List><TemplateId>…</List></SubscribeMsgSentEvent>``),
    each as its child elements' text. Same parsing rules as :func:`xml_fields`."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if "<!DOCTYPE" in text.upper():
        raise MalformedCallbackError("XML with a DOCTYPE is not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MalformedCallbackError(f"the body is not XML ({exc})") from exc
    return [{child.tag: (child.text or "").strip() for child in item} for item in root.iter("List")]
