"""Board-side agent: serves one board over TCP or a serial port (numpy + stdlib; runs on a PYNQ-Z2).

    python -m host.agent --board golden|pynq-z2|sim --listen 127.0.0.1:PORT
    python -m host.agent --board pynq-z2 --serial /dev/ttyPS0 [--baud 115200]

Request/response over host.protocol frames. Images are cached by digest (several, LRU), so a host
that reconnects does not resend its model. A request frame with a bad checksum is answered with
ERROR kind=checksum (the client resends); a repeated seq gets the cached reply (no double run).
"""
from __future__ import annotations

import argparse
import socket
import sys
import time
from collections import OrderedDict

from .boards.base import Board, BoardDisconnected, BoardTimeout, CoreMismatch, ImageMismatch
from .link import Channel, FdLink, Link, SerialLink, SocketLink
from .protocol import PROTOCOL_VERSION, ChecksumError, Message, MsgType, ProtocolError, image_from_message

IMAGE_CACHE = 4

#: exception class -> ERROR kind (the client maps kinds back to the same classes)
ERROR_KINDS = {ImageMismatch: "image_mismatch", CoreMismatch: "core_mismatch", BoardTimeout: "timeout",
               ProtocolError: "protocol", ValueError: "value"}


def error_kind(e: Exception) -> str:
    for cls, kind in ERROR_KINDS.items():
        if isinstance(e, cls):
            return kind
    return "board"


class Agent:
    def __init__(self, board: Board, log=None):
        self.board = board
        self.images: OrderedDict = OrderedDict()
        self.log = log or (lambda s: print(f"[agent] {s}", file=sys.stderr, flush=True))
        self.requests = 0

    # ---- message handling ---------------------------------------------------------------------------
    def handle(self, msg: Message) -> Message:
        t0 = time.perf_counter()
        try:
            reply = self._dispatch(msg)
        except Exception as e:  # every failure goes back to the host as a clear error
            reply = Message(MsgType.ERROR, {"kind": error_kind(e), "message": f"{type(e).__name__}: {e}"})
        reply.seq = msg.seq
        reply.fields["agent_s"] = time.perf_counter() - t0
        return reply

    def _dispatch(self, msg: Message) -> Message:
        t = msg.type
        if t == MsgType.HELLO:
            return Message(MsgType.INFO, {"info": self.board.info(), "protocol": PROTOCOL_VERSION,
                                          "images": list(self.images)})
        if t == MsgType.HAS_IMAGE:
            return Message(MsgType.OK, {"loaded": msg.fields.get("digest") in self.images})
        if t == MsgType.LOAD_IMAGE:
            img = image_from_message(msg)
            digest = img.digest()
            self.board.check_image(img)
            self.images[digest] = img
            self.images.move_to_end(digest)
            while len(self.images) > IMAGE_CACHE:
                self.images.popitem(last=False)
            return Message(MsgType.OK, {"digest": digest})
        if t == MsgType.RUN:
            f = msg.fields
            img = self.images.get(f.get("digest"))
            if img is None:
                return Message(MsgType.ERROR, {"kind": "no_image", "message": "image not loaded on the agent"})
            self.images.move_to_end(f["digest"])
            self.board.load_image(img)  # no-op while the same image is loaded
            if "phases0" not in msg.arrays:
                raise ProtocolError("RUN without phases0")
            steps = f.get("steps")
            if f.get("trajectory"):
                res = self.board.run_trajectory(int(f["class_id"]), msg.arrays["phases0"], steps)
            else:
                res = self.board.run(int(f["class_id"]), msg.arrays["phases0"], steps)
            arrays = {"phases": res.phases}
            if res.trajectory is not None:
                arrays["trajectory"] = res.trajectory
            return Message(MsgType.RESULT, {"timing": res.timing, "overflow": bool(res.overflow)}, arrays)
        if t == MsgType.BYE:
            return Message(MsgType.OK, {"bye": True})
        raise ProtocolError(f"the agent does not handle {t.name} messages")

    # ---- serving a link ---------------------------------------------------------------------------------
    def serve_link(self, link: Link, idle_timeout: float | None = None) -> None:
        """Serve requests on one link until BYE, EOF or idle_timeout seconds without a request."""
        ch = Channel(link)
        last_seq, last_reply = None, None
        idle = 0.0
        while True:
            try:
                msg = ch.recv(timeout=1.0)
            except BoardTimeout:
                if ch.reader.pending:  # a partial frame that never completed: drop it
                    self.log(f"dropping {ch.reader.pending} bytes of an incomplete frame")
                    ch.reader.clear()
                idle += 1.0
                if idle_timeout is not None and idle >= idle_timeout:
                    return
                continue
            except ChecksumError as e:
                self.log(f"bad frame: {e}; asking for a resend")
                ch.resync()
                ch.send(Message(MsgType.ERROR, {"kind": "checksum", "message": str(e)}))
                continue
            except ProtocolError as e:
                self.log(f"malformed frame: {e}")
                ch.resync()
                ch.send(Message(MsgType.ERROR, {"kind": "protocol", "message": str(e)}))
                continue
            except BoardDisconnected:
                return
            idle = 0.0
            if msg.seq == last_seq and last_reply is not None:  # a retry of what we already did
                reply = last_reply
            else:
                self.requests += 1
                reply = self.handle(msg)
                last_seq, last_reply = msg.seq, reply
            try:
                ch.send(reply)
            except BoardDisconnected:
                return
            if msg.type == MsgType.BYE:
                return

    def serve_tcp(self, host: str, port: int, ready=None, once: bool = False) -> None:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(1)
        actual = srv.getsockname()[1]
        self.log(f"serving {self.board.name} on tcp://{host}:{actual}")
        print(f"LISTENING {host}:{actual}", flush=True)  # machine-readable line for launchers
        if ready is not None:
            ready(actual)
        try:
            while True:
                conn, addr = srv.accept()
                self.log(f"client {addr[0]}:{addr[1]} connected")
                link = SocketLink(conn, f"{addr[0]}:{addr[1]}")
                try:
                    self.serve_link(link)
                finally:
                    link.close()
                self.log("client disconnected")
                if once:
                    return
        finally:
            srv.close()


