/*
 * nss_agent.h - the entry points of libnss_agent.so.2 (docs/nss.md), the
 * only symbols it exports (nss/nss_agent.map). glibc finds them by name
 * for "passwd: files agent" and "group: files agent"; the unit tests call
 * them directly.
 */
#ifndef PA_NSS_AGENT_H
#define PA_NSS_AGENT_H

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stddef.h>

enum nss_status _nss_agent_getpwnam_r(const char *name, struct passwd *pw, char *buf,
				      size_t buflen, int *errnop);
enum nss_status _nss_agent_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
				      int *errnop);
enum nss_status _nss_agent_setpwent(int stayopen);
enum nss_status _nss_agent_endpwent(void);
enum nss_status _nss_agent_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop);
enum nss_status _nss_agent_getgrnam_r(const char *name, struct group *gr, char *buf,
				      size_t buflen, int *errnop);
enum nss_status _nss_agent_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
				      int *errnop);
enum nss_status _nss_agent_setgrent(int stayopen);
enum nss_status _nss_agent_endgrent(void);
enum nss_status _nss_agent_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop);

#endif /* PA_NSS_AGENT_H */
