/*
 * The event-generator workload for tests/e2e_evtgen.rs.
 *
 * It plays the part of falcosecurity/event-generator's `suite test` runner:
 * one static binary, hard-linked (or copied) under each process name of a
 * case's chain, so that comm, argv and exepath are exactly what the case
 * describes. Each process spawns the next one of the chain and waits for it;
 * the last one runs the test: the `before` script, the resources, then the
 * syscall steps, each as the one raw syscall the case names (no libc
 * wrapper picks another syscall for us).
 *
 * Static (gcc -static) so the same file runs on the host and in the busybox
 * container. The plan comes from the file named by $EG_PLAN, one record per
 * line, fields separated by tabs (the harness rejects tabs and newlines in
 * values):
 *
 *   R path                         where to append results
 *   P path uid:gid|- argv0 args... one process of the chain, in order
 *   B script                       `before`, run with /bin/sh -c
 *   F name path                    fd resource, a regular file
 *   D name path                    fd resource, a directory
 *   C name domain type ip port     clientServer resource (stream)
 *   M name                         fileless process resource (memfd + execve)
 *   S syscall name args...         a syscall step; `$res.field` binds a fd
 *
 * Results (appended to R): `subject PID` (the process expected to fire),
 * `step NAME RET ERRNO`, `error TEXT`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

extern char **environ;

#define MAX_RECS 64
#define MAX_FIELDS 32

struct rec {
	int n;
	char *f[MAX_FIELDS];
};

static struct rec recs[MAX_RECS];
static int nrecs;
static FILE *out;

/* Resource fields for `$name.field` bindings, and what to destroy. */
struct binding {
	char key[160];
	long val;
};
static struct binding binds[64];
static int nbinds;
static char *created_files[16];
static int ncreated;
/* Process resources, killed at destroy. */
static pid_t held[8];
static int nheld;

static void result(const char *fmt, ...)
{
	va_list ap;
	if (!out)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}

static void bind_fd(const char *key, long val)
{
	if (nbinds < 64) {
		snprintf(binds[nbinds].key, sizeof binds[nbinds].key, "%s", key);
		binds[nbinds++].val = val;
	}
}

/* An integer argument: a number, or `$name.field` bound by a resource. */
static long arg_int(const char *s)
{
	if (s[0] == '$') {
		for (int i = 0; i < nbinds; i++)
			if (!strcmp(binds[i].key, s + 1))
				return binds[i].val;
		result("error unbound %s", s);
		return -1;
	}
	return strtol(s, NULL, 0);
}

static void load_plan(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		exit(2);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0 && nrecs < MAX_RECS) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		struct rec *r = &recs[nrecs++];
		char *s = strdup(line);
		/* strsep, not strtok: empty fields (e.g. an empty arg) count. */
		while (s && r->n < MAX_FIELDS)
			r->f[r->n++] = strsep(&s, "\t");
	}
	free(line);
	fclose(f);
}

/*
 * event-generator's default process capabilities are all=iep: switch user,
 * keep the permitted set, and raise everything as inheritable and ambient
 * so the exec'd program has it all effective.
 */
static int switch_user(const char *spec)
{
	unsigned uid, gid;
	if (sscanf(spec, "%u:%u", &uid, &gid) != 2)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -1;
	if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
		return -1;
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return -1;
	for (int i = 0; i < 2; i++) {
		d[i].effective = d[i].permitted;
		d[i].inheritable = d[i].permitted;
	}
	if (syscall(SYS_capset, &h, d))
		return -1;
	for (int c = 0; c < 64; c++)
		prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0);
	return 0;
}

/* Spawns one chain entry (a P record) and returns its exit status. */
static int spawn(struct rec *p, int next_depth)
{
	char depth[16];
	snprintf(depth, sizeof depth, "%d", next_depth);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		setenv("EG_DEPTH", depth, 1);
		if (strcmp(p->f[2], "-") && switch_user(p->f[2])) {
			perror("switch user");
			_exit(126);
		}
		char *argv[MAX_FIELDS];
		int a = 0;
		for (int i = 3; i < p->n; i++)
			argv[a++] = p->f[i];
		argv[a] = NULL;
		execve(p->f[1], argv, environ);
		perror(p->f[1]);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void run_before(const char *script)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {"sh", "-c", (char *)script, NULL};
		execve("/bin/sh", argv, environ);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		result("error before script exited with %d", st);
}

