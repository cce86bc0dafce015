"""The mail-latency baseline: the sender as it was before the wake-up, polling the outbox every
OUTBOX_POLL_SECONDS and woken by nothing from other processes. `python -m bench.poll_worker`."""

import signal
import threading

from klynge_rsvp import create_app, worker
from klynge_rsvp.mail import wakeup


class PollOnly(wakeup.Listener):
    """Listens to nothing: only the poll (and this process's own commits) wake the sender."""

    def _open(self) -> None:
        self.connection = None


def main() -> None:
    wakeup.Listener = PollOnly
    app = create_app()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print("Worker started (poll only).", flush=True)
    worker.run(app, stop)


if __name__ == "__main__":
    main()
