#!/bin/sh
# CGI front of `git http-backend` for the test environment: checks the
# credentials the URL prefix asks for (none, basic or bearer), then hands the
# request to git. Anonymous repositories accept pushes too.
# Each request is logged (method and path) before anything else, so tests can count round trips.
[ -n "${FLUXS_GIT_REQUEST_LOG:-}" ] && printf '%s %s\n' "$REQUEST_METHOD" "$REQUEST_URI" >> "$FLUXS_GIT_REQUEST_LOG"
deny() {
    printf 'Status: 401 Unauthorized\r\nWWW-Authenticate: %s realm="fluxs-test"\r\nContent-Type: text/plain\r\n\r\nauthentication required\n' "$1"
    exit 0
}
case "$FLUXS_GIT_AUTH" in
    basic)
        expected="Basic $(printf '%s:%s' "$FLUXS_GIT_USER" "$FLUXS_GIT_PASSWORD" | base64 -w0)"
        [ "$HTTP_AUTHORIZATION" = "$expected" ] || deny Basic
        REMOTE_USER=$FLUXS_GIT_USER
        export REMOTE_USER
        ;;
    bearer)
        [ "$HTTP_AUTHORIZATION" = "Bearer $FLUXS_GIT_TOKEN" ] || deny Bearer
        REMOTE_USER=token
        export REMOTE_USER
        ;;
    *)
        GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.receivepack GIT_CONFIG_VALUE_0=true
        export GIT_CONFIG_COUNT GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0
        ;;
esac
exec /usr/lib/git-core/git-http-backend
