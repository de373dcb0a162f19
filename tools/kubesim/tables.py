"""Server-side printing (meta.k8s.io Table) as kube-apiserver does it for
`kubectl get`: column definitions per built-in kind, CRD printer columns."""

import calendar
import re
import time


def parse_time(s):
    try:
        return calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except (ValueError, TypeError):
        return None


def human_duration(seconds):
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return "%ds" % seconds
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return "%dm" % minutes if s == 0 else "%dm%ds" % (minutes, s)
    if minutes < 180:
        return "%dm" % minutes
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return "%dh" % hours if m == 0 else "%dh%dm" % (hours, m)
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd" % (hours // 24) if h == 0 else "%dd%dh" % (hours // 24, h)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return "%dy" % (hours // 24 // 365) if dy == 0 else "%dy%dd" % (hours // 24 // 365, dy)
    return "%dy" % (hours // 24 // 365)


def age(obj):
    t = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if t is None:
        return "<unknown>"
    return human_duration(int(time.time() - t))


# ---------------------------------------------------------------------------
# A small JSONPath subset for printer columns: .a.b, [n], [*], [?(@.k=="v")]

_TOKEN = re.compile(r'\.([A-Za-z0-9_\-$]+)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.\-]+)\s*==\s*["\']([^"\']*)["\']\)\]|\[["\']([^"\']+)["\']\]')


def jsonpath(obj, expr):
    expr = expr.strip()
    if expr.startswith("{") and expr.endswith("}"):
        expr = expr[1:-1]
    if expr.startswith("$"):
        expr = expr[1:]
    cur = [obj]
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            return []
        pos = m.end()
        nxt = []
        for c in cur:
            if m.group(1) is not None or m.group(5) is not None:
                key = m.group(1) if m.group(1) is not None else m.group(5)
                if isinstance(c, dict) and key in c:
                    nxt.append(c[key])
            elif m.group(2) is not None:
                if isinstance(c, list):
                    if m.group(2) == "*":
                        nxt.extend(c)
                    elif int(m.group(2)) < len(c):
                        nxt.append(c[int(m.group(2))])
            else:
                field, want = m.group(3), m.group(4)
                if isinstance(c, list):
                    for it in c:
                        v = it
                        for f in field.split("."):
                            v = v.get(f) if isinstance(v, dict) else None
                        if v is not None and str(v) == want:
                            nxt.append(it)
        cur = nxt
    return cur


def _col(name, typ="string", fmt="", desc="", priority=0):
    return {"name": name, "type": typ, "format": fmt, "description": desc, "priority": priority}


NAME_COL = _col("Name", "string", "name", "Name must be unique within a namespace.")
AGE_COL = _col("Age", "string", "", "CreationTimestamp is a timestamp representing the server time when this object was created.")


def _deploy(o):
    st = o.get("status") or {}
    sp = o.get("spec") or {}
    return ["%d/%d" % (st.get("readyReplicas", 0), sp.get("replicas", 0)), st.get("updatedReplicas", 0),
            st.get("availableReplicas", 0), age(o)]


def _sts(o):
    st = o.get("status") or {}
    return ["%d/%d" % (st.get("readyReplicas", 0), (o.get("spec") or {}).get("replicas", 0)), age(o)]


def _svc(o):
    sp = o.get("spec") or {}
    ports = ",".join("%s/%s" % (p.get("port"), p.get("protocol", "TCP")) if not p.get("nodePort") else
                     "%s:%s/%s" % (p.get("port"), p.get("nodePort"), p.get("protocol", "TCP")) for p in sp.get("ports") or [])
    ext = ",".join(i.get("ip") or i.get("hostname", "") for i in ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [])
    if not ext:
        ext = "<pending>" if sp.get("type") == "LoadBalancer" else "<none>"
    return [sp.get("type", ""), sp.get("clusterIP", "<none>"), ext, ports or "<none>", age(o)]


def _job(o):
    st = o.get("status") or {}
    conds = {c.get("type"): c.get("status") for c in st.get("conditions") or []}
    status = "Complete" if conds.get("Complete") == "True" else "Failed" if conds.get("Failed") == "True" else "Running"
    return [status, "%d/%d" % (st.get("succeeded", 0), (o.get("spec") or {}).get("completions", 1)), "", age(o)]


def _ds(o):
    st = o.get("status") or {}
    sel = ",".join("%s=%s" % kv for kv in sorted((((o.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector", {}).items())) or "<none>"
    return [st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0), st.get("numberReady", 0),
            st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0), sel, age(o)]


def _event(o):
    last = o.get("lastTimestamp") or o.get("eventTime") or (o.get("metadata") or {}).get("creationTimestamp")
    t = parse_time(last)
    io = o.get("involvedObject") or {}
    return [human_duration(int(time.time() - t)) if t else "<unknown>", o.get("type", ""), o.get("reason", ""),
            "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", "")), o.get("message", "")]


BUILTIN_TABLES = {
    "ConfigMap": ([_col("Data", "integer", "", "Data contains the configuration data.")],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)]),
    "Secret": ([_col("Type"), _col("Data", "integer")],
               lambda o: [o.get("type", ""), len(o.get("data") or {}), age(o)]),
    "Namespace": ([_col("Status")], lambda o: [(o.get("status") or {}).get("phase", ""), age(o)]),
    "ServiceAccount": ([_col("Secrets", "integer")], lambda o: [len(o.get("secrets") or []), age(o)]),
    "Service": ([_col("Type"), _col("Cluster-IP"), _col("External-IP"), _col("Port(s)")], _svc),
    "Deployment": ([_col("Ready"), _col("Up-to-date", "integer"), _col("Available", "integer")], _deploy),
    "StatefulSet": ([_col("Ready")], _sts),
    "DaemonSet": ([_col("Desired", "integer"), _col("Current", "integer"), _col("Ready", "integer"),
                   _col("Up-to-date", "integer"), _col("Available", "integer"), _col("Node Selector")], _ds),
    "Job": ([_col("Status"), _col("Completions"), _col("Duration")], _job),
}


