#!/usr/bin/env python3
"""Direct vs `oauthscope proxy` vs mitmproxy (`mitmdump`), one interleaved run.

Origin: Debian's nginx over HTTPS and HTTP (HTTP/1.1 keep-alive), certificate from a CA
made here. Load: oha on kept-alive connections, through each proxy with CONNECT, checking
certificates (--cacert). Recording on: oauthscope writes its capture, mitmdump runs with
-w. The cost of recording is measured by running each proxy once more without it
(oauthscope --no-capture, mitmdump without -w), back to back in alternating pairs. Figures
are medians of the repetitions; ratios are against direct and against mitmproxy measured
in the same run. Run through benches/proxy.sh (installs nginx, oha and mitmproxy).
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "oauthscope")
MITMDUMP = os.path.join(ROOT, "target", "venv", "bin", "mitmdump")
QUICK = "--quick" in sys.argv
JSON_OUT = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
REPS = 1 if QUICK else 3
BIG = 20 * 1024 * 1024
POST_BODY = "grant_type=client_credentials&scope=read%20write&client_id=bench-client" + "&x=" + "a" * 900


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def make_certs(tmp):
    ca_key, ca_pem = f"{tmp}/ca.key", f"{tmp}/ca.pem"
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
       "-nodes", "-keyout", ca_key, "-out", ca_pem, "-days", "2", "-subj", "/CN=bench origin CA",
       "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
       "-keyout", f"{tmp}/leaf.key", "-out", f"{tmp}/leaf.csr", "-subj", "/CN=127.0.0.1")
    with open(f"{tmp}/ext.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    sh("openssl", "x509", "-req", "-in", f"{tmp}/leaf.csr", "-CA", ca_pem, "-CAkey", ca_key,
       "-CAcreateserial", "-out", f"{tmp}/leaf.pem", "-days", "2", "-extfile", f"{tmp}/ext.cnf")
    return ca_pem


def start_nginx(tmp, port, plain_port):
    os.makedirs(f"{tmp}/files", exist_ok=True)
    with open(f"{tmp}/files/big.bin", "wb") as f:
        f.write(os.urandom(BIG))
    conf = f"""
