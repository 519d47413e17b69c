"""`python -m ybalab storage <variant>`: put the seeded storage config (``s3-northgate-backups``,
``platform.storage_config_uuid``) into one S3 fault, or back to health, without a reset.

The config's ``customer_config.data`` is rewritten (encrypted as the platform stores it, ``seed.encrypt``); the
platform reads it from the DB at every use and its S3 clients are cached by the config's fields, so the next
validation, backup or GC run uses the new data. lab.json ``storage_variant`` names the variant in force (a reset
sets the scenario's default: ``healthy`` for healthy, ``refused`` for the others).

What each variant makes YBA's client (and a boto3 client with the same settings) see:

=================  =====================================================  ==========================================
variant            data                                                   error (controller / lab host)
=================  =====================================================  ==========================================
refused            AWS_HOST_BASE = s3.dead_endpoint (the incident)        connection refused / same
blackhole          AWS_HOST_BASE = s3.blackhole_endpoint                  read timeout / same
wrong-keys         live endpoint, a wrong AWS_SECRET_ACCESS_KEY           403 SignatureDoesNotMatch / same
wrong-region       AWS_HOST_BASE = s3.region_endpoint, BACKUP_LOCATION    400 AuthorizationHeaderMalformed (boto3's
                   in s3.eu_bucket, SIGNING_REGION us-east-1              region redirector retries unless disabled)
no-bucket          live endpoint, BACKUP_LOCATION in a missing bucket     404 NoSuchBucket / same
untrusted-ca       AWS_HOST_BASE = s3.tls_endpoint (CA s3.ca_cert)        TLS verify error without the CA / same
host-unreachable   AWS_HOST_BASE = s3.host_unreachable_endpoint           works / connection refused (127.0.0.2)
read-only          live endpoint, s3.readonly_* keys                      403 AccessDenied on PUT/DELETE / same
versioned          live endpoint, BACKUP_LOCATION in s3.versioned_bucket  none: a DELETE leaves a delete marker
healthy            AWS_HOST_BASE = s3.endpoint (moto)                     none
=================  =====================================================  ==========================================

``python -m ybalab storage deny-writes [<universe name or uuid> ...]`` leaves the config alone and puts an explicit
Deny of ``s3:PutObject`` on ``arn:aws:s3:::*/univ-<uuid>/*`` on the config's IAM user (``deny_policy``): backups of
those universes (all when none is named) fail with 403 AccessDenied, also one already running (its next PUT); the
canary of the storage validation and every other universe still work. ``storage healthy`` (or a reset) removes it.
"""
from __future__ import annotations

import json
from typing import Any

from ybalab import labstate, seed, services
from ybalab.labstate import LabError

VARIANTS = ("refused", "blackhole", "wrong-keys", "wrong-region", "no-bucket", "untrusted-ca", "host-unreachable",
            "read-only", "versioned", "healthy")
MISSING_BUCKET = "yba-backups-missing"
SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def default_variant(scenario: str | None) -> str:
    return "healthy" if scenario == "healthy" else "refused"


def wrong_secret(secret: str) -> str:
    """A secret of the same shape that is not the user's (SignatureDoesNotMatch, not InvalidAccessKeyId)."""
    return "WRONG" + secret[5:] if not secret.startswith("WRONG") else "RIGHT" + secret[5:]


def variant_data(state: dict[str, Any], variant: str) -> dict[str, Any]:
    """The storage config's data (secrets included) for a variant."""
    if variant not in VARIANTS:
        raise LabError(f"unknown storage variant {variant!r}; choose from {', '.join(VARIANTS)}")
    s3 = state["s3"]
    data: dict[str, Any] = {
        "BACKUP_LOCATION": f"s3://{s3['bucket']}/{seed.BACKUP_PREFIX}",
        "AWS_ACCESS_KEY_ID": s3["access_key"],
        "AWS_SECRET_ACCESS_KEY": s3["secret_key"],
        "AWS_HOST_BASE": s3["endpoint"],
        "PATH_STYLE_ACCESS": True,
        "SIGNING_REGION": s3["region"],
    }
    if variant == "refused":
        data["AWS_HOST_BASE"] = s3["dead_endpoint"]
    elif variant == "blackhole":
        data["AWS_HOST_BASE"] = s3["blackhole_endpoint"]
    elif variant == "wrong-keys":
        data["AWS_SECRET_ACCESS_KEY"] = wrong_secret(s3["secret_key"])
    elif variant == "wrong-region":
        data.update(AWS_HOST_BASE=s3["region_endpoint"], BACKUP_LOCATION=f"s3://{s3['eu_bucket']}/{seed.BACKUP_PREFIX}",
                    SIGNING_REGION="us-east-1")
    elif variant == "no-bucket":
        data["BACKUP_LOCATION"] = f"s3://{MISSING_BUCKET}/{seed.BACKUP_PREFIX}"
    elif variant == "untrusted-ca":
        data["AWS_HOST_BASE"] = s3["tls_endpoint"]
    elif variant == "host-unreachable":
        data["AWS_HOST_BASE"] = s3["host_unreachable_endpoint"]
    elif variant == "versioned":
        data["BACKUP_LOCATION"] = f"s3://{s3['versioned_bucket']}/{seed.BACKUP_PREFIX}"
    elif variant == "read-only":
        data.update(AWS_ACCESS_KEY_ID=s3["readonly_access_key"], AWS_SECRET_ACCESS_KEY=s3["readonly_secret_key"])
    return data


