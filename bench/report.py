#!/usr/bin/env python3
"""Helpers of bench/run.sh: reads fio's JSON, takes medians, and writes the
report (RESULTS.md, results.csv, chart.png).

  report.py fio JSON                         prints "MB/s IOPS"
  report.py median RAW SECTION CONFIG WORKLOAD
  report.py report RAW MACHINE RSS OUTDIR

MB/s means 10^6 bytes per second throughout.
"""
import csv
import json
import os
import statistics
import sys

# Performance targets of udmcrypt, as ratios (at least) or MiB (below).
TARGET_ENGINE = 0.90        # engine per core vs the crypto ceiling
TARGET_PASSTHROUGH = 0.85   # each frontend vs the same frontend with cipher_null
TARGET_VS_LUKS_WRITE = 8.0  # udmcrypt's filter vs nbdkit's luks filter, writes
TARGET_VS_LUKS_READ = 1.4   # the same, reads
TARGET_RSS_MIB = 64

# Ratio groups: the key, then the heading of the group in RESULTS.md.
GROUPS = {
    "engine": "Engine vs the crypto ceiling, per core. The ceiling is the faster of "
              "OpenSSL and libgcrypt at that sector size and direction, times "
              "min(threads, cores).",
    "model": "Engine on the tmpfs image vs a model of its unavoidable work: the copies "
             "that the cipher_null engine makes plus the ceiling's cipher time, "
             "1 / (1/null + 1/ceiling). Near 1 means the engine adds little of its own. "
             "For two writing threads the model is too low: there the cipher_null "
             "writers queue on the image's inode lock, while the aes-xts writers "
             "encrypt outside it.",
    "passthrough": "Each frontend vs its passthrough (the same frontend with cipher_null).",
    "peers": "The peers vs their passthrough, nbdkit's file plugin (for reference).",
    "vs-peers": "udmcrypt's filter vs the peers, all three on the same LUKS1 volume.",
    "room": "nbdkit's file plugin vs its luks filter: the most that any encrypting "
            "filter over the file plugin could gain on the luks filter here.",
}

WORKLOADS = ["seq-write", "seq-read", "rand-read-qd1", "rand-read-qd32",
             "rand-write-qd1", "rand-write-qd32"]

WORKLOAD_LABELS = {
    "seq-write": "seq write, 1 MiB",
    "seq-read": "seq read, 1 MiB",
    "rand-read-qd1": "4 KiB rand read, QD1",
    "rand-read-qd32": "4 KiB rand read, QD32",
    "rand-write-qd1": "4 KiB rand write, QD1",
    "rand-write-qd32": "4 KiB rand write, QD32",
    "seq-write-direct": "seq write, 1 MiB, O_DIRECT",
    "seq-read-direct": "seq read, 1 MiB, O_DIRECT",
}
FUSE_WORKLOADS = WORKLOADS + ["seq-write-direct", "seq-read-direct"]

CONFIG_LABELS = {
    ("ceiling", "openssl"): "OpenSSL EVP, one call per sector",
    ("ceiling", "gcrypt"): "libgcrypt, one call per sector",
    ("ceiling", "openssl-bulk"): "OpenSSL EVP, one 1 MiB call (not per sector)",
    ("fuse", "aes"): "udmcrypt FUSE, aes-xts-plain64, 4096 B sectors",
    ("fuse", "null"): "udmcrypt FUSE, cipher_null (passthrough)",
    ("nbd", "udm-aes"): "udmcrypt filter, table aes-xts-plain64, 4096 B sectors",
    ("nbd", "udm-null"): "udmcrypt filter, table cipher_null (passthrough)",
    ("nbd", "udm-luks1"): "udmcrypt filter, the LUKS1 volume",
    ("nbd", "nbdkit-luks"): "nbdkit luks filter, the LUKS1 volume",
    ("nbd", "qemu-luks"): "qemu-nbd, qemu's LUKS driver, the LUKS1 volume",
    ("nbd", "nbdkit-file"): "nbdkit file plugin (the peers' passthrough)",
}

