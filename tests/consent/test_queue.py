"""The one-question-at-a-time queue, without Tk."""

from __future__ import annotations

import threading

from zvkdiag.consent.model import ConsentRequest, Decision, Scope
from zvkdiag.consent.tk_queue import ConsentQueue, Ticket


class Screen:
    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.answers: dict[int, Decision] = {}
        self.queue = ConsentQueue(
            present=lambda t: self.log.append(("present", id(t))),
            dismiss=lambda t: self.log.append(("dismiss", id(t))),
        )

    def ticket(self) -> Ticket:
        holder: list[Ticket] = []
        t = Ticket(
            ConsentRequest(Scope.SESSION, "E"), "h", [], 60.0,
            lambda d: self.answers.__setitem__(id(holder[0]), d),
        )  # fmt: skip
        holder.append(t)
        return t


def test_one_at_a_time_in_order():
    s = Screen()
    a, b = s.ticket(), s.ticket()
    s.queue.submit(a)
    s.queue.submit(b)
    assert s.log == [("present", id(a))] and s.queue.current is a and len(s.queue) == 2
    s.queue.settle(a, Decision.ALLOW)
    assert s.log[1:] == [("dismiss", id(a)), ("present", id(b))]
    s.queue.settle(b, Decision.DENY)
    assert s.answers == {id(a): Decision.ALLOW, id(b): Decision.DENY}
    assert s.queue.current is None and len(s.queue) == 0


def test_withdraw_waiting_and_current():
    s = Screen()
    a, b, c = s.ticket(), s.ticket(), s.ticket()
    for t in (a, b, c):
        s.queue.submit(t)
    s.queue.withdraw(b)
    s.queue.withdraw(a)
    assert s.queue.current is c and s.answers == {}


def test_answer_is_delivered_once_even_from_two_threads():
    s = Screen()
    t = s.ticket()
    s.queue.submit(t)
    other = threading.Thread(target=t.resolve, args=(Decision.DENY,))
    other.start()
    other.join()
    s.queue.settle(t, Decision.ALLOW)
    assert s.answers == {id(t): Decision.DENY}


def test_ticket_answered_elsewhere_is_skipped_and_clear_denies_the_rest():
    s = Screen()
    a, b, c = s.ticket(), s.ticket(), s.ticket()
    for t in (a, b, c):
        s.queue.submit(t)
    b.resolve(Decision.DENY)
    s.queue.settle(a, Decision.ALLOW)
    assert s.queue.current is c
    s.queue.clear(Decision.TIMEOUT)
    assert s.answers[id(c)] is Decision.TIMEOUT and s.queue.current is None
