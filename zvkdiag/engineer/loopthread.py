"""A private asyncio loop on its own thread, so notebook code can call sync methods.

Works whether the caller is the kernel's main thread, a widget callback on a
subshell thread (ipykernel 7), or code running inside another event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopStopped", "LoopThread"]

T = TypeVar("T")


class LoopStopped(RuntimeError):
    """The loop thread has stopped: the coroutine did not run (or did not finish)."""


class LoopThread:
    def __init__(self, name: str = "zvkdiag-session") -> None:
        self.loop = asyncio.new_event_loop()
        self._stopped = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def on_loop(self) -> bool:
        return threading.current_thread() is self._thread

    @property
    def stopped(self) -> bool:
        return self._stopped

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; raises ``LoopStopped`` once ``stop`` was called.

        A future still pending when the loop stops fails with ``LoopStopped``
        rather than waiting for ever.
        """
        if self._stopped or self.loop.is_closed():
            coro.close()
            raise LoopStopped("the session's loop has stopped")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it (from any thread but the loop's)."""
        if self.on_loop:
            coro.close()
            raise RuntimeError("use the async twin from inside the session's own loop")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` from another event loop (or this one)."""
        if self.on_loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        self._stopped = True
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.on_loop:
            self._thread.join(5)
            if not self._thread.is_alive():
                self.loop.close()
                for future in list(self._pending):
                    if future.set_running_or_notify_cancel():
                        future.set_exception(LoopStopped("the session's loop stopped first"))
