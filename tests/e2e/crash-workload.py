#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A random-write workload with a journal, for the crash tests.

The target is the device file of a FUSE mapping (fuse:PATH) or an NBD
export on a Unix socket (nbd:SOCKET). The workload writes runs of 512-byte
units at random offsets, each unit self-describing: a magic, its unit
number, the sequence number of the write, and bytes derived from both. It
syncs (fsync on the FUSE file, NBD_CMD_FLUSH on NBD) every few writes,
and it stops at the first I/O error, which is what a killed server gives.

Usage:
  crash-workload.py TARGET init UNITS STATE
      write sequence number 0 to every unit, sync, and create STATE
  crash-workload.py TARGET cycle STATE JOURNAL SEED READY
      verify the units against STATE and JOURNAL (when JOURNAL exists) and
      update STATE. Then create the file READY, write until an I/O error,
      and save the new JOURNAL
  crash-workload.py TARGET verify STATE JOURNAL
      verify only
  crash-workload.py TARGET errors STATE JOURNAL SEED WRITES
      write WRITES times, where a failed write or sync counts as never
      acknowledged instead of stopping the workload, and save JOURNAL:
      for a server that injects errors, verified later on a clean one

Verification of a unit: its content must be a valid unit of a write to it.
A unit whose last write was acknowledged before the start of the last
completed sync must hold that write or a later one: no acknowledged,
synced write is lost. The content may also come from a write after that
sync, complete or not, but never be anything else, so a torn write shows
as old or new units, never as a mix inside one. It prints one "verified:"
line with counts, and a "lost:" line for every unit that breaks the rule.
Exit status: 0 success, 1 verification failed, 2 usage or setup error.
"""
import hashlib
import importlib.util
import json
import os
import random
import socket
import struct
import sys
import time

UNIT = 512
MAGIC = b"UDMCRASH"
NBD_REQUEST_MAGIC = 0x25609513
NBD_SIMPLE_REPLY_MAGIC = 0x67446698
NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_FLUSH, NBD_CMD_DISC = 0, 1, 3, 2
MAX_RUN = 128         # units per write: up to 64 KiB
SYNC_EVERY = (4, 24)  # writes between two syncs, drawn at random
QUEUE_DEPTH = 8       # NBD requests in flight


def unit_bytes(unit, seq):
    fill = hashlib.sha256(b"%d:%d" % (unit, seq)).digest() * 16
    return MAGIC + struct.pack("<QQ", unit, seq) + fill[:UNIT - 24]


def parse_unit(data, unit):
    """Returns the sequence number of a valid unit, or None."""
    if data[:8] != MAGIC:
        return None
    number, seq = struct.unpack("<QQ", data[8:24])
    if number != unit or data != unit_bytes(unit, seq):
        return None
    return seq


def load_nbd_client():
    """Loads nbd-client.py beside this file, whose name is no module name."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nbd-client.py")
    spec = importlib.util.spec_from_file_location("nbd_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nbd_client = load_nbd_client()
recv_exact = nbd_client.recv_exact


class NbdTarget:
    """An NBD connection with pipelined writes and simple replies."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.handle = 0
        self.pending = {}   # handle -> callback run when the reply arrives
        nbd_client.negotiate(self.sock)

    def send(self, cmd, offset, length, data=b"", done=None):
        self.handle += 1
        self.pending[self.handle] = done
        self.sock.sendall(struct.pack(">IHHQQI", NBD_REQUEST_MAGIC, 0, cmd, self.handle,
                                      offset, length) + data)
        return self.handle

    def reap(self):
        """Waits for one reply of a write or flush and runs its callback
        with the error code, 0 for success."""
        magic, error, handle = struct.unpack(">IIQ", recv_exact(self.sock, 16))
        if magic != NBD_SIMPLE_REPLY_MAGIC or handle not in self.pending:
            raise ValueError("invalid reply")
        done = self.pending.pop(handle)
        if done:
            done(error)
        elif error:
            raise OSError(error, "NBD request failed")

    def read(self, offset, length):
        while self.pending:
            self.reap()
        self.send(NBD_CMD_READ, offset, length)
        magic, error, handle = struct.unpack(">IIQ", recv_exact(self.sock, 16))
        self.pending.pop(handle, None)
        if magic != NBD_SIMPLE_REPLY_MAGIC or error:
            raise OSError(error or 5, "NBD read failed")
        return recv_exact(self.sock, length)

    def write(self, offset, data, done):
        while len(self.pending) >= QUEUE_DEPTH:
            self.reap()
        self.send(NBD_CMD_WRITE, offset, len(data), data, done)

    def sync(self, sent, done):
        sent()
        handle = self.send(NBD_CMD_FLUSH, 0, 0, b"", done)
        while handle in self.pending:
            self.reap()

    def drain(self):
        while self.pending:
            self.reap()

    def close(self):
        self.drain()
        self.sock.sendall(struct.pack(">IHHQQI", NBD_REQUEST_MAGIC, 0, NBD_CMD_DISC, 0, 0, 0))
        self.sock.close()


class FuseTarget:
    """The device file, written one request at a time."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)
        self.pending = {}

    def read(self, offset, length):
        return os.pread(self.fd, length, offset)

    def write(self, offset, data, done):
        try:
            if os.pwrite(self.fd, data, offset) != len(data):
                raise OSError(5, "short write")
        except OSError as e:
            done(e.errno)
            return
        done(0)

    def sync(self, sent, done):
        sent()
        try:
            os.fsync(self.fd)
        except OSError as e:
            done(e.errno)
            return
        done(0)

    def drain(self):
        pass

    def close(self):
        os.close(self.fd)


def connect(target):
    kind, _, path = target.partition(":")
    if kind == "nbd":
        return NbdTarget(path)
    if kind == "fuse":
        return FuseTarget(path)
    raise ValueError("target must be fuse:PATH or nbd:SOCKET, not %s" % target)


def read_units(dev, count):
    data = bytearray()
    chunk = 256 << 10
    for offset in range(0, count * UNIT, chunk):
        data += dev.read(offset, min(chunk, count * UNIT - offset))
    return data


def allowed_seqs(state, journal):
    """Per unit: the durable sequence number and the later ones, in order.

    A write counts as durable when its reply came before the last completed
    sync was sent. Writes in flight never overlap, so each unit's writes
    are acknowledged in the order they were sent."""
    durable_mark = journal["last_sync_sent"]
    history = {}
    for seq, first, count, acked in journal["writes"]:
        for unit in range(first, first + count):
            history.setdefault(unit, []).append((seq, acked))
    result = {}
    for unit, writes in history.items():
        seqs = [state["units"][unit]] + [seq for seq, _ in writes]
        durable = 0
        last_acked = 0
        for i, (_, acked) in enumerate(writes, 1):
            if acked is not None:
                last_acked = i
                if durable_mark is not None and acked < durable_mark:
                    durable = i
        result[unit] = (seqs[durable:], seqs[last_acked:])
    return result


def verify(dev, state, journal):
    """Checks every unit and stores its sequence number in state. Returns 0 or 1."""
    count = len(state["units"])
    data = read_units(dev, count)
    allowed = allowed_seqs(state, journal) if journal else {}
    bad = newer = unsynced_lost = 0
    for unit in range(count):
        seq = parse_unit(bytes(data[unit * UNIT:(unit + 1) * UNIT]), unit)
        seqs, after_last_ack = allowed.get(unit, ([state["units"][unit]],) * 2)
        if seq is None or seq not in seqs:
            bad += 1
            if bad <= 10:
                print("lost: unit %d contains %s, expected one of %s" %
                      (unit, "garbage" if seq is None else "write %d" % seq, seqs))
            continue
        if seq != seqs[0]:
            newer += 1
        if seq not in after_last_ack:
            unsynced_lost += 1
        state["units"][unit] = seq
    writes = len(journal["writes"]) if journal else 0
    acked = sum(1 for w in journal["writes"] if w[3] is not None) if journal else 0
    syncs = journal["syncs"] if journal else 0
    print("verified: %d units, %d bad, %d newer than the last sync, %d older than their "
          "last acknowledged write; %d writes, %d acknowledged, %d syncs" %
          (count, bad, newer, unsynced_lost, writes, acked, syncs))
    return 1 if bad else 0


def run(dev, state, seed, journal_path, max_writes=None):
    """Writes until an I/O error, or with max_writes that many times, taking
    failed requests as never acknowledged. The journal is saved in any case."""
    rng = random.Random(seed)
    count = len(state["units"])
    clock = [0]   # event counter: orders replies and sync requests
    journal = {"writes": [], "last_sync_sent": None, "syncs": 0, "failed": 0}
    in_flight = {}   # seq -> (first, count)

    def tick():
        clock[0] += 1
        return clock[0]

    def failed(error):
        if max_writes is None:
            raise OSError(error, "request failed")
        journal["failed"] += 1

    def acknowledge(record):
        def done(error):
            in_flight.pop(record[0], None)
            if error:
                failed(error)
            else:
                record[3] = tick()
        return done

    def overlaps(first, length):
        return any(first < f + n and f < first + length for f, n in in_flight.values())

    sync_sent = [None]

    def sent():
        sync_sent[0] = tick()

    def synced(error):
        if error:
            failed(error)
        else:
            journal["last_sync_sent"] = sync_sent[0]
            journal["syncs"] += 1

    seq = state["next_seq"]
    until_sync = rng.randint(*SYNC_EVERY)
    error = None
    try:
        while max_writes is None or len(journal["writes"]) < max_writes:
            length = rng.choice((1, 1, 8, 8, 8, 16, rng.randint(1, MAX_RUN)))
            first = rng.randrange(count - length + 1)
            while overlaps(first, length):
                dev.reap()
            data = b"".join(unit_bytes(u, seq) for u in range(first, first + length))
            record = [seq, first, length, None]
            journal["writes"].append(record)
            in_flight[seq] = (first, length)
            seq += 1
            dev.write(first * UNIT, data, acknowledge(record))
            until_sync -= 1
            if until_sync == 0:
                dev.sync(sent, synced)
                until_sync = rng.randint(*SYNC_EVERY)
        dev.drain()
    except (OSError, EOFError, ValueError) as e:
        error = e
    state["next_seq"] = seq
    with open(journal_path, "w") as f:
        json.dump(journal, f)
    print("stopped: %s after %d writes and %d syncs" % (error, len(journal["writes"]),
                                                        journal["syncs"]))
    print("failed: %d requests" % journal["failed"])


def must_succeed(error):
    if error:
        raise OSError(error, "request failed")


def save(path, state):
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    dev = connect(argv[1])
    cmd = argv[2]

    if cmd == "init":
        count = int(argv[3])
        for first in range(0, count, MAX_RUN):
            n = min(MAX_RUN, count - first)
            dev.write(first * UNIT, b"".join(unit_bytes(u, 0) for u in range(first, first + n)),
                      must_succeed)
        dev.sync(lambda: None, must_succeed)
        dev.close()
        save(argv[4], {"units": [0] * count, "next_seq": 1})
        return 0

    with open(argv[3]) as f:
        state = json.load(f)
    if cmd == "errors":
        run(dev, state, int(argv[5]), argv[4], int(argv[6]))
        dev.close()
        save(argv[3], state)
        return 0

    journal = None
    if os.path.exists(argv[4]):
        with open(argv[4]) as f:
            journal = json.load(f)
    status = verify(dev, state, journal)
    if cmd == "verify" or status:
        dev.close()
        save(argv[3], state)
        return status
    if cmd != "cycle":
        print("unknown command %s" % cmd, file=sys.stderr)
        return 2

    # The next cycle starts from what was verified; sync it first.
    dev.sync(lambda: None, must_succeed)
    if journal:
        os.unlink(argv[4])
    save(argv[3], state)
    open(argv[6], "w").close()
    run(dev, state, int(argv[5]), argv[4])
    save(argv[3], state)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
