#!/usr/bin/env python3
"""fake_apiserver.py -- a faithful fake kube-apiserver for prescale's tests.

Python 3.9+ standard library only, plus the `openssl` command line tool (certificates are made
at startup).  See README.md in this directory for the control API and the config format.

Usage:
  fake_apiserver.py [--port N] [--config FILE] [--state-dir DIR] [--swagger FILE]
                    [--timeout SECONDS] [--admin-token TOKEN] [--max-body BYTES]
                    [--exit-on-stdin-eof] [--no-chunked] [--quiet]

Once it listens it prints ONE JSON line on stdout (port, url, CA path, client certificate and
key paths, admin token, ...) and flushes; everything else goes to stderr.
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

MAX_BODY_DEFAULT = 3 * 1024 * 1024  # the real apiserver's limit for JSON request bodies
MAX_LOG_ENTRIES = 20000
LOG_BODY_LIMIT = 256 * 1024
CHUNK_THRESHOLD = 2048  # Go's net/http switches to chunked encoding above this
ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ["system:masters"]
SUPERUSER_GROUP = "system:masters"

PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_SMP = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"
PATCH_APPLY_CBOR = "application/apply-patch+cbor"

QUANTITY_DEF = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INTORSTRING_DEF = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECTMETA_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
SCALE_DEF = "io.k8s.api.autoscaling.v1.Scale"
DELETEOPTIONS_DEF = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"

RE_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
RE_QUANTITY = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?$")
RE_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RE_QNAME_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
RE_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
    413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
    429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
}
HTTP_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Gateway Timeout",
}

METADATA_ORDER = [
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
]

_quiet = False


def log(msg):
    if not _quiet:
        sys.stderr.write("fake-apiserver: %s\n" % msg)
        sys.stderr.flush()


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(obj, pretty=False):
    if pretty:
        return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def go_quote(s):
    """%q of Go for the simple strings found in names and messages."""
    return json.dumps(s, ensure_ascii=False)


def go_value(v):
    """How field.Invalid prints a value (strings quoted, numbers bare)."""
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(v, separators=(",", ":"))


def order_object(obj):
    """Field order of the Go structs: kind, apiVersion, metadata (in ObjectMeta order), rest."""
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k in ("kind", "apiVersion", "metadata"):
        if k in obj:
            out[k] = obj[k]
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    md = out.get("metadata")
    if isinstance(md, dict):
        m2 = {}
        for k in METADATA_ORDER:
            if k in md:
                m2[k] = md[k]
        for k, v in md.items():
            if k not in m2:
                m2[k] = v
        out["metadata"] = m2
    return out


# ---------------------------------------------------------------------------------------------
# Status bodies (shapes of apimachinery's error constructors)
# ---------------------------------------------------------------------------------------------

def status_body(code, reason, message, details=None):
    d = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
         "message": message, "reason": reason}
    if details is not None:
        d["details"] = details
    d["code"] = code
    return d


def qualified_resource(group, resource):
    return resource + "." + group if group else resource


def qualified_kind(group, kind):
    return kind + "." + group if group else kind


def _details(name, group, kind, **extra):
    d = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def err_not_found(group, resource, name):
    return 404, status_body(404, "NotFound", "%s %s not found" % (
        qualified_resource(group, resource), go_quote(name)), _details(name, group, resource))


def err_not_found_path():
    return 404, status_body(404, "NotFound", "the server could not find the requested resource",
                            {})


def err_already_exists(group, resource, name):
    return 409, status_body(409, "AlreadyExists", "%s %s already exists" % (
        qualified_resource(group, resource), go_quote(name)), _details(name, group, resource))


def err_conflict(group, resource, name, why=None):
    why = why or ("the object has been modified; please apply your changes to the latest "
                  "version and try again")
    return 409, status_body(409, "Conflict", "Operation cannot be fulfilled on %s %s: %s" % (
        qualified_resource(group, resource), go_quote(name), why),
        _details(name, group, resource))


def err_bad_request(message):
    return 400, status_body(400, "BadRequest", message)


def err_method_not_allowed():
    return 405, status_body(405, "MethodNotAllowed",
                            "the server does not allow this method on the requested resource",
                            {})


def err_unsupported_media(accepted):
    return 415, status_body(
        415, "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted))


def err_internal(msg):
    return 500, status_body(500, "InternalError", "Internal error occurred: " + msg,
                            {"causes": [{"message": msg}]})


def field_error_text(e):
    """field.Error.Error(): '<field>: <body>'."""
    return "%s: %s" % (e["field"], e["message"]) if e.get("field") else e["message"]


def err_invalid(group, kind, name, errors):
    causes = [{"reason": e["type"], "message": e["message"], "field": e["field"]}
              if e.get("field") else {"reason": e["type"], "message": e["message"]}
              for e in errors]
    texts = [field_error_text(e) for e in errors]
    if not texts:
        agg = ""
    elif len(texts) == 1:
        agg = ": " + texts[0]
    else:
        agg = ": [" + ", ".join(texts) + "]"
    msg = "%s %s is invalid%s" % (qualified_kind(group, kind), go_quote(name or ""), agg)
    return 422, status_body(422, "Invalid", msg, _details(name, group, kind, causes=causes))


def err_generic_422(message):
    """NewGenericServerResponse(422, ...) -- what a failed JSON patch gives."""
    return 422, status_body(422, "Invalid",
                            "the server rejected our request due to an error in our request",
                            {"causes": [{"reason": "UnexpectedServerResponse",
                                         "message": message}]})


def ferr(typ, field, message):
    return {"type": typ, "field": field, "message": message}


def f_required(field, detail=""):
    return ferr("FieldValueRequired", field, "Required value" + (": " + detail if detail else ""))


def f_invalid(field, value, detail):
    return ferr("FieldValueInvalid", field,
                "Invalid value: %s: %s" % (go_value(value), detail) if detail
                else "Invalid value: %s" % go_value(value))


def f_type(field, value, detail):
    return ferr("FieldValueTypeInvalid", field, "Invalid value: %s: %s" % (
        go_value(value) if not isinstance(value, (dict, list)) else
        ("object" if isinstance(value, dict) else "array"), detail))


def f_unknown(field):
    return ferr("FieldValueInvalid", field, "unknown field %s" % go_quote(field))


def f_duplicate(field):
    return ferr("FieldValueDuplicate", field, "duplicate field %s" % go_quote(field))


# ---------------------------------------------------------------------------------------------
# JSON decoding that reports duplicate keys (strict field validation does)
# ---------------------------------------------------------------------------------------------

class _DupTracker:
    def __init__(self):
        self.dups = []

    def hook(self, pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                self.dups.append(k)
            d[k] = v
        return d


def decode_json(raw):
    """-> (value, duplicate keys).  Raises ValueError on undecodable JSON."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    t = _DupTracker()
    return json.loads(raw, object_pairs_hook=t.hook), t.dups


# ---------------------------------------------------------------------------------------------
# Schema validation against the OpenAPI v2 document
# ---------------------------------------------------------------------------------------------

def _join(path, key):
    return key if not path else path + "." + key


def valid_rfc3339(s):
    m = RE_RFC3339.match(s)
    if not m:
        return False
    y, mo, d, h, mi, se = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.datetime(y, mo, d, h, mi, min(se, 59))
    except ValueError:
        return False
    if se > 59:
        return False
    tz = m.group(8)
    if tz != "Z" and (int(tz[1:3]) > 23 or int(tz[4:6]) > 59):
        return False
    return True


