#!/usr/bin/env python3
"""bench_controller.py -- what `prescale run` costs at N targets, against a real Prometheus and
the fast fake Kubernetes API (tests/bench/fake_kube_fast.c). Figures only; nothing asserted.

For each N: starts fake_kube_fast with N Deployments (HTTPS, a self-signed certificate made
with openssl here), a real `prometheus` scraping the fake's /metrics every 15 s (waits until
all N bench_load series are there), and `prescale run` with N Autoscalers (interval 15 s, one
External AverageValue metric on the target's own bench_load series). Every second it samples
VmRSS and utime+stime of the three processes from /proc. Counters are taken at t0 (30 s after
prescale started: its first interval is warm-up) and at the end, and the rates are over that
window. Prints one table row per N and writes a JSON file.

Every process runs in its own process group, dies with this script (PR_SET_PDEATHSIG) and is
stopped (SIGTERM, then SIGKILL) in a finally block; every wait is bounded.

usage: bench_controller.py --build-dir DIR [N ...] [--seconds S] [--json FILE] [--keep]
"""
import argparse
import atexit
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

T0_S = 30.0  # counters for rates are taken this long after prescale starts
TOKEN = "bench-token"
NAMESPACE = "bench"
LATENESS = "prescale_tick_lateness_seconds"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

_children = []  # Popen objects still to stop


def log(msg):
    print("bench-controller: " + msg, file=sys.stderr, flush=True)


# ---- processes -----------------------------------------------------------------------------

def _child_setup():
    os.setpgid(0, 0)
    try:  # PR_SET_PDEATHSIG = 1: the kernel kills the child when this script dies
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def spawn(argv, log_path, stdout=None):
    """Starts argv as the leader of its own process group; stderr (and stdout unless given)
    go to log_path."""
    lf = open(log_path, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=stdout if stdout is not None else lf, stderr=lf,
                         preexec_fn=_child_setup, close_fds=True)
    lf.close()
    _children.append(p)
    return p


def stop(p, grace=10.0):
    """SIGTERM to p's group, SIGKILL after grace seconds; returns (exit status, seconds)."""
    if p is None:
        return None, 0.0
    t = time.monotonic()
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log("pid %d did not stop within %.0f s: SIGKILL" % (p.pid, grace))
    try:
        os.killpg(p.pid, signal.SIGKILL)  # anything the group left behind
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    if p in _children:
        _children.remove(p)
    return p.returncode, time.monotonic() - t


def stop_all():
    for p in list(_children):
        stop(p, grace=3.0)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < need:
        log("warning: open files limited to %d, %d wanted" % (want, need))
    return want


# ---- /proc -----------------------------------------------------------------------------------

def proc_sample(pid):
    """(rss_kb, cpu_s, threads) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14, 15)
        threads = int(fields[17])
        rss_kb = int(fields[21]) * PAGE_KB
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
        return rss_kb, cpu, threads
    except (OSError, ValueError, IndexError):
        return None


class Sampler(threading.Thread):
    """Samples the processes every second until stopped."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = pids  # name -> pid
        self.samples = []  # (t, {name: (rss_kb, cpu_s, threads)})
        self.halt = threading.Event()
        self.t_start = time.monotonic()

    def run(self):
        while not self.halt.is_set():
            now = time.monotonic() - self.t_start
            self.samples.append((now, {n: proc_sample(p) for n, p in self.pids.items()}))
            self.halt.wait(1.0)

    def peak_rss(self, name):
        v = [s[name][0] for _, s in self.samples if s.get(name)]
        return max(v) if v else None


# ---- HTTP ------------------------------------------------------------------------------------

def http_get(url, timeout=10.0, ctx=None, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
        return r.read().decode("utf-8", "replace")


def wait_for(what, fn, timeout):
    """Calls fn() until it returns a true value, for at most timeout seconds."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            v = fn()
            if v:
                return v
        except (OSError, urllib.error.URLError, ValueError) as e:
            last = e
        time.sleep(0.5)
    raise RuntimeError("%s: not within %.0f s (%s)" % (what, timeout, last))


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> [(name, {labels}, value)]."""
    out = []
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        try:
            v = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), dict(_LABEL.findall(m.group(3) or "")), v))
    return out


