"""Synchronous S3 storage-config validation as YBA does it, inside the API request.

Follows ``CustomerConfigStorageS3Validator.validate`` (config create/edit) and ``BackupHelper.validateStorageConfig``
(``POST /backups``): field checks, then ``AWSUtil.validateOnBucket`` on ``BACKUP_LOCATION`` (and every
``REGION_LOCATIONS[].LOCATION``): PUT a canary ``<prefix>/<random uuid>.txt``, GET it back and compare the bytes,
ListObjectsV2 must show it, DELETE it, HEAD must then miss it. Requests go to the config's ``AWS_HOST_BASE``.

Timeouts. YBA's AmazonS3 client keeps the AWS SDK v1 defaults (``common/AWSUtil.java``): connect 10 s, socket
(read) 50 s, 3 retries (4 attempts) with back-off, so a black-holed endpoint holds the API request for minutes
and a refusing one fails fast. The lab keeps the shape (connect/read timeouts, retries) at small values so its
tests stay fast: ``DEFAULT_TIMEOUTS`` below, overridable with lab.json ``platform.s3_timeouts``
``{"connect": s, "read": s, "attempts": n}`` (attempts = 1 + retries; botocore total_max_attempts). Set it to ``{"connect": 10, "read": 50,
"attempts": 4}`` to model YBA's real timing. A PUT also waits up to 1 s for "100 Continue" before it sends its
body (botocore, like the SDK for PutObject), so one attempt at a black-holed endpoint takes about 1 s + read.

Error key. 2.18 reports a failed bucket check as a bean-validation field error on ``data.BACKUP_LOCATION``
(``ConfigDataValidator.fieldFullName`` prefixes ``data.``; releases before the customer-config validators were
split out, up to 2.4, used ``BACKUP_LOCATION`` alone, yugabyte/yugabyte-db#8824). The message is the SDK's
(``AmazonS3Exception.getErrorMessage()`` / ``SdkClientException.getMessage()``).
"""
from __future__ import annotations

import uuid as uuidlib
from typing import Any
from urllib.parse import urlsplit

from . import s3client

DEFAULT_TIMEOUTS = {"connect": 2.0, "read": 3.0, "attempts": 2}
LOCATION_FIELD = "data.BACKUP_LOCATION"  # 2.18: ConfigDataValidator.fieldFullName("BACKUP_LOCATION")
REGION_LOCATION_FIELD = "data.REGION_LOCATION"
DUMMY_DATA = b"dummy-text"  # AWSUtil.DUMMY_DATA
URL_SCHEMES = ("http", "https", "s3")  # CustomerConfigStorageS3Validator.S3_URL_SCHEMES


class StorageInvalid(Exception):
    """The config failed validation: ``errors`` maps a field to its messages (one field, as YBA throws at once)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.errors = {field: [message]}


def timeouts(state: dict[str, Any]) -> dict[str, float]:
    """The lab's S3 client timeouts: DEFAULT_TIMEOUTS overridden by lab.json ``platform.s3_timeouts``."""
    out: dict[str, float] = dict(DEFAULT_TIMEOUTS)
    conf = (state.get("platform") or {}).get("s3_timeouts") or {}
    for key in DEFAULT_TIMEOUTS:
        if conf.get(key) is not None:
            out[key] = float(conf[key])
    out["attempts"] = max(1, int(out["attempts"]))
    return out


def client(data: dict[str, Any], limits: dict[str, float], ca_files: tuple[str, ...] = ()) -> Any:
    """The platform's S3 client for a config's data with these timeouts (s3client.client, cached)."""
    return s3client.client(data, limits, ca_files)


def _valid_url(value: str, schemes: tuple[str, ...]) -> bool:
    parts = urlsplit(value if "://" in value else "https://" + value)
    return parts.scheme in schemes and bool(parts.netloc)


def valid_host_base(value: str) -> bool:
    """CustomerConfigStorageValidator.validateUrl(value, validatePort=true)
    (managed/src/main/java/com/yugabyte/yw/models/configs/validators/CustomerConfigStorageValidator.java): the
    value, https:// put in front when it has no host, must be scheme://host (scheme http, https or s3); anything
    more passes only with an explicit port other than 80 and 443 (so a path without a port, even "/", is invalid,
    and "host:9000/path" passes: YBA compares the whole URI with scheme://host and then only checks the port)."""
    if not value or any(ch.isspace() for ch in value):
        return False
    parts = urlsplit(value)
    if not parts.hostname and "://" not in value:
        value = "https://" + value
        parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in URL_SCHEMES or not parts.hostname:
        return False
    return value == f"{parts.scheme}://{parts.hostname}" or port not in (None, 80, 443)


