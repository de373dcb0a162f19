"""kubectl-driven checks of kubesim for behaviour fluxs relies on beyond the
recorded conformance steps: watch streams, deletecollection, dry-run create,
status written by several field managers, 409 on stale updates, read-only
users, fault injection and workload readiness. Run inside the test
environment (KUBECONFIG and FLUXS_TEST_KUBE_* set):

    python3 tools/testenv/testenv.py run --services kube -- python3 -m unittest discover -s tools/kubesim/tests
"""

import json
import os
import ssl
import sys
import subprocess
import threading
import time
import unittest
import urllib.parse
import urllib.request
import uuid


def kubectl(*args, stdin=None, check=True, timeout=30):
    p = subprocess.run(["kubectl"] + list(args), input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), p.stderr))
    return p


def api(method, path, body=None, token=None, content_type="application/json", accept=None):
    ctx = ssl.create_default_context(cafile=os.environ["FLUXS_TEST_KUBE_CA"])
    req = urllib.request.Request(os.environ["FLUXS_TEST_KUBE_SERVER"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Authorization", "Bearer " + (token or os.environ["FLUXS_TEST_KUBE_ADMIN_TOKEN"]))
    req.add_header("Content-Type", content_type)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


class KubesimTest(unittest.TestCase):
    def setUp(self):
        self.ns = "t-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", self.ns)

    def cm(self, name, data=None, labels=None):
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": self.ns, "labels": labels or {}},
               "data": data or {"k": "v"}}
        return json.dumps(doc)

    def test_watch_streams_changes(self):
        events = []

        def watch():
            p = subprocess.Popen(["kubectl", "get", "cm", "-n", self.ns, "-w", "--output-watch-events", "-o",
                                  "jsonpath={.type} {.object.metadata.name}{\"\\n\"}", "--request-timeout=4s"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            with p.stdout:
                for line in p.stdout:
                    events.append(line.strip())
            p.wait()

        t = threading.Thread(target=watch)
        t.start()
        time.sleep(1)
        kubectl("apply", "--server-side", "-f", "-", stdin=self.cm("w1"))
        kubectl("patch", "cm", "w1", "-n", self.ns, "--type=merge", "-p", '{"data":{"k":"v2"}}')
        kubectl("delete", "cm", "w1", "-n", self.ns)
        t.join(10)
        self.assertIn("ADDED w1", events)
        self.assertIn("MODIFIED w1", events)
        self.assertIn("DELETED w1", events)

    def test_watch_from_resource_version(self):
        kubectl("apply", "--server-side", "-f", "-", stdin=self.cm("r1"))
        code, lst, _ = api("GET", "/api/v1/namespaces/%s/configmaps" % self.ns)
        rv = lst["metadata"]["resourceVersion"]
        kubectl("apply", "--server-side", "-f", "-", stdin=self.cm("r2"))
        ctx = ssl.create_default_context(cafile=os.environ["FLUXS_TEST_KUBE_CA"])
        req = urllib.request.Request(os.environ["FLUXS_TEST_KUBE_SERVER"] +
                                     "/api/v1/namespaces/%s/configmaps?watch=1&resourceVersion=%s&timeoutSeconds=1" % (self.ns, rv))
        req.add_header("Authorization", "Bearer " + os.environ["FLUXS_TEST_KUBE_ADMIN_TOKEN"])
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            lines = [json.loads(l) for l in r.read().splitlines() if l.strip()]
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in lines], [("ADDED", "r2")])

    def test_deletecollection(self):
        for n in ("a", "b", "c"):
            kubectl("apply", "--server-side", "-f", "-", stdin=self.cm(n, labels={"group": "x" if n != "c" else "y"}))
        kubectl("delete", "--raw", "/api/v1/namespaces/%s/configmaps?labelSelector=group%%3Dx" % self.ns)
        names = kubectl("get", "cm", "-n", self.ns, "-o", "name").stdout.split()
        self.assertEqual(names, ["configmap/c"])

    def test_metadata_only_lists_and_gets(self):
        # client-go's metadata client (k8s.io/client-go/metadata): kube-apiserver's asPartialObjectMetadataList.
        for n in ("a", "b", "c"):
            kubectl("apply", "--server-side", "-f", "-", stdin=self.cm(n, data={"big": n * 100}, labels={"group": "x" if n != "c" else "y"}))
        full = json.loads(kubectl("get", "cm", "-n", self.ns, "-l", "group=x", "-o", "json", "--show-managed-fields").stdout)["items"]

        def get(path, accept):
            return api("GET", path, accept=accept)[:2]
        meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
        base = "/api/v1/namespaces/%s/configmaps" % self.ns
        code, doc = get(base + "?labelSelector=group%3Dx", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1," + meta)
        self.assertEqual(code, 200, doc)
        self.assertEqual((doc["kind"], doc["apiVersion"]), ("PartialObjectMetadataList", "meta.k8s.io/v1"))
        self.assertTrue(doc["metadata"]["resourceVersion"])
        self.assertEqual([it["metadata"] for it in doc["items"]], [o["metadata"] for o in full])
        self.assertEqual({(it["kind"], it["apiVersion"]) for it in doc["items"]}, {("PartialObjectMetadata", "meta.k8s.io/v1")})
        self.assertTrue(all(set(it) == {"kind", "apiVersion", "metadata"} for it in doc["items"]), doc)
        self.assertTrue(all(it["metadata"].get("managedFields") for it in doc["items"]), doc)
        # Pages as a full list's.
        code, page = get(base + "?limit=2", meta)
        self.assertEqual(len(page["items"]), 2)
        self.assertEqual(page["metadata"]["remainingItemCount"], 1)
        code, rest = get(base + "?limit=2&continue=" + urllib.parse.quote(page["metadata"]["continue"]), meta)
        self.assertEqual([it["metadata"]["name"] for it in rest["items"]], ["c"])
        # v1beta1 too; one object as PartialObjectMetadata.
        code, doc = get(base, meta.replace("v=v1", "v=v1beta1"))
        self.assertEqual((code, doc["apiVersion"], doc["items"][0]["apiVersion"]), (200, "meta.k8s.io/v1beta1", "meta.k8s.io/v1beta1"))
        code, one = get(base + "/a", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
        self.assertEqual((code, one["kind"], one["apiVersion"], one["metadata"]), (200, "PartialObjectMetadata", "meta.k8s.io/v1", full[0]["metadata"]))
        # A list asked for as one object, an object as a list, an unknown conversion: 406.
        code, err = get(base, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
        self.assertEqual((code, err["reason"]), (406, "NotAcceptable"), err)
        code, err = get(base + "/a", meta)
        self.assertEqual((code, err["reason"]), (406, "NotAcceptable"), err)
        code, err = get(base, "application/json;as=PartialObjectMetadataList;g=apps;v=v1")
        self.assertEqual((code, err["reason"]), (406, "NotAcceptable"), err)
        # Another clause the server serves wins over one it does not.
        code, doc = get(base, "application/json;as=Nope;g=meta.k8s.io;v=v1,application/json")
        self.assertEqual((code, doc["kind"]), (200, "ConfigMapList"))

    def test_write_answers_as_metadata(self):
        # kube-apiserver's PATCH, PUT, POST and DELETE handlers end with transformResponseObject: an Accept asking for
        # PartialObjectMetadata gets the written object's whole metadata; the object-as-list conversion is 406, after
        # the write (handlers/patch.go, handlers/response.go).
        one = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"

        def call(method, path, body, ctype, accept):
            return api(method, path, body, content_type=ctype, accept=accept)[:2]
        base = "/api/v1/namespaces/%s/configmaps" % self.ns
        code, made = call("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w"}, "data": {"k": "v"}},
                          "application/json", one)
        self.assertEqual((code, made["kind"], made["apiVersion"], set(made)), (201, "PartialObjectMetadata", "meta.k8s.io/v1", {"kind", "apiVersion", "metadata"}), made)
        code, patched = call("PATCH", base + "/w", {"metadata": {"annotations": {"a": "1"}, "resourceVersion": made["metadata"]["resourceVersion"]}},
                             "application/merge-patch+json", one)
        self.assertEqual((code, patched["kind"], patched["metadata"]["annotations"]), (200, "PartialObjectMetadata", {"a": "1"}), patched)
        live = json.loads(kubectl("get", "cm", "w", "-n", self.ns, "-o", "json", "--show-managed-fields").stdout)
        self.assertEqual(patched["metadata"], live["metadata"])
        self.assertEqual(live["data"], {"k": "v"})
        # a stale resourceVersion in the patch is a conflict, as without the Accept
        code, err = call("PATCH", base + "/w", {"metadata": {"annotations": {"a": "2"}, "resourceVersion": made["metadata"]["resourceVersion"]}},
                         "application/merge-patch+json", one)
        self.assertEqual((code, err["reason"]), (409, "Conflict"), err)
        code, err = call("PATCH", base + "/w", {"data": {"k": "w"}}, "application/merge-patch+json",
                         "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1")
        self.assertEqual((code, err["reason"]), (406, "NotAcceptable"), err)
        self.assertEqual(json.loads(kubectl("get", "cm", "w", "-n", self.ns, "-o", "json").stdout)["data"], {"k": "w"})

    def test_dry_run_create_persists_nothing(self):
        out = kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", stdin=self.cm("dry")).stdout
        self.assertEqual(json.loads(out)["metadata"]["name"], "dry")
        p = kubectl("get", "cm", "dry", "-n", self.ns, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("not found", p.stderr)

    def test_status_written_by_several_managers(self):
        crd = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.fluxs.io}
spec:
  group: test.fluxs.io
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            default: {observedGeneration: -1}
            properties:
              observedGeneration: {type: integer}
              phase: {type: string}
              conditions:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [type]
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
"""
        kubectl("apply", "--server-side", "-f", "-", stdin=crd)
        kubectl("wait", "--for=condition=Established", "crd/widgets.test.fluxs.io")
        w = "apiVersion: test.fluxs.io/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\nspec: {a: 1}\n" % self.ns
        out = json.loads(kubectl("apply", "--server-side", "-o", "json", "-f", "-", stdin=w).stdout)
        self.assertEqual(out["status"], {"observedGeneration": -1})
        kubectl("patch", "widget", "w1", "-n", self.ns, "--subresource=status", "--type=merge", "--field-manager=m1",
                "-p", '{"status":{"phase":"Ready"}}')
        st = "apiVersion: test.fluxs.io/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\nstatus:\n  conditions:\n  - {type: Ready, status: 'True'}\n" % self.ns
        kubectl("apply", "--server-side", "--subresource=status", "--field-manager=m2", "-f", "-", stdin=st)
        obj = json.loads(kubectl("get", "widget", "w1", "-n", self.ns, "-o", "json", "--show-managed-fields").stdout)
        self.assertEqual(obj["status"]["phase"], "Ready")
        self.assertEqual(obj["status"]["conditions"], [{"type": "Ready", "status": "True"}])
        by = {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}
        self.assertEqual(by[("m1", "Update")].get("subresource"), "status")
        self.assertEqual(by[("m2", "Apply")].get("subresource"), "status")
        self.assertIn('k:{"type":"Ready"}', by[("m2", "Apply")]["fieldsV1"]["f:status"]["f:conditions"])
        self.assertEqual(obj["metadata"]["generation"], 1)
        kubectl("delete", "crd", "widgets.test.fluxs.io")

    def test_update_with_stale_resource_version_conflicts(self):
        kubectl("apply", "--server-side", "-f", "-", stdin=self.cm("s1"))
        code, obj, _ = api("GET", "/api/v1/namespaces/%s/configmaps/s1" % self.ns)
        obj["data"] = {"k": "new"}
        code, _, _ = api("PUT", "/api/v1/namespaces/%s/configmaps/s1" % self.ns, obj)
        self.assertEqual(code, 200)
        code, status, _ = api("PUT", "/api/v1/namespaces/%s/configmaps/s1" % self.ns, obj)
        self.assertEqual(code, 409)
        self.assertEqual(status["reason"], "Conflict")

    def test_viewer_is_forbidden_to_write(self):
        code, status, _ = api("POST", "/api/v1/namespaces/%s/configmaps" % self.ns, json.loads(self.cm("v1")),
                              token=os.environ["FLUXS_TEST_KUBE_VIEWER_TOKEN"])
        self.assertEqual(code, 403)
        self.assertIn('User "viewer" cannot create resource "configmaps"', status["message"])
        code, _, _ = api("GET", "/api/v1/namespaces/%s/configmaps" % self.ns, token=os.environ["FLUXS_TEST_KUBE_VIEWER_TOKEN"])
        self.assertEqual(code, 200)
        code, status, _ = api("GET", "/api/v1/namespaces", token="wrong")
        self.assertEqual(code, 401)

    def test_fault_injection(self):
        api("POST", "/__sim/faults", {"verb": "GET", "path": "/configmaps$", "status": 429, "retryAfter": 1, "count": 1})
        code, status, headers = api("GET", "/api/v1/namespaces/%s/configmaps" % self.ns)
        self.assertEqual(code, 429)
        self.assertEqual(headers.get("Retry-After"), "1")
        code, _, _ = api("GET", "/api/v1/namespaces/%s/configmaps" % self.ns)
        self.assertEqual(code, 200)

    def test_workload_readiness_control(self):
        dep = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.25}]}
""" % self.ns
        kubectl("apply", "--server-side", "-f", "-", stdin=dep)
        api("POST", "/__sim/workloads", {"kind": "Deployment", "namespace": self.ns, "name": "web", "state": "ready"})
        kubectl("rollout", "status", "deployment/web", "-n", self.ns, "--timeout=10s")
        api("POST", "/__sim/workloads", {"kind": "Deployment", "namespace": self.ns, "name": "web", "state": "failed"})
        p = kubectl("rollout", "status", "deployment/web", "-n", self.ns, "--timeout=5s", check=False)
        self.assertNotEqual(p.returncode, 0)

    def test_namespace_delete_removes_contents(self):
        kubectl("apply", "--server-side", "-f", "-", stdin=self.cm("gone"))
        kubectl("delete", "namespace", self.ns)
        p = kubectl("get", "cm", "gone", "-n", self.ns, check=False)
        self.assertNotEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()


class PersistenceTest(unittest.TestCase):
    def start(self, state, data):
        info = os.path.join(state, "info.json")
        if os.path.exists(info):
            os.remove(info)
        p = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "--state-dir", state, "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(info):
                break
            time.sleep(0.05)
        return p

    def test_data_dir_survives_a_restart(self):
        import shutil
        import tempfile
        d = tempfile.mkdtemp()
        try:
            state, data = os.path.join(d, "state"), os.path.join(d, "data")
            p = self.start(state, data)
            cfg = os.path.join(state, "kubeconfig")
            kubectl("--kubeconfig", cfg, "create", "configmap", "kept", "-n", "default", "--from-literal=a=b")
            p.terminate()
            p.wait(10)
            p = self.start(state, data)
            out = kubectl("--kubeconfig", cfg, "get", "configmap", "kept", "-n", "default", "-o", "jsonpath={.data.a}").stdout
            self.assertEqual(out, "b")
            p.terminate()
            p.wait(10)
        finally:
            shutil.rmtree(d, ignore_errors=True)
