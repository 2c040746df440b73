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
#include <sys/un.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* sysexits(3) values, spelled out so no BSD header is needed. */
#define EXIT_USAGE	64
#define EXIT_OSERR	71
#define EXIT_CONFIG	78

#define SOAD_MAXLISTEN	64		/* listeners per service */
/* The master's listeners sit at or above this fd number: above every
 * number soad hands a service (0-2 and 3 + SOAD_MAXLISTEN). */
#define SOAD_FD_FLOOR	(3 + SOAD_MAXLISTEN)
#define SOAD_FDNAME_MAX	255		/* sd_listen_fds(3) name limit */

struct event_base;
struct event;

/* addr.c */
/* Room for any address soad binds, and no more (sockaddr_storage is
 * 128 bytes; this is 112, kept once per listener). */
union addr_sa {
	struct sockaddr		 sa;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr_un	 sun;
};

struct addr {
	unsigned short		 ad_family;	/* AF_INET, AF_INET6, AF_UNIX */
	unsigned char		 ad_any;	/* "PORT": every address */
	union addr_sa		 ad_ss;
	socklen_t		 ad_len;
};

int	 addr_parse(const char *, struct addr *, char *, size_t);
int	 addr_split_name(const char *, char *, size_t, const char **);
void	 addr_fmt(const struct addr *, char *, size_t);
int	 addr_port(const struct addr *);
const char *addr_path(const struct addr *);
int	 addr_conflict(const struct addr *, const struct addr *);
int	 addr_peer_host(const struct sockaddr *, char *, size_t);
void	 addr_peer_fmt(const struct sockaddr *, char *, size_t);

/* An address or network, as idle-ignore lists them. */
struct addr_mask {
	int			 am_family;	/* AF_INET or AF_INET6 */
	int			 am_bits;
	unsigned char		 am_addr[16];
};

int	 addr_mask_parse(const char *, struct addr_mask *);
int	 addr_mask_match(const struct addr_mask *, const struct sockaddr *);

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
	rlim_t			 lm_value;	/* if its bit is in sc_limitset */
};

struct listen_conf {
	struct addr		 lc_addr;
	char			*lc_fdname;
	int			 lc_line;
};

enum svc_mode { MODE_PASS, MODE_PROXY, MODE_NOWAIT };

/*
 * What only the modes in which the master accepts each connection have
 * (proxy, nowait, internal services); pass mode keeps a NULL pointer.
 * Limits: proxy's ac_maxconn is at least 1; every other limit, and a
 * nowait or internal service's ac_maxconn, is 0 for "no limit".
 * ac_wrapname is NULL for a dgram service: tcp_wrappers checks stream
 * connections only.
 */
struct accept_conf {
	char			*ac_wrapname;	/* tcpwrap daemon name, or NULL */
	struct addr		 ac_backend;	/* proxy; ad_family 0: private */
	struct addr_mask	*ac_ignore;	/* proxy: idle-ignore */
	size_t			 ac_nignore;
	long			 ac_maxconn;	/* max-connections, max-children */
	long			 ac_maxsrc;	/* ... -per-source; 0: no limit */
	long			 ac_rate;	/* nowait: max-per-minute; 0: none */
	long			 ac_ratesrc;	/* max-per-minute-per-source */
	long			 ac_rate_pause;	/* seconds paused over ac_rate,
						 * 1..86400 */
	long			 ac_start_timeout;
	int			 ac_proxyproto;	/* 0, 1 or 2 */
};

struct svc_conf {				/* one per service: kept small */
	char			*sc_name;
	struct listen_conf	*sc_listen;
	size_t			 sc_nlisten;
	char			*sc_server;
	char		       **sc_argv;	/* NULL-terminated */
	char		       **sc_env;	/* NULL-terminated, NAME=value */
	char			*sc_user;
	char			*sc_dir;
	struct limit_conf	*sc_limits;	/* LIM_COUNT, or NULL if none */
	struct accept_conf	*sc_accept;	/* the master accepts, else NULL */
	int			 sc_timeout;	/* at most a year of seconds */
	int			 sc_kill_timeout;
	int			 sc_line;	/* section's closing line */
	uid_t			 sc_uid;
	gid_t			 sc_gid;
	uid_t			 sc_sock_uid;
	gid_t			 sc_sock_gid;
	mode_t			 sc_sock_mode;
	mode_t			 sc_umask;
	int			 sc_stop_signal;
	int			 sc_backlog;
	unsigned char		 sc_setuser;	/* 0: run as soad's own user */
	unsigned char		 sc_fd0;		/* pass: also fd 0 (always
						 * for dgram); else 0 */
	unsigned char		 sc_limitset;	/* bit k: sc_limits[k] set */
	unsigned char		 sc_sharedargv;	/* sc_argv is the config's */
	unsigned char		 sc_mode;	/* enum svc_mode */
	unsigned char		 sc_socktype;	/* SOCK_STREAM or SOCK_DGRAM */
	unsigned char		 sc_internal;	/* enum inetd_internal */
	unsigned char		 sc_inetd;	/* from an inetd.conf line */
};

