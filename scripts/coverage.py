#!/usr/bin/env python3
"""Coverage report: recall and precision of the names and addresses ioc-sensor extracts,
against tshark's ground truth in ../shared/corpus/NAME.expected.json, per category of
MANIFEST.tsv and in total.

    python3 scripts/coverage.py [--bin target/release/ioc-sensor] [--corpus ../shared/corpus] [--misses]

Recall    = names in the ground truth that the sensor also reports / names in the ground truth
Precision = names the sensor reports that the ground truth also has / names the sensor reports

DNS: question names of queries (ground truth `dns_queries`; for precision also the names tshark
saw only in responses or could not decode). TLS: SNI of TCP ClientHellos. HTTP: Host values
without port. QUIC: SNI of QUIC Initial ClientHellos. IP: every address tshark decoded at any
layer against every address in the sensor's records (flow records included).

DNS names the sensor flags `rrname_truncated` (cut short by the end of a damaged message, or
longer than it keeps) are fragments, not names: they count as found when tshark shows the
same fragment, and are left out of precision (the sensor never matches them).
Only the Python standard library is used.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from collections import defaultdict

KINDS = ["dns", "tls", "http", "quic", "ip"]


def unescape_sensor(s):
    """The sensor writes non-printable bytes as \\xNN and a backslash as \\\\."""
    b, out, i = s.encode(), bytearray(), 0
    while i < len(b):
        if b[i:i + 2] == b"\\\\":
            out += b"\\"
            i += 2
        elif b[i:i + 2] == b"\\x" and i + 4 <= len(b):
            out.append(int(b[i + 2:i + 4], 16))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def unescape_tshark(s):
    """tshark shows C escapes (\\t, \\r) and octal \\ooo for other non-printable bytes."""
    b, out, i = s.encode(), bytearray(), 0
    cmap = {ord("a"): 7, ord("b"): 8, ord("f"): 12, ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("v"): 11}
    while i < len(b):
        if b[i] == 0x5C and i + 3 < len(b) and all(0x30 <= c <= 0x37 for c in b[i + 1:i + 4]):
            out.append(int(b[i + 1:i + 4], 8) & 0xFF)
            i += 4
        elif b[i] == 0x5C and i + 1 < len(b) and b[i + 1] in cmap:
            out.append(cmap[b[i + 1]])
            i += 2
        else:
            out.append(b[i])
            i += 1
    return bytes(out)


def wire_name(hexstr):
    data, labels, pos = bytes.fromhex(hexstr), [], 0
    while pos < len(data) and data[pos] != 0 and data[pos] < 64:
        labels.append(data[pos + 1:pos + 1 + data[pos]])
        pos += 1 + data[pos]
    return b".".join(labels) or b"."


def truth(expected):
    dns = {unescape_tshark(n) for n in expected.get("dns_queries", []) if "\ufffd" not in n}
    dns |= {wire_name(h) for h in expected.get("dns_queries_wire_hex", [])}
    dns_any = dns | {unescape_tshark(n) for n in expected.get("dns_response_only_names", [])}
    return {
        "dns": (dns, dns_any | {n.encode() for n in expected.get("dns_unparsed_names", [])}),
        "tls": (set(expected.get("tls_sni", [])),) * 2,
        "http": (set(expected.get("http_hosts_port_stripped", [])),) * 2,
        "quic": (set(expected.get("quic_sni", [])),) * 2,
        "ip": (set(expected.get("ips", [])),) * 2,
    }


def sensor(binary, capture):
    out = subprocess.run([binary, "-q", "-r", capture, "--events", "dns,tls,http,quic,flow"],
                         capture_output=True, text=True, check=False).stdout
    seen = {k: set() for k in KINDS}
    seen["dns_partial"] = set()
    for line in out.splitlines():
        r = json.loads(line)
        for q in r.get("dns", {}).get("queries", []):
            name = b"." if q["rrname"] == "<root>" else unescape_sensor(q["rrname"])
            seen["dns_partial" if q.get("rrname_truncated") else "dns"].add(name)
        if r.get("tls", {}).get("sni"):
            seen["tls"].add(r["tls"]["sni"])
        if r.get("quic", {}).get("sni"):
            seen["quic"].add(r["quic"]["sni"])
        if r.get("http", {}).get("hostname"):
            seen["http"].add(r["http"]["hostname"])
        for obj in (r, r.get("tunnel", {})):
            for key in ("src_ip", "dest_ip"):
                if key in obj:
                    seen["ip"].add(obj[key])
    return seen


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(here, "..", "target", "debug", "ioc-sensor"))
    ap.add_argument("--corpus", default=os.path.join(here, "..", "..", "shared", "corpus"))
    ap.add_argument("--misses", action="store_true", help="list every name missed or extra")
    args = ap.parse_args()
    manifest = list(csv.DictReader(open(os.path.join(args.corpus, "MANIFEST.tsv")), delimiter="\t"))
    # counts[category][kind] = [truth, found, reported, correct]
    counts = defaultdict(lambda: {k: [0, 0, 0, 0] for k in KINDS})
    misses = []
    for row in manifest:
        capture = os.path.join(args.corpus, row["file"])
        stem = row["file"].rsplit(".", 1)[0]
        expected = json.load(open(os.path.join(args.corpus, stem + ".expected.json")))
        want, got = truth(expected), sensor(args.bin, capture)
        for kind in KINDS:
            recall_set, precision_set = want[kind]
            partial = got["dns_partial"] if kind == "dns" else set()
            found = recall_set & (got[kind] | partial)
            correct = got[kind] & precision_set
            for cat in row["categories"].split(",") + ["TOTAL"]:
                c = counts[cat][kind]
                c[0] += len(recall_set)
                c[1] += len(found)
                c[2] += len(got[kind])
                c[3] += len(correct)
            for n in sorted(recall_set - got[kind] - partial, key=str):
                misses.append(f"{row['file']}: {kind} missed {n!r}")
            for n in sorted(got[kind] - precision_set, key=str):
                misses.append(f"{row['file']}: {kind} extra {n!r}")

    def pct(a, b):
        return "   -  " if b == 0 else f"{100.0 * a / b:6.2f}"

    header = f"{'category':36} " + " ".join(f"{k + ' R%':>8} {k + ' P%':>8}" for k in KINDS)
    print(header)
    print("-" * len(header))
    for cat in sorted(counts, key=lambda c: (c == "TOTAL", c)):
        cells = " ".join(f"{pct(c[1], c[0]):>8} {pct(c[3], c[2]):>8}" for c in (counts[cat][k] for k in KINDS))
        print(f"{cat:36} {cells}")
    total = counts["TOTAL"]
    print("\nTOTAL counts (truth, found, reported, correct): "
          + ", ".join(f"{k} {tuple(total[k])}" for k in KINDS))
    if args.misses:
        print("\n" + "\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
