"""examples/eks without AWS: terraform's own formatter and parser accept every
file, and the parsed configuration is the case study's cluster.

`terraform init` needs registry.terraform.io for the aws provider and the
modules, which CI cannot reach, so `terraform validate` cannot run here. What
can: `terraform fmt -check` (terraform's HCL parser: a syntax error fails it)
and python-hcl2, which parses the files into values this test checks.

    python3 -m unittest discover -s examples -p 'test_*.py'
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import hcl2

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unquote(v):
    """python-hcl2 keeps the quotes of string literals and of quoted keys."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == v[-1] == '"':
        return v[1:-1]
    if isinstance(v, dict):
        return {unquote(k): unquote(x) for k, x in v.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(v, list):
        return [unquote(x) for x in v]
    return v


def blocks(config, kind):
    """{label: body} of the labelled blocks of one kind (module, variable, output)."""
    out = {}
    for entry in config.get(kind, []):
        for label, body in unquote(entry).items():
            out[label] = body
    return out


def terraform(*args, cwd=HERE):
    env = dict(os.environ, TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    if not os.path.exists(env.get("TF_CLI_CONFIG_FILE", "")):
        env["TF_CLI_CONFIG_FILE"] = os.devnull
    return subprocess.run(["terraform", *args], cwd=cwd, env=env, capture_output=True, text=True)


class TerraformFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = sorted(glob.glob(os.path.join(HERE, "*.tf")))
        cls.config = {}
        for f in cls.files:
            with open(f) as fh:
                for kind, entries in hcl2.load(fh).items():
                    cls.config.setdefault(kind, []).extend(entries)
        cls.modules = blocks(cls.config, "module")
        cls.variables = blocks(cls.config, "variable")
        cls.outputs = blocks(cls.config, "output")

    def test_fmt_check(self):
        r = terraform("fmt", "-check", "-recursive", "-diff", ".")
        self.assertEqual(r.returncode, 0, "terraform fmt -check -recursive examples/eks:\n" + r.stdout + r.stderr)

    def test_fmt_rejects_a_syntax_error(self):
        # The check above is a parse: a broken copy fails it.
        d = tempfile.mkdtemp()
        try:
            shutil.copy(os.path.join(HERE, "main.tf"), d)
            with open(os.path.join(d, "main.tf"), "a") as fh:
                fh.write('\nmodule "broken" {\n  source = \n')
            r = terraform("fmt", "-check", ".", cwd=d)
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            shutil.rmtree(d)

    def default(self, name):
        self.assertIn(name, self.variables)
        return self.variables[name].get("default")

    def test_the_case_study_cluster(self):
        self.assertEqual(self.default("region"), "us-east-1")
        self.assertEqual(self.default("availability_zones"), ["us-east-1a", "us-east-1b", "us-east-1c"])
        self.assertEqual(self.default("node_instance_type"), "t3.medium")
        self.assertEqual(self.default("node_count"), 2)
        self.assertEqual(self.default("node_disk_size"), 20)
        # Amazon Linux: 2023, since EKS has no Amazon Linux 2 AMIs for the
        # Kubernetes versions Flux v2.9 supports (>= 1.33).
        self.assertEqual(self.default("node_ami_type"), "AL2023_x86_64_STANDARD")
        major, minor = (int(x) for x in self.default("kubernetes_version").split("."))
        self.assertGreaterEqual((major, minor), (1, 33))

        eks = self.modules["eks"]
        group = eks["eks_managed_node_groups"]["default"]
        self.assertEqual(group["ami_type"], "${var.node_ami_type}")
        self.assertEqual(group["instance_types"], ["${var.node_instance_type}"])
        for k in ("min_size", "max_size", "desired_size"):
            self.assertEqual(group[k], "${var.node_count}", k)
        self.assertEqual(group["disk_size"], "${var.node_disk_size}")
        # EKS honours disk_size only with its own launch template.
        self.assertIs(group["use_custom_launch_template"], False)
        self.assertEqual(eks["subnet_ids"], "${module.vpc.private_subnets}")
        self.assertEqual(eks["vpc_id"], "${module.vpc.vpc_id}")
        self.assertIs(eks["endpoint_public_access"], True)
        self.assertIs(eks["enable_cluster_creator_admin_permissions"], True)

        vpc = self.modules["vpc"]
        self.assertEqual(vpc["azs"], "${var.availability_zones}")
        self.assertEqual(vpc["public_subnet_tags"], {"kubernetes.io/role/elb": 1})

    def test_official_sources_at_pinned_versions(self):
        self.assertEqual(self.modules["vpc"]["source"], "terraform-aws-modules/vpc/aws")
        self.assertEqual(self.modules["eks"]["source"], "terraform-aws-modules/eks/aws")
        exact = re.compile(r"^\d+\.\d+\.\d+$")
        for name, m in self.modules.items():
            self.assertRegex(m.get("version", ""), exact, "module %s: pin an exact version" % name)
        providers = {}
        for tf in self.config.get("terraform", []):
            for rp in unquote(tf).get("required_providers", []):
                providers.update(rp)
        self.assertEqual(providers["aws"]["source"], "hashicorp/aws")
        for name, p in providers.items():
            self.assertRegex(p.get("version", ""), exact, "provider %s: pin an exact version" % name)

    def test_outputs(self):
        self.assertEqual(self.outputs["cluster_name"]["value"], "${module.eks.cluster_name}")
        self.assertEqual(self.outputs["update_kubeconfig_command"]["value"],
                         "aws eks update-kubeconfig --region ${var.region} --name ${module.eks.cluster_name}")

    def test_every_variable_used_is_declared(self):
        text = ""
        for f in self.files:
            with open(f) as fh:
                text += fh.read()
        used = set(re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)", text))
        self.assertEqual(used - set(self.variables), set())
        self.assertEqual(set(self.variables) - used, set(), "declared but unused")


if __name__ == "__main__":
    unittest.main()
