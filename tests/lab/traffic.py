#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/lab/traffic.py: the client side of the pair lab. ONE long-running
process in the client namespace drives hundreds of TCP connections with
non-blocking sockets (selectors), because under TCG every process start
costs 0.1-0.6 s and a curl loop manages about one request per second.

Every open connection plays ping-pong with its real server (tests/lab/
echod.py): "p <seq>\\n" out, "<rs> p <seq>\\n" back, then the next ping
after PING_MS. A connection counts as opened when its handshake completes;
its first ping follows at once, so every connection has sent the three
packets after which the IPVS sync daemon copies it to the standby.

Usage: traffic.py VIP PORT [PING_MS]
Commands on stdin, one per line; each gets one JSON line on stdout:
  open N TAG          open N connections; answers when each did one round
                      trip or failed (deadline 90 s): ok, failed, by_rs
  churn MS TAG        from now on open one connection every MS ms tagged
                      TAG (young connections); MS = 0 stops
  check SECONDS       every connection not yet dead must answer a fresh
                      ping within SECONDS; answers, for every connection
                      ever opened (dead ones included), conns = [[tag, t_open,
                      verdict, rs, local port], ...] with verdict ok / dead:<why> /
                      timeout / connecting
  gap T0 T1           longest silence between two replies (any connection)
                      seen between monotonic times T0 and T1
  next                answers as soon as the next churn connection has
                      opened: t_open (the caller kills right after, so the
                      last 100 ms before its kill hold a young connection)
  arm NETNS PID       prepare a kill: start `ip -n NETNS -batch -` now (a
                      process start costs up to 0.6 s under TCG)
  fire                as soon as the next churn connection has opened,
                      take NETNS's eth0 and eth1 down and SIGKILL the
                      process group PID (spawned as a session leader), in
                      the same loop turn; answers t_kill and t_open (the
                      last 100 ms before the kill hold a young connection)
  stats               open connections by real server and by tag
  now                 this process's monotonic clock (the same clock as
                      any other process on this machine)
  quit
