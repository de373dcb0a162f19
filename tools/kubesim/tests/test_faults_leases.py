"""kubesim's fault injection (what fluxs's reliability tests use: query matching, delays, connections reset half-way
through a response, Retry-After) and coordination.k8s.io/v1 Leases as kube-apiserver serves them (MicroTime
decoding, pkg/apis/coordination/validation rules, atomic create and compare-and-swap update under concurrency),
driven by kubectl where it applies and by raw HTTP where kubectl would hide the behaviour."""

import http.client
import json
import os
import ssl
import threading
import time
import unittest
import urllib.parse
import uuid

from test_kubectl import api, kubectl


def raw(method, path, body=None):
    """One request on its own connection; returns (status, headers, body bytes, error) without decoding."""
    u = urllib.parse.urlsplit(os.environ["FLUXS_TEST_KUBE_SERVER"])
    ctx = ssl.create_default_context(cafile=os.environ["FLUXS_TEST_KUBE_CA"])
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=15)
    headers = {"Authorization": "Bearer " + os.environ["FLUXS_TEST_KUBE_ADMIN_TOKEN"], "Content-Type": "application/json"}
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = c.getresponse()
        try:
            data = r.read()
            return r.status, dict(r.getheaders()), data, None
        except (http.client.IncompleteRead, ConnectionError) as e:
            return r.status, dict(r.getheaders()), getattr(e, "partial", b""), e
    finally:
        c.close()


def lease(name, ns, **spec):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": ns}, "spec": spec}


class FaultTest(unittest.TestCase):
    def setUp(self):
        self.ns = "f-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", self.ns)
        kubectl("create", "configmap", "c", "-n", self.ns, "--from-literal=k=v")

    def tearDown(self):
        api("DELETE", "/__sim/faults")

    def test_query_regex_selects_dry_runs_or_not(self):
        path = "/api/v1/namespaces/%s/configmaps/c" % self.ns
        api("POST", "/__sim/faults", {"verb": "PATCH", "path": path + "$", "query": "^(?!.*dryRun)", "status": 500, "count": 1})
        patch = {"data": {"k": "v2"}}
        code, _, _ = api("PATCH", path + "?dryRun=All", patch, content_type="application/merge-patch+json")
        self.assertEqual(code, 200, "the dry run does not match")
        code, status, _ = api("PATCH", path, patch, content_type="application/merge-patch+json")
        self.assertEqual((code, status["reason"]), (500, "InternalError"))
        code, _, _ = api("PATCH", path, patch, content_type="application/merge-patch+json")
        self.assertEqual(code, 200, "count 1: the next one is served")

    def test_reset_mid_body_serves_the_request_then_cuts_the_response(self):
        path = "/api/v1/namespaces/%s/configmaps/c" % self.ns
        api("POST", "/__sim/faults", {"verb": "PUT", "path": path + "$", "action": "reset", "count": 1})
        _, obj, _ = api("GET", path)
        obj["data"] = {"k": "after-reset"}
        status, headers, partial, err = raw("PUT", path, obj)
        self.assertEqual(status, 200)
        self.assertIsNotNone(err, "the body is cut short")
        self.assertLess(len(partial), int(headers["Content-Length"]))
        _, now, _ = api("GET", path)
        self.assertEqual(now["data"]["k"], "after-reset", "the write happened before the reset")

    def test_delay_and_retry_after(self):
        path = "/api/v1/namespaces/%s/configmaps/c" % self.ns
        api("POST", "/__sim/faults", {"verb": "GET", "path": path + "$", "delay": 1.2, "count": 1})
        t0 = time.time()
        code, _, _ = api("GET", path)
        self.assertEqual(code, 200)
        self.assertGreaterEqual(time.time() - t0, 1.2)
        api("POST", "/__sim/faults", {"verb": "GET", "path": path + "$", "status": 503, "retryAfter": 0, "count": 1})
        code, status, headers = api("GET", path)
        self.assertEqual((code, status["reason"], headers.get("Retry-After")), (503, "ServiceUnavailable", "0"))
        before = api("GET", "/__sim/faults")[1]["injected"]
        api("POST", "/__sim/faults", {"verb": "GET", "path": path + "$", "status": 429, "count": 2})
        api("GET", path), api("GET", path), api("GET", path)
        self.assertEqual(api("GET", "/__sim/faults")[1]["injected"], before + 2)
        p = kubectl("get", "configmap", "c", "-n", self.ns, "-o", "name")
        self.assertEqual(p.stdout.strip(), "configmap/c")


class HangTest(unittest.TestCase):
    """"action": "hang": the request is held; when its client goes away (killed, timed out) it is not served, as
    kube-apiserver cancels the request's context; a client that waits is served after `delay`."""

    def setUp(self):
        self.ns = "h-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", self.ns)

    def tearDown(self):
        api("DELETE", "/__sim/faults")

    def test_a_request_whose_client_left_is_not_served(self):
        base = "/api/v1/namespaces/%s/configmaps" % self.ns
        api("POST", "/__sim/faults", {"verb": "POST", "path": base + "$", "action": "hang", "delay": 1.5, "count": 1})
        u = urllib.parse.urlsplit(os.environ["FLUXS_TEST_KUBE_SERVER"])
        ctx = ssl.create_default_context(cafile=os.environ["FLUXS_TEST_KUBE_CA"])
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=0.5)
        headers = {"Authorization": "Bearer " + os.environ["FLUXS_TEST_KUBE_ADMIN_TOKEN"], "Content-Type": "application/json"}
        c.request("POST", base, body=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}), headers=headers)
        with self.assertRaises(OSError):
            c.getresponse()
        c.close()
        time.sleep(1.5)   # past the hang: a late serve would have created it by now
        code, _, _ = api("GET", base + "/late")
        self.assertEqual(code, 404, "the request of a client that went away is not served")
        api("POST", "/__sim/faults", {"verb": "POST", "path": base + "$", "action": "hang", "delay": 0.3, "count": 1})
        code, _, _ = api("POST", base, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "waited"}})
        self.assertEqual(code, 201, "a client that waits is served")