class Validator:
    """Validates JSON values against swagger definitions.

    mode "full"    -- a whole object (POST/PUT bodies): required properties enforced.
    mode "partial" -- a JSON merge patch: every present key must exist and have the right
                      type, null deletes, nothing is required; lists replace whole lists,
                      so their items are validated in "full" mode.
    mode "smp"     -- a strategic merge patch: like partial, plus $-directives, and list items
                      are partial too (they are merged by key).
    mode "apply"   -- a server-side apply configuration: partial, null not allowed.
    """

    def __init__(self, swagger):
        self.defs = swagger.get("definitions", {})

    def resolve(self, schema):
        name = None
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 64:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.defs.get(name, {})
            seen += 1
        return schema if isinstance(schema, dict) else {}, name

    def validate(self, value, schema, mode="full", path="", errs=None, root=True):
        if errs is None:
            errs = []
        schema, name = self.resolve(schema)
        if value is None:
            if mode == "apply" and not root:
                errs.append(f_invalid(path, None, "null is not allowed in an apply configuration"))
            # Go's decoder accepts null for any field; in a merge patch null deletes.
            return errs
        if name == QUANTITY_DEF:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                errs.append(f_type(path, value, "expected a quantity (string or number)"))
            elif isinstance(value, str) and not RE_QUANTITY.match(value.strip()):
                errs.append(f_invalid(path, value, "quantities must match the regular expression "
                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
            return errs
        if name == INTORSTRING_DEF or schema.get("format") == "int-or-string":
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                errs.append(f_type(path, value, "expected an integer or a string"))
            elif isinstance(value, int) and not (-2 ** 31 <= value < 2 ** 31):
                errs.append(f_invalid(path, value, "out of range for int32"))
            return errs
        if root and mode in ("full", "apply") and isinstance(value, dict):
            self._check_gvk(value, schema, path, errs, mode)
        t = schema.get("type")
        if t is None:
            if "properties" in schema:
                t = "object"
            else:
                return errs  # free-form (JSON, RawExtension-like)
        if t == "string":
            if not isinstance(value, str):
                errs.append(f_type(path, value, "expected string"))
                return errs
            fmt = schema.get("format")
            if fmt == "date-time" and not valid_rfc3339(value):
                errs.append(f_invalid(path, value, "not an RFC 3339 date-time (e.g. "
                                      "2006-01-02T15:04:05Z or 2006-01-02T15:04:05.000000Z)"))
            elif fmt == "byte":
                try:
                    base64.b64decode(value, validate=True)
                except (ValueError, TypeError):
                    errs.append(f_invalid(path, value, "not valid standard base64"))
            enum = schema.get("enum")
            if enum and value not in enum:
                errs.append(ferr("FieldValueNotSupported", path, "Unsupported value: %s: "
                                 "supported values: %s" % (go_quote(value), ", ".join(
                                     go_quote(x) for x in enum))))
            return errs
        if t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                errs.append(f_type(path, value, "expected integer"))
                return errs
            fmt = schema.get("format")
            if fmt == "int32" and not (-2 ** 31 <= value < 2 ** 31):
                errs.append(f_invalid(path, value, "out of range for int32"))
            elif not (-2 ** 63 <= value < 2 ** 63):
                errs.append(f_invalid(path, value, "out of range for int64"))
            return errs
        if t == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errs.append(f_type(path, value, "expected number"))
            return errs
        if t == "boolean":
            if not isinstance(value, bool):
                errs.append(f_type(path, value, "expected boolean"))
            return errs
        if t == "array":
            if not isinstance(value, list):
                errs.append(f_type(path, value, "expected array"))
                return errs
            item_mode = "full" if mode == "partial" else mode
            items = schema.get("items")
            if items is not None:
                for i, v in enumerate(value):
                    self.validate(v, items, item_mode, "%s[%d]" % (path, i), errs, False)
            return errs
        if t == "object":
            if not isinstance(value, dict):
                errs.append(f_type(path, value, "expected object"))
                return errs
            props = schema.get("properties")
            addl = schema.get("additionalProperties")
            if props is None and addl is None:
                return errs  # free-form object (Patch, FieldsV1, ...)
            for k, v in value.items():
                if props and k in props:
                    self.validate(v, props[k], mode, _join(path, k), errs, False)
                elif isinstance(addl, dict):
                    self.validate(v, addl, mode, "%s[%s]" % (path, k) if path else k, errs,
                                  False)
                elif addl is True:
                    pass
                elif mode == "smp" and (k in ("$patch", "$retainKeys") or
                                        k.startswith("$setElementOrder/") or
                                        k.startswith("$deleteFromPrimitiveList/")):
                    pass
                else:
                    errs.append(f_unknown(_join(path, k)))
            if mode == "full":
                for r in schema.get("required", []):
                    if value.get(r) is None:
                        errs.append(f_required(_join(path, r)))
            return errs
        return errs

    def _check_gvk(self, value, schema, path, errs, mode):
        gvks = schema.get("x-kubernetes-group-version-kind")
        if not gvks:
            return
        versions = set()
        kinds = set()
        for g in gvks:
            versions.add(g["version"] if not g.get("group") else g["group"] + "/" + g["version"])
            kinds.add(g["kind"])
        av = value.get("apiVersion")
        k = value.get("kind")
        if mode == "apply":
            if not av:
                errs.append(f_required(_join(path, "apiVersion"), "apiVersion must be set"))
            if not k:
                errs.append(f_required(_join(path, "kind"), "kind must be set"))
        if isinstance(av, str) and av and av not in versions:
            errs.append(f_invalid(_join(path, "apiVersion"), av, "the API version in the data "
                                  "does not match the expected API version (%s)" %
                                  ", ".join(sorted(versions))))
        if isinstance(k, str) and k and k not in kinds:
            errs.append(f_invalid(_join(path, "kind"), k, "the kind in the data does not match "
                                  "the expected kind (%s)" % ", ".join(sorted(kinds))))

    def schema_at(self, schema, segments):
        """Walks a JSON pointer through a schema -> (schema or None for free-form, error)."""
        cur = schema
        for i, seg in enumerate(segments):
            cur, _ = self.resolve(cur)
            t = cur.get("type") or ("object" if "properties" in cur else None)
            if t is None and not cur:
                return None, None
            if t == "object":
                props = cur.get("properties")
                addl = cur.get("additionalProperties")
                if props and seg in props:
                    cur = props[seg]
                elif isinstance(addl, dict):
                    cur = addl
                elif props is None and addl is None:
                    return None, None  # free-form below here
                elif addl is True:
                    return None, None
                else:
                    return None, "unknown field %s" % go_quote(".".join(segments[:i + 1]))
            elif t == "array":
                if seg != "-" and not re.match(r"^(0|[1-9][0-9]*)$", seg):
                    return None, "invalid array index %s in path" % go_quote(seg)
                cur = cur.get("items", {})
            else:
                return None, "path goes below a scalar at %s" % go_quote(
                    "/".join(segments[:i]))
        return cur, None

    def validate_json_patch(self, ops, target_schema):
        errs = []
        if not isinstance(ops, list):
            errs.append(f_type("", ops, "a JSON patch must be an array of operations"))
            return errs
        for i, op in enumerate(ops):
            p = "[%d]" % i
            if not isinstance(op, dict):
                errs.append(f_type(p, op, "expected object"))
                continue
            for k in op:
                if k not in ("op", "path", "value", "from"):
                    errs.append(f_unknown(p + "." + k))
            name = op.get("op")
            if name not in ("add", "remove", "replace", "move", "copy", "test"):
                errs.append(ferr("FieldValueNotSupported", p + ".op", "Unsupported value: %s: "
                                 "supported values: \"add\", \"remove\", \"replace\", \"move\", "
                                 "\"copy\", \"test\"" % go_value(name)))
                continue
            ptrs = [("path", op.get("path"))]
            if name in ("move", "copy"):
                ptrs.append(("from", op.get("from")))
            sub = None
            bad = False
            for key, ptr in ptrs:
                if not isinstance(ptr, str):
                    errs.append(f_required(p + "." + key) if ptr is None
                                else f_type(p + "." + key, ptr, "expected string"))
                    bad = True
                    continue
                if ptr != "" and not ptr.startswith("/"):
                    errs.append(f_invalid(p + "." + key, ptr, "a JSON pointer must start "
                                          "with '/'"))
                    bad = True
                    continue
                segs = [s.replace("~1", "/").replace("~0", "~") for s in ptr.split("/")[1:]]
                sch, e = self.schema_at(target_schema, segs)
                if e:
                    errs.append(f_invalid(p + "." + key, ptr, e))
                    bad = True
                elif key == "path":
                    sub = sch
            if name in ("add", "replace", "test"):
                if "value" not in op:
                    errs.append(f_required(p + ".value"))
                elif not bad and sub is not None:
                    self.validate(op["value"], sub, "full", p + ".value", errs, False)
        return errs


# ---------------------------------------------------------------------------------------------
# Patches
# ---------------------------------------------------------------------------------------------

class PatchError(Exception):
    pass


def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def strategic_merge_patch(target, patch, schema, validator):
    """A strategic merge patch: maps merge, lists with a patch-merge-key merge by key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    schema, _ = validator.resolve(schema or {})
    props = schema.get("properties") or {}
    addl = schema.get("additionalProperties")
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        sub = props.get(k) or (addl if isinstance(addl, dict) else {})
        if v is None:
            result.pop(k, None)
        elif isinstance(v, list):
            subr, _ = validator.resolve(sub)
            strategy = (sub.get("x-kubernetes-patch-strategy") or
                        subr.get("x-kubernetes-patch-strategy") or "")
            key = sub.get("x-kubernetes-patch-merge-key") or subr.get(
                "x-kubernetes-patch-merge-key")
            cur = result.get(k) if isinstance(result.get(k), list) else []
            if "merge" in strategy.split(",") and key:
                items = copy.deepcopy(cur)
                for it in v:
                    if not isinstance(it, dict):
                        continue
                    idx = next((i for i, e in enumerate(items)
                                if isinstance(e, dict) and e.get(key) == it.get(key)), None)
                    if it.get("$patch") == "delete":
                        if idx is not None:
                            items.pop(idx)
                    elif idx is not None:
                        items[idx] = strategic_merge_patch(items[idx], it,
                                                           subr.get("items", {}), validator)
                    else:
                        items.append(strategic_merge_patch({}, it, subr.get("items", {}),
                                                           validator))
                result[k] = items
            elif "merge" in strategy.split(","):
                items = copy.deepcopy(cur)
                for it in v:
                    if it not in items:
                        items.append(copy.deepcopy(it))
                result[k] = items
            else:
                result[k] = copy.deepcopy(v)
        elif isinstance(v, dict):
            r = strategic_merge_patch(result.get(k), v, sub, validator)
            if r is None:
                result.pop(k, None)
            else:
                result[k] = r
        else:
            result[k] = copy.deepcopy(v)
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/") and isinstance(v, list):
            f = k.split("/", 1)[1]
            if isinstance(result.get(f), list):
                result[f] = [x for x in result[f] if x not in v]
    return result


def _ptr(p):
    if p == "":
        return []
    if not p.startswith("/"):
        raise PatchError("invalid JSON pointer %s" % go_quote(p))
    return [s.replace("~1", "/").replace("~0", "~") for s in p.split("/")[1:]]


def _walk(doc, segs, op, path):
    cur = doc
    for s in segs:
        if isinstance(cur, dict):
            if s not in cur:
                raise PatchError("%s operation does not apply: doc is missing path: %s" % (
                    op, path))
            cur = cur[s]
        elif isinstance(cur, list):
            if not re.match(r"^(0|[1-9][0-9]*)$", s) or int(s) >= len(cur):
                raise PatchError("%s operation does not apply: doc is missing path: %s" % (
                    op, path))
            cur = cur[int(s)]
        else:
            raise PatchError("%s operation does not apply: doc is missing path: %s" % (op, path))
    return cur


def _jp_get(doc, path, op):
    return _walk(doc, _ptr(path), op, path)


def _jp_add(doc, path, value, op="add"):
    segs = _ptr(path)
    if not segs:
        return copy.deepcopy(value)
    parent = _walk(doc, segs[:-1], op, path)
    last = segs[-1]
    if isinstance(parent, dict):
        parent[last] = copy.deepcopy(value)
    elif isinstance(parent, list):
        if last == "-":
            parent.append(copy.deepcopy(value))
        elif re.match(r"^(0|[1-9][0-9]*)$", last) and int(last) <= len(parent):
            parent.insert(int(last), copy.deepcopy(value))
        else:
            raise PatchError("%s operation does not apply: index out of bounds: %s" % (op, path))
    else:
        raise PatchError("%s operation does not apply: doc is missing path: %s" % (op, path))
    return doc


def _jp_remove(doc, path, op="remove"):
    segs = _ptr(path)
    if not segs:
        raise PatchError("%s operation does not apply: cannot remove the root" % op)
    parent = _walk(doc, segs[:-1], op, path)
    last = segs[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and re.match(r"^(0|[1-9][0-9]*)$", last) and \
            int(last) < len(parent):
        return parent.pop(int(last))
    raise PatchError("%s operation does not apply: doc is missing path: %s" % (op, path))


def json_patch(doc, ops):
    """RFC 6902 JSON patch."""
    doc = copy.deepcopy(doc)
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be an array")
    for o in ops:
        if not isinstance(o, dict):
            raise PatchError("a JSON patch operation must be an object")
        name = o.get("op")
        path = o.get("path")
        if not isinstance(path, str):
            raise PatchError("operation missing path")
        if name == "add":
            doc = _jp_add(doc, path, o.get("value"))
        elif name == "remove":
            _jp_remove(doc, path)
        elif name == "replace":
            segs = _ptr(path)
            if not segs:
                doc = copy.deepcopy(o.get("value"))
                continue
            _jp_get(doc, path, "replace")
            parent = _walk(doc, segs[:-1], "replace", path)
            if isinstance(parent, list):
                parent[int(segs[-1])] = copy.deepcopy(o.get("value"))
            else:
                parent[segs[-1]] = copy.deepcopy(o.get("value"))
        elif name == "move":
            frm = o.get("from")
            if not isinstance(frm, str):
                raise PatchError("move operation missing from")
            v = _jp_remove(doc, frm, "move")
            doc = _jp_add(doc, path, v, "move")
        elif name == "copy":
            frm = o.get("from")
            if not isinstance(frm, str):
                raise PatchError("copy operation missing from")
            doc = _jp_add(doc, path, _jp_get(doc, frm, "copy"), "copy")
        elif name == "test":
            try:
                cur = _jp_get(doc, path, "test")
            except PatchError:
                raise PatchError("testing value %s failed: test failed" % path)
            if not _json_equal(cur, o.get("value")):
                raise PatchError("testing value %s failed: test failed" % path)
        else:
            raise PatchError("Unexpected kind: %s" % name)
    return doc


def _json_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    return a == b


# ---------------------------------------------------------------------------------------------
# Label and field selectors
# ---------------------------------------------------------------------------------------------

class SelectorError(Exception):
    pass


_SEL_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"


def _check_label_key(k):
    parts = k.split("/")
    if len(parts) > 2 or not parts[-1] or len(parts[-1]) > 63 or \
            not RE_QNAME_NAME.match(parts[-1]) or \
            (len(parts) == 2 and (not parts[0] or len(parts[0]) > 253 or
                                  not RE_DNS1123_SUBDOMAIN.match(parts[0]))):
        raise SelectorError("unable to parse requirement: key: Invalid value: %s: name part "
                            "must consist of alphanumeric characters, '-', '_' or '.', and must "
                            "start and end with an alphanumeric character" % go_quote(k))


def _check_label_value(k, v):
    if len(v) > 63 or not RE_LABEL_VALUE.match(v):
        raise SelectorError("unable to parse requirement: values[0][%s]: Invalid value: %s: a "
                            "valid label must be an empty string or consist of alphanumeric "
                            "characters, '-', '_' or '.', and must start and end with an "
                            "alphanumeric character" % (k, go_quote(v)))


def parse_label_selector(s):
    """apimachinery's label selector syntax -> list of (key, op, values)."""
    s = s.strip()
    if not s:
        return []
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError("unable to parse requirement: found ')', expected: "
                                    "',' or 'end of string'")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise SelectorError("unable to parse requirement: found 'end of string', expected: ')'")
    parts.append(cur)
    reqs = []
    for p in parts:
        p = p.strip()
        if not p:
            raise SelectorError("found '', expected: !, identifier, or 'end of string'")
        m = re.match(r"^!\s*(%s)$" % _SEL_KEY, p)
        if m:
            _check_label_key(m.group(1))
            reqs.append((m.group(1), "!", []))
            continue
        m = re.match(r"^(%s)\s+(in|notin)\s*\((.*)\)$" % _SEL_KEY, p)
        if m:
            vals = [v.strip() for v in m.group(3).split(",")]
            if vals == [""]:
                raise SelectorError("unable to parse requirement: for 'in', 'notin' operators, "
                                    "values set can't be empty")
            _check_label_key(m.group(1))
            for v in vals:
                _check_label_value(m.group(1), v)
            reqs.append((m.group(1), m.group(2), vals))
            continue
        m = re.match(r"^(%s)\s*(==|=|!=|>|<)\s*(\S*)$" % _SEL_KEY, p)
        if m:
            key, op, val = m.group(1), m.group(2), m.group(3)
            _check_label_key(key)
            if op in (">", "<"):
                if not re.match(r"^-?\d+$", val):
                    raise SelectorError("unable to parse requirement: for 'Gt', 'Lt' operators, "
                                        "the value must be an integer")
            else:
                _check_label_value(key, val)
            reqs.append((key, "=" if op == "==" else op, [val]))
            continue
        m = re.match(r"^(%s)$" % _SEL_KEY, p)
        if m:
            _check_label_key(m.group(1))
            reqs.append((m.group(1), "exists", []))
            continue
        raise SelectorError("unable to parse requirement: %s" % go_quote(p))
    return reqs


def label_selector_matches(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
        if op == "=" and (not has or v != vals[0]):
            return False
        if op == "!=" and has and v == vals[0]:
            return False
        if op == "in" and (not has or v not in vals):
            return False
        if op == "notin" and has and v in vals:
            return False
        if op in (">", "<"):
            try:
                iv = int(v)
            except (TypeError, ValueError):
                return False
            if op == ">" and not iv > int(vals[0]):
                return False
            if op == "<" and not iv < int(vals[0]):
                return False
    return True


def selector_to_string(sel):
    """metav1.LabelSelectorAsSelector(sel).String(): requirements sorted by key."""
    if not isinstance(sel, dict):
        return ""
    reqs = []
    for k, v in (sel.get("matchLabels") or {}).items():
        reqs.append((k, "%s=%s" % (k, v)))
    for e in sel.get("matchExpressions") or []:
        k, op, vals = e.get("key"), e.get("operator"), sorted(e.get("values") or [])
        if op == "In":
            reqs.append((k, "%s in (%s)" % (k, ",".join(vals))))
        elif op == "NotIn":
            reqs.append((k, "%s notin (%s)" % (k, ",".join(vals))))
        elif op == "Exists":
            reqs.append((k, k))
        elif op == "DoesNotExist":
            reqs.append((k, "!" + k))
    reqs.sort(key=lambda r: r[0])
    return ",".join(r[1] for r in reqs)


POD_FIELDS = {
    "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
    "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
    "status.podIP", "status.nominatedNodeName",
}
EVENT_FIELDS = {
    "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
    "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
    "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
    "source", "type", "regarding.kind", "regarding.namespace", "regarding.name",
    "regarding.uid", "reportingController",
}


def parse_field_selector(s, allowed):
    reqs = []
    s = s.strip()
    if not s:
        return reqs
    for p in s.split(","):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", p)
        if not m:
            raise SelectorError("invalid selector: %s; can't understand %s" % (
                go_quote(s), go_quote(p)))
        if m.group(1) not in allowed:
            raise SelectorError("field label not supported: %s" % m.group(1))
        reqs.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
    return reqs


def field_selector_matches(reqs, obj):
    for path, op, val in reqs:
        cur = obj
        for seg in path.split("."):
            cur = cur.get(seg) if isinstance(cur, dict) else None
        if isinstance(cur, bool):
            cur = "true" if cur else "false"
        cur = "" if cur is None else str(cur)
        if op == "=" and cur != val:
            return False
        if op == "!=" and cur == val:
            return False
    return True


def get_path(obj, dotted):
    cur = obj
    for seg in [s for s in dotted.split(".") if s]:
        if not isinstance(cur, dict) or seg not in cur:
            return None
        cur = cur[seg]
    return cur


def set_path(obj, dotted, value):
    segs = [s for s in dotted.split(".") if s]
    cur = obj
    for seg in segs[:-1]:
        if not isinstance(cur.get(seg), dict):
            cur[seg] = {}
        cur = cur[seg]
    cur[segs[-1]] = value


# ---------------------------------------------------------------------------------------------
# Resource types
# ---------------------------------------------------------------------------------------------

class ResourceType:
    def __init__(self, group, version, resource, kind, namespaced=True, definition=None,
                 scale=None, status=False, generation=False, create_on_update=False,
                 custom=False, schema=None, verbs=None, singular=None, short_names=None,
                 return_object_on_delete=False):
        self.group = group
        self.version = version
        self.resource = resource
        self.kind = kind
        self.list_kind = kind + "List"
        self.namespaced = namespaced
        self.definition = definition
        self.scale = scale  # dict(specReplicasPath, statusReplicasPath, labelSelectorPath|None)
        self.status = status
        self.generation = generation
        self.create_on_update = create_on_update
        self.custom = custom
        self.schema = schema  # for custom resources
        self.verbs = verbs or ["create", "delete", "deletecollection", "get", "list", "patch",
                               "update"]
        self.singular = singular or kind.lower()
        self.short_names = short_names or []
        self.return_object_on_delete = return_object_on_delete

    @property
    def api_version(self):
        return self.group + "/" + self.version if self.group else self.version

    def obj_schema(self):
        if self.definition:
            return {"$ref": "#/definitions/" + self.definition}
        return self.schema or CUSTOM_RESOURCE_SCHEMA


CUSTOM_RESOURCE_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": "#/definitions/" + OBJECTMETA_DEF},
        "spec": {"type": "object"},
        "status": {"type": "object"},
    },
}

WORKLOAD_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                  "labelSelectorPath": None}


