"""Contract of the ``Cipher`` port, and ``AesGcmCipher``'s key specs and token format."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.crypto import AesGcmCipher, generate_key_spec
from core.errors import CryptoError, InvalidInput
from core.ports import Cipher

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
OTHER_KEY = bytes(range(200, 232))


def spec_entry(key_id: str, key: bytes) -> str:
    return f"{key_id}:{base64.b64encode(key).decode()}"


OLD = spec_entry("old", OLD_KEY)
NEW = spec_entry("new", NEW_KEY)
OTHER = spec_entry("other", OTHER_KEY)
KEY_MATERIAL = [
    encode(key).decode()
    for key in (OLD_KEY, NEW_KEY, OTHER_KEY)
    for encode in (base64.b64encode, base64.urlsafe_b64encode)
]


def assert_no_key_material(message: str) -> None:
    for material in KEY_MATERIAL:
        assert material not in message
        assert material[:12] not in message


@pytest.fixture(scope="module", params=["aesgcm"])
def make_cipher(request: pytest.FixtureRequest) -> type[AesGcmCipher]:
    """Builds a cipher from a key spec; one param per ``Cipher`` adapter."""
    assert request.param == "aesgcm"
    return AesGcmCipher


@pytest.fixture(scope="module")
def cipher(make_cipher: type[AesGcmCipher]) -> Cipher:
    return make_cipher.from_spec(f"{NEW},{OLD}")


# --- round trip ---------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(plaintext=st.binary(max_size=2048), associated_data=st.binary(max_size=64))
def test_any_bytes_with_any_associated_data_come_back_unchanged(
    plaintext: bytes, associated_data: bytes
) -> None:
    cipher = AesGcmCipher.from_spec(f"{NEW},{OLD}")
    token = cipher.encrypt(plaintext, associated_data=associated_data)
    assert cipher.decrypt(token, associated_data=associated_data) == plaintext


def test_a_token_is_versioned_text_naming_the_current_key(cipher: Cipher) -> None:
    token = cipher.encrypt(b"shpat_secret")
    version, key_id, payload = token.split(".")
    assert (version, key_id) == ("v1", "new")
    assert payload.isascii()
    assert b"shpat_secret" not in base64.urlsafe_b64decode(payload + "==")
    # nonce (12) + ciphertext (same length as the plaintext) + tag (16)
    assert len(base64.urlsafe_b64decode(payload + "==")) == 12 + len(b"shpat_secret") + 16


def test_the_same_plaintext_seals_differently_each_time(cipher: Cipher) -> None:
    tokens = {cipher.encrypt(b"same") for _ in range(20)}
    assert len(tokens) == 20
    assert {cipher.decrypt(token) for token in tokens} == {b"same"}


def test_empty_plaintext_round_trips(cipher: Cipher) -> None:
    assert cipher.decrypt(cipher.encrypt(b"")) == b""


# --- associated data ----------------------------------------------------------------------------


def test_a_token_opens_only_with_the_associated_data_it_was_sealed_with(cipher: Cipher) -> None:
    token = cipher.encrypt(b"access-token", associated_data=b"integration:1")
    assert cipher.decrypt(token, associated_data=b"integration:1") == b"access-token"
    with pytest.raises(CryptoError):
        cipher.decrypt(token, associated_data=b"integration:2")
    with pytest.raises(CryptoError):
        cipher.decrypt(token)


def test_a_token_sealed_without_associated_data_does_not_open_with_some(cipher: Cipher) -> None:
    token = cipher.encrypt(b"access-token")
    with pytest.raises(CryptoError):
        cipher.decrypt(token, associated_data=b"integration:1")


# --- rotation -----------------------------------------------------------------------------------


def test_a_rotated_cipher_opens_old_tokens_and_seals_with_the_new_key() -> None:
    before = AesGcmCipher.from_spec(OLD)
    after = AesGcmCipher.from_spec(f"{NEW},{OLD}")
    old_token = before.encrypt(b"token", associated_data=b"ad")

    assert after.decrypt(old_token, associated_data=b"ad") == b"token"
    new_token = after.encrypt(b"token", associated_data=b"ad")
    assert after.key_id_of(new_token) == "new"
    with pytest.raises(CryptoError, match="unknown key 'new'"):
        before.decrypt(new_token, associated_data=b"ad")


def test_a_rolled_back_key_order_still_opens_tokens_of_the_newer_key() -> None:
    rotated = AesGcmCipher.from_spec(f"{NEW},{OLD}")
    rolled_back = AesGcmCipher.from_spec(f"{OLD},{NEW}")
    token = rotated.encrypt(b"token")

    assert rolled_back.decrypt(token) == b"token"
    assert rolled_back.key_id_of(rolled_back.encrypt(b"token")) == "old"


def test_rotate_reseals_an_old_token_with_the_current_key() -> None:
    old_token = AesGcmCipher.from_spec(OLD).encrypt(b"token", associated_data=b"ad")
    cipher = AesGcmCipher.from_spec(f"{NEW},{OLD}")

    rotated = cipher.rotate(old_token, associated_data=b"ad")

    assert cipher.key_id_of(rotated) == "new"
    assert AesGcmCipher.from_spec(NEW).decrypt(rotated, associated_data=b"ad") == b"token"


def test_rotate_leaves_a_current_token_as_it_is(cipher: AesGcmCipher) -> None:
    token = cipher.encrypt(b"token", associated_data=b"ad")
    assert cipher.rotate(token, associated_data=b"ad") == token


def test_rotate_refuses_a_token_it_cannot_open(cipher: AesGcmCipher) -> None:
    old_token = AesGcmCipher.from_spec(OLD).encrypt(b"token", associated_data=b"ad")
    current_token = cipher.encrypt(b"token", associated_data=b"ad")
    with pytest.raises(CryptoError):
        cipher.rotate(old_token, associated_data=b"other")
    with pytest.raises(CryptoError):
        cipher.rotate(current_token, associated_data=b"other")


def test_key_ids_lists_the_current_key_first(cipher: AesGcmCipher) -> None:
    assert cipher.key_ids == ("new", "old")
    assert cipher.current_key_id == "new"


# --- tampering ----------------------------------------------------------------------------------


def _flip_payload_byte(token: str, index: int) -> str:
    prefix, _, payload = token.rpartition(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[index] ^= 0x01
    return f"{prefix}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def test_changing_any_byte_of_nonce_ciphertext_or_tag_is_detected(cipher: Cipher) -> None:
    token = cipher.encrypt(b"sixteen byte msg", associated_data=b"ad")
    payload_length = 12 + 16 + 16
    for index in range(payload_length):
        tampered = _flip_payload_byte(token, index)
        with pytest.raises(CryptoError, match="failed authentication"):
            cipher.decrypt(tampered, associated_data=b"ad")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_changing_any_character_of_a_token_is_detected(data: st.DataObject) -> None:
    cipher = AesGcmCipher.from_spec(f"{NEW},{OLD}")
    token = cipher.encrypt(b"access-token", associated_data=b"ad")
    index = data.draw(st.integers(0, len(token) - 1), label="index")
    replacement = data.draw(
        st.characters(codec="ascii").filter(lambda c: c != token[index]), label="replacement"
    )
    tampered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(CryptoError):
        cipher.decrypt(tampered, associated_data=b"ad")


def test_a_token_relabelled_with_another_held_key_id_does_not_open(cipher: Cipher) -> None:
    token = cipher.encrypt(b"token")
    relabelled = token.replace("v1.new.", "v1.old.", 1)
    with pytest.raises(CryptoError, match="'old' failed authentication"):
        cipher.decrypt(relabelled)


def test_a_token_relabelled_with_another_id_of_the_same_key_does_not_open() -> None:
    # The key id is authenticated, not merely used to pick the key.
    renamed = AesGcmCipher.from_spec(f"{spec_entry('renamed', NEW_KEY)},{NEW}")
    token = renamed.encrypt(b"token")
    relabelled = token.replace("v1.renamed.", "v1.new.", 1)
    with pytest.raises(CryptoError, match="failed authentication"):
        renamed.decrypt(relabelled)


_BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_a_token_with_stray_bits_in_its_last_character_does_not_open(cipher: Cipher) -> None:
    # An empty plaintext makes a 28-byte payload: its last character carries 4 unused bits,
    # which a lenient decoder would ignore. One sealed value has one spelling.
    token = cipher.encrypt(b"")
    last = _BASE64URL_ALPHABET.index(token[-1])
    assert last & 0b1111 == 0
    for stray in (0b0001, 0b0100, 0b1000):
        respelled = token[:-1] + _BASE64URL_ALPHABET[last | stray]
        payloads = (spelling.rpartition(".")[2] + "==" for spelling in (token, respelled))
        assert len(set(map(base64.urlsafe_b64decode, payloads))) == 1
        with pytest.raises(CryptoError, match="not valid base64url"):
            cipher.decrypt(respelled)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        pytest.param(lambda t: t.replace("v1.", "v2.", 1), "not a v1 token", id="other-version"),
        pytest.param(lambda t: t.split(".", 1)[1], "not a v1 token", id="no-version"),
        pytest.param(lambda t: t.rpartition(".")[0], "not a v1 token", id="no-payload-part"),
        # Whether a cut or extended payload still decodes depends on its random bits: any
        # ``CryptoError`` will do (``None``), as long as it is one.
        pytest.param(lambda t: t[:-1], None, id="last-character-dropped"),
        pytest.param(lambda t: t[:-2], None, id="last-2-characters-dropped"),
        pytest.param(lambda t: t[:-4], "failed authentication", id="last-3-bytes-dropped"),
        pytest.param(lambda t: t[: len("v1.new.") + 16], "truncated", id="only-a-nonce-left"),
        pytest.param(lambda t: t + "A", None, id="character-appended"),
        pytest.param(lambda t: t + "AAAA", "failed authentication", id="3-bytes-appended"),
        pytest.param(lambda t: t + "==", "not valid base64url", id="padding-appended"),
        pytest.param(lambda t: t[:12] + "!" + t[13:], "not valid base64url", id="non-base64"),
        pytest.param(lambda t: t.replace(".new.", ".n w.", 1), "malformed key id", id="bad-key-id"),
        pytest.param(lambda t: t.replace(".new.", "..", 1), "malformed key id", id="no-key-id"),
        pytest.param(lambda t: "", "not a v1 token", id="empty"),
        pytest.param(lambda t: "v1.new.", "truncated", id="empty-payload"),
    ],
)
def test_a_malformed_or_truncated_token_raises_crypto_error(
    cipher: Cipher, mangle: object, message: str | None
) -> None:
    assert callable(mangle)
    token = cipher.encrypt(b"a secret value", associated_data=b"ad")
    with pytest.raises(CryptoError, match=message) as raised:
        cipher.decrypt(mangle(token), associated_data=b"ad")
    assert "a secret value" not in str(raised.value)
    assert_no_key_material(str(raised.value))


def test_a_token_of_an_unknown_key_names_only_the_key_id(cipher: Cipher) -> None:
    foreign = AesGcmCipher.from_spec(OTHER).encrypt(b"a secret value")
    with pytest.raises(CryptoError) as raised:
        cipher.decrypt(foreign)
    assert str(raised.value) == "ciphertext was sealed with unknown key 'other'"
    assert raised.value.code == "crypto_error"


def test_a_token_under_an_unknown_key_of_the_same_id_does_not_open(cipher: Cipher) -> None:
    impostor = AesGcmCipher.from_spec(spec_entry("new", OTHER_KEY)).encrypt(b"token")
    with pytest.raises(CryptoError) as raised:
        cipher.decrypt(impostor)
    assert_no_key_material(str(raised.value))
    assert impostor.rpartition(".")[2] not in str(raised.value)


# --- key specs ----------------------------------------------------------------------------------


def test_the_first_key_of_a_spec_seals_and_every_key_opens() -> None:
    cipher = AesGcmCipher.from_spec(f" {NEW} , {OLD},{OTHER} ")
    assert cipher.current_key_id == "new"
    for spec in (OLD, OTHER):
        assert cipher.decrypt(AesGcmCipher.from_spec(spec).encrypt(b"x")) == b"x"


def test_a_spec_accepts_url_safe_and_unpadded_base64() -> None:
    key = bytes([0xFB] * 32)  # encodes with '+'/'/' in standard base64, '-'/'_' in url-safe
    standard = AesGcmCipher.from_spec(f"k:{base64.b64encode(key).decode()}")
    url_safe = AesGcmCipher.from_spec(f"k:{base64.urlsafe_b64encode(key).decode().rstrip('=')}")
    assert url_safe.decrypt(standard.encrypt(b"same key")) == b"same key"


_SHORT = base64.b64encode(bytes(16)).decode()
_LONG = base64.b64encode(bytes(range(48))).decode()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("", "TOKEN_ENCRYPTION_KEYS is empty", id="empty"),
        pytest.param("   ", "TOKEN_ENCRYPTION_KEYS is empty", id="blank"),
        pytest.param(f"{NEW},", "entry 2 is empty", id="trailing-comma"),
        pytest.param(f"{NEW},,{OLD}", "entry 2 is empty", id="double-comma"),
        pytest.param(base64.b64encode(NEW_KEY).decode(), "not of the form", id="no-key-id"),
        pytest.param(f"new:{_SHORT}", "must be 32 bytes .* not 16", id="key-too-short"),
        pytest.param(f"new:{_LONG}", "must be 32 bytes .* not 48", id="key-too-long"),
        pytest.param("new:", "not valid base64", id="no-key"),
        pytest.param(f"new:{NEW.split(':')[1][:-3]}*==", "not valid base64", id="bad-base64"),
        pytest.param(f"new:{NEW.split(':')[1][4:]}", "not 29", id="first-characters-lost"),
        pytest.param(f"{NEW},{spec_entry('new', OLD_KEY)}", "'new' appears more", id="dup-id"),
        pytest.param(f"n w:{NEW.split(':')[1]}", "key id must be", id="id-with-space"),
        pytest.param(f"a.b:{NEW.split(':')[1]}", "key id must be", id="id-with-dot"),
        pytest.param(f":{NEW.split(':')[1]}", "key id must be", id="empty-id"),
        pytest.param(f"{'k' * 33}:{NEW.split(':')[1]}", "key id must be", id="id-too-long"),
        pytest.param(f"{NEW.split(':')[1]}:new", "key id must be", id="key-and-id-swapped"),
    ],
)
def test_a_malformed_spec_is_refused_in_one_line_without_key_material(
    spec: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        AesGcmCipher.from_spec(spec)
    text = str(raised.value)
    assert text.startswith("TOKEN_ENCRYPTION_KEYS")
    assert "\n" not in text
    assert_no_key_material(text)
    assert raised.value.code == "invalid_input"


def test_error_messages_can_name_another_source() -> None:
    with pytest.raises(InvalidInput, match=r"^data/keys entry 1 \(key id 'k'\)"):
        AesGcmCipher.from_spec(f"k:{_SHORT}", name="data/keys")


def test_generated_specs_are_accepted_and_never_repeat() -> None:
    first, second = generate_key_spec("k1"), generate_key_spec("k2")
    cipher = AesGcmCipher.from_spec(f"{first},{second}")
    assert cipher.key_ids == ("k1", "k2")
    assert first.split(":")[1] != second.split(":")[1]
    assert len(base64.b64decode(first.split(":")[1])) == 32


def test_a_generated_spec_needs_a_well_formed_key_id() -> None:
    with pytest.raises(InvalidInput, match="key id must be"):
        generate_key_spec("bad id")


def test_the_cipher_repr_shows_key_ids_but_no_keys() -> None:
    cipher = AesGcmCipher.from_spec(f"{NEW},{OLD}")
    text = repr(cipher)
    assert "new" in text
    assert_no_key_material(text)
    assert str(list(NEW_KEY)[:8])[1:-1] not in text