class ListItemRemovalTest(unittest.TestCase):
    """A manager that stops applying a list item removes the whole item, whatever the hash seed (the item's key
    fields used to be removed one by one in set order, which could strand the rest of the item)."""

    def test_service_port_replaced_by_the_same_manager(self):
        ns = "s-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", ns)
        svc = """apiVersion: v1
kind: Service
metadata: {name: p, namespace: %s}
spec:
  selector: {app: p}
  ports:
  - {name: http, port: %d, protocol: TCP, targetPort: http}
  - {name: grpc, port: 9999, protocol: TCP, targetPort: grpc}
"""
        kubectl("apply", "--server-side", "--field-manager=kustomize-controller", "-f", "-", stdin=svc % (ns, 9899))
        for dry in (["--dry-run=server"], []):
            p = kubectl("apply", "--server-side", "--field-manager=kustomize-controller", "-o", "jsonpath={.spec.ports}", "-f", "-",
                        *dry, stdin=svc % (ns, 9898))
            ports = json.loads(p.stdout)
            self.assertEqual([(x.get("name"), x.get("port")) for x in ports], [("http", 9898), ("grpc", 9999)], dry)


class LeaseTest(unittest.TestCase):
    def setUp(self):
        self.ns = "l-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", self.ns)
        self.base = "/apis/coordination.k8s.io/v1/namespaces/%s/leases" % self.ns

    def test_kubectl_creates_and_reads_leases(self):
        doc = json.dumps(lease("l1", self.ns, holderIdentity="a", leaseDurationSeconds=15, renewTime="2025-03-04T05:06:07.123456Z",
                               acquireTime="2025-03-04T07:06:07.000001+02:00", leaseTransitions=0))
        kubectl("create", "-f", "-", stdin=doc)
        p = kubectl("get", "lease", "l1", "-n", self.ns, "-o", "jsonpath={.spec.holderIdentity} {.spec.renewTime} {.spec.acquireTime}")
        # MicroTime is written back in UTC with six fractional digits.
        self.assertEqual(p.stdout, "a 2025-03-04T05:06:07.123456Z 2025-03-04T05:06:07.000001Z")
        p = kubectl("get", "leases", "-n", self.ns)
        self.assertIn("l1", p.stdout)

    def test_micro_time_and_validation_as_the_api_server(self):
        code, st, _ = api("POST", self.base, lease("t", self.ns, renewTime="2025-03-04T05:06:07Z"))
        self.assertEqual((code, st["reason"]), (400, "BadRequest"))
        self.assertEqual(st["message"], 'Lease in version "v1" cannot be handled as a Lease: parsing time "2025-03-04T05:06:07Z" as '
                                        '"2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"')
        code, st, _ = api("POST", self.base, lease("t", self.ns, leaseDurationSeconds="15"))
        self.assertEqual(code, 400)
        self.assertIn("of type int32", st["message"])
        code, st, _ = api("POST", self.base, lease("t", self.ns, leaseDurationSeconds=0, leaseTransitions=-1))
        self.assertEqual((code, st["reason"]), (422, "Invalid"))
        self.assertEqual(st["message"], 'Lease.coordination.k8s.io "t" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be '
                                        'greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]')
        code, st, _ = api("POST", self.base, lease("t", self.ns, preferredHolder="b"))
        self.assertEqual(code, 422)
        self.assertIn("spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined", st["message"])
        code, _, _ = api("POST", self.base, lease("t", self.ns, holderIdentity="a", leaseDurationSeconds=1))
        self.assertEqual(code, 201)

    def test_create_and_update_are_atomic_under_races(self):
        results = []

        def create(i):
            code, _, _ = api("POST", self.base, lease("race", self.ns, holderIdentity="h%d" % i, leaseDurationSeconds=10))
            results.append(code)

        threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual(sorted(results), [201] + [409] * 11)
        _, current, _ = api("GET", self.base + "/race")
        updates = []

        def take(i):
            o = json.loads(json.dumps(current))
            o["spec"]["holderIdentity"] = "u%d" % i
            code, body, _ = api("PUT", self.base + "/race", o)
            updates.append((code, body.get("reason")))

        threads = [threading.Thread(target=take, args=(i,)) for i in range(12)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        self.assertEqual(sorted(updates), [(200, None)] + [(409, "Conflict")] * 11, "compare-and-swap on resourceVersion")
        # A delete with a stale resourceVersion precondition is refused.
        code, st, _ = api("DELETE", self.base + "/race", {"preconditions": {"resourceVersion": current["metadata"]["resourceVersion"]}})
        self.assertEqual((code, st["reason"]), (409, "Conflict"))


if __name__ == "__main__":
    unittest.main()