def builtin_types():
    return [
        ResourceType("apps", "v1", "deployments", "Deployment",
                     definition="io.k8s.api.apps.v1.Deployment", scale=WORKLOAD_SCALE,
                     status=True, generation=True, short_names=["deploy"]),
        ResourceType("apps", "v1", "statefulsets", "StatefulSet",
                     definition="io.k8s.api.apps.v1.StatefulSet", scale=WORKLOAD_SCALE,
                     status=True, generation=True, short_names=["sts"]),
        ResourceType("apps", "v1", "replicasets", "ReplicaSet",
                     definition="io.k8s.api.apps.v1.ReplicaSet", scale=WORKLOAD_SCALE,
                     status=True, generation=True, short_names=["rs"]),
        ResourceType("", "v1", "pods", "Pod", definition="io.k8s.api.core.v1.Pod",
                     status=True, short_names=["po"], return_object_on_delete=True),
        ResourceType("", "v1", "events", "Event", definition="io.k8s.api.core.v1.Event",
                     create_on_update=True, short_names=["ev"]),
        ResourceType("coordination.k8s.io", "v1", "leases", "Lease",
                     definition="io.k8s.api.coordination.v1.Lease", create_on_update=True),
        ResourceType("events.k8s.io", "v1", "events", "Event",
                     definition="io.k8s.api.events.v1.Event", create_on_update=True,
                     short_names=["ev"]),
    ]


DEFAULT_CUSTOM_RESOURCES = [
    {"group": "argoproj.io", "version": "v1alpha1", "resource": "rollouts", "kind": "Rollout",
     "shortNames": ["ro"],
     "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
               "labelSelectorPath": ".status.selector"}},
]


# ---------------------------------------------------------------------------------------------
# Swagger path index
# ---------------------------------------------------------------------------------------------

class PathIndex:
    """Finds the `paths` template of a request path and the operation's body schema."""

    def __init__(self, swagger):
        self.swagger = swagger
        self.by_len = {}
        for tmpl, item in swagger.get("paths", {}).items():
            self.add(tmpl, item)

    def add(self, tmpl, item):
        segs = tmpl.strip("/").split("/")
        lst = self.by_len.setdefault(len(segs), [])
        lst[:] = [e for e in lst if e[0] != tmpl]
        lst.append((tmpl, segs, item))

    def find(self, path):
        segs = path.strip("/").split("/")
        best = None
        for tmpl, tsegs, item in self.by_len.get(len(segs), []):
            score = 0
            for a, b in zip(tsegs, segs):
                if a.startswith("{") and a.endswith("}"):
                    continue
                if a != b:
                    score = -1
                    break
                score += 1
            if score >= 0 and (best is None or score > best[0]):
                best = (score, tmpl, item)
        return (best[1], best[2]) if best else (None, None)

    def _param(self, p):
        if "$ref" in p:
            return self.swagger.get("parameters", {}).get(p["$ref"].rsplit("/", 1)[-1], {})
        return p

    def body_schema(self, item, method):
        """-> (body schema or None, response schema or None, consumes list)."""
        op = item.get(method.lower())
        if not op:
            return None, None, None
        body = None
        for p in op.get("parameters", []) + item.get("parameters", []):
            p = self._param(p)
            if p.get("in") == "body":
                body = p.get("schema")
        resp = None
        for code in ("200", "201"):
            r = op.get("responses", {}).get(code)
            if r and r.get("schema"):
                resp = r["schema"]
                break
        return body, resp, op.get("consumes")


def custom_resource_paths(rt):
    """Synthetic `paths` entries for a custom resource (CRDs publish these too)."""
    ref = {"$ref": "#/definitions/" + SCALE_DEF}
    obj = rt.obj_schema()
    patch_consumes = [PATCH_JSON, PATCH_MERGE, PATCH_APPLY]
    body = lambda s: [{"in": "body", "name": "body", "required": True, "schema": s}]  # noqa
    patch_body = [{"in": "body", "name": "body", "required": True,
                   "schema": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}]
    base = "/apis/%s/%s/namespaces/{namespace}/%s" % (rt.group, rt.version, rt.resource)
    out = {
        base: {"get": {"responses": {"200": {"schema": {"type": "object"}}}},
               "post": {"consumes": ["*/*"], "parameters": body(obj),
                        "responses": {"201": {"schema": obj}}},
               "delete": {"parameters": [{"in": "body", "name": "body", "schema": {
                   "$ref": "#/definitions/" + DELETEOPTIONS_DEF}}]}},
        base + "/{name}": {
            "get": {"responses": {"200": {"schema": obj}}},
            "put": {"consumes": ["*/*"], "parameters": body(obj),
                    "responses": {"200": {"schema": obj}}},
            "patch": {"consumes": patch_consumes, "parameters": patch_body,
                      "responses": {"200": {"schema": obj}}},
            "delete": {"parameters": [{"in": "body", "name": "body", "schema": {
                "$ref": "#/definitions/" + DELETEOPTIONS_DEF}}]}},
        base + "/{name}/status": {
            "get": {"responses": {"200": {"schema": obj}}},
            "put": {"consumes": ["*/*"], "parameters": body(obj),
                    "responses": {"200": {"schema": obj}}},
            "patch": {"consumes": patch_consumes, "parameters": patch_body,
                      "responses": {"200": {"schema": obj}}}},
        "/apis/%s/%s/%s" % (rt.group, rt.version, rt.resource): {
            "get": {"responses": {"200": {"schema": {"type": "object"}}}}},
    }
    if rt.scale:
        out[base + "/{name}/scale"] = {
            "get": {"responses": {"200": {"schema": ref}}},
            "put": {"consumes": ["*/*"], "parameters": body(ref),
                    "responses": {"200": {"schema": ref}}},
            "patch": {"consumes": patch_consumes, "parameters": patch_body,
                      "responses": {"200": {"schema": ref}}}}
    return out


# ---------------------------------------------------------------------------------------------
# PKI (openssl CLI)
# ---------------------------------------------------------------------------------------------

OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _subj_escape(s):
    return s.replace("\\", "\\\\").replace("/", "\\/").replace("+", "\\+")


def _safe_filename(s):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", s)


class PKI:
    def __init__(self, d):
        self.dir = d
        self.cnf = os.path.join(d, "openssl.cnf")
        with open(self.cnf, "w") as f:
            f.write(OPENSSL_CNF)
        self.lock = threading.Lock()

    def _run(self, args):
        p = subprocess.run(["openssl"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           cwd=self.dir)
        if p.returncode != 0:
            raise RuntimeError("openssl %s failed: %s" % (args[0], p.stderr.decode(
                "utf-8", "replace").strip()))

    def _key_args(self, keyout):
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", keyout]

    def make_ca(self, base, cn):
        key, crt = os.path.join(self.dir, base + ".key"), os.path.join(self.dir, base + ".crt")
        self._run(["req", "-x509", "-new", "-config", self.cnf, "-extensions", "ca_ext",
                   "-days", "3", "-sha256", "-subj", "/CN=" + _subj_escape(cn), "-out", crt]
                  + self._key_args(key))
        os.chmod(key, 0o600)
        return crt, key

    def make_leaf(self, base, ca, subj, ext):
        key, crt = os.path.join(self.dir, base + ".key"), os.path.join(self.dir, base + ".crt")
        csr = os.path.join(self.dir, base + ".csr")
        self._run(["req", "-new", "-config", self.cnf, "-subj", subj, "-out", csr]
                  + self._key_args(key))
        os.chmod(key, 0o600)
        self._run(["x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
                   "0x" + secrets.token_hex(12), "-days", "3", "-sha256", "-extfile", self.cnf,
                   "-extensions", ext, "-out", crt])
        os.unlink(csr)
        return crt, key

    def client_subject(self, user, groups):
        return "".join("/O=" + _subj_escape(g) for g in groups) + "/CN=" + _subj_escape(user)


# ---------------------------------------------------------------------------------------------
# State: users, rules, objects, request log, faults
# ---------------------------------------------------------------------------------------------

class Identity:
    def __init__(self, name, groups, via):
        self.name = name
        self.groups = list(groups)
        self.via = via

    def to_json(self):
        return {"user": self.name, "groups": self.groups, "authenticatedBy": self.via}


def implicit_groups(name, groups):
    out = list(groups)
    m = re.match(r"^system:serviceaccount:([^:]+):[^:]+$", name)
    if m:
        for g in ("system:serviceaccounts", "system:serviceaccounts:" + m.group(1)):
            if g not in out:
                out.append(g)
    if "system:authenticated" not in out:
        out.append("system:authenticated")
    return out


def _match_list(lst, value):
    if lst is None:
        return True
    if isinstance(lst, str):
        lst = [lst]
    return "*" in lst or value in lst


class Rule:
    """A PolicyRule of RBAC plus its binding: who (users, groups) and where (namespaces)."""

    def __init__(self, d, default_user=None):
        def lst(key):
            v = d.get(key)
            if v is None:
                return None
            if isinstance(v, str):
                return [v]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ValueError("rule field %s must be a list of strings" % key)
            return v
        self.users = lst("users") or ([default_user] if default_user else [])
        self.groups = lst("groups") or []
        self.namespaces = lst("namespaces")  # None or ["*"]: cluster-wide
        self.verbs = lst("verbs") or []
        self.api_groups = lst("apiGroups")
        self.resources = lst("resources")
        self.resource_names = lst("resourceNames") or []
        self.non_resource_urls = lst("nonResourceURLs") or []
        self.raw = d

    def applies_to(self, ident):
        return ident.name in self.users or "*" in self.users or \
            any(g in self.groups for g in ident.groups)

    def allows(self, ident, attrs):
        if not self.applies_to(ident):
            return False
        if not _match_list(self.verbs, attrs["verb"]):
            return False
        if not attrs["resourceRequest"]:
            path = attrs["path"]
            for u in self.non_resource_urls:
                if u == "*" or u == path or (u.endswith("*") and path.startswith(u[:-1])):
                    return True
            return False
        if self.non_resource_urls and not self.resources:
            return False
        if not _match_list(self.api_groups or [], attrs["apiGroup"]):
            return False
        res = attrs["resource"] + ("/" + attrs["subresource"] if attrs["subresource"] else "")
        ok = False
        for r in self.resources or []:
            if r == "*" or r == res or (r == "*/" + attrs["subresource"] and
                                        attrs["subresource"]) or \
                    (r == attrs["resource"] + "/*" and attrs["subresource"]):
                ok = True
                break
        if not ok:
            return False
        if self.resource_names:
            if not attrs["name"] or attrs["name"] not in self.resource_names:
                return False
        if self.namespaces and "*" not in self.namespaces:
            if not attrs["namespace"] or attrs["namespace"] not in self.namespaces:
                return False
        return True


class Fault:
    KINDS = ("delay", "429", "429-plaintext", "500", "drop", "truncate", "status")

    def __init__(self, d, fid):
        self.id = fid
        self.kind = str(d.get("kind", "delay"))
        if self.kind not in self.KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (self.kind,
                                                                   ", ".join(self.KINDS)))
        self.method = str(d.get("method", "*")).upper()
        self.path = d.get("path", ".*")
        self.path_re = re.compile(self.path)
        self.count = int(d.get("count", 1))
        self.delay_ms = int(d.get("delayMs", d.get("ms", 0)))
        self.retry_after = d.get("retryAfter", 1)
        self.code = int(d.get("code", 500 if self.kind != "429" else 429))
        self.message = d.get("message")
        self.body = d.get("body")
        self.hits = 0
        self.raw = dict(d)

    def matches(self, method, path):
        return (self.method in ("*", method)) and self.path_re.search(path) is not None

    def to_json(self):
        d = dict(self.raw)
        d.update({"id": self.id, "kind": self.kind, "method": self.method, "path": self.path,
                  "remaining": self.count, "hits": self.hits})
        return d


