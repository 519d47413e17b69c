# -*- coding: utf-8 -*-
# Private module_util of yba.remediation: YBA storage configs through the API (find, mask, compare, write).
# Not a public API: only the modules of this collection may import it.
# Copyright: (c) 2026, yba.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import typing as t

STORAGE_TYPES = ("S3", "GCS", "AZ", "NFS")  # CustomerConfig name of a STORAGE config
MASKED_FIELD_VALUE = "********"  # CommonUtils.MASKED_FIELD_VALUE


def is_strictly_sensitive(name: str) -> bool:
    """CommonUtils.isStrictlySensitiveField (managed/.../models/helpers/CommonUtils.java)."""
    return "PASSWORD" in name.upper()


def is_sensitive(name: str) -> bool:
    """CommonUtils.isSensitiveField: YBA masks every top-level data field whose name says it holds a secret."""
    upper = name.upper()
    return is_strictly_sensitive(upper) or any(word in upper for word in ("KEY", "SECRET", "CREDENTIALS", "API",
                                                                          "POLICY"))


def mask_value(name: str, value: t.Any) -> str:
    """CommonUtils.getMaskedValue: what YBA answers for a sensitive field (a non-string value masks fully)."""
    if is_strictly_sensitive(name) or not isinstance(value, str) or len(value) < 5:
        return MASKED_FIELD_VALUE
    # CommonUtils.maskRegex "(?<!^.?).(?!.?$)" stars every character but the first two and the last two
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def is_masked(name: str, value: t.Any) -> bool:
    """True when a value is its own mask: YBA's unmaskConfig then keeps the stored secret."""
    return isinstance(value, str) and value == mask_value(name, value)


def mask_data(data: dict[str, t.Any]) -> dict[str, t.Any]:
    """CommonUtils.maskConfig: top-level sensitive fields masked, the rest as is."""
    return {k: (mask_value(k, v) if is_sensitive(k) else v) for k, v in data.items()}


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


def find_config(configs: t.Iterable[dict[str, t.Any]], ident: str) -> dict[str, t.Any] | None:
    """The STORAGE config whose UUID or configName is ``ident`` (UUID first; names are unique per customer)."""
    storage = [c for c in configs if c.get("type") == "STORAGE"]
    for config in storage:
        if str(config.get("configUUID", "")).lower() == ident.lower():
            return config
    for config in storage:
        if config.get("configName") == ident:
            return config
    return None
