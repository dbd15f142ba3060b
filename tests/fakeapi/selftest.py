#!/usr/bin/env python3
"""selftest.py -- the self-test of fake_apiserver.py (unittest, standard library only).

Starts the fake API server on a free port in setUpClass and always stops it. Runs from any
directory; finds the shared directory through $PS_SHARED_DIR (default <repo>/../shared).
Exits non-zero on failure.  Usage: python3 tests/fakeapi/selftest.py [-v]
"""

import copy
import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(HERE, "fake_apiserver.py")
SHARED = os.environ.get("PS_SHARED_DIR") or os.path.join(os.path.dirname(REPO), "shared")
FIX = os.path.join(SHARED, "fixtures", "kubernetes")

sys.path.insert(0, HERE)
import fake_apiserver  # noqa: E402  (the validator is unit-tested directly too)

CTL = "system:serviceaccount:autoscaler:c-autoscaler"
NOPATCH = "system:serviceaccount:autoscaler:autoscaler"


def fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return json.load(f)


def pod(name, labels, phase="Running", ready=True, **extra):
    p = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "example/app:1", "resources": {
            "requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": 1}}}]},
        "status": {"phase": phase, "startTime": "2026-01-01T00:00:00Z", "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": "2026-01-01T00:00:30Z"}]},
    }
    for k, v in extra.items():
        if k == "deletionTimestamp":
            p["metadata"]["deletionTimestamp"] = v
        elif k == "initContainers":
            p["spec"]["initContainers"] = v
    return p


def deployment(name, ns, replicas, selector, status_replicas=None):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": selector, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}}},
        "status": {"replicas": replicas if status_replicas is None else status_replicas},
    }


CONFIG = {
    "users": [
        {"name": CTL, "token": "tok-ctl", "rules": [
            {"verbs": ["get", "list", "watch"], "apiGroups": ["apps"],
             "resources": ["deployments", "statefulsets", "replicasets"]},
            {"verbs": ["get", "update", "patch"], "apiGroups": ["apps"],
             "resources": ["deployments/scale", "statefulsets/scale", "replicasets/scale"]},
            {"verbs": ["get", "update", "patch"], "apiGroups": ["argoproj.io"],
             "resources": ["rollouts/scale"]},
            {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["create", "patch"], "apiGroups": ["", "events.k8s.io"],
             "resources": ["events"]},
            {"verbs": ["create"], "apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
             "namespaces": ["autoscaler"]},
            {"verbs": ["get", "update", "patch", "delete"], "apiGroups": ["coordination.k8s.io"],
             "resources": ["leases"], "resourceNames": ["c-autoscaler-leader", "lease-test"],
             "namespaces": ["autoscaler"]},
        ]},
        {"name": NOPATCH, "token": "tok-nopatch", "rules": [
            {"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}]},
        {"name": "cert-user", "groups": ["autoscalers"], "clientCert": True},
    ],
    "rules": [
        {"groups": ["autoscalers"], "verbs": ["get"], "apiGroups": ["apps"],
         "resources": ["deployments/scale"], "namespaces": ["shop"]},
    ],
    "objects": [
        deployment("web", "shop", 3, {"matchLabels": {"app": "web"}}),
        deployment("api", "shop", 2, {"matchLabels": {"app": "api"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]},
            {"key": "canary", "operator": "DoesNotExist"}]}),
        deployment("web", "default", 3, {"matchLabels": {"app": "web"}}),
        deployment("zero", "shop", 0, {"matchLabels": {"app": "zero"}}),
        {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "db", "namespace": "shop"},
         "spec": {"replicas": 2, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                  "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                      "containers": [{"name": "db", "image": "example/db:1"}]}}},
         "status": {"replicas": 2}},
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
         "metadata": {"name": "canary", "namespace": "shop"},
         "spec": {"replicas": 4}, "status": {"replicas": 4, "selector": "app=canary"}},
        pod("web-1", {"app": "web", "tier": "fe", "track": "stable"}),
        pod("web-2", {"app": "web", "tier": "fe", "track": "canary"}, phase="Pending",
            ready=False, deletionTimestamp="2026-01-01T00:05:00Z"),
        pod("db-0", {"app": "db", "tier": "be"}, initContainers=[
            {"name": "proxy", "image": "example/proxy:1", "restartPolicy": "Always",
             "resources": {"requests": {"cpu": "100m"}}}]),
        pod("job-x", {"batch": "true"}, phase="Succeeded", ready=False),
    ],
}


