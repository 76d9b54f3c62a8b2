"""Pseudonyms and their salt (convlog/pseudonyms.py): expected values computed outside the
code (openssl dgst -sha256 -hmac), the salt file made once, kept private, and refused
when it is empty or unreadable."""

from __future__ import annotations

import re
import stat

import pytest

from convlog import LogError
from convlog.pseudonyms import SALT_FILE, check_salt, load_salt, pseudonym

# printf '%s' 12345 | openssl dgst -sha256 -hmac clinic-salt  (first 16 hex digits)
CLINIC = "e22231f0f4738704"
OTHER = "c886861ef213e72e"  # the same id with -hmac other-salt


def test_the_pseudonym_is_the_first_16_hex_digits_of_the_hmac():
    assert pseudonym(12345, "clinic-salt") == CLINIC
    assert pseudonym("12345", "clinic-salt") == CLINIC  # an id as text is the same user
    assert pseudonym(12345, "other-salt") == OTHER


def test_a_configured_salt_is_used_and_no_file_is_made(tmp_path):
    assert load_salt(tmp_path, "clinic-salt") == "clinic-salt"
    assert not (tmp_path / SALT_FILE).exists()
    (tmp_path / SALT_FILE).write_text("")  # an empty file does not matter when the salt is configured
    check_salt(tmp_path, "clinic-salt")
    assert load_salt(tmp_path, "clinic-salt") == "clinic-salt"


def test_without_configuration_a_private_salt_is_made_once(tmp_path):
    data = tmp_path / "new" / "data"
    check_salt(data, None)  # checking makes nothing
    assert not data.exists()
    salt = load_salt(data, None)
    path = data / SALT_FILE
    assert re.fullmatch(r"[0-9a-f]{32}", salt)
    assert path.read_text() == salt + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_salt(data, None) == salt  # kept: the same pseudonyms after a restart
    assert load_salt(tmp_path / "elsewhere", None) != salt  # random, not a constant
    check_salt(data, None)
    existing = tmp_path / "existing"
    existing.mkdir()  # the usual case: the data folder is there, the salt file not yet
    assert re.fullmatch(r"[0-9a-f]{32}", load_salt(existing, None))


def test_a_kept_salt_is_read_without_surrounding_space(tmp_path):
    (tmp_path / SALT_FILE).write_text("  clinic-salt \n")
    assert load_salt(tmp_path, None) == "clinic-salt"
    assert load_salt(tmp_path, "") == "clinic-salt"  # an empty setting is no setting


def test_an_empty_salt_file_is_refused_not_replaced(tmp_path):
    path = tmp_path / SALT_FILE
    path.write_text(" \n")
    for call in (load_salt, check_salt):
        with pytest.raises(LogError) as caught:
            call(tmp_path, None)
        assert str(caught.value) == (
            f"The log salt file {path} is empty: set ARTICLEBOT_LOG_SALT to the salt used so far, or delete the file "
            "to have a new salt made (pseudonyms logged before will then no longer match)."
        )
    assert path.read_text() == " \n"


@pytest.mark.parametrize("make", ["directory", "bytes"])
def test_an_unreadable_salt_file_is_one_sentence(tmp_path, make):
    path = tmp_path / SALT_FILE
    if make == "directory":
        path.mkdir()  # even root cannot read a folder as a file
    else:
        path.write_bytes(b"\xff\xfe\xfa")
    for call in (load_salt, check_salt):
        with pytest.raises(LogError) as caught:
            call(tmp_path, None)
        message = str(caught.value)
        assert message.startswith(f"Cannot read the log salt file {path}: ") and message.endswith(".")
        if make == "directory":  # the system's words, not Python's "[Errno 21] ..." repr
            assert message == f"Cannot read the log salt file {path}: Is a directory."
        else:
            assert "can't decode" in message