SECTION_LABELS = {"ceiling": "ceiling", "engine": "engine", "fuse": "FUSE", "nbd": "NBD"}


def config_label(section, config):
    if (section, config) in CONFIG_LABELS:
        return CONFIG_LABELS[(section, config)]
    if section == "engine":
        cipher, sector, backing = config.split("-")
        name = "aes-xts-plain64" if cipher == "aes" else "cipher_null"
        where = "tmpfs image" if backing == "tmpfs" else "no backing I/O"
        return f"{name}, {sector} B sectors, {where}"
    return config


def workload_label(section, workload):
    if workload in WORKLOAD_LABELS:
        return WORKLOAD_LABELS[workload]
    op, _, rest = workload.partition("-")
    if section == "ceiling":
        return f"{op}, {rest} B" if rest != "1048576" else f"{op}, 1 MiB"
    if section == "engine":
        threads = rest.lstrip("t")
        call = "pwrite" if op == "encrypt" else "pread"
        return f"{op} ({call}), {threads} thread{'s' if threads != '1' else ''}"
    return workload


# ------------------------------------------------------------------ fio

def fio_result(path):
    with open(path) as f:
        text = f.read()
    # Without --output, fio's nbd engine prints a line before the JSON.
    data = json.loads(text[text.index("{"):])
    bw = iops = 0.0
    for job in data["jobs"]:
        for d in ("read", "write"):
            bw += job[d]["bw_bytes"]
            iops += job[d]["iops"]
    return bw / 1e6, iops


# ------------------------------------------------------------------ data

def load_raw(path):
    cells = {}
    order = []
    with open(path) as f:
        for row in csv.DictReader(f):
            key = (row["section"], row["config"], row["workload"])
            if key not in cells:
                cells[key] = {"mbps": [], "iops": [], "foreign": []}
                order.append(key)
            cells[key]["mbps"].append(float(row["mbps"]))
            cells[key]["foreign"].append(int(row.get("foreign_pct") or 0))
            if row.get("iops"):
                cells[key]["iops"].append(float(row["iops"]))
    return cells, order


def med(values):
    return statistics.median(values) if values else None


def load_kv(path):
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    out[k] = v
    return out


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


def yes_no(met, bold_no=False):
    """Format a met/not met/no target value for a table cell."""
    if met is None:
        return ""
    if met:
        return "yes"
    return "**no**" if bold_no else "no"


def fmt_ratio(v, target=None):
    """Format a ratio with two decimals, or three where two would round a
    ratio below its target up to the target."""
    if v is None:
        return "n/a"
    if target is not None and v < target and round(v, 2) >= target:
        return f"{v:.3f}"
    return f"{v:.2f}"


# ------------------------------------------------------------------ report

