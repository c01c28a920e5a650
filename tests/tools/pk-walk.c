/* pk-walk: list a directory tree (sysfs) with every file's content, one line per entry.
 *
 *   pk-walk ROOT [SKIP ...]
 *
 * Walks ROOT without following symlinks and prints, for every entry under it (ROOT itself
 * excluded), sorted by its path relative to ROOT (strcmp of the raw bytes, before escaping),
 * one line of 6 tab-separated columns:
 *
 *   path  type  mode  size  status  value
 *
 *   path    relative to ROOT, no leading slash (escaped, see below)
 *   type    d (directory), l (symlink), f (regular file), o (anything else: not opened)
 *   mode    st_mode & 07777 in octal, as printf("%o")
 *   size    st_size in decimal
 *   status  f: "ok" when opened and read to EOF; "ok+" when more than 65536 bytes were there
 *           (the value holds the first 65536); else "open:ERRNO" or "read:ERRNO" for the call
 *           that failed, ERRNO being the symbolic name (EACCES, EIO, ...) or "E<number>" for
 *           a number libc has no name for (the kernel's internal ENOTSUPP is E524);
 *           d, l: "ok" ("readlink:ERRNO" if readlink failed); o: "-";
 *           an entry named by a SKIP argument: "skip" (listed from lstat alone; a directory's
 *           contents are not listed, a file is not opened)
 *   value   l: the readlink() target; f with status ok/ok+: the bytes read; else empty
 *
 * path and value are escaped: backslash as \\, tab as \t, newline as \n, every other byte
 * below 0x20 or from 0x7f up as \xHH (lowercase hex). A line thus never holds a raw tab or
 * newline besides its 5 separators and its end.
 *
 * SKIP arguments are full paths (ROOT/...; a trailing slash is ignored): nothing under them
 * is listed, opened or read. Files are opened O_RDONLY|O_NONBLOCK whatever their mode (sysfs
 * refuses an open it cannot serve, with no side effect) and read with an alarm of 2 seconds
 * (SIGALRM without SA_RESTART) over open, read and close, so a blocked call ends as EINTR.
 * The tree is listed first (lstat only), then the files are read in the sorted order.
 * Exit status 0; 1 if a directory could not be listed or an entry vanished (said on stderr).
 * Built static for the real kernel under QEMU by scripts/record-sysfs (tests/tools/pk-walk.c). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_VALUE 65536

struct entry {
	char *rel;		/* path relative to the root */
	struct stat st;
	int skip;
};

static struct entry *entries;
static size_t n_entries, cap_entries;
static char **skips;
static int n_skips;
static int failed;