static void res_file(struct rec *r)
{
	const char *path = r->f[2];
	struct stat sb;
	int must_create = stat(path, &sb) != 0;
	/* As event-generator: O_RDWR, creating (mode 0) only if missing. */
	int fd = open(path, O_RDWR | (must_create ? O_CREAT : 0), 0);
	if (fd < 0) {
		result("error resource %s: open %s: %s", r->f[1], path, strerror(errno));
		return;
	}
	if (must_create && ncreated < 16)
		created_files[ncreated++] = strdup(path);
	char key[160];
	snprintf(key, sizeof key, "%s.fd", r->f[1]);
	bind_fd(key, fd);
}

static void res_dir(struct rec *r)
{
	int fd = open(r->f[2], O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		result("error resource %s: open %s: %s", r->f[1], r->f[2], strerror(errno));
		return;
	}
	char key[160];
	snprintf(key, sizeof key, "%s.fd", r->f[1]);
	bind_fd(key, fd);
}

static void res_client_server(struct rec *r)
{
	int domain = atoi(r->f[2]), type = atoi(r->f[3]);
	int port = atoi(r->f[5]);
	struct sockaddr_storage ss;
	socklen_t slen;
	memset(&ss, 0, sizeof ss);
	if (domain == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		inet_pton(AF_INET, r->f[4], &a->sin_addr);
		slen = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, r->f[4], &a->sin6_addr);
		slen = sizeof *a;
	}
	int srv = socket(domain, type, 0);
	int one = 1;
	/* Cases reuse one address back to back; a closed peer must not block bind. */
	setsockopt(srv, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (srv < 0 || bind(srv, (struct sockaddr *)&ss, slen) || listen(srv, 16)) {
		result("error resource %s: server on %s:%d: %s", r->f[1], r->f[4], port, strerror(errno));
		return;
	}
	int cli = socket(domain, type, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&ss, slen)) {
		result("error resource %s: client connect %s:%d: %s", r->f[1], r->f[4], port, strerror(errno));
		return;
	}
	char key[160];
	snprintf(key, sizeof key, "%s.client.fd", r->f[1]);
	bind_fd(key, cli);
	snprintf(key, sizeof key, "%s.server.fd", r->f[1]);
	bind_fd(key, srv);
}

/*
 * A copy of this binary in an anonymous memfd, executed from there with
 * execve("/proc/self/fd/N"), as event-generator's fileless action does. As
 * its process resource, the process runs until the resource is destroyed.
 */
