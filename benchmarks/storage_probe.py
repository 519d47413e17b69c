"""storage_probe's canary vs the bare boto3 calls it makes, against a real S3 server (moto), same run.

    .venv/bin/python benchmarks/storage_probe.py [--repeat 30] [--endpoint http://127.0.0.1:PORT --bucket B
                                                 --access-key K --secret-key S]

Without --endpoint it starts a throw-away moto_server (the venv's) with credential checks on a free port. Measured,
median and p90 of --repeat runs each:

- floor: one boto3 client (created once) doing YBA's validation sequence on a canary: put, get, list, delete, head;
- probe: ``_s3.probe`` (mode canary): DNS, TCP, a new client per probe with YBA's settings, the same five requests,
  the canary's version check, timings and classification;
- reach: ``_s3.probe`` mode reach (DNS, TCP, one unsigned HEAD; what backup_info runs on every diagnosis);
- failure: a probe of a port nobody listens on (how fast a refused endpoint is named).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils"))

import _s3  # noqa: E402  (the module_util itself, imported from the checkout)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_moto() -> tuple[subprocess.Popen, dict]:
    import boto3

    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3"))
    url = "http://127.0.0.1:%d" % port
    for _attempt in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="b",
                       aws_secret_access_key="b")
    iam.create_user(UserName="bench")
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    iam.put_user_policy(UserName="bench", PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    conf = {"endpoint": url, "bucket": "bench-backups", "access_key": key["AccessKeyId"],
            "secret_key": key["SecretAccessKey"]}
    client(conf).create_bucket(Bucket=conf["bucket"])
    return proc, conf


def client(conf: dict):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=conf["endpoint"], region_name="us-east-1",
                        aws_access_key_id=conf["access_key"], aws_secret_access_key=conf["secret_key"],
                        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


def floor(s3, bucket: str) -> None:
    key = "bench/.floor/%s.txt" % uuid.uuid4()
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.list_objects_v2(Bucket=bucket, Prefix=key)
    s3.delete_object(Bucket=bucket, Key=key)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except Exception:  # noqa: BLE001 - the object is gone: that is the point
        pass


def timed(func, repeat: int) -> list[float]:
    out = []
    for _run in range(repeat):
        t0 = time.perf_counter()
        func()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--endpoint")
    ap.add_argument("--bucket")
    ap.add_argument("--access-key")
    ap.add_argument("--secret-key")
    args = ap.parse_args()
    proc = None
    if args.endpoint:
        conf = {"endpoint": args.endpoint, "bucket": args.bucket, "access_key": args.access_key,
                "secret_key": args.secret_key}
    else:
        proc, conf = start_moto()
    try:
        data = {"BACKUP_LOCATION": "s3://%s/bench" % conf["bucket"], "AWS_HOST_BASE": conf["endpoint"],
                "PATH_STYLE_ACCESS": True, "AWS_ACCESS_KEY_ID": conf["access_key"],
                "AWS_SECRET_ACCESS_KEY": conf["secret_key"]}
        dead = dict(data, AWS_HOST_BASE="http://127.0.0.1:%d" % free_port())
        s3 = client(conf)
        floor(s3, conf["bucket"])  # warm up both paths once
        assert _s3.probe(data)["ok"]
        rows = [
            ("floor: bare boto3 put/get/list/delete/head, one client",
             timed(lambda: floor(s3, conf["bucket"]), args.repeat)),
            ("probe: _s3.probe canary (new client per probe)", timed(lambda: _s3.probe(data), args.repeat)),
            ("reach: _s3.probe mode reach (stdlib only)", timed(lambda: _s3.probe(data, mode="reach"), args.repeat)),
            ("failure: refused endpoint named", timed(lambda: _s3.probe(dead), args.repeat)),
        ]
        base = statistics.median(rows[0][1])
        print("| measure | median ms | p90 ms | ratio to floor |")
        print("|---|---:|---:|---:|")
        for name, values in rows:
            values.sort()
            p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
            median = statistics.median(values)
            print("| %s | %.1f | %.1f | %.2fx |" % (name, median, p90, median / base))
        steps = _s3.probe(data)["locations"][0]["steps"]
        print("\nper step of one canary probe: " + ", ".join("%s %.1f ms" % (s["name"], s["latency_ms"]) for s in steps))
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
