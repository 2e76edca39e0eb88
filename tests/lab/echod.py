#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/lab/echod.py: the real server of the pair lab. One process per real
server namespace, one thread, non-blocking sockets (selectors): it accepts
any number of TCP connections and answers every line "<text>\\n" with
"<name> <text>\\n", so a client learns which real server holds each
connection. A health check's connect-and-close is just another connection.

Usage: echod.py NAME PORT [ADDR]   (ADDR default 0.0.0.0: in DR the VIP on
lo must be served too). Prints "listening" once ready.
"""
import resource
import selectors
import socket
import sys


def main():
    name, port = sys.argv[1], int(sys.argv[2])
    addr = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(1024)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    prefix = name.encode() + b" "
    bufs = {}
    print("listening", flush=True)
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                sel.register(c, selectors.EVENT_READ, b"")
                bufs[c] = b""
                continue
            c = key.fileobj
            try:
                data = c.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                bufs.pop(c, None)
                c.close()
                continue
            buf = bufs[c] + data
            *lines, rest = buf.split(b"\n")
            bufs[c] = rest
            # Replies are a few bytes: the socket buffer never fills here.
            out = b"".join(prefix + ln + b"\n" for ln in lines)
            if out:
                try:
                    c.send(out)
                except OSError:
                    pass


if __name__ == "__main__":
    main()
