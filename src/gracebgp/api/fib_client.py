"""The API client's GetFib call, mixed into ``api.client.Client``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel

from gracebgp.api.fib_schema import FibView

if TYPE_CHECKING:
    import httpx

M = TypeVar("M", bound=BaseModel)


class FibCalls:
    """``fib()`` for ``Client`` (which provides ``_request`` and ``_parse``)."""

    if TYPE_CHECKING:
        def _request(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response: ...

        def _parse(self, model: type[M], response: httpx.Response) -> M: ...

    def fib(self) -> FibView:
        """GetFib: the kernel FIB per family (``gracebgp fib``)."""
        return self._parse(FibView, self._request("GET", "/v1/fib"))
