"""The front doors' stream relay closes the chat stream whether the client reads to the end or leaves."""

from gateway_app.services.frontdoors.relay import translated


class Chat:
    def __init__(self, chunks):
        self.chunks, self.closed = list(chunks), False

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self):
        self.closed = True


async def test_read_to_the_end_every_piece_in_order_then_closed():
    chat = Chat([b"a", b"", b"b"])
    pieces = [p async for p in translated(chat, lambda: b"<", lambda c: c.upper(), lambda: b">")]
    assert pieces == [b"<", b"A", b"B", b">"] and chat.closed


async def test_a_client_that_leaves_mid_stream_closes_the_chat_stream():
    chat = Chat([b"a", b"b", b"c"])
    relay = translated(chat, lambda: b"<", lambda c: c, lambda: b">")
    assert await relay.__anext__() == b"<"
    assert await relay.__anext__() == b"a"
    await relay.aclose()
    assert chat.closed and chat.chunks == [b"b", b"c"]