def msum(samples, name, **match):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == w for k, w in match.items()))


def has(samples, name):
    return any(n == name for n, _, _ in samples)


def buckets(samples, name):
    """{le: cumulative count} of histogram name (summed over label sets)."""
    out = {}
    for n, l, v in samples:
        if n == name + "_bucket" and "le" in l:
            le = float(l["le"])
            out[le] = out.get(le, 0.0) + v
    return out


def hist_quantile(q, b):
    """histogram_quantile(q) over cumulative buckets {le: count}; None when empty."""
    if not b:
        return None
    les = sorted(b)
    total = b[les[-1]]
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le in les:
        c = b[le]
        if c >= rank:
            if le == float("inf"):
                return prev_le  # like Prometheus: the highest finite bound
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return les[-1]


# ---- one run -------------------------------------------------------------------------------

def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    os.chmod(key, 0o600)
    return cert, key


def name_of(i):
    return "t%05d" % i


def write_prescale_config(path, n, prom_url, listen, qps, target="average", forecast=None):
    """target "average": AverageValue 100 on the series (no pod list); "value": Value 300,
    for which prescale lists the target's pods every tick (HPA counts the ready pods)."""
    tgt = ('{type: AverageValue, averageValue: "100"}' if target == "average"
           else '{type: Value, value: "300"}')
    with open(path, "w") as f:
        f.write("apiVersion: prescale.dev/v1alpha1\nkind: ControllerConfig\n"
                "prometheus:\n  url: %s\n  timeout: 5s\n"
                "kubernetes:\n  qps: %g\n  burst: %d\n"
                "listen: \"%s\"\ndefaults:\n  interval: 15s\n" % (prom_url, qps, int(qps), listen))
        for i in range(n):
            f.write("---\napiVersion: prescale.dev/v1alpha1\nkind: Autoscaler\n"
                    "metadata: {name: %s, namespace: %s}\n"
                    "spec:\n  scaleTargetRef: {kind: Deployment, name: %s}\n"
                    "  minReplicas: 1\n  maxReplicas: 20\n  metrics:\n"
                    "    - name: load\n"
                    "      type: External\n"
                    "      query: 'bench_load{namespace=\"{{.namespace}}\","
                    "deployment=\"{{.target}}\"}'\n"
                    "      target: %s\n"
                    % (name_of(i), NAMESPACE, name_of(i), tgt))
            if forecast:
                f.write("  forecast: {model: %s}\n" % forecast)


def write_kubeconfig(path, server, ca):
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\n"
                "clusters:\n- name: fake\n  cluster:\n    server: %s\n"
                "    certificate-authority: %s\n"
                "users:\n- name: bench\n  user:\n    token: %s\n"
                "contexts:\n- name: fake\n  context: {cluster: fake, user: bench, "
                "namespace: %s}\ncurrent-context: fake\n" % (server, ca, TOKEN, NAMESPACE))
    os.chmod(path, 0o600)