def make_board(name: str, args) -> Board:
    from .boards import open_board

    params = None
    if args.n is not None:
        from fixedpoint.spec import default_build

        params = default_build(args.n, args.n_cond, args.format, args.lanes)
    return open_board(name, params=params, bitfile=args.bitfile, simulator=args.simulator)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.agent", description=__doc__.split("\n")[0])
    ap.add_argument("--board", default="golden", choices=["golden", "pynq-z2", "sim"], help="board to serve (default golden)")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--listen", metavar="HOST:PORT", help="serve over TCP (port 0 picks a free port)")
    g.add_argument("--serial", metavar="DEVICE", help="serve over a serial port, e.g. /dev/ttyPS0")
    g.add_argument("--fd", type=int, help=argparse.SUPPRESS)  # an inherited descriptor (tests)
    ap.add_argument("--baud", type=int, default=115200, help="serial line rate (default 115200)")
    ap.add_argument("--bitfile", default=None, help="pynq-z2: overlay .bit (with its .hwh beside it)")
    ap.add_argument("--simulator", default="verilator", choices=["verilator", "icarus"], help="sim board: simulator")
    ap.add_argument("--n", type=int, default=None, help="sim/golden: core build to model (with --lanes, --format)")
    ap.add_argument("--n-cond", type=int, default=8, help="sim/golden with --n: conditioning oscillators (default 8)")
    ap.add_argument("--lanes", type=int, default=None, help="sim/golden with --n: MAC lanes (default: fixedpoint.spec.default_build)")
    ap.add_argument("--format", default=None, help="sim/golden with --n: numerics format (default: fixedpoint.spec.default_build, "
                    "the PYNQ-Z2 build for n=1024)")
    ap.add_argument("--once", action="store_true", help="exit after the first client disconnects")
    args = ap.parse_args(argv)
    try:
        board = make_board(args.board, args)
    except Exception as e:
        print(f"error: cannot open board {args.board!r}: {e}", file=sys.stderr)
        return 2
    agent = Agent(board)
    try:
        if args.listen:
            host, _, port = args.listen.rpartition(":")
            agent.serve_tcp(host or "127.0.0.1", int(port), once=args.once)
        elif args.serial:
            link = SerialLink.open(args.serial, args.baud)
            print(f"LISTENING {args.serial}", flush=True)
            while True:  # a serial line outlives its clients: serve the next one after BYE
                agent.serve_link(link)
                if args.once:
                    break
        else:
            print(f"LISTENING fd {args.fd}", flush=True)
            agent.serve_link(FdLink(args.fd, "fd"))
    except KeyboardInterrupt:
        pass
    finally:
        board.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