class State:
    def __init__(self, swagger, args):
        self.lock = threading.RLock()
        self.swagger = swagger
        self.validator = Validator(swagger)
        self.paths = PathIndex(swagger)
        self.rv = 100
        self.types = {}  # (group, resource) -> ResourceType
        self.by_gvk = {}  # (apiVersion, kind) -> ResourceType
        self.objects = {}  # (group, resource, namespace, name) -> object
        self.users = {}  # name -> dict(name, token, groups, cert, key)
        self.tokens = {}  # token -> name
        self.rules = []
        self.log = []
        self.log_seq = 0
        self.validation_failures = 0
        self.validation_failures_total = 0
        self.faults = []
        self.fault_seq = 0
        self.pki = None
        self.ca_cn = None
        self.admin_token = args.admin_token or secrets.token_urlsafe(24)
        self.flowschema_uid = str(uuid.uuid4())
        self.prioritylevel_uid = str(uuid.uuid4())
        for rt in builtin_types():
            self.add_type(rt)
        for cr in DEFAULT_CUSTOM_RESOURCES:
            self.add_custom_resource(cr)

    # -- types --------------------------------------------------------------------------------
    def add_type(self, rt):
        self.types[(rt.group, rt.resource)] = rt
        self.by_gvk.setdefault((rt.api_version, rt.kind), rt)
        if rt.custom:
            for tmpl, item in custom_resource_paths(rt).items():
                self.paths.add(tmpl, item)

    def add_custom_resource(self, cr):
        scale = cr.get("scale")
        if scale is True:
            scale = {"specReplicasPath": ".spec.replicas",
                     "statusReplicasPath": ".status.replicas",
                     "labelSelectorPath": ".status.selector"}
        rt = ResourceType(cr["group"], cr["version"], cr["resource"], cr["kind"],
                          namespaced=cr.get("namespaced", True), scale=scale,
                          status=cr.get("status", True), generation=True, custom=True,
                          schema=cr.get("schema"), singular=cr.get("singular"),
                          short_names=cr.get("shortNames"))
        self.add_type(rt)
        return rt

    def type_for(self, group, version, resource):
        rt = self.types.get((group, resource))
        if rt and rt.version == version:
            return rt
        return None

    # -- resource versions ---------------------------------------------------------------------
    def next_rv(self):
        self.rv += 1
        return str(self.rv)

    # -- users and rules -----------------------------------------------------------------------
    def add_user(self, u, make_cert=True):
        name = u["name"]
        groups = list(u.get("groups") or [])
        rec = {"name": name, "groups": groups, "token": u.get("token")}
        old = self.users.get(name)
        if old and old.get("token"):
            self.tokens.pop(old["token"], None)
        if rec["token"]:
            self.tokens[rec["token"]] = name
        if make_cert and u.get("clientCert", True) and self.pki:
            base = "client-" + _safe_filename(name)
            rec["cert"], rec["key"] = self.pki.make_leaf(
                base, self.ca, self.pki.client_subject(name, groups), "client_ext")
        elif old:
            rec["cert"], rec["key"] = old.get("cert"), old.get("key")
        self.users[name] = rec
        for r in u.get("rules") or []:
            self.rules.append(Rule(r, default_user=name))
        return rec

    def apply_config(self, cfg, validate=True):
        """users, rules, customResources, objects, faults -- merged into the state."""
        out = {"users": {}, "objects": [], "faults": []}
        with self.lock:
            if "resourceVersionStart" in cfg:
                self.rv = max(self.rv, int(cfg["resourceVersionStart"]))
            for cr in cfg.get("customResources") or []:
                self.add_custom_resource(cr)
            for u in cfg.get("users") or []:
                rec = self.add_user(u)
                out["users"][rec["name"]] = {"cert": rec.get("cert"), "key": rec.get("key"),
                                             "token": rec.get("token")}
            for r in cfg.get("rules") or []:
                self.rules.append(Rule(r))
            if cfg.get("objects"):
                status, res = self.put_objects(cfg["objects"], validate=validate,
                                               keep_rv=bool(cfg.get("keepResourceVersion")))
                if status != 200:
                    raise ValueError("objects: %s" % json.dumps(res))
                out["objects"] = res.get("items", [])
            for f in cfg.get("faults") or []:
                out["faults"].append(self.add_fault(f).to_json())
        return out

    def authenticate_token(self, token):
        if token == self.admin_token:
            return Identity(ADMIN_USER, implicit_groups(ADMIN_USER, ADMIN_GROUPS), "token")
        name = self.tokens.get(token)
        if name is None:
            return None
        u = self.users[name]
        return Identity(name, implicit_groups(name, u["groups"]), "token")

    def authorize(self, ident, attrs):
        if SUPERUSER_GROUP in ident.groups:
            return True
        with self.lock:
            rules = list(self.rules)
        return any(r.allows(ident, attrs) for r in rules)

    # -- faults --------------------------------------------------------------------------------
    def add_fault(self, d):
        with self.lock:
            self.fault_seq += 1
            f = Fault(d, self.fault_seq)
            self.faults.append(f)
            return f

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if f.count != 0 and f.matches(method, path):
                    if f.count > 0:
                        f.count -= 1
                    f.hits += 1
                    self.faults = [x for x in self.faults if x.count != 0]
                    return f
        return None

    # -- request log ---------------------------------------------------------------------------
    def add_log(self, entry):
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            v = entry.get("validation") or {}
            if v.get("ok") is False:
                self.validation_failures += 1
                self.validation_failures_total += 1
            self.log.append(entry)
            if len(self.log) > MAX_LOG_ENTRIES:
                del self.log[:len(self.log) - MAX_LOG_ENTRIES]

    # -- objects -------------------------------------------------------------------------------
    def key(self, rt, ns, name):
        return (rt.group, rt.resource, ns if rt.namespaced else "", name)

    def prepare_new(self, rt, obj, keep_rv=False):
        """Server-set fields of a created object."""
        md = obj.setdefault("metadata", {})
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        if not md.get("uid"):
            md["uid"] = str(uuid.uuid4())
        if not md.get("creationTimestamp"):
            md["creationTimestamp"] = now_rfc3339()
        if rt.generation and not md.get("generation"):
            md["generation"] = 1
        rv = md.get("resourceVersion")
        if keep_rv and rv and str(rv).isdigit():
            md["resourceVersion"] = str(rv)
            self.rv = max(self.rv, int(rv))
        else:
            md["resourceVersion"] = self.next_rv()
        if rt.resource in ("deployments", "statefulsets", "replicasets") and \
                isinstance(obj.get("spec"), dict) and obj["spec"].get("replicas") is None:
            obj["spec"]["replicas"] = 1
        if rt.resource == "pods" and isinstance(obj.get("status"), dict) is False:
            obj.setdefault("status", {"phase": "Pending"})
        return order_object(obj)

    def put_objects(self, body, validate=True, keep_rv=False):
        """The control API's object seeding: create or overwrite, bypassing authz."""
        if isinstance(body, dict) and isinstance(body.get("items"), list):
            items = body["items"]
        elif isinstance(body, list):
            items = body
        else:
            items = [body]
        prepared = []
        for i, o in enumerate(items):
            if not isinstance(o, dict):
                return 400, status_body(400, "BadRequest", "items[%d] is not an object" % i)
            rt = self.by_gvk.get((o.get("apiVersion"), o.get("kind")))
            if rt is None:
                return 400, status_body(400, "BadRequest", "items[%d]: no resource for "
                                        "apiVersion %s kind %s" % (i, go_quote(str(o.get(
                                            "apiVersion"))), go_quote(str(o.get("kind")))))
            o = copy.deepcopy(o)
            md = o.setdefault("metadata", {})
            if not md.get("name"):
                return 400, status_body(400, "BadRequest", "items[%d]: metadata.name is "
                                        "required" % i)
            if rt.namespaced:
                md.setdefault("namespace", "default")
            if validate:
                errs = self.validator.validate(o, rt.obj_schema(), "full")
                if errs:
                    return err_invalid(rt.group, rt.kind, md.get("name"), errs)
            prepared.append((rt, o))
        out = []
        with self.lock:
            for rt, o in prepared:
                md = o["metadata"]
                k = self.key(rt, md.get("namespace", ""), md["name"])
                old = self.objects.get(k)
                if old and not md.get("uid"):
                    md["uid"] = old["metadata"]["uid"]
                o = self.prepare_new(rt, o, keep_rv=keep_rv)
                self.objects[k] = o
                out.append(copy.deepcopy(o))
        return 200, {"items": out}

    def delete_objects(self, q):
        with self.lock:
            n = 0
            for k, o in list(self.objects.items()):
                if _obj_matches_query(o, q):
                    del self.objects[k]
                    n += 1
            return n

    def list_objects(self, q):
        with self.lock:
            return [copy.deepcopy(o) for k, o in sorted(self.objects.items())
                    if _obj_matches_query(o, q)]


def _obj_matches_query(o, q):
    md = o.get("metadata", {})
    for field, val in (("apiVersion", o.get("apiVersion")), ("kind", o.get("kind")),
                       ("namespace", md.get("namespace", "")), ("name", md.get("name"))):
        if field in q and q[field] != val:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------

def request_info(method, path, query):
    """apiserver's RequestInfoFactory, reduced to what authorization needs."""
    verb = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, method.lower())
    info = {"resourceRequest": False, "path": path, "verb": verb, "apiGroup": "",
            "apiVersion": "", "namespace": "", "resource": "", "subresource": "", "name": "",
            "extra": False}
    raw = [s for s in path.split("/") if s != ""]
    segs = [unquote(s) for s in raw]
    if not segs or segs[0] not in ("api", "apis"):
        info["verb"] = method.lower()
        return info
    if segs[0] == "api":
        if len(segs) < 3:
            info["verb"] = method.lower()
            return info
        group, version, rest = "", segs[1], segs[2:]
    else:
        if len(segs) < 4:
            info["verb"] = method.lower()
            return info
        group, version, rest = segs[1], segs[2], segs[3:]
    info.update(resourceRequest=True, apiGroup=group, apiVersion=version)
    if rest and rest[0] == "watch" and method == "GET":
        verb = "watch"
        rest = rest[1:]
        if not rest:
            info["resourceRequest"] = False
            return info
    if rest[0] == "namespaces" and len(rest) > 1:
        info["namespace"] = rest[1]
        if len(rest) > 2:
            rest = rest[2:]
    info["resource"] = rest[0]
    if len(rest) >= 2:
        info["name"] = rest[1]
    if len(rest) >= 3:
        info["subresource"] = rest[2]
    if len(rest) >= 4:
        info["extra"] = True
    if not info["name"] and verb == "get":
        w = (query.get("watch") or [""])[0].lower()
        verb = "watch" if w in ("true", "1") else "list"
    if not info["name"] and verb == "delete":
        verb = "deletecollection"
    info["verb"] = verb
    return info


