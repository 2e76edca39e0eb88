#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench/scrape/scrape.py: the scraper of the scrape benchmark. Once a
second for SECONDS: GET /metrics from the metrics listener, then
`status --json` on the control socket (the line protocol directorctl
speaks), one after the other. Each request is printed as
  SCRAPE <what> <t_start> <t_end> <bytes> <ok>
with CLOCK_MONOTONIC seconds (time.monotonic), the clock scrape_runner's
BUSY lines use, so run.sh can find the loop iterations each request held.

  scrape.py SOCKET HOST:PORT SECONDS"""
import json
import socket
import sys
import time


def fetch(family, addr, data):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(addr)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    s.close()
    return b"".join(chunks)


def main():
    sock, hostport, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    host, port = hostport.rsplit(":", 1)
    end = time.monotonic() + seconds
    nxt = time.monotonic()
    while nxt < end:
        t0 = time.monotonic()
        out = fetch(socket.AF_INET, (host, int(port)), b"GET /metrics HTTP/1.0\r\n\r\n")
        t1 = time.monotonic()
        ok = out.startswith(b"HTTP/1.0 200") and b"directord_config_real_servers" in out
        print(f"SCRAPE metrics {t0:.6f} {t1:.6f} {len(out)} {int(ok)}", flush=True)
        t2 = time.monotonic()
        out = fetch(socket.AF_UNIX, sock, b"status --json\n")
        t3 = time.monotonic()
        word, _, body = out.partition(b"\n")
        try:
            ok = word == b"ok" and len(json.loads(body)["clusters"]) > 0
        except ValueError:
            ok = False
        print(f"SCRAPE status {t2:.6f} {t3:.6f} {len(out)} {int(ok)}", flush=True)
        nxt += 1.0
        time.sleep(max(0.0, nxt - time.monotonic()))


if __name__ == "__main__":
    main()
