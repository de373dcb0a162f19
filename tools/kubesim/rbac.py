"""Authorization as kube-apiserver does it with --authorization-mode=RBAC, and impersonation.

A user is (name, groups, restricted, read_all): system:masters may do anything (the admin token, client
certificate, EKS tokens); the viewer token may read everything (a built-in grant, as if bound to a read-all
ClusterRole) and is checked by RBAC for the rest; service account tokens and impersonated users are checked by
RBAC only. Rules are read from the stored Roles, ClusterRoles, RoleBindings and ClusterRoleBindings at each
request (rbac/v1 rule matching: apiGroups, resources with subresources and "*/sub", verbs, resourceNames;
aggregationRule is not evaluated). Messages are kube-apiserver's (responsewriters.Forbidden, apierrors.NewForbidden).
"""

RBAC = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
SA_PREFIX = "system:serviceaccount:"


def user(name, groups, restricted=True, read_all=False):
    return (name, list(groups), restricted, read_all)


def service_account_user(ns, name):
    return user(SA_PREFIX + ns + ":" + name, ["system:serviceaccounts", "system:serviceaccounts:" + ns, AUTHENTICATED])


def split_service_account(username):
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX):].split(":")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def _applies(subjects, u, binding_ns):
    name, groups = u[0], u[1]
    for s in subjects or []:
        kind = s.get("kind")
        if kind == "User" and s.get("name") == name:
            return True
        if kind == "Group" and s.get("name") in groups:
            return True
        if kind == "ServiceAccount":
            ns = s.get("namespace") or binding_ns
            if ns and name == SA_PREFIX + ns + ":" + (s.get("name") or ""):
                return True
    return False


def _rule_matches(rule, verb, group, resource, sub, name):
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    combined = resource + ("/" + sub if sub else "")
    ok = False
    for r in rule.get("resources") or []:
        if r == "*" or r == combined or (sub and r == "*/" + sub):
            ok = True
            break
    if not ok:
        return False
    names = rule.get("resourceNames") or []
    return not names or (name is not None and name in names)


def _role_rules(store, ref, binding_ns):
    """The rules of a binding's roleRef, or an error string when the role does not exist."""
    kind, rname = ref.get("kind"), ref.get("name", "")
    if kind == "ClusterRole":
        role = store.get(RBAC, "clusterroles", "", rname)
        if role is None:
            return None, 'clusterrole.rbac.authorization.k8s.io "%s" not found' % rname
    else:
        role = store.get(RBAC, "roles", binding_ns, rname)
        if role is None:
            return None, 'role.rbac.authorization.k8s.io "%s" not found' % rname
    return role.get("rules") or [], None


def decide(store, u, verb, group, resource, sub, ns, name):
    """(allowed, reason) for a resource request; reason is RBAC's, empty unless a bound role is missing."""
    if MASTERS in u[1]:
        return True, ""
    if u[3] and verb in ("get", "list", "watch"):
        return True, ""
    errors = []
    for b in store.list(RBAC, "clusterrolebindings"):
        if not _applies(b.get("subjects"), u, None):
            continue
        rules, err = _role_rules(store, b.get("roleRef") or {}, "")
        if err:
            errors.append(err)
            continue
        if any(_rule_matches(r, verb, group, resource, sub, name) for r in rules):
            return True, ""
    if ns:
        for b in store.list(RBAC, "rolebindings", ns):
            if not _applies(b.get("subjects"), u, ns):
                continue
            rules, err = _role_rules(store, b.get("roleRef") or {}, ns)
            if err:
                errors.append(err)
                continue
            if any(_rule_matches(r, verb, group, resource, sub, name) for r in rules):
                return True, ""
    if not errors:
        return False, ""
    return False, "RBAC: " + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")


def forbidden_message(u, verb, group, resource, sub, ns, name, reason=""):
    """kube-apiserver's 403 message: apierrors.NewForbidden around responsewriters' forbiddenMessage."""
    res = resource + ("/" + sub if sub else "")
    if ns:
        msg = 'User "%s" cannot %s resource "%s" in API group "%s" in the namespace "%s"' % (u[0], verb, res, group, ns)
    else:
        msg = 'User "%s" cannot %s resource "%s" in API group "%s" at the cluster scope' % (u[0], verb, res, group)
    if reason:
        msg += ": " + reason
    qualified = resource + ("." + group if group else "")
    if name:
        return '%s "%s" is forbidden: %s' % (qualified, name, msg)
    return "%s is forbidden: %s" % (qualified, msg)


def forbidden_details(group, resource, name):
    d = {"name": name or "", "kind": resource}
    if group:
        d["group"] = group
    return d


def impersonation_requests(headers):
    """What the Impersonate-* headers ask for, as kube-apiserver's buildImpersonationRequests reads them:
    [(kind, namespace, name, extra key)]; raises ValueError for groups or extras without a user."""
    reqs = []
    if not any(k[:12].lower() == "impersonate-" for k in headers.keys()):
        return reqs
    wanted = headers.get("Impersonate-User", "")
    if wanted:
        sa = split_service_account(wanted)
        reqs.append(("ServiceAccount", sa[0], sa[1], "") if sa else ("User", "", wanted, ""))
    groups = headers.get_all("Impersonate-Group") or []
    for g in groups:
        reqs.append(("Group", "", g, ""))
    extras = False
    for k in headers.keys():
        if k.lower().startswith("impersonate-extra-"):
            extras = True
            for v in headers.get_all(k) or []:
                reqs.append(("UserExtra", "", v, k[len("impersonate-extra-"):].lower()))
    uid = headers.get("Impersonate-Uid", "")
    if uid:
        reqs.append(("UID", "", uid, ""))
    if (groups or extras or uid) and not wanted:
        raise ValueError("requested %s without impersonating a user" % [r[2] for r in reqs])
    return reqs


def impersonate(store, requester, headers):
    """The user a request acts as, or (None, message, details) when the requester may not impersonate it."""
    reqs = impersonation_requests(headers)
    if not reqs:
        return requester, None, None
    groups_specified = any(r[0] == "Group" for r in reqs)
    username, groups = "", []
    for kind, ns, name, key in reqs:
        group, sub = "", ""
        if kind == "ServiceAccount":
            resource = "serviceaccounts"
            username = SA_PREFIX + ns + ":" + name
            if not groups_specified:
                groups = ["system:serviceaccounts", "system:serviceaccounts:" + ns]
        elif kind == "User":
            resource = "users"
            username = name
        elif kind == "Group":
            resource = "groups"
            groups.append(name)
        elif kind == "UID":
            group, resource = "authentication.k8s.io", "uids"
        else:
            group, resource, sub = "authentication.k8s.io", "userextras", key
        ok, reason = decide(store, requester, "impersonate", group, resource, sub, ns or None, name)
        if not ok:
            return None, forbidden_message(requester, "impersonate", group, resource, sub, ns, name, reason), \
                forbidden_details(group, resource, name)
    if not groups_specified and username != "system:anonymous" and AUTHENTICATED not in groups \
            and "system:unauthenticated" not in groups:
        groups.append(AUTHENTICATED)
    return user(username, groups), None, None
