#!/usr/bin/env python3
"""Direct vs through `oauthscope proxy` (recording on), one interleaved run.

Origin: Debian's nginx over HTTPS (HTTP/1.1 keep-alive), certificate from a CA made here.
Load: oha, through the proxy with CONNECT, checking certificates (--cacert).
Figures are medians of the repetitions, reported as ratios against the direct baseline
measured in the same run. Run through benches/proxy.sh (installs nginx and oha).
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "oauthscope")
QUICK = "--quick" in sys.argv
REPS = 1 if QUICK else 3
BIG = 20 * 1024 * 1024


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


def start_nginx(tmp, port):
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
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tmp}/leaf.pem;
    ssl_certificate_key {tmp}/leaf.key;
    location = /small {{ default_type text/plain; return 200 "ok\\n"; }}
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


def wait_port(port, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} did not open")


def start_proxy(tmp, port, origin_ca):
    cap = f"{tmp}/capture.jsonl"
    p = subprocess.Popen([BIN, "proxy", "--listen", f"127.0.0.1:{port}", "--out", cap,
                          "--upstream-ca", origin_ca, "--ca-dir", f"{tmp}/pcerts", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env={**os.environ, "NO_COLOR": "1"})
    for line in p.stdout:
        if "listening on" in line:
            break
    return p, cap, f"{tmp}/pcerts/ca.pem"


def oha(url, n, c, ca, proxy=None):
    args = ["oha", "-n", str(n), "-c", str(c), "--no-tui", "--output-format", "json",
            "--cacert", ca]
    if proxy:
        args += ["-x", proxy]
    out = sh(*args, url).stdout
    j = json.loads(out)
    s = j["summary"]
    lat = j.get("latencyPercentiles", {})
    codes = j.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    return {"rps": s["requestsPerSec"], "p50": lat.get("p50", 0) * 1000,
            "p99": lat.get("p99", 0) * 1000, "bps": s.get("sizePerSec", 0), "ok": ok, "n": n}


def reset_peak(pid):
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    if not os.path.exists(BIN):
        raise SystemExit("build first: cargo build --release")
    tmp = tempfile.mkdtemp(prefix="oauthscope-bench-")
    origin_ca = make_certs(tmp)
    nport, pport = free_port(), free_port()
    nginx = start_nginx(tmp, nport)
    proxy, cap, proxy_ca = start_proxy(tmp, pport, origin_ca)
    purl = f"http://127.0.0.1:{pport}"
    # oha needs one bundle that holds both CAs: direct uses the origin CA, proxied ours.
    both = f"{tmp}/both.pem"
    with open(both, "w") as f:
        f.write(open(origin_ca).read() + open(proxy_ca).read())
    small = f"https://127.0.0.1:{nport}/small"
    big = f"https://127.0.0.1:{nport}/files/big.bin"
    sent = 0
    cells = [("small GET c=1", small, 500 if QUICK else 3000, 1),
             ("small GET c=64", small, 5000 if QUICK else 40000, 64),
             ("20 MiB download c=1", big, 5 if QUICK else 15, 1)]
    results = {}
    try:
        oha(small, 200, 8, both)  # warm-up
        oha(small, 200, 8, both, purl)
        sent += 200
        for name, url, n, c in cells:
            d, p, rss, cpu = [], [], [], []
            for _ in range(REPS):
                d.append(oha(url, n, c, both))
                reset_peak(proxy.pid)
                c0 = cpu_seconds(proxy.pid)
                p.append(oha(url, n, c, both, purl))
                cpu.append((cpu_seconds(proxy.pid) - c0) / n * 1e6)
                rss.append(peak_rss_mib(proxy.pid))
                sent += n
            results[name] = (d, p, rss, cpu)
        reset_peak(proxy.pid)
        many = oha(big, 64, 64, both, purl)
        sent += 64
        many_rss = peak_rss_mib(proxy.pid)
    finally:
        proxy.send_signal(2)
        try:
            proxy.wait(30)
        except subprocess.TimeoutExpired:
            proxy.kill()
        nginx.terminate()
        nginx.wait()
    med = lambda xs, k: statistics.median(x[k] for x in xs)
    print(f"\noauthscope proxy benchmark ({'quick' if QUICK else f'median of {REPS}'}; "
          f"nginx HTTPS origin; oha through CONNECT with --cacert)\n")
    print(f"{'cell':<22}{'direct':>14}{'via proxy':>14}{'ratio':>9}{'p50 +ms':>9}"
          f"{'p99 d/p ms':>16}{'CPU us/req':>11}{'peak RSS':>10}")
    for name, (d, p, rss, cpu) in results.items():
        if "download" in name:
            dv, pv = med(d, "bps") / 1e6, med(p, "bps") / 1e6
            unit = "MB/s"
        else:
            dv, pv = med(d, "rps"), med(p, "rps")
            unit = "req/s"
        print(f"{name:<22}{dv:>9.0f} {unit:<4}{pv:>9.0f} {unit:<4}{pv / dv:>8.1%}"
              f"{med(p, 'p50') - med(d, 'p50'):>9.3f}"
              f"{med(d, 'p99'):>8.2f}/{med(p, 'p99'):<7.2f}"
              f"{statistics.median(cpu):>11.0f}{statistics.median(rss):>7.1f} MiB")
    print(f"{'64 x 20 MiB at once':<22}{'':>14}{many['bps'] / 1e6:>9.0f} MB/s{'':>33}"
          f"{many_rss:>11.1f} MiB  ({many['ok']}/64 ok)")
    lines = sum(1 for _ in open(cap)) - 1
    print(f"\ncapture: {lines} exchanges recorded for {sent} requests sent through the proxy")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
