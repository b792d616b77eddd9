"""JWT encode/decode and the ownership rules."""

import time

import jwt
import pytest

from shared.auth import Role, User, can_read, can_write, decode_token, encode_token
from shared.errors import Unauthorized

SECRET = "k" * 40


def test_round_trip():
    user = decode_token(SECRET, encode_token(SECRET, "alice", "tester"))
    assert user == User("alice", Role.tester)


def test_a_token_id_round_trips_as_jti():
    token = encode_token(SECRET, "ci-bot", "tester", token_id="tok-1")
    assert jwt.decode(token, SECRET, algorithms=["HS256"])["jti"] == "tok-1"
    assert decode_token(SECRET, token) == User("ci-bot", Role.tester, token_id="tok-1")


def test_a_token_without_id_has_none():
    assert decode_token(SECRET, encode_token(SECRET, "alice", "tester")).token_id is None


def test_an_empty_token_id_cannot_be_issued():
    with pytest.raises(ValueError):
        encode_token(SECRET, "alice", "tester", token_id="")


@pytest.mark.parametrize("jti", ["", 5, None, ["tok-1"], {"id": "tok-1"}])
def test_a_jti_that_is_not_a_non_empty_string_is_refused(jti):
    token = jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) + 60, "jti": jti}, SECRET, "HS256")
    with pytest.raises(Unauthorized):
        decode_token(SECRET, token)


def test_unknown_role_cannot_be_issued():
    with pytest.raises(KeyError):
        encode_token(SECRET, "alice", "root")


@pytest.mark.parametrize(
    "token, reason",
    [
        (lambda: jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) - 1}, SECRET, "HS256"), "expired"),
        (lambda: encode_token("other-" + SECRET, "a", "admin"), "Signature"),
        (lambda: jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) + 60}, None, "none"), "alg"),
        (lambda: jwt.encode({"sub": "a", "role": "god", "exp": int(time.time()) + 60}, SECRET, "HS256"), "role"),
        (lambda: jwt.encode({"role": "admin", "exp": int(time.time()) + 60}, SECRET, "HS256"), "sub"),
        (lambda: jwt.encode({"sub": "a", "role": "admin"}, SECRET, "HS256"), "exp"),
        (lambda: "not-a-jwt", "invalid"),
    ],
)
def test_bad_tokens_are_refused(token, reason):
    with pytest.raises(Unauthorized) as exc:
        decode_token(SECRET, token())
    assert reason.lower() in exc.value.message.lower()


def test_hs512_token_with_the_right_key_is_still_refused():
    token = jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) + 60}, SECRET * 2, "HS512")
    with pytest.raises(Unauthorized):
        decode_token(SECRET * 2, token)


def test_ownership_rules():
    alice, bob = User("alice", Role.tester), User("bob", Role.tester)
    viewer, admin = User("v", Role.viewer), User("root", Role.admin)
    assert can_read(alice, "alice") and not can_read(bob, "alice")
    assert can_read(viewer, "alice") and can_read(admin, "alice")
    assert can_write(alice, "alice") and not can_write(bob, "alice")
    assert not can_write(viewer, "v") and can_write(admin, "alice")
