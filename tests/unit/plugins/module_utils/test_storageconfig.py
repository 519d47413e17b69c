# Unit tests of _storageconfig: YBA's masking (CommonUtils, Java regex semantics), normalisation and comparison.
from __future__ import annotations

import pytest

from ansible_collections.yba.remediation.plugins.module_utils import _storageconfig as sc

SECRET = "AWS_SECRET_ACCESS_KEY"


# Expected values printed by Java itself (jshell, "x.replaceAll(\"(?<!^.?).(?!.?$)\", \"*\")"), the regex of
# CommonUtils.maskRegex; Python's re cannot compile that look-behind, so the old module failed at import.
@pytest.mark.parametrize("value, masked", [
    ("abcde", "ab*de"),
    ("abcdef", "ab**ef"),
    ("AKIAEXAMPLE", "AK*******LE"),
    ("a\nbcdef", "a\n***ef"),
    ("abcdef\n", "ab**ef\n"),
    ("ab\ncd\nef", "ab\n**\nef"),
    ("abc\r\ndef", "ab*\r\n*ef"),
    ("abcdefg\n\n", "ab*****\n\n"),
    ("h\u00e9llo w\u00f6rld", "h\u00e9*******ld"),
    ("ab\u2028cdef", "ab\u2028**ef"),
])
def test_mask_follows_java(value, masked):
    assert sc.mask_value(SECRET, value) == masked
    assert sc.is_masked(SECRET, masked)  # a mask is its own mask: YBA's unmaskConfig keeps the stored secret
    assert not sc.is_masked(SECRET, value)


@pytest.mark.parametrize("name, value", [
    (SECRET, "abcd"),  # < 5 characters
    (SECRET, ""),
    (SECRET, None),
    (SECRET, 12345),  # JsonNode.textValue() is null for a number
    ("PROXY_PASSWORD", "a-long-password"),  # strictly sensitive
    ("db_password", "xy"),
])
def test_full_mask(name, value):
    assert sc.mask_value(name, value) == "********"


def test_short_values_by_utf16_length():
    # String.length() counts UTF-16 code units: two astral characters are 4 units, two more make 6 (partial mask)
    assert sc.mask_value(SECRET, "\U0001F600\U0001F600") == "********"
    assert sc.mask_value(SECRET, "ab\U0001F600") == "********"  # 4 units
    # Java (jshell): "abc\uD83D\uDE00" (5 units) stays as is, its "." taking the surrogate pair as one character
    assert sc.mask_value(SECRET, "abc\U0001F600") == "abc\U0001F600"
    assert sc.mask_value(SECRET, "abcd\U0001F600xy") == "ab***xy"


@pytest.mark.parametrize("name, sensitive", [
    ("AWS_ACCESS_KEY_ID", True), ("AWS_SECRET_ACCESS_KEY", True), ("GCS_CREDENTIALS_JSON", True),
    ("apiToken", True), ("IAM_POLICY", True), ("PROXY_PASSWORD", True), ("BACKUP_LOCATION", False),
    ("AWS_HOST_BASE", False), ("IAM_INSTANCE_PROFILE", False), ("PATH_STYLE_ACCESS", False),
    ("AWS_SESSION_TOKEN", False),  # YBA does not mask it: none of its words
])
def test_sensitive_fields(name, sensitive):
    assert sc.is_sensitive(name) is sensitive


def test_mask_data_top_level_only_and_idempotent():
    data = {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI", "BACKUP_LOCATION": "s3://b/p",
            "PROXY_SETTINGS": {"PROXY_PASSWORD": "pw"}}
    masked = sc.mask_data(data)
    assert masked == {"AWS_SECRET_ACCESS_KEY": "wJ*********MI", "BACKUP_LOCATION": "s3://b/p",
                      "PROXY_SETTINGS": {"PROXY_PASSWORD": "pw"}}  # CommonUtils.processData: top-level fields
    assert sc.mask_data(masked) == masked


@pytest.mark.parametrize("a, b", [
    (True, "true"), ("TRUE", True), (False, "false"), (3600, "3600"), (1.5, "1.50"), ("", None),
    ({"X": "true", "Y": None}, {"X": True}), ([1, "true"], ["1", True]),
])
def test_normalize_equal(a, b):
    assert sc.normalize(a) == sc.normalize(b)


@pytest.mark.parametrize("a, b", [(True, "false"), ("3600", "360"), ("s3://b/p", "s3://b/q"), ("x", None)])
def test_normalize_differs(a, b):
    assert sc.normalize(a) != sc.normalize(b)