class Report:
    def __init__(self, raw, machine, rss):
        self.cells, self.order = load_raw(raw)
        self.m = load_kv(machine)
        self.rss = load_kv(rss)
        self.cores = int(self.m.get("cores", "1"))
        self.ratios = []   # dicts: group, comparison, workload, a, b, ratio, target, met

    def mbps(self, section, config, workload):
        c = self.cells.get((section, config, workload))
        return med(c["mbps"]) if c else None

    def iops(self, section, config, workload):
        c = self.cells.get((section, config, workload))
        return med(c["iops"]) if c else None

    def add_ratio(self, group, comparison, workload, a, b, target=None, scale=1.0):
        """Add the ratio a / (b * scale); group is a key of GROUPS."""
        ratio = a / (b * scale) if a is not None and b else None
        met = None if target is None or ratio is None else ratio >= target
        self.ratios.append(dict(group=group, comparison=comparison, workload=workload,
                                a=a, b=None if b is None else b * scale, ratio=ratio,
                                target=target, met=met))

    def compute_ratios(self):
        # The ceiling of an engine cell is the faster of the two libraries at
        # its sector size and direction. N threads are held against
        # min(N, cores) times it.
        engine_keys = [k for k in self.order
                       if k[0] == "engine" and k[1].startswith("aes-")]
        ceilings = {}
        for section, config, workload in engine_keys:
            _, sector, _ = config.split("-")
            op, _ = workload.split("-t")
            ossl = self.mbps("ceiling", "openssl", f"{op}-{sector}")
            gcry = self.mbps("ceiling", "gcrypt", f"{op}-{sector}")
            best = max((v for v in (ossl, gcry) if v is not None), default=None)
            ceilings[(sector, op)] = (best, ossl, "libgcrypt" if best and best == gcry
                                      else "OpenSSL")
        for key in engine_keys:
            section, config, workload = key
            _, sector, _ = config.split("-")
            op, threads = workload.split("-t")
            best, _, lib = ceilings[(sector, op)]
            n = min(int(threads), self.cores)
            self.add_ratio("engine", f"engine, {config_label(section, config)}",
                           f"{workload_label(section, workload)} [vs {lib}]",
                           self.mbps(*key), best, TARGET_ENGINE, n)
        for key in engine_keys:
            section, config, workload = key
            cipher, sector, backing = config.split("-")
            if backing != "tmpfs":
                continue
            op, threads = workload.split("-t")
            best = ceilings[(sector, op)][0]
            null = self.mbps("engine", "null-4096-tmpfs", workload)
            n = min(int(threads), self.cores)
            model = 1 / (1 / null + 1 / (n * best)) if null and best else None
            self.add_ratio("model", f"engine, {config_label(section, config)}",
                           workload_label(section, workload), self.mbps(*key), model)

        for wl in FUSE_WORKLOADS:
            self.add_ratio("passthrough", "FUSE: aes-xts vs cipher_null",
                           WORKLOAD_LABELS[wl], self.mbps("fuse", "aes", wl),
                           self.mbps("fuse", "null", wl), TARGET_PASSTHROUGH)
        for wl in WORKLOADS:
            self.add_ratio("passthrough", "NBD: udmcrypt filter aes-xts vs "
                           "cipher_null", WORKLOAD_LABELS[wl], self.mbps("nbd", "udm-aes", wl),
                           self.mbps("nbd", "udm-null", wl), TARGET_PASSTHROUGH)
        for peer, name in (("nbdkit-luks", "nbdkit luks filter"), ("qemu-luks", "qemu-nbd LUKS")):
            for wl in WORKLOADS:
                self.add_ratio("peers",
                               f"{name} vs nbdkit file plugin", WORKLOAD_LABELS[wl],
                               self.mbps("nbd", peer, wl), self.mbps("nbd", "nbdkit-file", wl))
        for wl in WORKLOADS:
            target = TARGET_VS_LUKS_WRITE if "write" in wl else TARGET_VS_LUKS_READ
            self.add_ratio("vs-peers", "udmcrypt filter vs nbdkit luks filter",
                           WORKLOAD_LABELS[wl], self.mbps("nbd", "udm-luks1", wl),
                           self.mbps("nbd", "nbdkit-luks", wl), target)
        for wl in WORKLOADS:
            self.add_ratio("vs-peers",
                           "udmcrypt filter vs qemu-nbd LUKS", WORKLOAD_LABELS[wl],
                           self.mbps("nbd", "udm-luks1", wl), self.mbps("nbd", "qemu-luks", wl))
        for wl in WORKLOADS:
            self.add_ratio("room", "nbdkit file plugin vs nbdkit luks filter",
                           WORKLOAD_LABELS[wl], self.mbps("nbd", "nbdkit-file", wl),
                           self.mbps("nbd", "nbdkit-luks", wl))

    # -------------------------------------------------------------- outputs

    def write_csv(self, path):
        cols = ["kind", "section", "config", "workload", "label", "runs", "median_mbps",
                "median_iops", "min_mbps", "max_mbps", "all_mbps", "foreign_pct", "ratio",
                "target", "met"]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for key in self.order:
                section, config, workload = key
                c = self.cells[key]
                w.writerow(["cell", section, config, workload,
                            f"{config_label(section, config)}; "
                            f"{workload_label(section, workload)}",
                            len(c["mbps"]), f"{med(c['mbps']):.1f}",
                            "" if not c["iops"] else f"{med(c['iops']):.0f}",
                            f"{min(c['mbps']):.1f}", f"{max(c['mbps']):.1f}",
                            ";".join(f"{v:.1f}" for v in c["mbps"]),
                            ";".join(str(f) for f in c["foreign"]), "", "", ""])
            for r in self.ratios:
                w.writerow(["ratio", r["group"], r["comparison"], r["workload"], "", "", "", "",
                            "", "", "", "", "" if r["ratio"] is None else f"{r['ratio']:.3f}",
                            "" if r["target"] is None else r["target"],
                            yes_no(r["met"])])
            rss_max = self.rss_mib("rss_max_kib")
            if rss_max is not None:
                w.writerow(["ratio", "daemon memory", "FUSE daemon VmRSS (MiB), 1 TiB image",
                            "reads", "", "", "", "", "", "", "", "", f"{rss_max:.1f}",
                            f"<{TARGET_RSS_MIB}", "yes" if rss_max < TARGET_RSS_MIB else "no"])

    def rss_mib(self, key):
        v = self.rss.get(key)
        return int(v) / 1024 if v and v.isdigit() else None

    def cell_table(self):
        lines = ["| Section | Configuration | Workload | MB/s (median) | IOPS (median) | "
                 "runs, MB/s (other processes' CPU share when above the limit) |",
                 "|---|---|---|---:|---:|---|"]
        for key in self.order:
            section, config, workload = key
            c = self.cells[key]
            iops = fmt(med(c["iops"])) if c["iops"] and workload.startswith("rand") else ""
            limit = int(self.m.get("foreign_max", "100"))
            runs = ", ".join(f"{v:.0f}" + (f" ({f}%)" if f > limit else "")
                             for v, f in zip(c["mbps"], c["foreign"]))
            lines.append(f"| {SECTION_LABELS.get(section, section)} | "
                         f"{config_label(section, config)} | "
                         f"{workload_label(section, workload)} | {fmt(med(c['mbps']))} | "
                         f"{iops} | {runs} |")
        return "\n".join(lines)

    def ratio_table(self):
        lines = ["| Comparison | Workload | A (MB/s) | B (MB/s) | A/B | Target | Met |",
                 "|---|---|---:|---:|---:|---:|---|"]
        group = None
        for r in self.ratios:
            if r["group"] != group:
                group = r["group"]
                lines.append(f"| **{GROUPS[group]}** | | | | | | |")
            target = "" if r["target"] is None else f"≥ {r['target']:g}"
            met = yes_no(r["met"], bold_no=True)
            lines.append(f"| {r['comparison']} | {r['workload']} | {fmt(r['a'])} | "
                         f"{fmt(r['b'])} | {fmt_ratio(r['ratio'], r['target'])} | {target} | {met} |")
        rss_max = self.rss_mib("rss_max_kib")
        if rss_max is not None:
            met = "yes" if rss_max < TARGET_RSS_MIB else "**no**"
            lines.append("| **daemon memory** | | | | | | |")
            lines.append(f"| FUSE daemon VmRSS, 1 TiB sparse image | reads | | | "
                         f"{rss_max:.1f} MiB | < {TARGET_RSS_MIB} MiB | {met} |")
        return "\n".join(lines)

    def below_target(self):
        out = []
        for r in self.ratios:
            if r["met"] is False:
                out.append(f"- {r['comparison']}, {r['workload']}: "
                           f"{fmt_ratio(r['ratio'], r['target'])} (target {r['target']:g})")
        rss_max = self.rss_mib("rss_max_kib")
        if rss_max is not None and rss_max >= TARGET_RSS_MIB:
            out.append(f"- FUSE daemon VmRSS {rss_max:.1f} MiB (target < {TARGET_RSS_MIB} MiB)")
        missing = [r for r in self.ratios if r["target"] is not None and r["ratio"] is None]
        for r in missing:
            out.append(f"- not measured: {r['comparison']}, {r['workload']}")
        return "\n".join(out) if out else "None: every target is met."

    def machine_section(self):
        m = self.m
        pk = lambda p: m.get(f"pkg_{p}", "?")
        return "\n".join([
            f"- CPU: {m.get('cpu', '?')} (family/model {m.get('cpu_family_model', '?')}), "
            f"{m.get('cores', '?')} cores; flags: {m.get('cpu_flags', '').strip()}",
            f"- Memory: {m.get('memory', '?')}; kernel {m.get('kernel', '?')}; "
            f"{m.get('os', '?')}; {m.get('compiler', '?')}",
            f"- Libraries: OpenSSL (libssl3) {pk('libssl3')}, libgcrypt {pk('libgcrypt20')}, "
            f"libfuse3 {pk('libfuse3-3')}",
            f"- Tools: fio {pk('fio')}, nbdkit {pk('nbdkit')}, libnbd {pk('libnbd0')}, "
            f"qemu-utils {pk('qemu-utils')}, cryptsetup {pk('cryptsetup-bin')}",
            f"- udmcrypt: commit {m.get('udmcrypt', '?')}; nbdkit filter: "
            f"{m.get('nbd_filter') or 'not built (NBD cells of udmcrypt left out)'}",
            f"- Images on: {m.get('workdir', '?')}",
            self.vm_note(),
            "- CPU time used by other processes during one second before each phase "
            "(this script idle): " + ", ".join(
                f"{k[len('busy_before_'):]} {v}%" for k, v in m.items()
                if k.startswith("busy_before_")) + ".",
        ])

    def vm_note(self):
        order = self.m.get("page_reporting_order")
        if order is None and "virtio_balloon" not in self.m:
            return "- No free page reporting or virtio balloon driver seen."
        return ("- Virtual machine with free page reporting"
                + (f" (page_reporting_order={order})" if order is not None else "")
                + (", virtio balloon driver present" if "virtio_balloon" in self.m else "")
                + ": pages that the guest frees are handed back to the host, which faults "
                "them in again when they are reused. Writes through the page cache pay for "
                "that (in slow runs, perf put 80% of fio's time in copy_folio_from_iter_atomic on the "
                "machine where this was first measured), so the FUSE "
                "buffered sequential writes vary between runs for both ciphers alike; the "
                "O_DIRECT rows do not allocate page cache.")

    def method_section(self):
        m = self.m
        seq = int(m.get("seq_mib", "0"))
        return "\n".join([
            f"- Mode: {'QUICK (small sizes, for checking the script)' if m.get('quick') == '1' else 'full'}; "
            f"{m.get('runs')} run{'' if m.get('runs') == '1' else 's'} per cell, medians "
            f"quoted; MB/s = 10^6 bytes/s. "
            f"Run took {m.get('elapsed_s', '?')} s on {m.get('date', '?')}. "
            f"Other processes on the machine disturb the numbers: a run during which they "
            f"(kernel threads included) used more than {m.get('foreign_max')}% of the CPUs "
            f"is run again once they calm down (waiting at most 30 s each time), at most "
            f"twice per run and 40 times in all "
            f"({40 - int(m.get('retries_left', '40'))} repeats and "
            f"{240 - int(m.get('quiet_wait_left_s', '240'))} s of waiting in this run). "
            f"The runs list shows that share where it stayed above the limit.",
            f"- Ceiling (`bench/ceiling.c`): AES-256-XTS, 64-byte key set once, plain64 IV per "
            f"sector; a 1 MiB buffer converted in place for {m.get('crypto_secs')} s per cell, "
            f"one core.",
            f"- Engine (`bench/engine.c`): the public API only; `udm_device_open` on a table "
            f"over a {m.get('engine_mib')} MiB image on the work filesystem (or on a blockdev "
            f"whose reads and writes do nothing, \"no backing I/O\"), 1 MiB "
            f"`udm_device_pwrite` (encrypt) or `udm_device_pread` (decrypt) calls, each "
            f"thread on its own range, {m.get('crypto_secs')} s per cell. N = "
            f"{m.get('threads')} threads.",
            f"- FUSE: `build/udmcrypt create` over a {seq} MiB image; fio on the FUSE file "
            f"(not the loop device). Sequential: {seq} MiB, bs=1M, ioengine=psync, direct=0 "
            f"(page cache), caches dropped before each run, end_fsync on writes, and the same "
            f"with direct=1 (O_DIRECT) as a control. Random: "
            f"bs=4k, ioengine=libaio, direct=1 (O_DIRECT on the FUSE file, so the queue depth "
            f"reaches the daemon), {m.get('rand_time')} s per run.",
            f"- NBD: fio's nbd engine (libnbd) on each server's Unix socket. Sequential: "
            f"bs=1M, iodepth={m.get('nbd_seq_qd')}, {seq} MiB or {m.get('nbd_seq_cap')} s, "
            f"whichever ends first. Random as above. The udmcrypt filter, nbdkit's luks filter "
            f"and qemu-nbd share one LUKS1 volume (cryptsetup luksFormat --type luks1, "
            f"aes-xts-plain64, 512-bit key, 512 B sectors); the table configurations map a "
            f"raw image with 4096 B sectors.",
            f"- Daemon memory: a FUSE mapping (aes-xts-plain64) of a 1 TiB sparse image under "
            f"{m.get('rss_time')} s of 4 KiB random reads at QD32 (O_DIRECT) across the TiB "
            f"plus 1 MiB sequential reads through the page cache over its first 4 GiB; VmRSS "
            f"sampled every 0.2 s.",
        ])

    def rss_section(self):
        r = self.rss
        if "rss_max_kib" not in r:
            return "Not measured."
        mib = lambda k: f"{self.rss_mib(k):.1f} MiB" if self.rss_mib(k) is not None else "n/a"
        wl = r.get("rss_workload_mbps_iops", "").split()
        load = f"{float(wl[0]):,.0f} MB/s, {float(wl[1]):,.0f} IOPS" if len(wl) == 2 else "n/a"
        lines = [f"- 1 TiB sparse image: VmRSS idle {mib('rss_idle_kib')}, at most "
                 f"{mib('rss_max_kib')} under reads ({r.get('rss_samples', '?')} samples; "
                 f"the workload ran at {load}); VmHWM {mib('rss_hwm_kib')}."]
        for c in ("aes", "null"):
            if f"fuse_{c}_hwm_kib" in r:
                lines.append(f"- VmHWM of the {c} daemon after the FUSE workloads: "
                             f"{mib(f'fuse_{c}_hwm_kib')}.")
        return "\n".join(lines)

    def markdown(self):
        return "\n\n".join([
            "# udmcrypt benchmark results",
            "Made by `bench/run.sh`; do not edit by hand: run it again.",
            "## Machine", self.machine_section(),
            "## Method", self.method_section(),
            "## Results (medians)", self.cell_table(),
            "## Ratios and targets", self.ratio_table(),
            "## Daemon memory", self.rss_section(),
            "## Below target", self.below_target(),
            "![chart](chart.png)",
        ]) + "\n"

    def chart(self, path):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(3, 1, figsize=(13, 15))

        # Top panel: the ceiling and the engine, one thread.
        ax = axes[0]
        groups = [(op, s) for s in ("512", "4096") for op in ("encrypt", "decrypt")]
        series = [
            ("ceiling: OpenSSL per sector", lambda op, s: self.mbps("ceiling", "openssl", f"{op}-{s}")),
            ("ceiling: libgcrypt per sector", lambda op, s: self.mbps("ceiling", "gcrypt", f"{op}-{s}")),
            ("engine, no backing I/O", lambda op, s: self.mbps("engine", f"aes-{s}-none", f"{op}-t1")),
            ("engine, tmpfs image", lambda op, s: self.mbps("engine", f"aes-{s}-tmpfs", f"{op}-t1")),
        ]
        self._bars(ax, [f"{op}\n{s} B sectors" for op, s in groups], series, groups)
        ax.set_title("Crypto ceiling vs udmcrypt engine, one thread (MB/s)")

        configs = [("fuse", "aes"), ("fuse", "null"), ("nbd", "udm-aes"), ("nbd", "udm-null"),
                   ("nbd", "udm-luks1"), ("nbd", "nbdkit-luks"), ("nbd", "qemu-luks"),
                   ("nbd", "nbdkit-file")]
        configs = [c for c in configs if any((c[0], c[1], w) in self.cells for w in WORKLOADS)]
        short = {("fuse", "aes"): "FUSE\naes-xts", ("fuse", "null"): "FUSE\ncipher_null",
                 ("nbd", "udm-aes"): "udmcrypt NBD\naes-xts 4K", ("nbd", "udm-null"):
                 "udmcrypt NBD\ncipher_null", ("nbd", "udm-luks1"): "udmcrypt NBD\nLUKS1",
                 ("nbd", "nbdkit-luks"): "nbdkit\nluks filter", ("nbd", "qemu-luks"):
                 "qemu-nbd\nLUKS", ("nbd", "nbdkit-file"): "nbdkit\nfile"}
        labels = [short[c] for c in configs]

        ax = axes[1]
        series = [(WORKLOAD_LABELS[w], (lambda w: lambda sec, cfg: self.mbps(sec, cfg, w))(w))
                  for w in ("seq-write", "seq-read")]
        self._bars(ax, labels, series, configs)
        ax.set_title("Sequential, 1 MiB (MB/s)")

        ax = axes[2]
        series = [(WORKLOAD_LABELS[w], (lambda w: lambda sec, cfg: self.iops(sec, cfg, w))(w))
                  for w in WORKLOADS[2:]]
        self._bars(ax, labels, series, configs)
        ax.set_title("Random 4 KiB (IOPS)")

        fig.suptitle(f"udmcrypt benchmark: {self.m.get('cpu', '')}, {self.m.get('cores')} cores, "
                     f"medians of {self.m.get('runs')} runs"
                     + (" (QUICK)" if self.m.get("quick") == "1" else ""))
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        fig.savefig(path, dpi=90)

    @staticmethod
    def _bars(ax, labels, series, keys):
        width = 0.8 / max(len(series), 1)
        for i, (name, fn) in enumerate(series):
            xs, ys = [], []
            for j, k in enumerate(keys):
                v = fn(*k)
                if v is not None:
                    xs.append(j + (i - (len(series) - 1) / 2) * width)
                    ys.append(v)
            bars = ax.bar(xs, ys, width, label=name)
            ax.bar_label(bars, labels=[f"{v:,.0f}" for v in ys], fontsize=6, rotation=90,
                         padding=2)
        ax.set_xticks(range(len(labels)))
        ax.set_xticklabels(labels, fontsize=8)
        ax.legend(fontsize=8)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)