Times are time.monotonic() seconds.
"""
import errno
import heapq
import json
import os
import random
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time


class Conn:
    __slots__ = ("id", "tag", "sock", "state", "t_start", "t_open", "rs", "seq", "sent_at",
                 "buf", "why", "answered_after", "lport")

    def __init__(self, cid, tag, sock):
        self.id, self.tag, self.sock = cid, tag, sock
        self.state = "connecting"
        self.t_start = time.monotonic()
        self.t_open = None
        self.rs = None
        self.seq = 0
        self.sent_at = None          # ping in flight since
        self.buf = b""
        self.why = ""
        self.answered_after = 0.0    # time of the last reply
        self.lport = None


class Traffic:
    def __init__(self, vip, port, ping_ms):
        self.dst = (vip, port)
        self.ping_s = ping_ms / 1000.0
        self.sel = selectors.DefaultSelector()
        self.conns = {}
        self.next_id = 0
        self.timers = []              # heap of (due, conn id): next ping
        self.replies = []             # reply times, for the gap
        self.churn_s = 0.0
        self.churn_tag = ""
        self.churn_next = 0.0
        self.waiters = []             # pending open/check/next commands
        self.inbuf = b""
        self.quit = False
        self.killer = None            # (ip -batch process, pid to SIGKILL)
        self.fire_pending = False
        self.fired = None             # (t_kill, t_open) once done

    # ---- connections ---------------------------------------------------
    def connect(self, tag):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(self.next_id, tag, s)
        self.next_id += 1
        self.conns[c.id] = c
        r = s.connect_ex(self.dst)
        if r not in (0, errno.EINPROGRESS):
            self.die(c, os.strerror(r), register=False)
            return c
        self.sel.register(s, selectors.EVENT_WRITE, c)
        return c

    def die(self, c, why, register=True):
        if c.state == "dead":
            return
        c.state, c.why = "dead", why
        if register:
            try:
                self.sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
        c.sock.close()

    def ping(self, c):
        if c.state != "open" or c.sent_at is not None:
            return
        c.seq += 1
        try:
            c.sock.send(b"p %d\n" % c.seq)
        except BlockingIOError:
            return
        except OSError as e:
            self.die(c, e.strerror or str(e))
            return
        c.sent_at = time.monotonic()

    def on_writable(self, c):
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.die(c, os.strerror(err))
            return
        c.state, c.t_open = "open", time.monotonic()
        c.lport = c.sock.getsockname()[1]
        if self.fire_pending and c.tag == self.churn_tag:
            # Right here, not at the end of the loop turn: a turn can take
            # hundreds of milliseconds under TCG.
            self.do_kill(c.t_open)
        self.sel.modify(c.sock, selectors.EVENT_READ, c)
        self.ping(c)

    def on_readable(self, c):
        try:
            data = c.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.die(c, e.strerror or str(e))
            return
        if not data:
            self.die(c, "closed by peer")
            return
        c.buf += data
        now = time.monotonic()
        while b"\n" in c.buf:
            line, c.buf = c.buf.split(b"\n", 1)
            rs = line.split(b" ", 1)[0].decode(errors="replace")
            if c.rs is None:
                c.rs = rs
            elif rs != c.rs:
                self.die(c, f"answered by {rs}, opened on {c.rs}")
                return
            c.sent_at = None
            c.answered_after = now
            self.replies.append(now)
            # Jitter spreads the pings of connections opened together, so
            # that replies arrive evenly and a silence means an outage.
            heapq.heappush(self.timers, (now + self.ping_s * random.uniform(0.5, 1.5), c.id))

    def do_kill(self, t_open):
        self.fire_pending = False
        k, pid = self.killer
        t_kill = time.monotonic()
        k.stdin.write("link set eth0 down\nlink set eth1 down\n")
        k.stdin.flush()
        try:
            # The whole process group: keepalived's children die with it.
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        k.stdin.close()
        k.wait()
        self.killer = None
        self.fired = (t_kill, t_open)

    # ---- commands --------------------------------------------------------
    def reply(self, obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def command(self, line):
        a = line.split()
        if not a:
            return
        now = time.monotonic()
        if a[0] == "open":
            n, tag = int(a[1]), a[2]
            ids = [self.connect(tag).id for _ in range(n)]
            self.waiters.append(("open", now + 90, tag, ids))
        elif a[0] == "churn":
            self.churn_s, self.churn_tag = float(a[1]) / 1000.0, (a[2] if len(a) > 2 else "young")
            self.churn_next = now
            self.reply({"cmd": "churn", "ms": float(a[1])})
        elif a[0] == "check":
            # Dead ones are listed too: a connection lost in the failover
            # must count against the share that survived.
            ids = list(self.conns)
            for i in ids:
                self.ping(self.conns[i])
            self.waiters.append(("check", now + float(a[1]), now, ids))
        elif a[0] == "gap":
            t0, t1 = float(a[1]), float(a[2])
            ts = [t for t in self.replies if t0 <= t <= t1]
            best = (0.0, t0, t0)
            for x, y in zip(ts, ts[1:]):
                if y - x > best[0]:
                    best = (y - x, x, y)
            self.reply({"cmd": "gap", "gap_ms": round(best[0] * 1000, 1), "from": best[1],
                        "to": best[2], "replies": len(ts)})
        elif a[0] == "arm":
            k = subprocess.Popen(["ip", "-n", a[1], "-force", "-batch", "-"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            k.stdin.write("link show dev lo\n")
            k.stdin.flush()
            k.stdout.readline()
            self.killer = (k, int(a[2]))
            self.reply({"cmd": "arm"})
        elif a[0] == "fire":
            self.fire_pending = True
            self.waiters.append(("fire", now + 60, now, None))
        elif a[0] == "next":
            self.waiters.append(("next", now + 60, now, None))
        elif a[0] == "stats":
            by_rs, by_tag = {}, {}
            for c in self.conns.values():
                if c.state == "open":
                    by_rs[c.rs] = by_rs.get(c.rs, 0) + 1
                    by_tag[c.tag] = by_tag.get(c.tag, 0) + 1
            self.reply({"cmd": "stats", "by_rs": by_rs, "by_tag": by_tag})
        elif a[0] == "now":
            self.reply({"cmd": "now", "t": now})
        elif a[0] == "quit":
            self.quit = True
        else:
            self.reply({"cmd": a[0], "error": "unknown command"})

    def settle(self, now):
        keep = []
        for w in self.waiters:
            if w[0] == "open":
                _, deadline, tag, ids = w
                cs = [self.conns[i] for i in ids]
                done = all(c.state == "dead" or c.rs is not None for c in cs)
                if done or now >= deadline:
                    by_rs = {}
                    for c in cs:
                        if c.rs is not None and c.state == "open":
                            by_rs[c.rs] = by_rs.get(c.rs, 0) + 1
                    ok = sum(by_rs.values())
                    self.reply({"cmd": "open", "tag": tag, "ok": ok, "failed": len(cs) - ok,
                                "by_rs": by_rs,
                                "why": sorted({c.why or c.state for c in cs if c.rs is None or c.state != "open"})})
                else:
                    keep.append(w)
            elif w[0] == "fire":
                _, deadline, started, _ = w
                if self.fired is None and now >= deadline:
                    self.do_kill(None)
                if self.fired is not None:
                    self.reply({"cmd": "fire", "t_kill": self.fired[0], "t_open": self.fired[1]})
                    self.fired = None
                else:
                    keep.append(w)
            elif w[0] == "next":
                _, deadline, started, _ = w
                t = max((c.t_open for c in self.conns.values()
                         if c.tag == self.churn_tag and c.t_open and c.t_open >= started), default=None)
                if t is not None or now >= deadline:
                    self.reply({"cmd": "next", "t_open": t})
                else:
                    keep.append(w)
            else:
                _, deadline, started, ids = w
                cs = [self.conns[i] for i in ids]
                done = all(c.state == "dead" or c.answered_after >= started for c in cs)
                if done or now >= deadline:
                    out = []
                    for c in cs:
                        if c.state == "dead":
                            v = "dead:" + c.why
                        elif c.answered_after >= started:
                            v = "ok"
                        else:
                            v = "timeout" if c.state == "open" else c.state
                        out.append([c.tag, c.t_open, v, c.rs, c.lport])
                    self.reply({"cmd": "check", "conns": out})
                else:
                    keep.append(w)
        self.waiters = keep

    # ---- loop ------------------------------------------------------------
    def run(self):
        self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
        while not self.quit:
            now = time.monotonic()
            due = [now + 0.2]
            if self.timers:
                due.append(self.timers[0][0])
            if self.churn_s:
                due.append(self.churn_next)
            timeout = max(0.0, min(due) - now)
            for key, ev in self.sel.select(timeout):
                if key.data == "stdin":
                    data = os.read(key.fd, 65536)
                    if not data:
                        self.quit = True
                        break
                    self.inbuf += data
                    while b"\n" in self.inbuf:
                        line, self.inbuf = self.inbuf.split(b"\n", 1)
                        self.command(line.decode())
                    continue
                c = key.data
                if c.state == "connecting":
                    self.on_writable(c)
                elif c.state == "open":
                    self.on_readable(c)
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, cid = heapq.heappop(self.timers)
                self.ping(self.conns[cid])
            while self.churn_s and self.churn_next <= now:
                self.connect(self.churn_tag)
                self.churn_next += self.churn_s
                if self.churn_next < now - 1.0:   # we fell behind: do not burst
                    self.churn_next = now
            self.settle(now)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    random.seed()
    vip, port = sys.argv[1], int(sys.argv[2])
    ping_ms = float(sys.argv[3]) if len(sys.argv) > 3 else 500.0
    Traffic(vip, port, ping_ms).run()


if __name__ == "__main__":
    main()