class Run:
    def __init__(self, args, n):
        self.args, self.n = args, n
        self.dir = tempfile.mkdtemp(prefix="prescale-bench-%d-" % n)
        self.fake = self.prom = self.ps = None
        self.row = {"n": n}

    def path(self, name):
        return os.path.join(self.dir, name)

    def start_fake(self):
        cert, key = make_cert(self.dir)
        self.cert = cert
        self.tls = ssl.create_default_context(cafile=cert)
        out = open(self.path("fake.out"), "wb")
        self.fake = spawn([self.args.fake, "--count", str(self.n), "--namespace", NAMESPACE,
                           "--token", TOKEN, "--tls-cert", cert, "--tls-key", key,
                           "--period", str(self.args.period)],
                          self.path("fake.log"), stdout=out)
        out.close()

        def ready():
            if self.fake.poll() is not None:
                raise RuntimeError("fake_kube_fast exited (%s); see %s"
                                   % (self.fake.returncode, self.path("fake.log")))
            with open(self.path("fake.out")) as f:
                m = re.search(r"READY port=(\d+) scheme=(\w+)", f.read())
            return m
        m = wait_for("fake_kube_fast ready", ready, 30)
        self.fake_url = "%s://127.0.0.1:%s" % (m.group(2), m.group(1))

    def fake_stats(self):
        return json.loads(http_get(self.fake_url + "/stats", ctx=self.tls))

    def start_prometheus(self):
        port = free_port()
        self.prom_url = "http://127.0.0.1:%d" % port
        hostport = self.fake_url.split("://")[1]
        with open(self.path("prometheus.yml"), "w") as f:
            f.write("global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n"
                    "scrape_configs:\n- job_name: fake\n  scheme: https\n"
                    "  tls_config:\n    ca_file: %s\n"
                    "  static_configs:\n  - targets: ['%s']\n" % (self.cert, hostport))
        self.prom = spawn(["prometheus", "--config.file=" + self.path("prometheus.yml"),
                           "--storage.tsdb.path=" + self.path("prom-data"),
                           "--web.listen-address=127.0.0.1:%d" % port,
                           "--storage.tsdb.retention.time=1d", "--log.level=warn"],
                          self.path("prometheus.log"))

        def ready():
            if self.prom.poll() is not None:
                raise RuntimeError("prometheus exited (%s); see %s"
                                   % (self.prom.returncode, self.path("prometheus.log")))
            return http_get(self.prom_url + "/-/ready", timeout=2).strip() != ""
        wait_for("prometheus ready", ready, 60)

        def series():
            r = json.loads(http_get(self.prom_url + "/api/v1/query?query=count(bench_load)",
                                    timeout=5))
            res = r.get("data", {}).get("result", [])
            have = int(float(res[0]["value"][1])) if res else 0
            return have >= self.n
        if self.n > 0:
            wait_for("the %d bench_load series in prometheus" % self.n, series, 60)

    def prom_counts(self):
        s = parse_metrics(http_get(self.prom_url + "/metrics", timeout=10))
        return {"query": msum(s, "prometheus_http_requests_total", handler="/api/v1/query"),
                "query_range": msum(s, "prometheus_http_requests_total",
                                    handler="/api/v1/query_range")}

    def start_prescale(self):
        self.listen_port = free_port()
        write_prescale_config(self.path("prescale.yaml"), self.n, self.prom_url,
                              "127.0.0.1:%d" % self.listen_port, self.args.kube_qps,
                              self.args.target, self.args.forecast)
        write_kubeconfig(self.path("kubeconfig"), self.fake_url, self.cert)
        self.ps = spawn([self.args.prescale, "run", "-c", self.path("prescale.yaml"),
                         "--kubeconfig", self.path("kubeconfig"),
                         "--listen", "127.0.0.1:%d" % self.listen_port,
                         "--log-level", self.args.log_level],
                        self.path("prescale.log"))
        self.t_start = time.monotonic()

    def prescale_metrics(self):
        return parse_metrics(http_get("http://127.0.0.1:%d/metrics" % self.listen_port,
                                      timeout=10))

    def snapshot(self):
        """Every counter the row needs, and the processes' CPU, now."""
        snap = {"t": time.monotonic() - self.t_start, "cpu": {}, "rss": {}}
        for name, p in (("prescale", self.ps), ("prometheus", self.prom), ("fake", self.fake)):
            s = proc_sample(p.pid) if p and p.poll() is None else None
            snap["cpu"][name] = s[1] if s else None
            snap["rss"][name] = s[0] if s else None
            if name == "prescale":
                snap["threads"] = s[2] if s else None
                try:
                    snap["fds"] = len(os.listdir("/proc/%d/fd" % p.pid))
                except OSError:
                    snap["fds"] = None
        try:
            m = self.prescale_metrics()
            snap["ticks"] = msum(m, "prescale_target_ticks_total")
            snap["skipped"] = msum(m, "prescale_target_skipped_ticks_total")
            snap["errors"] = msum(m, "prescale_target_errors_total")
            snap["kube_errors"] = msum(m, "prescale_kubernetes_request_errors_total")
            snap["scale_actions"] = msum(m, "prescale_target_scale_actions_total")
            snap["lateness"] = buckets(m, LATENESS) if has(m, LATENESS + "_bucket") else None
        except (OSError, urllib.error.URLError, ValueError) as e:
            log("N=%d: prescale /metrics: %s" % (self.n, e))
            snap["ticks"] = None
        try:
            snap["prom"] = self.prom_counts()
        except (OSError, urllib.error.URLError, ValueError) as e:
            log("N=%d: prometheus /metrics: %s" % (self.n, e))
            snap["prom"] = None
        try:
            st = self.fake_stats()
            req = st["requests"]
            snap["api"] = sum(v for k, v in req.items() if k not in ("metrics", "stats", "healthz"))
            snap["api_kinds"] = {k: v for k, v in req.items() if v}
            snap["patches"] = st.get("patches_applied")
            snap["fake_connections"] = st.get("connections")
        except (OSError, urllib.error.URLError, ValueError, KeyError) as e:
            log("N=%d: fake /stats: %s" % (self.n, e))
            snap["api"] = None
        return snap

    def sleep_until(self, t):
        while True:
            left = self.t_start + t - time.monotonic()
            if left <= 0:
                return
            if self.ps.poll() is not None:
                raise RuntimeError("prescale exited early (status %s); see %s"
                                   % (self.ps.returncode, self.path("prescale.log")))
            time.sleep(min(left, 1.0))

    def execute(self):
        self.start_fake()
        self.start_prometheus()
        self.start_prescale()
        self.sampler = Sampler({"prescale": self.ps.pid, "prometheus": self.prom.pid,
                                "fake": self.fake.pid})
        self.sampler.t_start = self.t_start
        self.sampler.start()
        wait_for("prescale /metrics", lambda: self.prescale_metrics() is not None, 60)
        t0 = min(T0_S, self.args.seconds / 2)
        self.sleep_until(t0)
        a = self.snapshot()
        self.sleep_until(self.args.seconds)
        b = self.snapshot()
        self.sampler.halt.set()
        self.sampler.join(timeout=5)
        status, took = stop(self.ps, grace=20.0)
        self.ps_stop = (status, took)
        self.compute(a, b)

    def compute(self, a, b):
        r = self.row
        dt = b["t"] - a["t"]
        r["window_s"] = round(dt, 1)

        def delta(key, sub=None):
            x, y = a.get(key), b.get(key)
            if sub is not None:
                x = x.get(sub) if x else None
                y = y.get(sub) if y else None
            return None if x is None or y is None else y - x
        r["rss_mb"] = b["rss"]["prescale"] / 1024 if b["rss"]["prescale"] else None
        r["rss_peak_mb"] = (self.sampler.peak_rss("prescale") or 0) / 1024
        r["threads"] = b.get("threads")
        r["fds"] = b.get("fds")
        r["fake_connections"] = b.get("fake_connections")
        cpu = delta("cpu", "prescale")
        r["cpu_cores"] = cpu / dt if cpu is not None else None
        ticks = delta("ticks")
        r["ticks"] = ticks
        r["ticks_per_s"] = ticks / dt if ticks is not None else None
        r["expected_ticks_per_s"] = self.n / 15.0
        r["cpu_us_per_tick"] = cpu * 1e6 / ticks if cpu is not None and ticks else None
        r["skipped"] = b.get("skipped")
        r["errors"] = b.get("errors")
        r["kube_errors"] = b.get("kube_errors")
        r["scale_actions"] = b.get("scale_actions")
        lat = None
        if a.get("lateness") is not None and b.get("lateness") is not None:
            lat = {le: c - a["lateness"].get(le, 0.0) for le, c in b["lateness"].items()}
        elif b.get("lateness") is not None:
            lat = b["lateness"]
        r["lateness_p50_s"] = hist_quantile(0.5, lat) if lat else None
        r["lateness_p99_s"] = hist_quantile(0.99, lat) if lat else None
        r["lateness_metric"] = lat is not None
        q = delta("prom", "query")
        qr = delta("prom", "query_range")
        r["queries_per_s"] = q / dt if q is not None else None
        r["range_queries_per_s"] = qr / dt if qr is not None else None
        api = delta("api")
        r["api_per_s"] = api / dt if api is not None else None
        if b.get("api_kinds"):
            r["api_requests_by_kind"] = b["api_kinds"]
        r["patches"] = b.get("patches")
        for name in ("prometheus", "fake"):
            c = delta("cpu", name)
            r[name + "_cpu_cores"] = c / dt if c is not None else None
            r[name + "_rss_mb"] = b["rss"][name] / 1024 if b["rss"][name] else None
        r["stop_status"], r["stop_s"] = self.ps_stop[0], round(self.ps_stop[1], 3)

    def close(self):
        if self.ps is not None and self.ps.poll() is None:
            self.ps_stop = stop(self.ps, grace=20.0)
        stop(self.prom)
        stop(self.fake)
        if self.args.keep:
            log("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def base_rss(args):
    """RSS of `prescale run` with no Autoscaler (a ControllerConfig only), after 5 s, in KB."""
    d = tempfile.mkdtemp(prefix="prescale-bench-base-")
    p = None
    try:
        cert, _ = make_cert(d)
        port = free_port()
        write_prescale_config(os.path.join(d, "prescale.yaml"), 0, "http://127.0.0.1:9",
                              "127.0.0.1:%d" % port, args.kube_qps)
        write_kubeconfig(os.path.join(d, "kubeconfig"), "https://127.0.0.1:9", cert)
        p = spawn([args.prescale, "run", "-c", os.path.join(d, "prescale.yaml"),
                   "--kubeconfig", os.path.join(d, "kubeconfig"),
                   "--listen", "127.0.0.1:%d" % port, "--log-level", "warn"],
                  os.path.join(d, "prescale.log"))
        wait_for("prescale (no targets) /metrics",
                 lambda: http_get("http://127.0.0.1:%d/metrics" % port, timeout=2), 30)
        time.sleep(5)
        s = proc_sample(p.pid)
        return s[0] if s else None
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log("base RSS with no targets: %s" % e)
        return None
    finally:
        stop(p)
        shutil.rmtree(d, ignore_errors=True)


def fmt(v, spec, none="n/a"):
    return none if v is None else format(v, spec)


COLUMNS = [
    ("N", 6), ("RSS MB", 7), ("KB/tgt", 7), ("cores", 6), ("us/tick", 8), ("ticks/s", 8),
    ("late p50", 9), ("late p99", 9), ("q/s", 7), ("api/s", 7), ("skipped", 8), ("errors", 7),
    ("prom cores", 10), ("fake cores", 10),
]


def row_text(r):
    def lat(v):
        return "n/a" if v is None else ("%.1fms" % (v * 1e3) if v < 1 else "%.2fs" % v)
    cells = [str(r["n"]), fmt(r.get("rss_mb"), ".1f"), fmt(r.get("kb_per_target"), ".0f"),
             fmt(r.get("cpu_cores"), ".3f"), fmt(r.get("cpu_us_per_tick"), ".0f"),
             fmt(r.get("ticks_per_s"), ".1f"), lat(r.get("lateness_p50_s")),
             lat(r.get("lateness_p99_s")), fmt(r.get("queries_per_s"), ".1f"),
             fmt(r.get("api_per_s"), ".1f"), fmt(r.get("skipped"), ".0f"),
             fmt(r.get("errors"), ".0f"), fmt(r.get("prometheus_cpu_cores"), ".3f"),
             fmt(r.get("fake_cpu_cores"), ".3f")]
    if r.get("failed"):
        cells = [str(r["n"])] + ["-"] * (len(COLUMNS) - 1)
    return " ".join(c.rjust(w) for c, (_, w) in zip(cells, COLUMNS))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", nargs="*", type=int, help="target counts (default 100 1000 5000 10000)")
    ap.add_argument("--seconds", type=float, default=180.0, help="run length per N (default 180)")
    ap.add_argument("--build-dir", required=True, help="where prescale and the fakes are built")
    ap.add_argument("--json", default=None, help="write the results here (default: "
                    "out/bench-controller.json beside the build dir's source)")
    ap.add_argument("--kube-qps", type=float, default=10000.0,
                    help="kubernetes.qps and burst of the config (default 10000: the fake, not "
                    "the client-side limit, is what is measured)")
    ap.add_argument("--period", type=float, default=600.0,
                    help="mean period of the fake's load sines, seconds (default 600)")
    ap.add_argument("--log-level", default="warn", help="prescale's --log-level (default warn)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--forecast", default=None, metavar="MODEL",
                    help="give every target a forecast section with this model (auto, "
                    "holt-winters-additive, ...; default: none); the fake has no history, so "
                    "the warm-up finds little and the models learn online")
    ap.add_argument("--target", choices=("average", "value"), default="average",
                    help="the metric's target: average (AverageValue, no pod list; default) or "
                    "value (Value: prescale lists the target's pods every tick)")
    args = ap.parse_args()
    ns = args.n or [100, 1000, 5000, 10000]
    if any(n < 1 for n in ns) or args.seconds < 20:
        ap.error("N must be >= 1 and --seconds >= 20")
    bd = os.path.abspath(args.build_dir)
    args.prescale = os.path.join(bd, "src/cli/prescale")
    args.fake = os.path.join(bd, "tests/bench/fake_kube_fast")
    for p in (args.prescale, args.fake):
        if not os.access(p, os.X_OK):
            ap.error("%s is not built" % p)
    for tool in ("prometheus", "openssl"):
        if not shutil.which(tool):
            ap.error("%s is not installed (Debian package %s)" % (tool, tool))
    if args.json is None:
        args.json = os.path.join(os.path.dirname(bd), "out", "bench-controller.json")
    # prescale keeps about 100 descriptors whatever N (pooled connections); Prometheus and the
    # fake need a few hundred.
    nofile = raise_nofile(4096)

    atexit.register(stop_all)

    def on_signal(sig, _frame):
        stop_all()
        sys.exit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    machine = "%d cores, %s" % (os.cpu_count(), next(
        (l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
        "?"))
    log("machine: %s; open files: %d; %s s per N; rates over [%.0f s, end]"
        % (machine, nofile, args.seconds, min(T0_S, args.seconds / 2)))
    base = base_rss(args)
    log("base: prescale run with no targets: %s" % ("%.1f MB RSS" % (base / 1024) if base
                                                     else "not measured"))
    rows = []
    for n in ns:
        log("N=%d: starting (fake, prometheus, prescale) for %.0f s" % (n, args.seconds))
        run = Run(args, n)
        try:
            run.execute()
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as e:
            log("N=%d: failed: %s" % (n, e))
            run.row["failed"] = str(e)
            run.args.keep = True
        finally:
            run.close()
        rows.append(run.row)
        r = run.row
        if not r.get("failed"):
            log("N=%d: %.0f ticks/s (%.1f expected), prescale stopped in %.2f s (status %s)"
                % (n, r.get("ticks_per_s") or 0, r["expected_ticks_per_s"], r["stop_s"],
                   r["stop_status"]))
    # Memory per target over the no-target base, else over the smallest N.
    ok = [r for r in rows if not r.get("failed") and r.get("rss_mb")]
    ref = (0, base / 1024) if base else ((ok[0]["n"], ok[0]["rss_mb"]) if ok else None)
    for r in ok:
        if ref and r["n"] > ref[0]:
            r["kb_per_target"] = (r["rss_mb"] - ref[1]) * 1024 / (r["n"] - ref[0])
        r["rss_base"] = "no targets" if base else "N=%d" % ref[0]

    print("machine: %s; prescale run, interval 15s, one External metric per target; "
          "rates over %.0f..%.0f s" % (machine, min(T0_S, args.seconds / 2), args.seconds))
    print(" ".join(h.rjust(w) for h, w in COLUMNS))
    for r in rows:
        print(row_text(r))
    print("RSS at the end; KB/tgt over %s; cores and us/tick: prescale's CPU over the window "
          "(us/tick = CPU per target tick); late: tick start - due time (%s); q/s: Prometheus "
          "instant queries; api/s: requests to the fake API; skipped and errors: totals at the "
          "end." % ("a run with no targets (%.1f MB)" % (base / 1024) if base
                   else "the smallest N", LATENESS))
    for r in rows:
        if r.get("failed"):
            print("N=%d failed: %s" % (r["n"], r["failed"]))
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"machine": machine, "seconds": args.seconds,
                   "window_start_s": min(T0_S, args.seconds / 2),
                   "base_rss_mb": base / 1024 if base else None, "rows": rows}, f, indent=2)
        f.write("\n")
    print("results: %s" % args.json)
    return 1 if any(r.get("failed") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
