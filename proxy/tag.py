"""The tag phase: what tells a client, and anyone it hands the completion to, where it came from.

``x-provenance-id`` and ``x-provenance-signature`` go out with the response headers;
a streamed (SSE) response ends with a comment line naming the event's place in the
hash chain, known only once the record phase has committed it.
"""

from __future__ import annotations

from proxy.adapters.base import Adapter
from proxy.hooks import HeaderSigner, Receipt


class ProvenanceTag:
    """One call's provenance tag; the signature is made once, whoever asks first."""

    __slots__ = ("_request_sha256", "_signature", "_signer", "event_id")

    def __init__(self, event_id: str, request_sha256: str, signer: HeaderSigner | None) -> None:
        self.event_id = event_id
        self._request_sha256 = request_sha256
        self._signer = signer
        self._signature: str | None = None

    def signature(self) -> str | None:
        """The x-provenance-signature: made while the upstream works on the request, or
        when the response headers go out if the upstream answered first."""
        if self._signer is None:
            return None
        if self._signature is None:
            self._signature = self._signer.header_signature(self.event_id, self._request_sha256)
        return self._signature

    def headers(self) -> list[tuple[bytes, bytes]]:
        tags = [(b"x-provenance-id", self.event_id.encode())]
        signature = self.signature()
        if signature is not None:
            tags.append((b"x-provenance-signature", signature.encode("latin-1")))
        return tags

    def trailer(self, adapter: Adapter, receipt: Receipt | None) -> bytes:
        """The end-of-stream SSE comment: the id, and the chain position once sealed."""
        return adapter.sse_comment(provenance_comment(self.event_id, receipt))


def provenance_comment(event_id: str, receipt: Receipt | None) -> str:
    if receipt is None:
        return f"provenance id={event_id}"
    return f"provenance id={event_id} seq={receipt.seq} record-hash=sha256:{receipt.record_hash}"