def table_for(rt, objs, rv, api_version="meta.k8s.io/v1", include="Metadata"):
    kind = rt.kind
    if rt.printer_columns is not None:
        cols, rows = _crd_table(rt, objs)
    elif kind == "Event" and not rt.group:
        cols = [_col("Last Seen"), _col("Type"), _col("Reason"), _col("Object"), _col("Message")]
        rows = [_event(o) for o in objs]
        cols_rows = (cols, rows)
        return _assemble(cols_rows[0], cols_rows[1], objs, rv, api_version, include, name_first=False)
    elif kind in BUILTIN_TABLES:
        extra, fn = BUILTIN_TABLES[kind]
        cols = [NAME_COL] + extra + ([AGE_COL] if kind not in () else [])
        rows = [[(o.get("metadata") or {}).get("name", "")] + fn(o) for o in objs]
    elif kind == "CustomResourceDefinition" or kind in ("ClusterRole", "Role"):
        cols = [NAME_COL, _col("Created At", "date")]
        rows = [[(o.get("metadata") or {}).get("name", ""), (o.get("metadata") or {}).get("creationTimestamp")] for o in objs]
    else:
        cols = [NAME_COL, AGE_COL]
        rows = [[(o.get("metadata") or {}).get("name", ""), age(o)] for o in objs]
    return _assemble(cols, rows, objs, rv, api_version, include)


def _crd_table(rt, objs):
    pcs = rt.printer_columns
    cols = [NAME_COL]
    for pc in pcs:
        cols.append(_col(pc.get("name", ""), pc.get("type", "string"), pc.get("format", ""),
                         pc.get("description", ""), pc.get("priority", 0)))
    rows = []
    for o in objs:
        row = [(o.get("metadata") or {}).get("name", "")]
        for pc in pcs:
            vals = jsonpath(o, pc.get("jsonPath", ""))
            if not vals:
                row.append(None)
            elif len(vals) == 1:
                v = vals[0]
                row.append(v if not isinstance(v, (dict, list)) else str(v))
            else:
                row.append(",".join(str(v) for v in vals))
        rows.append(row)
    return cols, rows


def _assemble(cols, rows, objs, rv, api_version, include, name_first=True):
    out_rows = []
    for cells, o in zip(rows, objs):
        row = {"cells": cells}
        if include == "Object":
            row["object"] = o
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": api_version,
                             "metadata": o.get("metadata") or {}}
        out_rows.append(row)
    return {"kind": "Table", "apiVersion": api_version, "metadata": {"resourceVersion": rv},
            "columnDefinitions": cols, "rows": out_rows}
