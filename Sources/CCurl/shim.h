// The one C shim of fluxs: typed wrappers for libcurl's variadic functions,
// which Swift cannot call. One wrapper per argument type.
#include <curl/curl.h>

static inline CURLcode fluxs_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode fluxs_curl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode fluxs_curl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode fluxs_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode fluxs_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode fluxs_curl_setopt_blob(CURL *h, CURLoption o, struct curl_blob *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*fluxs_curl_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode fluxs_curl_setopt_datacb(CURL *h, CURLoption o, fluxs_curl_data_cb cb) { return curl_easy_setopt(h, o, cb); }

typedef int (*fluxs_curl_xferinfo_cb)(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);
static inline CURLcode fluxs_curl_setopt_xferinfocb(CURL *h, CURLoption o, fluxs_curl_xferinfo_cb cb) { return curl_easy_setopt(h, o, cb); }

static inline CURLcode fluxs_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode fluxs_curl_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode fluxs_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode fluxs_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
static inline CURLSHcode fluxs_curl_share_setopt_long(CURLSH *s, CURLSHoption o, long v) { return curl_share_setopt(s, o, v); }
static inline CURLSHcode fluxs_curl_share_setopt_pointer(CURLSH *s, CURLSHoption o, void *v) { return curl_share_setopt(s, o, v); }
typedef void (*fluxs_curl_lock_cb)(CURL *h, curl_lock_data d, curl_lock_access a, void *userptr);
typedef void (*fluxs_curl_unlock_cb)(CURL *h, curl_lock_data d, void *userptr);
static inline CURLSHcode fluxs_curl_share_setopt_lockcb(CURLSH *s, fluxs_curl_lock_cb cb) { return curl_share_setopt(s, CURLSHOPT_LOCKFUNC, cb); }
static inline CURLSHcode fluxs_curl_share_setopt_unlockcb(CURLSH *s, fluxs_curl_unlock_cb cb) { return curl_share_setopt(s, CURLSHOPT_UNLOCKFUNC, cb); }
static inline CURLcode fluxs_curl_msg_result(const CURLMsg *m) { return m->data.result; }