class FakeApiServerTest(unittest.TestCase):
    proc = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fakeapi-selftest-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cfg = os.path.join(cls.tmp, "config.json")
        with open(cfg, "w") as f:
            json.dump(CONFIG, f)
        cls.stderr = open(os.path.join(cls.tmp, "server.log"), "w+")
        cls.addClassCleanup(cls.stderr.close)
        cls.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--config", cfg, "--state-dir",
             os.path.join(cls.tmp, "state"), "--timeout", "120"],
            stdout=subprocess.PIPE, stderr=cls.stderr, env=dict(os.environ,
                                                                PS_SHARED_DIR=SHARED))
        cls.addClassCleanup(cls._stop)
        cls.info = read_ready_line(cls.proc, 20)
        cls.port = cls.info["port"]
        cls.admin = cls.info["adminToken"]

    @classmethod
    def _stop(cls):
        p = cls.proc
        if p is None:
            return
        if p.poll() is None:
            try:
                c = cls.conn_static()
                c.request("POST", "/_fake/shutdown", headers={
                    "Authorization": "Bearer " + cls.admin})
                c.getresponse().read()
                c.close()
            except Exception:
                pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if p.stdout:
            p.stdout.close()
        if p.returncode not in (0, None):
            sys.stderr.write("fake apiserver exited with %s\n" % p.returncode)

    # -- client helpers ------------------------------------------------------------------------
    @classmethod
    def ssl_ctx(cls, cert=None):
        ctx = ssl.create_default_context(cafile=cls.info["ca"])
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        return ctx

    @classmethod
    def conn_static(cls, cert=None, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", cls.port, context=cls.ssl_ctx(cert),
                                           timeout=timeout)

    def call(self, method, path, body=None, token="tok-ctl", ctype=None, cert=None,
             conn=None, headers=None):
        c = conn or self.conn_static(cert)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = ctype or "application/json"
        elif ctype:
            h["Content-Type"] = ctype
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            raw = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            if conn is None:
                c.close()
        try:
            js = json.loads(raw) if raw else None
        except ValueError:
            js = None
        return r.status, hdrs, raw, js

    def admin_call(self, method, path, body=None):
        return self.call(method, path, body, token=self.admin)

    def seed(self, *objs, keep_rv=False):
        st, _, raw, js = self.admin_call(
            "PUT", "/_fake/objects" + ("?keepResourceVersion=true" if keep_rv else ""),
            list(objs))
        self.assertEqual(st, 200, raw)
        return js["items"]

    def vf_count(self):
        st, _, _, js = self.admin_call("GET", "/_fake/validation-failures")
        self.assertEqual(st, 200)
        return js["count"]

    def last_log(self, path=None):
        st, _, _, js = self.admin_call("GET", "/_fake/log")
        entries = [e for e in js["entries"] if path is None or e["path"] == path]
        self.assertTrue(entries, "no log entry for %s" % path)
        return entries[-1]

    def scale_path(self, name="web", ns="shop", res="deployments", group="apps/v1"):
        return "/apis/%s/namespaces/%s/%s/%s/scale" % (group, ns, res, name)

    # -- startup -------------------------------------------------------------------------------
    def test_ready_line(self):
        for k in ("port", "ca", "adminToken", "adminCert", "adminKey", "untrustedClientCert",
                  "untrustedClientKey", "url"):
            self.assertIn(k, self.info)
        for k in ("ca", "adminCert", "adminKey"):
            self.assertTrue(os.path.isfile(self.info[k]), k)
        c = self.info["clients"]["cert-user"]
        self.assertTrue(os.path.isfile(c["cert"]) and os.path.isfile(c["key"]))
        self.assertEqual(self.info["url"], "https://127.0.0.1:%d" % self.port)

    # -- authentication ------------------------------------------------------------------------
    def test_401_without_token(self):
        st, h, raw, js = self.call("GET", self.scale_path(), token=None)
        self.assertEqual(st, 401)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertEqual(js, fixture("status_401_unauthorized.json"))

    def test_401_wrong_token(self):
        st, _, _, js = self.call("GET", self.scale_path(), token="not-a-token")
        self.assertEqual((st, js["reason"]), (401, "Unauthorized"))

    def test_401_wrong_client_cert(self):
        cert = (self.info["untrustedClientCert"], self.info["untrustedClientKey"])
        st, _, _, js = self.call("GET", self.scale_path(), token=None, cert=cert)
        self.assertEqual(st, 401)
        self.assertEqual(js, fixture("status_401_unauthorized.json"))

    def test_unknown_ca_client_cert_fails_handshake(self):
        # A certificate from a CA the server has never seen fails the TLS handshake.
        d = os.path.join(self.tmp, "rogue")
        os.makedirs(d, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", d + "/k.pem", "-out",
                        d + "/c.pem", "-days", "1", "-subj", "/CN=" + CTL],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.call("GET", self.scale_path(), token=None, cert=(d + "/c.pem", d + "/k.pem"))

    def test_client_cert_authenticates(self):
        c = self.info["clients"]["cert-user"]
        st, _, raw, js = self.call("GET", self.scale_path(), token=None,
                                   cert=(c["cert"], c["key"]))
        self.assertEqual(st, 200, raw)
        e = self.last_log(self.scale_path())
        self.assertEqual(e["identity"]["user"], "cert-user")
        self.assertEqual(e["identity"]["authenticatedBy"], "clientCert")
        self.assertIn("autoscalers", e["identity"]["groups"])
        # the same user may not patch (its group rule grants only get)
        st, _, _, js = self.call("PATCH", self.scale_path(), {"spec": {"replicas": 3}},
                                 token=None, ctype="application/merge-patch+json",
                                 cert=(c["cert"], c["key"]))
        self.assertEqual(st, 403)
        # the admin certificate (O=system:masters) may
        st, _, _, _ = self.call("GET", "/apis/apps/v1/namespaces/shop/deployments/web",
                                token=None, cert=(self.info["adminCert"],
                                                  self.info["adminKey"]))
        self.assertEqual(st, 200)

    # -- authorization -------------------------------------------------------------------------
    def test_403_exact_message(self):
        st, h, _, js = self.call("PATCH", self.scale_path(ns="default"),
                                 {"spec": {"replicas": 5}}, token="tok-nopatch",
                                 ctype="application/merge-patch+json")
        self.assertEqual(st, 403)
        self.assertEqual(js, fixture("status_403_forbidden.json"))
        self.assertEqual(
            js["message"], 'deployments.apps "web" is forbidden: User "%s" cannot patch '
            'resource "deployments/scale" in API group "apps" in the namespace "default"'
            % NOPATCH)

    def test_403_list_and_resource_names(self):
        st, _, _, js = self.call("GET", "/apis/coordination.k8s.io/v1/namespaces/autoscaler/"
                                 "leases/other-lease")
        self.assertEqual(st, 403)
        self.assertEqual(js["message"], 'leases.coordination.k8s.io "other-lease" is forbidden: '
                         'User "%s" cannot get resource "leases" in API group '
                         '"coordination.k8s.io" in the namespace "autoscaler"' % CTL)
        st, _, _, js = self.call("GET", "/apis/apps/v1/namespaces/shop/deployments",
                                 token="tok-nopatch")
        self.assertEqual(st, 403)
        self.assertEqual(js["message"], 'deployments.apps is forbidden: User "%s" cannot list '
                         'resource "deployments" in API group "apps" in the namespace "shop"'
                         % NOPATCH)
        self.assertNotIn("name", js["details"])

    def test_non_resource_paths(self):
        st, _, _, js = self.call("GET", "/version")
        self.assertEqual((st, js["major"], js["minor"]), (200, "1", "34"))
        st, _, _, js = self.call("GET", "/apis/apps/v1")
        names = [r["name"] for r in js["resources"]]
        self.assertIn("deployments/scale", names)
        st, _, _, js = self.call("GET", "/metrics")
        self.assertEqual(st, 403)
        self.assertEqual(js["message"], 'forbidden: User "%s" cannot get path "/metrics"' % CTL)
        st, _, _, js = self.admin_call("GET", "/metrics")
        self.assertEqual(st, 404)

    # -- scale subresource ---------------------------------------------------------------------
    def test_scale_get_shape(self):
        st, h, _, js = self.call("GET", self.scale_path())
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "application/json")
        self.assertEqual(list(js), ["kind", "apiVersion", "metadata", "spec", "status"])
        self.assertEqual((js["kind"], js["apiVersion"]), ("Scale", "autoscaling/v1"))
        self.assertEqual(sorted(js["metadata"]), sorted(
            ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"]))
        self.assertEqual(js["status"]["selector"], "app=web")
        st, _, _, js = self.call("GET", self.scale_path("api"))
        # requirements sorted by key, like LabelSelectorAsSelector(...).String()
        self.assertEqual(js["status"]["selector"], "app=api,!canary,tier in (be,fe)")
        st, _, _, js = self.call("GET", self.scale_path("zero"))
        self.assertEqual(js["spec"], {})  # ScaleSpec.replicas is omitempty
        self.assertEqual(js["status"], {"replicas": 0, "selector": "app=zero"})

    def test_scale_get_patch_increments_rv(self):
        st, _, _, s0 = self.call("GET", self.scale_path())
        rv0 = int(s0["metadata"]["resourceVersion"])
        n = s0["spec"]["replicas"] + 1
        st, _, raw, s1 = self.call("PATCH", self.scale_path(), {"spec": {"replicas": n}},
                                   ctype="application/merge-patch+json")
        self.assertEqual(st, 200, raw)
        self.assertEqual(s1["spec"]["replicas"], n)
        rv1 = int(s1["metadata"]["resourceVersion"])
        self.assertGreater(rv1, rv0)
        st, _, _, s2 = self.call("GET", self.scale_path())
        self.assertEqual((s2["spec"]["replicas"], s2["metadata"]["resourceVersion"]),
                         (n, str(rv1)))
        st, _, _, d = self.admin_call("GET", "/apis/apps/v1/namespaces/shop/deployments/web")
        self.assertEqual(d["spec"]["replicas"], n)
        self.assertEqual(d["metadata"]["resourceVersion"], str(rv1))
        # a patch that changes nothing is no write: the resourceVersion stays
        st, _, _, s3 = self.call("PATCH", self.scale_path(), {"spec": {"replicas": n}},
                                 ctype="application/merge-patch+json")
        self.assertEqual((st, s3["metadata"]["resourceVersion"]), (200, str(rv1)))
        # strategic merge patch and PUT work too and each write increments
        st, _, _, s4 = self.call("PATCH", self.scale_path(), {"spec": {"replicas": n + 1}},
                                 ctype="application/strategic-merge-patch+json")
        self.assertEqual(st, 200)
        self.assertGreater(int(s4["metadata"]["resourceVersion"]), rv1)
        put = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {
            "name": "web", "namespace": "shop",
            "resourceVersion": s4["metadata"]["resourceVersion"]}, "spec": {"replicas": n}}
        st, _, raw, s5 = self.call("PUT", self.scale_path(), put)
        self.assertEqual(st, 200, raw)
        self.assertGreater(int(s5["metadata"]["resourceVersion"]),
                           int(s4["metadata"]["resourceVersion"]))

    def test_409_stale_resource_version(self):
        st, _, _, s0 = self.call("GET", self.scale_path())
        rv = s0["metadata"]["resourceVersion"]
        st, _, _, s1 = self.call("PATCH", self.scale_path(), {
            "metadata": {"resourceVersion": rv}, "spec": {"replicas": s0["spec"]["replicas"] + 1}},
            ctype="application/merge-patch+json")
        self.assertEqual(st, 200)
        before = self.vf_count()
        st, _, _, js = self.call("PATCH", self.scale_path(), {
            "metadata": {"resourceVersion": rv}, "spec": {"replicas": 1}},
            ctype="application/merge-patch+json")
        self.assertEqual(st, 409)
        exp = fixture("status_409_conflict.json")
        self.assertEqual(js, exp)
        put = {"apiVersion": "autoscaling/v1", "kind": "Scale",
               "metadata": {"name": "web", "namespace": "shop", "resourceVersion": rv},
               "spec": {"replicas": 1}}
        st, _, _, js = self.call("PUT", self.scale_path(), put)
        self.assertEqual((st, js["reason"]), (409, "Conflict"))
        st, _, _, s2 = self.call("GET", self.scale_path())
        self.assertEqual(s2["spec"]["replicas"], s1["spec"]["replicas"])
        self.assertEqual(self.vf_count(), before)  # a conflict is no validation failure

    def test_415_wrong_patch_type(self):
        for ct in ("application/json", "text/plain", None):
            st, _, _, js = self.call("PATCH", self.scale_path(), b'{"spec":{"replicas":3}}',
                                     ctype=ct or "")
            self.assertEqual(st, 415, ct)
            self.assertEqual(js["reason"], "UnsupportedMediaType")
            self.assertEqual(js["message"], "the body of the request was in an unknown format - "
                             "accepted media types include: application/json-patch+json, "
                             "application/merge-patch+json, "
                             "application/strategic-merge-patch+json, "
                             "application/apply-patch+yaml")
        # custom resources do not take strategic merge patches
        st, _, _, js = self.call("PATCH", self.scale_path("canary", res="rollouts",
                                                          group="argoproj.io/v1alpha1"),
                                 {"spec": {"replicas": 4}},
                                 ctype="application/strategic-merge-patch+json")
        self.assertEqual(st, 415)

    def test_422_negative_replicas(self):
        before = self.vf_count()
        st, _, _, js = self.call("PATCH", self.scale_path(), {"spec": {"replicas": -1}},
                                 ctype="application/merge-patch+json")
        self.assertEqual(st, 422)
        self.assertEqual(js, fixture("status_422_invalid.json"))
        self.assertEqual(self.vf_count(), before)  # schema-valid: not a validation failure
        st, _, _, js = self.call("PUT", self.scale_path(), {
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": -3}})
        self.assertEqual((st, js["reason"]), (422, "Invalid"))

    def test_dry_run_not_stored(self):
        st, _, _, s0 = self.call("GET", self.scale_path("db", res="statefulsets"))
        self.assertEqual(st, 200)
        st, _, _, s1 = self.call("PATCH", self.scale_path("db", res="statefulsets") +
                                 "?dryRun=All", {"spec": {"replicas": 9}},
                                 ctype="application/merge-patch+json")
        self.assertEqual(st, 200)
        self.assertEqual(s1["spec"]["replicas"], 9)
        self.assertEqual(s1["metadata"]["resourceVersion"], s0["metadata"]["resourceVersion"])
        st, _, _, s2 = self.call("GET", self.scale_path("db", res="statefulsets"))
        self.assertEqual(s2, s0)
        st, _, _, js = self.call("PATCH", self.scale_path("db", res="statefulsets") +
                                 "?dryRun=Bogus", {"spec": {"replicas": 9}},
                                 ctype="application/merge-patch+json")
        self.assertEqual(st, 400)
        st, _, _, s3 = self.call("GET", self.scale_path("db", res="statefulsets"))
        self.assertEqual(s3, s0)

    def test_json_patch_and_test_op(self):
        path = self.scale_path("db", res="statefulsets")
        st, _, _, s0 = self.call("GET", path)
        n = s0["spec"]["replicas"]
        st, _, raw, s1 = self.call("PATCH", path, [
            {"op": "test", "path": "/spec/replicas", "value": n},
            {"op": "replace", "path": "/spec/replicas", "value": n + 1}],
            ctype="application/json-patch+json")
        self.assertEqual(st, 200, raw)
        self.assertEqual(s1["spec"]["replicas"], n + 1)
        st, _, _, js = self.call("PATCH", path, [
            {"op": "test", "path": "/spec/replicas", "value": n},
            {"op": "replace", "path": "/spec/replicas", "value": 0}],
            ctype="application/json-patch+json")
        self.assertEqual((st, js["reason"]), (422, "Invalid"))
        before = self.vf_count()
        st, _, _, js = self.call("PATCH", path, [
            {"op": "replace", "path": "/spec/replica", "value": 1}],
            ctype="application/json-patch+json")
        self.assertEqual(st, 422)
        self.assertEqual(self.vf_count(), before + 1)

    def test_custom_resource_scale(self):
        path = self.scale_path("canary", res="rollouts", group="argoproj.io/v1alpha1")
        st, _, _, s0 = self.call("GET", path)
        self.assertEqual(st, 200)
        self.assertEqual((s0["spec"]["replicas"], s0["status"]["selector"]), (4, "app=canary"))
        st, _, _, s1 = self.call("PATCH", path, {"spec": {"replicas": 6}},
                                 ctype="application/merge-patch+json")
        self.assertEqual((st, s1["spec"]["replicas"]), (200, 6))
        st, _, _, ro = self.admin_call("GET", "/apis/argoproj.io/v1alpha1/namespaces/shop/"
                                       "rollouts/canary")
        self.assertEqual(ro["spec"]["replicas"], 6)
        self.assertEqual(ro["metadata"]["resourceVersion"], s1["metadata"]["resourceVersion"])

    def test_404(self):
        st, _, _, js = self.call("GET", self.scale_path(ns="nowhere"))
        self.assertEqual(st, 404)
        self.assertEqual(js, fixture("status_404_notfound.json"))
        st, _, _, js = self.call("PATCH", self.scale_path("nope"), {"spec": {"replicas": 1}},
                                 ctype="application/merge-patch+json")
        self.assertEqual((st, js["reason"]), (404, "NotFound"))
        st, _, _, js = self.admin_call("GET", "/apis/nosuch.io/v1/namespaces/x/things/y")
        self.assertEqual((st, js["message"]), (404, "the server could not find the requested "
                                                    "resource"))

    # -- pods ----------------------------------------------------------------------------------
    def pods(self, selector, expect_status=200):
        from urllib.parse import quote
        st, _, raw, js = self.call("GET", "/api/v1/namespaces/shop/pods?labelSelector=" +
                                   quote(selector))
        self.assertEqual(st, expect_status, raw)
        if st != 200:
            return js
        self.assertEqual((js["kind"], js["apiVersion"]), ("PodList", "v1"))
        return sorted(p["metadata"]["name"] for p in js["items"])

    def test_pods_label_selectors(self):
        cases = {
            "app=web": ["web-1", "web-2"],
            "app==web": ["web-1", "web-2"],
            "app!=web": ["db-0", "job-x"],
            "app in (web,db)": ["db-0", "web-1", "web-2"],
            "app notin (web)": ["db-0", "job-x"],
            "track": ["web-1", "web-2"],
            "!track": ["db-0", "job-x"],
            "app=web,track=stable": ["web-1"],
            "tier in (fe, be),!track": ["db-0"],
            "": ["db-0", "job-x", "web-1", "web-2"],
        }
        for sel, want in cases.items():
            self.assertEqual(self.pods(sel), want, sel)
        js = self.pods("app in (web", expect_status=400)
        self.assertEqual(js["reason"], "BadRequest")

    def test_pods_list_content(self):
        st, h, raw, js = self.call("GET", "/api/v1/namespaces/shop/pods")
        self.assertEqual(st, 200)
        items = {p["metadata"]["name"]: p for p in js["items"]}
        self.assertNotIn("kind", items["web-1"])  # typed lists do not repeat kind
        self.assertTrue(js["metadata"]["resourceVersion"].isdigit())
        w1 = items["web-1"]
        self.assertEqual(w1["status"]["phase"], "Running")
        self.assertEqual(w1["status"]["conditions"][0], {
            "type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:30Z"})
        self.assertEqual(w1["status"]["startTime"], "2026-01-01T00:00:00Z")
        self.assertEqual(w1["spec"]["containers"][0]["resources"]["requests"],
                         {"cpu": "250m", "memory": "64Mi"})
        self.assertEqual(items["web-2"]["metadata"]["deletionTimestamp"],
                         "2026-01-01T00:05:00Z")
        self.assertEqual(items["db-0"]["spec"]["initContainers"][0]["restartPolicy"], "Always")
        # field selector and pagination
        st, _, _, js = self.call("GET", "/api/v1/namespaces/shop/pods?fieldSelector="
                                 "status.phase%3DRunning")
        self.assertEqual(sorted(p["metadata"]["name"] for p in js["items"]), ["db-0", "web-1"])
        st, _, _, js = self.call("GET", "/api/v1/namespaces/shop/pods?limit=3")
        self.assertEqual((len(js["items"]), js["metadata"]["remainingItemCount"]), (3, 1))
        st, _, _, js2 = self.call("GET", "/api/v1/namespaces/shop/pods?limit=3&continue=" +
                                  js["metadata"]["continue"])
        self.assertEqual([p["metadata"]["name"] for p in js2["items"]], ["web-2"])

    # -- leases --------------------------------------------------------------------------------
    def test_lease_lifecycle(self):
        base = "/apis/coordination.k8s.io/v1/namespaces/autoscaler/leases"
        body = fixture("lease_create_body.json")
        body["metadata"]["name"] = "lease-test"
        st, _, raw, l0 = self.call("POST", base, body)
        self.assertEqual(st, 201, raw)
        self.assertEqual(l0["spec"]["holderIdentity"], body["spec"]["holderIdentity"])
        rv0 = l0["metadata"]["resourceVersion"]
        st, _, _, js = self.call("POST", base, body)
        self.assertEqual(st, 409)
        self.assertEqual(js["reason"], "AlreadyExists")
        self.assertEqual(js["message"],
                         'leases.coordination.k8s.io "lease-test" already exists')
        st, _, _, l1 = self.call("GET", base + "/lease-test")
        self.assertEqual((st, l1["metadata"]["resourceVersion"]), (200, rv0))
        upd = copy.deepcopy(l1)
        upd["spec"]["renewTime"] = "2026-01-01T00:00:10.000000Z"
        st, _, raw, l2 = self.call("PUT", base + "/lease-test", upd)
        self.assertEqual(st, 200, raw)
        self.assertGreater(int(l2["metadata"]["resourceVersion"]), int(rv0))
        self.assertEqual(l2["spec"]["renewTime"], "2026-01-01T00:00:10.000000Z")
        st, _, _, js = self.call("PUT", base + "/lease-test", upd)  # upd carries rv0: stale
        self.assertEqual(st, 409)
        self.assertEqual(js["message"], 'Operation cannot be fulfilled on '
                         'leases.coordination.k8s.io "lease-test": the object has been '
                         'modified; please apply your changes to the latest version and try '
                         'again')
        st, _, _, js = self.call("DELETE", base + "/lease-test")
        self.assertEqual((st, js["status"]), (200, "Success"))
        st, _, _, js = self.call("GET", base + "/lease-test")
        self.assertEqual(st, 404)

    # -- events --------------------------------------------------------------------------------
    def test_events_create(self):
        body = fixture("event_events_k8s_io_v1_create_body.json")
        body["metadata"]["name"] = "web.test1"
        st, _, raw, js = self.call("POST", "/apis/events.k8s.io/v1/namespaces/default/events",
                                   body)
        self.assertEqual(st, 201, raw)
        self.assertEqual(js["reportingController"], "example.com/c-autoscaler")
        self.assertEqual(self.last_log()["validation"]["ok"], True)
        before = self.vf_count()
        bad = copy.deepcopy(body)
        bad["metadata"]["name"] = "web.test2"
        del bad["reportingController"]
        st, _, _, js = self.call("POST", "/apis/events.k8s.io/v1/namespaces/default/events",
                                 bad)
        self.assertEqual(st, 422)
        self.assertIn("reportingController: Required value", js["message"])
        self.assertEqual(self.vf_count(), before + 1)

    # -- validation ----------------------------------------------------------------------------
    def test_invalid_bodies_are_counted(self):
        before = self.vf_count()
        st, _, _, js = self.call("PATCH", self.scale_path(), {"spec": {"replicas": "5"}},
                                 ctype="application/merge-patch+json")
        self.assertEqual(st, 422)
        self.assertEqual(js["details"]["causes"][0]["field"], "spec.replicas")
        self.assertEqual(self.vf_count(), before + 1)
        e = self.last_log(self.scale_path())
        self.assertIs(e["validation"]["ok"], False)
        self.assertEqual(e["validation"]["errors"][0]["field"], "spec.replicas")
        st, _, _, js = self.call("PUT", self.scale_path(), {
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": 3, "foo": 1}})
        self.assertEqual(st, 422)
        self.assertIn('unknown field \\"spec.foo\\"', json.dumps(js["message"]))
        self.assertEqual(self.vf_count(), before + 2)
        st, _, _, _ = self.call("PATCH", self.scale_path(), b'{"spec": {"replicas": 3',
                                ctype="application/merge-patch+json")
        self.assertEqual(st, 400)
        self.assertEqual(self.vf_count(), before + 3)
        lease = fixture("lease_create_body.json")
        lease["metadata"]["name"] = "lease-bad"
        lease["spec"]["renewTime"] = "yesterday"
        lease["spec"]["leaseDurationSeconds"] = 2 ** 31
        st, _, _, js = self.call("POST", "/apis/coordination.k8s.io/v1/namespaces/autoscaler/"
                                 "leases", lease)
        self.assertEqual(st, 422)
        self.assertEqual(sorted(c["field"] for c in js["details"]["causes"]),
                         ["spec.leaseDurationSeconds", "spec.renewTime"])
        self.assertEqual(self.vf_count(), before + 4)
        # duplicate keys and a wrong apiVersion are caught as well
        st, _, _, _ = self.call("PATCH", self.scale_path(),
                                b'{"spec": {"replicas": 3, "replicas": 4}}',
                                ctype="application/merge-patch+json")
        self.assertEqual(st, 422)
        st, _, _, _ = self.call("PUT", self.scale_path(), {
            "apiVersion": "autoscaling/v2", "kind": "Scale",
            "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 3}})
        self.assertEqual(st, 422)
        self.assertEqual(self.vf_count(), before + 6)

    def test_validator_unit(self):
        with open(self.info["swagger"], "rb") as f:
            v = fake_apiserver.Validator(json.load(f))
        ref = lambda n: {"$ref": "#/definitions/" + n}  # noqa
        self.assertEqual(v.validate(fixture("scale_get_response_deployment.json"),
                                    ref("io.k8s.api.autoscaling.v1.Scale")), [])
        self.assertEqual(v.validate(fixture("lease_get_response.json"),
                                    ref("io.k8s.api.coordination.v1.Lease")), [])
        # the constructed list fixture leaves out the pod template a real server always has
        self.assertEqual([e["field"] for e in v.validate(
            fixture("list_deployments_response.json"), ref("io.k8s.api.apps.v1.DeploymentList"))],
            ["items[0].spec.template"])
        for n in ("401_unauthorized", "403_forbidden", "404_notfound", "409_conflict",
                  "410_expired", "422_invalid", "429_toomanyrequests_json"):
            self.assertEqual(v.validate(fixture("status_%s.json" % n),
                                        ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status")), [],
                             n)
        pod_ = ref("io.k8s.api.core.v1.Pod")
        ok_pod = pod("p", {"a": "b"})
        self.assertEqual(v.validate(ok_pod, pod_), [])
        bad = copy.deepcopy(ok_pod)
        bad["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots"
        bad["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"},
                                                 {"name": "x"}]
        bad["status"]["conditions"][0]["lastTransitionTime"] = "2026-13-01T00:00:00Z"
        bad["spec"]["terminationGracePeriodSeconds"] = 1.5
        bad["spec"]["hostNetwork"] = "yes"
        fields = sorted(e["field"] for e in v.validate(bad, pod_))
        self.assertEqual(fields, ["spec.containers[0].ports[1].containerPort",
                                  "spec.containers[0].resources.requests[cpu]",
                                  "spec.hostNetwork", "spec.terminationGracePeriodSeconds",
                                  "status.conditions[0].lastTransitionTime"])
        # IntOrString and Quantity take numbers and strings
        dep = ref("io.k8s.api.apps.v1.Deployment")
        d = deployment("x", "y", 1, {"matchLabels": {"a": "b"}})
        d["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": "25%", "maxUnavailable": 1}}
        d["spec"]["template"]["spec"]["containers"][0]["resources"] = {
            "limits": {"cpu": 2, "memory": "1.5Gi"}}
        self.assertEqual(v.validate(d, dep), [])
        d["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = True
        self.assertEqual([e["field"] for e in v.validate(d, dep)],
                         ["spec.strategy.rollingUpdate.maxSurge"])
        # merge patches: partial objects, null deletes
        self.assertEqual(v.validate({"metadata": {"labels": {"a": None}}, "spec": {
            "replicas": None}}, dep, "partial"), [])

    # -- faults --------------------------------------------------------------------------------
    def fault(self, **kw):
        st, _, raw, _ = self.admin_call("POST", "/_fake/faults", kw)
        self.assertEqual(st, 200, raw)

    def test_fault_delay(self):
        path = self.scale_path("db", res="statefulsets")
        self.fault(kind="delay", method="GET", path="/statefulsets/db/scale$", delayMs=400)
        t0 = time.monotonic()
        st, _, _, _ = self.call("GET", path)
        dt = time.monotonic() - t0
        self.assertEqual(st, 200)
        self.assertGreaterEqual(dt, 0.38)
        t0 = time.monotonic()
        self.call("GET", path)
        self.assertLess(time.monotonic() - t0, 0.35)  # only the next N=1 request

    def test_fault_429_json(self):
        self.fault(kind="429", method="PATCH", path="/deployments/web/scale$", retryAfter=2,
                   count=2)
        for _ in range(2):
            st, h, _, js = self.call("PATCH", self.scale_path(), {"spec": {"replicas": 3}},
                                     ctype="application/merge-patch+json")
            self.assertEqual(st, 429)
            self.assertEqual(h["retry-after"], "2")
            self.assertEqual(h["content-type"], "application/json")
            self.assertEqual((js["reason"], js["details"]["retryAfterSeconds"]),
                             ("TooManyRequests", 2))
        st, _, _, _ = self.call("PATCH", self.scale_path(), {"spec": {"replicas": 3}},
                                ctype="application/merge-patch+json")
        self.assertEqual(st, 200)
        self.assertEqual(self.last_log(self.scale_path())["fault"], None)

    def test_fault_429_plaintext(self):
        self.fault(kind="429-plaintext", path="/api/v1/namespaces/shop/pods$")
        # a raw TLS socket: the answer is the fixture's (plus Date and Content-Length)
        raw_sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s = self.ssl_ctx().wrap_socket(raw_sock, server_hostname="127.0.0.1")
        s.sendall(b"GET /api/v1/namespaces/shop/pods HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer tok-ctl\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.assertEqual(lines[0], "HTTP/1.1 429 Too Many Requests")
        hdrs = dict(ln.split(": ", 1) for ln in lines[1:])
        with open(os.path.join(FIX, "http_429_maxinflight_plaintext.http"), "rb") as f:
            fhead, _, fbody = f.read().partition(b"\r\n\r\n")
        for ln in fhead.decode().split("\r\n")[1:]:
            k, v = ln.split(": ", 1)
            self.assertEqual(hdrs.get(k), v, k)
        self.assertEqual(body, fbody)
        self.assertEqual(int(hdrs["Content-Length"]), len(fbody))

    def test_fault_500(self):
        self.fault(kind="500", method="GET", path="/statefulsets/db/scale$", message="boom")
        st, h, _, js = self.call("GET", self.scale_path("db", res="statefulsets"))
        self.assertEqual(st, 500)
        self.assertEqual((js["kind"], js["reason"], js["code"]), ("Status", "InternalError",
                                                                  500))
        self.assertEqual(js["message"], "Internal error occurred: boom")
        self.fault(kind="status", code=503, path="/statefulsets/db/scale$", retryAfter=1)
        st, h, _, js = self.call("GET", self.scale_path("db", res="statefulsets"))
        self.assertEqual((st, js["reason"], h.get("retry-after")),
                         (503, "ServiceUnavailable", "1"))

    def test_fault_drop(self):
        self.fault(kind="drop", method="GET", path="/statefulsets/db/scale$")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError,
                                http.client.BadStatusLine)):
            self.call("GET", self.scale_path("db", res="statefulsets"))
        e = self.last_log(self.scale_path("db", res="statefulsets"))
        self.assertEqual((e["fault"], e["status"]), ("drop", None))
        st, _, _, _ = self.call("GET", self.scale_path("db", res="statefulsets"))
        self.assertEqual(st, 200)

    def test_fault_truncate(self):
        self.fault(kind="truncate", method="GET", path="/statefulsets/db/scale$")
        c = self.conn_static()
        c.request("GET", self.scale_path("db", res="statefulsets"),
                  headers={"Authorization": "Bearer tok-ctl"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        declared = int(r.getheader("Content-Length"))
        with self.assertRaises((http.client.IncompleteRead, ssl.SSLError, ConnectionError)):
            r.read()
        c.close()
        self.assertGreater(declared, 0)

    # -- request log ---------------------------------------------------------------------------
    def test_request_log(self):
        st, _, _, _ = self.admin_call("DELETE", "/_fake/log")
        self.assertEqual(st, 200)
        self.assertEqual(self.vf_count(), 0)
        self.call("PATCH", self.scale_path() + "?fieldManager=prescale&dryRun=All",
                  {"spec": {"replicas": 3}}, ctype="application/merge-patch+json",
                  headers={"User-Agent": "prescale/0.1"})
        st, _, raw, js = self.admin_call("GET", "/_fake/log")
        self.assertEqual(len(js["entries"]), 1)
        e = js["entries"][0]
        self.assertEqual(e["method"], "PATCH")
        self.assertEqual(e["path"], self.scale_path())
        self.assertEqual(e["query"], {"fieldManager": "prescale", "dryRun": "All"})
        self.assertEqual(e["contentType"], "application/merge-patch+json")
        self.assertEqual(e["identity"]["user"], CTL)
        self.assertEqual(e["identity"]["authenticatedBy"], "token")
        self.assertEqual(e["body"], {"spec": {"replicas": 3}})
        self.assertEqual(e["status"], 200)
        self.assertEqual(e["verb"], "patch")
        self.assertIs(e["validation"]["ok"], True)
        self.assertEqual(e["validation"]["schema"], "io.k8s.api.autoscaling.v1.Scale")
        self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertNotIn(b"tok-ctl", raw)  # credentials are never logged
        # the control API wants the admin token
        st, _, _, _ = self.call("GET", "/_fake/log", token="tok-ctl")
        self.assertEqual(st, 401)

    def test_keep_alive_and_limits(self):
        c = self.conn_static()
        for _ in range(3):
            st, _, _, _ = self.call("GET", self.scale_path(), conn=c)
            self.assertEqual(st, 200)
        c.close()
        c = self.conn_static()
        c.putrequest("PUT", self.scale_path())
        c.putheader("Authorization", "Bearer tok-ctl")
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(8 * 1024 * 1024))
        c.endheaders()
        r = c.getresponse()
        self.assertEqual(r.status, 413)
        self.assertEqual(json.loads(r.read())["reason"], "RequestEntityTooLarge")
        c.close()

    # -- fixtures ------------------------------------------------------------------------------
    def assert_accepted(self, method, path, body, ctype="application/json", status=(200, 201)):
        st, _, raw, js = self.call(method, path, body, ctype=ctype, token=self.admin)
        e = self.last_log(path.split("?")[0])
        self.assertIs(e["validation"]["ok"], True, json.dumps(e["validation"]))
        self.assertIn(st, status, raw)
        return js

    def test_fixture_bodies_accepted(self):
        before = self.vf_count()
        scale = self.scale_path(ns="default")
        web = deployment("web", "default", 3, {"matchLabels": {"app": "web"}})
        web["metadata"]["resourceVersion"] = "12345"
        self.seed(web, keep_rv=True)
        self.assert_accepted("PATCH", scale, fixture("scale_patch_merge_body.json"),
                             "application/merge-patch+json")
        self.seed(web, keep_rv=True)
        js = self.assert_accepted("PATCH", scale,
                                  fixture("scale_patch_merge_conditional_body.json"),
                                  "application/merge-patch+json")
        self.assertEqual(js["spec"]["replicas"], 5)
        self.seed(web, keep_rv=True)
        js = self.assert_accepted("PUT", scale, fixture("scale_put_body.json"))
        self.assertEqual(js["spec"]["replicas"], 5)
        self.seed(web, keep_rv=True)
        js = self.assert_accepted("PATCH", scale, fixture("scale_patch_jsonpatch_body.json"),
                                  "application/json-patch+json")
        self.assertEqual(js["spec"]["replicas"], 5)
        self.seed(web, keep_rv=True)
        js = self.assert_accepted("PATCH", scale + "?fieldManager=prescale",
                                  fixture("scale_apply_body.json"),
                                  "application/apply-patch+yaml")
        self.assertEqual(js["spec"]["replicas"], 5)

        leases = "/apis/coordination.k8s.io/v1/namespaces/autoscaler/leases"
        self.admin_call("DELETE", "/_fake/objects?kind=Lease&name=c-autoscaler-leader")
        js = self.assert_accepted("POST", leases, fixture("lease_create_body.json"))
        self.assertEqual(js["metadata"]["name"], "c-autoscaler-leader")
        for name in ("lease_update_renew_body.json", "lease_update_takeover_body.json",
                     "lease_release_body.json"):
            b = fixture(name)
            cur = fixture("lease_get_response.json")
            cur["metadata"]["resourceVersion"] = b["metadata"]["resourceVersion"]
            self.seed(cur, keep_rv=True)
            js = self.assert_accepted("PUT", leases + "/c-autoscaler-leader", b)
            self.assertEqual(js["spec"]["holderIdentity"], b["spec"]["holderIdentity"], name)
            self.assertNotEqual(js["metadata"]["resourceVersion"],
                                b["metadata"]["resourceVersion"])

        self.assert_accepted("POST", "/apis/events.k8s.io/v1/namespaces/default/events",
                             fixture("event_events_k8s_io_v1_create_body.json"))
        self.assert_accepted("POST", "/api/v1/namespaces/default/events",
                             fixture("event_core_v1_legacy_create_body.json"))
        self.assert_accepted("POST", "/api/v1/namespaces/default/events",
                             fixture("event_core_v1_new_style_create_body.json"))
        self.assertEqual(self.vf_count(), before)

    # -- lifecycle -----------------------------------------------------------------------------
    def test_sigterm_and_timeout_exit(self):
        procs = []
        try:
            example = os.path.join(HERE, "example_config.json")
            for extra in (["--timeout", "1"], ["--config", example]):
                p = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--quiet"] + extra,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=dict(os.environ, PS_SHARED_DIR=SHARED))
                procs.append(p)
                info = read_ready_line(p, 20)
                self.assertTrue(os.path.isdir(info["stateDir"]))
                if "--config" in extra:
                    self.assertIn("system:serviceaccount:autoscaler:c-autoscaler",
                                  info["clients"])
                    p.send_signal(signal.SIGTERM)
                t0 = time.monotonic()
                self.assertEqual(p.wait(10), 0)
                self.assertLess(time.monotonic() - t0, 5)
                self.assertFalse(os.path.exists(info["stateDir"]))  # temporary state removed
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()


def read_ready_line(proc, timeout):
    """The server's single JSON line on stdout, or an exception after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("the fake API server did not get ready in %ss" % timeout)
        r, _, _ = select.select([fd], [], [], left)
        if r:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError("the fake API server exited before it was ready (rc %s)"
                                   % proc.wait())
            buf += chunk
    return json.loads(buf.split(b"\n", 1)[0])


if __name__ == "__main__":
    t0 = time.monotonic()
    prog = unittest.main(exit=False, verbosity=2 if "-v" in sys.argv else 1)
    sys.stderr.write("selftest: %.1f s\n" % (time.monotonic() - t0))
    sys.exit(0 if prog.result.wasSuccessful() else 1)
