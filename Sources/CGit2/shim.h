// libgit2 for Swift: the header plus typed wrappers for git_libgit2_opts,
// which is variadic and so cannot be called from Swift. One wrapper per option used.
#include <git2.h>

static inline int fluxs_git_set_ssl_cert_locations(const char *file, const char *path) {
    return git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, path);
}
static inline int fluxs_git_set_user_agent(const char *agent) {
    return git_libgit2_opts(GIT_OPT_SET_USER_AGENT, agent);
}
static inline int fluxs_git_set_owner_validation(int enabled) {
    return git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, enabled);
}
