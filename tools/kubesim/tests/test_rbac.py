"""RBAC and impersonation in kubesim, driven by kubectl as against kube-apiserver: TokenRequest tokens
(`kubectl create token`), Roles/ClusterRoles through RoleBindings/ClusterRoleBindings, resourceNames, the
impersonate verb (`kubectl --as`/`--as-group`) and kube-apiserver's 403 messages. Run inside the test environment:

    python3 tools/testenv/testenv.py run --services kube -- python3 -m unittest discover -s tools/kubesim/tests -p 'test_rbac.py'
"""

import json
import os
import subprocess
import unittest
import uuid


def kubectl(*args, stdin=None, check=True, token=None):
    base = ["kubectl"]
    if token:
        base += ["--token=" + token, "--server=" + os.environ["FLUXS_TEST_KUBE_SERVER"],
                 "--certificate-authority=" + os.environ["FLUXS_TEST_KUBE_CA"], "--kubeconfig=/dev/null"]
    p = subprocess.run(base + list(args), input=stdin, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise AssertionError("kubectl %s failed: %s" % (" ".join(args), p.stderr))
    return p


class RBACTest(unittest.TestCase):
    def setUp(self):
        self.ns = "rbac-" + uuid.uuid4().hex[:6]
        self.other = self.ns + "-other"
        kubectl("create", "namespace", self.ns)
        kubectl("create", "namespace", self.other)
        kubectl("create", "serviceaccount", "ci", "-n", self.ns)
        self.token = kubectl("create", "token", "ci", "-n", self.ns).stdout.strip()
        self.user = "system:serviceaccount:%s:ci" % self.ns

    def tearDown(self):
        kubectl("delete", "namespace", self.ns, self.other, "--wait=false", check=False)
        kubectl("delete", "clusterrole,clusterrolebinding", "-l", "rbac-test=" + self.ns, check=False)

    def apply(self, doc):
        kubectl("apply", "-f", "-", stdin=json.dumps(doc))

    def test_nothing_is_allowed_without_a_binding(self):
        p = kubectl("get", "configmaps", "-n", self.ns, token=self.token, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(p.stderr.strip(), 'Error from server (Forbidden): configmaps is forbidden: User "%s" cannot list '
                         'resource "configmaps" in API group "" in the namespace "%s"' % (self.user, self.ns))
        p = kubectl("get", "clusterroles", token=self.token, check=False)
        self.assertIn('clusterroles.rbac.authorization.k8s.io is forbidden: User "%s" cannot list resource "clusterroles" '
                      'in API group "rbac.authorization.k8s.io" at the cluster scope' % self.user, p.stderr)
        p = kubectl("get", "namespace", self.ns, token=self.token, check=False)
        self.assertIn('namespaces "%s" is forbidden: User "%s" cannot get resource "namespaces" in API group "" in the '
                      'namespace "%s"' % (self.ns, self.user, self.ns), p.stderr)

    def test_role_binding_grants_in_its_namespace_only(self):
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "cm", "namespace": self.ns},
                    "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create"]},
                              {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["allowed"]}]})
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "cm", "namespace": self.ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm"},
                    "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": self.ns}]})
        kubectl("create", "configmap", "a", "-n", self.ns, "--from-literal=k=v", token=self.token)
        self.assertEqual(kubectl("get", "cm", "a", "-n", self.ns, "-o", "jsonpath={.data.k}", token=self.token).stdout, "v")
        p = kubectl("delete", "cm", "a", "-n", self.ns, token=self.token, check=False)
        self.assertIn('configmaps "a" is forbidden: User "%s" cannot delete resource "configmaps" in API group "" in the '
                      'namespace "%s"' % (self.user, self.ns), p.stderr)
        p = kubectl("get", "cm", "-n", self.other, token=self.token, check=False)
        self.assertIn('cannot list resource "configmaps" in API group "" in the namespace "%s"' % self.other, p.stderr)
        kubectl("create", "secret", "generic", "allowed", "-n", self.ns, "--from-literal=k=v")
        kubectl("create", "secret", "generic", "denied", "-n", self.ns, "--from-literal=k=v")
        self.assertEqual(kubectl("get", "secret", "allowed", "-n", self.ns, "-o", "name", token=self.token).stdout.strip(), "secret/allowed")
        for args in (["get", "secret", "denied"], ["get", "secrets"]):
            self.assertEqual(kubectl(*args, "-n", self.ns, token=self.token, check=False).returncode, 1)
        # a binding to a role that does not exist says so, as RBAC's reason
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "gone", "namespace": self.ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gone-" + self.ns},
                    "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": self.ns}]})
        p = kubectl("get", "pods", "-n", self.ns, token=self.token, check=False)
        self.assertTrue(p.stderr.strip().endswith('in the namespace "%s": RBAC: clusterrole.rbac.authorization.k8s.io "gone-%s" not found'
                                                  % (self.ns, self.ns)), p.stderr)

    def test_cluster_role_binding_wildcards_and_subresources(self):
        labels = {"rbac-test": self.ns}
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "st-" + self.ns, "labels": labels},
                    "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
                              {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]}]})
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "st-" + self.ns, "labels": labels},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "st-" + self.ns},
                    "subjects": [{"kind": "Group", "name": "system:serviceaccounts:" + self.ns}]})
        self.assertEqual(kubectl("get", "deployments", "-n", self.other, "-o", "name", token=self.token).returncode, 0)
        p = kubectl("get", "services", "-A", token=self.token, check=False)
        self.assertIn('services is forbidden: User "%s" cannot list resource "services" in API group "" at the cluster scope' % self.user, p.stderr)

    def test_impersonation_needs_the_impersonate_verb(self):
        p = kubectl("get", "cm", "-n", self.ns, "--as=system:serviceaccount:%s:tenant" % self.ns, token=self.token, check=False)
        self.assertIn('serviceaccounts "tenant" is forbidden: User "%s" cannot impersonate resource "serviceaccounts" in API group "" '
                      'in the namespace "%s"' % (self.user, self.ns), p.stderr)
        p = kubectl("get", "cm", "-n", self.ns, "--as=jane", token=self.token, check=False)
        self.assertIn('users "jane" is forbidden: User "%s" cannot impersonate resource "users" in API group "" at the cluster scope'
                      % self.user, p.stderr)
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "imp", "namespace": self.ns},
                    "rules": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"], "resourceNames": ["tenant"]}]})
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "imp", "namespace": self.ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "imp"},
                    "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": self.ns}]})
        # impersonated, the request has the tenant's rights (none yet), not the caller's
        tenant = "system:serviceaccount:%s:tenant" % self.ns
        p = kubectl("get", "cm", "-n", self.ns, "--as=" + tenant, token=self.token, check=False)
        self.assertIn('configmaps is forbidden: User "%s" cannot list resource "configmaps"' % tenant, p.stderr)
        self.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "tenant-edit", "namespace": self.ns},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": self.ns}]})
        kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                                      "metadata": {"name": "cluster-admin"},
                                                      "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}))
        kubectl("create", "configmap", "t", "-n", self.ns, "--as=" + tenant, token=self.token)
        # the group the caller asks for must be allowed too
        p = kubectl("get", "cm", "-n", self.ns, "--as=" + tenant, "--as-group=system:masters", token=self.token, check=False)
        self.assertIn('groups "system:masters" is forbidden: User "%s" cannot impersonate resource "groups" in API group "" at the '
                      'cluster scope' % self.user, p.stderr)
        # the admin may impersonate anyone
        p = kubectl("get", "cm", "-n", self.other, "--as=" + tenant, check=False)
        self.assertIn('User "%s" cannot list resource "configmaps" in API group "" in the namespace "%s"' % (tenant, self.other), p.stderr)

    def test_tokens_die_with_their_service_account(self):
        kubectl("delete", "serviceaccount", "ci", "-n", self.ns)
        p = kubectl("get", "cm", "-n", self.ns, token=self.token, check=False)
        self.assertIn("Unauthorized", p.stderr)


if __name__ == "__main__":
    unittest.main()