def check_fields(data: dict[str, Any]) -> None:
    """The non-network part of CustomerConfigStorageS3Validator.validate (first failure raises)."""
    location = data.get("BACKUP_LOCATION")
    if not isinstance(location, str) or not location:
        raise StorageInvalid(LOCATION_FIELD, "may not be null")  # @NotNull on CustomerConfigStorageData
    if not location.startswith("s3://") or not _valid_url(location, URL_SCHEMES):
        raise StorageInvalid(LOCATION_FIELD, f"Invalid field value '{location}'.")  # CustomerConfigStorageValidator
    host = data.get("AWS_HOST_BASE")
    if host and not valid_host_base(str(host)):
        raise StorageInvalid("data.AWS_HOST_BASE", f"Invalid field value '{host}'.")
    iam = str(data.get("IAM_INSTANCE_PROFILE", "false")).lower() == "true"
    if not iam and not (data.get("AWS_ACCESS_KEY_ID") and data.get("AWS_SECRET_ACCESS_KEY")):
        raise StorageInvalid(LOCATION_FIELD, "Aws credentials are null and IAM profile is not used.")


def validate_on_bucket(s3: Any, field: str, location: str, host: str | None) -> None:
    """AWSUtil.validateOnBucket: write, read, list, delete a canary under the location's prefix."""
    from botocore import exceptions as bex

    bucket, prefix = s3client.parse_location(location)
    key = f"{prefix}/{uuidlib.uuid4()}.txt" if prefix else f"{uuidlib.uuid4()}.txt"
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=DUMMY_DATA)
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if got != DUMMY_DATA:
            raise StorageInvalid(field, f"Error reading test blob {key}, data mismatch")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)
        if key not in [o["Key"] for o in listed.get("Contents", [])]:
            raise StorageInvalid(field, f"Created blob with name \"{key}\" not found in list.")
        s3.delete_object(Bucket=bucket, Key=key)
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except bex.ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
        else:
            raise StorageInvalid(field, f"Deleted blob \"{key}\" is still in the bucket")
    except StorageInvalid:
        raise
    except Exception as exc:  # noqa: BLE001 - every SDK failure becomes the field error, as in YBA
        if isinstance(exc, bex.ClientError):
            err = exc.response.get("Error", {})
            if err.get("Code") == "NoSuchBucket":
                raise StorageInvalid(field, f"S3 URI path {location} doesn't exist") from exc
            message = err.get("Message") or err.get("Code") or str(exc)
            if "Denied" in message or "bucket" in message:
                message += " " + location  # CustomerConfigStorageS3Validator.validateBucket
            raise StorageInvalid(field, message) from exc
        raise StorageInvalid(field, s3client.s3_error_message(exc, host)) from exc


def validate_s3(state: dict[str, Any], data: dict[str, Any]) -> None:
    """CustomerConfigStorageS3Validator.validate: raises StorageInvalid on the first problem."""
    check_fields(data)
    limits = timeouts(state)
    s3 = client(data, limits, s3client.ca_trust(state))
    validate_on_bucket(s3, LOCATION_FIELD, data["BACKUP_LOCATION"], data.get("AWS_HOST_BASE"))
    for region in data.get("REGION_LOCATIONS") or []:
        if not isinstance(region, dict):
            continue
        if not region.get("REGION"):
            raise StorageInvalid("data.REGION", "This field cannot be empty.")
        loc = region.get("LOCATION") or ""
        if not loc.startswith("s3://"):
            raise StorageInvalid(REGION_LOCATION_FIELD, f"Invalid field value '{loc}'.")
        rdata = dict(data, AWS_HOST_BASE=region.get("AWS_HOST_BASE") or data.get("AWS_HOST_BASE"))
        validate_on_bucket(client(rdata, limits, s3client.ca_trust(state)), REGION_LOCATION_FIELD, loc, rdata.get("AWS_HOST_BASE"))


__all__ = ["DEFAULT_TIMEOUTS", "StorageInvalid", "timeouts", "validate_s3", "check_fields", "valid_host_base"]
