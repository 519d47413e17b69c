# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: YBA storage configs through the API (find, mask, compare, write).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What YBA does with a storage config's ``data``, as pure functions.

Masking follows ``CommonUtils`` (managed/src/main/java/com/yugabyte/yw/models/helpers/CommonUtils.java): every
top-level field whose upper-cased name contains KEY, SECRET, CREDENTIALS, API, POLICY or PASSWORD is sensitive;
PASSWORD fields, missing values and values shorter than 5 characters become ``********``, the others keep their
first and last two characters (``maskRegex = "(?<!^.?).(?!.?$)"`` applied with Java's regex semantics). On edit,
``unmaskConfig`` keeps the stored secret for every sensitive value equal to its own mask, so sending back what
``GET configs`` answered keeps the secrets, and idempotency can only compare ``mask(desired) == stored mask``.
YBA stores ``data`` as sent (the UI sends booleans, Terraform the strings "true"/"false"): ``normalize`` before
comparing.
"""
from __future__ import annotations

import re
import typing as t

STORAGE_TYPES = ("S3", "GCS", "AZ", "NFS")  # CustomerConfig name of a STORAGE config
MASKED_FIELD_VALUE = "********"  # CommonUtils.MASKED_FIELD_VALUE
# java.util.regex line terminators (neither UNIX_LINES nor DOTALL): "." does not match them and "$" matches before
# one that ends the input.
_JAVA_LINE_TERMINATORS = frozenset("\n\r\u0085\u2028\u2029")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def is_strictly_sensitive(name: str) -> bool:
    """CommonUtils.isStrictlySensitiveField."""
    return "PASSWORD" in name.upper()


def is_sensitive(name: str) -> bool:
    """CommonUtils.isSensitiveField: YBA masks every top-level data field whose name says it holds a secret."""
    upper = name.upper()
    return is_strictly_sensitive(upper) or any(word in upper for word in ("KEY", "SECRET", "CREDENTIALS", "API",
                                                                          "POLICY"))


def _java_dollar(s: str, i: int) -> bool:
    """Java's ``$`` without MULTILINE at index i: the end of input, or before the line terminator ending it
    (``\\r\\n`` counts as one; never between ``\\r`` and ``\\n``)."""
    n = len(s)
    if i == n:
        return True
    if i == n - 2:
        return s[i:] == "\r\n"
    if i == n - 1 and s[i] in _JAVA_LINE_TERMINATORS:
        return not (s[i] == "\n" and i > 0 and s[i - 1] == "\r")
    return False


def _java_mask(s: str) -> str:
    """``s.replaceAll("(?<!^.?).(?!.?$)", "*")`` as Java computes it (Python's re refuses the look-behind)."""
    out = []
    for i, ch in enumerate(s):
        dot = ch not in _JAVA_LINE_TERMINATORS
        behind = i == 0 or (i == 1 and s[0] not in _JAVA_LINE_TERMINATORS)  # (?<!^.?) fails here
        ahead = _java_dollar(s, i + 1) or (i + 1 < len(s) and s[i + 1] not in _JAVA_LINE_TERMINATORS
                                           and _java_dollar(s, i + 2))  # (?!.?$) fails here
        out.append("*" if dot and not behind and not ahead else ch)
    return "".join(out)


def _java_length(value: str) -> int:
    """String.length(): UTF-16 code units."""
    return len(value.encode("utf-16-le")) // 2


def mask_value(name: str, value: t.Any) -> str:
    """CommonUtils.getMaskedValue: what YBA answers for a sensitive field (a non-string value masks fully, as
    ``JsonNode.textValue()`` is null for it)."""
    if is_strictly_sensitive(name) or not isinstance(value, str) or _java_length(value) < 5:
        return MASKED_FIELD_VALUE
    return _java_mask(value)


def is_masked(name: str, value: t.Any) -> bool:
    """True when a value is its own mask: YBA's unmaskConfig then keeps the stored secret."""
    return isinstance(value, str) and value == mask_value(name, value)


def mask_data(data: dict[str, t.Any]) -> dict[str, t.Any]:
    """CommonUtils.maskConfig: top-level sensitive fields masked, the rest as is. Idempotent on masked data."""
    return {k: (mask_value(k, v) if is_sensitive(k) else v) for k, v in (data or {}).items()}


def secret_values(*dicts: dict[str, t.Any] | None) -> list[str]:
    """Every value a module must keep out of its output: all of ``credentials`` and any sensitive field found in
    ``data`` by mistake (add them to module.no_log_values before anything can fail)."""
    out = []
    for i, d in enumerate(dicts):
        for k, v in (d or {}).items():
            if isinstance(v, str) and len(v) > 3 and (i > 0 or is_sensitive(k)):
                out.append(v)
    return out


def merge_credentials(data: dict[str, t.Any] | None, credentials: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """One data dict from the non-secret ``data`` and the no_log ``credentials`` (both in YBA's field names).

    Raises ValueError when a secret sits in ``data`` (it would be logged) or a non-secret in ``credentials``."""
    data = dict(data or {})
    credentials = dict(credentials or {})
    leaked = sorted(k for k in data if is_sensitive(k))
    if leaked:
        raise ValueError("%s belong%s in credentials (no_log), not in data" % (
            ", ".join(leaked), "s" if len(leaked) == 1 else ""))
    plain = sorted(k for k in credentials if not is_sensitive(k))
    if plain:
        raise ValueError("credentials takes secret fields only (YBA masks them); move %s to data" % ", ".join(plain))
    both = dict(data)
    both.update({k: v for k, v in credentials.items() if v not in (None, "")})
    return both


def find_any(configs: t.Iterable[dict[str, t.Any]], uuid: str | None = None,
             name: str | None = None) -> dict[str, t.Any] | None:
    """The config of any type with this UUID, else with this configName (to tell "wrong type" from "unknown").
    A STORAGE config's name is unique per customer (YBA answers 409 to a duplicate)."""
    configs = list(configs)
    if uuid:
        return next((c for c in configs if str(c.get("configUUID", "")).lower() == uuid.lower()), None)
    return next((c for c in configs if name is not None and c.get("configName") == name), None)


def credentials_for(config: dict[str, t.Any], storage_credentials: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The vault's keys of one config from a ``storage_credentials`` option (the same in every module and role):
    by its configName, else its configUUID, else the entry ``*`` (the AWX credential's S3 keys serve every config
    without an entry of its own)."""
    given = storage_credentials or {}
    for key in (config.get("configName"), config.get("configUUID"), "*"):
        if key and isinstance(given.get(key), dict) and given[key]:
            return given[key]
    return {}


def probe_settings(config: dict[str, t.Any], credentials: dict[str, t.Any] | None = None
                   ) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """What a boto3 client needs to speak as YBA does with a config answered by the API: its data without the
    masked secrets (a mask cannot sign) merged with the vault's ``credentials`` (by YBA's field names), and the
    masked secrets YBA holds (to compare with ``stored_secrets``). Without credentials the client falls back to
    the machine's role, as YBA does with IAM_INSTANCE_PROFILE."""
    data = config.get("data") or {}
    plain = {k: v for k, v in data.items() if not is_sensitive(k)}
    stored = {k: v for k, v in data.items() if is_sensitive(k)}
    return merge_credentials(plain, credentials), stored


# ------------------------------------------------------------------------------------------ comparison

def normalize(value: t.Any) -> t.Any:
    """A value as YBA means it, whatever JSON type it was sent as: "true"/True, "3600"/3600, ""/None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return ("%f" % value).rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        if not text:
            return None
        if _NUMBER.match(text):
            return normalize(float(text)) if "." in text else str(int(text))
        return value
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items() if normalize(v) is not None}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


def field_differs(name: str, desired: t.Any, current: t.Any) -> bool:
    """Whether YBA would hold something else after ``desired`` is sent: secrets by their mask (the only thing YBA
    shows), the rest by normalised value."""
    if is_sensitive(name):
        if desired in (None, ""):
            return current not in (None, "")
        return current is None or mask_value(name, desired) != current
    return normalize(desired) != normalize(current)


def changed_fields(desired: dict[str, t.Any], current: dict[str, t.Any], send_secrets: bool = True) -> list[str]:
    """The data fields of ``desired`` (YBA names, secrets in clear) that differ from ``current`` (masked, as
    ``GET configs`` answers). With ``send_secrets`` false (update_secrets=on_create on an existing config) the
    secrets are not compared: they will not be sent. Fields set to None are not managed."""
    out = []
    for name in sorted(desired):
        value = desired[name]
        if value is None:
            continue
        if is_sensitive(name) and not send_secrets:
            continue
        if field_differs(name, value, current.get(name)):
            out.append(name)
    return out


def secret_comparable(name: str, value: t.Any) -> bool:
    """False when YBA's mask of ``value`` tells nothing about it (PASSWORD fields, values under 5 characters):
    a change of such a secret is invisible to an idempotent comparison."""
    return not (is_strictly_sensitive(name) or not isinstance(value, str) or _java_length(value) < 5)


def stored_secrets(stored: dict[str, t.Any], given: dict[str, t.Any]) -> dict[str, str]:
    """Per secret field given: whether YBA holds the same value, judged by YBA's mask of it (``stored`` is what
    GET configs answered): V(same), V(differs), or V(unknown) when the mask tells nothing (a PASSWORD field, a value
    under 5 characters) or YBA holds none."""
    out = {}
    for name, value in given.items():
        if not is_sensitive(name) or value in (None, ""):
            continue
        if name not in stored or not secret_comparable(name, value):
            out[name] = "unknown"
        else:
            out[name] = "same" if mask_value(name, value) == stored[name] else "differs"
    return out


def body_data(desired: dict[str, t.Any], current: dict[str, t.Any] | None, send_secrets: bool = True) -> dict[str, t.Any]:
    """The ``data`` of a create/edit body: the current (masked) data with the desired fields over it. Masked
    values sent back keep the stored secrets (unmaskConfig); secrets are sent in clear only when ``send_secrets``
    (a field the current config does not have is sent either way only with ``send_secrets``)."""
    out = dict(current or {})
    for name, value in desired.items():
        if value is None:
            continue
        if is_sensitive(name) and not send_secrets:
            continue
        out[name] = value
    return out


def planned_data(desired: dict[str, t.Any], current: dict[str, t.Any] | None, send_secrets: bool = True) -> dict[str, t.Any]:
    """What ``GET configs`` should answer after the write: the body's data, masked."""
    return mask_data(body_data(desired, current, send_secrets))


def location_change(desired: dict[str, t.Any], current: dict[str, t.Any]) -> tuple[str, str] | None:
    """(current, desired) BACKUP_LOCATION when they differ: YBA refuses that edit (CustomerConfigValidator,
    "Field is read-only.")."""
    want = desired.get("BACKUP_LOCATION")
    have = current.get("BACKUP_LOCATION")
    if want in (None, "") or normalize(want) == normalize(have):
        return None
    return str(have), str(want)


def probe_data(desired: dict[str, t.Any], current: dict[str, t.Any] | None,
               send_secrets: bool = True) -> tuple[dict[str, t.Any], list[str]]:
    """The data a probe should use to act as YBA will after the write, and the secret fields it cannot know.

    YBA will use: a secret sent in clear; else the stored one, whose clear value the caller knows only when it
    gave a secret with the same mask (then it is taken as that secret). A stored secret known only by its mask
    is left out (it cannot sign anything) and named in the second item."""
    data = body_data(desired, current, send_secrets)
    unknown = []
    for name in list(data):
        if not is_sensitive(name) or (send_secrets and desired.get(name) not in (None, "")):
            continue
        given = desired.get(name)
        if given not in (None, "") and mask_value(name, given) == (current or {}).get(name):
            data[name] = given
        elif current and name in current:
            del data[name]
            unknown.append(name)
    return data, sorted(unknown)


# CustomerConfigStorageS3Data (models/configs/data/CustomerConfigStorageS3Data.java) and its newer fields.
S3_FIELDS = frozenset((
    "BACKUP_LOCATION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_HOST_BASE", "PATH_STYLE_ACCESS",
    "SIGNING_REGION", "IAM_INSTANCE_PROFILE", "IAM_CONFIGURATION", "REGION_LOCATIONS", "GLOBAL_BUCKET_ACCESS",
    "PROXY_SETTINGS", "USE_CHUNKED_ENCODING", "AWS_SESSION_TOKEN",
))
FIELDS = {"S3": S3_FIELDS}