struct conf {
	char			*cf_file;
	char			*cf_hosts_allow;
	char			*cf_hosts_deny;
	/* Global settings the services of an inetd.conf (-i) take. */
	long			 cf_timeout;
	long			 cf_kill_timeout;
	long			 cf_rate_pause;
	int			 cf_stop_signal;
	int			 cf_backlog;
	struct svc_conf	       **cf_svcs;
	size_t			 cf_nsvcs;
	char		       **cf_pool;	/* interned strings, hashed */
	char		      ***cf_argvs;	/* shared { server, NULL } lists */
	size_t			 cf_nargvs;
	size_t			 cf_poolsize;	/* slots, a power of two */
	size_t			 cf_npool;
};

#define CONF_CHECK_FILES 0x01	/* servers executable, directories exist */
#define CONF_CHECK_SOCKETS 0x02	/* -n: every UNIX socket path can be bound */
#define CONF_GLOBALS_ONLY 0x04	/* -i: soad.conf may have no service */

/* Built-in defaults of the global keys of the same name. */
#define CONF_TIMEOUT		300
#define CONF_KILL_TIMEOUT	10
#define CONF_BACKLOG		1024
#define CONF_RATE_PAUSE		600

typedef void (*conf_sink_fn)(const char *, int, const char *);

void	 conf_set_sink(conf_sink_fn);
char	*xstrdup(const char *);
extern const char *const conf_internal_names[];
int	 conf_valid_wrapname(const char *);
char	*conf_intern(struct conf *, const char *);
char	**conf_argv_of(struct conf *, char *);
extern char *conf_nostrings[1];
void	 conf_errors_begin(void);
void	 conf_error(int, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
void	 conf_warning(int, const char *, ...)
	    __attribute__((__format__(printf, 2, 3)));
int	 conf_errors(void);
int	 conf_errors_end(const char *);
void	 conf_free(struct conf *);
int	 conf_signal_parse(const char *);
const char *conf_signal_name(int, char *, size_t);
int	 conf_signal_keeps_default(int);
int	 conf_limit_resource(enum limit_kind);
int	 conf_parse_octal(const char *, mode_t *);
int	 conf_parse_limit(const char *, rlim_t *);
void	 conf_check_exec(const struct svc_conf *, int);
void	 conf_check_socket(const struct svc_conf *, const struct listen_conf *);
void	 conf_check_addresses(struct conf *);
int	 conf_nofile_needed(const struct conf *);
size_t	 conf_nlisteners(const struct svc_conf *);

/* conf_soad.c */
struct conf *conf_load(const char *, int, int *);
struct conf *conf_load_buf(const char *, const char *, size_t, int, int *);

/* conf_inetd.c */
struct conf *conf_inetd_defaults(void);
int	 conf_inetd_add(struct conf *, const char *, const char *, int);

/* conftext.c */
#define CONF_MAX_SIZE	(16 << 20)	/* bytes in a config file */

int	 conftext_read(const char *, char **, size_t *, char *, size_t);
int	 conftext_strip_comments(char *);
size_t	 conftext_section_lines(const char *, int **, int *);

/* inetd.c */
#define INETD_DEFAULT_RATE 256	/* max-per-minute of an -i nowait line */
#define INETD_MAXARGV	20		/* argv entries, as every inetd */
#define INETD_NORESOLVE	0x01		/* host names: warn, never look up */

enum inetd_internal {
	INETD_EXTERNAL, INETD_ECHO, INETD_DISCARD, INETD_CHARGEN,
	INETD_DAYTIME, INETD_TIME,
};

/*
 * One listener of one inetd.conf line: a line with a list of hosts (or
 * a host name with several addresses) gives one entry per address, all
 * with the same ie_line.  Strings are owned by the entry.  Limits are 0
 * when not set.
 */
struct inetd_entry {
	int			 ie_line;	/* the line's first line */
	char			*ie_service;	/* as written, or the UNIX path */
	char			*ie_proto;	/* as written: "tcp6", "unix" */
	char			*ie_host;	/* numeric address, NULL: every one */
	char			*ie_listen;	/* soad.conf syntax: "79", "[::]:79" */
	struct addr		 ie_addr;	/* ie_listen, parsed */
	int			 ie_port;	/* host order; 0 for unix */
	int			 ie_socktype;	/* SOCK_STREAM or SOCK_DGRAM */
	int			 ie_family;	/* AF_INET(6), AF_UNIX; AF_UNSPEC:
						 * both IP families */
	int			 ie_wait;
	int			 ie_max_children;	/* FreeBSD max-child */
	int			 ie_max_per_minute;	/* BSD/netkit .max */
	int			 ie_max_per_minute_per_source;	/* FreeBSD */
	int			 ie_max_children_per_source;	/* FreeBSD */
	char			*ie_user;
	char			*ie_group;	/* NULL: the user's primary */
	char			*ie_class;	/* login class or NULL */
	uid_t			 ie_uid;
	gid_t			 ie_gid;
	enum inetd_internal	 ie_internal;
	char			*ie_server;	/* run this; NULL if internal */
	char		       **ie_argv;	/* NULL-terminated, argv[0] first */
	int			 ie_tcpwrap;	/* the server was tcpd */
	char			*ie_tcpd;	/* ... this one, as written */
	char			*ie_tcpdarg0;	/* ... with this argv[0] */
	char			*ie_wrapname;	/* hosts.allow daemon name */
	char			*ie_sockuser;	/* FreeBSD ":user:group:mode:" */
	char			*ie_sockgroup;
	char			*ie_sockmode;	/* octal digits as written */
};

int	 inetd_parse(const char *, const char *, size_t, int,
	    struct inetd_entry **, size_t *);
int	 inetd_load(const char *, int, struct inetd_entry **, size_t *);
void	 inetd_free(struct inetd_entry *, size_t);
const char *inetd_internal_name(enum inetd_internal);

/* inetd_conv.c */
struct inetd_group {			/* one line's entries: one service */
	const struct inetd_entry *ig_e;	/* the first of them */
	size_t			 ig_n;
	char			*ig_name;	/* its soad.conf section name */
};

size_t	 inetd_groups(const struct inetd_entry *, size_t,
	    struct inetd_group **);
void	 inetd_groups_free(struct inetd_group *, size_t);
int	 inetd_is_pass(const struct inetd_entry *);
int	 inetd_runs_tcpd(const struct inetd_entry *);
int	 inetd_is_checked(const struct inetd_entry *);
void	 inetd_warn_unsupported(const struct inetd_entry *);
int	 inetd_convert(const char *, int, FILE *);
void	 inetd_conv_write(FILE *, const char *, const char *, size_t,
	    const struct inetd_entry *, size_t);

/* sockpath.c */
int	 sockpath_check(const char *, uid_t, char *, size_t);

/* listen.c */
struct service;

struct listener {
	struct service		*ls_svc;
	const struct listen_conf *ls_conf;
	int			 ls_fd;
	struct event		*ls_ev;		/* readable while service idle */
	size_t			 ls_index;	/* in the watcher's table */
	dev_t			 ls_dev;	/* UNIX: the socket file we made */
	ino_t			 ls_ino;
	int			 ls_busy;	/* dgram nowait: its process runs */
	int			 ls_vfs_known;	/* sock_diag's view of that file */
	uint32_t		 ls_vfs_ino;
	uint32_t		 ls_vfs_dev;
};

int	 listener_open(struct listener *, const struct svc_conf *);
void	 listener_close(struct listener *);
const char *listener_broken(const struct listener *);
int	 listener_relisten(struct listener *, const struct svc_conf *);
void	 listener_reserve(int);

/* svc.c */
enum svc_state {
	SVC_UNBOUND,	/* waiting for all its listeners to bind */
	SVC_IDLE,	/* no process; listeners watched for an arrival */
	SVC_RUNNING,	/* process serves the listeners */
	SVC_STOPPING,	/* stop-signal sent, waiting for the exit */
	SVC_BACKOFF,	/* failed starts: waiting before the next one */
};

/*
 * A running process of a service.  A pass-mode service has at most one;
 * the child registry (child.c) maps its pid back here.
 */
struct instance {
	struct service		*in_svc;
	pid_t			 in_pid;
	struct timespec		 in_started;
	int			 in_nowatch;	/* it killed the watcher */
};

/*
 * What only a service the master accepts for (proxy, nowait, internal)
 * needs; a pass-mode service has none (sv_acc NULL), so 10,000 of them
 * do not pay for it.
 */
struct svc_accept {
	/* The master listens on sa_pub and accepts; the service's sv_ls
	 * are the private listeners it gets (proxy without a backend). */
	struct listener		*sa_pub;
	size_t			 sa_npub;
	struct listen_conf	*sa_privconf;
	int			 sa_open;	/* connections in progress */
	int			 sa_conns;	/* ... that count as activity */
	int			 sa_wanted;	/* one waits for a start */
	int			 sa_full;	/* at max-connections */
	time_t			 sa_rate_t;	/* nowait: this minute began */
	long			 sa_rate_n;	/* ... with so many starts */
};

struct service {
	TAILQ_ENTRY(service)	 sv_entry;
	struct svc_conf		*sv_conf;
	struct listener		*sv_ls;		/* sv_nls of them */
	struct instance		*sv_inst;	/* its process, or NULL */
	struct event		*sv_timer;
	struct svc_accept	*sv_acc;	/* NULL in pass mode */
	struct timespec		 sv_active;	/* last activity seen */
	size_t			 sv_index;	/* in the watcher's table */
	size_t			 sv_nls;
	enum svc_state		 sv_state;
	int			 sv_failures;	/* consecutive failed starts */
	int			 sv_busy;	/* connections open at last count */
	unsigned char		 sv_muted;	/* arrival signals off a window */
	unsigned char		 sv_bindwarned;
};

TAILQ_HEAD(svc_list, service);

int	 svc_init(struct event_base *);
struct service *svc_create(struct svc_conf *);
void	 svc_bind(struct service *);
void	 svc_arrival(struct listener *);
void	 svc_arrival_all(void);
void	 svc_watcher_changed(void);
void	 svc_watcher_lost(void);
const char *svc_name(const struct service *);
void	 svc_reaped(struct instance *, int);
void	 svc_log_state(void);
void	 svc_shutdown_all(void);
int	 svc_can_accept(const struct service *);
void	 svc_want(struct service *);
void	 svc_conns_changed(struct service *);
int	 svc_rate_over(struct service *, long);
double	 svc_elapsed(const struct timespec *);
int	 svc_all_stopped(void);
void	 svc_free_all(void);

/* spawn.c */
#define SPAWN_MAXFD	(3 + SOAD_MAXLISTEN)

/* What a service process gets: target fd i (0 <= i < sp_nfd) is a copy
 * of sp_fd[i], -1 meaning /dev/null; every other fd is closed.  With
 * sp_nlisten > 0, fds 3.. are its LISTEN_FDS, named sp_fdname[]. */
struct spawn_plan {
	int			 sp_fd[SPAWN_MAXFD];
	size_t			 sp_nfd;
	size_t			 sp_nlisten;
	const char		*sp_fdname[SOAD_MAXLISTEN];
	const char		*sp_env[3];	/* more NAME=value, NULL-ended */
	int			 sp_logfail;	/* fd 2 is a client: log failures */
};

void	 spawn_init(void);
void	 spawn_plan_pass(struct spawn_plan *, const struct service *, int);
pid_t	 spawn_service(const struct svc_conf *, const struct spawn_plan *);

/* compat.c */
#ifndef HAVE_CLOSEFROM
void	 closefrom(int);
#endif

/* child.c */
enum child_kind { CHILD_SERVICE, CHILD_ESCAPEE, CHILD_WATCHER, CHILD_CONN, CHILD_WRAP };

void	 child_init(void);
void	 child_add(pid_t, enum child_kind, void *);
void	 child_reap(void);
void	 child_free_all(void);

struct proc_stat {
	char			 ps_state;
	long			 ps_ppid;
	long			 ps_pgrp;
	long			 ps_sid;
};

void	 child_proc_each(void (*)(long, const struct proc_stat *, void *),
	    void *);

/* arrival.c */
struct watch_table {			/* shared with the watcher */
	uint64_t		*wt_ino;	/* listeners' socket inodes */
	pid_t			*wt_pid;	/* running instances, by service */
	size_t			 wt_nino;
	size_t			 wt_npid;
	size_t			 wt_len;
};

int	 arrival_init(struct event_base *, size_t, size_t);
void	 arrival_free(void);
void	 arrival_watch(struct listener *);
void	 arrival_forget(struct listener *);
void	 arrival_instance(const struct service *, pid_t);
int	 arrival_arm(int, int);
void	 arrival_mute(const struct service *, int);
int	 arrival_reassert(const struct service *);
int	 arrival_tampered(const struct service *);
void	 arrival_watcher_stopped(pid_t);
void	 arrival_watcher_exited(pid_t, int);

/* watcher.c */
void	 watcher_main(int, int, const struct watch_table *)
	    __attribute__((__noreturn__));


/* conncount.c */
double	 conncount_delay(long);
int	 conncount_open(struct service *);

/* accept.c: the master's accept path, shared by every mode in which it
 * sees each connection (proxy now, nowait next). */
struct conn {
	struct service		*cn_svc;
	int			 cn_fd;		/* the client's connection */
	int			 cn_out;	/* to the service, or -1 */
	int			 cn_lfd;	/* the listener it came from */
	int			 cn_ignored;	/* idle-ignore source */
	int			 cn_counted;	/* in sa_open (and sa_conns) */
	int			 cn_tries;
	union addr_sa		 cn_peer;
	socklen_t		 cn_peerlen;
	struct timespec		 cn_since;	/* accepted */
	struct srcent		*cn_src;	/* per-source count */
	struct wrap_req		*cn_wrap;
	struct relay		*cn_relay;
	struct event		*cn_ev;
	pid_t			 cn_pid;	/* nowait: its process */
	struct listener		*cn_dgram;	/* nowait dgram: its socket */
	struct internal_conn	*cn_ic;		/* internal: served by it */
	TAILQ_ENTRY(conn)	 cn_entry;
};

void	 accept_init(struct event_base *);
int	 accept_listen(struct listener *);
void	 accept_watch(struct service *, int);
void	 conn_close(struct conn *);
void	 conn_refuse(struct conn *, const char *);
void	 accept_log_peer(const struct conn *, char *, size_t);
void	 accept_close_all(void);
void	 accept_log_limited(const char *, ...)
	    __attribute__((__format__(printf, 1, 2)));
void	 accept_udp_ports(uint16_t *, size_t);
size_t	 accept_children(void);
void	 accept_stop_children(void);

/* srclimit.c */
const char *srclimit_take(struct conn *, long, long);
void	 srclimit_drop(struct conn *);

/* nowait.c */
void	 nowait_start(struct conn *);
void	 nowait_reaped(struct conn *, int);

/* proxy.c */
int	 proxy_init(struct event_base *);
void	 proxy_cleanup(void);
void	 proxy_service(struct service *);
void	 proxy_allowed(struct conn *);
void	 proxy_conn_free(struct conn *);

/* outlog.c */
struct outlog *outlog_open(struct event_base *, const char *, int *);
void	 outlog_setpid(struct outlog *, pid_t);
void	 outlog_drain_all(void);

/* relay.c */
struct relay;
typedef void (*relay_done_fn)(void *);

void	 relay_init(void);
struct relay *relay_new(struct event_base *, int, int, const void *, size_t,
	    relay_done_fn, void *);
void	 relay_free(struct relay *);
void	 relay_shutdown(void);

/* internal.c */
struct internal_conn;

struct internal_conn *internal_stream(struct event_base *, int,
	    enum inetd_internal, void (*)(void *), void *);
void	 internal_stream_abort(struct internal_conn *);
int	 internal_dgram_setup(int, int);
int	 internal_dgram(int, const char *, enum inetd_internal,
	    const uint16_t *, size_t);
int	 internal_udp_ports(const struct conf *, uint16_t **, size_t *);

/* proxyproto.c */
#define PROXYPROTO_MAX	232	/* room for any header (v2 UNIX: 16 + 216) */

size_t	 proxyproto_header(int, const struct sockaddr *,
	    const struct sockaddr *, char *, size_t);

/* wrap.c */
enum wrap_verdict { WRAP_ALLOW, WRAP_DENY, WRAP_TAKEN, WRAP_FAILED };
struct wrap_req;
typedef void (*wrap_done_fn)(void *, enum wrap_verdict);

int	 wrap_prepare(int);
int	 wrap_init(struct event_base *, const char *, const char *);
struct wrap_req *wrap_check(int, const char *, wrap_done_fn, void *);
void	 wrap_cancel(struct wrap_req *);
void	 wrap_shutdown(void);
void	 wrap_reaped(pid_t, int);

/* wrapd.c: the soad-wrap program, and its channel's messages */
#define WRAP_PROG	"soad-wrap"
#define WRAP_NAMEMAX	256		/* daemon name, with its NUL */

struct wrap_msg {			/* master -> helper, with the fd */
	uint32_t		 wm_id;
	char			 wm_daemon[WRAP_NAMEMAX];	/* NUL-ended */
};

struct wrap_reply {			/* helper -> master */
	uint32_t		 wr_id;
	uint32_t		 wr_verdict;	/* enum wrap_verdict */
};

/* hostsscan.c */
int	 hostsscan_buf(const char *, size_t);
int	 hostsscan_files(const char *, const char *);

#endif /* SOAD_H */