class Req:
    def __init__(self, method, path, query, headers, body, ident):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.ident = ident
        ct = headers.get("Content-Type") or ""
        self.content_type_full = ct
        self.content_type = ct.split(";")[0].strip().lower()
        self.info = None
        self.decoded = None
        self.decode_error = None
        self.validation = {"ok": None}
        self.schema = None  # the target schema of the body
        self.template = None
        self.body_kind = None  # "object", "merge", "smp", "json-patch", "apply", None

    def q1(self, name, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def fail_validation(self, errors, category="schema"):
        v = self.validation
        v["ok"] = False
        v.setdefault("errors", []).extend(errors)
        cats = v.setdefault("categories", [])
        if category not in cats:
            cats.append(category)




def validate_request(state, req):
    """Finds the body schema of the request in `paths` and validates the body against it."""
    if not req.body:
        return
    tmpl, item = state.paths.find(req.path)
    req.template = tmpl
    v = req.validation
    if tmpl is None:
        v.update(ok=None, note="no path template in the OpenAPI document")
        return
    body_schema, resp_schema, consumes = state.paths.body_schema(item, req.method)
    v["template"] = tmpl
    if req.method == "PATCH":
        target = resp_schema
        ptype = req.content_type
        kinds = {PATCH_MERGE: "merge", PATCH_SMP: "smp", PATCH_JSON: "json-patch",
                 PATCH_APPLY: "apply"}
        if ptype not in kinds:
            v.update(ok=None, note="unsupported patch content type")
            return
        req.body_kind = kinds[ptype]
        req.schema = target
    else:
        if body_schema is None:
            v.update(ok=None, note="no body parameter for this method")
            return
        if req.content_type and req.content_type not in ("application/json", "application/yaml",
                                                         "*/*"):
            v.update(ok=None, note="non-JSON content type")
            return
        req.body_kind = "object"
        req.schema = body_schema
    _, name = state.validator.resolve(req.schema or {})
    v["schema"] = name or "(inline)"
    v["mode"] = req.body_kind
    try:
        req.decoded, dups = decode_json(req.body)
    except (ValueError, UnicodeDecodeError) as e:
        req.decode_error = str(e)
        req.fail_validation([ferr("FieldValueInvalid", "", "undecodable JSON: %s" % e)],
                            "decode")
        return
    errs = [f_duplicate(d) for d in dups]
    if req.body_kind == "json-patch":
        errs += state.validator.validate_json_patch(req.decoded, req.schema)
    else:
        mode = {"object": "full", "merge": "partial", "smp": "smp", "apply": "apply"}[
            req.body_kind]
        if not isinstance(req.decoded, dict):
            errs.append(f_type("", req.decoded, "expected a JSON object"))
        else:
            errs += state.validator.validate(req.decoded, req.schema, mode)
    if errs:
        req.fail_validation(errs)
    else:
        v["ok"] = True


def fields_v1(obj):
    def walk(x):
        if isinstance(x, dict):
            return {"f:" + k: walk(v) for k, v in x.items()}
        return {}
    out = {}
    md = obj.get("metadata") or {}
    mdf = {}
    for k in ("labels", "annotations"):
        if isinstance(md.get(k), dict) and md[k]:
            mdf["f:" + k] = walk(md[k])
    if mdf:
        out["f:metadata"] = mdf
    for k, v in obj.items():
        if k not in ("apiVersion", "kind", "metadata", "status"):
            out["f:" + k] = walk(v)
    return out


class Api:
    def __init__(self, state, port_ref):
        self.s = state
        self.port_ref = port_ref

    # -- helpers -------------------------------------------------------------------------------
    def manager(self, req):
        fm = req.q1("fieldManager")
        if fm:
            return fm
        ua = req.headers.get("User-Agent") or ""
        return ua.split("/")[0] if ua else "unknown"

    def set_managed(self, req, obj, old, operation="Update", sub="", view=None):
        md = obj.setdefault("metadata", {})
        mf = [e for e in (old or {}).get("metadata", {}).get("managedFields", []) or []
              if not (e.get("manager") == self.manager(req) and e.get("operation") == operation
                      and e.get("subresource", "") == sub)]
        entry = {"manager": self.manager(req), "operation": operation,
                 "apiVersion": obj.get("apiVersion"), "time": now_rfc3339(),
                 "fieldsType": "FieldsV1", "fieldsV1": fields_v1(view if view else obj)}
        if sub:
            entry["subresource"] = sub
        mf.append(entry)
        md["managedFields"] = mf

    def dry_run(self, req):
        vals = req.query.get("dryRun") or []
        for v in vals:
            if v != "All":
                return None, err_bad_request("dryRun: Unsupported value: %s: supported values: "
                                             "\"All\"" % go_quote(v))
        return bool(vals), None

    def out(self, rt, obj):
        return order_object(copy.deepcopy(obj))

    def scale_view(self, rt, obj):
        sc = rt.scale
        md = obj.get("metadata", {})
        spec_r = get_path(obj, sc["specReplicasPath"])
        status_r = get_path(obj, sc["statusReplicasPath"])
        if sc.get("labelSelectorPath"):
            sel = get_path(obj, sc["labelSelectorPath"])
        elif not rt.custom:
            sel = selector_to_string(get_path(obj, ".spec.selector"))
        else:
            sel = None
        smd = {}
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
            if md.get(k) not in (None, ""):
                smd[k] = md[k]
        spec = {}
        if isinstance(spec_r, int) and spec_r != 0:
            spec["replicas"] = spec_r  # ScaleSpec.replicas is omitempty
        status = {"replicas": status_r if isinstance(status_r, int) else 0}
        if isinstance(sel, str) and sel:
            status["selector"] = sel
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": smd, "spec": spec,
                "status": status}

    def body_error(self, req, rt, name):
        """The answer to a body that failed decoding or validation, or None."""
        if req.decode_error is not None:
            return err_bad_request("error decoding request body: %s" % req.decode_error)
        v = req.validation
        if v.get("ok") is False:
            errs = v.get("errors", [])
            _, sname = self.s.validator.resolve(req.schema or {})
            kind = rt.kind if rt else "Object"
            group = rt.group if rt else ""
            if sname == SCALE_DEF:
                kind, group = "Scale", "autoscaling"
            return err_invalid(group, kind, name, errs)
        return None

    # -- dispatch ------------------------------------------------------------------------------
    def handle(self, req):
        info = req.info
        if not info["resourceRequest"]:
            return self.non_resource(req)
        rt = self.s.type_for(info["apiGroup"], info["apiVersion"], info["resource"])
        if rt is None or info["extra"]:
            return err_not_found_path()
        if rt.namespaced != bool(info["namespace"]) and info["name"]:
            return err_not_found_path()
        sub = info["subresource"]
        if sub and not ((sub == "scale" and rt.scale) or (sub == "status" and rt.status)):
            return err_not_found_path()
        verb = info["verb"]
        if verb == "watch":
            return 405, status_body(405, "MethodNotAllowed", "the fake API server does not "
                                    "implement watch", {})
        if verb == "list":
            return self.list(req, rt)
        if verb == "get":
            return self.get(req, rt)
        if verb == "create":
            if info["name"]:
                return err_method_not_allowed()
            return self.create(req, rt)
        if verb == "update":
            return self.update(req, rt)
        if verb == "patch":
            return self.patch(req, rt)
        if verb == "delete":
            if sub:
                return err_method_not_allowed()
            return self.delete(req, rt)
        if verb == "deletecollection":
            return self.delete_collection(req, rt)
        return err_method_not_allowed()

    # -- non-resource paths --------------------------------------------------------------------
    def non_resource(self, req):
        p = req.path.rstrip("/") or "/"
        if req.method != "GET":
            return err_not_found_path() if p not in ("/version",) else err_method_not_allowed()
        if p in ("/healthz", "/livez", "/readyz"):
            return 200, b"ok", [], "text/plain; charset=utf-8"
        if p == "/version":
            return 200, {"major": "1", "minor": "34", "emulationMajor": "1",
                         "emulationMinor": "34", "minCompatibilityMajor": "1",
                         "minCompatibilityMinor": "33", "gitVersion": "v1.34.0-fake",
                         "gitCommit": "0" * 40, "gitTreeState": "clean",
                         "buildDate": "2025-08-27T00:00:00Z", "goVersion": "go1.24.6",
                         "compiler": "gc", "platform": "linux/amd64"}
        if p == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"],
                         "serverAddressByClientCIDRs": [{
                             "clientCIDR": "0.0.0.0/0",
                             "serverAddress": "127.0.0.1:%d" % self.port_ref[0]}]}
        if p == "/apis":
            groups = {}
            for rt in self.s.types.values():
                if rt.group:
                    groups.setdefault(rt.group, set()).add(rt.version)
            out = []
            for g in sorted(groups):
                vs = sorted(groups[g])
                gvs = [{"groupVersion": g + "/" + v, "version": v} for v in vs]
                out.append({"name": g, "versions": gvs, "preferredVersion": gvs[0]})
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}
        m = re.match(r"^/api/(v1)$", p) or re.match(r"^/apis/([^/]+/[^/]+)$", p)
        if m:
            gv = m.group(1)
            res = []
            for rt in sorted(self.s.types.values(), key=lambda r: r.resource):
                if rt.api_version != gv:
                    continue
                res.append({"name": rt.resource, "singularName": rt.singular,
                            "namespaced": rt.namespaced, "kind": rt.kind, "verbs": rt.verbs,
                            **({"shortNames": rt.short_names} if rt.short_names else {})})
                if rt.scale:
                    res.append({"name": rt.resource + "/scale", "singularName": "",
                                "namespaced": rt.namespaced, "group": "autoscaling",
                                "version": "v1", "kind": "Scale",
                                "verbs": ["get", "patch", "update"]})
                if rt.status:
                    res.append({"name": rt.resource + "/status", "singularName": "",
                                "namespaced": rt.namespaced, "kind": rt.kind,
                                "verbs": ["get", "patch", "update"]})
            if not res:
                return err_not_found_path()
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
                         "resources": res}
        return err_not_found_path()

    # -- read ----------------------------------------------------------------------------------
    def get(self, req, rt):
        info = req.info
        with self.s.lock:
            obj = self.s.objects.get(self.s.key(rt, info["namespace"], info["name"]))
            obj = copy.deepcopy(obj)
        if obj is None:
            return err_not_found(rt.group, rt.resource, info["name"])
        if info["subresource"] == "scale":
            return 200, self.scale_view(rt, obj)
        return 200, self.out(rt, obj)

    def list(self, req, rt):
        info = req.info
        try:
            lsel = parse_label_selector(req.q1("labelSelector", ""))
            allowed = POD_FIELDS if rt.resource == "pods" else (
                EVENT_FIELDS if rt.resource == "events" else {"metadata.name",
                                                              "metadata.namespace"})
            fsel = parse_field_selector(req.q1("fieldSelector", ""), allowed)
        except SelectorError as e:
            return err_bad_request(str(e))
        limit = req.q1("limit")
        cont = req.q1("continue")
        try:
            limit = int(limit) if limit else 0
        except ValueError:
            return err_bad_request("limit: Invalid value: %s" % go_quote(limit))
        start = None
        if cont:
            try:
                c = json.loads(base64.urlsafe_b64decode(cont.encode() + b"==").decode())
                start = tuple(c["start"])
            except (ValueError, KeyError, TypeError):
                return err_bad_request("continue key is not valid: %s" % cont)
        with self.s.lock:
            rv = str(self.s.rv)
            items = []
            for k in sorted(self.s.objects):
                g, r, ns, name = k
                if (g, r) != (rt.group, rt.resource):
                    continue
                if info["namespace"] and ns != info["namespace"]:
                    continue
                if start is not None and (ns, name) <= start:
                    continue
                o = self.s.objects[k]
                if not label_selector_matches(lsel, o.get("metadata", {}).get("labels")):
                    continue
                if not field_selector_matches(fsel, o):
                    continue
                items.append(copy.deepcopy(o))
        meta = {"resourceVersion": rv}
        if limit > 0 and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            last = items[-1]["metadata"]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": int(rv), "start": [
                    last.get("namespace", ""), last["name"]]}).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = rest
        out_items = []
        for o in items:
            o = order_object(o)
            if not rt.custom:  # typed lists do not repeat kind/apiVersion per item
                o.pop("kind", None)
                o.pop("apiVersion", None)
            out_items.append(o)
        return 200, {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta,
                     "items": out_items}

    # -- semantic validation -------------------------------------------------------------------
    def name_errors(self, obj):
        md = obj.get("metadata") or {}
        name = md.get("name")
        if not name:
            if md.get("generateName"):
                return []
            return [f_required("metadata.name", "name or generateName is required")]
        if len(name) > 253 or not RE_DNS1123_SUBDOMAIN.match(name):
            return [f_invalid("metadata.name", name, DNS1123_SUBDOMAIN_MSG)]
        return []

    def event_errors(self, rt, obj, ns):
        """ValidateEventCreate of pkg/apis/core/validation/events.go."""
        errs = []
        v1 = rt.group == ""
        get = lambda k: obj.get(k)  # noqa
        ref = obj.get("involvedObject" if v1 else "regarding") or {}
        ref_name = "involvedObject" if v1 else "regarding"
        rc_field = "reportingComponent" if v1 else "reportingController"
        rc = get(rc_field) or ""
        msg_field = "message" if v1 else "note"
        event_time = get("eventTime")
        if not event_time:
            if not ref.get("namespace"):
                if ns not in ("", "default"):
                    errs.append(f_invalid(ref_name + ".namespace", ref.get("namespace", ""),
                                          "does not match event.namespace"))
            elif ns != ref.get("namespace"):
                errs.append(f_invalid(ref_name + ".namespace", ref.get("namespace"),
                                      "does not match event.namespace"))
        else:
            if not ref.get("namespace") and ns not in ("default", "kube-system"):
                errs.append(f_invalid(ref_name + ".namespace", ref.get("namespace", ""),
                                      "does not match event.namespace"))
            if not rc:
                errs.append(f_required(rc_field))
            else:
                parts = rc.split("/")
                if len(parts) > 2 or not RE_QNAME_NAME.match(parts[-1]) or \
                        len(parts[-1]) > 63 or (len(parts) == 2 and (
                            not RE_DNS1123_SUBDOMAIN.match(parts[0]) or len(parts[0]) > 253)):
                    errs.append(f_invalid(rc_field, rc, "name part must consist of "
                                          "alphanumeric characters, '-', '_' or '.', and must "
                                          "start and end with an alphanumeric character"))
            ri = get("reportingInstance") or ""
            if not ri:
                errs.append(f_required("reportingInstance"))
            elif len(ri) > 128:
                errs.append(f_invalid("reportingInstance", "", "can have at most 128 "
                                      "characters"))
            for f in ("action", "reason"):
                val = get(f) or ""
                if not val:
                    errs.append(f_required(f))
                elif len(val) > 128:
                    errs.append(f_invalid(f, "", "can have at most 128 characters"))
            if len(get(msg_field) or "") > 1024:
                errs.append(f_invalid(msg_field, "", "can have at most 1024 characters"))
        if not v1:
            if not event_time:
                errs.append(f_required("eventTime"))
            if get("type") not in ("Normal", "Warning"):
                errs.append(f_invalid("type", "", "has invalid value: %s" % (get("type") or "")))
            for f in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
                if get(f):
                    errs.append(f_invalid(f, "", "needs to be unset"))
            if get("deprecatedCount"):
                errs.append(f_invalid("deprecatedCount", "", "needs to be unset"))
            src = get("deprecatedSource") or {}
            if src.get("component") or src.get("host"):
                errs.append(f_invalid("deprecatedSource", "", "needs to be unset"))
            series = get("series")
            if series is not None and isinstance(series, dict):
                if (series.get("count") or 0) < 2:
                    errs.append(f_invalid("series.count", "", "should be at least 2"))
                if not series.get("lastObservedTime"):
                    errs.append(f_required("series.lastObservedTime"))
        return errs

    def value_errors(self, rt, sub, obj):
        """Value rules of the real validation (not counted as body validation failures)."""
        errs = []
        if sub == "scale":
            r = get_path(obj, ".spec.replicas")
            if isinstance(r, int) and r < 0:
                errs.append(f_invalid("spec.replicas", r, "must be greater than or equal to 0"))
            return errs
        if rt.scale and not rt.custom and sub == "":
            r = get_path(obj, ".spec.replicas")
            if isinstance(r, int) and r < 0:
                errs.append(f_invalid("spec.replicas", r, "must be greater than or equal to 0"))
        if rt.resource == "leases":
            d = get_path(obj, ".spec.leaseDurationSeconds")
            if isinstance(d, int) and d <= 0:
                errs.append(f_invalid("spec.leaseDurationSeconds", d, "must be greater than 0"))
            t = get_path(obj, ".spec.leaseTransitions")
            if isinstance(t, int) and t < 0:
                errs.append(f_invalid("spec.leaseTransitions", t,
                                      "must be greater than or equal to 0"))
        return errs

    def invalid_kind(self, rt, sub):
        return ("autoscaling", "Scale") if sub == "scale" else (rt.group, rt.kind)

    # -- create --------------------------------------------------------------------------------
    def check_body_media(self, req, rt):
        if req.content_type in ("", "application/json", "*/*"):
            return None
        if req.content_type == "application/yaml":
            return None  # JSON is YAML; a non-JSON body is reported as undecodable
        accepted = ["application/json", "application/yaml"]
        if not rt.custom:
            accepted.append("application/vnd.kubernetes.protobuf")
        return err_unsupported_media(accepted)

    def create(self, req, rt):
        info = req.info
        e = self.check_body_media(req, rt)
        if e:
            return e
        dry, e = self.dry_run(req)
        if e:
            return e
        if not req.body:
            return err_bad_request("the body of the request was empty")
        obj = req.decoded
        e = self.body_error(req, rt, (obj or {}).get("metadata", {}).get("name", "")
                            if isinstance(obj, dict) else "")
        if e:
            return e
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        ns = info["namespace"]
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != ns:
                return err_bad_request("the namespace of the provided object does not match "
                                       "the namespace sent on the request")
            md["namespace"] = ns
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + "".join(
                secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        counted = self.name_errors(obj)
        if rt.resource == "events":
            counted += self.event_errors(rt, obj, ns)
        if counted:
            req.fail_validation(counted, "semantic")
            return err_invalid(rt.group, rt.kind, md.get("name", ""), counted)
        if md.get("resourceVersion"):
            req.fail_validation([f_invalid("metadata.resourceVersion", md["resourceVersion"],
                                           "must not be set on create")], "semantic")
            return err_internal("resourceVersion should not be set on objects to be created")
        verrs = self.value_errors(rt, "", obj)
        if verrs:
            return err_invalid(rt.group, rt.kind, md["name"], verrs)
        for k in ("uid", "creationTimestamp", "generation", "managedFields",
                  "deletionTimestamp"):
            md.pop(k, None)
        if rt.status and rt.resource != "pods":
            obj.pop("status", None)
        with self.s.lock:
            k = self.s.key(rt, ns, md["name"])
            if k in self.s.objects:
                return err_already_exists(rt.group, rt.resource, md["name"])
            self.set_managed(req, obj, None)
            if dry:
                saved_rv = self.s.rv
                new = self.s.prepare_new(rt, obj)
                self.s.rv = saved_rv
                new["metadata"].pop("resourceVersion", None)  # nothing was stored
                return 201, self.out(rt, new)
            new = self.s.prepare_new(rt, obj)
            self.s.objects[k] = new
            return 201, self.out(rt, new)

    # -- update and patch ----------------------------------------------------------------------
    def apply_view(self, rt, sub, old, new_view):
        """Builds the stored object from the written view (whole object, status or scale)."""
        obj = copy.deepcopy(old)
        if sub == "scale":
            r = get_path(new_view, ".spec.replicas")
            set_path(obj, rt.scale["specReplicasPath"], r if isinstance(r, int) else 0)
            return obj
        if sub == "status":
            if "status" in new_view:
                obj["status"] = copy.deepcopy(new_view["status"])
            else:
                obj.pop("status", None)
            return obj
        new = copy.deepcopy(new_view)
        nmd = new.setdefault("metadata", {})
        omd = old.get("metadata", {})
        for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace",
                  "name"):
            if k in omd:
                nmd[k] = omd[k]
            else:
                nmd.pop(k, None)
        nmd.pop("managedFields", None)
        if "managedFields" in omd:
            nmd["managedFields"] = omd["managedFields"]
        if rt.status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        if rt.resource in ("deployments", "statefulsets", "replicasets") and \
                isinstance(new.get("spec"), dict) and new["spec"].get("replicas") is None:
            new["spec"]["replicas"] = 1
        return new

    @staticmethod
    def _comparable(o):
        o = copy.deepcopy(o)
        md = o.get("metadata", {})
        md.pop("resourceVersion", None)
        md.pop("managedFields", None)
        return o

    def write(self, req, rt, sub, old, new_view, requested_rv, dry, created=False):
        """Common tail of PUT and PATCH: conflict, validation, no-op detection, storing."""
        info = req.info
        name = info["name"]
        md = old.get("metadata", {})
        vmd = new_view.get("metadata") if isinstance(new_view.get("metadata"), dict) else {}
        if vmd.get("name") and vmd["name"] != name:
            return err_bad_request("the name of the object (%s) does not match the name on the "
                                   "URL (%s)" % (vmd["name"], name))
        if rt.namespaced and vmd.get("namespace") and vmd["namespace"] != info["namespace"]:
            return err_bad_request("the namespace of the provided object does not match the "
                                   "namespace sent on the request")
        if vmd.get("uid") and vmd["uid"] != md.get("uid"):
            return err_conflict(rt.group, rt.resource, name, "Precondition failed: UID in "
                                "precondition: %s, UID in object meta: %s" % (
                                    vmd["uid"], md.get("uid")))
        if requested_rv not in (None, "") and str(requested_rv) != md.get("resourceVersion"):
            return err_conflict(rt.group, rt.resource, name)
        verrs = self.value_errors(rt, sub, new_view)
        if verrs:
            g, k = self.invalid_kind(rt, sub)
            return err_invalid(g, k, name, verrs)
        new = self.apply_view(rt, sub, old, new_view)
        if self._comparable(new) == self._comparable(old):
            view = self.scale_view(rt, old) if sub == "scale" else self.out(rt, old)
            return 200, view
        if rt.generation and old.get("spec") != new.get("spec"):
            new["metadata"]["generation"] = int(md.get("generation") or 1) + 1
        op = "Apply" if req.body_kind == "apply" else "Update"
        self.set_managed(req, new, old, op, sub,
                         {"spec": new_view.get("spec") or {}} if sub == "scale" else None)
        if dry:
            new["metadata"]["resourceVersion"] = md.get("resourceVersion")
        else:
            new["metadata"]["resourceVersion"] = self.s.next_rv()
            self.s.objects[self.s.key(rt, info["namespace"], name)] = order_object(new)
        view = self.scale_view(rt, new) if sub == "scale" else self.out(rt, new)
        return 200, view

    def update(self, req, rt):
        info = req.info
        sub = info["subresource"]
        e = self.check_body_media(req, rt)
        if e:
            return e
        dry, e = self.dry_run(req)
        if e:
            return e
        if not req.body:
            return err_bad_request("the body of the request was empty")
        e = self.body_error(req, rt, info["name"])
        if e:
            return e
        body = copy.deepcopy(req.decoded)
        bmd = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        with self.s.lock:
            old = self.s.objects.get(self.s.key(rt, info["namespace"], info["name"]))
            if old is None:
                if sub or not rt.create_on_update or bmd.get("resourceVersion"):
                    return err_not_found(rt.group, rt.resource, info["name"])
                # create on update (leases and events allow it)
                bmd = body.setdefault("metadata", {})
                if bmd.get("name") and bmd["name"] != info["name"]:
                    return err_bad_request("the name of the object (%s) does not match the "
                                           "name on the URL (%s)" % (bmd["name"], info["name"]))
                bmd["name"] = info["name"]
                bmd["namespace"] = info["namespace"]
                counted = self.name_errors(body)
                if rt.resource == "events":
                    counted += self.event_errors(rt, body, info["namespace"])
                if counted:
                    req.fail_validation(counted, "semantic")
                    return err_invalid(rt.group, rt.kind, info["name"], counted)
                verrs = self.value_errors(rt, "", body)
                if verrs:
                    return err_invalid(rt.group, rt.kind, info["name"], verrs)
                self.set_managed(req, body, None)
                new = self.s.prepare_new(rt, body)
                if not dry:
                    self.s.objects[self.s.key(rt, info["namespace"], info["name"])] = new
                return 201, self.out(rt, new)
            return self.write(req, rt, sub, old, body, bmd.get("resourceVersion"), dry)

    def patch(self, req, rt):
        info = req.info
        sub = info["subresource"]
        tmpl, item = self.s.paths.find(req.path)
        consumes = None
        if item:
            consumes = self.s.paths.body_schema(item, "PATCH")[2]
        accepted = [c for c in (consumes or [PATCH_JSON, PATCH_MERGE, PATCH_SMP, PATCH_APPLY])
                    if c != PATCH_APPLY_CBOR]  # CBOR is an alpha feature, off in 1.34
        if rt.custom:
            accepted = [c for c in accepted if c != PATCH_SMP]
        if req.content_type not in accepted:
            return err_unsupported_media(accepted)
        dry, e = self.dry_run(req)
        if e:
            return e
        if req.body_kind == "apply" and not req.q1("fieldManager"):
            return err_bad_request("PATCH, application/apply-patch+yaml requires fieldManager "
                                   "parameter")
        if req.decode_error is not None and req.body_kind == "apply":
            return err_bad_request("error decoding YAML: the fake API server accepts only the "
                                   "JSON subset of YAML: %s" % req.decode_error)
        if not req.body:
            return err_bad_request("the body of the request was empty")
        e = self.body_error(req, rt, info["name"])
        if e:
            return e
        with self.s.lock:
            old = self.s.objects.get(self.s.key(rt, info["namespace"], info["name"]))
            if old is None:
                if req.body_kind == "apply" and not sub:
                    body = copy.deepcopy(req.decoded)
                    body.setdefault("metadata", {})["namespace"] = info["namespace"]
                    body["metadata"]["name"] = info["name"]
                    verrs = self.value_errors(rt, "", body)
                    if verrs:
                        return err_invalid(rt.group, rt.kind, info["name"], verrs)
                    self.set_managed(req, body, None, "Apply")
                    new = self.s.prepare_new(rt, body)
                    if not dry:
                        self.s.objects[self.s.key(rt, info["namespace"], info["name"])] = new
                    return 201, self.out(rt, new)
                return err_not_found(rt.group, rt.resource, info["name"])
            cur = self.scale_view(rt, old) if sub == "scale" else order_object(
                copy.deepcopy(old))
            try:
                if req.body_kind == "json-patch":
                    new_view = json_patch(cur, req.decoded)
                elif req.body_kind == "smp":
                    new_view = strategic_merge_patch(cur, req.decoded, req.schema,
                                                     self.s.validator)
                else:
                    new_view = merge_patch(cur, req.decoded)
            except PatchError as pe:
                return err_generic_422(str(pe))
            if not isinstance(new_view, dict):
                return err_generic_422("the patched object is not an object")
            errs = self.s.validator.validate(new_view, req.schema, "full")
            if errs:
                g, k = self.invalid_kind(rt, sub)
                return err_invalid(g, k, info["name"], errs)
            nmd = new_view.get("metadata") if isinstance(new_view.get("metadata"), dict) else {}
            requested = nmd.get("resourceVersion")
            if req.body_kind == "apply":
                requested = (req.decoded.get("metadata") or {}).get("resourceVersion")
            return self.write(req, rt, sub, old, new_view, requested, dry)

    # -- delete --------------------------------------------------------------------------------
    def delete(self, req, rt):
        info = req.info
        dry, e = self.dry_run(req)
        if e:
            return e
        opts = {}
        if req.body:
            e = self.body_error(req, rt, info["name"])
            if e:
                return e
            opts = req.decoded if isinstance(req.decoded, dict) else {}
            if "All" in (opts.get("dryRun") or []):
                dry = True
        with self.s.lock:
            k = self.s.key(rt, info["namespace"], info["name"])
            old = self.s.objects.get(k)
            if old is None:
                return err_not_found(rt.group, rt.resource, info["name"])
            pre = opts.get("preconditions") or {}
            md = old["metadata"]
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                return err_conflict(rt.group, rt.resource, info["name"], "Precondition failed: "
                                    "UID in precondition: %s, UID in object meta: %s" % (
                                        pre["uid"], md.get("uid")))
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get(
                    "resourceVersion"):
                return err_conflict(rt.group, rt.resource, info["name"], "Precondition failed: "
                                    "ResourceVersion in precondition: %s, ResourceVersion in "
                                    "object meta: %s" % (pre["resourceVersion"],
                                                         md.get("resourceVersion")))
            if not dry:
                del self.s.objects[k]
                self.s.next_rv()
        if rt.return_object_on_delete:
            return 200, self.out(rt, old)
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Success", "details": _details(
                         info["name"], rt.group, rt.resource, uid=md.get("uid"))}

    def delete_collection(self, req, rt):
        info = req.info
        dry, e = self.dry_run(req)
        if e:
            return e
        try:
            lsel = parse_label_selector(req.q1("labelSelector", ""))
        except SelectorError as e:
            return err_bad_request(str(e))
        with self.s.lock:
            gone = []
            for k in sorted(self.s.objects):
                g, r, ns, name = k
                if (g, r) != (rt.group, rt.resource):
                    continue
                if info["namespace"] and ns != info["namespace"]:
                    continue
                o = self.s.objects[k]
                if label_selector_matches(lsel, o.get("metadata", {}).get("labels")):
                    gone.append(o)
                    if not dry:
                        del self.s.objects[k]
                        self.s.next_rv()
            rv = str(self.s.rv)
        items = []
        for o in gone:
            o = order_object(copy.deepcopy(o))
            if not rt.custom:
                o.pop("kind", None)
                o.pop("apiVersion", None)
            items.append(o)
        return 200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                     "metadata": {"resourceVersion": rv}, "items": items}


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

