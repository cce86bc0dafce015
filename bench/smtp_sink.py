"""A local SMTP server for the benchmarks: accepts everything and appends one line per accepted
message to a file: `<unix time> <recipient>`. Run as `python -m bench.smtp_sink PORT FILE`."""

from __future__ import annotations

import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, path: str):
        self.file = open(path, "a", buffering=1)  # noqa: SIM115 (open for the server's life)

    async def handle_DATA(self, server, session, envelope):
        self.file.write(f"{time.time():.6f} {envelope.rcpt_tos[0]}\n")
        return "250 OK"


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(path), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
