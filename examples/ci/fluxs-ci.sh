#!/bin/sh
# fluxs in a CI job (any CI system: it needs only sh, fluxs and a kubeconfig).
#
#   fluxs-ci.sh diff NAME=PATH...     on a pull request: what merging would change
#   fluxs-ci.sh reconcile NAME...     on the main branch: apply it now
#
# diff runs `fluxs diff kustomization NAME --path PATH` for each Flux
# Kustomization, PATH being its spec.path inside the checked-out repository.
# The report (created, drifted with the changed fields, deleted) goes to the
# job log. Exit status, as flux diff's:
#   0  nothing would change
#   1  something would change (the job fails unless you accept 1, e.g.
#      `fluxs-ci.sh diff ... || [ $? -eq 1 ]`)
#   2  an error: a build, the cluster or the arguments (wins over 1)
#
# reconcile runs `fluxs reconcile kustomization NAME --with-source` for each
# NAME in the order given (put dependencies first): it fetches the source,
# builds, applies, prunes and waits for health in the job itself. Exit status:
#   0  every Kustomization is reconciled and Ready
#   1  one failed (the ones after it are not reconciled)
#   2  bad arguments
#
# Environment: FLUXS (the fluxs binary, default: fluxs on PATH), FLUXS_NAMESPACE
# (namespace of the Kustomizations, default flux-system), KUBECONFIG.
set -u
FLUXS=${FLUXS:-fluxs}
NS=${FLUXS_NAMESPACE:-flux-system}

usage() {
    echo "usage: $0 diff NAME=PATH... | reconcile NAME..." >&2
    exit 2
}

[ $# -ge 2 ] || usage
mode=$1
shift
case $mode in
diff)
    status=0
    for arg in "$@"; do
        name=${arg%%=*}
        path=${arg#*=}
        if [ -z "$name" ] || [ "$name" = "$arg" ] || [ -z "$path" ]; then
            echo "✗ $arg: expected NAME=PATH (the Kustomization and its spec.path in this checkout)" >&2
            exit 2
        fi
        echo "► Kustomization $NS/$name: fluxs diff kustomization $name --path $path" >&2
        "$FLUXS" diff kustomization "$name" --path "$path" --namespace "$NS"
        rc=$?
        case $rc in
        0) echo "✔ $name: no changes" >&2 ;;
        1) echo "◎ $name: merging changes the cluster (see above)" >&2
           [ $status -eq 0 ] && status=1 ;;
        *) echo "✗ $name: diff failed (exit $rc)" >&2
           status=2 ;;
        esac
    done
    exit $status
    ;;
reconcile)
    for name in "$@"; do
        case $name in *=*) name=${name%%=*} ;; esac
        echo "► Kustomization $NS/$name: fluxs reconcile kustomization $name --with-source" >&2
        if ! "$FLUXS" reconcile kustomization "$name" --with-source --namespace "$NS"; then
            echo "✗ $name: reconciliation failed" >&2
            exit 1
        fi
    done
    exit 0
    ;;
*)
    usage
    ;;
esac
