#!/usr/bin/env python3
"""Differential test of fluxs's kustomize engine against `kubectl kustomize` (the oracle).

Each seed composes a random kustomization tree (bases, an overlay, components, generators with behaviors and
options, strategic merge and JSON 6902 patches with selectors, namespace, prefixes and suffixes, commonLabels,
labels with includeSelectors/includeTemplates, configurations field specs, commonAnnotations, images, replicas,
name references across kinds and bases, replacements, vars, local-config objects, non-string metadata values,
sortOptions, a Component as the root, ...), builds it with `fluxs kustomize build` and `kubectl kustomize`, and compares the output
byte for byte; when kubectl fails, fluxs must fail too. The same seed always writes the same tree.

usage: tools/kustomize/differential.py [--seeds N] [--first S] [--jobs J] [--keep DIR] [--fluxs PATH] [-v]
Prints one line: `kustomize differential: N seeds, D differences (...)`; exits 1 when there is a difference.
"""
import argparse
import json
import concurrent.futures
import os
import random
import shutil
import subprocess
import sys
import tempfile

KUBECTL_TIMEOUT = 60


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def yaml_list(items, indent=""):
    return "".join("%s- %s\n" % (indent, i) for i in items)


class Case:
    """One random tree. Names are drawn from small pools so that references, patches and selectors hit."""

    def __init__(self, seed, root):
        self.r = random.Random(seed)
        # A second stream for the transformer rules added later (kaudit-t), so the trees the first stream drew
        # before stay as they were.
        self.t = random.Random(seed * 7919 + 17)
        # A third stream for the rules of the patch, vars and name reference audit (kdiff), and for lowering the
        # share of refused trees.
        self.u = random.Random(seed * 104729 + 31)
        # A fourth stream for `crds:` and `openapi:` (kdiff2).
        self.w = random.Random(seed * 15485863 + 7)
        # A fifth stream for the kind, group and version of configurations field specs (empty selects any).
        self.g = random.Random(seed * 32452843 + 11)
        self.root = root
        self.n_bases = self.r.randint(1, 3)
        self.resources = {}      # base -> list of (kind, name, text)
        self.generated = []      # (kind, name) of generators in bases
        self.kinds = []
        self.var_names = set()

    def pick(self, seq):
        return self.r.choice(seq)

    def chance(self, p):
        return self.r.random() < p

    # --- resources -------------------------------------------------------------------------------------------
    def labels(self, app):
        out = {"app": app}
        if self.chance(0.3):
            out["tier"] = self.pick(["web", "db", "cache"])
        return out

    def fmt_map(self, m, indent):
        return "".join("%s%s: %s\n" % (indent, k, v) for k, v in m.items())

    def deployment(self, name, cm, secret, sa, kind="Deployment"):
        app = name
        lbl = self.labels(app)
        img = self.pick(["nginx:1.25", "nginx", "busybox:1.36", "registry.example.com/team/api:v2", "redis@sha256:" + "a" * 64])
        body = "apiVersion: apps/v1\nkind: %s\nmetadata:\n  name: %s\n" % (kind, name)
        if self.chance(0.3):
            body += "  labels:\n" + self.fmt_map(lbl, "    ")
        if self.chance(0.2):
            body += "  annotations:\n    note: %s\n" % self.pick(["\"1\"", "'true'", "hello", "\"a: b\""])
        body += "spec:\n"
        if kind == "StatefulSet":
            body += "  serviceName: %s\n" % self.pick(self.service_names)
        if self.chance(0.5):
            body += "  replicas: %d\n" % self.r.randint(1, 4)
        body += "  selector:\n    matchLabels:\n" + self.fmt_map(lbl, "      ")
        body += "  template:\n    metadata:\n      labels:\n" + self.fmt_map(lbl, "        ")
        body += "    spec:\n"
        if sa and self.chance(0.6):
            body += "      serviceAccountName: %s\n" % sa
        if self.t.random() < 0.3:
            # selectors inside pod affinity terms and topology spread constraints (commonlabels.go, create: false)
            body += self.t.choice([
                "      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n"
                "          - topologyKey: zone\n            labelSelector:\n              matchLabels:\n                app: %s\n" % app,
                "      affinity:\n        podAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n"
                "          - weight: 1\n            podAffinityTerm:\n              topologyKey: zone\n              labelSelector:\n"
                "                matchLabels:\n                  app: %s\n" % app,
                "      topologySpreadConstraints:\n      - maxSkew: 1\n        topologyKey: zone\n        whenUnsatisfiable: DoNotSchedule\n"
                "        labelSelector:\n          matchLabels:\n            app: %s\n" % app,
            ])
        if self.t.random() < 0.15:
            # ephemeralContainers: no image filter reaches them
            body += "      ephemeralContainers:\n      - name: debug\n        image: %s\n" % self.t.choice(["nginx:1.25", "busybox"])
        body += "      containers:\n      - name: main\n        image: %s\n" % img
        if cm and self.chance(0.7):
            body += "        envFrom:\n        - configMapRef:\n            name: %s\n" % cm
        env = ""
        if secret and self.chance(0.5):
            env += "        - name: PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: %s\n              key: password\n" % secret
        if self.u.random() < 0.35:
            # $(VAR) in varReference fields (containers/env/value, args): escaped, embedded, typed, undefined
            for i in range(self.u.randint(1, 2)):
                env += "        - name: V%d\n          value: %s\n" % (self.u.randint(0, 49) * 2 + i, self.u.choice(
                    ["$(DEP_NAME)", "\"x-$(DEP_NAME)-y\"", "$$(DEP_NAME)", "$(SVC_PORT)", "$(UNDEFINED)", "\"$(DEP_NAME)$(CM_NAME)\"",
                     "$(CM_NAME)", "\"$(REPLICAS)\"", "\"a$(DEP_NAME\"", "\"$$$(CM_NAME)\"", "$(DEP_NS)"]))
        if env:
            body += "        env:\n" + env
        if self.u.random() < 0.15:
            body += "        args: [%s]\n" % self.u.choice(["\"--name=$(DEP_NAME)\", \"$(REPLICAS)\"", "\"$(CM_NAME)\"", "\"$(SVC_PORT)\", \"-v\""])
        if self.chance(0.4):
            body += "        ports:\n        - containerPort: %d\n          name: http\n" % self.pick([80, 8080])
        if self.chance(0.3):
            body += "      - name: sidecar\n        image: %s\n" % self.pick(["envoy:v1", "nginx:1.24", "busybox"])
        vols = []
        if cm and self.chance(0.5):
            vols.append("      - name: cfg\n        configMap:\n          name: %s\n" % cm)
        if secret and self.chance(0.4):
            vols.append("      - name: sec\n        secret:\n          secretName: %s\n" % secret)
        if vols:
            body += "      volumes:\n" + "".join(vols)
        return body

    def make_base_resources(self, b):
        items = []
        cms = ["settings", "app-config", "shared"]
        secrets = ["creds", "tls-keys"]
        self.service_names = ["web", "api", "db"]
        n = self.r.randint(1, 5)
        used = set()
        for i in range(n):
            kind = self.pick(["Deployment", "Deployment", "Service", "ConfigMap", "Secret", "ServiceAccount", "Role",
                              "RoleBinding", "StatefulSet", "CronJob", "HorizontalPodAutoscaler", "Ingress", "Widget",
                              "Namespace", "PersistentVolumeClaim", "Job"])
            name = "%s-b%d" % (self.pick(["web", "api", "db", "worker", "cache"]), b) if self.chance(0.7) else self.pick(["web", "api", "db"]) + "-b%d" % b
            if (kind, name) in used:
                continue
            used.add((kind, name))
            cm = self.pick(cms) if self.chance(0.8) else None
            sec = self.pick(secrets) if self.chance(0.6) else None
            sa = "runner" if self.chance(0.5) else None
            if kind in ("Deployment", "StatefulSet"):
                text = self.deployment(name, cm, sec, sa, kind)
            elif kind == "Service":
                text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  selector:\n    app: %s\n  ports:\n  - port: %d\n    targetPort: %s\n" % (
                    name, self.pick(["web-b%d" % b, "api-b%d" % b, name]), self.pick([80, 443, 8080]), self.pick(["http", "8080"]))
            elif kind == "ConfigMap":
                text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n" % self.pick(cms + [name])
                if self.chance(0.3):
                    text += "  annotations:\n    config.kubernetes.io/local-config: \"true\"\n"
                text += "data:\n  LEVEL: %s\n" % self.pick(["info", "debug", "\"3\"", "'on'"])
                name = text.split("name: ")[1].split("\n")[0]
                if ("ConfigMap", name) in [(k, n2) for k, n2, _ in items]:
                    continue
            elif kind == "Secret":
                sname = self.pick(secrets)
                if ("Secret", sname) in [(k, n2) for k, n2, _ in items]:
                    continue
                name = sname
                text = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\ntype: Opaque\ndata:\n  password: aHVudGVyMg==\n" % name
            elif kind == "ServiceAccount":
                name = "runner"
                if ("ServiceAccount", name) in [(k, n2) for k, n2, _ in items]:
                    continue
                text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: runner\n"
            elif kind == "Role":
                text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: %s\nrules:\n- apiGroups: [\"\"]\n  resources: [configmaps]\n  resourceNames: [%s]\n  verbs: [get]\n" % (name, self.pick(cms))
            elif kind == "RoleBinding":
                text = ("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: %s\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
                        "  kind: Role\n  name: %s\nsubjects:\n- kind: ServiceAccount\n  name: runner\n" % (name, self.pick(["web-b%d" % b, "api-b%d" % b, name])))
                if self.chance(0.4):
                    text += "  namespace: %s\n" % self.pick(["default", "other"])
            elif kind == "CronJob":
                text = ("apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: %s\nspec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n"
                        "      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: job\n            image: busybox\n" % name)
                if cm:
                    text += "            envFrom:\n            - configMapRef:\n                name: %s\n" % cm
            elif kind == "Job":
                text = ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n"
                        "      containers:\n      - name: job\n        image: busybox:1.36\n" % name)
            elif kind == "HorizontalPodAutoscaler":
                text = ("apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: %s\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n"
                        "    kind: Deployment\n    name: %s\n  minReplicas: 1\n  maxReplicas: 3\n" % (name, self.pick(["web-b%d" % b, "api-b%d" % b, "worker-b%d" % b])))
            elif kind == "Ingress":
                text = ("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: %s\nspec:\n  rules:\n  - host: example.com\n    http:\n      paths:\n"
                        "      - path: /\n        pathType: Prefix\n        backend:\n          service:\n            name: %s\n            port:\n              number: 80\n" % (name, self.pick(["web-b%d" % b, "api-b%d" % b])))
                if self.chance(0.5):
                    text += "  tls:\n  - secretName: tls-keys\n    hosts: [example.com]\n"
            elif kind == "Widget":
                text = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: %s\nspec:\n  size: %d\n  configRef: %s\n  selector:\n    app: %s\n" % (
                    name, self.r.randint(1, 9), self.pick(cms), name)
                if self.t.random() < 0.4:
                    text += "  items:\n  - name: one\n"
                self.kinds.append("Widget")
            elif kind == "Namespace":
                name = self.pick(["team-a", "team-b"])
                if ("Namespace", name) in [(k, n2) for k, n2, _ in items]:
                    continue
                text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n" % name
            elif kind == "PersistentVolumeClaim":
                text = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: %s\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n" % name
            if self.chance(0.15) and "metadata:\n  name:" in text and "  labels:" not in text.split("spec:")[0]:
                # a label value that is not a string in the source (kustomize keeps the YAML scalar as written)
                text = text.replace("metadata:\n  name: %s\n" % name, "metadata:\n  name: %s\n  labels:\n    version: %s\n" % (name, self.pick(["\"2\"", "v1", "'3'"])), 1)
            if self.u.random() < 0.12 and "metadata:\n  name: %s\n" % name in text and "  annotations:" not in text.split("spec:")[0]:
                # annotation values that are not strings (kustomize writes every annotation back as a string at the
                # end), and label values that are not strings (kept as written)
                text = text.replace("metadata:\n  name: %s\n" % name, "metadata:\n  name: %s\n  annotations:\n%s" % (name, "".join(
                    "    %s\n" % a for a in self.u.sample(["rev: 3", "on: true", "ratio: 1.50", "hex: 0x1F", "empty:", "tilde: ~",
                                                          "text: plain", "quoted: \"7\""], self.u.randint(1, 3)))), 1)
            if self.u.random() < 0.08 and "metadata:\n  name: %s\n" % name in text and "  labels:" not in text.split("spec:")[0]:
                text = text.replace("metadata:\n  name: %s\n" % name, "metadata:\n  name: %s\n  labels:\n    gen: %s\n" % (
                    name, self.u.choice(["2", "true", "1.0"])), 1)
            if self.u.random() < 0.05 and kind in ("Service", "Deployment", "Role") and "  annotations:" not in text.split("spec:")[0]:
                # config.kubernetes.io/local-config on other kinds: built (a name reference source), then dropped
                text = text.replace("metadata:\n  name: %s\n" % name, "metadata:\n  name: %s\n  annotations:\n    config.kubernetes.io/local-config: \"%s\"\n" % (
                    name, self.u.choice(["true", "false"])), 1)
            items.append((kind, name, text))
        if self.t.random() < 0.3:
            # kinds named like built-in ones in other API groups or versions (the default label and annotation
            # field specs name groups and versions), and types kustomize does not know to be cluster-scoped
            av, kind = self.t.choice([("example.com/v1", "Job"), ("example.com/v1", "StatefulSet"), ("example.com/v2", "Service"),
                                      ("example.com/v1", "PodDisruptionBudget"), ("cert-manager.io/v1", "ClusterIssuer"),
                                      ("rbac.authorization.k8s.io/v1alpha1", "ClusterRole"), ("batch/v1", "Job"),
                                      ("example.com/v1", "APIService")])
            name = "other-b%d" % b
            text = "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\nspec:\n" % (av, kind, name)
            text += self.t.choice(["  selector:\n    matchLabels:\n      app: other\n", "  template:\n    metadata:\n      labels:\n        app: other\n",
                                   "  template: {}\n", "  selector: {}\n"])
            if kind == "Job" and av == "batch/v1":
                text = ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: %s\nspec:\n  selector:\n    matchLabels:\n      app: other\n  template:\n"
                        "    spec:\n      restartPolicy: Never\n      containers:\n      - name: job\n        image: busybox\n" % name)
            items.append(("other-" + kind, name, text))
        return items

    # --- kustomization fields --------------------------------------------------------------------------------
    def generator(self, kind, name, d, behavior=None):
        g = "- name: %s\n" % name
        if behavior:
            g += "  behavior: %s\n" % behavior
        lits = []
        for _ in range(self.r.randint(0, 3)):
            k = self.pick(["LEVEL", "MODE", "COLOR", "PORT", "ENABLED"])
            v = self.pick(["info", "debug", "3", "true", "a=b", "\"quoted\"", "x y", "'single'"])
            if k not in [x.split("=")[0] for x in lits]:
                lits.append("%s=%s" % (k, v))
        if self.chance(0.04) and self.u.random() < 0.3:
            lits.append(self.pick(["=v", "novalue"]))  # invalid literal sources
        if lits:
            g += "  literals:\n" + "".join("  - %s\n" % json.dumps(l) for l in lits)
        if self.chance(0.5):
            fname = self.pick(["app.properties", "config.json", "script.sh"])
            content = self.pick(["a=1\nb=2\n", "{\"key\": \"value\"}\n", "#!/bin/sh\necho hi\n", "line without newline", "tab\there\n"])
            if self.chance(0.15):
                content = "bin\x00\xff\xfedata\n"
                fname = "blob.bin"
            path = os.path.join(d, "files", "%s-%s" % (name, fname))
            write(path, content.encode("latin-1"), mode="wb")
            key = fname if self.chance(0.7) else "renamed-" + fname
            entry = "%s=files/%s-%s" % (key, name, fname)
            g += "  files:\n  - %s\n" % entry
        if self.chance(0.3):
            path = os.path.join(d, "%s.env" % name)
            env = self.pick(["A=1\nB=two\n", "# comment\nX=y\n\nZ=\"q\"\n", "EMPTY=\nK=v=w\n"])
            if self.chance(0.3):
                # api/kv edge cases: CRLF, no '=', a BOM, leading Unicode white space, an empty key, no final newline,
                # invalid UTF-8 (an error)
                env = self.pick(["A=1\r\nB=2\r\n", "NOVALUE\nK=v\n", "\ufeffA=1\n", "\u000b\u00a0C=3  \n=skip\n", "D=a=b",
                                 "X=\udcff\n"])
                if env == "X=\udcff\n" and self.u.random() < 0.6:
                    env = "X=\u00ff\n"
            write(path, env.encode("utf-8", "surrogateescape"), mode="wb")
            g += "  envs:\n  - %s.env\n" % name
        if not lits and "files:" not in g and "envs:" not in g:
            g += "  literals:\n  - K=v\n"
        if kind == "Secret" and self.chance(0.3):
            g += "  type: %s\n" % self.pick(["Opaque", "kubernetes.io/basic-auth"])
        if self.chance(0.3):
            g += "  options:\n"
            if self.chance(0.5):
                g += "    disableNameSuffixHash: %s\n" % self.pick(["true", "false"])
            if self.chance(0.5):
                g += "    labels:\n      generated: \"yes\"\n"
            if self.chance(0.3):
                g += "    annotations:\n      note: gen\n"
            if g.endswith("  options:\n"):
                g += "    immutable: true\n"
        return g

    def patches(self, d, resources):
        out = []
        targets = [(k, n) for k, n, _ in resources if k in ("Deployment", "StatefulSet", "Service", "ConfigMap", "Widget")]
        if not targets:
            return out
        for i in range(self.r.randint(1, 2)):
            kind, name = self.pick(targets)
            style = self.pick(["smp-inline", "smp-file", "json-inline", "json-target-regex", "smp-label-target", "psm"])
            group = {"Deployment": "apps", "StatefulSet": "apps", "Widget": "example.com"}.get(kind, "")
            version = {"Widget": "v1", "Service": "v1", "ConfigMap": "v1"}.get(kind, "v1")
            av = (group + "/" + version) if group else version
            if kind in ("Deployment", "StatefulSet"):
                smp = "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\nspec:\n  template:\n    spec:\n      containers:\n      - name: main\n        image: %s\n" % (
                    av, kind, name, self.pick(["nginx:1.26", "busybox:1.37"]))
                if self.chance(0.4):
                    smp = "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n" % (av, kind, name, self.r.randint(2, 9))
                ops = "- op: %s\n  path: /spec/replicas\n  value: %d\n" % (self.pick(["replace", "add"]), self.r.randint(2, 9))
            elif kind == "Service":
                smp = "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  annotations:\n    patched: \"true\"\n" % name
                ops = "- op: add\n  path: /metadata/annotations\n  value:\n    patched: json\n"
            elif kind == "ConfigMap":
                smp = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  PATCHED: \"yes\"\n" % name
                ops = "- op: add\n  path: /data/PATCHED\n  value: json\n"
            else:
                smp = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: %s\nspec:\n  size: 42\n" % name
                ops = "- op: replace\n  path: /spec/size\n  value: 7\n"
            if style == "smp-inline":
                out.append(("patches", "- patch: |-\n%s" % "".join("    " + l + "\n" for l in smp.rstrip("\n").split("\n"))))
            elif style == "smp-file":
                fn = "patch-%d.yaml" % i
                write(os.path.join(d, fn), smp)
                out.append(("patches", "- path: %s\n" % fn))
            elif style == "psm":
                fn = "psm-%d.yaml" % i
                write(os.path.join(d, fn), smp)
                out.append(("patchesStrategicMerge", "- %s\n" % fn))
            elif style == "json-inline":
                out.append(("patches", "- target:\n    kind: %s\n    name: %s\n  patch: |-\n%s" % (kind, name, "".join("    " + l + "\n" for l in ops.rstrip("\n").split("\n")))))
            elif style == "json-target-regex":
                out.append(("patches", "- target:\n    kind: %s\n    name: \"%s.*\"\n  patch: |-\n%s" % (kind, name.split("-")[0], "".join("    " + l + "\n" for l in ops.rstrip("\n").split("\n")))))
            else:
                sel = self.pick(["app=%s" % name, "app in (web-b0,api-b0)", "tier"])
                body = smp.replace("metadata:\n  name: %s\n" % name, "metadata:\n  name: ignored\n")
                out.append(("patches", "- target:\n    kind: %s\n    labelSelector: \"%s\"\n  patch: |-\n%s" % (kind, sel, "".join("    " + l + "\n" for l in body.rstrip("\n").split("\n")))))
        if self.u.random() < 0.6:
            out.append(self.audit_patch(d, resources, targets))
        return out

    def audit_patch(self, d, resources, targets):
        """Patch rules of the kdiff audit: $patch directives and list merge keys, JSON 6902 operations and their errors,
        targets by current or original name, namespace ("default" is an object without one), annotation selectors,
        group and version regexes, allowNameChange/allowKindChange, patchesJson6902."""
        u = self.u
        kind, name = u.choice(targets)
        group = {"Deployment": "apps", "StatefulSet": "apps", "Widget": "example.com"}.get(kind, "")
        av = (group + "/v1") if group else "v1"
        prefix = u.choice(["", "", "p9-", "team-", "x"])  # a current name after a prefix, or the original one
        def ind(text, n=4):
            return "".join(" " * n + l + "\n" for l in text.rstrip("\n").split("\n"))
        head = "apiVersion: %s\nkind: %s\nmetadata:\n  name: %s\n" % (av, kind, name)
        if kind in ("Deployment", "StatefulSet"):
            smp = head + u.choice([
                "spec:\n  template:\n    spec:\n      containers:\n      - name: main\n        env:\n        - name: EXTRA\n          value: \"1\"\n",
                "spec:\n  template:\n    spec:\n      containers:\n      - name: added\n        image: busybox\n",
                "spec:\n  template:\n    spec:\n      containers:\n      - name: sidecar\n        $patch: delete\n",
                "spec:\n  template:\n    spec:\n      containers:\n      - name: main\n        ports:\n        - containerPort: 80\n          name: web\n",
                "spec:\n  template:\n    spec:\n      $patch: replace\n      containers:\n      - name: only\n        image: nginx\n",
                "spec:\n  replicas: null\n  template:\n    metadata:\n      labels:\n        patched: \"yes\"\n",
                "spec:\n  template:\n    spec:\n      volumes:\n      - name: cfg\n        $patch: delete\n      - name: extra\n        emptyDir: {}\n",
                "$patch: delete\n",
                "  labels:\n    $patch: replace\n    only: one\n",
                "spec:\n  template:\n    spec:\n      containers:\n      - $patch: replace\n      - name: main\n        image: replaced\n",
            ])
            ops = u.choice([
                "- op: add\n  path: /spec/template/spec/containers/-\n  value:\n    name: appended\n    image: busybox\n",
                "- op: copy\n  from: /spec/template/spec/containers/0/image\n  path: /metadata/annotations\n",
                "- op: move\n  from: /spec/selector\n  path: /spec/moved\n",
                "- op: test\n  path: /kind\n  value: %s\n- op: remove\n  path: /spec/template/spec/containers/0/image\n" % kind,
                "- op: test\n  path: /spec/replicas\n  value: 3\n",
                "- op: remove\n  path: /spec/replicas\n",
                "- op: replace\n  path: /spec/template/spec/containers/5/image\n  value: x\n",
                "- op: add\n  path: /spec/template/spec/containers/0/args\n  value: [a, \"1\", 2]\n",
                "- op: add\n  path: /metadata/labels/with~1slash\n  value: v\n",
            ])
        elif kind == "Service":
            smp = head + u.choice(["spec:\n  ports:\n  - port: 80\n    name: renamed\n", "spec:\n  selector:\n    $patch: replace\n    app: only\n",
                                   "spec:\n  ports:\n  - port: 9999\n    targetPort: 1\n", "spec:\n  type: NodePort\n"])
            ops = u.choice(["- op: add\n  path: /spec/ports/0/nodePort\n  value: 30080\n", "- op: replace\n  path: /spec/selector\n  value: {a: b}\n",
                            "- op: remove\n  path: /spec/clusterIP\n"])
        elif kind == "ConfigMap":
            smp = head + u.choice(["data:\n  LEVEL: null\n  NEW: \"2\"\n", "data:\n  $patch: replace\n  ONLY: x\n", "data:\n  N: 5\n"])
            ops = u.choice(["- op: add\n  path: /data/n\n  value: 5\n", "- op: move\n  from: /data/LEVEL\n  path: /data/MOVED\n",
                            "- op: add\n  path: /binaryData\n  value:\n    b: aGk=\n"])
        else:
            smp = head + u.choice(["spec:\n  items:\n  - name: two\n", "spec:\n  selector: null\n", "spec:\n  size: \"big\"\n"])
            ops = u.choice(["- op: add\n  path: /spec/items\n  value: []\n", "- op: replace\n  path: /spec/size\n  value: {n: 1}\n"])
        style = u.choice(["smp", "smp", "smp-target", "json", "json", "json6902-field", "rename", "kind-change"])
        tname = u.choice([name, prefix + name, name.split("-")[0] + ".*", name.upper()])
        target = "  target:\n"
        if u.random() < 0.8:
            target += "    kind: %s\n" % u.choice([kind, kind, kind[:3] + ".*"])
        if u.random() < 0.8:
            target += "    name: %s\n" % tname
        if u.random() < 0.25:
            target += "    namespace: %s\n" % u.choice(["default", "prod", "staging", "team-a", "pr.*"])
        if u.random() < 0.2:
            target += "    group: %s\n" % u.choice([group or '""', "app.*", "example.com"])
        if u.random() < 0.15:
            target += "    version: %s\n" % u.choice(["v1", "v.*", "v2"])
        if u.random() < 0.1:
            target += "    annotationSelector: %s\n" % u.choice(["note", "note=hello", "!team", "rev"])
        if target == "  target:\n":
            target += "    kind: %s\n" % kind
        target = "-" + target[1:]  # the list item
        if style == "smp":
            if u.random() < 0.3:
                smp = smp.replace("  name: %s\n" % name, "  name: %s\n  namespace: %s\n" % (name, u.choice(["default", "prod", "other"])), 1)
            if u.random() < 0.05:
                smp = smp.replace("apiVersion: %s\n" % av, "", 1)  # no apiVersion: no object has that id
            return ("patches", "- patch: |-\n" + ind(smp))
        if style == "smp-target":
            return ("patches", target + "  patch: |-\n" + ind(smp))
        if style == "json":
            return ("patches", target + "  patch: |-\n" + ind(ops))
        if style == "json6902-field":
            fn = "j6902-%d.yaml" % u.randint(0, 999)
            write(os.path.join(d, fn), ops)
            t = "- target:\n    group: %s\n    version: v1\n    kind: %s\n    name: %s\n  path: %s\n" % (group, kind, tname, fn)
            return ("patchesJson6902", t.replace("    group: \n", ""))
        if style == "rename":
            body = head.replace("name: %s\n" % name, "name: %s\n" % u.choice(["renamed", name + "-new"]))
            opts = u.choice(["  options:\n    allowNameChange: true\n", "  options:\n    allowNameChange: false\n", ""])
            return ("patches", target + opts + "  patch: |-\n" + ind(body + "metadata:\n  labels:\n    renamed: \"yes\"\n".replace("metadata:\n", "", 1)))
        body = head.replace("kind: %s\n" % kind, "kind: %s\n" % u.choice(["Other", kind + "Copy"]))
        opts = u.choice(["  options:\n    allowKindChange: true\n", "  options:\n    allowKindChange: true\n    allowNameChange: true\n", ""])
        return ("patches", target + opts + "  patch: |-\n" + ind(body))

    def patch_fields(self, patches):
        """One key per field (a repeated key in a kustomization: the last one wins)."""
        fields = {}
        for field, text in patches:
            fields.setdefault(field, []).append(text)
        return "".join("%s:\n%s" % (f, "".join(t)) for f, t in fields.items())

    def vars_block(self, d, resources, level):
        """vars (third stream): names, fieldrefs of several types (a map value leaves $(VAR) as it is), objects in
        other bases, missing objects and fields, a name declared twice, varReference configurations."""
        u = self.u
        if (level and u.random() >= 0.2):
            return ""
        deps = [(n, t) for kk, n, t in resources if kk == "Deployment"]
        # a base's vars name its own objects (one from elsewhere, rarely: "cannot be mapped")
        gen = self.generated if not level or u.random() < 0.1 else self.generated_here
        cms = [n for kk, n, _ in resources if kk == "ConfigMap"] + [n for kk, n in gen if kk == "ConfigMap"]
        svcs = [n for kk, n, _ in resources if kk == "Service"]
        out = []
        def vn(base):
            # a name declared before (in another base) is taken again rarely: "var ... already encountered"
            name = base if base not in self.var_names or u.random() < 0.1 else base + level + "X"
            self.var_names.add(name)
            return name
        if deps:
            n, t = u.choice(deps)
            out.append("- name: %s\n  objref:\n    kind: Deployment\n    name: %s\n    apiVersion: apps/v1\n" % (vn("DEP_NAME"), n))
            if u.random() < 0.5:
                field = u.choice(["spec.replicas", "spec.template.spec.containers[0].image", "spec.selector",
                                  "metadata.namespace", "spec.template.spec.containers[0].name", "spec.missing"])
                if field in ("spec.missing", "metadata.namespace") and u.random() < 0.7:
                    field = "metadata.name"  # a field the object lacks: "not found in corresponding resource"
                if field == "spec.replicas" and "replicas:" not in t and u.random() < 0.8:
                    field = "metadata.name"
                out.append("- name: %s\n  objref:\n    kind: Deployment\n    name: %s\n    apiVersion: apps/v1\n  fieldref:\n    fieldpath: %s\n" % (
                    vn(u.choice(["REPLICAS", "DEP_NS"])), n, field))
        if cms and u.random() < 0.6:
            out.append("- name: %s\n  objref:\n    kind: ConfigMap\n    name: %s\n    apiVersion: v1\n" % (vn("CM_NAME"), u.choice(cms)))
        if svcs and u.random() < 0.5:
            out.append("- name: SVC_PORT%s\n  objref:\n    kind: Service\n    name: %s\n    apiVersion: v1\n  fieldref:\n    fieldpath: spec.ports[0].port\n" % (
                vn("SVC_PORT"), u.choice(svcs)))
        if u.random() < 0.04:
            out.append("- name: MISSING\n  objref:\n    kind: Secret\n    name: nothing\n    apiVersion: v1\n")
        if not out:
            return ""
        if not level and u.random() < 0.2:
            write(os.path.join(d, "config", "varref.yaml"), "varReference:\n- kind: ConfigMap\n  path: data\n- path: metadata/annotations\n"
                  "- kind: Widget\n  path: spec/configRef\n")
            return "vars:\n" + "".join(out) + "configurations:\n- config/varref.yaml\n"
        return "vars:\n" + "".join(out)

    def transformers_block(self, d, resources, level):
        """Fields shared by bases and overlays: prefix/suffix, namespace, labels, annotations, images, replicas."""
        k = ""
        if self.chance(0.4):
            k += "namePrefix: %s\n" % self.pick(["p%d-" % level, "team-", "x"])
        if self.chance(0.3):
            k += "nameSuffix: %s\n" % self.pick(["-s%d" % level, "-v2"])
        if self.chance(0.4):
            k += "namespace: %s\n" % self.pick(["prod", "staging", "team-a"])
        if self.chance(0.3):
            k += "commonLabels:\n  owner: %s\n" % self.pick(["me", "platform", "\"42\""])
        if self.chance(0.35):
            k += "labels:\n- pairs:\n    stage: %s\n" % self.pick(["one", "two"])
            if self.chance(0.5):
                k += "  includeSelectors: %s\n" % self.pick(["true", "false"])
            if self.chance(0.5):
                k += "  includeTemplates: %s\n" % self.pick(["true", "false"])
            if self.chance(0.3):
                k += "  fields:\n  - kind: Widget\n    path: spec/selector\n    create: true\n"
        if self.chance(0.3):
            k += "commonAnnotations:\n  team: %s\n" % self.pick(["blue", "\"7\"", "'true'"])
        if self.chance(0.3):
            k += "images:\n- name: %s\n" % self.pick(["nginx", "busybox", "registry.example.com/team/api", "redis"])
            for f, v in (("newName", self.pick(["mirror.example.com/nginx", "ghcr.io/x/y"])), ("newTag", self.pick(["\"1.27\"", "latest", "v3"])),
                         ("digest", "sha256:" + "b" * 64)):
                if self.chance(0.4):
                    k += "  %s: %s\n" % (f, v)
            if self.t.random() < 0.25:
                # tagSuffix (appended twice to pod template images, as kustomize's two image filters do)
                k += "  tagSuffix: %s\n" % self.t.choice(["-debug", "_x"])
        if self.t.random() < 0.15:
            # an image name with its tag (image.IsImageMatched: name, optional tag, optional sha256 digest)
            k += "images:\n" if "images:" not in k else ""
            k += "- name: %s\n  newTag: \"%s\"\n" % (self.t.choice(["nginx:1.25", "busybox:1.36", "nginx:1.24"]), self.t.choice(["9", "edge"]))
        if self.chance(0.25):
            names = [n for kk, n, _ in resources if kk in ("Deployment", "StatefulSet")]
            if names:
                k += "replicas:\n- name: %s\n  count: %d\n" % (self.pick(names), self.r.randint(0, 5))
        if "replicas:" not in k and self.t.random() < 0.03:
            # a replicas entry that names no workload: kustomize refuses it (ReplicaCountTransformer)
            k += "replicas:\n- name: %s\n  count: 2\n" % self.t.choice(["missing", "settings"])
        return k

    def widget_fields(self, items):
        """Fields a `crds:` file can describe (fourth stream): a secret reference, notes, an owner name."""
        if self.w.random() >= 0.5:
            return items
        extra = "  secretRef:\n    name: %s\n    ref: tls-keys\n  notes:\n    n: \"1\"\n  owner: %s\n" % (
            self.w.choice(["creds", "tls-keys"]), self.w.choice(["web-b0", "settings"]))
        return [(k, n, t.replace("spec:\n", "spec:\n" + extra, 1) if k == "Widget" else t) for k, n, t in items]

    def crds_block(self, d, level):
        """`crds:` (api/internal/accumulator/loadconfigfromcrds.go): OpenAPI definitions of the Widget type whose
        properties carry x-kubernetes-annotation, -label-selector, -identity and -object-ref-* extensions (only
        string values count), followed through `$ref`; type names must be dotted (group.version.kind); JSON or YAML;
        a missing file."""
        w = self.w
        if w.random() >= (0.3 if "Widget" in self.kinds else 0.05):
            return ""
        fn = "crds/widget-%s.%s" % (level, w.choice(["json", "yaml"]))
        if w.random() < 0.01:
            return "crds:\n- crds/missing.json\n"
        def ext():
            return w.choice(["", "", "", "x", True, 1])
        tname = w.choice(["example.com.v1.Widget"] * 5 + ["Widget", "io.example.com.v1.Widget"])
        sname = w.choice(["example.com.v1.WidgetSpec", "WidgetSpec"])
        spec = {}
        if w.random() < 0.6:
            spec["selector"] = {"type": "object", "x-kubernetes-label-selector": ext()}
        if w.random() < 0.6:
            spec["notes"] = {"type": "object", "x-kubernetes-annotation": ext()}
        if w.random() < 0.6:
            ref = {"type": "object", "x-kubernetes-object-ref-kind": w.choice(["Secret", "Secret", "ConfigMap"])}
            if w.random() < 0.9:
                ref["x-kubernetes-object-ref-api-version"] = w.choice(["v1", "v1", "v1", "", "v2"])
            if w.random() < 0.4:
                ref["x-kubernetes-object-ref-name-key"] = w.choice(["name", "ref", "ref", 7])
            spec["secretRef"] = ref
        if w.random() < 0.5:
            spec["owner"] = {"type": "string", "x-kubernetes-identity": ext()}
        if w.random() < 0.07:
            # an object reference under a string field: the name reference walk meets a scalar (refused)
            spec["configRef"] = {"type": "string", "x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "ConfigMap"}
        props = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "spec": {"$ref": sname}}
        if w.random() < 0.9:
            props["metadata"] = {"type": "object"}
        doc = {tname: {"Schema": {"type": "object", "properties": props}, "Dependencies": [sname]},
               sname: {"Schema": {"type": "object", "properties": spec}}}
        if w.random() < 0.3:
            # properties written directly on the type (no $ref): kustomize does not look into them
            doc[tname]["Schema"]["properties"]["spec"] = {"type": "object", "properties": spec}
        write(os.path.join(d, fn), json.dumps(doc, indent=2) + "\n" if fn.endswith(".json") else self.to_yaml(doc))
        return "crds:\n- %s\n" % fn

    def to_yaml(self, v, indent=""):
        """A small YAML writer for the crds and openapi documents (maps, lists, strings, numbers, booleans)."""
        if isinstance(v, dict):
            if not v:
                return "{}\n"
            out = ""
            for k, x in v.items():
                key = json.dumps(k) if k.startswith("$") or k[:1].isdigit() else k
                if isinstance(x, (dict, list)) and x:
                    out += "%s%s:\n%s" % (indent, key, self.to_yaml(x, indent + "  "))
                else:
                    out += "%s%s: %s" % (indent, key, self.to_yaml(x, indent + "  "))
            return out
        if isinstance(v, list):
            if not v:
                return "[]\n"
            return "".join("%s- %s" % (indent, self.to_yaml(x, indent + "  ").lstrip(" ")) for x in v)
        return json.dumps(v) + "\n"

    def openapi_block(self, d, level):
        """`openapi:` (kyaml/openapi SetSchema): the top kustomization's wins, else the first reached in load order;
        a custom schema (path) replaces the built-in one for strategic merge patches (its own types' lists merge by
        their x-kubernetes-patch-merge-key), a version must be built in, both at once is refused; a later level's
        schema file is still read."""
        w = self.w
        if w.random() >= (0.12 if level == "top" else 0.05):
            return ""
        x = w.random()
        style = "path" if x < 0.5 else "version" if x < 0.8 else w.choice(["both", "badversion", "missing"])
        if style == "version":
            return "openapi:\n  version: v1.21.2\n"
        if style == "badversion":
            return "openapi:\n  version: v1.99.0\n"
        if style == "missing":
            return "openapi:\n  path: schema/missing.json\n"
        defs = {}
        if w.random() < 0.8:
            defs["com.example.v1.Widget"] = {
                "type": "object",
                "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Widget", "version": "v1"}],
                "properties": {"spec": {"type": "object", "properties": {"items": {
                    "type": "array", "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge",
                    "items": {"type": "object"}}}}}}
        if w.random() < 0.3:
            defs["io.k8s.api.apps.v1.Deployment"] = {
                "type": "object",
                "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}],
                "properties": {"spec": {"type": "object"}}}
        fn = "schema/%s.%s" % (level, w.choice(["json", "yaml"]))
        doc = {"definitions": defs}
        write(os.path.join(d, fn), json.dumps(doc, indent=2) + "\n" if fn.endswith(".json") else self.to_yaml(doc))
        out = "openapi:\n  path: %s\n" % fn
        if style == "both":
            out += "  version: v1.21.2\n"
        return out

    def write_base(self, b):
        d = os.path.join(self.root, "base%d" % b)
        items = self.widget_fields(self.make_base_resources(b))
        self.resources[b] = items
        files = []
        if self.chance(0.3) and len(items) > 1:
            docs = [t for _, _, t in items]
            if self.chance(0.3):
                # a List (its items go to the end of the file, keys sorted), empty documents
                docs = ["apiVersion: v1\nkind: List\nitems:\n" + "".join("- " + t.rstrip("\n").replace("\n", "\n  ") + "\n" for t in docs[:2])] + docs[2:]
            if self.chance(0.3):
                docs.insert(self.r.randint(0, len(docs)), self.pick(["{}\n", "", "# only a comment\n", "[]\n"]))
            write(os.path.join(d, "all.yaml"), "---\n".join(docs))
            files = ["all.yaml"]
        else:
            for i, (kind, name, text) in enumerate(items):
                fn = "%s-%s.yaml" % (kind.lower(), name)
                write(os.path.join(d, fn), text)
                files.append(fn)
        if self.g.random() < 0.08:
            # an object whose label or annotation fields are not mappings where a transformer's field spec walks
            # (kustomize refuses: "expected sequence or mapping node", "wrong node kind: expected MappingNode ...").
            # Not drawn: annotations that are not a mapping (kustomize reads `[a, b]` as {a: b}, or panics; a rename
            # stores the previous name in an internal annotation and so replaces a scalar `5` by a mapping).
            write(os.path.join(d, "odd.yaml"), self.g.choice([
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: odd-b%d\n  labels: plain\n",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: odd-b%d\n  labels: null\n  annotations: ~\n",
                "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: odd-b%d\nspec: none\n",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: odd-b%d\nspec: none\n",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: odd-b%d\nspec:\n  volumeClaimTemplates:\n  - metadata: 5\n",
                "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: odd-b%d\nspec:\n  volumeClaimTemplates:\n  - metadata: {labels: x}\n",
            ]) % b)
            files.append("odd.yaml")
        k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + yaml_list(files)
        k += self.transformers_block(d, items, b)
        gens = {"configMapGenerator": [], "secretGenerator": []}
        self.generated_here = []
        if self.chance(0.6):
            name = self.pick(["settings", "app-config", "shared"])
            fresh = [n for n in ["settings", "app-config", "shared"] if ("ConfigMap", n) not in self.generated]
            if ("ConfigMap", name) in self.generated and fresh and self.u.random() < 0.8:
                name = self.u.choice(fresh)  # one name in two bases: an overlay merge is refused
            if ("ConfigMap", name) not in [(kk, n) for kk, n, _ in items]:
                gens["configMapGenerator"].append(self.generator("ConfigMap", name, d))
                self.generated.append(("ConfigMap", name))
                self.generated_here.append(("ConfigMap", name))
        if self.chance(0.3):
            name = self.pick(["creds", "tls-keys"])
            if ("Secret", name) not in [(kk, n) for kk, n, _ in items]:
                gens["secretGenerator"].append(self.generator("Secret", name, d))
                self.generated.append(("Secret", name))
        for key, gl in gens.items():
            if gl:
                k += key + ":\n" + "".join(gl)
        k += self.patch_fields(self.patches(d, items) if self.chance(0.5) else [])
        k += self.vars_block(d, items, "B%d" % b)
        k += self.crds_block(d, "b%d" % b)
        k += self.openapi_block(d, "b%d" % b)
        write(os.path.join(d, "kustomization.yaml"), k)
        return "base%d" % b

    def write_component(self, root=False):
        d = os.path.join(self.root, "comp")
        k = "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        res = []
        if self.chance(0.5):
            write(os.path.join(d, "extra.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-component\ndata:\n  A: b\n")
            res.append("extra.yaml")
        if root and self.u.random() < 0.7:
            res.append("../base0")  # a Component built as the root, with a base
        if res:
            k += "resources:\n" + yaml_list(res)
        if root and self.u.random() < 0.5:
            k += self.u.choice(["labels:\n- pairs:\n    comp: root\n  includeSelectors: true\n", "namespace: comp-ns\n", "nameSuffix: -c\n",
                                "images:\n- name: nginx\n  newTag: \"1.0\"\n"])
        if self.chance(0.5):
            k += "configMapGenerator:\n" + self.generator("ConfigMap", "comp-gen", d)
        if self.chance(0.4):
            k += "commonAnnotations:\n  component: \"on\"\n"
        if self.chance(0.4):
            k += "patches:\n- target:\n    kind: Deployment\n  patch: |-\n    - op: add\n      path: /metadata/annotations\n      value:\n        comp: patched\n"
        if k.endswith("Component\n"):
            k += "namePrefix: c-\n"
        write(os.path.join(d, "kustomization.yaml"), k)

    def write_overlay(self, bases):
        d = os.path.join(self.root, "overlay")
        all_items = [it for b in self.resources.values() for it in b]
        k = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n" + yaml_list("../" + b for b in bases)
        extra = []
        if self.chance(0.4):
            write(os.path.join(d, "local.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: overlay-local\n  labels:\n    app: overlay\ndata:\n  X: \"1\"\n")
            extra.append("local.yaml")
        k += yaml_list(extra)
        if self.chance(0.3):
            self.write_component()
            k += "components:\n- ../comp\n"
        k += self.transformers_block(d, all_items, 9)
        if self.generated and self.chance(0.5):
            kind, name = self.pick(self.generated)
            unique = [g for g in self.generated if self.generated.count(g) == 1]
            if self.generated.count((kind, name)) > 1 and unique and self.u.random() < 0.85:
                kind, name = self.u.choice(unique)  # more than one object could accept the merge: refused
            field = "configMapGenerator" if kind == "ConfigMap" else "secretGenerator"
            behavior = self.pick(["merge", "replace", "merge", "replace", "create", "Merge"])
            if behavior in ("create", "Merge") and self.u.random() < 0.85:
                behavior = self.u.choice(["merge", "replace"])  # create of an existing name: refused
            k += field + ":\n" + self.generator(kind, name, d, behavior=behavior)
        elif self.chance(0.3):
            k += "configMapGenerator:\n" + self.generator("ConfigMap", "overlay-gen", d)
        if self.chance(0.4):
            k += "generatorOptions:\n  disableNameSuffixHash: %s\n" % self.pick(["true", "false"])
            if self.chance(0.5):
                k += "  labels:\n    global: \"yes\"\n"
        if self.chance(0.5):
            k += self.patch_fields(self.patches(d, all_items))
        deps = [n for kk, n, _ in all_items if kk == "Deployment"]
        if deps and self.chance(0.2):
            src = self.pick(deps)
            k += ("replacements:\n- source:\n    kind: Deployment\n    name: %s\n    fieldPath: spec.template.spec.containers.0.image\n"
                  "  targets:\n  - select:\n      kind: Deployment\n    fieldPaths:\n    - metadata.annotations.image\n    options:\n      create: true\n" % src)
        elif deps and self.chance(0.15):
            src = self.pick(deps)
            k += "vars:\n- name: DEP_NAME\n  objref:\n    kind: Deployment\n    name: %s\n    apiVersion: apps/v1\n" % src
            write(os.path.join(d, "uses-var.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: var-user\ndata:\n  dep: $(DEP_NAME)\n")
            k = k.replace("resources:\n", "resources:\n- uses-var.yaml\n", 1)
        elif self.u.random() < 0.3:
            k += self.vars_block(d, all_items, "")
        if deps and "replacements:" not in k and self.t.random() < 0.12:
            # replacements into scalars of other types (the target keeps its tag: an int into ConfigMap data stays
            # a string; a word into replicas fails as kustomize's decode does), a target without fieldPaths
            src = self.t.choice(deps)
            kind, path = self.t.choice([("ConfigMap", "data.LEVEL"), ("Deployment", "spec.replicas"), ("Service", "spec.ports.0.port")])
            k += ("replacements:\n- source:\n    kind: Deployment\n    name: %s\n    fieldPath: %s\n  targets:\n"
                  "  - select:\n      kind: %s\n    fieldPaths:\n    - %s\n" % (
                      src, self.t.choice(["spec.replicas", "metadata.name", "spec.template.spec.containers.0.name"]), kind, path))
            if self.t.random() < 0.3:
                # no fieldPaths: metadata.name (a ConfigMap from the component, never prefixed: kustomize's prefix
                # and name reference writes drop the tag, which fluxs does not model)
                k += "  - select:\n      kind: ConfigMap\n      name: var-user\n"
        if "Widget" in self.kinds and self.chance(0.4):
            write(os.path.join(d, "config", "widget.yaml"), "nameReference:\n- kind: ConfigMap\n  fieldSpecs:\n  - %s\n    path: spec/configRef\ncommonLabels:\n- %s\n  path: spec/selector\n  create: true\n"
                  "- %s\n  path: spec/items[]/labels\n  create: true\n%s" % (self.widget_gvk("    "), self.widget_gvk("  "), self.widget_gvk("  "),
                                                                               self.default_path_specs()))
            if "configurations:\n" in k:
                k = k.replace("configurations:\n", "configurations:\n- config/widget.yaml\n", 1)
            else:
                k += "configurations:\n- config/widget.yaml\n"
        k += self.crds_block(d, "top")
        k += self.openapi_block(d, "top")
        if self.chance(0.2):
            k += "sortOptions:\n  order: %s\n" % self.pick(["fifo", "legacy"])
            if "legacy" in k.split("sortOptions:")[1] and self.chance(0.5):
                k += "  legacySortOptions:\n    orderFirst: [Service, Deployment]\n    orderLast: [ConfigMap]\n"
        write(os.path.join(d, "kustomization.yaml"), k)
        return d

    def default_path_specs(self):
        """commonLabels/commonAnnotations/namePrefix/nameSuffix specs on the default specs' own paths (metadata/labels,
        spec/selector, metadata/annotations, metadata/name) and others, for a kind or none, either create: MergeAll
        then drops the default or refuses."""
        out = ""
        if self.g.random() < 0.25:
            out += "- %s\n  path: %s\n  create: %s\n" % (self.widget_gvk("  "), self.g.choice(["metadata/labels", "spec/selector"]),
                                                       self.g.choice(["true", "false"]))
        if self.g.random() < 0.25:
            out += "commonAnnotations:\n- %s\n  path: metadata/annotations\n  create: %s\n" % (self.widget_gvk("  "), self.g.choice(["true", "false"]))
        # prefix and suffix specs: metadata/name ones (a kind's spec drops the kind-less default after sorting),
        # other fields the affix is added to (created with create)
        for section in ("namePrefix", "nameSuffix"):
            if self.g.random() < 0.2:
                out += "%s:\n- %s\n  path: %s\n  create: %s\n" % (section, self.widget_gvk("  "),
                                                                self.g.choice(["metadata/name", "spec/owner", "spec/alias"]),
                                                                self.g.choice(["true", "false"]))
        return out

    def widget_gvk(self, indent):
        """A field spec's selector of Widgets (example.com/v1): mostly `kind: Widget`, sometimes with an empty,
        matching or other group and version written out (fieldspec.go: empty selects any), or an empty kind."""
        if self.g.random() < 0.5:
            return "kind: Widget"
        keys = ["kind: %s" % self.g.choice(["Widget", '""'])]
        if self.g.random() < 0.6:
            keys.append("group: %s" % self.g.choice(['""', "example.com", "other.io"]))
        if self.g.random() < 0.5:
            keys.append("version: %s" % self.g.choice(['""', "v1", "v2"]))
        return ("\n" + indent).join(keys)

    def build(self):
        bases = [self.write_base(b) for b in range(self.n_bases)]
        if self.chance(0.15):
            return os.path.join(self.root, bases[0])
        if self.chance(0.05) or self.u.random() < 0.05:
            # a Component built as the root
            self.write_component(root=True)
            return os.path.join(self.root, "comp")
        return self.write_overlay(bases)


# The oracle is always the same kubectl kustomize: without a kubeconfig, a kubectl that picks its version by the
# server's (the gcloud dispatcher: v1.33/kustomize v5.6 against kubesim) runs its default (v1.32, kustomize v5.5).
ORACLE_ENV = dict(os.environ, KUBECONFIG=os.devnull)


def run(cmd, cwd):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=KUBECTL_TIMEOUT,
                       env=ORACLE_ENV if cmd[0] == "kubectl" else None)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def kubectl_error(stderr):
    # E1202 12:00:00.000 1 run.go:72] "command failed" err="..."  ->  the err text
    for line in stderr.splitlines():
        if 'err="' in line:
            return line.split('err="', 1)[1].rstrip('"').replace('\\"', '"').replace("\\'", "'")
    return stderr.strip()


def shares_wording(kubectl, fluxs):
    """Whether fluxs's message carries a phrase of kubectl's that a user would search for: a segment of kubectl's
    message (split at ': ') of three words or more without Go values in it (JSON, pointers, ids in brackets)."""
    for seg in kubectl.split(": "):
        seg = seg.strip(" '\"")
        for bad in ("{", "0x", "&"):
            if bad in seg:
                seg = seg.split(bad)[0].strip()
        if len(seg.split()) >= 3 and seg in fluxs:
            return True
    return False


def one(seed, fluxs, tmp, keep):
    root = os.path.join(tmp, "s%d" % seed)
    os.makedirs(root)
    target = Case(seed, root).build()
    kc, ko, ke = run(["kubectl", "kustomize", target], root)
    fc, fo, fe = run([fluxs, "kustomize", "build", target], root)
    result = None
    if kc == 0 and fc == 0:
        if ko != fo:
            result = "output differs"
    elif kc == 0:
        result = "fluxs failed: " + fe.strip().splitlines()[-1] if fe.strip() else "fluxs failed"
    elif fc == 0:
        result = "kubectl failed, fluxs did not: " + kubectl_error(ke)[:300]
    kind = "ok" if kc == 0 else ("error-worded" if fc != 0 and shares_wording(kubectl_error(ke), fe) else "error")
    if result and keep:
        dest = os.path.join(keep, "s%d" % seed)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(root, dest, symlinks=True)
        with open(os.path.join(dest, "RESULT"), "w") as f:
            f.write("%s\n--- kubectl (%d)\n%s\n%s\n--- fluxs (%d)\n%s\n%s\n" % (result, kc, ko.decode("utf-8", "replace"), ke, fc,
                                                                             fo.decode("utf-8", "replace"), fe))
    shutil.rmtree(root, ignore_errors=True)
    return seed, kind, result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=300)
    ap.add_argument("--first", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--keep", help="copy the trees that differ (with a RESULT file) here")
    ap.add_argument("--fluxs", default=os.environ.get("FLUXS") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.build/debug/fluxs"))
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if shutil.which("kubectl") is None:
        print("kustomize differential: kubectl is not installed; not run", file=sys.stderr)
        return 0
    fluxs = os.path.abspath(a.fluxs)
    tmp = tempfile.mkdtemp(prefix="fluxs-kdiff-")
    diffs, errors, worded = [], 0, 0
    try:
        with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
            for seed, kind, result in ex.map(lambda s: one(s, fluxs, tmp, a.keep), range(a.first, a.first + a.seeds)):
                errors += kind.startswith("error")
                worded += kind == "error-worded"
                if result:
                    diffs.append((seed, result))
                    if a.verbose:
                        print("  seed %d: %s" % (seed, result))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not a.verbose:
        for seed, result in diffs[:20]:
            print("  seed %d: %s" % (seed, result[:200]))
    print("kustomize differential: %d seeds (%d-%d), %d differences (%d trees kubectl refuses (%.0f%%), fluxs must refuse too; "
          "%d of those messages share kubectl's wording)" % (a.seeds, a.first, a.first + a.seeds - 1, len(diffs), errors,
                                                             100.0 * errors / max(a.seeds, 1), worded))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