def test_changed_fields_compare_values_and_masks():
    current = {"BACKUP_LOCATION": "s3://b/p", "AWS_HOST_BASE": "http://10.0.0.1:9000", "PATH_STYLE_ACCESS": "true",
               "AWS_ACCESS_KEY_ID": "AK*******LE", "AWS_SECRET_ACCESS_KEY": "se*******et"}
    same = {"BACKUP_LOCATION": "s3://b/p", "PATH_STYLE_ACCESS": True, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret-key-et"[:0] + "se1234567et", "SIGNING_REGION": None}
    assert sc.changed_fields(same, current) == []
    other = dict(same, AWS_HOST_BASE="http://10.0.0.2:9000", AWS_SECRET_ACCESS_KEY="another-secret")
    assert sc.changed_fields(other, current) == ["AWS_HOST_BASE", "AWS_SECRET_ACCESS_KEY"]
    # update_secrets=on_create on an existing config: the secrets are not sent, so not compared
    assert sc.changed_fields(other, current, send_secrets=False) == ["AWS_HOST_BASE"]
    # a secret the config does not have yet differs
    assert sc.changed_fields({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, {}) == ["AWS_ACCESS_KEY_ID"]


def test_body_keeps_masks_and_sends_secrets_only_when_asked():
    current = {"BACKUP_LOCATION": "s3://b/p", "AWS_SECRET_ACCESS_KEY": "se*******et", "SIGNING_REGION": "us-east-1"}
    desired = {"AWS_HOST_BASE": "http://h:9000", "AWS_SECRET_ACCESS_KEY": "new-secret-value", "SIGNING_REGION": None}
    assert sc.body_data(desired, current, send_secrets=False) == {
        "BACKUP_LOCATION": "s3://b/p", "AWS_SECRET_ACCESS_KEY": "se*******et", "SIGNING_REGION": "us-east-1",
        "AWS_HOST_BASE": "http://h:9000"}
    assert sc.body_data(desired, current)["AWS_SECRET_ACCESS_KEY"] == "new-secret-value"
    assert sc.planned_data(desired, current)["AWS_SECRET_ACCESS_KEY"] == "ne************ue"


def test_probe_data_uses_only_secrets_yba_will_use():
    current = {"BACKUP_LOCATION": "s3://b/p", "AWS_ACCESS_KEY_ID": "AK*******LE",
               "AWS_SECRET_ACCESS_KEY": "se*******et"}
    # nothing given: the stored secrets are known by their mask only
    data, unknown = sc.probe_data({"AWS_HOST_BASE": "http://h"}, current)
    assert unknown == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] and "AWS_ACCESS_KEY_ID" not in data
    # on_create, same secrets given (same mask): the probe uses them
    given = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "se1234567et"}
    data, unknown = sc.probe_data(given, current, send_secrets=False)
    assert unknown == [] and data["AWS_SECRET_ACCESS_KEY"] == "se1234567et"
    # on_create, another secret given: YBA keeps the stored one, which the probe cannot know
    data, unknown = sc.probe_data(dict(given, AWS_SECRET_ACCESS_KEY="other-secret"), current, send_secrets=False)
    assert unknown == ["AWS_SECRET_ACCESS_KEY"] and "AWS_SECRET_ACCESS_KEY" not in data


def test_location_change():
    moved = sc.location_change({"BACKUP_LOCATION": "s3://b/q"}, {"BACKUP_LOCATION": "s3://b/p"})
    assert moved == ("s3://b/p", "s3://b/q")
    assert sc.location_change({"BACKUP_LOCATION": "s3://b/p"}, {"BACKUP_LOCATION": "s3://b/p"}) is None
    assert sc.location_change({}, {"BACKUP_LOCATION": "s3://b/p"}) is None


def test_secret_comparable():
    assert sc.secret_comparable(SECRET, "abcde")
    assert not sc.secret_comparable(SECRET, "abcd")
    assert not sc.secret_comparable("PROXY_PASSWORD", "a-long-password")


def test_merge_credentials_refuses_secrets_in_data():
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY belongs in credentials"):
        sc.merge_credentials({"AWS_SECRET_ACCESS_KEY": "x"}, {})
    with pytest.raises(ValueError, match="move AWS_HOST_BASE to data"):
        sc.merge_credentials({}, {"AWS_HOST_BASE": "x"})
    assert sc.merge_credentials({"A": 1}, {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": ""}) == {
        "A": 1, "AWS_ACCESS_KEY_ID": "k"}


def test_find():
    configs = [{"configUUID": "U1", "configName": "a", "type": "STORAGE"},
               {"configUUID": "U2", "configName": "b", "type": "ALERTS"}]
    assert sc.find_any(configs, uuid="u2")["configName"] == "b"
    assert sc.find_any(configs, name="a")["configUUID"] == "U1"
    assert sc.find_any(configs, name="zz") is None


def test_stored_secrets_compares_by_yba_mask():
    stored = sc.mask_data({"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE1", "AWS_SECRET_ACCESS_KEY": "secretvalue",
                           "PROXY_PASSWORD": "pw-long-enough"})
    got = sc.stored_secrets(stored, {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE1", "AWS_SECRET_ACCESS_KEY": "otherkey99",
                                     "PROXY_PASSWORD": "pw-long-enough", "AWS_SESSION_TOKEN": ""})
    assert got == {"AWS_ACCESS_KEY_ID": "same", "AWS_SECRET_ACCESS_KEY": "differs", "PROXY_PASSWORD": "unknown"}


def test_credentials_for_a_config_by_name_then_uuid_then_the_star_entry():
    config = {"configName": "s3-prod", "configUUID": "c-1"}
    by_name, by_uuid, star = ({"AWS_ACCESS_KEY_ID": k} for k in ("name", "uuid", "star"))
    assert sc.credentials_for(config, {"s3-prod": by_name, "c-1": by_uuid, "*": star}) == by_name
    assert sc.credentials_for(config, {"c-1": by_uuid, "*": star}) == by_uuid
    assert sc.credentials_for(config, {"other": by_name, "*": star}) == star
    assert sc.credentials_for(config, {"s3-prod": {}, "*": star}) == star  # an empty entry is no entry
    assert sc.credentials_for(config, None) == {} and sc.credentials_for(config, {"other": by_name}) == {}
