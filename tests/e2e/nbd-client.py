#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A minimal NBD client for the end-to-end tests, on a Unix socket.

It negotiates with NBD_OPT_GO and requests no block size constraints, so
it may send requests at any offset and length, which the server must then
accept (NBD protocol, "Block size constraints"). libnbd and qemu round
requests to the advertised minimum block size instead.

Usage:
  nbd-client.py SOCKET size
  nbd-client.py SOCKET read OFFSET LENGTH      (data to standard output)
  nbd-client.py SOCKET write OFFSET            (data from standard input)
  nbd-client.py SOCKET interleave WORKER WORKERS SECTORS ROUNDS
  nbd-client.py SOCKET check-interleave WORKERS SECTORS ROUNDS

interleave splits each of SECTORS 4096-byte sectors into WORKERS chunks
shifted by 3 bytes, so chunks straddle sector boundaries, and writes chunk
WORKER of every sector ROUNDS times with a byte that depends on the worker
and the round, reading each chunk back after its write: only this worker
writes it, so any other content is an update lost to another worker's
read-modify-write. check-interleave verifies that every chunk holds its
worker's last byte. Exit status: 0 success, 1 error or mismatch.
"""
import socket
import struct
import sys

OPTS_MAGIC = 0x49484156454F5054
REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
OPT_GO = 7
REP_ACK = 1
REP_INFO = 3
INFO_EXPORT = 0
CMD_READ, CMD_WRITE, CMD_DISC = 0, 1, 2
SECTOR = 4096
SHIFT = 3


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("server closed the connection")
        data += chunk
    return bytes(data)


def negotiate(sock):
    """Runs the fixed newstyle handshake with NBD_OPT_GO for the default
    export on a connected socket. Returns the export size, or None when
    the server sent no NBD_INFO_EXPORT."""
    magic, opts, _flags = struct.unpack(">8s8sH", recv_exact(sock, 18))
    if magic != b"NBDMAGIC" or opts != b"IHAVEOPT":
        raise ValueError("not a newstyle NBD server")
    sock.sendall(struct.pack(">I", 1 | 2))  # fixed newstyle, no zeroes
    name = b""
    data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
    sock.sendall(struct.pack(">QII", OPTS_MAGIC, OPT_GO, len(data)) + data)
    size = None
    while True:
        magic, _opt, kind, length = struct.unpack(">QIII", recv_exact(sock, 20))
        payload = recv_exact(sock, length)
        if magic != REPLY_MAGIC:
            raise ValueError("invalid option reply magic")
        if kind & 0x80000000:
            raise ValueError("server rejected NBD_OPT_GO: %s" % payload.decode(errors="replace"))
        if kind == REP_INFO and struct.unpack(">H", payload[:2])[0] == INFO_EXPORT:
            size = struct.unpack(">Q", payload[2:10])[0]
        if kind == REP_ACK:
            return size


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.handle = 0
        self.size = negotiate(self.sock)

    def _request(self, cmd, offset, length, data=b""):
        self.handle += 1
        self.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, cmd, self.handle, offset,
                                      length) + data)
        magic, error, handle = struct.unpack(">IIQ", recv_exact(self.sock, 16))
        if magic != SIMPLE_REPLY_MAGIC or handle != self.handle:
            raise ValueError("invalid reply")
        if error:
            raise OSError(error, "request failed at offset %d" % offset)
        return recv_exact(self.sock, length) if cmd == CMD_READ else b""

    def read(self, offset, length):
        return self._request(CMD_READ, offset, length)

    def write(self, offset, data):
        self._request(CMD_WRITE, offset, len(data), data)

    def close(self):
        self.sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 0, 0, 0))
        self.sock.close()


def chunk_of(worker, workers, sector):
    """Offset and length of a worker's chunk in a sector."""
    length = SECTOR // workers
    return sector * SECTOR + worker * length + SHIFT, length


def fill_byte(worker, rnd):
    return (worker * 37 + rnd * 11 + 1) & 0xFF


def main(argv):
    client = Client(argv[1])
    cmd = argv[2]
    if cmd == "size":
        print(client.size)
    elif cmd == "read":
        sys.stdout.buffer.write(client.read(int(argv[3]), int(argv[4])))
    elif cmd == "write":
        client.write(int(argv[3]), sys.stdin.buffer.read())
    elif cmd == "interleave":
        worker, workers, sectors, rounds = map(int, argv[3:7])
        lost = 0
        for rnd in range(rounds):
            for sector in range(sectors):
                offset, length = chunk_of(worker, workers, sector)
                data = bytes([fill_byte(worker, rnd)]) * length
                client.write(offset, data)
                lost += client.read(offset, length) != data
        if lost:
            print("worker %d: %d writes were lost" % (worker, lost), file=sys.stderr)
            return 1
    elif cmd == "check-interleave":
        workers, sectors, rounds = map(int, argv[3:6])
        bad = 0
        for sector in range(sectors):
            for worker in range(workers):
                offset, length = chunk_of(worker, workers, sector)
                if client.read(offset, length) != bytes([fill_byte(worker, rounds - 1)]) * length:
                    bad += 1
        if bad:
            print("%d chunks lost their last write" % bad, file=sys.stderr)
            return 1
    else:
        print("unknown command %s" % cmd, file=sys.stderr)
        return 1
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
