/*
 * soad: socket activator/deactivator.  One internal header; its
 * prototypes are grouped by the file that defines them, so this reads as
 * the index of the program.
 */
#ifndef SOAD_H
#define SOAD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* sysexits(3) values, spelled out so no BSD header is needed. */
#define EXIT_USAGE	64
#define EXIT_OSERR	71
#define EXIT_CONFIG	78

#define SOAD_MAXLISTEN	64		/* listeners per service */
#define SOAD_FDNAME_MAX	255		/* sd_listen_fds(3) name limit */

struct event_base;
struct event;

/* addr.c */
struct addr {
	int			 ad_family;	/* AF_INET, AF_INET6, AF_UNIX */
	int			 ad_any;	/* "PORT": every address */
	struct sockaddr_storage	 ad_ss;
	socklen_t		 ad_len;
};

int	 addr_parse(const char *, struct addr *, char *, size_t);
int	 addr_split_name(const char *, char *, size_t, const char **);
void	 addr_fmt(const struct addr *, char *, size_t);
int	 addr_port(const struct addr *);
const char *addr_path(const struct addr *);
int	 addr_conflict(const struct addr *, const struct addr *);

/* log.c */
void	 log_init(int, int);
void	 log_setverbose(int);
void	 log_setquiet(int);
void	 log_warn(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	 log_warnx(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	 log_info(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	 log_debug(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((__format__(printf, 1, 2), __noreturn__));
void	 fatalx(const char *, ...)
	    __attribute__((__format__(printf, 1, 2), __noreturn__));

/* conf.c */
enum limit_kind { LIM_NOFILE, LIM_NPROC, LIM_CORE, LIM_AS, LIM_COUNT };

struct limit_conf {
	int			 lm_set;
	rlim_t			 lm_value;
};

struct listen_conf {
	struct addr		 lc_addr;
	char			*lc_fdname;
	int			 lc_line;
};

struct svc_conf {
	char			*sc_name;
	int			 sc_line;	/* section's closing line */
	struct listen_conf	*sc_listen;
	size_t			 sc_nlisten;
	char			*sc_server;
	char		       **sc_argv;	/* NULL-terminated */
	char		       **sc_env;	/* NULL-terminated, NAME=value */
	int			 sc_setuser;	/* 0: run as soad's own user */
	char			*sc_user;
	uid_t			 sc_uid;
	gid_t			 sc_gid;
	uid_t			 sc_sock_uid;
	gid_t			 sc_sock_gid;
	mode_t			 sc_sock_mode;
	mode_t			 sc_umask;
	char			*sc_dir;
	long			 sc_timeout;
	int			 sc_stop_signal;
	long			 sc_kill_timeout;
	int			 sc_backlog;
	int			 sc_fd0;
	struct limit_conf	 sc_limits[LIM_COUNT];
};

struct conf {
	char			*cf_file;
	struct svc_conf	       **cf_svcs;
	size_t			 cf_nsvcs;
};

#define CONF_CHECK_FILES 0x01	/* servers executable, directories exist */

struct conf *conf_load(const char *, int, int *);
void	 conf_free(struct conf *);
int	 conf_signal_parse(const char *);
const char *conf_signal_name(int, char *, size_t);
int	 conf_limit_resource(enum limit_kind);

/* conftext.c */
char	*conftext_read(const char *, size_t *);
int	 conftext_strip_comments(char *);

/* listen.c */
struct service;

struct listener {
	struct service		*ls_svc;
	const struct listen_conf *ls_conf;
	int			 ls_fd;
	struct event		*ls_ev;		/* readable while service idle */
	dev_t			 ls_dev;	/* UNIX: the socket file we made */
	ino_t			 ls_ino;
	int			 ls_vfs_known;	/* sock_diag's view of that file */
	uint32_t		 ls_vfs_ino;
	uint32_t		 ls_vfs_dev;
};

int	 listener_open(struct listener *, const struct svc_conf *);
void	 listener_close(struct listener *);

/* svc.c */
enum svc_state {
	SVC_UNBOUND,	/* waiting for all its listeners to bind */
	SVC_IDLE,	/* no process; listeners watched for an arrival */
	SVC_RUNNING,	/* process serves the listeners */
	SVC_STOPPING,	/* stop-signal sent, waiting for the exit */
	SVC_BACKOFF,	/* failed starts: waiting before the next one */
};

struct service {
	TAILQ_ENTRY(service)	 sv_entry;
	struct svc_conf		*sv_conf;
	struct listener		*sv_ls;		/* sv_nls of them */
	size_t			 sv_nls;
	enum svc_state		 sv_state;
	pid_t			 sv_pid;
	struct timespec		 sv_started;
	struct timespec		 sv_active;	/* last activity seen */
	int			 sv_failures;	/* consecutive failed starts */
	int			 sv_busy;	/* connections open at last count */
	int			 sv_muted;	/* arrival signals off for a window */
	int			 sv_bindwarned;
	struct event		*sv_timer;
};

TAILQ_HEAD(svc_list, service);

int	 svc_init(struct event_base *);
struct service *svc_create(struct svc_conf *);
void	 svc_bind(struct service *);
void	 svc_arrival(struct listener *);
int	 svc_reaped(pid_t, int);
void	 svc_shutdown_all(void);
int	 svc_all_stopped(void);
void	 svc_free_all(void);

/* spawn.c */
void	 spawn_init(void);
pid_t	 spawn_service(const struct service *, int);

/* activity.c */
int	 activity_init(struct event_base *);
void	 activity_free(void);
void	 activity_watch(struct listener *);
int	 activity_arm(int, int);
void	 activity_mute(const struct service *, int);
int	 activity_reassert(const struct service *);
void	 activity_forget(struct listener *);
int	 activity_open_conns(struct service *);

/* conncount.c */
double	 conncount_delay(long);
int	 conncount_open(struct service *);

/* outlog.c */
struct outlog *outlog_open(struct event_base *, const char *, int *);
void	 outlog_setpid(struct outlog *, pid_t);
void	 outlog_drain_all(void);

#endif /* SOAD_H */