def main(argv):
    if len(argv) == 3 and argv[1] == "fio":
        bw, iops = fio_result(argv[2])
        print(f"{bw:.1f} {iops:.0f}")
    elif len(argv) == 6 and argv[1] == "median":
        cells, _ = load_raw(argv[2])
        c = cells.get((argv[3], argv[4], argv[5]))
        if not c:
            print("no data")
        else:
            out = f"{med(c['mbps']):,.0f} MB/s"
            if c["iops"] and argv[5].startswith("rand"):
                out += f", {med(c['iops']):,.0f} IOPS"
            print(out)
    elif len(argv) == 6 and argv[1] == "report":
        rep = Report(argv[2], argv[3], argv[4])
        rep.compute_ratios()
        out = argv[5]
        rep.write_csv(os.path.join(out, "results.csv"))
        with open(os.path.join(out, "RESULTS.md"), "w") as f:
            f.write(rep.markdown())
        try:
            rep.chart(os.path.join(out, "chart.png"))
        except ImportError as e:
            print(f"report: chart.png not written, matplotlib is missing: {e}",
                  file=sys.stderr)
        print(rep.cell_table())
        print()
        print(rep.ratio_table())
        print()
        print(rep.rss_section())
        print()
        print("Below target:")
        print(rep.below_target())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