static const struct { int num; const char *name; } errnames[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" },
	{ EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { ENOEXEC, "ENOEXEC" },
	{ EBADF, "EBADF" }, { ECHILD, "ECHILD" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { ENOTBLK, "ENOTBLK" }, { EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" }, { EXDEV, "EXDEV" }, { ENODEV, "ENODEV" }, { ENOTDIR, "ENOTDIR" },
	{ EISDIR, "EISDIR" }, { EINVAL, "EINVAL" }, { ENFILE, "ENFILE" }, { EMFILE, "EMFILE" },
	{ ENOTTY, "ENOTTY" }, { ETXTBSY, "ETXTBSY" }, { EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" },
	{ ESPIPE, "ESPIPE" }, { EROFS, "EROFS" }, { EMLINK, "EMLINK" }, { EPIPE, "EPIPE" },
	{ EDOM, "EDOM" }, { ERANGE, "ERANGE" }, { EDEADLK, "EDEADLK" },
	{ ENAMETOOLONG, "ENAMETOOLONG" }, { ENOLCK, "ENOLCK" }, { ENOSYS, "ENOSYS" },
	{ ENOTEMPTY, "ENOTEMPTY" }, { ELOOP, "ELOOP" }, { ENOMSG, "ENOMSG" }, { EIDRM, "EIDRM" },
	{ ENOSTR, "ENOSTR" }, { ENODATA, "ENODATA" }, { ETIME, "ETIME" }, { ENOSR, "ENOSR" },
	{ ENOLINK, "ENOLINK" }, { EPROTO, "EPROTO" }, { EBADMSG, "EBADMSG" },
	{ EOVERFLOW, "EOVERFLOW" }, { EILSEQ, "EILSEQ" }, { ENOTSOCK, "ENOTSOCK" },
	{ EMSGSIZE, "EMSGSIZE" }, { EPROTONOSUPPORT, "EPROTONOSUPPORT" },
	{ EOPNOTSUPP, "EOPNOTSUPP" }, { EAFNOSUPPORT, "EAFNOSUPPORT" },
	{ EADDRINUSE, "EADDRINUSE" }, { EADDRNOTAVAIL, "EADDRNOTAVAIL" },
	{ ENETDOWN, "ENETDOWN" }, { ENETUNREACH, "ENETUNREACH" }, { ECONNRESET, "ECONNRESET" },
	{ ENOBUFS, "ENOBUFS" }, { EISCONN, "EISCONN" }, { ENOTCONN, "ENOTCONN" },
	{ ETIMEDOUT, "ETIMEDOUT" }, { ECONNREFUSED, "ECONNREFUSED" }, { EHOSTDOWN, "EHOSTDOWN" },
	{ EHOSTUNREACH, "EHOSTUNREACH" }, { EALREADY, "EALREADY" },
	{ EINPROGRESS, "EINPROGRESS" }, { ESTALE, "ESTALE" }, { EREMOTEIO, "EREMOTEIO" },
	{ EDQUOT, "EDQUOT" }, { ENOMEDIUM, "ENOMEDIUM" }, { EMEDIUMTYPE, "EMEDIUMTYPE" },
	{ ECANCELED, "ECANCELED" }, { ENOKEY, "ENOKEY" }, { EKEYEXPIRED, "EKEYEXPIRED" },
	{ EKEYREVOKED, "EKEYREVOKED" }, { EKEYREJECTED, "EKEYREJECTED" },
	{ EOWNERDEAD, "EOWNERDEAD" }, { ENOTRECOVERABLE, "ENOTRECOVERABLE" },
	{ ERFKILL, "ERFKILL" }, { EHWPOISON, "EHWPOISON" }, { ENOTUNIQ, "ENOTUNIQ" },
	{ EBADFD, "EBADFD" }, { EREMCHG, "EREMCHG" }, { ECOMM, "ECOMM" }, { EBADE, "EBADE" },
	{ EBADR, "EBADR" }, { EBADRQC, "EBADRQC" }, { EBADSLT, "EBADSLT" }, { ECHRNG, "ECHRNG" },
	{ EL2NSYNC, "EL2NSYNC" }, { EL3HLT, "EL3HLT" }, { EL3RST, "EL3RST" }, { ELNRNG, "ELNRNG" },
	{ EUNATCH, "EUNATCH" }, { ENOCSI, "ENOCSI" }, { EL2HLT, "EL2HLT" }, { ENOANO, "ENOANO" },
	{ ENONET, "ENONET" }, { ENOPKG, "ENOPKG" }, { EREMOTE, "EREMOTE" }, { EADV, "EADV" },
	{ ESRMNT, "ESRMNT" }, { EDOTDOT, "EDOTDOT" }, { ELIBACC, "ELIBACC" },
	{ ELIBBAD, "ELIBBAD" }, { ELIBSCN, "ELIBSCN" }, { ELIBMAX, "ELIBMAX" },
	{ ELIBEXEC, "ELIBEXEC" }, { ERESTART, "ERESTART" }, { ESTRPIPE, "ESTRPIPE" },
	{ EUSERS, "EUSERS" }, { EDESTADDRREQ, "EDESTADDRREQ" }, { EPROTOTYPE, "EPROTOTYPE" },
	{ ENOPROTOOPT, "ENOPROTOOPT" }, { ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT" },
	{ EPFNOSUPPORT, "EPFNOSUPPORT" }, { ENETRESET, "ENETRESET" },
	{ ECONNABORTED, "ECONNABORTED" }, { ESHUTDOWN, "ESHUTDOWN" },
	{ ETOOMANYREFS, "ETOOMANYREFS" }, { EUCLEAN, "EUCLEAN" }, { ENOTNAM, "ENOTNAM" },
	{ ENAVAIL, "ENAVAIL" }, { EISNAM, "EISNAM" },
};

static void errname(int e, char *out, size_t len)
{
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].num == e) {
			snprintf(out, len, "%s", errnames[i].name);
			return;
		}
	snprintf(out, len, "E%d", e);
}

static void escaped(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			fputs("\\\\", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static int is_skip(const char *full)
{
	for (int i = 0; i < n_skips; i++)
		if (strcmp(full, skips[i]) == 0)
			return 1;
	return 0;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 2);
	if (!s) {
		perror("pk-walk: malloc");
		exit(2);
	}
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

static void add(char *rel, const struct stat *st, int skip)
{
	if (n_entries == cap_entries) {
		cap_entries = cap_entries ? cap_entries * 2 : 4096;
		entries = realloc(entries, cap_entries * sizeof(*entries));
		if (!entries) {
			perror("pk-walk: realloc");
			exit(2);
		}
	}
	entries[n_entries].rel = rel;
	entries[n_entries].st = *st;
	entries[n_entries].skip = skip;
	n_entries++;
}

/* list dir (full path) whose path relative to the root is rel ("" for the root) */
static void walk(const char *dir, const char *rel)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		fprintf(stderr, "pk-walk: opendir %s: %s\n", dir, strerror(errno));
		failed = 1;
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				fprintf(stderr, "pk-walk: readdir %s: %s\n", dir, strerror(errno));
				failed = 1;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *full = join(dir, de->d_name);
		char *r = *rel ? join(rel, de->d_name) : strdup(de->d_name);
		struct stat st;
		if (!r) {
			perror("pk-walk: strdup");
			exit(2);
		}
		if (lstat(full, &st) < 0) {
			fprintf(stderr, "pk-walk: lstat %s: %s\n", full, strerror(errno));
			failed = 1;
			free(full);
			free(r);
			continue;
		}
		int skip = is_skip(full);
		add(r, &st, skip);
		if (S_ISDIR(st.st_mode) && !skip)
			walk(full, r);
		free(full);
	}
	closedir(d);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->rel, ((const struct entry *)b)->rel);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static char buf[MAX_VALUE + 1];

/* read the file: fills status, returns the number of bytes in buf (0 unless status ok) */
static size_t read_file(const char *full, char *status, size_t slen)
{
	char name[32];
	size_t got = 0;
	int fd;

	alarm(2);
	fd = open(full, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		alarm(0);
		errname(e, name, sizeof(name));
		snprintf(status, slen, "open:%s", name);
		return 0;
	}
	for (;;) {
		/* one byte more than kept: is there more than MAX_VALUE? */
		ssize_t n = read(fd, buf + got, MAX_VALUE + 1 - got);
		if (n < 0) {
			int e = errno;
			alarm(0);
			close(fd);
			errname(e, name, sizeof(name));
			snprintf(status, slen, "read:%s", name);
			return 0;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > MAX_VALUE)
			break;
	}
	close(fd);
	alarm(0);
	if (got > MAX_VALUE) {
		snprintf(status, slen, "ok+");
		return MAX_VALUE;
	}
	snprintf(status, slen, "ok");
	return got;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	char root[PATH_MAX];

	if (argc < 2) {
		fprintf(stderr, "usage: pk-walk ROOT [SKIP ...]\n");
		return 2;
	}
	snprintf(root, sizeof(root), "%s", argv[1]);
	for (size_t l = strlen(root); l > 1 && root[l - 1] == '/'; l--)
		root[l - 1] = 0;
	if (strcmp(root, "/") == 0)
		root[0] = 0;	/* join() puts the slash */
	skips = argv + 2;
	n_skips = argc - 2;
	for (int i = 0; i < n_skips; i++)
		for (size_t l = strlen(skips[i]); l > 1 && skips[i][l - 1] == '/'; l--)
			skips[i][l - 1] = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: a blocked open or read fails with EINTR */
	sigaction(SIGALRM, &sa, NULL);

	walk(*root ? root : "/", "");
	qsort(entries, n_entries, sizeof(*entries), by_path);

	for (size_t i = 0; i < n_entries; i++) {
		struct entry *e = &entries[i];
		mode_t m = e->st.st_mode;
		char type = S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : S_ISREG(m) ? 'f' : 'o';
		char status[48] = "ok";
		size_t vlen = 0;
		char *full = join(root, e->rel);

		if (e->skip) {
			snprintf(status, sizeof(status), "skip");
		} else if (type == 'l') {
			ssize_t n = readlink(full, buf, MAX_VALUE);
			if (n < 0) {
				char name[32];
				errname(errno, name, sizeof(name));
				snprintf(status, sizeof(status), "readlink:%s", name);
			} else {
				vlen = (size_t)n;
			}
		} else if (type == 'f') {
			vlen = read_file(full, status, sizeof(status));
		} else if (type == 'o') {
			snprintf(status, sizeof(status), "-");
		}
		escaped(e->rel, strlen(e->rel));
		printf("\t%c\t%o\t%lld\t%s\t", type, (unsigned)(m & 07777),
		       (long long)e->st.st_size, status);
		escaped(buf, vlen);
		putchar('\n');
		free(full);
	}
	if (fflush(stdout) != 0) {
		perror("pk-walk: stdout");
		return 2;
	}
	return failed;
}
