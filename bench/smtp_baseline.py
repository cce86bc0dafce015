"""The fan-out baseline: Python's smtplib sending pre-built messages over one connection.

`python -m bench.smtp_baseline PORT MESSAGES DOMAIN` reads a pickle of (recipient, bytes) pairs,
sends each to n@DOMAIN, and prints JSON: when it started (unix time) and its peak memory."""

import json
import pickle
import smtplib
import sys
import time
from pathlib import Path


def main() -> None:
    port, path, domain = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    messages = pickle.loads(path.read_bytes())  # noqa: S301 (the harness wrote it)
    started = time.time()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as connection:
        for n, (_, message) in enumerate(messages):
            connection.sendmail("klynge@bench.test", [f"p{n}@{domain}"], message)
    peak = next((int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text()
                 .splitlines() if line.startswith("VmHWM:")), None)
    json.dump({"started": started, "finished": time.time(), "peak_rss_mib": peak}, sys.stdout)


if __name__ == "__main__":
    main()
