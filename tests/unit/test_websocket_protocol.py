"""RFC 6455 as frolic_tools.local speaks it: keys, masking, frames, messages, limits, and a
client and server talking over a real socket pair."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frolic_tools.local.websocket_protocol import (
    MAX_MESSAGE_BYTES,
    CloseCode,
    ConnectionClosedError,
    Frame,
    FrameDecoder,
    HandshakeError,
    MessageAssembler,
    Opcode,
    ProtocolError,
    WebSocket,
    WebSocketClient,
    accept_key,
    apply_mask,
    check_client_handshake,
    check_server_handshake,
    decode_close,
    encode_close,
    encode_frame,
    new_key,
    parse_response_head,
    server_handshake_response,
)

MASK = b"\x37\xfa\x21\x3d"


def handshake_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "upgrade": "websocket",
        "connection": "keep-alive, Upgrade",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    headers.update(overrides)
    return headers


# -- handshake ----------------------------------------------------------------------------


def test_accept_key_is_the_rfc_example() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_new_keys_are_16_random_bytes() -> None:
    first, second = new_key(), new_key()
    assert first != second
    assert check_client_handshake("GET", handshake_headers(**{"sec-websocket-key": first}))


def test_a_valid_upgrade_yields_its_key_and_a_matching_answer() -> None:
    key = check_client_handshake("GET", handshake_headers())
    head, _, rest = server_handshake_response(key).partition(b"\r\n\r\n")
    response = parse_response_head(head)
    assert response.status == 101 and rest == b""
    check_server_handshake(response, key)


@pytest.mark.parametrize(
    ("method", "overrides", "status"),
    [
        ("POST", {}, 405),
        ("GET", {"upgrade": "h2c"}, 400),
        ("GET", {"connection": "keep-alive"}, 400),
        ("GET", {"sec-websocket-version": "8"}, 426),
        ("GET", {"sec-websocket-key": "c2hvcnQ="}, 400),
        ("GET", {"sec-websocket-key": "not base64!"}, 400),
    ],
)
def test_bad_upgrades_are_refused_with_a_status(
    method: str, overrides: dict[str, str], status: int
) -> None:
    with pytest.raises(HandshakeError) as refused:
        check_client_handshake(method, handshake_headers(**overrides))
    assert refused.value.status == status


def test_the_client_rejects_an_answer_for_another_key() -> None:
    head, _, _ = server_handshake_response(new_key()).partition(b"\r\n\r\n")
    with pytest.raises(ProtocolError):
        check_server_handshake(parse_response_head(head), new_key())


# -- masking and frames -------------------------------------------------------------------


def test_masking_matches_the_rfc_example() -> None:
    # RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
    assert apply_mask(b"Hello", MASK) == bytes.fromhex("7f9f4d5158")


@given(st.binary(max_size=600), st.binary(min_size=4, max_size=4))
def test_masking_twice_restores_the_data(data: bytes, key: bytes) -> None:
    assert apply_mask(apply_mask(data, key), key) == data


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, MAX_MESSAGE_BYTES])
@pytest.mark.parametrize("masked", [True, False])
def test_frames_round_trip_at_every_length_encoding(size: int, masked: bool) -> None:
    payload = bytes(i % 251 for i in range(size))
    wire = encode_frame(Opcode.BINARY, payload, mask_key=MASK if masked else None)
    header = 2 + (2 if 126 <= size < 65536 else 8 if size >= 65536 else 0)
    assert len(wire) == header + (4 if masked else 0) + size
    frames = FrameDecoder(expect_masked=masked).feed(wire)
    assert frames == [Frame(True, Opcode.BINARY, payload)]


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=64))
def test_frames_decode_whatever_way_the_bytes_are_split(payload: bytes, step: int) -> None:
    wire = encode_frame(Opcode.TEXT, payload, fin=False, mask_key=MASK) + encode_frame(
        Opcode.PING, b"hi", mask_key=MASK
    )
    decoder = FrameDecoder(expect_masked=True)
    frames: list[Frame] = []
    for start in range(0, len(wire), step):
        frames += decoder.feed(wire[start : start + step])
    assert frames == [Frame(False, Opcode.TEXT, payload), Frame(True, Opcode.PING, b"hi")]


def test_the_rfc_single_frame_examples_decode() -> None:
    unmasked = bytes.fromhex("810548656c6c6f")
    masked = bytes.fromhex("818537fa213d7f9f4d5158")
    assert FrameDecoder(expect_masked=False).feed(unmasked) == [Frame(True, Opcode.TEXT, b"Hello")]
    assert FrameDecoder(expect_masked=True).feed(masked) == [Frame(True, Opcode.TEXT, b"Hello")]


@pytest.mark.parametrize(
    ("wire", "expect_masked", "code"),
    [
        (encode_frame(Opcode.TEXT, b"x"), True, CloseCode.PROTOCOL_ERROR),  # unmasked client
        (encode_frame(Opcode.TEXT, b"x", mask_key=MASK), False, CloseCode.PROTOCOL_ERROR),
        (bytes([0xC1, 0x80]) + MASK, True, CloseCode.PROTOCOL_ERROR),  # RSV1 set
        (bytes([0x83, 0x80]) + MASK, True, CloseCode.PROTOCOL_ERROR),  # opcode 3
        (bytes([0x09, 0x80]) + MASK, True, CloseCode.PROTOCOL_ERROR),  # fragmented ping
        (bytes([0x89, 0xFE, 0x00, 0x7E]), True, CloseCode.PROTOCOL_ERROR),  # 126-byte ping
        (bytes([0x82, 0xFF]) + (1 << 63).to_bytes(8, "big"), True, CloseCode.PROTOCOL_ERROR),
    ],
)
def test_protocol_violations_name_their_close_code(
    wire: bytes, expect_masked: bool, code: int
) -> None:
    with pytest.raises(ProtocolError) as error:
        FrameDecoder(expect_masked=expect_masked).feed(wire)
    assert error.value.code == code


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    header = bytes([0x82, 0xFF]) + (MAX_MESSAGE_BYTES + 1).to_bytes(8, "big") + MASK
    with pytest.raises(ProtocolError) as error:
        FrameDecoder(expect_masked=True).feed(header)  # no payload sent at all
    assert error.value.code == CloseCode.MESSAGE_TOO_BIG


def test_control_frames_cannot_be_built_too_long_or_fragmented() -> None:
    with pytest.raises(ValueError, match="control frames"):
        encode_frame(Opcode.PING, b"x" * 126)
    with pytest.raises(ValueError, match="control frames"):
        encode_frame(Opcode.CLOSE, b"", fin=False)


# -- messages -----------------------------------------------------------------------------


def test_fragments_are_reassembled_into_one_message() -> None:
    assembler = MessageAssembler()
    assert assembler.add(Frame(False, Opcode.TEXT, b"pl")) is None
    assert assembler.add(Frame(False, Opcode.CONTINUATION, b"a")) is None
    message = assembler.add(Frame(True, Opcode.CONTINUATION, "y ✓".encode()))
    assert message is not None
    assert message.text == "play ✓"
    binary = assembler.add(Frame(True, Opcode.BINARY, b"\xff\x00"))
    assert binary is not None and binary.text is None and binary.data == b"\xff\x00"


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([Frame(True, Opcode.CONTINUATION, b"x")], CloseCode.PROTOCOL_ERROR),
        (
            [Frame(False, Opcode.TEXT, b"a"), Frame(True, Opcode.BINARY, b"b")],
            CloseCode.PROTOCOL_ERROR,
        ),
        ([Frame(True, Opcode.TEXT, b"\xff\xfe")], CloseCode.INVALID_DATA),
        (
            [Frame(False, Opcode.TEXT, "é".encode()[:1]), Frame(True, Opcode.CONTINUATION, b"")],
            CloseCode.INVALID_DATA,
        ),
    ],
)
def test_broken_messages_name_their_close_code(frames: list[Frame], code: int) -> None:
    assembler = MessageAssembler()
    with pytest.raises(ProtocolError) as error:
        for frame in frames:
            assembler.add(frame)
    assert error.value.code == code


def test_a_message_over_the_limit_is_refused_even_in_small_fragments() -> None:
    assembler = MessageAssembler(max_message=10)
    assembler.add(Frame(False, Opcode.BINARY, b"x" * 6))
    with pytest.raises(ProtocolError) as error:
        assembler.add(Frame(True, Opcode.CONTINUATION, b"x" * 6))
    assert error.value.code == CloseCode.MESSAGE_TOO_BIG


def test_close_payloads_round_trip_and_are_checked() -> None:
    assert decode_close(encode_close(CloseCode.GOING_AWAY, "bye")) == (1001, "bye")
    assert decode_close(b"") == (CloseCode.NO_STATUS, "")
    assert len(encode_close(1000, "é" * 100)) <= 125  # cut on a character boundary
    decode_close(encode_close(1000, "é" * 100))
    for bad in (b"\x03", (1005).to_bytes(2, "big"), (999).to_bytes(2, "big")):
        with pytest.raises(ProtocolError):
            decode_close(bad)
    with pytest.raises(ProtocolError) as error:
        decode_close((1000).to_bytes(2, "big") + b"\xff")
    assert error.value.code == CloseCode.INVALID_DATA


# -- both ends over a socket pair ---------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[tuple[WebSocketClient, WebSocket]]:
    client_end, server_end = socket.socketpair()
    client = WebSocketClient(client_end, is_client=True, io_timeout=0.2)
    server = WebSocket(server_end, is_client=False, io_timeout=0.2)
    yield client, server
    client.release()
    server.release()


def test_messages_pings_and_the_closing_handshake(
    pair: tuple[WebSocketClient, WebSocket],
) -> None:
    client, server = pair
    client.send_text("héllo")
    client.send_binary(b"\x00\x01")
    assert server.recv(timeout=2).text == "héllo"
    assert server.recv(timeout=2).data == b"\x00\x01"
    server.send_data(b'{"type":"pong"}')
    server.ping(b"?")  # answered by the client while it waits for data
    assert client.recv_text(timeout=2) == '{"type":"pong"}'
    with pytest.raises(TimeoutError):
        server.recv(timeout=0.3)  # only the pong came back, and pongs are not messages

    replies: list[BaseException] = []

    def server_reads() -> None:
        try:
            server.recv(timeout=2)
        except ConnectionClosedError as closed:
            replies.append(closed)

    reader = threading.Thread(target=server_reads)
    reader.start()
    client.close(CloseCode.NORMAL, "done")
    reader.join(timeout=5)
    assert [(r.code, r.reason) for r in replies if isinstance(r, ConnectionClosedError)] == [
        (1000, "done")
    ]
    assert client.closed_with is not None and client.closed_with[0] == 1000
    with pytest.raises(ConnectionClosedError):
        client.send_text("too late")


def test_a_peer_breaking_the_protocol_gets_the_matching_close_code(
    pair: tuple[WebSocketClient, WebSocket],
) -> None:
    client, server = pair
    client._sock.sendall(encode_frame(Opcode.TEXT, b"unmasked"))  # a client must mask
    with pytest.raises(ConnectionClosedError) as closed:
        server.recv(timeout=2)
    assert closed.value.code == CloseCode.PROTOCOL_ERROR
    with pytest.raises(ConnectionClosedError) as told:
        client.recv(timeout=2)
    assert told.value.code == CloseCode.PROTOCOL_ERROR


def test_a_vanished_peer_reads_as_an_abnormal_close(
    pair: tuple[WebSocketClient, WebSocket],
) -> None:
    client, server = pair
    client.abort()
    with pytest.raises(ConnectionClosedError) as closed:
        server.recv(timeout=2)
    assert closed.value.code == CloseCode.ABNORMAL


class CountingSocket(socket.socket):
    """A socket that counts its reads."""

    reads = 0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        CountingSocket.reads += 1
        return super().recv(bufsize, flags)


def test_a_reader_sleeps_until_data_or_its_deadline_not_every_io_timeout() -> None:
    ours, theirs = socket.socketpair()
    counted = CountingSocket(fileno=theirs.detach())
    CountingSocket.reads = 0
    server = WebSocket(counted, is_client=False, io_timeout=0.01)
    try:
        with pytest.raises(TimeoutError):
            server.recv(timeout=0.3)  # thirty I/O timeouts long
        assert CountingSocket.reads == 0
        ours.sendall(encode_frame(Opcode.TEXT, b"late", mask_key=MASK))
        assert server.recv(timeout=30).text == "late"
        assert CountingSocket.reads == 1
    finally:
        ours.close()
        server.release()


def test_abort_wakes_a_reader_waiting_for_a_long_time(
    pair: tuple[WebSocketClient, WebSocket],
) -> None:
    _, server = pair
    ended: list[BaseException] = []

    def read() -> None:
        try:
            server.recv(timeout=600)
        except (ConnectionClosedError, TimeoutError) as error:
            ended.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    server.abort()  # as the gateway does when it stops
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert [type(e) for e in ended] == [ConnectionClosedError]
