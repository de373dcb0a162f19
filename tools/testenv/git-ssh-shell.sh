#!/bin/sh
# sshd ForceCommand of the test environment: only git-upload-pack and
# git-receive-pack, and only on repositories under the root given as $1.
set -f
root=$1
cmd=$SSH_ORIGINAL_COMMAND
case "$cmd" in
    "git-upload-pack "*) verb=git-upload-pack; path=${cmd#git-upload-pack } ;;
    "git-receive-pack "*) verb=git-receive-pack; path=${cmd#git-receive-pack } ;;
    "git upload-pack "*) verb=git-upload-pack; path=${cmd#git upload-pack } ;;
    "git receive-pack "*) verb=git-receive-pack; path=${cmd#git receive-pack } ;;
    *) echo "fluxs test server: only git fetch and push are allowed" >&2; exit 1 ;;
esac
path=$(printf '%s' "$path" | sed -e "s/^'//" -e "s/'\$//" -e 's|^/*||' -e 's|^~/||')
case "$path" in
    *..*|"") echo "fluxs test server: invalid repository path" >&2; exit 1 ;;
esac
[ -d "$root/$path" ] || { echo "fatal: '$path' does not appear to be a git repository" >&2; exit 128; }
exec "$verb" "$root/$path"