class BodyTooLarge(Exception):
    pass


def _load_plaintext_429(shared_dir):
    """The fixture http_429_maxinflight_plaintext.http -> (headers, body)."""
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "1"),
               ("X-Content-Type-Options", "nosniff")]
    body = b"Too many requests, please try again later.\n"
    p = os.path.join(shared_dir, "fixtures", "kubernetes", "http_429_maxinflight_plaintext.http")
    try:
        with open(p, "rb") as f:
            raw = f.read()
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")[1:]
        headers = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines if ":" in ln]
    except OSError:
        pass
    return headers, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this
    server_version = "fake-apiserver"

    # Silence the default access log; our own goes to stderr (unless --quiet).
    def log_message(self, fmt, *args):
        pass

    def log_error(self, fmt, *args):
        log("http: " + (fmt % args))

    @property
    def st(self):
        return self.server.state

    # -- low level ----------------------------------------------------------------------------
    def read_body(self):
        limit = self.server.max_body
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("eof in chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > limit:
                    raise BodyTooLarge()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        cl = self.headers.get("Content-Length")
        if not cl:
            return b""
        n = int(cl)
        if n < 0:
            raise ValueError("negative Content-Length")
        if n > limit:
            raise BodyTooLarge()
        data = self.rfile.read(n)
        if len(data) != n:
            raise ConnectionError("short body")
        return data

    def raw_response(self, status, body, headers, content_type, truncate=False,
                     reason=None, chunk=None):
        lines = ["HTTP/1.1 %d %s" % (status, reason or HTTP_TEXT.get(status, "Unknown"))]
        hdrs = []
        if content_type:
            hdrs.append(("Audit-Id", str(uuid.uuid4())))
            hdrs.append(("Cache-Control", "no-cache, private"))
            hdrs.append(("Content-Type", content_type))
        hdrs.extend(headers)
        hdrs.append(("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))
        if chunk is None:
            chunk = (self.server.chunked and len(body) > CHUNK_THRESHOLD and
                     self.request_version == "HTTP/1.1" and not truncate)
        if truncate:
            hdrs.append(("Content-Length", str(len(body) + max(16, len(body) // 2))))
            body = body[:max(1, len(body) // 2)]
        elif chunk:
            hdrs.append(("Transfer-Encoding", "chunked"))
            out = b""
            for i in range(0, len(body), 4096):
                part = body[i:i + 4096]
                out += b"%x\r\n%s\r\n" % (len(part), part)
            body = out + b"0\r\n\r\n"
        else:
            hdrs.append(("Content-Length", str(len(body))))
        if self.close_connection and not truncate:
            hdrs.append(("Connection", "close"))
        for k, v in hdrs:
            lines.append("%s: %s" % (k, v))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self.wfile.write(data)
        self.wfile.flush()

    def kube_response(self, status, payload, extra_headers=(), ctype=None, truncate=False):
        pretty = (self.req_query.get("pretty") or [""])[0] in ("true", "1")
        if isinstance(payload, (bytes, bytearray)):
            body = bytes(payload)
            ctype = ctype or "application/octet-stream"
        else:
            body = dumps(payload, pretty)
            ctype = ctype or "application/json"
        headers = list(extra_headers)
        if status < 500 and status != 401:
            headers.append(("X-Kubernetes-Pf-Flowschema-Uid", self.st.flowschema_uid))
            headers.append(("X-Kubernetes-Pf-Prioritylevel-Uid", self.st.prioritylevel_uid))
        if isinstance(payload, dict) and payload.get("kind") == "Status":
            headers.append(("X-Content-Type-Options", "nosniff"))
        self.raw_response(status, body, headers, ctype, truncate=truncate)
        return body

    def hard_close(self):
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    # -- identity ------------------------------------------------------------------------------
    def identify(self):
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            try:
                cert = conn.getpeercert()
            except (ValueError, OSError):
                cert = None
            if cert:
                issuer = dict(x[0] for x in cert.get("issuer", ()))
                if issuer.get("commonName") == self.st.ca_cn:
                    cn, groups = None, []
                    for rdn in cert.get("subject", ()):
                        for k, v in rdn:
                            if k == "commonName":
                                cn = v
                            elif k == "organizationName":
                                groups.append(v)
                    if cn:
                        return Identity(cn, implicit_groups(cn, groups), "clientCert")
        auth = self.headers.get("Authorization") or ""
        parts = auth.split(" ", 1)
        if len(parts) == 2 and parts[0].lower() == "bearer" and parts[1].strip():
            return self.st.authenticate_token(parts[1].strip())
        return None

    def is_admin(self):
        auth = self.headers.get("Authorization") or ""
        parts = auth.split(" ", 1)
        return len(parts) == 2 and parts[0].lower() == "bearer" and \
            secrets.compare_digest(parts[1].strip(), self.st.admin_token)

    # -- entry points --------------------------------------------------------------------------
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def dispatch(self):
        t0 = time.time()
        u = urlsplit(self.path)
        path = u.path or "/"
        self.req_query = parse_qs(u.query, keep_blank_values=True)
        method = self.command
        try:
            body = self.read_body()
        except BodyTooLarge:
            self.close_connection = True
            self.kube_response(413, status_body(413, "RequestEntityTooLarge",
                                                "Request entity too large: limit is %d"
                                                % self.server.max_body))
            self.log_request_entry(t0, method, path, u.query, b"", None, 413, None, None)
            return
        except (ValueError, ConnectionError):
            self.close_connection = True
            self.kube_response(400, status_body(400, "BadRequest", "unable to read the body "
                                                "of the request"))
            return
        if path == "/_fake" or path.startswith("/_fake/"):
            return self.control(method, path, body)

        req = Req(method, path, self.req_query, self.headers, body, None)
        req.info = request_info(method, path, self.req_query)
        try:
            validate_request(self.st, req)
        except Exception as e:  # a validator bug must not kill the request
            traceback.print_exc()
            req.validation = {"ok": None, "note": "validator error: %s" % e}

        fault = self.st.take_fault(method, path)
        status, fault_kind = None, None
        if fault:
            fault_kind = fault.kind
            if fault.delay_ms > 0:
                self.server.sleep(fault.delay_ms / 1000.0)
            if fault.kind == "drop":
                self.log_request_entry(t0, method, path, u.query, body, req, None, None,
                                       fault_kind)
                self.hard_close()
                return
            if fault.kind in ("429", "429-plaintext", "500", "status"):
                status = self.send_fault(fault)
                self.log_request_entry(t0, method, path, u.query, body, req, status, None,
                                       fault_kind)
                return
        try:
            status, payload, headers, ctype = self.process(req)
        except Exception as e:
            traceback.print_exc()
            status, payload = err_internal("fake apiserver bug: %s" % e)
            headers, ctype = [], None
        truncate = fault is not None and fault.kind == "truncate"
        try:
            self.kube_response(status, payload, headers, ctype, truncate=truncate)
            if truncate:
                self.hard_close()
        finally:  # logged even when the client went away during the answer
            self.log_request_entry(t0, method, path, u.query, body, req, status, req.ident,
                                   fault_kind)

    def process(self, req):
        """Authentication, authorization, then the API.  -> (status, payload, headers, ctype)"""
        ident = self.identify()
        req.ident = ident
        if ident is None:
            s, b = 401, status_body(401, "Unauthorized", "Unauthorized")
            return s, b, [], None
        info = req.info
        attrs = dict(info)
        if not info["resourceRequest"]:
            # /version, /healthz, discovery: granted to every authenticated user
            # (system:public-info-viewer, system:discovery); other paths need nonResourceURLs
            if not RE_PUBLIC_PATH.match(req.path) and not self.st.authorize(ident, attrs):
                return (403, forbidden_body(ident, info), [], None)
            return _norm(self.server.api.handle(req))
        if not self.st.authorize(ident, attrs):
            return (403, forbidden_body(ident, info), [], None)
        return _norm(self.server.api.handle(req))

    def send_fault(self, fault):
        if fault.kind == "429":
            ra = str(fault.retry_after)
            body = fault.body or status_body(
                429, "TooManyRequests", fault.message or
                "Too many requests, please try again later.",
                {"retryAfterSeconds": int(fault.retry_after)})
            self.kube_response(429, body, [("Retry-After", ra)])
            return 429
        if fault.kind == "429-plaintext":
            headers, body = self.server.plain_429
            hdrs = [(k, v) for k, v in headers if k.lower() != "content-type"]
            if fault.raw.get("retryAfter") is not None:
                hdrs = [(k, v) if k.lower() != "retry-after" else (k, str(fault.retry_after))
                        for k, v in hdrs]
            ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "text/plain")
            self._plain(429, body, hdrs, ctype)
            return 429
        if fault.kind == "500":
            msg = fault.message or "fake fault injected"
            code = fault.code if fault.raw.get("code") else 500
            body = fault.body or status_body(code, REASONS.get(code, "InternalError"),
                                             "Internal error occurred: " + msg,
                                             {"causes": [{"message": msg}]})
            self.kube_response(code, body)
            return code
        code = fault.code
        reason = REASONS.get(code, "Unknown")
        body = fault.body or status_body(code, reason, fault.message or
                                         "fake fault: %d %s" % (code, reason))
        hdrs = []
        if fault.raw.get("retryAfter") is not None:
            hdrs.append(("Retry-After", str(fault.retry_after)))
        self.kube_response(code, body, hdrs)
        return code

    def _plain(self, status, body, headers, ctype):
        lines = ["HTTP/1.1 %d %s" % (status, HTTP_TEXT.get(status, "Unknown")),
                 "Content-Type: " + ctype]
        lines += ["%s: %s" % (k, v) for k, v in headers]
        lines.append("Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
        lines.append("Content-Length: %d" % len(body))
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        self.wfile.flush()

    def log_request_entry(self, t0, method, path, rawq, body, req, status, ident, fault_kind):
        if req is not None and req.decoded is not None:
            logged_body = req.decoded
        elif body:
            logged_body = body[:LOG_BODY_LIMIT].decode("utf-8", "replace")
        else:
            logged_body = None
        entry = {
            "time": now_micro(), "unixTime": t0, "method": method, "path": path,
            "query": {k: v if len(v) != 1 else v[0] for k, v in parse_qs(
                rawq, keep_blank_values=True).items()},
            "rawQuery": rawq,
            "contentType": self.headers.get("Content-Type"),
            "userAgent": self.headers.get("User-Agent"),
            "identity": ident.to_json() if ident else None,
            "verb": req.info["verb"] if req and req.info else None,
            "body": logged_body, "status": status,
            "validation": req.validation if req else {"ok": None},
            "fault": fault_kind, "durationMs": round((time.time() - t0) * 1000, 3),
        }
        self.st.add_log(entry)
        v = entry["validation"]
        log("%s %s%s -> %s%s%s" % (method, path, "?" + rawq if rawq else "",
                                   status if status is not None else "dropped",
                                   " [fault %s]" % fault_kind if fault_kind else "",
                                   " [VALIDATION FAILED: %s]" % "; ".join(
                                       field_error_text(e) for e in v.get("errors", []))
                                   if v.get("ok") is False else ""))

    # -- control API ---------------------------------------------------------------------------
    def control(self, method, path, body):
        if not self.is_admin():
            self.kube_response(401, status_body(401, "Unauthorized", "Unauthorized"))
            return
        st = self.st
        q = {k: v[-1] for k, v in self.req_query.items()}
        try:
            data = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError) as e:
            self.kube_response(400, status_body(400, "BadRequest", "invalid JSON: %s" % e))
            return
        sub = path[len("/_fake"):].rstrip("/") or "/"
        truthy = lambda v: str(v).lower() in ("1", "true", "yes")  # noqa
        try:
            if sub == "/info" and method == "GET":
                return self.kube_response(200, self.server.ready_info)
            if sub == "/objects":
                if method == "PUT" or method == "POST":
                    status, res = st.put_objects(data if data is not None else [],
                                                 validate=not (q.get("validate") in (
                                                     "false", "0")),
                                                 keep_rv=truthy(q.get("keepResourceVersion")))
                    return self.kube_response(status, res)
                if method == "GET":
                    return self.kube_response(200, {"items": st.list_objects(q),
                                                    "resourceVersion": str(st.rv)})
                if method == "DELETE":
                    return self.kube_response(200, {"deleted": st.delete_objects(q)})
            if sub == "/log":
                if method == "GET":
                    since = int(q.get("since", "0"))
                    with st.lock:
                        entries = [copy.deepcopy(e) for e in st.log if e["seq"] > since]
                        vf = st.validation_failures
                    return self.kube_response(200, {"entries": entries,
                                                    "validationFailures": vf,
                                                    "lastSeq": st.log_seq})
                if method == "DELETE":
                    with st.lock:
                        n = len(st.log)
                        st.log = []
                        st.validation_failures = 0
                    return self.kube_response(200, {"deleted": n})
            if sub == "/validation-failures" and method == "GET":
                with st.lock:
                    fails = [copy.deepcopy(e) for e in st.log
                             if (e.get("validation") or {}).get("ok") is False]
                    return self.kube_response(200, {"count": st.validation_failures,
                                                    "total": st.validation_failures_total,
                                                    "failures": fails})
            if sub == "/faults":
                if method == "POST":
                    items = data if isinstance(data, list) else [data]
                    out = []
                    for d in items:
                        if not isinstance(d, dict):
                            raise ValueError("a fault must be an object")
                        out.append(st.add_fault(d).to_json())
                    return self.kube_response(200, {"faults": out})
                if method == "GET":
                    with st.lock:
                        return self.kube_response(200, {"faults": [
                            f.to_json() for f in st.faults]})
                if method == "DELETE":
                    with st.lock:
                        n = len(st.faults)
                        st.faults = []
                    return self.kube_response(200, {"deleted": n})
            if sub == "/config" and method in ("PUT", "POST"):
                if not isinstance(data, dict):
                    raise ValueError("the config must be a JSON object")
                res = st.apply_config(data, validate=not (q.get("validate") in ("false", "0")))
                with st.lock:
                    self.server.refresh_ready_info()
                return self.kube_response(200, res)
            if sub == "/shutdown" and method == "POST":
                self.close_connection = True
                self.kube_response(200, {"shuttingDown": True})
                self.server.request_shutdown("control API")
                return
        except (ValueError, KeyError, TypeError, re.error, RuntimeError) as e:
            return self.kube_response(400, status_body(400, "BadRequest", str(e)))
        self.kube_response(404, status_body(404, "NotFound", "no such control endpoint: %s %s"
                                            % (method, path), {}))


RE_PUBLIC_PATH = re.compile(r"^/(version|healthz|livez|readyz)(/.*)?$|^/apis?(/[^/]+){0,2}/?$")


def _norm(r):
    if len(r) == 2:
        return r[0], r[1], [], None
    if len(r) == 4:
        return r
    return r[0], r[1], r[2], None


def forbidden_body(ident, info):
    """responsewriters.Forbidden: the message of forbiddenMessage() in NewForbidden()."""
    if info["resourceRequest"]:
        res = info["resource"] + ("/" + info["subresource"] if info["subresource"] else "")
        if info["namespace"]:
            why = "User %s cannot %s resource %s in API group %s in the namespace %s" % (
                go_quote(ident.name), info["verb"], go_quote(res), go_quote(info["apiGroup"]),
                go_quote(info["namespace"]))
        else:
            why = "User %s cannot %s resource %s in API group %s at the cluster scope" % (
                go_quote(ident.name), info["verb"], go_quote(res), go_quote(info["apiGroup"]))
        qr = qualified_resource(info["apiGroup"], info["resource"])
        if info["name"]:
            msg = "%s %s is forbidden: %s" % (qr, go_quote(info["name"]), why)
        else:
            msg = "%s is forbidden: %s" % (qr, why)
        return status_body(403, "Forbidden", msg, _details(info["name"], info["apiGroup"],
                                                           info["resource"]))
    why = "User %s cannot %s path %s" % (go_quote(ident.name), info["verb"],
                                         go_quote(info["path"]))
    return status_body(403, "Forbidden", "forbidden: " + why, {})


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, state, ssl_ctx, args):
        self.state = state
        self.ssl_ctx = ssl_ctx
        self.max_body = args.max_body
        self.chunked = not args.no_chunked
        self.stopping = threading.Event()
        self.port_ref = [0]
        self.api = Api(state, self.port_ref)
        self.ready_info = {}
        self.plain_429 = ([], b"")
        super().__init__(addr, Handler)
        self.port_ref[0] = self.server_address[1]

    def finish_request(self, request, client_address):
        try:
            request.settimeout(10)
            conn = self.ssl_ctx.wrap_socket(request, server_side=True,
                                            do_handshake_on_connect=False)
            conn.do_handshake()
        except (ssl.SSLError, OSError) as e:
            log("TLS handshake with %s:%d failed: %s" % (client_address[0], client_address[1],
                                                         e))
            try:
                request.close()
            except OSError:
                pass
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        log("error serving %s: %s" % (client_address, traceback.format_exc().strip()))

    def sleep(self, seconds):
        self.stopping.wait(seconds)

    def request_shutdown(self, why):
        if self.stopping.is_set():
            return
        self.stopping.set()
        log("shutting down (%s)" % why)
        threading.Thread(target=self.shutdown, daemon=True).start()

    def refresh_ready_info(self):
        st = self.state
        clients = {}
        for name, u in sorted(st.users.items()):
            if u.get("cert"):
                clients[name] = {"cert": u["cert"], "key": u["key"], "groups": u["groups"]}
        self.ready_info.update({"clients": clients, "users": sorted(st.users)})


def default_shared_dir():
    return os.environ.get("PS_SHARED_DIR") or os.path.join(os.path.dirname(REPO), "shared")


def main(argv=None):
    global _quiet
    ap = argparse.ArgumentParser(description="A faithful fake kube-apiserver for tests.")
    ap.add_argument("--port", type=int, default=0, help="TCP port (0: a free one)")
    ap.add_argument("--config", help="JSON file with users, rules, objects, customResources, "
                    "faults")
    ap.add_argument("--state-dir", help="where certificates go (default: a temporary "
                    "directory removed at exit)")
    ap.add_argument("--swagger", help="the OpenAPI v2 document (default: "
                    "$PS_SHARED_DIR/k8s-api/swagger.json)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="exit by itself after this many seconds (default 600; 0: never)")
    ap.add_argument("--admin-token", help="the admin bearer token (default: random)")
    ap.add_argument("--max-body", type=int, default=MAX_BODY_DEFAULT,
                    help="largest accepted request body in bytes")
    ap.add_argument("--exit-on-stdin-eof", action="store_true",
                    help="exit when stdin reaches end of file (the parent went away)")
    ap.add_argument("--no-chunked", action="store_true",
                    help="never answer with chunked transfer encoding")
    ap.add_argument("--quiet", action="store_true", help="no request log on stderr")
    args = ap.parse_args(argv)
    _quiet = args.quiet

    shared = default_shared_dir()
    swagger_path = args.swagger or os.path.join(shared, "k8s-api", "swagger.json")
    with open(swagger_path, "rb") as f:
        swagger = json.load(f)

    cfg = {}
    if args.config:
        with open(args.config) as f:
            cfg = json.load(f)
    if not args.admin_token and cfg.get("adminToken"):
        args.admin_token = cfg["adminToken"]

    temp_state = args.state_dir is None
    state_dir = args.state_dir or tempfile.mkdtemp(prefix="fake-apiserver-")
    os.makedirs(state_dir, exist_ok=True)
    os.chmod(state_dir, 0o700)

    server = None
    try:
        state = State(swagger, args)
        pki = PKI(state_dir)
        state.pki = pki
        state.ca_cn = "fake-apiserver-ca-" + secrets.token_hex(4)
        state.ca = pki.make_ca("ca", state.ca_cn)
        untrusted_ca = pki.make_ca("untrusted-ca", "fake-untrusted-ca-" + secrets.token_hex(4))
        server_cert = pki.make_leaf("server", state.ca, "/CN=fake-apiserver", "server_ext")
        admin_cert = pki.make_leaf("client-admin", state.ca, pki.client_subject(
            ADMIN_USER, ADMIN_GROUPS), "client_ext")
        untrusted_client = pki.make_leaf("client-untrusted", untrusted_ca, pki.client_subject(
            ADMIN_USER, ADMIN_GROUPS), "client_ext")
        bundle = os.path.join(state_dir, "client-trust-bundle.crt")
        with open(bundle, "wb") as out:
            for p in (state.ca[0], untrusted_ca[0]):
                with open(p, "rb") as f:
                    out.write(f.read())
        state.apply_config(cfg)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(server_cert[0], server_cert[1])
        # Certificates of both CAs pass the handshake; only the real CA's authenticate (a
        # certificate of the untrusted CA gets the real apiserver's 401, not a TLS alert).
        ctx.load_verify_locations(cafile=bundle)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        try:
            ctx.set_alpn_protocols(["http/1.1"])
        except (NotImplementedError, AttributeError):
            pass

        server = FakeServer(("127.0.0.1", args.port), state, ctx, args)
        server.plain_429 = _load_plaintext_429(shared)
        port = server.server_address[1]
        server.ready_info = {
            "ready": True, "pid": os.getpid(), "port": port,
            "url": "https://127.0.0.1:%d" % port, "ca": state.ca[0],
            "adminToken": state.admin_token, "adminUser": ADMIN_USER,
            "adminCert": admin_cert[0], "adminKey": admin_cert[1],
            "untrustedClientCert": untrusted_client[0],
            "untrustedClientKey": untrusted_client[1],
            "stateDir": state_dir, "swagger": swagger_path,
        }
        server.refresh_ready_info()

        def on_signal(signum, frame):
            server.request_shutdown("signal %d" % signum)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if args.timeout and args.timeout > 0:
            t = threading.Timer(args.timeout, server.request_shutdown,
                                args=("--timeout %gs elapsed" % args.timeout,))
            t.daemon = True
            t.start()
        if args.exit_on_stdin_eof:
            def watch_stdin():
                try:
                    while sys.stdin.buffer.read(4096):
                        pass
                except (OSError, ValueError):
                    pass
                server.request_shutdown("stdin closed")
            threading.Thread(target=watch_stdin, daemon=True).start()

        sys.stdout.write(json.dumps(server.ready_info) + "\n")
        sys.stdout.flush()
        log("listening on https://127.0.0.1:%d (state in %s)" % (port, state_dir))
        server.serve_forever(poll_interval=0.1)
    except Exception as e:
        sys.stderr.write("fake-apiserver: fatal: %s\n" % e)
        if not isinstance(e, (OSError, RuntimeError, ValueError)):
            traceback.print_exc()
        return 1
    finally:
        if server is not None:
            try:
                server.server_close()
            except OSError:
                pass
        if temp_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    log("exited")
    return 0


if __name__ == "__main__":
    sys.exit(main())
