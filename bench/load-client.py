#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""One client of bench/load.sh: random reads and writes on its own region.

Usage: load-client.py nbd:SOCKET|fuse:PATH OFFSET SIZE SECONDS SEED RESULT

It reads its region once to learn its content, then for SECONDS writes and
reads random ranges (half of them not aligned to 4096 bytes) and checks
every read against the content it expects. Every 64 writes it syncs
(NBD_CMD_FLUSH, or fsync on the FUSE file). The FUSE client drops the page
cache of a range before it reads it, so that its reads reach the daemon.
At the end it reads the whole region again, and writes RESULT as JSON:
counts, bytes, errors, mismatches and the SHA-256 of the expected content.
"""
import hashlib
import importlib.util
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = (512, 4096, 4096, 16384, 65536, 262144)
SYNC_EVERY = 64
CHUNK = 1 << 20


def load_nbd_client():
    path = os.path.join(HERE, "..", "tests", "e2e", "nbd-client.py")
    spec = importlib.util.spec_from_file_location("nbd_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Nbd:
    def __init__(self, path):
        self.client = load_nbd_client().Client(path)

    def read(self, offset, length):
        return self.client.read(offset, length)

    def write(self, offset, data):
        self.client.write(offset, data)

    def sync(self):
        self.client._request(3, 0, 0)   # NBD_CMD_FLUSH

    def close(self):
        self.client.close()


class Fuse:
    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR)

    def read(self, offset, length):
        os.posix_fadvise(self.fd, offset, length, os.POSIX_FADV_DONTNEED)
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise OSError(5, "short read")
        return data

    def write(self, offset, data):
        if os.pwrite(self.fd, data, offset) != len(data):
            raise OSError(5, "short write")

    def sync(self):
        os.fsync(self.fd)

    def close(self):
        os.close(self.fd)


def main(argv):
    if len(argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    kind, _, path = argv[1].partition(":")
    base, size, seconds, seed = (int(a) for a in argv[2:6])
    dev = Nbd(path) if kind == "nbd" else Fuse(path)
    rng = random.Random(seed)
    expected = bytearray()
    for offset in range(0, size, CHUNK):
        expected += dev.read(base + offset, min(CHUNK, size - offset))

    stats = {"kind": kind, "offset": base, "size": size, "reads": 0, "writes": 0,
             "syncs": 0, "bytes_read": 0, "bytes_written": 0, "errors": 0,
             "mismatches": 0}
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        length = rng.choice(SIZES)
        if rng.random() < 0.5:
            length = rng.randint(1, length)
            offset = rng.randrange(size - length + 1)
        else:
            offset = rng.randrange((size - length) // 4096 + 1) * 4096
        try:
            if rng.random() < 0.5:
                data = rng.randbytes(length)
                dev.write(base + offset, data)
                expected[offset:offset + length] = data
                stats["writes"] += 1
                stats["bytes_written"] += length
                if stats["writes"] % SYNC_EVERY == 0:
                    dev.sync()
                    stats["syncs"] += 1
            else:
                data = dev.read(base + offset, length)
                stats["reads"] += 1
                stats["bytes_read"] += length
                if data != expected[offset:offset + length]:
                    stats["mismatches"] += 1
        except OSError as e:
            # A failed write leaves its range unknown: stop here.
            stats["errors"] += 1
            stats["error"] = str(e)
            break
    stats["seconds"] = time.monotonic() - start

    final = bytearray()
    try:
        dev.sync()
        for offset in range(0, size, CHUNK):
            final += dev.read(base + offset, min(CHUNK, size - offset))
        dev.close()
    except OSError as e:
        stats["errors"] += 1
        stats["error"] = str(e)
    stats["final_ok"] = final == expected
    stats["sha256"] = hashlib.sha256(expected).hexdigest()
    with open(argv[6], "w") as f:
        json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