def masked(data: dict[str, Any]) -> dict[str, Any]:
    """The data as YBA's API shows it (secrets masked: first 2 + last 2 characters)."""
    from ybalab.platform.api import mask_data
    return mask_data(dict(data))


def apply(state: dict[str, Any], variant: str) -> dict[str, Any]:
    """Rewrite the seeded storage config's data for a variant; lab.json storage_variant follows. Returns the
    data written (secrets included: callers print ``masked``)."""
    data = variant_data(state, variant)
    uuid = state["platform"]["storage_config_uuid"]
    cp = services.psql(state, f"UPDATE customer_config SET data = {seed.q(seed.encrypt(state, data))} "
                              f"WHERE config_uuid = {seed.q(uuid)};", tuples=True, check=False)
    if cp.returncode != 0:
        raise LabError(f"rewriting storage config {uuid} failed: {cp.stderr.strip()}")
    state["storage_variant"] = variant
    labstate.save(state)
    return data


# ---------------------------------------------------------------------------- per-universe write fault
DENY_POLICY_NAME = "ybalab-deny-writes"
DENY_ACTIONS = ["s3:PutObject"]


def _universe_uuids(state: dict[str, Any], names: list[str]) -> dict[str, str]:
    known = state["platform"]["universes"]  # name -> uuid
    by_uuid = {u: n for n, u in known.items()}
    out = {}
    for name in names:
        if name in known:
            out[name] = known[name]
        elif name.lower() in by_uuid:
            out[by_uuid[name.lower()]] = name.lower()
        else:
            raise LabError(f"unknown universe {name!r}; the lab's universes: {', '.join(sorted(known))}")
    return out


def deny_policy(uuids: list[str]) -> dict[str, Any]:
    """An explicit Deny of PutObject on every key under ``univ-<uuid>/`` in any bucket and prefix: backups of those
    universes fail on their first PUT with 403 AccessDenied; the canary ``<prefix>/<uuid>.txt``, reads, lists,
    deletes and other universes' backups still work (moto evaluates IAM resources and explicit Deny)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "YbalabDenyBackupWrites", "Effect": "Deny", "Action": DENY_ACTIONS,
        "Resource": [f"arn:aws:s3:::*/univ-{u}/*" for u in sorted(uuids)]}]}


def deny_writes(state: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Put the Deny policy on the config's IAM user (``yba-backup``, both its key pairs); takes effect at the next
    request, also inside a running backup. No names: every universe."""
    unis = _universe_uuids(state, names or sorted(state["platform"]["universes"]))
    services.iam_admin_client(state).put_user_policy(
        UserName=services.FULL_USER, PolicyName=DENY_POLICY_NAME, PolicyDocument=json.dumps(deny_policy(
            list(unis.values()))))
    state["storage_deny_writes"] = unis
    labstate.save(state)
    return {"deny_writes": unis, "user": services.FULL_USER, "policy": DENY_POLICY_NAME}


def allow_writes(state: dict[str, Any]) -> None:
    """Remove the Deny policy (nothing to do when there is none)."""
    iam = services.iam_admin_client(state)
    try:
        iam.delete_user_policy(UserName=services.FULL_USER, PolicyName=DENY_POLICY_NAME)
    except iam.exceptions.NoSuchEntityException:
        pass
    if state.pop("storage_deny_writes", None) is not None:
        labstate.save(state)


def main(variant: str | None, names: list[str] | None = None) -> dict[str, Any]:
    state = labstate.load()
    if state is None:
        raise LabError(f"no lab at {labstate.lab_dir()}: run `ybalab up` first")
    if variant == "deny-writes":
        return deny_writes(state, list(names or []))
    if names:
        raise LabError("universe names go with deny-writes only")
    variant = variant or default_variant(state.get("scenario"))
    data = apply(state, variant)
    if variant == "healthy":
        allow_writes(state)  # healthy means the whole storage path: the write fault goes too
    return {"variant": variant, "config_uuid": state["platform"]["storage_config_uuid"],
            "config_name": seed.STORAGE_CONFIG_NAME, "data": masked(data),
            "deny_writes": state.get("storage_deny_writes", {})}