static void res_fileless(struct rec *r)
{
	int mfd = memfd_create(r->f[1], 0);
	int self = open("/proc/self/exe", O_RDONLY);
	if (mfd < 0 || self < 0) {
		result("error resource %s: memfd: %s", r->f[1], strerror(errno));
		return;
	}
	char buf[65536];
	ssize_t n;
	while ((n = read(self, buf, sizeof buf)) > 0)
		if (write(mfd, buf, n) != n) {
			result("error resource %s: write: %s", r->f[1], strerror(errno));
			return;
		}
	close(self);
	/*
	 * The resource exists once the exec has happened: the close-on-exec
	 * pipe reads EOF then (or the child's errno if execve failed). Without
	 * this, a slow child could be killed before it ever exec'd.
	 */
	int sync[2];
	if (pipe2(sync, O_CLOEXEC) < 0) {
		result("error resource %s: pipe: %s", r->f[1], strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(sync[0]);
		setenv("EG_HOLD", "1", 1);
		char *argv[] = {r->f[1], NULL};
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
		execve(path, argv, environ);
		int e = errno;
		if (write(sync[1], &e, sizeof e) < 0)
			_exit(126);
		_exit(127);
	}
	close(sync[1]);
	if (pid < 0) {
		close(sync[0]);
		result("error resource %s: fork: %s", r->f[1], strerror(errno));
		return;
	}
	int e = 0;
	ssize_t got;
	do
		got = read(sync[0], &e, sizeof e);
	while (got < 0 && errno == EINTR);
	close(sync[0]);
	if (got > 0) {
		result("error resource %s: execve: %s", r->f[1], strerror(e));
		waitpid(pid, NULL, 0);
		close(mfd);
		return;
	}
	result("subject %d", pid);
	if (nheld < 8)
		held[nheld++] = pid;
	close(mfd);
}

static long do_step(struct rec *r)
{
	const char *sc = r->f[1];
	char **a = r->f + 3;
	if (!strcmp(sc, "open"))
		return syscall(SYS_open, a[0], arg_int(a[1]), arg_int(a[2]));
	if (!strcmp(sc, "openat"))
		return syscall(SYS_openat, arg_int(a[0]), a[1], arg_int(a[2]), arg_int(a[3]));
	if (!strcmp(sc, "openat2")) {
		struct open_how how = {
			.flags = (uint64_t)arg_int(a[2]),
			.mode = (uint64_t)arg_int(a[3]),
			.resolve = (uint64_t)arg_int(a[4]),
		};
		return syscall(SYS_openat2, arg_int(a[0]), a[1], &how, sizeof how);
	}
	if (!strcmp(sc, "link"))
		return syscall(SYS_link, a[0], a[1]);
	if (!strcmp(sc, "linkat"))
		return syscall(SYS_linkat, arg_int(a[0]), a[1], arg_int(a[2]), a[3], arg_int(a[4]));
	if (!strcmp(sc, "symlink"))
		return syscall(SYS_symlink, a[0], a[1]);
	if (!strcmp(sc, "symlinkat"))
		return syscall(SYS_symlinkat, a[0], arg_int(a[1]), a[2]);
	if (!strcmp(sc, "dup2"))
		return syscall(SYS_dup2, arg_int(a[0]), arg_int(a[1]));
	if (!strcmp(sc, "dup3"))
		return syscall(SYS_dup3, arg_int(a[0]), arg_int(a[1]), arg_int(a[2]));
	if (!strcmp(sc, "socket"))
		return syscall(SYS_socket, arg_int(a[0]), arg_int(a[1]), arg_int(a[2]));
	result("error unsupported syscall %s", sc);
	errno = ENOSYS;
	return -1;
}

static int run_test(void)
{
	result("subject %d", getpid());
	for (int i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].f[0], "B"))
			run_before(recs[i].f[1]);
	for (int i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		switch (r->f[0][0]) {
		case 'F':
			res_file(r);
			break;
		case 'D':
			res_dir(r);
			break;
		case 'C':
			res_client_server(r);
			break;
		case 'M':
			res_fileless(r);
			break;
		}
	}
	for (int i = 0; i < nrecs; i++) {
		struct rec *r = &recs[i];
		if (strcmp(r->f[0], "S"))
			continue;
		errno = 0;
		long ret = do_step(r);
		result("step %s %ld %d", r->f[2], ret, ret < 0 ? errno : 0);
	}
	/* Destroy as event-generator does: files it created are removed. */
	for (int i = 0; i < ncreated; i++)
		unlink(created_files[i]);
	for (int i = 0; i < nheld; i++) {
		int st;
		/* Still running, as a resource should be until now. */
		if (waitpid(held[i], &st, WNOHANG) != 0)
			result("error process resource %d exited early: %d", held[i], st);
		kill(held[i], SIGKILL);
		waitpid(held[i], &st, 0);
	}
	return 0;
}

int main(void)
{
	if (getenv("EG_HOLD")) {
		/* A process resource: lives until killed. */
		for (;;)
			pause();
	}
	const char *plan = getenv("EG_PLAN");
	if (!plan) {
		fprintf(stderr, "EG_PLAN is not set\n");
		return 2;
	}
	load_plan(plan);
	const char *d = getenv("EG_DEPTH");
	int depth = d ? atoi(d) : 0;
	struct rec *procs[MAX_RECS];
	int nprocs = 0;
	for (int i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].f[0], "P"))
			procs[nprocs++] = &recs[i];
	if (depth < nprocs)
		return spawn(procs[depth], depth + 1);
	for (int i = 0; i < nrecs; i++)
		if (!strcmp(recs[i].f[0], "R"))
			out = fopen(recs[i].f[1], "a");
	return run_test();
}
