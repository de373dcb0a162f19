"""Pod logs (GET pods/NAME/log) as kube-apiserver serves them, driven by `kubectl logs`: the container is required
when the pod has several, tailLines, unknown containers and pods are errors. kubesim has no kubelets: what a
container wrote is set through POST /__sim/podlogs."""

import unittest
import uuid

from test_kubectl import api, kubectl

POD = """apiVersion: v1
kind: Pod
metadata: {name: web, namespace: %s}
spec: {containers: [{name: manager, image: busybox}, {name: sidecar, image: busybox}]}
"""


class PodLogsTest(unittest.TestCase):
    def setUp(self):
        self.ns = "pl-" + uuid.uuid4().hex[:6]
        kubectl("create", "namespace", self.ns)
        kubectl("apply", "-f", "-", stdin=POD % self.ns)
        code, _, _ = api("POST", "/__sim/podlogs", {"namespace": self.ns, "name": "web", "container": "manager", "log": "one\ntwo\nthree\n"})
        self.assertEqual(code, 200)

    def test_logs_of_a_container(self):
        self.assertEqual(kubectl("logs", "web", "-c", "manager", "-n", self.ns).stdout, "one\ntwo\nthree\n")
        self.assertEqual(kubectl("logs", "web", "-c", "manager", "--tail=2", "-n", self.ns).stdout, "two\nthree\n")
        self.assertEqual(kubectl("logs", "web", "-c", "sidecar", "-n", self.ns).stdout, "")

    def test_errors(self):
        p = kubectl("logs", "web", "-c", "nope", "-n", self.ns, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("container nope is not valid for pod web", p.stderr)
        p = kubectl("logs", "missing", "-n", self.ns, check=False)
        self.assertIn('pods "missing" not found', p.stderr)
        code, status, _ = api("GET", "/api/v1/namespaces/%s/pods/web/log" % self.ns)
        self.assertEqual(code, 400)
        self.assertEqual(status["message"], "a container name must be specified for pod web, choose one of: [manager sidecar]")


if __name__ == "__main__":
    unittest.main()
