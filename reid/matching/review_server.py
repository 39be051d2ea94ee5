"""``--review-server``: the review page served to a browser that answers each proposal, and carries
out the approved ones (``review_session.py``).

Safe to expose: every request must carry the per-run token printed in the terminal (a query
parameter for the page; the form field ``token`` or the header ``X-Review-Token`` for an answer),
else 403; the server listens on loopback unless ``--host`` says otherwise; the page may load nothing
and run no script (its content policy), nor be framed by another site. Requests are served on
threads, but the plan is carried out on the main thread, one answer at a time: the status heartbeat
stops first, and Ctrl-C while waiting stops the server with nothing changed.
"""

from __future__ import annotations

import hmac
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..core.errors import OutputError
from ..core.lease import Lease
from ..monitor.server import is_loopback
from .decision import Decision
from .folders import Folder
from .report import render
from .review_controls import message_page
from .review_form import FormError, Outcome
from .review_session import Reply, ReviewSession, already_done
from .status import MatchingStatus

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # an answer is a few hundred bytes per proposal
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the page's address
    "Cache-Control": "no-store",
}


@dataclass
class Job:
    """Answers checked on a request's thread, to be carried out on the main thread."""

    outcome: Outcome
    reply: Reply | None = None
    ready: threading.Event = field(default_factory=threading.Event)


def serve_review(
    persons_dir: Path,
    undo_command: str,
    where: tuple[str, int],
    backbone: str,
    decision: Decision,
    folders: list[Folder],
    folders_total: int,
    reporter: MatchingStatus,
    lease: Lease,
) -> None:
    """Serve the plan at ``where`` (host, port; 0: a free one) until it is carried out or Ctrl-C."""
    session = ReviewSession(persons_dir, undo_command, decision, folders, folders_total, reporter)
    page = render(
        decision.proposals,
        decision.comparison.near_misses(decision.proposals, decision.threshold),
        splits=decision.splits,
        threshold=decision.threshold,
        threshold_basis=decision.choice.basis if decision.choice else None,
        cameras=decision.comparison.ground.said,
        backbone=backbone,
        persons_dir=persons_dir,
        folders_total=folders_total,
        review_token=session.token,
    )
    server = ReviewServer(session, page, *where)
    lease.release()  # the plan is made: tracking may go on while the person reads it
    session.share_lease()
    try:
        host, port = where[0], server.httpd.server_address[1]
        if not is_loopback(host):
            log.warning("listening on %s: anyone who can reach this machine and has the token can merge", host)
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/?token={session.token}"
        print(f"\nReview the plan at {url} (Ctrl-C to stop without merging)", flush=True)
        finished = server.run(reporter, len(decision.splits) + len(decision.proposals))
    except KeyboardInterrupt:
        if session.carried_out:
            raise  # while merging: an interrupted merge, finished by the next run
        finished = False
    finally:
        session.lease.release()
    if session.failure is not None:
        raise session.failure
    if not finished:
        print("Stopped: nothing was merged.")
        reporter.finish(folders_after=folders_total, groups_merged=0, images_moved=0, count_applies=False)


class ReviewServer:
    def __init__(self, session: ReviewSession, page: str, host: str, port: int) -> None:
        self.session, self.page = session, page
        self.jobs: queue.Queue[Job] = queue.Queue()
        self.answering = threading.Lock()  # one answer at a time: a second tab waits, then is refused
        self.final_sent = threading.Event()
        self.in_flight = 0  # requests being answered: a tab that sent its answers too gets its 409 before the end
        self.counting = threading.Lock()
        handler = type("Handler", (ReviewHandler,), {"review": self})
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
        try:
            self.httpd = server_class((host, port), handler)
        except OSError as exc:
            raise OutputError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): pass another --port, or 0 for a free one"
            ) from None

    def allows(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.session.token.encode())

    def answer(self, form: dict[str, list[str]]) -> Reply:
        """On a request's thread: check the answers, have them carried out, wait for the outcome."""
        with self.answering:
            if self.session.carried_out:
                return already_done()
            try:
                job = Job(self.session.check(form))
            except FormError as exc:
                return Reply(400, message_page("Not an answer to this plan", [f"{exc}; nothing was changed."]))
            self.jobs.put(job)
            job.ready.wait()
            return job.reply

    def run(self, reporter: MatchingStatus, proposals: int) -> bool:
        """Serve until the plan is carried out (True; KeyboardInterrupt: Ctrl-C)."""
        thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        thread.start()
        try:
            while True:
                with reporter.waiting_for_answer(proposals):
                    job = self._next_job()
                try:
                    job.reply = self.session.carry_out(job.outcome)
                except BaseException as exc:
                    reason = str(exc) or type(exc).__name__
                    lines = [f"{reason}.", "Run the script again: an interrupted merge is finished first."]
                    job.reply = Reply(500, message_page("The merge failed", lines), final=True)
                    raise
                finally:
                    job.ready.set()
                if job.reply.final:
                    self.final_sent.wait(timeout=10)
                    self._drain(timeout=10)
                    return True
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()

    def counted(self, work: Callable[[], None]) -> None:
        with self.counting:
            self.in_flight += 1
        try:
            work()
        finally:
            with self.counting:
                self.in_flight -= 1

    def _drain(self, timeout: float) -> None:
        """Wait (a little) for the requests under way to be answered, before the server stops."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.05)

    def _next_job(self) -> Job:
        while True:
            try:
                return self.jobs.get(timeout=0.5)
            except queue.Empty:
                continue


class ReviewHandler(BaseHTTPRequestHandler):
    review: ReviewServer
    server_version = "reid-review"
    sys_version = ""
    timeout = 60  # an idle connection (a browser opens spare ones) is closed after this

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        self.review.counted(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self.review.counted(self._post)

    def _get(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/":
            return self._send(Reply(404, message_page("Not found", ["The review page is at /."])))
        if not self.review.allows(parse_qs(url.query).get("token", [""])[0]):
            return self._send(forbidden())
        if self.review.session.carried_out:
            return self._send(already_done())
        return self._send(Reply(200, self.review.page))

    def _post(self) -> None:
        if urlsplit(self.path).path != "/apply":
            return self._send(Reply(404, message_page("Not found", ["Answers go to /apply."])))
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._send(Reply(411, message_page("No length", ["An answer needs a Content-Length."])))
        if not 0 <= length <= MAX_BODY:
            return self._send(Reply(413, message_page("Too large", ["That is not an answer to this plan."])))
        try:
            form = parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return self._send(Reply(400, message_page("Not an answer", ["The form could not be read."])))
        token = self.headers.get("X-Review-Token") or (form.get("token") or [""])[0]
        if not self.review.allows(token):
            log.warning("refused an answer without the right token (from %s)", self.client_address[0])
            return self._send(forbidden())
        reply = self.review.answer(form)
        self._send(reply)
        if reply.final:
            self.review.final_sent.set()
        return None

    def _send(self, reply: Reply) -> None:
        body = reply.page.encode("utf-8")
        self.close_connection = True
        self.send_response(reply.status)
        for name, value in HEADERS.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        log.debug("%s %s", self.command, urlsplit(self.path).path)  # never the query: it holds the token


def forbidden() -> Reply:
    lines = ["This needs the token printed in the terminal: open the address shown there (with ?token=...)."]
    return Reply(403, message_page("Forbidden", lines))