user root;
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  sendfile on;
  client_body_buffer_size 16k;
  server {{
    listen 127.0.0.1:{port} ssl;
    listen 127.0.0.1:{plain_port};
    ssl_certificate {tmp}/leaf.pem;
    ssl_certificate_key {tmp}/leaf.key;
    location = /small {{ default_type text/plain; return 200 "ok\\n"; }}
    location = /token {{
      default_type application/json;
      return 200 '{{"access_token":"bench","token_type":"Bearer","expires_in":3600}}';
    }}
    location /files/ {{ root {tmp}; }}
  }}
}}
"""
    with open(f"{tmp}/nginx.conf", "w") as f:
        f.write(conf)
    p = subprocess.Popen(["nginx", "-c", f"{tmp}/nginx.conf", "-p", tmp],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def wait_port(port, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} did not open")


class Proxy:
    """A proxy process under test: its port, CA file, capture path and /proc figures."""

    def __init__(self, name, argv, port, ca, capture, env=None):
        self.name, self.port, self.ca, self.capture = name, port, ca, capture
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, "NO_COLOR": "1", **(env or {})})
        wait_port(port)
        end = time.time() + 60
        while not os.path.exists(ca) and time.time() < end:
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"

    def reset_peak(self):
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(2)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def oauthscope(tmp, origin_ca, record):
    port = free_port()
    cap = f"{tmp}/oauthscope-{port}.jsonl"
    argv = [BIN, "proxy", "--listen", f"127.0.0.1:{port}", "--upstream-ca", origin_ca,
            "--ca-dir", f"{tmp}/pcerts", "--quiet"]
    argv += ["--out", cap] if record else ["--no-capture"]
    return Proxy("oauthscope" if record else "oauthscope --no-capture", argv, port,
                 f"{tmp}/pcerts/ca.pem", cap if record else None)


def mitmdump(tmp, origin_ca, record):
    port = free_port()
    cap = f"{tmp}/mitm-{port}.flows"
    argv = [MITMDUMP, "-q", "--listen-host", "127.0.0.1", "-p", str(port),
            "--set", f"confdir={tmp}/mitmconf", "--set", f"ssl_verify_upstream_trusted_ca={origin_ca}"]
    if record:
        argv += ["-w", cap]
    return Proxy("mitmdump" if record else "mitmdump (no -w)", argv, port,
                 f"{tmp}/mitmconf/mitmproxy-ca-cert.pem", cap if record else None)


def oha(url, n, c, ca, proxy=None, post=None):
    args = ["oha", "-n", str(n), "-c", str(c), "--no-tui", "--output-format", "json",
            "--cacert", ca]
    if proxy:
        args += ["-x", proxy]
    if post:
        args += ["-m", "POST", "-T", "application/x-www-form-urlencoded", "-d", post]
    out = sh(*args, url).stdout
    j = json.loads(out)
    s = j["summary"]
    lat = j.get("latencyPercentiles", {})
    codes = j.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    errors = sum(j.get("errorDistribution", {}).values())
    return {"rps": s["requestsPerSec"], "p50": (lat.get("p50") or 0) * 1000,
            "p99": (lat.get("p99") or 0) * 1000, "bps": s.get("sizePerSec") or 0,
            "ok": ok, "errors": errors, "n": n}


def main():
    for exe in (BIN, MITMDUMP):
        if not os.path.exists(exe):
            raise SystemExit(f"{exe} missing: run benches/proxy.sh")
    tmp = tempfile.mkdtemp(prefix="oauthscope-bench-")
    origin_ca = make_certs(tmp)
    nport, hport = free_port(), free_port()
    nginx = start_nginx(tmp, nport, hport)
    ours, mitm = oauthscope(tmp, origin_ca, True), mitmdump(tmp, origin_ca, True)
    ours_off, mitm_off = oauthscope(tmp, origin_ca, False), mitmdump(tmp, origin_ca, False)
    proxies = [ours, mitm, ours_off, mitm_off]
    both = f"{tmp}/all-cas.pem"
    with open(both, "w") as f:
        for p in (origin_ca, ours.ca, mitm.ca):
            f.write(open(p).read())
    https, http = f"https://127.0.0.1:{nport}", f"http://127.0.0.1:{hport}"
    scale = 0.2 if QUICK else 1.0
    # (cell, url, n direct/oauthscope, n mitmproxy, concurrency, POST body, measure recording)
    cells = [
        ("HTTPS GET c=1", f"{https}/small", 4000, 600, 1, None, False),
        ("HTTPS GET c=64", f"{https}/small", 60000, 3000, 64, None, True),
        ("HTTPS POST c=64", f"{https}/token", 40000, 2000, 64, POST_BODY, False),
        ("HTTP GET c=64", f"{http}/small", 60000, 3000, 64, None, False),
        ("20 MiB GET c=1", f"{https}/files/big.bin", 60, 10, 1, None, False),
    ]
    sent = {id(p): 0 for p in proxies}
    rows = []
    try:
        for p in proxies:  # warm-up: connections, leaf certificates, JIT-less caches
            oha(f"{https}/small", 200, 8, both, p.url)
            oha(f"{http}/small", 50, 8, both, p.url)
            sent[id(p)] += 250
        for name, url, n_fast, n_slow, c, post, rec_cost in cells:
            n_fast, n_slow = max(int(n_fast * scale), 4), max(int(n_slow * scale), 2)
            runs = {"direct": [], ours.name: [], mitm.name: []}
            cpu = {k: [] for k in runs}
            rss = {k: [] for k in runs}
            for _ in range(REPS):  # interleaved: one of each per repetition
                runs["direct"].append(oha(url, n_fast, c, both, post=post))
                for p in proxies:
                    if p.name not in runs:
                        continue
                    n = n_slow if p.name.startswith("mitmdump") else n_fast
                    p.reset_peak()
                    c0 = p.cpu_seconds()
                    runs[p.name].append(oha(url, n, c, both, p.url, post))
                    cpu[p.name].append((p.cpu_seconds() - c0) / n * 1e6)
                    rss[p.name].append(p.peak_rss_mib())
                    sent[id(p)] += n
            rows.append((name, runs, cpu, rss))
            if rec_cost:
                rec = recording_cost(url, n_fast, n_slow, c, both, ours, ours_off, mitm, mitm_off,
                                     sent)
        many = {}
        for p in (ours, mitm):
            p.reset_peak()
            r = oha(f"{https}/files/big.bin", 64, 64, both, p.url)
            sent[id(p)] += 64
            many[p.name] = (r, p.peak_rss_mib())
    finally:
        for p in proxies:
            p.stop()
        nginx.terminate()
        nginx.wait()
    report(rows, many, sent, ours, mitm, rec)
    shutil.rmtree(tmp, ignore_errors=True)


def recording_cost(url, n_fast, n_slow, c, ca, ours, ours_off, mitm, mitm_off, sent):
    """Throughput with recording over without, measured back to back in pairs (order
    alternating), so slow drifts of this shared machine cancel out; median of the ratios."""
    pairs = 3 if QUICK else 9
    out = {}
    for on, off, n in ((ours, ours_off, n_fast // 2), (mitm, mitm_off, n_slow)):
        ratios = []
        for i in range(pairs):
            order = (on, off) if i % 2 == 0 else (off, on)
            rps = {}
            for p in order:
                rps[p.name] = oha(url, n, c, ca, p.url)["rps"]
                sent[id(p)] += n
            ratios.append(rps[on.name] / rps[off.name])
        out[on.name] = (1 - statistics.median(ratios), ratios)
    return out


def med(xs, k):
    return statistics.median(x[k] for x in xs)


def report(rows, many, sent, ours, mitm, rec):
    O, M = ours.name, mitm.name
    out = {"reps": REPS, "cells": []}
    print(f"\nproxy benchmark: direct vs oauthscope vs mitmproxy "
          f"({'quick, 1 run' if QUICK else f'median of {REPS} interleaved runs'}; nginx origin;"
          f" oha through CONNECT with --cacert; recording on)\n")
    hdr = (f"{'cell':<16}{'direct':>10}{'oauthscope':>11}{'mitmproxy':>10}{'ours/direct':>12}"
           f"{'ours/mitm':>10}{'p50 added ms':>17}{'p99 ms d/o/m':>20}{'CPU us/req o/m':>16}"
           f"{'peak RSS MiB o/m':>18}")
    print(hdr)
    print("-" * len(hdr))
    for name, runs, cpu, rss in rows:
        big = name.startswith("20 MiB")
        k, unit = ("bps", "MB/s") if big else ("rps", "req/s")
        scale = 1e6 if big else 1
        d, o, m = (med(runs[x], k) / scale for x in ("direct", O, M))
        pd, po, pm = (med(runs[x], "p50") for x in ("direct", O, M))
        qd, qo, qm = (med(runs[x], "p99") for x in ("direct", O, M))
        co, cm = statistics.median(cpu[O]), statistics.median(cpu[M])
        ro, rm = statistics.median(rss[O]), statistics.median(rss[M])
        errs = sum(r["errors"] + (r["n"] - r["ok"]) for x in runs.values() for r in x)
        print(f"{name:<16}{d:>10.0f}{o:>11.0f}{m:>10.0f}{o / d:>11.1%} {o / m:>9.1f}x"
              f"{po - pd:>8.3f} /{pm - pd:>7.3f}{qd:>7.2f}/{qo:.2f}/{qm:.2f}".ljust(0)
              + f"{co:>9.0f}/{cm:<6.0f}{ro:>9.1f}/{rm:<8.1f} {unit}"
              + (f"  ({errs} failed)" if errs else ""))
        cell = {"cell": name, "unit": unit, "direct": d, "oauthscope": o, "mitmproxy": m,
                "ours_vs_direct": o / d, "ours_vs_mitm": o / m,
                "p50_added_ms": {"oauthscope": po - pd, "mitmproxy": pm - pd},
                "p99_ms": {"direct": qd, "oauthscope": qo, "mitmproxy": qm},
                "cpu_us_per_req": {"oauthscope": co, "mitmproxy": cm},
                "peak_rss_mib": {"oauthscope": ro, "mitmproxy": rm}, "failed": errs}
        out["cells"].append(cell)
    (co, ro_), (cm, rm_) = rec[O], rec[M]
    print(f"\nrecording cost (HTTPS GET c=64, {len(ro_)} back-to-back pairs with and without "
          f"recording, median of the ratios): oauthscope {co:.1%} of its throughput "
          f"(capture vs --no-capture), mitmproxy {cm:.1%} (-w vs none)")
    out["recording_cost"] = {"oauthscope": co, "mitmproxy": cm,
                             "ratios": {"oauthscope": ro_, "mitmproxy": rm_}}
    (ro, rro), (rm, rrm) = many[O], many[M]
    print(f"64 x 20 MiB at once: oauthscope {ro['bps'] / 1e6:.0f} MB/s, peak RSS {rro:.1f} MiB "
          f"({ro['ok']}/64 ok); mitmproxy {rm['bps'] / 1e6:.0f} MB/s, peak RSS {rrm:.1f} MiB "
          f"({rm['ok']}/64 ok): {rro / rrm:.1%} of mitmproxy's memory")
    out["many_downloads"] = {"oauthscope": {"mbps": ro["bps"] / 1e6, "peak_rss_mib": rro, "ok": ro["ok"]},
                             "mitmproxy": {"mbps": rm["bps"] / 1e6, "peak_rss_mib": rrm, "ok": rm["ok"]}}
    lines = sum(1 for _ in open(ours.capture)) - 1
    print(f"oauthscope capture: {lines} exchanges recorded for {sent[id(ours)]} requests sent "
          f"through it")
    out["capture"] = {"recorded": lines, "sent": sent[id(ours)]}
    if JSON_OUT:
        with open(JSON_OUT, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
