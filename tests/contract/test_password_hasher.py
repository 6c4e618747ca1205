"""Contract of the ``PasswordHasher`` port, and ``Argon2PasswordHasher``'s parameters."""

from __future__ import annotations

import dataclasses

import pytest
from argon2 import Parameters, Type
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.passwords import DEFAULT_PARAMETERS, TEST_PARAMETERS, Argon2PasswordHasher
from core.errors import InvalidInput
from core.ports import PasswordHasher

OTHER_TEST_PARAMETERS = dataclasses.replace(TEST_PARAMETERS, time_cost=2)


@pytest.fixture(scope="module", params=["argon2id"])
def hasher(request: pytest.FixtureRequest) -> PasswordHasher:
    """One param per ``PasswordHasher`` adapter, at parameters cheap enough for tests."""
    assert request.param == "argon2id"
    return Argon2PasswordHasher(TEST_PARAMETERS)


@settings(max_examples=30, deadline=None)
@given(password=st.text(max_size=64))
def test_any_password_verifies_against_its_own_hash(password: str) -> None:
    hasher = Argon2PasswordHasher(TEST_PARAMETERS)
    assert hasher.verify(hasher.hash(password), password)


def test_hashes_are_salted(hasher: PasswordHasher) -> None:
    first, second = hasher.hash("correct horse"), hasher.hash("correct horse")
    assert first != second
    assert hasher.verify(first, "correct horse")
    assert hasher.verify(second, "correct horse")


def test_the_hash_does_not_contain_the_password(hasher: PasswordHasher) -> None:
    assert "correct horse" not in hasher.hash("correct horse")


@pytest.mark.parametrize(
    "attempt", ["correct hors", "Correct horse", "correct horse ", "", "correct\x00horse"]
)
def test_a_wrong_password_does_not_verify(hasher: PasswordHasher, attempt: str) -> None:
    assert hasher.verify(hasher.hash("correct horse"), attempt) is False


def test_an_empty_password_verifies_only_as_empty(hasher: PasswordHasher) -> None:
    empty = hasher.hash("")
    assert hasher.verify(empty, "")
    assert not hasher.verify(empty, " ")


def test_a_password_with_a_lone_surrogate_hashes_and_verifies(hasher: PasswordHasher) -> None:
    odd = "pass\udc80word"
    assert hasher.verify(hasher.hash(odd), odd)
    assert not hasher.verify(hasher.hash(odd), "pass\ufffdword")


def _truncated(hasher: PasswordHasher) -> str:
    return hasher.hash("pw")[:-6]


@pytest.mark.parametrize(
    "malformed",
    [
        pytest.param(lambda h: "", id="empty"),
        pytest.param(lambda h: "pw", id="the-password-itself"),
        pytest.param(lambda h: "$argon2id$", id="header-only"),
        pytest.param(lambda h: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$", id="no-digest"),
        pytest.param(_truncated, id="truncated"),
        pytest.param(lambda h: h.hash("pw").replace("$v=19$", "$v=99$"), id="unknown-version"),
        pytest.param(lambda h: h.hash("pw") + "é", id="not-ascii"),
        pytest.param(lambda h: "$2b$12$" + "a" * 53, id="bcrypt"),
        pytest.param(lambda h: "scrypt:32768:8:1$salt$" + "0" * 64, id="werkzeug-scrypt"),
    ],
)
def test_a_malformed_hash_verifies_nothing_and_needs_a_rehash(
    hasher: PasswordHasher, malformed: object
) -> None:
    assert callable(malformed)
    password_hash = malformed(hasher)
    assert hasher.verify(password_hash, "pw") is False
    assert hasher.needs_rehash(password_hash) is True


def test_a_hash_made_with_the_current_parameters_needs_no_rehash(hasher: PasswordHasher) -> None:
    assert hasher.needs_rehash(hasher.hash("pw")) is False


def test_a_hash_made_with_other_parameters_still_verifies_but_needs_a_rehash() -> None:
    old = Argon2PasswordHasher(OTHER_TEST_PARAMETERS).hash("pw")
    current = Argon2PasswordHasher(TEST_PARAMETERS)
    assert current.verify(old, "pw")
    assert current.needs_rehash(old) is True
    assert current.needs_rehash(current.hash("pw")) is False


def test_by_default_hashes_are_argon2id_at_rfc_9106_low_memory_parameters() -> None:
    hasher = Argon2PasswordHasher()
    password_hash = hasher.hash("pw")
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.parameters == DEFAULT_PARAMETERS
    assert hasher.verify(password_hash, "pw")
    assert hasher.needs_rehash(Argon2PasswordHasher(TEST_PARAMETERS).hash("pw")) is True


def test_parameters_other_than_argon2id_are_refused() -> None:
    argon2i = Parameters(**{**dataclasses.asdict(TEST_PARAMETERS), "type": Type.I})
    with pytest.raises(InvalidInput, match="argon2id"):
        Argon2PasswordHasher(argon2i)
